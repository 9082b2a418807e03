package profile_test

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// demoCatalogPath is the demo tenant's catalog; the tests follow whatever it declares.
const demoCatalogPath = "../../infra/seed/demo-catalog.json"

// loadCatalog reads and validates the demo catalog. Each call returns a fresh copy.
func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	b, err := os.ReadFile(demoCatalogPath)
	if err != nil {
		t.Fatalf("read demo catalog: %v", err)
	}
	c, err := catalog.Parse(b)
	if err != nil {
		t.Fatalf("decode demo catalog: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("demo catalog is invalid: %v", err)
	}
	return c
}

// mustPurpose returns a purpose of the demo catalog, failing if the catalog no longer has it.
func mustPurpose(t testing.TB, c *catalog.Catalog, id string) catalog.Purpose {
	t.Helper()
	p, ok := c.Purpose(id)
	if !ok {
		t.Fatalf("demo catalog has no purpose %q", id)
	}
	return p
}

var (
	t0     = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)
	apiKey = ledger.Actor{Kind: ledger.ActorAPIKey, ID: "kabcdefghijklmnop"}
	portal = ledger.Actor{Kind: ledger.ActorPortal}
)

func newProfile() *profile.Profile {
	p := profile.New("pr_test", t0)
	p.Identities = []profile.Identity{{Type: "email", Value: "anna@example.com"}}
	return p
}

// wantFields asserts err is an *errs.Error with code and exactly the given field paths.
func wantFields(t *testing.T, err error, code errs.Code, fields ...string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok {
		t.Fatalf("error = %v, want *errs.Error %s %v", err, code, fields)
	}
	if e.Code != code {
		t.Errorf("code = %q, want %q (%v)", e.Code, code, e)
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Field)
	}
	slices.Sort(got)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

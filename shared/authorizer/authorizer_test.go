package authorizer_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

// The authorizer tests read keys from a table on the embedded emulator, provisioned from
// template.yaml, through a real SDK client.

var store *dynamo.Store

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "authz", func(_ context.Context, e *testenv.Env) error {
		store = e.Store
		return nil
	}))
}

// countingKeys is the store, counting the reads the authorizer makes.
type countingKeys struct {
	*dynamo.Store
	reads atomic.Int32
}

func (c *countingKeys) Key(ctx context.Context, id string) (*apikey.Key, error) {
	c.reads.Add(1)
	return c.Store.Key(ctx, id)
}

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func newKey(t *testing.T, tenant string, scopes ...apikey.Scope) (string, apikey.Key) {
	t.Helper()
	plain, k := apikey.New(tenant, "test", scopes, time.Now().UTC())
	if err := store.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return plain, k
}

func request(authorization string) events.APIGatewayV2CustomAuthorizerV2Request {
	return events.APIGatewayV2CustomAuthorizerV2Request{Type: "REQUEST", Headers: map[string]string{"authorization": authorization}}
}

// TestHandle: a valid key passes its tenant, id and scopes; every other credential is
// refused without an error.
func TestHandle(t *testing.T) {
	ctx := context.Background()
	a := authorizer.New(store, quiet, time.Minute)
	plain, k := newKey(t, "acme", apikey.Read, apikey.Write)
	revoked, rk := newKey(t, "acme", apikey.Admin)
	if err := store.RevokeKey(ctx, "acme", rk.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	unknown, _ := apikey.New("acme", "never stored", []apikey.Scope{apikey.Admin}, time.Now())
	// The right id with another secret.
	forged := plain[:strings.LastIndex(plain, "_")+1] + strings.Repeat("A", len(plain)-strings.LastIndex(plain, "_")-1)
	t.Run("valid key", func(t *testing.T) {
		for _, h := range []string{"Bearer " + plain, "bearer " + plain, "  Bearer   " + plain + " "} {
			resp, err := a.Handle(ctx, request(h))
			if err != nil || !resp.IsAuthorized {
				t.Fatalf("%q: %+v, %v", h, resp, err)
			}
			c := resp.Context
			if c[authorizer.CtxTenant] != "acme" || c[authorizer.CtxKeyID] != k.ID || c[authorizer.CtxScopes] != apikey.FormatScopes(k.Scopes) {
				t.Fatalf("context %v, want tenant acme, key %s, scopes %s", c, k.ID, apikey.FormatScopes(k.Scopes))
			}
		}
	})
	deny := []struct{ name, header string }{
		{"revoked", "Bearer " + revoked},
		{"unknown", "Bearer " + unknown},
		{"wrong secret", "Bearer " + forged},
		{"malformed", "Bearer not-a-key"},
		{"other scheme", "Basic " + plain},
		{"no token", "Bearer "},
		{"empty", ""},
	}
	for _, tt := range deny {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := a.Handle(ctx, request(tt.header))
			if err != nil || resp.IsAuthorized || resp.Context != nil {
				t.Fatalf("%+v, %v; want a plain deny", resp, err)
			}
		})
	}
}

// TestCache: a warm container reads a key once per TTL, so a revocation takes effect
// when the TTL has passed, and not before.
func TestCache(t *testing.T) {
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	keys := &countingKeys{Store: store}
	a := authorizer.New(keys, quiet, ttl)
	plain, k := newKey(t, "acme", apikey.Read)
	allowed := func() bool {
		resp, err := a.Handle(ctx, request("Bearer "+plain))
		if err != nil {
			t.Fatal(err)
		}
		return resp.IsAuthorized
	}
	steps := []struct {
		name    string
		before  func()
		allowed bool
		reads   int32
	}{
		{"first request reads the key", nil, true, 1},
		{"second is answered from the cache", nil, true, 1},
		{"revoked, within the TTL", func() {
			if err := store.RevokeKey(ctx, "acme", k.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}, true, 1},
		{"after the TTL", func() { time.Sleep(ttl + 50*time.Millisecond) }, false, 2},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			if got := allowed(); got != s.allowed {
				t.Fatalf("authorized %v, want %v", got, s.allowed)
			}
			if n := keys.reads.Load(); n != s.reads {
				t.Fatalf("%d key reads, want %d", n, s.reads)
			}
		})
	}
}

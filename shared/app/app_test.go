package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

func email() string { return testenv.Unique("person") + "@example.com" }

// TestCreateOrMatch: a create names a new person, one with a known identity matches that
// person (adding the new identities), and one naming two people matches the first and
// proposes a merge with the second, whose identity stays with them (email is not trusted
// to merge on in the demo catalog).
func TestCreateOrMatch(t *testing.T) {
	ctx := context.Background()
	a, b := email(), email()
	first, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: a}}}, testenv.Operator)
	if err != nil || !first.Created {
		t.Fatalf("create: %+v, %v", first, err)
	}
	other, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: b}}}, testenv.Operator)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []app.IdentityInput
		wantID  string
		created bool
		code    errs.Code
	}{
		{"same email, other case", []app.IdentityInput{{Type: "email", Value: strings.ToUpper(a)}}, first.Profile.ID, false, ""},
		{"known email and a new phone", []app.IdentityInput{{Type: "email", Value: a}, {Type: "phone", Value: "+48 601 234 567"}}, first.Profile.ID, false, ""},
		{"the new phone alone", []app.IdentityInput{{Type: "phone", Value: "+48601234567"}}, first.Profile.ID, false, ""},
		{"identities of two people", []app.IdentityInput{{Type: "email", Value: a}, {Type: "email", Value: b}}, first.Profile.ID, false, ""},
		{"unknown identity type", []app.IdentityInput{{Type: "ssn", Value: "1"}}, "", false, errs.Unprocessable},
		{"a new person", []app.IdentityInput{{Type: "customer_id", Value: testenv.Unique("c")}}, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: tt.in}, testenv.Operator)
			if tt.code != "" {
				if errs.CodeOf(err) != tt.code {
					t.Fatalf("err %v, want code %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Created != tt.created || (tt.wantID != "" && res.Profile.ID != tt.wantID) || res.Profile.ID == other.Profile.ID {
				t.Fatalf("got %s created=%v, want %q created=%v", res.Profile.ID, res.Created, tt.wantID, tt.created)
			}
			if tt.name == "identities of two people" {
				if len(res.Links) != 1 || res.Links[0].Outcome != app.LinkCandidate || res.Links[0].ProfileID != other.Profile.ID {
					t.Fatalf("links %+v, want one merge candidate with %s", res.Links, other.Profile.ID)
				}
			}
		})
	}
	p, err := env.svc.GetProfile(ctx, tenant, first.Profile.ID)
	if err != nil || len(p.Identities) != 2 {
		t.Fatalf("the matched person has identities %v (%v), want email and phone", p.Identities, err)
	}
}

// verified returns the whole ledger of a person and fails unless it verifies.
func verified(t *testing.T, id string) []string {
	t.Helper()
	page, err := env.svc.Events(context.Background(), tenant, id, 0, app.MaxPage)
	if err != nil {
		t.Fatal(err)
	}
	if !page.Verified {
		t.Fatalf("the ledger does not verify (broken at %d)", page.BrokenAt)
	}
	var types []string
	for _, e := range page.Events {
		types = append(types, e.Type)
	}
	return types
}

// TestConsents: granting and withdrawing a consent changes the check at once, each change
// is one ledger event on a chain that verifies, and a repeat changes nothing.
func TestConsents(t *testing.T) {
	ctx := context.Background()
	addr := email()
	res, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: addr}}}, testenv.Operator)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Profile.ID
	byEmail := app.CheckInput{Identity: &app.IdentityInput{Type: "email", Value: addr}, Purpose: "marketing"}
	steps := []struct {
		name    string
		in      profile.ConsentInput
		changed bool
		reason  profile.Reason
	}{
		{"grant", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2}, true, profile.ReasonAllowed},
		{"grant again", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2}, false, profile.ReasonAllowed},
		{"withdraw", profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: 2}, true, profile.ReasonConsentWithdrawn},
		{"deny", profile.ConsentInput{Status: profile.Denied, NoticeVersion: 2}, true, profile.ReasonConsentDenied},
	}
	events := len(verified(t, id))
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r, err := env.svc.PutConsent(ctx, tenant, id, "marketing", s.in, testenv.Operator)
			if err != nil {
				t.Fatal(err)
			}
			if r.Changed != s.changed {
				t.Fatalf("Changed = %v, want %v", r.Changed, s.changed)
			}
			got, err := env.svc.Check(ctx, tenant, []app.CheckInput{byEmail}, false)
			if err != nil || got[0].Reason != s.reason || got[0].Allowed != (s.reason == profile.ReasonAllowed) {
				t.Fatalf("check: %+v, %v; want %s", got, err, s.reason)
			}
			types := verified(t, id)
			if s.changed {
				events++
				if types[len(types)-1] != "consent.changed" {
					t.Fatalf("last event %s, want consent.changed", types[len(types)-1])
				}
			}
			if len(types) != events {
				t.Fatalf("ledger holds %d events, want %d", len(types), events)
			}
		})
	}
	t.Run("unknown purpose", func(t *testing.T) {
		_, err := env.svc.PutConsent(ctx, tenant, id, "nosuchpurpose", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1}, testenv.Operator)
		if errs.CodeOf(err) != errs.Invalid && errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("unknown purpose: %v", err)
		}
	})
	t.Run("stale If-Match", func(t *testing.T) {
		v := int64(1)
		w := testenv.Operator
		w.IfMatch = &v
		_, err := env.svc.PutConsent(ctx, tenant, id, "marketing", profile.ConsentInput{Status: profile.Denied, NoticeVersion: 2}, w)
		if errs.CodeOf(err) != errs.PreconditionFailed {
			t.Fatalf("stale If-Match: %v, want PreconditionFailed", err)
		}
	})
}

// TestChecks: checks by id and by each identity type answer alike, a batch answers in
// order, and more than MaxChecks are refused.
func TestChecks(t *testing.T) {
	ctx := context.Background()
	p := newPerson(t, tenant)
	if _, err := env.svc.PutConsent(ctx, tenant, p.ID, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2}, testenv.Operator); err != nil {
		t.Fatal(err)
	}
	refs := map[string]app.CheckInput{"id": {ProfileID: p.ID}}
	for _, id := range p.Identities {
		refs[id.Type] = app.CheckInput{Identity: &app.IdentityInput{Type: id.Type, Value: id.Value}}
	}
	for name, ref := range refs {
		t.Run("by "+name, func(t *testing.T) {
			in := ref
			in.Purpose = "marketing"
			got, err := env.svc.Check(ctx, tenant, []app.CheckInput{in}, false)
			if err != nil || !got[0].Allowed || got[0].ProfileID != p.ID {
				t.Fatalf("check: %+v, %v", got, err)
			}
			in.Purpose = "partners"
			got, err = env.svc.Check(ctx, tenant, []app.CheckInput{in}, false)
			if err != nil || got[0].Allowed || got[0].Reason != profile.ReasonNoConsent {
				t.Fatalf("check without consent: %+v, %v", got, err)
			}
		})
	}
	t.Run("batch", func(t *testing.T) {
		var in []app.CheckInput
		want := []profile.Reason{}
		for i := range app.MaxChecks {
			switch i % 3 {
			case 0:
				in = append(in, app.CheckInput{ProfileID: p.ID, Purpose: "marketing"})
				want = append(want, profile.ReasonAllowed)
			case 1:
				in = append(in, app.CheckInput{Identity: &app.IdentityInput{Type: "email", Value: email()}, Purpose: "marketing"})
				want = append(want, profile.ReasonNoProfile)
			default:
				in = append(in, app.CheckInput{Identity: &app.IdentityInput{Type: "phone", Value: p.Identities[1].Value}, Topic: "newsletter", Channel: "email"})
				want = append(want, profile.ReasonNotSubscribed)
			}
		}
		got, err := env.svc.Check(ctx, tenant, in, true)
		if err != nil || len(got) != len(in) {
			t.Fatalf("batch: %d results, %v", len(got), err)
		}
		for i := range got {
			if got[i].Reason != want[i] {
				t.Fatalf("result %d: %s, want %s", i, got[i].Reason, want[i])
			}
		}
		_, err = env.svc.Check(ctx, tenant, append(in, in[0]), true)
		if errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("%d checks: %v, want Invalid", len(in)+1, err)
		}
	})
	t.Run("other tenant", func(t *testing.T) {
		got, err := env.svc.Check(ctx, otherTenant, []app.CheckInput{{ProfileID: p.ID, Purpose: "marketing"}}, false)
		if err != nil || got[0].Allowed || got[0].Reason != profile.ReasonNoProfile {
			t.Fatalf("another tenant's check: %+v, %v", got, err)
		}
	})
}

// TestSync: a change applies, an older change of the same field is skipped as stale, a
// replayed change is a duplicate, and a repeated id within a batch is rejected.
func TestSync(t *testing.T) {
	ctx := context.Background()
	addr := email()
	now := time.Now().UTC()
	change := func(id string, at time.Time, name string) app.SyncChange {
		return app.SyncChange{ID: id, Identity: &app.IdentityInput{Type: "email", Value: addr}, OccurredAt: at,
			Attributes: map[string]any{"givenName": name}}
	}
	c1, c2, c3 := testenv.Unique("c"), testenv.Unique("c"), testenv.Unique("c")
	batches := []struct {
		name    string
		changes []app.SyncChange
		want    []app.SyncStatus
		given   string // the name held afterwards
	}{
		{"new person", []app.SyncChange{change(c1, now, "Ada")}, []app.SyncStatus{app.SyncApplied}, "Ada"},
		{"older change", []app.SyncChange{change(c2, now.Add(-time.Hour), "Old")}, []app.SyncStatus{app.SyncStale}, "Ada"},
		{"replay", []app.SyncChange{change(c1, now, "Ada")}, []app.SyncStatus{app.SyncDuplicate}, "Ada"},
		{"newer change and its id repeated", []app.SyncChange{change(c3, now.Add(time.Minute), "Eve"), change(c3, now.Add(time.Minute), "Eve")},
			[]app.SyncStatus{app.SyncApplied, app.SyncRejected}, "Eve"},
	}
	for _, b := range batches {
		t.Run(b.name, func(t *testing.T) {
			res, err := env.svc.Sync(ctx, tenant, app.SyncBatch{Source: "crm", Changes: b.changes})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Status != b.want[i] {
					t.Fatalf("change %d: %+v, want %s", i, r, b.want[i])
				}
			}
			p, err := env.svc.FindProfile(ctx, tenant, "email:"+addr)
			if err != nil {
				t.Fatal(err)
			}
			if p.Attributes["givenName"] != b.given {
				t.Fatalf("givenName %v, want %s", p.Attributes["givenName"], b.given)
			}
		})
	}
	t.Run("invalid batch", func(t *testing.T) {
		_, err := env.svc.Sync(ctx, tenant, app.SyncBatch{Source: "CRM!", Changes: []app.SyncChange{change(testenv.Unique("c"), now, "X")}})
		var e *errs.Error
		if !errors.As(err, &e) || e.Code != errs.Invalid {
			t.Fatalf("invalid source: %v", err)
		}
	})
}

package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// TestProfileReads: a profile is one read by its id and by each of its identities, and
// Lookup resolves ids and identities of several people in one call.
func TestProfileReads(t *testing.T) {
	ctx := context.Background()
	p := newPerson(t, tenant)
	t.Run("by id", func(t *testing.T) {
		got, err := env.store.Profile(ctx, tenant, p.ID)
		if err != nil || got.ID != p.ID || got.Version != p.Version {
			t.Fatalf("Profile = %+v, %v", got, err)
		}
	})
	for _, id := range p.Identities {
		t.Run("by "+id.Type, func(t *testing.T) {
			got, err := env.store.ProfileByIdentity(ctx, tenant, id)
			if err != nil || got.ID != p.ID || got.Version != p.Version || len(got.Identities) != 3 {
				t.Fatalf("ProfileByIdentity(%s) = %+v, %v", id.Type, got, err)
			}
		})
	}
	t.Run("lookup", func(t *testing.T) {
		q := newPerson(t, tenant)
		missing := app.Ref{Identity: profile.Identity{Type: "email", Value: testenv.Unique("nobody") + "@example.com"}}
		refs := []app.Ref{{ID: p.ID}, {Identity: q.Identities[0]}, {Identity: p.Identities[1]}, missing, {ID: "p_" + strings.Repeat("a", 26)}}
		got, err := env.store.Lookup(ctx, tenant, refs)
		if err != nil {
			t.Fatal(err)
		}
		if got[refs[0]].ID != p.ID || got[refs[1]].ID != q.ID || got[refs[2]].ID != p.ID {
			t.Fatalf("Lookup found the wrong profiles: %v", got)
		}
		if got[missing] != nil || got[refs[4]] != nil {
			t.Fatalf("Lookup found profiles that do not exist: %v", got)
		}
	})
	t.Run("absent", func(t *testing.T) {
		_, err := env.store.Profile(ctx, tenant, "p_"+strings.Repeat("b", 26))
		if errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("Profile of an unknown id: %v, want NotFound", err)
		}
		_, err = env.store.ProfileByIdentity(ctx, tenant, profile.Identity{Type: "email", Value: testenv.Unique("x") + "@example.com"})
		if errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("ProfileByIdentity of an unknown identity: %v, want NotFound", err)
		}
	})
}

// change returns a commit of p's next version with one attribute change and its event.
func change(t testing.TB, p *profile.Profile, prev int64) app.Commit {
	t.Helper()
	next := p.Clone()
	next.Version = prev + 1
	next.Attributes = map[string]any{"givenName": testenv.Unique("n")}
	evs := profile.Events([]profile.Change{{Type: profile.EventProfileUpdated, Subject: "attributes"}}, time.Now(), ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}, "")
	for i := range evs {
		next.LedgerSeq++
		evs[i].ID, evs[i].Tenant, evs[i].ProfileID, evs[i].Seq = app.NewID("ev_"), tenant, p.ID, next.LedgerSeq
		ledger.Seal(next.LedgerHead, &evs[i])
		next.LedgerHead = evs[i].Hash
	}
	return app.Commit{Profile: next, PrevVersion: prev, Events: evs}
}

// TestCommit: a commit conditioned on the stored version lands with an outbox item; one on
// a stale version writes nothing and says ErrStale; an identity of another profile is
// refused.
func TestCommit(t *testing.T) {
	ctx := context.Background()
	p := newPerson(t, tenant)
	pending := func() int {
		n, err := env.store.PendingOutbox(ctx, tenant, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := pending(); n != 1 {
		t.Fatalf("after the create, %d outbox items are pending, want 1", n)
	}
	t.Run("current version", func(t *testing.T) {
		if err := env.store.Commit(ctx, tenant, change(t, p, p.Version)); err != nil {
			t.Fatal(err)
		}
		got, err := env.store.Profile(ctx, tenant, p.ID)
		if err != nil || got.Version != p.Version+1 {
			t.Fatalf("after commit: %+v, %v", got, err)
		}
		byID, err := env.store.ProfileByIdentity(ctx, tenant, p.Identities[2])
		if err != nil || byID.Version != got.Version {
			t.Fatalf("the identity item's copy is at version %d, the profile at %d (%v)", byID.Version, got.Version, err)
		}
		if n := pending(); n != 2 {
			t.Fatalf("after a second commit, %d outbox items are pending, want 2", n)
		}
	})
	t.Run("stale version", func(t *testing.T) {
		before, _ := env.store.Profile(ctx, tenant, p.ID)
		err := env.store.Commit(ctx, tenant, change(t, p, p.Version)) // p.Version is now stale
		if !errors.Is(err, errs.ErrStale) {
			t.Fatalf("stale commit: %v, want ErrStale", err)
		}
		after, _ := env.store.Profile(ctx, tenant, p.ID)
		if after.Version != before.Version || pending() != 2 {
			t.Fatalf("a stale commit changed the profile (version %d -> %d) or the outbox", before.Version, after.Version)
		}
	})
	t.Run("identity of another profile", func(t *testing.T) {
		q := newPerson(t, tenant)
		c := change(t, q, q.Version)
		c.Profile.Identities = append(c.Profile.Identities, p.Identities[0])
		if err := env.store.Commit(ctx, tenant, c); !errors.Is(err, errs.ErrIdentityTaken) {
			t.Fatalf("taking another profile's identity: %v, want ErrIdentityTaken", err)
		}
	})
}

// TestIdempotencyRecords: a record is stored once per key, and the first one stays.
func TestIdempotencyRecords(t *testing.T) {
	ctx := context.Background()
	key := testenv.Unique("idem")
	first := &app.Record{Key: key, Fingerprint: "f1", Outcome: []byte(`{"a":1}`), CreatedAt: time.Now()}
	tests := []struct {
		name string
		rec  *app.Record
		ok   bool
	}{
		{"first", first, true},
		{"again with the same key", &app.Record{Key: key, Fingerprint: "f2", Outcome: []byte(`{}`), CreatedAt: time.Now()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := env.store.PutRecord(ctx, tenant, tt.rec)
			if (err == nil) != tt.ok {
				t.Fatalf("PutRecord: %v, want ok=%v", err, tt.ok)
			}
			got, err := env.store.Record(ctx, tenant, key)
			if err != nil || got.Fingerprint != "f1" || string(got.Outcome) != `{"a":1}` {
				t.Fatalf("Record = %+v, %v; want the first", got, err)
			}
		})
	}
	t.Run("other tenant", func(t *testing.T) {
		if _, err := env.store.Record(ctx, otherTenant, key); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("another tenant reads the record: %v", err)
		}
	})
	t.Run("committed with a change", func(t *testing.T) {
		p := newPerson(t, tenant)
		c := change(t, p, p.Version)
		c.Record = &app.Record{Key: testenv.Unique("idem"), Fingerprint: "f", Outcome: []byte(`{}`), CreatedAt: time.Now()}
		if err := env.store.Commit(ctx, tenant, c); err != nil {
			t.Fatal(err)
		}
		again := change(t, c.Profile, c.Profile.Version)
		again.Record = c.Record
		if err := env.store.Commit(ctx, tenant, again); !errors.Is(err, errs.ErrReplay) {
			t.Fatalf("a second commit with the same record: %v, want ErrReplay", err)
		}
	})
}

// TestRequestsByDueDate: open requests come back in due-date order, and a due-before
// bound keeps later ones out; other tenants' requests never show.
func TestRequestsByDueDate(t *testing.T) {
	ctx := context.Background()
	tn := "due" + strings.ReplaceAll(testenv.Unique("t"), "-", "")[:12]
	base := time.Now().UTC().Add(-time.Hour)
	var ids []string
	// Saved in an order different from their due dates.
	for _, offset := range []int{2, 0, 3, 1} {
		p := newPerson(t, tenant)
		r := dsr.New(app.NewID("rq_"), tenant, p.ID, dsr.Rectification, "", dsr.AttestedBrand, ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}, base.Add(time.Duration(offset)*time.Minute))
		r.Tenant, r.Version = tn, 1
		if err := env.store.SaveRequest(ctx, r, dsr.Prior{}); err != nil {
			t.Fatal(err)
		}
		for len(ids) <= offset {
			ids = append(ids, "")
		}
		ids[offset] = r.ID
	}
	tests := []struct {
		name      string
		dueBefore time.Time
		want      []string
	}{
		{"all", time.Time{}, ids},
		{"due before the third", base.AddDate(0, 1, 0).Add(2*time.Minute - time.Second), ids[:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.store.OpenRequests(ctx, tn, tt.dueBefore, 0)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, r := range got {
				gotIDs = append(gotIDs, r.ID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("OpenRequests = %v, want %v", gotIDs, tt.want)
			}
		})
	}
	t.Run("list page", func(t *testing.T) {
		page, err := env.store.ListRequests(ctx, tn, app.RequestFilter{Open: true, Limit: 3})
		if err != nil || len(page.Requests) != 3 || page.Requests[0].ID != ids[0] || page.Cursor == "" {
			t.Fatalf("first page: %+v, %v", page, err)
		}
		next, err := env.store.ListRequests(ctx, tn, app.RequestFilter{Open: true, Limit: 3, Cursor: page.Cursor})
		if err != nil || len(next.Requests) != 1 || next.Requests[0].ID != ids[3] || next.Cursor != "" {
			t.Fatalf("second page: %+v, %v", next, err)
		}
	})
	t.Run("other tenant", func(t *testing.T) {
		got, err := env.store.OpenRequests(ctx, otherTenant+"x", time.Time{}, 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("another tenant sees %d requests (%v)", len(got), err)
		}
	})
}

// TestTenantIsolation: what one tenant wrote is invisible to another by every read, and
// every item of the person is keyed under its tenant.
func TestTenantIsolation(t *testing.T) {
	ctx := context.Background()
	p := newPerson(t, tenant)
	t.Run("by id", func(t *testing.T) {
		if _, err := env.store.Profile(ctx, otherTenant, p.ID); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("other tenant reads the profile: %v", err)
		}
	})
	for _, id := range p.Identities {
		t.Run("by "+id.Type, func(t *testing.T) {
			if _, err := env.store.ProfileByIdentity(ctx, otherTenant, id); errs.CodeOf(err) != errs.NotFound {
				t.Fatalf("other tenant finds the profile by %s: %v", id.Type, err)
			}
		})
	}
	t.Run("lookup", func(t *testing.T) {
		got, err := env.store.Lookup(ctx, otherTenant, []app.Ref{{ID: p.ID}, {Identity: p.Identities[0]}})
		if err != nil || len(got) != 0 && (got[app.Ref{ID: p.ID}] != nil || got[app.Ref{Identity: p.Identities[0]}] != nil) {
			t.Fatalf("other tenant's Lookup: %v, %v", got, err)
		}
	})
	t.Run("same identity in both tenants", func(t *testing.T) {
		res, err := env.svc.CreateProfile(ctx, otherTenant, app.Create{Identities: []app.IdentityInput{{Type: p.Identities[0].Type, Value: p.Identities[0].Value}}}, testenv.Operator)
		if err != nil || !res.Created || res.Profile.ID == p.ID {
			t.Fatalf("the other tenant's create with the same email: %+v, %v", res, err)
		}
		mine, err := env.store.ProfileByIdentity(ctx, tenant, p.Identities[0])
		if err != nil || mine.ID != p.ID {
			t.Fatalf("the first tenant's person changed: %+v, %v", mine, err)
		}
	})
	t.Run("keys", func(t *testing.T) {
		out, err := env.db.Scan(ctx, &dynamodb.ScanInput{TableName: &env.table})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range out.Items {
			doc, _ := it["doc"].(*types.AttributeValueMemberS)
			pk, _ := it["PK"].(*types.AttributeValueMemberS)
			if doc == nil || pk == nil || !strings.Contains(doc.Value, p.ID) {
				continue
			}
			n++
			if !strings.HasPrefix(pk.Value, "T#"+tenant+"#") {
				t.Errorf("an item about the person is keyed %q, outside its tenant", pk.Value)
			}
		}
		if n < 4 {
			t.Fatalf("found %d items about the person, want the profile, 3 identities and more", n)
		}
	})
}

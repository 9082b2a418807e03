package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/erasure"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// quiet returns a store and use cases over the test table that write no outbox items, so
// that an erasure job run by the test has no dispatch to wait for.
func quiet() (*dynamo.Store, *app.Service) {
	st := dynamo.New(env.db, env.table)
	st.DisableOutbox()
	return st, app.New(st, time.Now, 0)
}

// erasedPerson is someone who was erased: the identities they held, and one they had
// removed from their profile before.
type erasedPerson struct {
	email, phone, removed profile.Identity
}

func (p erasedPerson) all() map[string]profile.Identity {
	return map[string]profile.Identity{"email": p.email, "phone": p.phone, "removed before": p.removed}
}

// phone returns a phone number no other call returns.
func phone() string { return fmt.Sprintf("+4879%07d", time.Now().UnixNano()/1000%1e7) }

// erase creates a person with an email, a phone and a second email, removes that second
// email, and erases the person with the erasure job.
func erase(t *testing.T) erasedPerson {
	t.Helper()
	ctx := context.Background()
	st, svc := quiet()
	res, err := svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{
		{Type: "email", Value: email()}, {Type: "phone", Value: phone()}, {Type: "email", Value: email()},
	}}, testenv.Operator)
	if err != nil {
		t.Fatal(err)
	}
	ids := res.Profile.Identities
	p := erasedPerson{email: ids[0], phone: ids[1], removed: ids[2]}
	if _, err := svc.UpdateProfile(ctx, tenant, res.Profile.ID, app.Patch{RemoveIdentities: []app.IdentityInput{{Type: "email", Value: p.removed.Value}}}, testenv.Operator); err != nil {
		t.Fatal(err)
	}
	rq, err := svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: res.Profile.ID, Type: dsr.Erasure, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: testenv.Operator.Actor})
	if err != nil {
		t.Fatal(err)
	}
	job := erasure.New(st, nil, nil, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), erasure.Options{})
	if err := job.Run(ctx, dsr.JobMessage{Tenant: tenant, RequestID: rq.Request.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetProfile(ctx, tenant, res.Profile.ID); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("the profile after the erasure: %v", err)
	}
	return p
}

// wantErased fails unless err is an erased problem naming field, without the identity's value.
func wantErased(t *testing.T, err error, field string, id profile.Identity) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != errs.Erased || len(e.Fields) != 1 || e.Fields[0].Field != field {
		t.Fatalf("err %v, want erased naming %s", err, field)
	}
	if strings.Contains(strings.ToLower(err.Error()+e.Message+e.Fields[0].Reason), strings.ToLower(id.Value)) {
		t.Fatalf("the problem echoes the identity: %v", err)
	}
}

func input(id profile.Identity) app.IdentityInput {
	return app.IdentityInput{Type: id.Type, Value: id.Value}
}

// TestErasedIdentitiesRefused: after an erasure, none of the identities the person ever had
// (held at the erasure, or removed before it) can be attached again by a create, a PATCH
// or a sync, and the refusal writes nothing.
func TestErasedIdentitiesRefused(t *testing.T) {
	ctx := context.Background()
	p := erase(t)
	for name, id := range p.all() {
		t.Run(name, func(t *testing.T) {
			if got, err := env.store.Suppressions(ctx, tenant, []profile.Identity{id}); err != nil || len(got) != 1 {
				t.Fatalf("suppressions %v, %v", got, err)
			}
			t.Run("create", func(t *testing.T) {
				fresh := email()
				_, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: fresh}, input(id)},
					Consents: map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2}}}, testenv.Operator)
				wantErased(t, err, "identities[1]", id)
				if _, err := env.svc.FindProfile(ctx, tenant, "email:"+fresh); errs.CodeOf(err) != errs.NotFound {
					t.Fatalf("the refused create left a profile: %v", err)
				}
			})
			t.Run("create matching a live profile", func(t *testing.T) {
				live := newPerson(t, tenant)
				_, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{input(live.Identities[0]), input(id)}}, testenv.Operator)
				wantErased(t, err, "identities[1]", id)
			})
			t.Run("patch addIdentities", func(t *testing.T) {
				live := newPerson(t, tenant)
				_, err := env.svc.UpdateProfile(ctx, tenant, live.ID, app.Patch{AddIdentities: []app.IdentityInput{{Type: "customer_id", Value: testenv.Unique("c")}, input(id)}}, testenv.Operator)
				wantErased(t, err, "addIdentities[1]", id)
				if got, err := env.svc.GetProfile(ctx, tenant, live.ID); err != nil || got.Version != live.Version || got.HasIdentity(id) {
					t.Fatalf("the refused patch changed the profile: %+v %v", got, err)
				}
			})
			t.Run("sync", func(t *testing.T) {
				res, err := env.svc.Sync(ctx, tenant, app.SyncBatch{Source: "crm", Changes: []app.SyncChange{
					{ID: testenv.Unique("c"), Identity: &app.IdentityInput{Type: id.Type, Value: strings.ToUpper(id.Value)}, OccurredAt: time.Now(),
						Attributes: map[string]any{"givenName": "Back"}},
				}})
				if err != nil {
					t.Fatal(err)
				}
				if r := res[0]; r.Status != app.SyncRejected || r.Code != app.SyncCodeErased || r.Field != "identity" || r.ProfileID != "" || strings.Contains(r.Reason, id.Value) {
					t.Fatalf("result %+v, want rejected/erased", r)
				}
			})
		})
	}
}

// TestErasureSparesReassignedIdentity: an identity the person removed that another profile
// holds now is that person's, and the erasure does not suppress it.
func TestErasureSparesReassignedIdentity(t *testing.T) {
	ctx := context.Background()
	_, svc := quiet()
	st, _ := quiet()
	shared := app.IdentityInput{Type: "phone", Value: phone()}
	a, err := svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: email()}, shared}}, testenv.Operator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateProfile(ctx, tenant, a.Profile.ID, app.Patch{RemoveIdentities: []app.IdentityInput{shared}}, testenv.Operator); err != nil {
		t.Fatal(err)
	}
	b, err := svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: email()}, shared}}, testenv.Operator)
	if err != nil || !b.Created {
		t.Fatalf("other person: %+v %v", b, err)
	}
	rq, err := svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: a.Profile.ID, Type: dsr.Erasure, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: testenv.Operator.Actor})
	if err != nil {
		t.Fatal(err)
	}
	job := erasure.New(st, nil, nil, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), erasure.Options{})
	if err := job.Run(ctx, dsr.JobMessage{Tenant: tenant, RequestID: rq.Request.ID}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Suppressions(ctx, tenant, b.Profile.Identities); err != nil || len(got) != 0 {
		t.Fatalf("suppressed after the other person's erasure: %v %v", got, err)
	}
	if got, err := st.Suppressions(ctx, tenant, a.Profile.Identities[:1]); err != nil || len(got) != 1 {
		t.Fatalf("the erased person's email: %v %v", got, err)
	}
}

// erasingStore is the real store with an erasure landing just before each commit: whatever
// the use case read before, only a check inside the commit's transaction can see it.
type erasingStore struct {
	*dynamo.Store
	id profile.Identity
}

func (s erasingStore) Commit(ctx context.Context, tenant string, c app.Commit) error {
	if err := s.Suppress(ctx, tenant, []profile.Identity{s.id}); err != nil {
		return err
	}
	return s.Store.Commit(ctx, tenant, c)
}

// TestErasureRacingWrites: an erasure that suppresses an identity between a write's reads
// and its commit makes the commit fail with erased, and leaves no profile holding it.
func TestErasureRacingWrites(t *testing.T) {
	ctx := context.Background()
	norm := func(typ, v string) profile.Identity {
		id, reason := profile.NormalizeIdentity(catalogOf(t), typ, v)
		if reason != "" {
			t.Fatal(reason)
		}
		return id
	}
	writes := []struct {
		name  string
		id    profile.Identity
		write func(svc *app.Service, id profile.Identity) error
		field string
	}{
		{"create", norm("email", email()), func(svc *app.Service, id profile.Identity) error {
			_, err := svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{input(id)}}, testenv.Operator)
			return err
		}, "identities[0]"},
		{"patch", norm("phone", phone()), func(svc *app.Service, id profile.Identity) error {
			live := newPerson(t, tenant)
			_, err := svc.UpdateProfile(ctx, tenant, live.ID, app.Patch{AddIdentities: []app.IdentityInput{input(id)}}, testenv.Operator)
			return err
		}, "addIdentities[0]"},
		{"sync", norm("email", email()), func(svc *app.Service, id profile.Identity) error {
			res, err := svc.Sync(ctx, tenant, app.SyncBatch{Source: "crm", Changes: []app.SyncChange{{ID: testenv.Unique("c"), Identity: &app.IdentityInput{Type: id.Type, Value: id.Value}, OccurredAt: time.Now()}}})
			if err != nil {
				return err
			}
			if res[0].Code == app.SyncCodeErased {
				return app.Erased(id)
			}
			return fmt.Errorf("sync result %+v", res[0])
		}, ""},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			svc := app.New(erasingStore{Store: env.store, id: w.id}, time.Now, 0)
			err := w.write(svc, w.id)
			if w.field == "" {
				if errs.CodeOf(err) != errs.Erased {
					t.Fatalf("err %v, want erased", err)
				}
			} else {
				wantErased(t, err, w.field, w.id)
			}
			if _, err := env.store.ProfileByIdentity(ctx, tenant, w.id); errs.CodeOf(err) != errs.NotFound {
				t.Fatalf("a profile holds the erased identity: %v", err)
			}
		})
	}
}

func catalogOf(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := env.svc.Catalog(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// evidence is fresh signup evidence for marketing at notice version 2 (the demo catalog's).
func evidence(at time.Time) *app.Evidence {
	return &app.Evidence{Purpose: "marketing", Source: "web_signup", Method: "double_opt_in", CapturedAt: at, NoticeVersion: 2}
}

var granted = map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2}}

// TestReSignup: an erased person signs up again only with fresh evidence of a consent given
// in the same request; that lifts the suppression of the identities it attaches and is
// recorded in the ledger, and the person's other identities stay suppressed.
func TestReSignup(t *testing.T) {
	ctx := context.Background()
	p := erase(t)
	now := time.Now().UTC()
	refused := []struct {
		name  string
		ev    *app.Evidence
		cons  map[string]profile.ConsentInput
		field string
	}{
		{"stale", evidence(now.Add(-app.MaxEvidenceAge - time.Minute)), granted, "signupEvidence.capturedAt"},
		{"in the future", evidence(now.Add(app.MaxEvidenceSkew + time.Minute)), granted, "signupEvidence.capturedAt"},
		{"no capture time", evidence(time.Time{}), granted, "signupEvidence.capturedAt"},
		{"no consent granted with it", evidence(now), nil, "signupEvidence.purpose"},
		{"consent denied", evidence(now), map[string]profile.ConsentInput{"marketing": {Status: profile.Denied, NoticeVersion: 2}}, "signupEvidence.purpose"},
		{"an old notice", &app.Evidence{Purpose: "marketing", Source: "web_signup", Method: "double_opt_in", CapturedAt: now, NoticeVersion: 1},
			map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 1}}, "signupEvidence.noticeVersion"},
		{"unknown method", &app.Evidence{Purpose: "marketing", Source: "web_signup", Method: "assumed", CapturedAt: now, NoticeVersion: 2}, granted, "signupEvidence.method"},
		{"bad source", &app.Evidence{Purpose: "marketing", Source: "Web Signup!", Method: "written", CapturedAt: now, NoticeVersion: 2}, granted, "signupEvidence.source"},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			_, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{input(p.email)}, Consents: r.cons, SignupEvidence: r.ev}, testenv.Operator)
			e, ok := errs.As(err)
			// The method, the source and a missing time break the document; the rest are rules of state.
			want := errs.Unprocessable
			if r.field == "signupEvidence.method" || r.field == "signupEvidence.source" || r.name == "no capture time" {
				want = errs.Invalid
			}
			if !ok || e.Code != want || len(e.Fields) == 0 || e.Fields[0].Field != r.field {
				t.Fatalf("err %v, want %s %s", err, want, r.field)
			}
			if got, err := env.store.Suppressions(ctx, tenant, []profile.Identity{p.email}); err != nil || len(got) != 1 {
				t.Fatalf("suppression after a refused sign-up: %v %v", got, err)
			}
		})
	}

	actor := ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k-signup"}
	res, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{input(p.email)}, Consents: granted, SignupEvidence: evidence(now.Add(-time.Minute))},
		app.Write{Actor: actor})
	if err != nil || !res.Created || res.Profile.Consents["marketing"].Status != profile.Granted {
		t.Fatalf("re-sign-up with fresh evidence: %+v %v", res, err)
	}
	if got, err := env.store.Suppressions(ctx, tenant, []profile.Identity{p.email, p.phone, p.removed}); err != nil || len(got) != 2 || got[0] != p.phone {
		t.Fatalf("suppressions after the re-sign-up: %v %v, want the phone and the removed email only", got, err)
	}
	page, err := env.svc.Events(ctx, tenant, res.Profile.ID, 0, app.MaxPage)
	if err != nil || !page.Verified {
		t.Fatalf("ledger: %+v %v", page, err)
	}
	var lifted []ledger.Event
	for _, e := range page.Events {
		if e.Type == app.EventSuppressionLifted {
			lifted = append(lifted, e)
		}
	}
	if len(lifted) != 1 || lifted[0].Actor != actor || lifted[0].Subject != "email" || strings.Contains(string(lifted[0].New), p.email.Value) {
		t.Fatalf("suppression.lifted events %+v", lifted)
	}
	var doc struct{ Evidence app.Evidence }
	if err := json.Unmarshal(lifted[0].New, &doc); err != nil || doc.Evidence.Method != "double_opt_in" || doc.Evidence.Source != "web_signup" || doc.Evidence.NoticeVersion != 2 {
		t.Fatalf("evidence recorded %s (%v)", lifted[0].New, err)
	}

	t.Run("sync with fresh evidence", func(t *testing.T) {
		res, err := env.svc.Sync(ctx, tenant, app.SyncBatch{Source: "shop", Changes: []app.SyncChange{
			{ID: testenv.Unique("c"), Identity: &app.IdentityInput{Type: p.phone.Type, Value: p.phone.Value}, OccurredAt: now, Consents: granted, SignupEvidence: evidence(now)},
		}})
		if err != nil || res[0].Status != app.SyncApplied || !res[0].Created {
			t.Fatalf("sync re-sign-up: %+v %v", res, err)
		}
		types := verified(t, res[0].ProfileID)
		if !strings.Contains(strings.Join(types, " "), app.EventSuppressionLifted) {
			t.Fatalf("ledger %v", types)
		}
	})
	t.Run("sync with stale evidence", func(t *testing.T) {
		res, err := env.svc.Sync(ctx, tenant, app.SyncBatch{Source: "shop", Changes: []app.SyncChange{
			{ID: testenv.Unique("c"), Identity: &app.IdentityInput{Type: p.removed.Type, Value: p.removed.Value}, OccurredAt: now, Consents: granted, SignupEvidence: evidence(now.Add(-time.Hour))},
		}})
		if err != nil || res[0].Status != app.SyncRejected || res[0].Field != "signupEvidence.capturedAt" {
			t.Fatalf("sync with stale evidence: %+v %v", res, err)
		}
	})
	t.Run("evidence for someone never erased lifts nothing", func(t *testing.T) {
		res, err := env.svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: email()}}, Consents: granted, SignupEvidence: evidence(now)}, testenv.Operator)
		if err != nil || !res.Created {
			t.Fatal(err)
		}
		if types := verified(t, res.Profile.ID); strings.Contains(strings.Join(types, " "), app.EventSuppressionLifted) {
			t.Fatalf("ledger %v", types)
		}
	})
}

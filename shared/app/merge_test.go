package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/erasure"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

func identityOf(p *profile.Profile, typ string) profile.Identity {
	for _, id := range p.Identities {
		if id.Type == typ {
			return id
		}
	}
	panic("no " + typ + " identity")
}

func link(t *testing.T, to *profile.Profile, ids ...profile.Identity) app.Result {
	t.Helper()
	var add []app.IdentityInput
	for _, id := range ids {
		add = append(add, input(id))
	}
	res, err := env.svc.UpdateProfile(context.Background(), tenant, to.ID, app.Patch{AddIdentities: add}, testenv.Operator)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// chain returns the event types of id's own chain and fails unless it verifies to its end.
func chain(t *testing.T, id string) []string {
	t.Helper()
	var types []string
	var after int64
	for {
		page, err := env.svc.Events(context.Background(), tenant, id, after, app.MaxPage)
		if err != nil {
			t.Fatal(err)
		}
		if !page.Verified {
			t.Fatalf("the chain of %s does not verify (broken at %d)", id, page.BrokenAt)
		}
		for _, e := range page.Events {
			types = append(types, e.Type)
		}
		if page.Next == 0 {
			return types
		}
		after = page.Next
	}
}

// TestLinkFreeIdentity: an identity no profile holds attaches, with its provenance.
func TestLinkFreeIdentity(t *testing.T) {
	p := newPerson(t, tenant)
	loyalty := profile.Identity{Type: "loyalty_card", Value: testenv.Unique("card")}
	res := link(t, p, loyalty)
	if len(res.Links) != 0 || !res.Profile.HasIdentity(loyalty) {
		t.Fatalf("links %+v, identities %v: want the card attached without a link", res.Links, res.Profile.Identities)
	}
	src, ok := res.Profile.IdentitySources[loyalty.String()]
	if !ok || src.Source != testenv.Operator.Actor || src.At.IsZero() {
		t.Fatalf("provenance of the card = %+v, %v; want the operator and a time", src, ok)
	}
}

// TestLinkTrustedMerges: linking an identity of a trusted type that another profile holds
// merges that profile in: its identities move, its id answers for the survivor (one read,
// with mergedInto on checks), and both chains verify, the survivor's recording the merge
// with the absorbed chain's head and the absorbed one closed.
func TestLinkTrustedMerges(t *testing.T) {
	ctx := context.Background()
	a, b := newPerson(t, tenant), newPerson(t, tenant)
	if _, err := env.svc.PutConsent(ctx, tenant, b.ID, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2}, testenv.Operator); err != nil {
		t.Fatal(err)
	}
	res := link(t, a, identityOf(b, "customer_id"))
	if len(res.Links) != 1 || res.Links[0].Outcome != app.LinkMerged || res.Links[0].ProfileID != b.ID || res.Links[0].MergeID == "" {
		t.Fatalf("links %+v, want one merge of %s", res.Links, b.ID)
	}
	got, err := env.svc.GetProfile(ctx, tenant, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || len(got.Identities) != 6 || !slices.Contains(got.Aliases, b.ID) {
		t.Fatalf("reading %s gave %s with %d identities, aliases %v; want the survivor %s with both people's 6", b.ID, got.ID, len(got.Identities), got.Aliases, a.ID)
	}
	for _, id := range b.Identities {
		p, err := env.store.ProfileByIdentity(ctx, tenant, id)
		if err != nil || p.ID != a.ID {
			t.Fatalf("%s identity resolves to %v (%v), want %s", id.Type, p, err, a.ID)
		}
	}
	checks, err := env.svc.Check(ctx, tenant, []app.CheckInput{{ProfileID: b.ID, Purpose: "marketing"}, {ProfileID: a.ID, Purpose: "marketing"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !checks[0].Allowed || checks[0].ProfileID != a.ID || checks[0].MergedInto != a.ID || checks[1].MergedInto != "" {
		t.Fatalf("checks %+v: want the absorbed id answered for the survivor with mergedInto, the survivor's without", checks)
	}
	mine, theirs := chain(t, a.ID), chain(t, b.ID)
	if mine[len(mine)-1] != profile.EventProfileMerged || theirs[len(theirs)-1] != profile.EventProfileClosed {
		t.Fatalf("chains end %q and %q, want %s and %s", mine[len(mine)-1], theirs[len(theirs)-1], profile.EventProfileMerged, profile.EventProfileClosed)
	}
	page, err := env.svc.Events(ctx, tenant, a.ID, int64(len(mine)-1), 1)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := env.svc.Events(ctx, tenant, b.ID, int64(len(theirs)-1), 1)
	if err != nil {
		t.Fatal(err)
	}
	var d profile.MergeDetail
	if err := json.Unmarshal(page.Events[0].New, &d); err != nil {
		t.Fatal(err)
	}
	if d.Absorbed != b.ID || d.AbsorbedLedgerHead != closed.Events[0].Hash || d.AbsorbedLedgerSeq != closed.Events[0].Seq {
		t.Fatalf("merge event %+v does not name the absorbed chain's head %s", d, closed.Events[0].Hash)
	}
}

// TestLinkUntrustedProposes: an identity of a type not trusted to merge on stays with its
// profile and proposes a candidate, once per pair; a rejection is ledgered and closes the
// candidate, an acceptance merges.
func TestLinkUntrustedProposes(t *testing.T) {
	ctx := context.Background()
	a, b := newPerson(t, tenant), newPerson(t, tenant)
	mail := identityOf(b, "email")
	res := link(t, a, mail)
	if len(res.Links) != 1 || res.Links[0].Outcome != app.LinkCandidate || res.Profile.HasIdentity(mail) {
		t.Fatalf("links %+v: want a candidate and the email left with its profile", res.Links)
	}
	again := link(t, a, mail)
	if again.Links[0].CandidateID != res.Links[0].CandidateID {
		t.Fatalf("a second link proposed %s, want the same candidate %s", again.Links[0].CandidateID, res.Links[0].CandidateID)
	}
	open, _, err := env.svc.ListCandidates(ctx, tenant, app.CandidateOpen, "", app.MaxCandidatePage)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(open, func(c app.Candidate) bool { return c.ID == res.Links[0].CandidateID && c.OtherProfileID == b.ID }) {
		t.Fatalf("open candidates %+v lack %s", open, res.Links[0].CandidateID)
	}
	rejector := app.Write{Actor: ledger.Actor{Kind: ledger.ActorAPIKey, ID: "kreviewer"}}
	c, _, err := env.svc.DecideCandidate(ctx, tenant, res.Links[0].CandidateID, false, "different people, shared family address", rejector)
	if err != nil || c.Status != app.CandidateRejected || c.DecidedBy == nil || *c.DecidedBy != rejector.Actor {
		t.Fatalf("reject: %+v, %v", c, err)
	}
	if evs := chain(t, a.ID); evs[len(evs)-1] != profile.EventCandidateRejected {
		t.Fatalf("the profile's chain ends %q, want the rejection", evs[len(evs)-1])
	}
	if _, _, err := env.svc.DecideCandidate(ctx, tenant, c.ID, true, "", rejector); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("deciding a rejected candidate again: %v, want a conflict", err)
	}
	if p, _ := env.svc.GetProfile(ctx, tenant, b.ID); p.ID != b.ID {
		t.Fatalf("the rejected pair merged: %s reads as %s", b.ID, p.ID)
	}

	d := newPerson(t, tenant)
	res = link(t, a, identityOf(d, "phone"))
	c, m, err := env.svc.DecideCandidate(ctx, tenant, res.Links[0].CandidateID, true, "", rejector)
	if err != nil || c.Status != app.CandidateAccepted || m.MergeID == "" || c.MergeID != m.MergeID {
		t.Fatalf("accept: %+v, %+v, %v", c, m, err)
	}
	if p, _ := env.svc.GetProfile(ctx, tenant, d.ID); p.ID != a.ID || !p.HasIdentity(identityOf(d, "phone")) {
		t.Fatalf("after acceptance %s reads as %s", d.ID, p.ID)
	}
}

// TestMergeMovesOpenRequests: the absorbed person's open request moves to the survivor.
func TestMergeMovesOpenRequests(t *testing.T) {
	ctx := context.Background()
	a, b := newPerson(t, tenant), newPerson(t, tenant)
	rq, err := env.svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: b.ID, Type: dsr.Access, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: testenv.Operator.Actor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.MergeProfiles(ctx, tenant, a.ID, b.ID, testenv.Operator); err != nil {
		t.Fatal(err)
	}
	reqs, err := env.store.RequestsOfProfile(ctx, tenant, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].ID != rq.Request.ID || reqs[0].ProfileID != a.ID {
		t.Fatalf("the survivor's requests are %+v, want %s moved over", reqs, rq.Request.ID)
	}
	if _, err := env.svc.MergeProfiles(ctx, tenant, a.ID, b.ID, testenv.Operator); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("merging again: %v, want a conflict", err)
	}
}

// TestSplit: a split restores each side as it was before the merge, keeps later changes
// with the survivor and later withdrawals on both, and both chains verify.
func TestSplit(t *testing.T) {
	ctx := context.Background()
	a, b := newPerson(t, tenant), newPerson(t, tenant)
	grant := profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2}
	partners := profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1}
	withdraw := profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: 2}
	must := func(_ app.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.svc.PutConsent(ctx, tenant, b.ID, "marketing", grant, testenv.Operator))
	must(env.svc.UpdateProfile(ctx, tenant, b.ID, app.Patch{Attributes: map[string]any{"givenName": "Beata"}}, testenv.Operator))
	must(env.svc.UpdateProfile(ctx, tenant, a.ID, app.Patch{Attributes: map[string]any{"givenName": "Anna"}}, testenv.Operator))
	time.Sleep(2 * time.Millisecond)
	m, err := env.svc.MergeProfiles(ctx, tenant, a.ID, b.ID, testenv.Operator)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	must(env.svc.PutConsent(ctx, tenant, b.ID, "partners", partners, testenv.Operator))  // later grant, by the alias
	must(env.svc.PutConsent(ctx, tenant, a.ID, "marketing", withdraw, testenv.Operator)) // later withdrawal
	extra := profile.Identity{Type: "loyalty_card", Value: testenv.Unique("card")}
	link(t, a, extra)

	res, err := env.svc.SplitProfile(ctx, tenant, a.ID, m.MergeID, testenv.Operator)
	if err != nil {
		t.Fatal(err)
	}
	s, r := res.Profile, res.Restored
	if r.ID != b.ID || len(r.Identities) != 3 || len(s.Identities) != 4 || !s.HasIdentity(extra) || slices.Contains(s.Aliases, b.ID) {
		t.Fatalf("split gave survivor %v (aliases %v) and restored %s %v", s.Identities, s.Aliases, r.ID, r.Identities)
	}
	if s.Attributes["givenName"] != "Anna" || r.Attributes["givenName"] != "Beata" {
		t.Fatalf("names after the split: %v and %v, want Anna and Beata", s.Attributes["givenName"], r.Attributes["givenName"])
	}
	if r.Consents["marketing"].Status != profile.Withdrawn || s.Consents["marketing"].Status != profile.Withdrawn {
		t.Fatalf("the later withdrawal must hold on both sides: %v, %v", s.Consents["marketing"], r.Consents["marketing"])
	}
	if _, ok := r.Consents["partners"]; ok || s.Consents["partners"].Status != profile.Granted {
		t.Fatalf("the later grant must stay with the survivor only: %v, %v", s.Consents["partners"], r.Consents["partners"])
	}
	for _, id := range b.Identities {
		p, err := env.store.ProfileByIdentity(ctx, tenant, id)
		if err != nil || p.ID != b.ID {
			t.Fatalf("%s identity resolves to %v (%v) after the split, want %s", id.Type, p, err, b.ID)
		}
	}
	got, err := env.svc.GetProfile(ctx, tenant, b.ID)
	if err != nil || got.ID != b.ID || got.Version != r.Version {
		t.Fatalf("reading %s after the split: %+v, %v", b.ID, got, err)
	}
	if c := chain(t, a.ID); c[len(c)-1] != profile.EventProfileSplit {
		t.Fatalf("survivor's chain ends %q", c[len(c)-1])
	}
	if c := chain(t, b.ID); c[len(c)-1] != profile.EventProfileSplit || c[len(c)-2] != profile.EventProfileClosed {
		t.Fatalf("restored chain ends %v", c[len(c)-2:])
	}
	if _, err := env.svc.SplitProfile(ctx, tenant, a.ID, m.MergeID, testenv.Operator); errs.CodeOf(err) != errs.Unprocessable {
		t.Fatalf("splitting again: %v, want unprocessable", err)
	}
	must(env.svc.PutConsent(ctx, tenant, b.ID, "partners", partners, testenv.Operator))
	if c := chain(t, b.ID); c[len(c)-1] != profile.EventConsentChanged {
		t.Fatalf("a write to the restored profile must extend its own chain: %v", c[len(c)-1])
	}
}

// TestMergeRacesWriters: 50 writers change both profiles by id while one merges them; every
// write they were told succeeded is in exactly one of the two chains, both chains verify,
// and the last write of each writer is what the survivor holds.
func TestMergeRacesWriters(t *testing.T) {
	ctx := context.Background()
	a, b := newPerson(t, tenant), newPerson(t, tenant)
	const writers, rounds = 50, 3
	var wg sync.WaitGroup
	errc := make(chan error, writers*rounds+1)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			target := []string{a.ID, b.ID}[i%2]
			for r := range rounds {
				w := app.Write{Actor: testenv.Operator.Actor, RequestID: fmt.Sprintf("w%d-%d", i, r)}
				if _, err := env.svc.UpdateProfile(ctx, tenant, target, app.Patch{Attributes: map[string]any{"loyalty_tier": fmt.Sprintf("t%d-%d", i, r)}}, w); err != nil {
					errc <- fmt.Errorf("writer %d round %d: %w", i, r, err)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		time.Sleep(5 * time.Millisecond)
		if _, err := env.svc.MergeProfiles(ctx, tenant, a.ID, b.ID, testenv.Operator); err != nil {
			errc <- fmt.Errorf("merge: %w", err)
		}
	}()
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range []string{a.ID, b.ID} {
		chain(t, id) // verifies
		var after int64
		for {
			page, err := env.svc.Events(ctx, tenant, id, after, app.MaxPage)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				if e.Type == profile.EventProfileUpdated {
					seen[e.RequestID]++
				}
			}
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
	}
	for i := range writers {
		for r := range rounds {
			if n := seen[fmt.Sprintf("w%d-%d", i, r)]; n != 1 {
				t.Fatalf("write w%d-%d is in the chains %d times, want once", i, r, n)
			}
		}
	}
	p, err := env.svc.GetProfile(ctx, tenant, b.ID)
	if err != nil || p.ID != a.ID || len(p.Identities) != 6 {
		t.Fatalf("after the race %s reads as %+v (%v)", b.ID, p, err)
	}
}

// TestSyncLinks: a sync change's identities link like a PATCH's: a free one attaches, a
// trusted one held by another profile merges it, an untrusted one proposes a candidate; a
// change for an unknown identity whose linked identity is known applies to that profile.
func TestSyncLinks(t *testing.T) {
	ctx := context.Background()
	a, b, c := newPerson(t, tenant), newPerson(t, tenant), newPerson(t, tenant)
	card := app.IdentityInput{Type: "loyalty_card", Value: testenv.Unique("card")}
	now := time.Now().UTC()
	res, err := env.svc.Sync(ctx, tenant, app.SyncBatch{Source: "crm", Changes: []app.SyncChange{{
		ID: testenv.Unique("sync"), Identity: ptr(input(identityOf(a, "email"))), OccurredAt: now,
		Identities: []app.IdentityInput{card, input(identityOf(b, "customer_id")), input(identityOf(c, "phone"))},
		Attributes: map[string]any{"givenName": "Ada"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Status != app.SyncApplied || r.ProfileID != a.ID || len(r.Links) != 2 ||
		r.Links[0].Outcome != app.LinkMerged || r.Links[0].ProfileID != b.ID || r.Links[1].Outcome != app.LinkCandidate || r.Links[1].ProfileID != c.ID {
		t.Fatalf("result %+v, want applied to %s, %s merged and %s proposed", r, a.ID, b.ID, c.ID)
	}
	p, err := env.svc.GetProfile(ctx, tenant, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	cardID := profile.Identity{Type: card.Type, Value: card.Value}
	if !p.HasIdentity(cardID) || !p.HasIdentity(identityOf(b, "email")) || p.HasIdentity(identityOf(c, "phone")) || p.Attributes["givenName"] != "Ada" {
		t.Fatalf("profile after the sync: %v %v", p.Identities, p.Attributes)
	}
	if src := p.IdentitySources[cardID.String()].Source; src != (ledger.Actor{Kind: ledger.ActorSync, ID: "crm"}) || p.AttributeSources["givenName"] != src {
		t.Fatalf("provenance of the sync's values: %+v, %+v", src, p.AttributeSources["givenName"])
	}

	fresh := app.IdentityInput{Type: "email", Value: email()}
	res, err = env.svc.Sync(ctx, tenant, app.SyncBatch{Source: "shop", Changes: []app.SyncChange{{
		ID: testenv.Unique("sync"), Identity: &fresh, OccurredAt: now, Identities: []app.IdentityInput{card},
	}}})
	if err != nil || res[0].Status != app.SyncApplied || res[0].ProfileID != a.ID || res[0].Created {
		t.Fatalf("a change for a new email linked to a known card: %+v, %v; want it applied to %s", res, err, a.ID)
	}
}

func ptr[T any](v T) *T { return &v }

// TestErasureOfMergedProfile: erasing a merged person deletes the absorbed profile's
// partition too, and suppresses the identities both brought.
func TestErasureOfMergedProfile(t *testing.T) {
	ctx := context.Background()
	st, svc := quiet() // no outbox items: the erasure has no dispatch to wait for
	person := func() *profile.Profile {
		res, err := svc.CreateProfile(ctx, tenant, app.Create{Identities: []app.IdentityInput{
			{Type: "email", Value: email()}, {Type: "customer_id", Value: testenv.Unique("c")}}}, testenv.Operator)
		if err != nil {
			t.Fatal(err)
		}
		return res.Profile
	}
	a, b := person(), person()
	if _, err := svc.MergeProfiles(ctx, tenant, a.ID, b.ID, testenv.Operator); err != nil {
		t.Fatal(err)
	}
	rq, err := svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: b.ID, Type: dsr.Erasure, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: testenv.Operator.Actor})
	if err != nil {
		t.Fatal(err)
	}
	if rq.Request.ProfileID != a.ID {
		t.Fatalf("a request filed by the absorbed id is for %s, want the survivor %s", rq.Request.ProfileID, a.ID)
	}
	job := erasure.New(st, nil, nil, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), erasure.Options{})
	if err := job.Run(ctx, dsr.JobMessage{Tenant: tenant, RequestID: rq.Request.ID}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if _, err := env.svc.GetProfile(ctx, tenant, id); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("%s after the erasure: %v, want not found", id, err)
		}
		evs, err := env.store.Events(ctx, tenant, id, 1, 100)
		if err != nil || len(evs) != 0 {
			t.Fatalf("%s keeps %d ledger events (%v)", id, len(evs), err)
		}
	}
	if got, err := env.store.Suppressions(ctx, tenant, append(slices.Clone(a.Identities), b.Identities...)); err != nil || len(got) != 4 {
		t.Fatalf("suppressed %d of the 4 identities (%v)", len(got), err)
	}
}

package localstack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/erasure"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/sweep"
)

var requestsOnlyOnce sync.Once

// requestsOnlyKey is a key of the requests scope alone (role "requests-only"): it may not
// attest.
func requestsOnlyKey() string {
	requestsOnlyOnce.Do(func() {
		plain, _, err := seed.Key(context.Background(), syncStore(), tenant, "requests-only", []apikey.Scope{apikey.Requests})
		if err != nil {
			panic(err)
		}
		env.keys["requests-only"] = plain
	})
	return "requests-only"
}

// confirmLink waits for the confirmation email to addr and returns its subject and link.
func confirmLink(t *testing.T, addr string) (subject, link string) {
	t.Helper()
	re := regexp.MustCompile(`https?://\S+/portal/` + tenant + `/confirm\?t=\S+`)
	eventually(t, 5*time.Second, "the confirmation email", func() bool {
		for _, e := range mailJSON(t) {
			if slices.Contains(e.Recipients(), addr) {
				if l := re.FindString(e.Text); l != "" {
					subject, link = e.Subject, l
					return true
				}
			}
		}
		return false
	})
	return subject, link
}

func requestNow(t *testing.T, id string) map[string]any {
	t.Helper()
	return must(t, do(t, call{method: "GET", path: "/v1/requests/" + id, key: "admin"}), 200).json(t)
}

// TestErasureAwaitsEmailConfirmation: an erasure from the brand API waits for the person,
// who gets a confirmation email in the request's language; a GET of the link (what a mail
// scanner does) confirms nothing, the job does not run before the POST, the POST confirms
// once (verification email_confirmed), the erasure runs, and a second use is refused.
func TestErasureAwaitsEmailConfirmation(t *testing.T) {
	addr := "verify-" + strings.ToLower(app.NewID("")) + "@example.com"
	pid, _ := newProfileWithEmail(t, addr, map[string]any{"attributes": map[string]any{"locale": "pl"}})
	rq := must(t, do(t, call{method: "POST", path: "/v1/requests", key: requestsOnlyKey(),
		body: map[string]any{"profileId": pid, "type": "erasure"}}), 201).json(t)
	id := rq["id"].(string)
	if rq["status"] != "awaiting_verification" || rq["verification"] != "unverified" || rq["verifyBy"] == nil || rq["confirmHash"] != nil {
		t.Fatalf("new request %v", rq)
	}
	subject, link := confirmLink(t, addr)
	if subject != "Potwierdź swój wniosek" {
		t.Fatalf("subject %q, want the Polish one", subject)
	}
	c := &portalClient{t: t, cookies: map[string]string{}, headers: map[string]string{}}
	page := wantStatus(t, c.do("GET", link, nil), 200)
	if !strings.Contains(page.body, "usunąć wszystkie Twoje dane") {
		t.Fatalf("the confirm page does not say what will happen: %.1500s", page.body)
	}
	time.Sleep(1500 * time.Millisecond) // time enough for a job, were one started
	if got := requestNow(t, id); got["status"] != "awaiting_verification" {
		t.Fatalf("after GET: %v", got["status"])
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles/" + pid, key: "read"}), 200)
	u, _ := url.Parse(link)
	form := url.Values{"csrf": {c.csrf(page)}, "t": {u.Query().Get("t")}}
	wantStatus(t, c.do("POST", env.stack.URL+"/portal/"+tenant+"/confirm", form), 200)
	eventually(t, 10*time.Second, "the erasure after confirmation", func() bool { return requestNow(t, id)["status"] == "completed" })
	got := requestNow(t, id)
	if got["verification"] != "email_confirmed" {
		t.Fatalf("verification %v", got["verification"])
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles/" + pid, key: "read"}), 404)
	wantStatus(t, c.do("POST", env.stack.URL+"/portal/"+tenant+"/confirm", form), 410)
	wantStatus(t, c.do("GET", link, nil), 410)
}

// TestAttestation: only a key of the attest scope may attest, with a reason that goes to
// the ledger; an attested request needs no confirmation, and its job runs at once.
func TestAttestation(t *testing.T) {
	pid, _ := newProfileWithEmail(t, "attest-"+strings.ToLower(app.NewID(""))+"@example.com", nil)
	for _, body := range []map[string]any{
		{"profileId": pid, "type": "access", "attested": true, "attestationReason": "identity checked by the support desk"},
		{"profileId": pid, "type": "access", "verification": "attested_brand", "attestationReason": "identity checked by the support desk"},
	} {
		p := must(t, do(t, call{method: "POST", path: "/v1/requests", key: requestsOnlyKey(), body: body}), 403).json(t)
		if !strings.Contains(p["detail"].(string)+p["title"].(string), "attest scope") {
			t.Fatalf("problem %v", p)
		}
	}
	rq := must(t, do(t, call{method: "POST", path: "/v1/requests", key: requestsKey(), body: map[string]any{
		"profileId": pid, "type": "access", "attested": true, "attestationReason": "identity checked by the support desk"}}), 201).json(t)
	if rq["status"] != "pending" || rq["verification"] != "attested_brand" || rq["attestationReason"] != "identity checked by the support desk" {
		t.Fatalf("attested request %v", rq)
	}
	eventually(t, 10*time.Second, "the export", func() bool { return requestNow(t, rq["id"].(string))["status"] == "completed" })
	evs := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + pid + "/events", key: "read"}), 200).json(t)
	found := false
	for _, e := range evs["events"].([]any) {
		ev := e.(map[string]any)
		if n, _ := ev["new"].(map[string]any); ev["type"] == "request.created" && n["verification"] == "attested_brand" &&
			n["attestationReason"] == "identity checked by the support desk" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no ledgered attestation in %v", evs["events"])
	}
}

// linkNotes keeps the links a request's notification carries, so a use-case test can use
// them as the person would.
type linkNotes struct {
	mu    sync.Mutex
	links map[string]app.RequestLinks
}

func (n *linkNotes) NotifyExtension(context.Context, *dsr.Request, string) error { return nil }
func (n *linkNotes) NotifyDenial(context.Context, *dsr.Request, string) error    { return nil }
func (n *linkNotes) NotifyConfirmation(_ context.Context, r *dsr.Request, _ string, l app.RequestLinks) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[r.ID] = l
	return nil
}

// coolOffTenant seeds a tenant whose catalog holds erasures for days.
func coolOffTenant(t *testing.T, days int) string {
	t.Helper()
	id := newTenant(t)
	var cat map[string]any
	if err := json.Unmarshal(seed.DemoCatalog, &cat); err != nil {
		t.Fatal(err)
	}
	cat["requests"] = map[string]any{"erasureCoolOffDays": days}
	b, _ := json.Marshal(cat)
	if _, err := seed.LoadCatalog(context.Background(), app.New(syncStore(), time.Now, 0), id, b); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRequestTimers drives confirmation expiry and the erasure cool-off at the use-case
// level with a controllable clock; the sweeper finds the due ones on the timer index and
// the stack's dispatcher and workers run the released job.
func TestRequestTimers(t *testing.T) {
	ctx := context.Background()
	tn := coolOffTenant(t, 2)
	st := dynamo.New(env.db, env.stack.Table)
	clk := &clock{}
	clk.t = time.Now().UTC()
	notes := &linkNotes{links: map[string]app.RequestLinks{}}
	svc := app.New(st, clk.now, 0).WithNotifier(notes)
	sw := sweep.New(&oneTenant{Store: st, tenant: tn}, slog.New(slog.NewJSONHandler(io.Discard, nil)), clk.now)
	person := func(typ dsr.Type) (string, *dsr.Request) {
		t.Helper()
		p, err := svc.CreateProfile(ctx, tn, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: strings.ToLower(app.NewID("t")) + "@example.com"}}},
			app.Write{Actor: operator.Actor})
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: p.Profile.ID, Type: typ, Verification: dsr.Unverified}, operator)
		if err != nil {
			t.Fatal(err)
		}
		if res.Request.Status != dsr.AwaitingVerification {
			t.Fatalf("status %s", res.Request.Status)
		}
		return p.Profile.ID, res.Request
	}
	stored := func(id string) *dsr.Request {
		t.Helper()
		r, err := st.Request(ctx, tn, id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sweepNow := func(wantExpired, wantReleased int) {
		t.Helper()
		res, err := sw.Sweep(ctx)
		if err != nil || res.Expired != wantExpired || res.Released != wantReleased {
			t.Fatalf("sweep %+v %v, want %d expired %d released", res, err, wantExpired, wantReleased)
		}
	}

	t.Run("unconfirmed requests expire", func(t *testing.T) {
		_, r := person(dsr.Access)
		clk.t = clk.t.Add(6 * 24 * time.Hour)
		sweepNow(0, 0)
		clk.t = clk.t.Add(2 * 24 * time.Hour)
		sweepNow(1, 0)
		got := stored(r.ID)
		if got.Status != dsr.Cancelled || got.CancelReason != dsr.ExpiredReason || got.ConfirmHash != "" {
			t.Fatalf("expired request %+v", got)
		}
		sweepNow(0, 0) // its timer is gone
		if _, err := svc.UseLink(ctx, tn, notes.links[r.ID].Confirm, operator); err != dsr.ErrLinkUsed {
			t.Fatalf("confirming an expired request: %v", err)
		}
	})

	t.Run("cool-off: cancel", func(t *testing.T) {
		pid, r := person(dsr.Erasure)
		ln := notes.links[r.ID]
		if ln.Confirm == "" || ln.Cancel == "" {
			t.Fatalf("links %+v", ln)
		}
		if _, err := svc.UseLink(ctx, tn, ln.Confirm, operator); err != nil {
			t.Fatal(err)
		}
		if got := stored(r.ID); got.Status != dsr.Pending || got.CoolOffUntil == nil || got.Verification != dsr.EmailConfirmed {
			t.Fatalf("confirmed %+v", got)
		}
		if _, err := svc.UseLink(ctx, tn, ln.Cancel, operator); err != nil {
			t.Fatal(err)
		}
		if got := stored(r.ID); got.Status != dsr.Cancelled || got.CancelReason == "" {
			t.Fatalf("called off %+v", got)
		}
		if _, err := svc.UseLink(ctx, tn, ln.Cancel, operator); err != dsr.ErrLinkUsed {
			t.Fatalf("second cancel: %v", err)
		}
		clk.t = clk.t.Add(3 * 24 * time.Hour)
		sweepNow(0, 0)
		if _, err := svc.GetProfile(ctx, tn, pid); err != nil {
			t.Fatal("a called-off erasure erased the person")
		}
	})

	t.Run("cool-off: the erasure runs after it", func(t *testing.T) {
		pid, r := person(dsr.Erasure)
		if _, err := svc.UseLink(ctx, tn, notes.links[r.ID].Confirm, operator); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // time enough for a job, were one started
		if _, err := svc.GetProfile(ctx, tn, pid); err != nil {
			t.Fatalf("erased within the cool-off: %v", err)
		}
		clk.t = clk.t.Add(24 * time.Hour)
		sweepNow(0, 0)
		clk.t = clk.t.Add(25 * time.Hour)
		sweepNow(0, 1)
		eventually(t, 10*time.Second, "the erasure after the cool-off", func() bool { return stored(r.ID).Status == dsr.Completed })
		if _, err := svc.GetProfile(ctx, tn, pid); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("profile after erasure: %v", err)
		}
	})
}

// TestJobsRefuseUnverified: the erasure job itself refuses a request the person has not
// confirmed, whoever queued it: the person stays, the request keeps waiting.
func TestJobsRefuseUnverified(t *testing.T) {
	pid, _ := newProfileWithEmail(t, "refuse-"+strings.ToLower(app.NewID(""))+"@example.com", nil)
	st := dynamo.New(env.db, env.stack.Table)
	st.DisableOutbox() // no dispatcher: the test queues the job itself
	res, err := app.New(st, time.Now, 0).CreateRequest(context.Background(), tenant,
		app.RequestInput{ProfileID: pid, Type: dsr.Erasure, Verification: dsr.Unverified}, operator)
	if err != nil {
		t.Fatal(err)
	}
	rig := newJobRig(t, env.stack.HandlerAWS, erasure.Options{MaxAttempts: 5})
	if err := rig.job.Run(context.Background(), dsr.JobMessage{Tenant: tenant, RequestID: res.Request.ID}); err != nil {
		t.Fatal(err)
	}
	if got := requestNow(t, res.Request.ID); got["status"] != "awaiting_verification" {
		t.Fatalf("status %v after the job ran", got["status"])
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles/" + pid, key: "read"}), 200)
}

// TestPortalErasureCoolOffEmailsCancelLink: an erasure the person makes in the portal, under
// the tenant's cool-off, emails them the link that calls it off, and that link works once.
func TestPortalErasureCoolOffEmailsCancelLink(t *testing.T) {
	ctx := context.Background()
	tn := coolOffTenant(t, 2)
	addr := strings.ToLower(app.NewID("cool")) + "@example.com"
	if _, err := app.New(syncStore(), time.Now, 0).CreateProfile(ctx, tn, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: addr}}},
		app.Write{Actor: operator.Actor}); err != nil {
		t.Fatal(err)
	}
	find := func(what string, re *regexp.Regexp) string {
		var got string
		eventually(t, 5*time.Second, what, func() bool {
			for _, e := range mailJSON(t) {
				if slices.Contains(e.Recipients(), addr) {
					if got = re.FindString(e.Text); got != "" {
						return true
					}
				}
			}
			return false
		})
		return got
	}
	// Signed in by the emailed link, as an erasure needs.
	c := &portalClient{t: t, cookies: map[string]string{}}
	login := wantStatus(t, c.do("GET", "/portal/"+tn+"/login", nil), 200)
	wantStatus(t, c.do("POST", "/portal/"+tn+"/login", url.Values{"csrf": {c.csrf(login)}, "email": {addr}}), 200)
	link := find("the sign-in email", regexp.MustCompile(`https?://\S+/portal/`+tn+`/t/\S+`))
	page := wantStatus(t, c.do("GET", link, nil), 200)
	wantStatus(t, c.do("POST", link, url.Values{"csrf": {c.csrf(page)}}), 303)
	erase := wantStatus(t, c.do("GET", "/portal/"+tn+"/rights/erase", nil), 200)
	wantStatus(t, c.do("POST", "/portal/"+tn+"/rights/erase", url.Values{"csrf": {c.csrf(erase)}, "confirm": {"yes"}}), 303)

	cancel := find("the cancel email", regexp.MustCompile(`https?://\S+/portal/`+tn+`/confirm\?t=\S+`))
	u, err := url.Parse(cancel)
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`rq_[a-z2-7]{26}`).FindString(u.Query().Get("t"))
	st := dynamo.New(env.db, env.stack.Table)
	if r, err := st.Request(ctx, tn, id); err != nil || r.Status != dsr.Pending || r.CoolOffUntil == nil || r.Verification != dsr.PortalEmailSignIn {
		t.Fatalf("the portal erasure %+v (%v): want pending in its cool-off, verified by the emailed sign-in", r, err)
	}
	anon := &portalClient{t: t, cookies: map[string]string{}}
	form := wantStatus(t, anon.do("GET", cancel, nil), 200)
	wantStatus(t, anon.do("POST", env.stack.URL+"/portal/"+tn+"/confirm", url.Values{"csrf": {anon.csrf(form)}, "t": {u.Query().Get("t")}}), 200)
	if r, err := st.Request(ctx, tn, id); err != nil || r.Status != dsr.Cancelled {
		t.Fatalf("after the cancel link: %+v (%v)", r, err)
	}
	wantStatus(t, anon.do("GET", cancel, nil), 410) // used once
}

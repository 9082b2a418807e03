package browser

import (
	"archive/zip"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Headings and notices the journeys look for (shared/portal/messages.go).
const (
	hOpen          = "Open your privacy settings"
	hOverview      = "What we hold about you"
	hOverviewPL    = "Co o Tobie przechowujemy"
	hSubscriptions = "Subscriptions"
	hConsents      = "Consents"
	hDetails       = "My details"
	hRights        = "My rights"
	hRightsPL      = "Moje prawa"
	hErase         = "Delete my data"
	hHistory       = "History"
	hLogin         = "Sign in"
	hLoginSent     = "Check your email"
)

// jobWait bounds how long an export or erasure job may take through the local stack's
// dispatcher and queue workers.
const jobWait = 60 * time.Second

// TestPortalInBrowser walks a person through the hosted portal in headless Chromium, once
// with JavaScript on and once with it off: a brand's portal link, subscriptions, consents
// (and the brand API's consent check changing with them), details with a validation error
// then success, an export requested and downloaded, Polish, an erasure after which the
// person is gone, a login by the link emailed to the local mailbox, the history, the
// one-click unsubscribe page and signing out. Every main page is saved as a screenshot
// and, with JavaScript on, checked with axe-core.
func TestPortalInBrowser(t *testing.T) {
	needBrowser(t)
	report := &axeReport{}
	for _, mode := range []struct {
		name, prefix string
		js           bool
	}{{"javascript", "js", true}, {"no-javascript", "nojs", false}} {
		t.Run(mode.name, func(t *testing.T) { journey(t, newTab(t, mode.js, mode.prefix, report)) })
	}
	if !t.Failed() {
		t.Log(report.summary())
	}
}

func journey(t *testing.T, tb *tab) {
	t.Cleanup(func() {
		if probs := tb.console.problems(); len(probs) > 0 {
			t.Errorf("the pages logged problems to the console:\n%s", strings.Join(probs, "\n"))
		}
	})
	base := "/portal/" + tenant
	portal := env.stack.URL + base
	p := newPerson(t, tenant, "en")

	// A brand's link: GET shows "Continue" and changes nothing; the POST opens the session.
	link := linkURL(t, p)
	if st := tb.open(link); st != 200 || tb.text("h1") != hOpen {
		t.Fatalf("portal link: status %d, heading %q", st, tb.text("h1"))
	}
	tb.page("open-link")
	if st := tb.submit("main form button[type=submit]"); st != 200 {
		t.Fatalf("continue: status %d", st)
	}
	tb.wantPage(base, hOverview)
	if main := tb.text("main"); !strings.Contains(main, p.email) || !strings.Contains(main, "Ada") {
		t.Fatalf("the overview does not show the person: %.400s", main)
	}
	tb.page("overview")

	phase(t, "subscriptions", func(t *testing.T) {
		tb := tb.in(t)
		tb.submit(`nav.main-nav a[href$="/subscriptions"]`)
		tb.wantPage(base+"/subscriptions", hSubscriptions)
		if !evalIn[bool](tb, `document.getElementById('sub-newsletter-email').checked`) {
			t.Fatal("the newsletter by email is not ticked")
		}
		tb.click("#sub-newsletter-email") // untick
		tb.click("#sub-offers-sms")       // tick
		if st := tb.submit(`form:has(input[name=action][value=save]) button[type=submit]`); st != 200 {
			t.Fatalf("save: status %d", st)
		}
		tb.wantPage(base+"/subscriptions", hSubscriptions)
		if n := tb.notice(); !strings.Contains(n, "Your subscriptions have been saved.") {
			t.Fatalf("notice %q", n)
		}
		tb.page("subscriptions")
		subs, _ := profileOf(t, p)["subscriptions"].(map[string]any)
		news, _ := subs["newsletter"].(map[string]any)
		offers, _ := subs["offers"].(map[string]any)
		if news["status"] != "unsubscribed" || offers["status"] != "subscribed" || !slices.Equal(anyStrings(offers["channels"]), []string{"sms"}) {
			t.Fatalf("the brand API sees newsletter %v, offers %v", news, offers)
		}
		if ok, reason := check(t, p, map[string]any{"topic": "newsletter", "channel": "email"}); ok {
			t.Fatalf("newsletter by email still allowed after unsubscribing (%s)", reason)
		}
		if ok, reason := check(t, p, map[string]any{"topic": "offers", "channel": "sms"}); !ok {
			t.Fatalf("offers by SMS not allowed after subscribing: %s", reason)
		}
	})

	phase(t, "consents", func(t *testing.T) {
		tb := tb.in(t)
		if ok, reason := consentCheck(t, p, "partners"); ok {
			t.Fatalf("partners allowed before any consent (%s)", reason)
		}
		tb.submit(`nav.main-nav a[href$="/consents"]`)
		tb.wantPage(base+"/consents", hConsents)
		if st := tb.submit(`#purpose-partners button[value=grant]`); st != 200 {
			t.Fatalf("grant: status %d", st)
		}
		if n := tb.notice(); !strings.Contains(n, "Your consent has been recorded") {
			t.Fatalf("notice %q", n)
		}
		if ok, reason := consentCheck(t, p, "partners"); !ok {
			t.Fatalf("the consent check still says no after consenting in the portal: %s", reason)
		}
		if ok, _ := consentCheck(t, p, "marketing"); !ok {
			t.Fatal("marketing not allowed before withdrawing")
		}
		tb.submit(`#purpose-marketing button[value=withdraw]`)
		if ok, reason := consentCheck(t, p, "marketing"); ok || reason != "consent_withdrawn" {
			t.Fatalf("marketing after withdrawing in the portal: allowed %v, %s", ok, reason)
		}
		tb.page("consents")
	})

	phase(t, "details", func(t *testing.T) {
		tb := tb.in(t)
		tb.submit(`nav.main-nav a[href$="/details"]`)
		tb.wantPage(base+"/details", hDetails)
		tb.typeInto("#attr-givenName", "Adela")
		tb.typeInto("#attr-shoe_size", "forty-two")
		if st := tb.submit("main form button[type=submit]"); st != 422 {
			t.Fatalf("invalid details: status %d, want 422", st)
		}
		if !tb.has(".error-summary a[href='#attr-shoe_size']") || !strings.HasPrefix(tb.text("#attr-shoe_size-error"), "Error:") ||
			!strings.Contains(tb.text("#attr-shoe_size-error"), "Enter a number") {
			t.Fatal("the error is not summarised and shown next to the field")
		}
		if a := evalIn[string](tb, `document.getElementById('attr-shoe_size').getAttribute('aria-invalid')`); a != "true" {
			t.Fatalf("aria-invalid %q", a)
		}
		tb.page("details-error")
		if attrs, _ := profileOf(t, p)["attributes"].(map[string]any); attrs["givenName"] != "Ada" {
			t.Fatalf("an invalid form changed the profile: %v", attrs)
		}
		tb.typeInto("#attr-shoe_size", "42")
		if st := tb.submit("main form button[type=submit]"); st != 200 {
			t.Fatalf("valid details: status %d", st)
		}
		if n := tb.notice(); !strings.Contains(n, "Your details have been saved.") {
			t.Fatalf("notice %q", n)
		}
		attrs, _ := profileOf(t, p)["attributes"].(map[string]any)
		if attrs["givenName"] != "Adela" || attrs["shoe_size"] != 42.0 {
			t.Fatalf("the brand API sees %v", attrs)
		}
		tb.page("details-saved")
	})

	// Where the data came from (Art. 14(2)(f)), and removing an identity: the brand's API
	// adds a customer number, the page names each source, the person removes the number and
	// stays signed in; the last identity, the email, has no removal form.
	phase(t, "sources", func(t *testing.T) {
		tb := tb.in(t)
		customer := "cust-" + randomLetters(8)
		mustStatus(t, api(t, p.tenant, "PATCH", "/v1/profiles/"+p.id,
			map[string]any{"addIdentities": []map[string]string{{"type": "customer_id", "value": customer}}}), 200)
		tb.open(portal + "/details")
		tb.wantPage(base+"/details", hDetails)
		src := tb.text("section[aria-labelledby=sources]")
		for _, want := range []string{"Where your data came from", customer, "Acme Shop's systems (API)", "you, in this portal"} {
			if !strings.Contains(src, want) {
				t.Fatalf("the sources section lacks %q: %.600s", want, src)
			}
		}
		tb.page("details-sources")
		if st := tb.submit(`form:has(input[name=identity][value="customer_id:` + customer + `"]) button[type=submit]`); st != 200 {
			t.Fatalf("remove the customer number: status %d", st)
		}
		tb.wantPage(base+"/details", hDetails)
		if n := tb.notice(); !strings.Contains(n, "You are still signed in.") {
			t.Fatalf("notice %q", n)
		}
		ids, _ := profileOf(t, p)["identities"].([]any)
		if len(ids) != 1 {
			t.Fatalf("the brand API sees %d identities after the removal", len(ids))
		}
		if tb.has(`input[name=identity]`) || !strings.Contains(tb.text("section[aria-labelledby=sources]"), "Your only one: it cannot be removed") {
			t.Fatal("the last identity can be removed, or the page does not say it cannot")
		}
		tb.page("details-identity-removed")
	})

	phase(t, "export", func(t *testing.T) {
		tb := tb.in(t)
		tb.submit(`nav.main-nav a[href$="/rights"]`)
		tb.wantPage(base+"/rights", hRights)
		tb.page("rights")
		if st := tb.submit(`section[aria-labelledby=r-download] button[type=submit]`); st != 200 {
			t.Fatalf("request export: status %d", st)
		}
		if n := tb.notice(); !strings.Contains(n, "Your request has been received") {
			t.Fatalf("notice %q", n)
		}
		eventually(t, jobWait, "export download link on the rights page", func() string {
			if tb.open(portal+"/rights") != 200 {
				return "no rights page"
			}
			if !tb.has(`a[href*="/exports/"]`) {
				return "no link"
			}
			return ""
		})
		tb.page("rights-export-ready")
		// The download needs a session opened by an emailed link: in the brand link's
		// session it leads to the sign-in page, whose emailed link brings the person back.
		href := evalIn[string](tb, `document.querySelector('a[href*="/exports/"]').href`)
		tb.open(href)
		if !strings.HasSuffix(tb.path(), "/login?next=rights") || !strings.Contains(tb.text("main"), "fresh sign-in") {
			t.Fatalf("the export in a brand-link session: at %q", tb.path())
		}
		before := len(mailsTo(t, p.email))
		tb.typeInto("#email", p.email)
		if st := tb.submit("main form button[type=submit]"); st != 200 {
			t.Fatalf("login: status %d", st)
		}
		tb.open(waitLoginLink(t, p.email, before+1))
		tb.submit("main form button[type=submit]")
		tb.wantPage(base+"/rights", hRights)
		file := tb.downloadBy(`a[href*="/exports/"]`)
		zr, err := zip.OpenReader(file)
		if err != nil {
			t.Fatalf("the download is not a ZIP: %v", err)
		}
		defer zr.Close()
		var profileJSON string
		for _, f := range zr.File {
			if f.Name == "profile.json" {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				profileJSON = string(b)
			}
		}
		if !strings.Contains(profileJSON, p.email) || !strings.Contains(profileJSON, "Adela") {
			t.Fatalf("profile.json of the export lacks the person's data: %.300s", profileJSON)
		}
	})

	phase(t, "polish", func(t *testing.T) {
		tb := tb.in(t)
		tb.open(portal + "/rights")
		tb.submit(`a[hreflang=pl]`)
		if tb.lang() != "pl" {
			t.Fatalf("lang %q after switching to Polish", tb.lang())
		}
		tb.wantPage(base+"/rights", hRightsPL)
		tb.page("rights-pl")
		tb.submit(`nav.main-nav a[href="` + base + `"]`)
		tb.wantPage(base, hOverviewPL) // the choice is remembered
		tb.page("overview-pl")
		tb.submit(`a[hreflang=en]`)
		if tb.lang() != "en" {
			t.Fatalf("lang %q after switching back", tb.lang())
		}
	})

	phase(t, "erasure", func(t *testing.T) {
		tb := tb.in(t)
		tb.open(portal + "/rights")
		tb.submit(`a[href$="/rights/erase"]`)
		tb.wantPage(base+"/rights/erase", hErase)
		tb.page("erase")
		if st := tb.submit("main form button[type=submit]"); st != 422 || !strings.Contains(tb.text("#confirm-error"), "Tick the box") {
			t.Fatalf("erasure without confirming: status %d", st)
		}
		tb.page("erase-error")
		if profileOf(t, p) == nil {
			t.Fatal("an unconfirmed erasure erased")
		}
		tb.click("#confirm")
		if st := tb.submit("main form button[type=submit]"); st != 200 {
			t.Fatalf("confirmed erasure: status %d", st)
		}
		tb.wantPage(base+"/rights", hRights)
		if n := tb.notice(); !strings.Contains(n, "Your request to delete your data has been received") {
			t.Fatalf("notice %q", n)
		}
		eventually(t, jobWait, "erasure of the profile", func() string {
			if profileOf(t, p) != nil {
				return "GET /v1/profiles/{id} finds the person"
			}
			return ""
		})
		if ok, reason := consentCheck(t, p, "service"); ok || reason != "no_profile" {
			t.Fatalf("consent check after the erasure: allowed %v, %s", ok, reason)
		}
		// The session's person is gone: the portal signs the browser out.
		tb.open(portal)
		tb.wantPage(base+"/login", hLogin)
		if n := tb.notice(); !strings.Contains(n, "Your session has ended") {
			t.Fatalf("notice %q", n)
		}
		tb.page("erased-signed-out")
	})

	phase(t, "emailed-login", func(t *testing.T) {
		tb := tb.in(t)
		q := newPerson(t, tenant, "en")
		before := len(mailsTo(t, q.email))
		tb.open(portal + "/login")
		tb.wantPage(base+"/login", hLogin)
		tb.page("login")
		tb.typeInto("#email", q.email)
		if st := tb.submit("main form button[type=submit]"); st != 200 {
			t.Fatalf("login: status %d", st)
		}
		tb.wantPage(base+"/login", hLoginSent)
		tb.page("login-sent")
		link := waitLoginLink(t, q.email, before+1)
		tb.open(link)
		if h := tb.text("h1"); h != hOpen {
			t.Fatalf("login link: heading %q", h)
		}
		tb.submit("main form button[type=submit]")
		tb.wantPage(base, hOverview)
		if !strings.Contains(tb.text("main"), q.email) {
			t.Fatal("signed in as someone else")
		}
		tb.submit(`nav.main-nav a[href$="/history"]`)
		tb.wantPage(base+"/history", hHistory)
		tb.page("history")

		// Signing out ends the session; the used login link does not open another.
		tb.submit(`form[action$="/logout"] button[type=submit]`)
		tb.wantPage(base+"/login", hLogin)
		if n := tb.notice(); !strings.Contains(n, "You have signed out.") {
			t.Fatalf("notice %q", n)
		}
		if st := tb.open(portal); st != 200 || !strings.HasSuffix(tb.path(), "/login") {
			t.Fatalf("the portal after signing out: %d at %s", st, tb.path())
		}
		if st := tb.open(link); st != 410 {
			t.Fatalf("a used login link answered %d, want 410", st)
		}
		tb.page("used-link")
		if st := tb.open(portal + "/t/not-a-token"); st != 404 {
			t.Fatalf("a bad link answered %d", st)
		}
		tb.page("invalid-link")

		// The one-click unsubscribe page of a newsletter email (RFC 8058), in the browser.
		lu, _ := portalLink(t, q, map[string]any{"topic": "newsletter"})["listUnsubscribe"].(string)
		tb.open(strings.Trim(lu, "<>"))
		tb.page("unsubscribe")
		if st := tb.submit("main form button[type=submit]"); st != 200 {
			t.Fatalf("unsubscribe: status %d", st)
		}
		subs, _ := profileOf(t, q)["subscriptions"].(map[string]any)
		if news, _ := subs["newsletter"].(map[string]any); news["status"] != "unsubscribed" {
			t.Fatalf("newsletter after the one-click unsubscribe: %v", news)
		}
		tb.page("unsubscribed")
	})
}

// phase runs one part of a journey as a subtest; the journey stops at the first part that
// fails, since each builds on the one before.
func phase(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// TestPortalAccessibilityCheckCanFail shows that the accessibility check is not vacuous:
// on a page with an unlabelled field and an image without a text alternative, axe-core
// reports violations the check counts as blocking.
func TestPortalAccessibilityCheckCanFail(t *testing.T) {
	tb := newTab(t, true, "axe", &axeReport{})
	tb.do(chromedp.Navigate(`data:text/html,<!doctype html><html lang="en"><title>bad</title><main><img src="x.png"><input type="text"></main></html>`))
	_, violations := tb.runAxe()
	var blocking []string
	for _, v := range violations {
		if v.blocking() {
			blocking = append(blocking, v.ID)
		}
	}
	if !slices.Contains(blocking, "label") || !slices.Contains(blocking, "image-alt") {
		t.Fatalf("axe-core found %v as serious or critical on a page without a label or alt text", blocking)
	}
}

// in returns the tab for a subtest: failures are reported on it.
func (tb *tab) in(t *testing.T) *tab {
	c := *tb
	c.t = t
	t.Cleanup(func() { tb.shots = c.shots })
	return &c
}

// check asks the brand API's consent check about the person with extra fields (topic,
// channel, purpose).
func check(t testing.TB, p person, fields map[string]any) (bool, string) {
	t.Helper()
	body := map[string]any{"profileId": p.id}
	for k, v := range fields {
		body[k] = v
	}
	m := mustStatus(t, api(t, p.tenant, "POST", "/v1/consent-checks", body), 200).object(t)
	ok, _ := m["allowed"].(bool)
	reason, _ := m["reason"].(string)
	return ok, reason
}

func anyStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

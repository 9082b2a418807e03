package portal_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/profile"
)

func TestOpenLinkIsSingleUse(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	path := "/portal/" + tenant + "/t/" + openToken(t, tenant, p.ID)
	page := must(t, b.get(path), 200)
	if !strings.Contains(page.body, `action="`+path+`"`) || b.jar[session.CookieName(tenant)] != "" {
		t.Fatal("GET must show a Continue form and open no session")
	}
	// A link scanner's second GET does not use the link up.
	page = must(t, b.get(path), 200)
	r := must(t, b.post(path, url.Values{"csrf": {csrf(t, page)}}), 303)
	if r.headers["Location"] != "/portal/"+tenant {
		t.Fatalf("redirect to %q", r.headers["Location"])
	}
	must(t, b.get("/portal/"+tenant), 200)

	// Replayed, in the same browser or another: a friendly 410 offering a new link.
	for _, other := range []*browser{b, newBrowser(t)} {
		g := must(t, other.get(path), 410)
		if !strings.Contains(g.body, `name="token"`) || !strings.Contains(g.body, `action="/portal/`+tenant+`/login"`) {
			t.Fatal("the used-link page does not offer a new link")
		}
	}
	fresh := newBrowser(t)
	page = must(t, fresh.get(path), 410)
	must(t, fresh.post(path, url.Values{"csrf": {csrf(t, page)}}), 410)
	if fresh.jar[session.CookieName(tenant)] != "" {
		t.Fatal("a replayed link opened a session")
	}
}

func TestOpenLinkToTopicGoesToSubscriptions(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	path := "/portal/" + tenant + "/t/" + openToken(t, tenant, p.ID, func(c *portallink.Claims) { c.Topic, c.Locale = "offers", "pl" })
	page := must(t, b.get(path), 200)
	if !strings.Contains(page.body, `<html lang="pl">`) {
		t.Fatal("the link's locale was not used")
	}
	r := must(t, b.post(path, url.Values{"csrf": {csrf(t, page)}}), 303)
	if r.headers["Location"] != "/portal/"+tenant+"/subscriptions#topic-offers" {
		t.Fatalf("redirect to %q", r.headers["Location"])
	}
}

func TestBadTokens(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	q, _ := newProfile(t, otherTenant, app.Create{})
	good := openToken(t, tenant, p.ID)
	forged := good[:len(good)-3] + "AAA"
	otherSigner, _ := portallink.NewSigner(portallink.Key{ID: "k1", Secret: strings.Repeat("x", 40)})
	foreignKey, _ := otherSigner.Sign(portallink.Claims{Tenant: tenant, ProfileID: p.ID, IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Hour).Unix(), Nonce: "o.abc"})
	expired := openToken(t, tenant, p.ID, func(c *portallink.Claims) {
		c.IssuedAt, c.ExpiresAt = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	})
	now := time.Now()
	unsub, _, _ := linktoken.Mint(env.links, linktoken.Unsubscribe, portallink.Claims{Tenant: tenant, ProfileID: p.ID, Topic: "newsletter", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()})
	cases := []struct {
		name, path string
		status     int
	}{
		{"forged", "/portal/" + tenant + "/t/" + forged, 404},
		{"signed with another key", "/portal/" + tenant + "/t/" + foreignKey, 404},
		{"garbage", "/portal/" + tenant + "/t/not-a-token", 404},
		{"expired", "/portal/" + tenant + "/t/" + expired, 410},
		{"other tenant's link under this tenant", "/portal/" + tenant + "/t/" + openToken(t, otherTenant, q.ID), 404},
		{"this tenant's link under another tenant", "/portal/" + otherTenant + "/t/" + good, 404},
		{"unsubscribe token as a portal link", "/portal/" + tenant + "/t/" + unsub, 404},
		{"portal link as an unsubscribe token", "/portal/" + tenant + "/unsubscribe/" + good, 404},
		{"unknown tenant", "/portal/nosuch/t/" + good, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBrowser(t)
			page := must(t, b.get(c.path), c.status)
			if strings.Contains(page.body, "Continue") {
				t.Fatal("a bad link offered to continue")
			}
			if m := csrfRE.FindStringSubmatch(page.body); m != nil {
				b.post(c.path, url.Values{"csrf": {m[1]}})
			}
			if len(b.jar) > 0 && b.jar[session.CookieName(tenant)] != "" || b.jar[session.CookieName(otherTenant)] != "" {
				t.Fatal("a bad link opened a session")
			}
		})
	}
	// The good link was not used up by any of that.
	newBrowser(t).signIn(tenant, p.ID)
}

func TestSessionStaysInItsTenant(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	cookie := b.jar[session.CookieName(tenant)]
	// Presented under the other tenant, as is and under that tenant's cookie name.
	for _, jar := range []map[string]string{
		{session.CookieName(tenant): cookie},
		{session.CookieName(otherTenant): cookie},
	} {
		o := newBrowser(t)
		o.jar = jar
		r := must(t, o.get("/portal/"+otherTenant), 303)
		if !strings.HasPrefix(r.headers["Location"], "/portal/"+otherTenant+"/login") {
			t.Fatalf("redirect to %q", r.headers["Location"])
		}
		r = must(t, o.get("/portal/"+otherTenant+"/history"), 303)
		if strings.Contains(r.body, p.ID) {
			t.Fatal("another tenant's profile leaked")
		}
	}
	// A tampered cookie is no session either.
	o := newBrowser(t)
	o.jar = map[string]string{session.CookieName(tenant): cookie[:len(cookie)-2] + "xx"}
	must(t, o.get("/portal/"+tenant), 303)
}

func TestCSRFRequired(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b, other := newBrowser(t), newBrowser(t)
	b.signInByEmail(tenant, p.ID) // the erasure form needs it
	q, _ := newProfile(t, tenant, app.Create{})
	other.signIn(tenant, q.ID)
	otherToken := csrf(t, must(t, other.get("/portal/"+tenant+"/details"), 200))
	form := url.Values{"attr-givenName": {"Mallory"}}
	forms := map[string]url.Values{
		"/portal/" + tenant + "/details":       form,
		"/portal/" + tenant + "/subscriptions": {"action": {"unsubscribe_all"}},
		"/portal/" + tenant + "/consents":      {"purpose": {"partners"}, "noticeVersion": {"1"}, "decision": {"grant"}},
		"/portal/" + tenant + "/rights":        {"action": {"restrict"}},
		"/portal/" + tenant + "/rights/erase":  {"confirm": {"yes"}},
		"/portal/" + tenant + "/logout":        {},
	}
	for path, f := range forms {
		for name, tok := range map[string]string{"missing": "", "another session's": otherToken, "garbage": "abc"} {
			g := url.Values{}
			for k, v := range f {
				g[k] = v
			}
			if tok != "" {
				g.Set("csrf", tok)
			}
			r := must(t, b.post(path, g), 403)
			if !strings.Contains(r.body, "Your form has expired") {
				t.Errorf("%s with a %s token: not the 403 page", path, name)
			}
		}
	}
	after := profileOf(t, tenant, p.ID)
	if after.Version != p.Version {
		t.Fatal("a forged form changed the profile")
	}
	// The login form needs the pre-sign-in token too.
	must(t, newBrowser(t).post("/portal/"+tenant+"/login", url.Values{"email": {"a@example.com"}}), 403)
}

// login posts the login form in a fresh browser from ip.
func login(t *testing.T, b *browser, form url.Values) reply {
	t.Helper()
	page := must(t, b.get("/portal/"+tenant+"/login"), 200)
	form.Set("csrf", csrf(t, page))
	return b.post("/portal/"+tenant+"/login", form)
}

func TestLoginDoesNotTellWhoExists(t *testing.T) {
	_, known := newProfile(t, tenant, app.Create{})
	unknown := "nobody-" + known
	before := env.pads.count()
	rk := login(t, newBrowser(t), url.Values{"email": {known}})
	ru := login(t, newBrowser(t), url.Values{"email": {unknown}})
	if rk.status != 200 || ru.status != 200 {
		t.Fatalf("statuses %d and %d", rk.status, ru.status)
	}
	if rk.body != ru.body {
		t.Fatal("the answers for a known and an unknown address differ")
	}
	if !slices.Equal(cookieNames(rk), cookieNames(ru)) {
		t.Fatal("the cookies set for a known and an unknown address differ")
	}
	// Both were padded to the floor (the same work class): the padding was asked for twice.
	if env.pads.count() != before+2 {
		t.Fatalf("padding asked %d times, want 2", env.pads.count()-before)
	}
	if n := len(env.mail.to(known)); n != 1 {
		t.Fatalf("%d emails to the known address", n)
	}
	if n := len(env.mail.to(unknown)); n != 0 {
		t.Fatal("an email went to an unknown address")
	}
	// The emailed link signs in, once.
	link := env.mail.to(known)[0].Link
	u, err := url.Parse(link)
	if err != nil || u.Host != "portal.test" || !strings.HasPrefix(u.Path, "/portal/"+tenant+"/t/") {
		t.Fatalf("login link %q", link)
	}
	b := newBrowser(t)
	page := must(t, b.get(u.Path), 200)
	must(t, b.post(u.Path, url.Values{"csrf": {csrf(t, page)}}), 303)
	must(t, b.get("/portal/"+tenant), 200)
	must(t, newBrowser(t).get(u.Path), 410)
}

func cookieNames(r reply) []string {
	var out []string
	for _, c := range r.cookies {
		name, _, _ := strings.Cut(c, "=")
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func TestLoginValidation(t *testing.T) {
	b := newBrowser(t)
	for _, bad := range []string{"", "not-an-email", "a@b"} {
		r := must(t, login(t, b, url.Values{"email": {bad}}), 422)
		for _, want := range []string{
			`class="error-summary"`, `href="#email"`, `id="email-error"`, `aria-invalid="true"`,
			`aria-describedby="email-hint email-error"`, `<title>Error: Sign in`,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%q: the page lacks %s", bad, want)
			}
		}
		if bad != "" && !strings.Contains(r.body, `value="`+bad+`"`) {
			t.Errorf("%q: the input was not kept", bad)
		}
	}
}

func TestLoginRateLimits(t *testing.T) {
	_, known := newProfile(t, tenant, app.Create{})
	// Per address (3 an hour): the fourth request from anywhere sends nothing, same answer.
	var bodies []string
	for range 4 {
		bodies = append(bodies, must(t, login(t, newBrowser(t), url.Values{"email": {known}}), 200).body)
	}
	if n := len(env.mail.to(known)); n != 3 {
		t.Fatalf("%d emails sent, want 3", n)
	}
	if bodies[3] != bodies[0] {
		t.Fatal("a limited request answered differently")
	}
	// Per IP (8 an hour): the ninth request from one IP is told to try later, whatever the address.
	b := newBrowser(t)
	for i := range 8 {
		must(t, login(t, b, url.Values{"email": {"someone-" + string(rune('a'+i)) + "@example.com"}}), 200)
	}
	r := must(t, login(t, b, url.Values{"email": {known}}), 429)
	u := must(t, login(t, b, url.Values{"email": {"unknown-" + known}}), 429)
	if r.body != u.body || !strings.Contains(r.body, "try again") {
		t.Fatal("the try-later page depends on the address")
	}
}

func TestResendFromUsedLink(t *testing.T) {
	p, email := newProfile(t, tenant, app.Create{})
	path := "/portal/" + tenant + "/t/" + openToken(t, tenant, p.ID)
	newBrowser(t).signIn(tenant, p.ID) // another link
	b := newBrowser(t)
	page := must(t, b.get(path), 200)
	must(t, b.post(path, url.Values{"csrf": {csrf(t, page)}}), 303)
	// The link is forwarded and opened again: the holder may ask for a new link, which goes
	// to the person's own address.
	c := newBrowser(t)
	used := must(t, c.get(path), 410)
	tok := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(used.body)
	if tok == nil {
		t.Fatal("no token on the used-link page")
	}
	before := len(env.mail.to(email))
	r := must(t, c.post("/portal/"+tenant+"/login", url.Values{"csrf": {csrf(t, used)}, "token": {tok[1]}}), 200)
	if strings.Contains(r.body, email) {
		t.Fatal("the page shows the person's address")
	}
	if len(env.mail.to(email)) != before+1 {
		t.Fatal("no new link was emailed to the person")
	}
}

func TestLogout(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	stolen := b.jar[session.CookieName(tenant)]
	page := must(t, b.get("/portal/"+tenant), 200)
	r := must(t, b.post("/portal/"+tenant+"/logout", url.Values{"csrf": {csrf(t, page)}}), 303)
	if r.headers["Location"] != "/portal/"+tenant+"/login?signedout=1" || b.jar[session.CookieName(tenant)] != "" {
		t.Fatalf("logout: %q, cookie %q", r.headers["Location"], b.jar[session.CookieName(tenant)])
	}
	thief := newBrowser(t)
	thief.jar[session.CookieName(tenant)] = stolen
	must(t, thief.get("/portal/"+tenant), 303)
}

func TestSecurityHeadersAndBothLanguages(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{
		Patch:         app.Patch{Attributes: map[string]any{"givenName": "Ada", "loyalty_tier": "gold", "vip": true}},
		Consents:      map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2, Locale: "en"}},
		Subscriptions: map[string]profile.SubscriptionInput{"newsletter": {Status: profile.Subscribed}},
	})
	b := newBrowser(t)
	b.signInByEmail(tenant, p.ID) // the erasure page needs it
	pages := []string{"", "/details", "/subscriptions", "/consents", "/rights", "/rights/erase", "/history", "/login"}
	styleRE := regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	keyRE := regexp.MustCompile(`>[a-z]+\.[a-zA-Z]+<|"[a-z]+\.[a-z][a-zA-Z]+"|\b(?:nav|common|error|login|overview|details|subs|consents|rights|erase|history|ev|actor|unsub|link|open|done|status|reqtype|basis|col|consent|sub|freq|attr|identity)\.[a-z][a-zA-Z_]+\b`)
	for _, lang := range []string{"en", "pl"} {
		for _, pg := range pages {
			path := "/portal/" + tenant + pg + "?lang=" + lang
			r := must(t, b.get(path), 200)
			if !strings.Contains(r.body, `<html lang="`+lang+`">`) {
				t.Errorf("%s: not in %s", path, lang)
			}
			visible := regexp.MustCompile(`name="[^"]*"`).ReplaceAllString(styleRE.ReplaceAllString(r.body, ""), "")
			if m := keyRE.FindString(visible); m != "" && !strings.Contains(m, "example.com") && !strings.Contains(m, "acme.example") {
				t.Errorf("%s: an untranslated key %s", path, m)
			}
			h := r.headers
			csp := h["Content-Security-Policy"]
			for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "img-src https://cdn.acme.example"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %s", path, csp, want)
				}
			}
			style := styleRE.FindStringSubmatch(r.body)
			sum := sha256.Sum256([]byte(style[1]))
			if !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
				t.Errorf("%s: the CSP does not allow the page's own style", path)
			}
			if strings.Contains(r.body, "<script") || strings.Contains(r.body, " style=") || strings.Contains(r.body, " on") && regexp.MustCompile(` on[a-z]+=`).MatchString(r.body) {
				t.Errorf("%s: scripts or inline styles", path)
			}
			for k, v := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if h[k] != v {
					t.Errorf("%s: %s = %q", path, k, h[k])
				}
			}
			for _, want := range []string{`class="skip" href="#main"`, `id="main"`, `<h1>`} {
				if !strings.Contains(r.body, want) {
					t.Errorf("%s: lacks %s", path, want)
				}
			}
		}
	}
	// The language sticks (cookie) until changed; the profile's locale decides without one.
	if r := must(t, b.get("/portal/"+tenant), 200); !strings.Contains(r.body, `lang="pl"`) {
		t.Error("the chosen language was not remembered")
	}
	c := newBrowser(t)
	q, _ := newProfile(t, tenant, app.Create{Patch: app.Patch{Attributes: map[string]any{"locale": "pl"}}})
	c.signIn(tenant, q.ID)
	if r := must(t, c.get("/portal/"+tenant), 200); !strings.Contains(r.body, `<html lang="pl">`) || !strings.Contains(r.body, "Co o Tobie przechowujemy") {
		t.Error("the profile's locale was not used")
	}
	d := newBrowser(t)
	d.header["Accept-Language"] = "pl-PL,pl;q=0.9"
	if r := must(t, d.get("/portal/"+tenant+"/login"), 200); !strings.Contains(r.body, `<html lang="pl">`) {
		t.Error("Accept-Language was not used")
	}
}

func TestOverviewShowsEverything(t *testing.T) {
	p, email := newProfile(t, tenant, app.Create{
		Patch:         app.Patch{Attributes: map[string]any{"givenName": "Ada", "country": "PL", "shoe_size": 38.5}},
		Consents:      map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2}},
		Subscriptions: map[string]profile.SubscriptionInput{"offers": {Status: profile.Subscribed, Channels: []string{"sms"}, Frequency: "weekly"}},
	})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	r := must(t, b.get("/portal/"+tenant), 200)
	for _, want := range []string{email, "Ada", "38.5", "Shoe size", "Marketing communication", "Given", "Special offers", "Text message", "Weekly", "Not restricted", "Acme Shop", `src="https://cdn.acme.example/logo.svg" alt="Acme Shop"`, `aria-current="page"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}

func TestDetailsValidation(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{Patch: app.Patch{Attributes: map[string]any{"givenName": "Ada", "familyName": "Nowak"}}})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/details"), 200)
	tok := csrf(t, page)
	bad := url.Values{"csrf": {tok}, "attr-givenName": {"Ada"}, "attr-familyName": {""}, "attr-country": {"Poland"},
		"attr-birth_date": {"2024-13-40"}, "attr-shoe_size": {"big"}, "attr-loyalty_tier": {strings.Repeat("x", 25)}}
	r := must(t, b.post("/portal/"+tenant+"/details", bad), 422)
	for _, id := range []string{"attr-country", "attr-birth_date", "attr-shoe_size", "attr-loyalty_tier"} {
		for _, want := range []string{`href="#` + id + `"`, `id="` + id + `-error"`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		// The error sits next to its field: between the label and the control.
		i, j, k := strings.Index(r.body, `for="`+id+`"`), strings.Index(r.body, `id="`+id+`-error"`), strings.Index(r.body, `id="`+id+`" name=`)
		if !(i >= 0 && i < j && j < k) {
			t.Errorf("%s: the error is not between its label and control", id)
		}
	}
	for _, kept := range []string{`value="Poland"`, `value="2024-13-40"`, `value="big"`} {
		if !strings.Contains(r.body, kept) {
			t.Errorf("the input %s was not kept", kept)
		}
	}
	if !strings.Contains(r.body, `aria-describedby="attr-country-hint attr-country-error"`) {
		t.Error("the country field is not described by its hint and error")
	}
	if profileOf(t, tenant, p.ID).Version != p.Version {
		t.Fatal("an invalid form changed the profile")
	}
	// In Polish, the messages are Polish.
	r = must(t, b.post("/portal/"+tenant+"/details?lang=pl", bad), 422)
	if !strings.Contains(r.body, "Podaj dwuliterowy kod kraju") {
		t.Error("the errors are not in Polish")
	}
	good := url.Values{"csrf": {tok}, "attr-givenName": {" Ada "}, "attr-familyName": {""}, "attr-country": {"pl"},
		"attr-birth_date": {"1990-02-03"}, "attr-shoe_size": {"39,5"}, "attr-vip": {"true"}, "attr-locale": {"pl"}}
	r = must(t, b.post("/portal/"+tenant+"/details", good), 303)
	if r.headers["Location"] != "/portal/"+tenant+"/details?done=saved" {
		t.Fatalf("redirect to %q", r.headers["Location"])
	}
	got := profileOf(t, tenant, p.ID)
	want := map[string]any{"givenName": "Ada", "country": "PL", "birth_date": "1990-02-03", "shoe_size": 39.5, "vip": true, "locale": "pl"}
	for k, v := range want {
		if got.Attributes[k] != v {
			t.Errorf("%s = %v, want %v", k, got.Attributes[k], v)
		}
	}
	if _, ok := got.Attributes["familyName"]; ok {
		t.Error("an emptied field was kept")
	}
	evs := ledgerOf(t, tenant, p.ID)
	if last := evs[len(evs)-1]; last.Type != profile.EventProfileUpdated || last.Actor != portal.PersonActor {
		t.Errorf("last event %s by %+v", last.Type, last.Actor)
	}
	if r := must(t, b.get("/portal/"+tenant+"/details?done=saved"), 200); !strings.Contains(r.body, `role="status"`) {
		t.Error("no notice after saving")
	}
}

func TestSubscriptionsGrid(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{Subscriptions: map[string]profile.SubscriptionInput{"newsletter": {Status: profile.Subscribed}}})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/subscriptions"), 200)
	for _, want := range []string{`id="sub-newsletter-email" name="sub.newsletter.email" value="on" checked`, `<label for="sub-offers-sms" class="sr-only">Special offers by Text message</label>`,
		`<select id="freq-offers" name="freq.offers">`, `<caption>`, `scope="col"`, `scope="row"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the grid lacks %s", want)
		}
	}
	tok := csrf(t, page)
	r := must(t, b.post("/portal/"+tenant+"/subscriptions", url.Values{"csrf": {tok}, "action": {"save"},
		"sub.offers.sms": {"on"}, "sub.offers.push": {"on"}, "freq.offers": {"daily"}, "freq.newsletter": {"monthly"}}), 303)
	if r.headers["Location"] != "/portal/"+tenant+"/subscriptions?done=subscriptions" {
		t.Fatalf("redirect %q", r.headers["Location"])
	}
	got := profileOf(t, tenant, p.ID)
	if s := got.Subscriptions["offers"]; s.Status != profile.Subscribed || !slices.Equal(s.Channels, []string{"push", "sms"}) || s.Frequency != "daily" || s.Source != portal.PersonActor {
		t.Errorf("offers: %+v", s)
	}
	if s := got.Subscriptions["newsletter"]; s.Status != profile.Unsubscribed {
		t.Errorf("newsletter: %+v", s)
	}
	must(t, b.post("/portal/"+tenant+"/subscriptions", url.Values{"csrf": {tok}, "action": {"save"}, "sub.newsletter.sms": {"on"}}), 400)
	must(t, b.post("/portal/"+tenant+"/subscriptions", url.Values{"csrf": {tok}, "action": {"unsubscribe_all"}}), 303)
	for id, s := range profileOf(t, tenant, p.ID).Subscriptions {
		if s.Status != profile.Unsubscribed {
			t.Errorf("%s still %s", id, s.Status)
		}
	}
}

func TestConsents(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/consents?lang=pl"), 200)
	for _, want := range []string{"Za Twoją zgodą udostępniamy Twój adres e-mail", "wersja 1", "Twoja zgoda", `lang="pl"`, "Pozostałe cele", "Nasz prawnie uzasadniony interes"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the consents page lacks %q", want)
		}
	}
	tok := csrf(t, page)
	must(t, b.post("/portal/"+tenant+"/consents", url.Values{"csrf": {tok}, "purpose": {"partners"}, "noticeVersion": {"1"}, "decision": {"grant"}}), 303)
	c := profileOf(t, tenant, p.ID).Consents["partners"]
	if c.Status != profile.Granted || c.NoticeVersion != 1 || c.Locale != "pl" || c.Source != portal.PersonActor || c.ExpiresAt == nil {
		t.Fatalf("consent %+v", c)
	}
	must(t, b.post("/portal/"+tenant+"/consents", url.Values{"csrf": {tok}, "purpose": {"partners"}, "noticeVersion": {"1"}, "decision": {"withdraw"}}), 303)
	if c := profileOf(t, tenant, p.ID).Consents["partners"]; c.Status != profile.Withdrawn {
		t.Fatalf("after withdrawing: %+v", c)
	}
	must(t, b.post("/portal/"+tenant+"/consents", url.Values{"csrf": {tok}, "purpose": {"marketing"}, "noticeVersion": {"1"}, "decision": {"withdraw"}}), 303)
	if c := profileOf(t, tenant, p.ID).Consents["marketing"]; c.Status != profile.Denied {
		t.Fatalf("declining a purpose never asked: %+v", c)
	}
	for bad, status := range map[*url.Values]int{
		{"purpose": {"service"}, "noticeVersion": {"2"}, "decision": {"grant"}}:  422, // not a consent purpose
		{"purpose": {"partners"}, "noticeVersion": {"9"}, "decision": {"grant"}}: 422, // never shown
		{"purpose": {"partners"}, "noticeVersion": {"1"}, "decision": {"maybe"}}: 400,
	} {
		bad.Set("csrf", tok)
		must(t, b.post("/portal/"+tenant+"/consents", *bad), status)
	}
}

func TestRightsAndRequests(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/rights"), 200)
	tok := csrf(t, page)
	post := func(form url.Values, status int) reply {
		form.Set("csrf", tok)
		return must(t, b.post("/portal/"+tenant+"/rights", form), status)
	}
	post(url.Values{"action": {"restrict"}}, 303)
	if !profileOf(t, tenant, p.ID).Rights.Restricted {
		t.Fatal("not restricted")
	}
	post(url.Values{"action": {"objections"}, "object": {"analytics", "marketing"}}, 303)
	post(url.Values{"action": {"automated"}, "optout": {"on"}}, 303)
	post(url.Values{"action": {"export"}, "type": {"portability"}}, 303)
	got := profileOf(t, tenant, p.ID)
	if len(got.Rights.Objections) != 2 || !got.Rights.AutomatedDecisionOptOut {
		t.Fatalf("rights %+v", got.Rights)
	}
	reqs, err := env.store.RequestsOfProfile(context.Background(), tenant, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	types := map[dsr.Type]int{}
	for _, q := range reqs {
		types[q.Type]++
		if q.Verification != dsr.PortalBrandLink || q.Source != portal.PersonActor {
			t.Errorf("request %s: verification %s source %+v", q.Type, q.Verification, q.Source)
		}
	}
	if types[dsr.Restriction] != 1 || types[dsr.Objection] != 2 || types[dsr.AutomatedDecisionOptOut] != 1 || types[dsr.Portability] != 1 {
		t.Fatalf("requests %v", types)
	}
	// Unticking lifts an objection.
	post(url.Values{"action": {"objections"}, "object": {"marketing"}}, 303)
	if _, ok := profileOf(t, tenant, p.ID).Rights.Objections["analytics"]; ok {
		t.Fatal("the objection was not lifted")
	}
	page = must(t, b.get("/portal/"+tenant+"/rights?done=request_created"), 200)
	for _, want := range []string{"Your requests", "Portable copy of my data", "Received", "Answer due by", date(time.Now().AddDate(0, 1, 0))} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the rights page lacks %q", want)
		}
	}
	post(url.Values{"action": {"objections"}, "object": {"nosuch"}}, 422)
}

// TestObjectionOnlyWhereArt21Applies: the rights page offers objection only to purposes
// based on legitimate interests or a public task, or direct marketing; consent-based ones
// point to withdrawal, and an objection posted to one is refused.
func TestObjectionOnlyWhereArt21Applies(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/rights"), 200)
	for _, id := range []string{"analytics", "marketing", "partners"} { // legitimate interests; direct marketing
		if !strings.Contains(page.body, `name="object" value="`+id+`"`) {
			t.Errorf("no objection offered to %s", id)
		}
	}
	for _, id := range []string{"personalisation", "service"} { // consent; contract
		if strings.Contains(page.body, `name="object" value="`+id+`"`) {
			t.Errorf("an objection offered to %s", id)
		}
	}
	if !strings.Contains(page.body, `id="r-withdraw"`) || !strings.Contains(page.body, `href="/portal/`+tenant+`/consents"`) {
		t.Error("consent-based purposes do not point to withdrawal")
	}
	must(t, b.post("/portal/"+tenant+"/rights", url.Values{"csrf": {csrf(t, page)}, "action": {"objections"}, "object": {"personalisation"}}), 422)
	if len(profileOf(t, tenant, p.ID).Rights.Objections) != 0 {
		t.Fatal("an objection to a consent purpose was recorded")
	}
}

// TestEraseNeedsFreshEmailSignIn: the erasure page and its POST need a session opened by
// an emailed link within FreshSignIn; otherwise they send the person to sign in by email,
// and the emailed link brings them back to the erasure page.
func TestEraseNeedsFreshEmailSignIn(t *testing.T) {
	t.Cleanup(func() { env.offset.Store(0) })
	erase := "/portal/" + tenant + "/rights/erase"
	reauth := "/portal/" + tenant + "/login?next=erase"
	p, _ := newProfile(t, tenant, app.Create{})
	brand := newBrowser(t)
	brand.signIn(tenant, p.ID)
	tok := csrf(t, must(t, brand.get("/portal/"+tenant+"/rights"), 200))
	for _, r := range []reply{brand.get(erase), brand.post(erase, url.Values{"csrf": {tok}, "confirm": {"yes"}})} {
		if r.status != 303 || r.headers["Location"] != reauth {
			t.Fatalf("brand-link session: %d %q", r.status, r.headers["Location"])
		}
	}
	login := must(t, brand.get(reauth), 200)
	if !strings.Contains(login.body, `name="next" value="erase"`) || !strings.Contains(login.body, "fresh sign-in") {
		t.Fatal("the login page does not carry the way back to the erasure")
	}
	stale := newBrowser(t)
	stale.signInByEmail(tenant, p.ID)
	env.offset.Store(int64(portal.FreshSignIn + time.Minute))
	if r := must(t, stale.get(erase), 303); r.headers["Location"] != reauth {
		t.Fatalf("stale emailed session: %q", r.headers["Location"])
	}
	fresh := newBrowser(t)
	if back := fresh.signInByEmail(tenant, p.ID, func(c *portallink.Claims) { c.Next = "erase" }); back != erase {
		t.Fatalf("the emailed link led to %q", back)
	}
	page := must(t, fresh.get(erase), 200)
	must(t, fresh.post(erase, url.Values{"csrf": {csrf(t, page)}, "confirm": {"yes"}}), 303)
	if reqs, _ := env.store.RequestsOfProfile(context.Background(), tenant, p.ID); len(reqs) != 1 || reqs[0].Verification != dsr.PortalEmailSignIn {
		t.Fatalf("requests %+v", reqs)
	}
}

func date(t time.Time) string { return t.UTC().Format("2 January 2006") }

func TestEraseNeedsConfirmation(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signInByEmail(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/rights/erase"), 200)
	tok := csrf(t, page)
	r := must(t, b.post("/portal/"+tenant+"/rights/erase", url.Values{"csrf": {tok}}), 422)
	for _, want := range []string{`href="#confirm"`, `id="confirm-error"`, `aria-invalid="true"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the confirmation page lacks %s", want)
		}
	}
	if reqs, _ := env.store.RequestsOfProfile(context.Background(), tenant, p.ID); len(reqs) != 0 {
		t.Fatal("an unconfirmed erasure was requested")
	}
	r = must(t, b.post("/portal/"+tenant+"/rights/erase", url.Values{"csrf": {tok}, "confirm": {"yes"}}), 303)
	if r.headers["Location"] != "/portal/"+tenant+"/rights?done=erasure" {
		t.Fatalf("redirect %q", r.headers["Location"])
	}
	reqs, _ := env.store.RequestsOfProfile(context.Background(), tenant, p.ID)
	if len(reqs) != 1 || reqs[0].Type != dsr.Erasure || reqs[0].Verification != dsr.PortalEmailSignIn || reqs[0].Status != dsr.Pending {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestExportDownload(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	q, _ := newProfile(t, tenant, app.Create{})
	ctx := context.Background()
	res, err := env.svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: p.ID, Type: dsr.Access, Verification: dsr.PortalEmailSignIn},
		app.RequestWrite{Actor: portal.PersonActor})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.signInByEmail(tenant, p.ID)
	path := "/portal/" + tenant + "/exports/" + res.Request.ID
	must(t, b.get(path), 404) // not ready yet
	r := res.Request
	prior := r.Prior()
	now := time.Now().UTC()
	if err := r.Close(dsr.Completed, "", now); err != nil {
		t.Fatal(err)
	}
	r.Export = &dsr.Export{Key: tenant + "/" + p.ID + "/" + r.ID + ".zip", Bytes: 10, ExpiresAt: now.Add(time.Hour)}
	r.Version++
	if err := env.store.SaveRequest(ctx, r, prior); err != nil {
		t.Fatal(err)
	}
	got := must(t, b.get(path), 303)
	if !strings.HasPrefix(got.headers["Location"], "https://exports.example.com/"+tenant+"/"+p.ID+"/") {
		t.Fatalf("redirect %q", got.headers["Location"])
	}
	if page := must(t, b.get("/portal/"+tenant+"/rights"), 200); !strings.Contains(page.body, `href="`+path+`"`) {
		t.Error("the rights page has no download link")
	}
	// A session opened by the brand's link does not download the person's data.
	brand := newBrowser(t)
	brand.signIn(tenant, p.ID)
	if r := must(t, brand.get(path), 303); r.headers["Location"] != "/portal/"+tenant+"/login?next=rights" {
		t.Fatalf("brand-link session: redirect %q", r.headers["Location"])
	}
	other := newBrowser(t)
	other.signInByEmail(tenant, q.ID)
	must(t, other.get(path), 404)
	must(t, other.get("/portal/"+tenant+"/exports/rq_nosuch"), 404)
	must(t, brand.get("/portal/"+tenant+"/exports/rq_nosuch"), 404)
}

func TestGPCIsHonouredOnce(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.header["Sec-GPC"] = "1"
	b.signIn(tenant, p.ID)
	r := must(t, b.get("/portal/"+tenant), 200)
	if !strings.Contains(r.body, "Global Privacy Control") || !strings.Contains(r.body, "Offers from partners") {
		t.Fatal("the page does not tell about the GPC signal")
	}
	got := profileOf(t, tenant, p.ID)
	if _, ok := got.Rights.Objections["partners"]; !ok || len(got.Rights.Objections) != 1 {
		t.Fatalf("objections %v", got.Rights.Objections)
	}
	evs := ledgerOf(t, tenant, p.ID)
	last := evs[len(evs)-1]
	if last.Type != profile.EventObjectionChanged || last.Subject != "partners" || last.Actor != (ledger.Actor{Kind: ledger.ActorPortal, ID: "gpc"}) {
		t.Fatalf("ledger: %+v", last)
	}
	// More requests, other sessions: nothing more is recorded.
	must(t, b.get("/portal/"+tenant+"/rights"), 200)
	c := newBrowser(t)
	c.header["Sec-GPC"] = "1"
	c.signIn(tenant, p.ID)
	must(t, c.get("/portal/"+tenant), 200)
	if n := len(ledgerOf(t, tenant, p.ID)); n != len(evs) {
		t.Fatalf("%d events, want %d", n, len(evs))
	}
	// The person lifts the objection; the signal does not override that choice.
	page := must(t, c.get("/portal/"+tenant+"/rights"), 200)
	must(t, c.post("/portal/"+tenant+"/rights", url.Values{"csrf": {csrf(t, page)}, "action": {"objections"}}), 303)
	d := newBrowser(t)
	d.header["Sec-GPC"] = "1"
	d.signIn(tenant, p.ID)
	must(t, d.get("/portal/"+tenant), 200)
	if _, ok := profileOf(t, tenant, p.ID).Rights.Objections["partners"]; ok {
		t.Fatal("GPC re-applied an objection the person lifted")
	}
	// Pages that never write (history, exports, logout) only report the signal.
	r2, _ := newProfile(t, tenant, app.Create{})
	f := newBrowser(t)
	f.header["Sec-GPC"] = "1"
	f.signIn(tenant, r2.ID)
	if h := must(t, f.get("/portal/"+tenant+"/history"), 200); strings.Contains(h.body, "Global Privacy Control") {
		t.Fatal("a read-only page claims an objection it did not record")
	}
	if len(profileOf(t, tenant, r2.ID).Rights.Objections) != 0 {
		t.Fatal("a read-only page wrote the profile")
	}
	must(t, f.get("/portal/"+tenant), 200)
	if h := must(t, f.get("/portal/"+tenant+"/history"), 200); !strings.Contains(h.body, "Global Privacy Control") {
		t.Fatal("the history page does not report the recorded objection")
	}
	// Without the header, nothing is said or done.
	q, _ := newProfile(t, tenant, app.Create{})
	e := newBrowser(t)
	e.signIn(tenant, q.ID)
	if r := must(t, e.get("/portal/"+tenant), 200); strings.Contains(r.body, "Global Privacy Control") {
		t.Fatal("a GPC notice without the signal")
	}
}

func TestGPCWellKnown(t *testing.T) {
	r := must(t, newBrowser(t).get("/.well-known/gpc.json"), 200)
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || doc["gpc"] != true || doc["lastUpdate"] != portal.GPCLastUpdate {
		t.Fatalf("%s %v", r.body, err)
	}
	if _, err := time.Parse(time.DateOnly, portal.GPCLastUpdate); err != nil || r.headers["Content-Type"] != "application/json" {
		t.Fatalf("lastUpdate %q, type %q", portal.GPCLastUpdate, r.headers["Content-Type"])
	}
}

func unsubscribeToken(t *testing.T, tn, pid, topic string) string {
	t.Helper()
	now := time.Now()
	tok, _, err := linktoken.Mint(env.links, linktoken.Unsubscribe, portallink.Claims{Tenant: tn, ProfileID: pid, Topic: topic,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(linktoken.UnsubscribeTTL).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestOneClickUnsubscribe(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{Subscriptions: map[string]profile.SubscriptionInput{
		"newsletter": {Status: profile.Subscribed}, "offers": {Status: profile.Subscribed, Channels: []string{"email", "sms"}},
	}})
	path := "/portal/" + tenant + "/unsubscribe/" + unsubscribeToken(t, tenant, p.ID, "newsletter")
	// GET only asks.
	page := must(t, newBrowser(t).get(path), 200)
	if !strings.Contains(page.body, `method="post" action="`+path+`"`) || !strings.Contains(page.body, "Newsletter") {
		t.Fatal("no confirmation form")
	}
	if profileOf(t, tenant, p.ID).Subscriptions["newsletter"].Status != profile.Subscribed {
		t.Fatal("GET unsubscribed")
	}
	// A mail client's POST: no cookies, no CSRF token, RFC 8058 body.
	mailClient := newBrowser(t)
	r := must(t, mailClient.do("POST", path, "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"), 200)
	if !strings.Contains(r.body, "You are unsubscribed") {
		t.Fatal("no confirmation")
	}
	if s := profileOf(t, tenant, p.ID).Subscriptions["newsletter"]; s.Status != profile.Unsubscribed || s.Source != portal.OneClickActor {
		t.Fatalf("newsletter %+v", s)
	}
	n := len(ledgerOf(t, tenant, p.ID))
	must(t, mailClient.do("POST", path, "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"), 200)
	body := "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n"
	must(t, mailClient.do("POST", path, body, "multipart/form-data; boundary=XyZ"), 200)
	if len(ledgerOf(t, tenant, p.ID)) != n {
		t.Fatal("a repeated unsubscribe changed the ledger")
	}
	// On a topic sent by more channels, only email stops.
	offers := "/portal/" + tenant + "/unsubscribe/" + unsubscribeToken(t, tenant, p.ID, "offers")
	must(t, mailClient.do("POST", offers, "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"), 200)
	if s := profileOf(t, tenant, p.ID).Subscriptions["offers"]; s.Status != profile.Subscribed || !slices.Equal(s.Channels, []string{"sms"}) {
		t.Fatalf("offers %+v", s)
	}
	// Another tenant's path, a forged token: nothing.
	must(t, mailClient.do("POST", "/portal/"+otherTenant+"/unsubscribe/"+unsubscribeToken(t, tenant, p.ID, "offers"), "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"), 404)
	must(t, mailClient.do("POST", path[:len(path)-3]+"abc", "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"), 404)
}

func TestHistoryAndReceipt(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{
		Consents: map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2, Locale: "pl"}},
	})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/consents"), 200)
	must(t, b.post("/portal/"+tenant+"/consents", url.Values{"csrf": {csrf(t, page)}, "purpose": {"partners"}, "noticeVersion": {"1"}, "decision": {"grant"}}), 303)
	for lang, wants := range map[string][]string{
		"en": {"Consent to “Offers from partners” was given (notice version 1) — by you, here.", "Consent to “Marketing communication” was given (notice version 2) — by Acme Shop staff.", "Your profile was created", `<time datetime="`},
		"pl": {"Wyrażono zgodę na „Oferty partnerów” (wersja informacji 1) – przez Ciebie, tutaj.", "Utworzono Twój profil"},
	} {
		r := must(t, b.get("/portal/"+tenant+"/history?lang="+lang), 200)
		for _, want := range wants {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s history lacks %q", lang, want)
			}
		}
	}
	r := must(t, b.get("/portal/"+tenant+"/receipts/marketing?lang=en"), 200)
	if r.headers["Content-Type"] != "application/json; charset=utf-8" || !strings.Contains(r.headers["Content-Disposition"], "consent-receipt-marketing.json") {
		t.Fatalf("headers %v", r.headers)
	}
	var rc portal.Receipt
	if err := json.Unmarshal([]byte(r.body), &rc); err != nil {
		t.Fatal(err)
	}
	if rc.SchemaVersion == "" || !strings.HasPrefix(rc.ReceiptID, "urn:") || rc.Controller.Name != "Acme Shop" || rc.Subject.ID != p.ID ||
		len(rc.Purposes) != 1 || rc.Purposes[0].LegalBasis != "consent" || rc.Notice.ID != "privacy" || rc.Notice.Version != 2 ||
		rc.Notice.Language != "pl" || !strings.Contains(rc.Notice.Text, "Przetwarzamy") || rc.Consent.Status != profile.Granted ||
		!rc.Consent.Active || rc.Consent.CollectionMethod != "operator" || rc.Timestamp.IsZero() {
		t.Fatalf("receipt %+v", rc)
	}
	r2 := must(t, b.get("/portal/"+tenant+"/receipts/partners"), 200)
	var rc2 portal.Receipt
	_ = json.Unmarshal([]byte(r2.body), &rc2)
	if rc2.Consent.CollectionMethod != "portal" || rc2.Consent.Expiry == nil || rc2.ReceiptID == rc.ReceiptID {
		t.Fatalf("partners receipt %+v", rc2)
	}
	if again := must(t, b.get("/portal/"+tenant+"/receipts/partners"), 200); !strings.Contains(again.body, rc2.ReceiptID) {
		t.Fatal("the receipt id is not stable")
	}
	must(t, b.get("/portal/"+tenant+"/receipts/analytics"), 404)
	must(t, b.get("/portal/"+tenant+"/receipts/nosuch"), 404)
}

func TestNoOpenRedirects(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/details"), 200)
	// Redirect fields are not fields of the form: refused outright, with no Location.
	if r := must(t, b.post("/portal/"+tenant+"/details", url.Values{"csrf": {csrf(t, page)}, "next": {"https://evil.example"},
		"redirect": {"//evil.example"}}), 400); r.headers["Location"] != "" {
		t.Fatalf("refused form redirects to %q", r.headers["Location"])
	}
	r := must(t, b.post("/portal/"+tenant+"/details?done=https://evil.example&next=https://evil.example",
		url.Values{"csrf": {csrf(t, page)}}), 303)
	if loc := r.headers["Location"]; !strings.HasPrefix(loc, "/portal/"+tenant+"/") || strings.Contains(loc, "evil") {
		t.Fatalf("redirect %q", loc)
	}
	if r := must(t, b.get("/portal/"+tenant+"?done=<script>alert(1)</script>"), 200); strings.Contains(r.body, "alert(1)") {
		t.Fatal("the flash parameter put text on the page")
	}
	anon := newBrowser(t)
	if r := must(t, anon.get("/portal/"+tenant+"/details?next=https://evil.example"), 303); r.headers["Location"] != "/portal/"+tenant+"/login" {
		t.Fatalf("redirect %q", r.headers["Location"])
	}
}

// TestHostileForms posts forms no page sends: each is answered with the portal's own "could
// not read the form" page, never a 5xx, and the profile is unchanged.
func TestHostileForms(t *testing.T) {
	p, _ := newProfile(t, tenant, app.Create{})
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/consents"), 200)
	token := csrf(t, page)
	good := func() url.Values {
		return url.Values{"csrf": {token}, "purpose": {"marketing"}, "noticeVersion": {"2"}, "decision": {"grant"}}
	}
	tests := []struct {
		name string
		edit func(url.Values)
		raw  string // a body sent as is instead
	}{
		{name: "unknown field", edit: func(v url.Values) { v.Set("next", "https://evil.example") }},
		{name: "duplicate field", edit: func(v url.Values) { v.Add("decision", "withdraw") }},
		{name: "invalid UTF-8 value", edit: func(v url.Values) { v.Set("purpose", "market\xffing") }},
		{name: "NUL in a value", edit: func(v url.Values) { v.Set("purpose", "marketing\x00") }},
		{name: "C1 control in a value", edit: func(v url.Values) { v.Set("purpose", "marketing\u0085") }},
		{name: "invalid UTF-8 name", edit: func(v url.Values) { v.Set("\xff", "x") }},
		{name: "control character in a name", edit: func(v url.Values) { v.Set("pur\tpose", "x") }},
		{name: "malformed encoding", raw: "csrf=" + token + "&purpose=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.raw
			if tt.edit != nil {
				v := good()
				tt.edit(v)
				body = v.Encode()
			}
			r := must(t, b.do("POST", "/portal/"+tenant+"/consents", body, "application/x-www-form-urlencoded"), 400)
			if !strings.Contains(r.body, "We could not read the form") {
				t.Fatalf("not the portal's form error page: %s", r.body)
			}
			got, err := env.svc.GetProfile(context.Background(), tenant, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != p.Version {
				t.Fatalf("profile version %d, want %d: a refused form changed it", got.Version, p.Version)
			}
		})
	}
	// The same form, clean, is taken: the table above fails for its own reasons.
	must(t, b.post("/portal/"+tenant+"/consents", good()), 303)
}

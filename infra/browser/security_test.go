package browser

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

// The security tests attack the portal over plain HTTP, through the same local stack and
// API Gateway emulation as the browser. A client keeps cookies like a browser (Go's
// cookiejar treats 127.0.0.1 as a secure origin, so it sends the __Host- cookies) and
// never follows redirects, so each answer can be checked.

// client is one visitor's HTTP session.
type client struct {
	t      testing.TB
	jar    *cookiejar.Jar
	c      *http.Client
	header http.Header // sent with every request
}

func newClient(t testing.TB) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, jar: jar, header: http.Header{}, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// answer is one portal response.
type answer struct {
	status int
	header http.Header
	body   string
	took   time.Duration
}

func (c *client) do(method, path string, form url.Values) answer {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = env.stack.URL + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	start := time.Now()
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(start)}
}

func (c *client) get(path string) answer { c.t.Helper(); return c.do("GET", path, nil) }
func (c *client) post(path string, form url.Values) answer {
	c.t.Helper()
	return c.do("POST", path, form)
}

// cookie returns the value of a cookie the client would send to the portal.
func (c *client) cookie(name string) string {
	u, _ := url.Parse(env.stack.URL + "/portal/")
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func sessionCookie(tenantID string) string { return "__Host-lp_s_" + tenantID }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, a answer) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("no form token on the page (%d): %.300s", a.status, a.body)
	}
	return m[1]
}

// signIn opens the person's portal link and continues, as a browser would.
func (c *client) signIn(p person) {
	c.t.Helper()
	link := linkURL(c.t, p)
	page := c.get(link)
	if page.status != 200 {
		c.t.Fatalf("portal link: %d", page.status)
	}
	r := c.post(link, url.Values{"csrf": {csrfOf(c.t, page)}})
	if r.status != 303 || r.header.Get("Location") != "/portal/"+p.tenant || c.cookie(sessionCookie(p.tenant)) == "" {
		c.t.Fatalf("continue: %d to %q, session cookie %v", r.status, r.header.Get("Location"), c.cookie(sessionCookie(p.tenant)) != "")
	}
}

// signInByEmail signs in by the login page's emailed link, as the erasure form needs.
func (c *client) signInByEmail(p person) {
	c.t.Helper()
	before := len(mailsTo(c.t, p.email))
	login := "/portal/" + p.tenant + "/login"
	if r := c.post(login, url.Values{"email": {p.email}, "csrf": {csrfOf(c.t, c.get(login))}}); r.status != 200 {
		c.t.Fatalf("login: %d", r.status)
	}
	link := waitLoginLink(c.t, p.email, before+1)
	r := c.post(link, url.Values{"csrf": {csrfOf(c.t, c.get(link))}})
	if r.status != 303 || c.cookie(sessionCookie(p.tenant)) == "" {
		c.t.Fatalf("continue: %d", r.status)
	}
}

// signedIn reports whether the client has a session at the tenant's portal.
func (c *client) signedIn(tenantID string) bool {
	c.t.Helper()
	r := c.get("/portal/" + tenantID)
	switch {
	case r.status == 200:
		return true
	case r.status == 303 && strings.HasPrefix(r.header.Get("Location"), "/portal/"+tenantID+"/login"):
		return false
	}
	c.t.Fatalf("GET /portal/%s: %d to %q", tenantID, r.status, r.header.Get("Location"))
	return false
}

// tokenOf is the token of a portal URL.
func tokenOf(u string) string { return u[strings.LastIndex(u, "/")+1:] }

// TestPortalTokens: forged, foreign-key, expired, replayed, wrong-kind and other-tenant
// links open no session, whatever the visitor then posts; the good link still works.
func TestPortalTokens(t *testing.T) {
	p, q := newPerson(t, tenant, "en"), newPerson(t, tenant, "en")
	g := newPerson(t, otherTenant, "en")
	good := tokenOf(linkURL(t, p))
	claims, sig, _ := strings.Cut(good, ".")

	// The claims are signed, not secret: an attacker can read and change them.
	raw, err := base64.RawURLEncoding.DecodeString(claims)
	if err != nil {
		t.Fatalf("token claims: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["p"] = q.id
	changed, _ := json.Marshal(c)
	otherPerson := base64.RawURLEncoding.EncodeToString(changed) + "." + sig

	flipped := []byte(sig)
	if mid := len(flipped) / 2; flipped[mid] == 'A' {
		flipped[mid] = 'B'
	} else {
		flipped[mid] = 'A'
	}
	badSig := claims + "." + string(flipped)

	attacker, _ := portallink.NewSigner(portallink.Key{ID: "k1", Secret: strings.Repeat("attacker", 8)})
	now := time.Now()
	foreign, _, _ := linktoken.Mint(attacker, linktoken.Open, portallink.Claims{Tenant: tenant, ProfileID: p.id,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()})
	expired, _, err := linktoken.Mint(env.links, linktoken.Open, portallink.Claims{Tenant: tenant, ProfileID: p.id,
		IssuedAt: now.Add(-2 * time.Hour).Unix(), ExpiresAt: now.Add(-time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	unsub := tokenOf(strings.Trim(portalLink(t, p, map[string]any{"topic": "newsletter"})["listUnsubscribe"].(string), "<>"))
	globexLink := tokenOf(linkURL(t, g))

	replayed := tokenOf(linkURL(t, q))
	used := newClient(t)
	usedPage := used.get("/portal/" + tenant + "/t/" + replayed)
	if r := used.post("/portal/"+tenant+"/t/"+replayed, url.Values{"csrf": {csrfOf(t, usedPage)}}); r.status != 303 {
		t.Fatalf("first use of a link: %d", r.status)
	}

	for _, tc := range []struct {
		name, tenant, token string
		status              int
	}{
		{"forged signature", tenant, badSig, 404},
		{"claims changed to another person", tenant, otherPerson, 404},
		{"signed with another key", tenant, foreign, 404},
		{"garbage", tenant, "not-a-token", 404},
		{"expired", tenant, expired, 410},
		{"replayed", tenant, replayed, 410},
		{"unsubscribe token as a portal link", tenant, unsub, 404},
		{"other tenant's link", tenant, globexLink, 404},
		{"this tenant's link under the other tenant", otherTenant, good, 404},
		{"unknown tenant", "nosuch", good, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newClient(t)
			path := "/portal/" + tc.tenant + "/t/" + tc.token
			page := v.get(path)
			if page.status != tc.status {
				t.Fatalf("GET: %d, want %d: %.200s", page.status, tc.status, page.body)
			}
			if strings.Contains(page.body, `action="`+path+`"`) || strings.Contains(page.body, ">Continue<") {
				t.Fatal("the page offers to continue with the link")
			}
			// Post the link as if the page had offered it, with a valid pre-sign-in token.
			tok := v.get("/portal/" + tenant + "/login")
			if r := v.post(path, url.Values{"csrf": {csrfOf(t, tok)}}); r.status == 303 || v.cookie(sessionCookie(tenant)) != "" ||
				v.cookie(sessionCookie(otherTenant)) != "" {
				t.Fatalf("POST: %d to %q opened a session", r.status, r.header.Get("Location"))
			}
			if v.signedIn(tenant) || v.signedIn(otherTenant) {
				t.Fatal("signed in")
			}
		})
	}
	// A session is confined to its tenant: the same cookie under the other tenant's name
	// opens nothing there.
	t.Run("other tenant's session", func(t *testing.T) {
		v := newClient(t)
		v.signIn(person{tenant: tenant, id: p.id})
		o := newClient(t)
		u, _ := url.Parse(env.stack.URL + "/")
		o.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie(otherTenant), Value: v.cookie(sessionCookie(tenant)), Path: "/", Secure: true}})
		if o.signedIn(otherTenant) {
			t.Fatal("a session of one tenant opened the other tenant's portal")
		}
		tampered := newClient(t)
		s := v.cookie(sessionCookie(tenant))
		tampered.jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie(tenant), Value: s[:len(s)-4] + "AAAA", Path: "/", Secure: true}})
		if tampered.signedIn(tenant) {
			t.Fatal("a tampered session cookie was accepted")
		}
	})
	// The good link was not used up by any of that, and the session cookie is sealed the
	// way a __Host- cookie must be.
	t.Run("good link", func(t *testing.T) {
		v := newClient(t)
		link := env.stack.URL + "/portal/" + tenant + "/t/" + good
		page := v.get(link)
		r := v.post(link, url.Values{"csrf": {csrfOf(t, page)}})
		var set *http.Cookie
		for _, ck := range (&http.Response{Header: r.header}).Cookies() {
			if ck.Name == sessionCookie(tenant) {
				set = ck
			}
		}
		if r.status != 303 || set == nil {
			t.Fatalf("good link: %d, session cookie %v", r.status, set)
		}
		if !set.Secure || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Path != "/" || set.Domain != "" {
			t.Fatalf("session cookie attributes: %s", set.String())
		}
		if strings.Contains(set.Value, p.id) {
			t.Fatal("the session cookie shows the profile id")
		}
		h := v.get("/portal/" + tenant).header
		for k, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if h.Get(k) != want {
				t.Errorf("%s: %q, want %q", k, h.Get(k), want)
			}
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
	})
}

// TestPortalCSRF: every state-changing form refuses a post without this session's form
// token — missing, garbage, or another session's — and changes nothing; the login form
// needs its pre-sign-in token and cookie.
func TestPortalCSRF(t *testing.T) {
	p, q := newPerson(t, tenant, "en"), newPerson(t, tenant, "en")
	v, other := newClient(t), newClient(t)
	v.signInByEmail(p) // the erasure form needs it
	other.signIn(q)
	othersToken := csrfOf(t, other.get("/portal/"+tenant+"/details"))
	version := func() string {
		return mustStatus(t, api(t, tenant, "GET", "/v1/profiles/"+p.id, nil), 200).header.Get("ETag")
	}
	before := version()

	forms := []struct {
		path string
		form url.Values
	}{
		{"/details", url.Values{"attr-givenName": {"Mallory"}}},
		{"/subscriptions", url.Values{"action": {"unsubscribe_all"}}},
		{"/consents", url.Values{"purpose": {"partners"}, "noticeVersion": {"1"}, "decision": {"grant"}}},
		{"/rights", url.Values{"action": {"restrict"}}},
		{"/rights", url.Values{"action": {"export"}, "type": {"access"}}},
		{"/rights/erase", url.Values{"confirm": {"yes"}}},
		{"/logout", url.Values{}},
		{"/details/identities", url.Values{"identity": {"email:" + p.email}}},
	}
	for _, f := range forms {
		for name, token := range map[string]string{"missing": "", "garbage": "abc", "another session's": othersToken} {
			t.Run(strings.Join(slices.DeleteFunc([]string{strings.TrimPrefix(f.path, "/"), f.form.Get("action"), name},
				func(s string) bool { return s == "" }), " "), func(t *testing.T) {
				form := url.Values{}
				for k, vs := range f.form {
					form[k] = vs
				}
				if token != "" {
					form.Set("csrf", token)
				}
				r := v.post("/portal/"+tenant+f.path, form)
				if r.status != 403 || !strings.Contains(r.body, "Your form has expired") {
					t.Fatalf("%d: %.200s", r.status, r.body)
				}
			})
		}
	}
	if after := version(); after != before {
		t.Fatalf("forged forms changed the profile: version %s -> %s", before, after)
	}
	if !v.signedIn(tenant) {
		t.Fatal("a forged logout ended the session")
	}
	// The same form with the session's own token goes through.
	good := url.Values{"csrf": {csrfOf(t, v.get("/portal/"+tenant+"/details"))}, "attr-givenName": {"Ada"}, "attr-familyName": {"Nowak-Kowalska"}}
	if r := v.post("/portal/"+tenant+"/details", good); r.status != 303 || version() == before {
		t.Fatalf("the real form: %d", r.status)
	}

	// Login: no token, a token without its cookie, a token of another visitor's cookie.
	fresh := newClient(t)
	if r := fresh.post("/portal/"+tenant+"/login", url.Values{"email": {p.email}}); r.status != 403 {
		t.Fatalf("login without a token: %d", r.status)
	}
	donor := newClient(t)
	tok := csrfOf(t, donor.get("/portal/"+tenant+"/login"))
	if r := fresh.post("/portal/"+tenant+"/login", url.Values{"email": {p.email}, "csrf": {tok}}); r.status != 403 {
		t.Fatalf("login with another visitor's token: %d", r.status)
	}
}

// login posts the login form for email from a fresh visitor, as a browser would.
func login(t testing.TB, tenantID, email string) answer {
	t.Helper()
	a, err := loginAttempt(tenantID, email)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// loginAttempt is login for goroutines other than the test's: it returns its failure.
func loginAttempt(tenantID, email string) (answer, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	path := env.stack.URL + "/portal/" + tenantID + "/login"
	resp, err := c.Get(path)
	if err != nil {
		return answer{}, err
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return answer{}, err
	}
	m := csrfRE.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		return answer{}, fmt.Errorf("login page: %d, form token %v", resp.StatusCode, m != nil)
	}
	start := time.Now()
	resp, err = c.PostForm(path, url.Values{"email": {email}, "csrf": {string(m[1])}})
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(start)}, err
}

// loginFloor is the least time a login POST takes (portal.DefaultLoginFloor).
const loginFloor = 700 * time.Millisecond

// TestPortalLoginEnumeration: the login form answers a known and an unknown address with
// the same status, the same page and the same cookies, in the same time class (at least
// the floor, medians close together), while only the known address gets an email.
func TestPortalLoginEnumeration(t *testing.T) {
	known := newPerson(t, otherTenant, "en")
	unknown := "nobody-" + randomLetters(10) + "@example.com"
	const rounds = 3
	var tk, tu []time.Duration
	var first answer
	for i := range rounds {
		for _, addr := range []string{known.email, unknown} {
			a := login(t, otherTenant, addr)
			if a.status != 200 || !strings.Contains(a.body, "Check your email") {
				t.Fatalf("login for %s: %d", addr, a.status)
			}
			if i == 0 && addr == known.email {
				first = a
			} else if a.body != first.body {
				t.Fatalf("the answers differ:\n%s\n----\n%s", first.body, a.body)
			}
			if !slices.Equal(cookieNames(a.header), cookieNames(first.header)) {
				t.Fatalf("cookies differ: %v vs %v", cookieNames(a.header), cookieNames(first.header))
			}
			if a.took < loginFloor {
				t.Fatalf("a login took %v, under the %v floor", a.took, loginFloor)
			}
			if addr == known.email {
				tk = append(tk, a.took)
			} else {
				tu = append(tu, a.took)
			}
		}
	}
	mk, mu := median(tk), median(tu)
	t.Logf("login timing: known address %v (median %v), unknown %v (median %v)", tk, mk, tu, mu)
	if d := (mk - mu).Abs(); d > 250*time.Millisecond {
		t.Fatalf("known and unknown addresses answer %v apart", d)
	}
	if n := len(mailsTo(t, known.email)); n != rounds {
		t.Fatalf("%d emails to the known address, want %d", n, rounds)
	}
	if n := len(mailsTo(t, unknown)); n != 0 {
		t.Fatalf("%d emails to an unknown address", n)
	}
	if a := login(t, otherTenant, "not-an-address"); a.status != 422 {
		t.Fatalf("a malformed address: %d, want 422", a.status)
	}
}

func cookieNames(h http.Header) []string {
	var out []string
	for _, c := range (&http.Response{Header: h}).Cookies() {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Login limits (portal.Limits defaults): emails per address and requests per client IP per
// hour, per tenant.
const perAddress, perIP = 5, 20

// TestPortalLoginRateLimit: past the per-address limit the answer stays the same but no
// email goes out; past the per-IP limit the answer is a 429 that does not depend on the
// address. It runs on a tenant of its own, whose counters it exhausts.
func TestPortalLoginRateLimit(t *testing.T) {
	p := newPerson(t, limitTenant, "en")
	parallel := func(addrs []string) []answer {
		out := make([]answer, len(addrs))
		errs := make([]error, len(addrs))
		var wg sync.WaitGroup
		for i, a := range addrs {
			wg.Go(func() { out[i], errs[i] = loginAttempt(limitTenant, a) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		return out
	}
	answers := parallel(slices.Repeat([]string{p.email}, perAddress+1))
	for i, a := range answers {
		if a.status != 200 || a.body != answers[0].body || !strings.Contains(a.body, "Check your email") {
			t.Fatalf("login %d for one address: %d, or not the same page", i+1, a.status)
		}
	}
	if n := len(mailsTo(t, p.email)); n != perAddress {
		t.Fatalf("%d login emails for %d requests, want the limit %d", n, perAddress+1, perAddress)
	}

	// The client IP has made perAddress+1 requests; these go past its limit.
	var others []string
	for range perIP - perAddress + 1 {
		others = append(others, "nobody-"+randomLetters(8)+"@example.com")
	}
	var limited []answer
	for _, a := range parallel(others) {
		switch a.status {
		case 200:
		case 429:
			limited = append(limited, a)
		default:
			t.Fatalf("login: %d", a.status)
		}
	}
	if len(limited) != 2 {
		t.Fatalf("%d answers of %d were 429, want the 2 over the per-IP limit of %d", len(limited), len(others), perIP)
	}
	// Over the limit, a known address gets the same 429 and no email.
	before := len(mailsTo(t, p.email))
	a := login(t, limitTenant, p.email)
	if a.status != 429 || a.body != limited[0].body || limited[0].body != limited[1].body {
		t.Fatalf("over the limit: %d, or the 429 page depends on the address", a.status)
	}
	if !strings.Contains(a.body, "Please try again later") {
		t.Fatalf("429 page: %.300s", a.body)
	}
	if n := len(mailsTo(t, p.email)); n != before {
		t.Fatal("a login over the limit sent an email")
	}
}

// TestPortalRoutesArePublic: the portal and its GPC statement answer without an API key
// (Auth: Authorizer: NONE in template.yaml) while the brand API still demands one, and the
// RFC 8058 one-click unsubscribe works with nothing but the POST the mail client sends.
func TestPortalRoutesArePublic(t *testing.T) {
	v := newClient(t)
	if r := v.get("/.well-known/gpc.json"); r.status != 200 || !strings.Contains(r.body, `"gpc":true`) {
		t.Fatalf("gpc.json: %d %s", r.status, r.body)
	}
	if r := v.get("/portal/" + tenant + "/login"); r.status != 200 {
		t.Fatalf("login page: %d", r.status)
	}
	if r := v.get("/v1/catalog"); r.status != 401 {
		t.Fatalf("the brand API without a key: %d", r.status)
	}
	p := newPerson(t, tenant, "en")
	lu := strings.Trim(portalLink(t, p, map[string]any{"topic": "newsletter"})["listUnsubscribe"].(string), "<>")
	for range 2 { // idempotent
		if r := newClient(t).post(lu, url.Values{"List-Unsubscribe": {"One-Click"}}); r.status != 200 {
			t.Fatalf("one-click unsubscribe: %d %.200s", r.status, r.body)
		}
	}
	subs, _ := profileOf(t, p)["subscriptions"].(map[string]any)
	if news, _ := subs["newsletter"].(map[string]any); news["status"] != "unsubscribed" {
		t.Fatalf("newsletter after one-click unsubscribe: %v", news)
	}
}

// TestPortalGPC: a browser that sends Sec-GPC: 1 gets its objection to sharing with
// partners recorded on the first page that may write, is told so, and the brand API's
// consent check honours it.
func TestPortalGPC(t *testing.T) {
	p := newPerson(t, tenant, "en")
	mustStatus(t, api(t, tenant, "PUT", "/v1/profiles/"+p.id+"/consents/partners", map[string]any{"status": "granted", "noticeVersion": 1}), 200)
	if ok, reason := consentCheck(t, p, "partners"); !ok {
		t.Fatalf("partners before GPC: %s", reason)
	}
	v := newClient(t)
	v.header.Set("Sec-GPC", "1")
	v.signIn(p)
	if r := v.get("/portal/" + tenant); r.status != 200 || !strings.Contains(r.body, "Global Privacy Control") {
		t.Fatalf("overview with Sec-GPC: %d, no GPC notice", r.status)
	}
	rights, _ := profileOf(t, p)["rights"].(map[string]any)
	if obj, _ := rights["objections"].(map[string]any); obj["partners"] == nil {
		t.Fatalf("no objection to partners recorded: %v", rights)
	}
	if ok, reason := consentCheck(t, p, "partners"); ok {
		t.Fatalf("partners still allowed after GPC (%s)", reason)
	}
}

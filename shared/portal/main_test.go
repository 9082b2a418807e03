package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/wire/pages/reads"
)

// The handler tests run every portal handler as API Gateway would invoke it, against the
// embedded AWS emulator through real SDK clients: a table provisioned from template.yaml,
// the demo catalog, and two tenants.

const tenant, otherTenant = "acme", "globex"

var secret = portallink.Key{ID: "k1", Secret: "portal-test-secret-of-more-than-32-bytes!"}

var env struct {
	store  *dynamo.Store
	svc    *app.Service
	keys   *session.Keys
	links  *portallink.Signer
	portal *portal.Portal
	mail   *mailbox
	pads   *pads
	routes []route
	// offset moves the portal's clock ahead (nanoseconds), for session ages.
	offset atomic.Int64
}

// mailbox records the login emails instead of sending them.
type mailbox struct {
	mu   sync.Mutex
	sent []sentMail
}

type sentMail struct{ To, Locale, Link string }

func (m *mailbox) SendLoginLink(_ context.Context, to, locale, link string, ttl time.Duration) error {
	if ttl != linktoken.LoginTTL {
		return fmt.Errorf("login link ttl %v", ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{to, locale, link})
	return nil
}

// to returns the emails sent to an address.
func (m *mailbox) to(addr string) []sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sentMail
	for _, s := range m.sent {
		if s.To == addr {
			out = append(out, s)
		}
	}
	return out
}

// pads records how long the login page waited to reach its floor.
type pads struct {
	mu  sync.Mutex
	all []time.Duration
}

func (p *pads) sleep(_ context.Context, d time.Duration) {
	p.mu.Lock()
	p.all = append(p.all, d)
	p.mu.Unlock()
}

func (p *pads) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

// requests is the requests use case plus the store's listing, as package wire composes it.
type requests struct {
	*app.Service
	st *dynamo.Store
}

func (r requests) RequestsOfProfile(ctx context.Context, tenant, id string) ([]dsr.Request, error) {
	return r.st.RequestsOfProfile(ctx, tenant, id)
}

// exports hands out fake download URLs.
type exports struct{}

func (exports) ExportURL(_ context.Context, key string, ttl time.Duration, filename string) (string, error) {
	return "https://exports.example.com/" + key + "?ttl=" + ttl.String() + "&filename=" + url.QueryEscape(filename), nil
}

// clock is the portal's clock: real time plus a skew the tests may only move forward, so
// that they can outwait its caches without sleeping.
var skew atomic.Int64

func clock() time.Time { return time.Now().Add(time.Duration(skew.Load() + env.offset.Load())) }

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func TestMain(m *testing.M) {
	ctx := context.Background()
	aws, err := localaws.Start(ctx, localaws.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start emulator:", err)
		os.Exit(1)
	}
	code := func() int {
		defer aws.Close()
		tpl, err := template.Load(filepath.Join(repoRoot(), "template.yaml"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "template:", err)
			return 1
		}
		phys, err := localaws.Provision(ctx, aws.AWS, tpl, fmt.Sprintf("portal%d", time.Now().UnixNano()%1e6))
		if err != nil {
			fmt.Fprintln(os.Stderr, "provision:", err)
			return 1
		}
		env.store = dynamo.New(dynamodb.NewFromConfig(aws.AWS), phys["ProfileTable"].Name)
		env.svc = app.New(env.store, time.Now, 0)
		if err := env.store.PutTenant(ctx, dynamo.Tenant{ID: tenant, Name: "Acme Shop", CreatedAt: time.Now(), SuppressionSalt: dynamo.NewSuppressionSalt(),
			Branding: dynamo.Branding{LogoURL: "https://cdn.acme.example/logo.svg", PrimaryColor: "#7a1f5c"}}); err != nil {
			panic(err)
		}
		if err := seed.Tenant(ctx, env.store, otherTenant, "Globex"); err != nil {
			panic(err)
		}
		for _, t := range []string{tenant, otherTenant} {
			if _, err := seed.LoadCatalog(ctx, env.svc, t, seed.DemoCatalog); err != nil {
				panic(err)
			}
		}
		if env.keys, err = session.NewKeys(secret); err != nil {
			panic(err)
		}
		if env.links, err = portallink.NewSigner(secret); err != nil {
			panic(err)
		}
		env.mail, env.pads = &mailbox{}, &pads{}
		env.portal, err = portal.New(portal.Config{
			Profiles: env.svc, Store: env.store, Pages: reads.Reader{Store: env.store}, Keys: env.keys, Links: env.links,
			Mailer: env.mail, Requests: requests{env.svc, env.store}, Exports: exports{},
			BaseURL: "https://portal.test/portal", Limits: portal.Limits{PerAddress: 3, PerIP: 8},
			LoginFloor: 300 * time.Millisecond, Sleep: env.pads.sleep, Now: clock,
		})
		if err != nil {
			panic(err)
		}
		p := env.portal
		pub, err := portal.NewPublic(portal.PublicConfig{Catalogs: env.svc, Pages: reads.Reader{Store: env.store}, Now: clock})
		if err != nil {
			panic(err)
		}
		env.routes = []route{
			{"GET", "/portal/{tenant}/privacy", pub.Privacy()}, {"GET", "/portal/{tenant}/privacy.json", pub.Privacy()},
			{"GET", "/portal/{tenant}/t/{token}", p.Open()}, {"POST", "/portal/{tenant}/t/{token}", p.Open()},
			{"GET", "/portal/{tenant}/login", p.Login()}, {"POST", "/portal/{tenant}/login", p.Login()},
			{"POST", "/portal/{tenant}/logout", p.Logout()},
			{"GET", "/portal/{tenant}", p.Overview()},
			{"GET", "/portal/{tenant}/details", p.Details()}, {"POST", "/portal/{tenant}/details", p.Details()},
			{"GET", "/portal/{tenant}/subscriptions", p.Subscriptions()}, {"POST", "/portal/{tenant}/subscriptions", p.Subscriptions()},
			{"GET", "/portal/{tenant}/consents", p.Consents()}, {"POST", "/portal/{tenant}/consents", p.Consents()},
			{"GET", "/portal/{tenant}/rights", p.Rights()}, {"POST", "/portal/{tenant}/rights", p.Rights()},
			{"GET", "/portal/{tenant}/rights/erase", p.Rights()}, {"POST", "/portal/{tenant}/rights/erase", p.Rights()},
			{"GET", "/portal/{tenant}/history", p.History()}, {"GET", "/portal/{tenant}/receipts/{purpose}", p.History()},
			{"GET", "/portal/{tenant}/exports/{id}", p.Export()},
			{"GET", "/portal/{tenant}/confirm", p.Confirm()}, {"POST", "/portal/{tenant}/confirm", p.Confirm()},
			{"GET", "/portal/{tenant}/unsubscribe/{token}", p.Unsubscribe()}, {"POST", "/portal/{tenant}/unsubscribe/{token}", p.Unsubscribe()},
			{"GET", "/.well-known/gpc.json", portal.GPCHandler()},
			{"POST", "/portal/{tenant}/details/identities", p.Details()},
		}
		return m.Run()
	}()
	os.Exit(code)
}

// route is one template route: method, path pattern and its function's handler.
type route struct {
	method, pattern string
	h               portal.Handler
}

// match finds the route of a request, as API Gateway does, and its path parameters.
func match(method, path string) (route, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, rt := range env.routes {
		ps := strings.Split(strings.Trim(rt.pattern, "/"), "/")
		if rt.method != method || len(ps) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, p := range ps {
			switch {
			case strings.HasPrefix(p, "{"):
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					ok = false
				}
				params[strings.Trim(p, "{}")] = v
			case p != segs[i]:
				ok = false
			}
		}
		if ok {
			return rt, params, true
		}
	}
	return route{}, nil, false
}

// browser is one person's browser: a cookie jar, a client IP and extra headers.
type browser struct {
	t      testing.TB
	jar    map[string]string
	ip     string
	header map[string]string
}

var ipSeq atomic.Int32

func newBrowser(t testing.TB) *browser {
	n := ipSeq.Add(1)
	return &browser{t: t, jar: map[string]string{}, ip: fmt.Sprintf("198.51.%d.%d", n/250, n%250+1), header: map[string]string{}}
}

type reply struct {
	status  int
	headers map[string]string
	body    string
	cookies []string
}

func (b *browser) get(path string) reply { return b.do("GET", path, "", "") }

func (b *browser) post(path string, form url.Values) reply {
	return b.do("POST", path, form.Encode(), "application/x-www-form-urlencoded")
}

var reqSeq atomic.Int64

func (b *browser) do(method, target, body, ctype string) reply {
	b.t.Helper()
	path, rawQuery, _ := strings.Cut(target, "?")
	rt, params, ok := match(method, path)
	if !ok {
		return reply{status: http.StatusNotFound}
	}
	h := map[string]string{"accept-language": "en-GB,en;q=0.9", "host": "portal.test"}
	for k, v := range b.header {
		h[strings.ToLower(k)] = v
	}
	if ctype != "" {
		h["content-type"] = ctype
	}
	var cookies []string
	for k, v := range b.jar {
		cookies = append(cookies, k+"="+v)
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + rt.pattern, RawPath: path, RawQueryString: rawQuery,
		Cookies: cookies, Headers: h, PathParameters: params, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: method + " " + rt.pattern, RequestID: fmt.Sprintf("req-%d", reqSeq.Add(1)), DomainName: "portal.test",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: b.ip},
		},
	}
	if rawQuery != "" {
		q, _ := url.ParseQuery(rawQuery)
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	resp, err := rt.h(context.Background(), ev)
	if err != nil {
		b.t.Fatalf("%s %s: handler error %v", method, target, err)
	}
	for _, line := range resp.Cookies {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			b.t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if c.MaxAge < 0 {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c.Value
		}
	}
	return reply{status: resp.StatusCode, headers: resp.Headers, body: resp.Body, cookies: resp.Cookies}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the form token on a page.
func csrf(t testing.TB, r reply) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no form token on the page (status %d)", r.status)
	}
	return m[1]
}

func must(t testing.TB, r reply, status int) reply {
	t.Helper()
	if r.status != status {
		body := r.body
		if len(body) > 3000 {
			body = body[:3000]
		}
		t.Fatalf("status %d, want %d; Location %q\n%s", r.status, status, r.headers["Location"], body)
	}
	return r
}

var seq atomic.Int64

// newProfile creates a person in tenant with a fresh email address.
func newProfile(t testing.TB, tn string, in app.Create) (*profile.Profile, string) {
	t.Helper()
	email := fmt.Sprintf("person-%d-%d@example.com", time.Now().UnixNano(), seq.Add(1))
	in.Identities = append(in.Identities, app.IdentityInput{Type: "email", Value: email})
	res, err := env.svc.CreateProfile(context.Background(), tn, in, app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Profile, email
}

// openToken mints a brand's portal link token.
func openToken(t testing.TB, tn, pid string, mod ...func(*portallink.Claims)) string {
	t.Helper()
	now := time.Now()
	c := portallink.Claims{Tenant: tn, ProfileID: pid, IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}
	for _, f := range mod {
		f(&c)
	}
	tok, _, err := linktoken.Mint(env.links, linktoken.Open, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signIn opens a session for pid in the browser through a brand's link.
func (b *browser) signIn(tn, pid string) {
	b.t.Helper()
	path := "/portal/" + tn + "/t/" + openToken(b.t, tn, pid)
	page := must(b.t, b.get(path), 200)
	must(b.t, b.post(path, url.Values{"csrf": {csrf(b.t, page)}}), 303)
	if b.jar[session.CookieName(tn)] == "" {
		b.t.Fatal("no session cookie after opening the link")
	}
}

// signInByEmail opens a session for pid through an emailed login link, and returns where
// the link led.
func (b *browser) signInByEmail(tn, pid string, mod ...func(*portallink.Claims)) string {
	b.t.Helper()
	now := time.Now().Add(time.Duration(env.offset.Load()))
	c := portallink.Claims{Tenant: tn, ProfileID: pid, IssuedAt: now.Unix(), ExpiresAt: now.Add(linktoken.LoginTTL).Unix()}
	for _, f := range mod {
		f(&c)
	}
	tok, _, err := linktoken.Mint(env.links, linktoken.Login, c)
	if err != nil {
		b.t.Fatal(err)
	}
	path := "/portal/" + tn + "/t/" + tok
	page := must(b.t, b.get(path), 200)
	r := must(b.t, b.post(path, url.Values{"csrf": {csrf(b.t, page)}}), 303)
	if b.jar[session.CookieName(tn)] == "" {
		b.t.Fatal("no session cookie after opening the link")
	}
	return r.headers["Location"]
}

// profileOf reads a profile.
func profileOf(t testing.TB, tn, id string) *profile.Profile {
	t.Helper()
	p, err := env.svc.GetProfile(context.Background(), tn, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// events returns a profile's whole ledger.
func ledgerOf(t testing.TB, tn, id string) []ledger.Event {
	t.Helper()
	page, err := env.svc.Events(context.Background(), tn, id, 0, app.MaxPage)
	if err != nil {
		t.Fatal(err)
	}
	if !page.Verified {
		t.Fatal("the ledger does not verify")
	}
	return page.Events
}

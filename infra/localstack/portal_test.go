package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/registry"
)

// TestPortalLinkURLs: POST /v1/portal-links points at the tenant's portal, and with a topic
// adds the RFC 8058 List-Unsubscribe values.
func TestPortalLinkURLs(t *testing.T) {
	id, _ := newProfile(t, nil)
	m := must(t, do(t, call{method: "POST", path: "/v1/portal-links", key: "links", body: map[string]any{"profileId": id, "topic": "newsletter"}}), 201).json(t)
	base := env.stack.URL + "/portal/" + tenant
	if u, _ := m["url"].(string); !strings.HasPrefix(u, base+"/t/") {
		t.Fatalf("url %q", u)
	}
	lu, _ := m["listUnsubscribe"].(string)
	if !strings.HasPrefix(lu, "<"+base+"/unsubscribe/") || !strings.HasSuffix(lu, ">") || m["listUnsubscribePost"] != "List-Unsubscribe=One-Click" {
		t.Fatalf("listUnsubscribe %q, listUnsubscribePost %v", lu, m["listUnsubscribePost"])
	}
	m = must(t, do(t, call{method: "POST", path: "/v1/portal-links", key: "links", body: map[string]any{"profileId": id}}), 201).json(t)
	if _, ok := m["listUnsubscribe"]; ok {
		t.Fatal("listUnsubscribe without a topic")
	}
}

// portalClient is a browser that keeps the portal's cookies itself (they are Secure, and the
// local stack is plain http) and does not follow redirects.
type portalClient struct {
	t       *testing.T
	cookies map[string]string
	headers map[string]string
}

type portalReply struct {
	status int
	header http.Header
	body   string
}

func (c *portalClient) do(method, target string, form url.Values) portalReply {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if !strings.HasPrefix(target, "http") {
		target = env.stack.URL + target
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return portalReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var portalCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *portalClient) csrf(r portalReply) string {
	c.t.Helper()
	m := portalCSRF.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("no form token (status %d)", r.status)
	}
	return m[1]
}

func wantStatus(t *testing.T, r portalReply, status int) portalReply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.2000s", r.status, status, r.body)
	}
	return r
}

// TestPortalThroughTheStack drives the portal as a browser and a mail client would, through
// the HTTP API emulation: a brand link, the pages, one-click unsubscribe, the login email.
func TestPortalThroughTheStack(t *testing.T) {
	id, email := newProfile(t, map[string]any{"subscriptions": map[string]any{"newsletter": map[string]any{"status": "subscribed"}}})
	m := must(t, do(t, call{method: "POST", path: "/v1/portal-links", key: "links", body: map[string]any{"profileId": id, "topic": "newsletter"}}), 201).json(t)
	link := m["url"].(string)

	b := &portalClient{t: t, cookies: map[string]string{}, headers: map[string]string{"Sec-GPC": "1"}}
	page := wantStatus(t, b.do("GET", link, nil), 200)
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"} {
		if page.header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	r := wantStatus(t, b.do("POST", link, url.Values{"csrf": {b.csrf(page)}}), 303)
	if b.cookies[session.CookieName(tenant)] == "" || !strings.HasPrefix(r.header.Get("Location"), "/portal/"+tenant) {
		t.Fatalf("no session (Location %q)", r.header.Get("Location"))
	}
	wantStatus(t, b.do("GET", link, nil), 410)
	ov := wantStatus(t, b.do("GET", "/portal/"+tenant, nil), 200)
	if !strings.Contains(ov.body, email) || !strings.Contains(ov.body, "Global Privacy Control") {
		t.Fatal("the overview lacks the person's data or the GPC notice")
	}
	for _, p := range []string{"/details", "/subscriptions", "/consents", "/rights", "/history?lang=pl"} {
		wantStatus(t, b.do("GET", "/portal/"+tenant+p, nil), 200)
	}
	// A brand's link does not open the erasure: the person signs in by email first.
	if r := wantStatus(t, b.do("GET", "/portal/"+tenant+"/rights/erase", nil), 303); r.header.Get("Location") != "/portal/"+tenant+"/login?next=erase" {
		t.Fatalf("erasure in a brand-link session: %q", r.header.Get("Location"))
	}
	// No access under the other tenant's portal.
	wantStatus(t, b.do("GET", "/portal/"+otherTenant, nil), 303)

	// One-click unsubscribe, as a mail client posts it: no cookies, no token.
	unsub := strings.Trim(m["listUnsubscribe"].(string), "<>")
	mc := &portalClient{t: t, cookies: map[string]string{}}
	wantStatus(t, mc.do("POST", unsub, url.Values{"List-Unsubscribe": {"One-Click"}}), 200)
	wantStatus(t, mc.do("POST", unsub, url.Values{"List-Unsubscribe": {"One-Click"}}), 200)
	p := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id, key: "read"}), 200).json(t)
	if s := p["subscriptions"].(map[string]any)["newsletter"].(map[string]any)["status"]; s != "unsubscribed" {
		t.Fatalf("newsletter %v", s)
	}

	// The login page emails a link (captured by the emulator) that opens a session.
	l := &portalClient{t: t, cookies: map[string]string{}}
	form := wantStatus(t, l.do("GET", "/portal/"+tenant+"/login", nil), 200)
	wantStatus(t, l.do("POST", "/portal/"+tenant+"/login", url.Values{"csrf": {l.csrf(form)}, "email": {email}}), 200)
	var found string
	for deadline := time.Now().Add(5 * time.Second); found == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		mails, err := env.stack.Mailbox(context.Background())
		if err != nil {
			t.Fatal("the test stack has no mailbox:", err)
		}
		for _, e := range mails {
			if slices.Contains(e.Recipients(), email) {
				found = regexp.MustCompile(`https?://\S+/portal/` + tenant + `/t/\S+`).FindString(e.Text)
			}
		}
	}
	if found == "" {
		t.Fatal("no login email")
	}
	page = wantStatus(t, l.do("GET", found, nil), 200)
	wantStatus(t, l.do("POST", found, url.Values{"csrf": {l.csrf(page)}}), 303)
	wantStatus(t, l.do("GET", "/portal/"+tenant, nil), 200)
	wantStatus(t, l.do("GET", "/portal/"+tenant+"/rights/erase", nil), 200)

	g := wantStatus(t, l.do("GET", "/.well-known/gpc.json", nil), 200)
	if !strings.Contains(g.body, `"gpc":true`) {
		t.Fatalf("gpc.json %s", g.body)
	}
}

// TestPortalSecretRotation: a portal function built after the portal secret was rotated
// (AWSCURRENT new, AWSPREVIOUS old) still accepts sessions sealed with the old key, and seals
// with the new one.
func TestPortalSecretRotation(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(env.stack.AWS.AWS)
	secretOf := func(k portallink.Key) *string {
		b, _ := json.Marshal(k)
		return aws.String(string(b))
	}
	oldKey := portallink.Key{ID: "k1", Secret: strings.Repeat("o", 48)}
	newKey := portallink.Key{ID: "k2", Secret: strings.Repeat("n", 48)}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("portal-rotation-%d", time.Now().UnixNano())), SecretString: secretOf(oldKey)})
	if err != nil {
		t.Fatal(err)
	}
	build := func() wire.HTTPHandler {
		t.Helper()
		b, ok := registry.Builder("PortalOverview")
		if !ok {
			t.Fatal("no PortalOverview builder")
		}
		vars := map[string]string{"TABLE_NAME": env.stack.Table, "PORTAL_SECRET_ARN": aws.ToString(out.ARN)}
		h, err := wire.Build(ctx, b, func(k string) string { return vars[k] }, env.stack.AWS.AWS, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return h.(wire.HTTPHandler)
	}
	id, _ := newProfile(t, nil)
	keysOf := func(k ...portallink.Key) *session.Keys {
		ks, err := session.NewKeys(k[0], k[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	line, _ := keysOf(oldKey).Cookie(session.New(tenant, id, session.ViaLink, time.Now()), time.Now())
	c, _ := http.ParseSetCookie(line)
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: "GET /portal/{tenant}", RawPath: "/portal/" + tenant, PathParameters: map[string]string{"tenant": tenant},
		Cookies: []string{c.Name + "=" + c.Value}, Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/portal/" + tenant}},
	}
	if r, _ := build()(ctx, ev); r.StatusCode != 200 {
		t.Fatalf("before the rotation: %d", r.StatusCode)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: out.ARN, SecretString: secretOf(newKey)}); err != nil {
		t.Fatal(err)
	}
	r, _ := build()(ctx, ev)
	if r.StatusCode != 200 {
		t.Fatalf("after the rotation an old session got %d", r.StatusCode)
	}
	var resealed string
	for _, l := range r.Cookies {
		if rc, err := http.ParseSetCookie(l); err == nil && rc.Name == c.Name {
			resealed = rc.Value
		}
	}
	if _, err := keysOf(newKey).Open(tenant, resealed, time.Now()); err != nil {
		t.Fatal("the session was not resealed with the new key")
	}
	if _, err := keysOf(oldKey).Open(tenant, resealed, time.Now()); err == nil {
		t.Fatal("the session was resealed with the old key")
	}
}

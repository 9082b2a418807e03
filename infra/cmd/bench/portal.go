package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/portal/session"
)

// httpHandler is the signature of an API route's handler.
type httpHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Section 8: the hosted portal's pages, through the stack and by calling their handlers.

// portalWarmup is the unmeasured rounds before the measured ones (fills the brand, catalog
// and key caches of the stack's handlers and of the directly called ones).
const portalWarmup = 10

// portalTarget is one page the bench opens.
type portalTarget struct {
	name, function, route string // route: the template's path
	path                  string
	params                map[string]string
	signedIn              bool
	marker                string // something the page must contain
}

// browser keeps the portal's cookies itself (they are __Host- Secure cookies and the stack
// is plain http, so net/http/cookiejar would not send them) and follows no redirects.
type browser struct {
	base    string
	client  *http.Client
	cookies map[string]string
}

func (b *browser) do(ctx context.Context, method, target string, form url.Values) (int, http.Header, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if !strings.HasPrefix(target, "http") {
		target = b.base + target
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	for _, k := range slices.Sorted(maps.Keys(b.cookies)) {
		req.AddCookie(&http.Cookie{Name: k, Value: b.cookies[k]})
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	keepCookies(b.cookies, resp.Cookies())
	return resp.StatusCode, resp.Header, out, nil
}

func keepCookies(jar map[string]string, set []*http.Cookie) {
	for _, c := range set {
		if c.MaxAge < 0 {
			delete(jar, c.Name)
		} else {
			jar[c.Name] = c.Value
		}
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// mintLink asks the API for a portal link of a profile (body: profileId, maybe topic).
func mintLink(ctx context.Context, b *bench, body map[string]any) (map[string]any, error) {
	c := newClient(b.st.URL, 1)
	defer c.CloseIdleConnections()
	status, out, err := c.do(ctx, http.MethodPost, "/v1/portal-links", b.fix.writeKey, body)
	if err == nil && status != http.StatusCreated {
		err = fmt.Errorf("POST /v1/portal-links answered %d: %.300s", status, out)
	}
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(out, &m)
	}
	return m, err
}

// signIn signs in to the portal as the profile's person would: a brand link from the API,
// GET of its page, POST of its Continue form. It returns the browser holding the session
// and how long the GET and the POST took.
func signIn(ctx context.Context, b *bench, profileID string) (*browser, [2]time.Duration, error) {
	var took [2]time.Duration
	link, err := mintLink(ctx, b, map[string]any{"profileId": profileID})
	if err != nil {
		return nil, took, err
	}
	open, _ := link["url"].(string)
	br := &browser{base: b.st.URL, cookies: map[string]string{}, client: &http.Client{Timeout: 30 * time.Second,
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t0 := time.Now()
	status, _, page, err := br.do(ctx, http.MethodGet, open, nil)
	took[0] = time.Since(t0)
	if err != nil || status != http.StatusOK {
		return nil, took, fmt.Errorf("open the portal link %q: status %d, %v: %.300s", open, status, err, page)
	}
	m := csrfField.FindSubmatch(page)
	if m == nil {
		return nil, took, fmt.Errorf("the link's page has no form token: %.300s", page)
	}
	t0 = time.Now()
	status, h, page, err := br.do(ctx, http.MethodPost, open, url.Values{"csrf": {string(m[1])}})
	took[1] = time.Since(t0)
	if err != nil || status != http.StatusSeeOther || br.cookies[session.CookieName(benchTenant)] == "" {
		return nil, took, fmt.Errorf("continue: status %d (Location %q), %v: %.300s", status, h.Get("Location"), err, page)
	}
	return br, took, nil
}

// routeKey is the template's GET (or ANY) route key of a function for a path pattern.
func routeKey(st *localstack.Stack, function, path string) (string, error) {
	fn, ok := st.Template.Function(function)
	if !ok {
		return "", fmt.Errorf("template.yaml has no %s", function)
	}
	for _, r := range fn.Routes {
		if r.Path == path && (r.Method == http.MethodGet || r.Method == "ANY") {
			return r.Key(), nil
		}
	}
	return "", fmt.Errorf("%s has no GET route %s", function, path)
}

// portalBench measures section 8.
func portalBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg, st := b.cfg, b.st
	db := dynamodb.NewFromConfig(st.AWS.AWS)
	_, k, err := seed.Key(ctx, dynamo.New(db, st.Table), benchTenant, "bench-portal", []apikey.Scope{apikey.Write})
	if err != nil {
		return err
	}
	svc := quietService(st)
	p, err := newPerson(ctx, svc, "portal", cfg.dsrEvents, k.ID)
	if err != nil {
		return err
	}
	// An open request, so that the overview and the rights page list one.
	if _, err := svc.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: p.ID, Type: dsr.Rectification, Verification: dsr.AttestedBrand},
		app.RequestWrite{Actor: operator.Actor}); err != nil {
		return fmt.Errorf("rectification request: %w", err)
	}
	topic, err := mintLink(ctx, b, map[string]any{"profileId": p.ID, "topic": "newsletter"})
	if err != nil {
		return err
	}
	unsub := strings.Trim(fmt.Sprint(topic["listUnsubscribe"]), "<>")
	unsubURL, err := url.Parse(unsub)
	if err != nil || !strings.HasPrefix(unsubURL.Path, "/portal/"+benchTenant+"/unsubscribe/") {
		return fmt.Errorf("portal link: listUnsubscribe %q", unsub)
	}
	unsubToken := strings.TrimPrefix(unsubURL.Path, "/portal/"+benchTenant+"/unsubscribe/")
	// A second link, never used: its landing page (the Continue button) is measured too.
	spare, err := mintLink(ctx, b, map[string]any{"profileId": p.ID})
	if err != nil {
		return err
	}
	spareURL, err := url.Parse(fmt.Sprint(spare["url"]))
	if err != nil {
		return err
	}
	spareToken := strings.TrimPrefix(spareURL.Path, "/portal/"+benchTenant+"/t/")
	br, took, err := signIn(ctx, b, p.ID)
	if err != nil {
		return err
	}
	defer br.client.CloseIdleConnections()

	tableSize, err := tableItems(ctx, db, st.Table)
	if err != nil {
		return err
	}
	base := "/portal/" + benchTenant
	signedInMarker := `action="` + base + `/logout"`
	tenant := map[string]string{"tenant": benchTenant}
	targets := []portalTarget{
		{name: "overview", function: "PortalOverview", route: "/portal/{tenant}", path: base, signedIn: true, marker: p.Email},
		{name: "details", function: "PortalDetails", route: "/portal/{tenant}/details", path: base + "/details", signedIn: true, marker: `name="attr-givenName" value="Ada"`},
		{name: "subscriptions", function: "PortalSubscriptions", route: "/portal/{tenant}/subscriptions", path: base + "/subscriptions", signedIn: true, marker: "topic-newsletter"},
		{name: "consents", function: "PortalConsents", route: "/portal/{tenant}/consents", path: base + "/consents", signedIn: true, marker: `name="purpose"`},
		{name: "rights", function: "PortalRights", route: "/portal/{tenant}/rights", path: base + "/rights", signedIn: true, marker: `name="action"`},
		{name: "history", function: "PortalHistory", route: "/portal/{tenant}/history", path: base + "/history", signedIn: true, marker: base + "/history?page=2"},
		{name: "login", function: "PortalLogin", route: "/portal/{tenant}/login", path: base + "/login", marker: `name="email"`},
		{name: "unsubscribe confirmation", function: "PortalUnsubscribe", route: "/portal/{tenant}/unsubscribe/{token}",
			path: unsubURL.Path, marker: `action="` + unsubURL.Path + `"`},
		{name: "link landing (Continue)", function: "PortalOpen", route: "/portal/{tenant}/t/{token}", path: spareURL.Path, marker: `name="csrf"`},
	}
	for i := range targets {
		t := &targets[i]
		t.params = maps.Clone(tenant)
		switch t.function {
		case "PortalUnsubscribe":
			t.params["token"] = unsubToken
		case "PortalOpen":
			t.params["token"] = spareToken
		}
	}

	// The stack's own handlers, called directly.
	handlers := make([]httpHandler, len(targets))
	routeKeys := make([]string, len(targets))
	for i, t := range targets {
		if routeKeys[i], err = routeKey(st, t.function, t.route); err != nil {
			return err
		}
		var ok bool
		if handlers[i], ok = b.handlers[t.function].(httpHandler); !ok {
			return fmt.Errorf("%s's handler is %T", t.function, b.handlers[t.function])
		}
	}
	host := strings.TrimPrefix(st.URL, "http://")
	direct := maps.Clone(br.cookies) // the directly called handlers' browser

	type acc struct {
		http, direct, sdk, rest []time.Duration
		sizes                   []int
		body                    []byte
		calls                   map[string]int
	}
	accs := make([]acc, len(targets))
	for i := range accs {
		accs[i].calls = map[string]int{}
	}
	check := func(t portalTarget, status int, ctype string, body []byte) error {
		switch {
		case status != http.StatusOK:
			return fmt.Errorf("%s answered %d: %.300s", t.name, status, body)
		case !strings.HasPrefix(ctype, "text/html"):
			return fmt.Errorf("%s answered %q", t.name, ctype)
		case !bytes.Contains(body, []byte(t.marker)):
			return fmt.Errorf("%s lacks %q", t.name, t.marker)
		case bytes.Contains(body, []byte(signedInMarker)) != t.signedIn:
			return fmt.Errorf("%s: signed in is %v, want %v", t.name, !t.signedIn, t.signedIn)
		}
		return nil
	}
	for round := range portalWarmup + cfg.portalN {
		measured := round >= portalWarmup
		for i, t := range targets {
			a := &accs[i]
			t0 := time.Now()
			status, hdr, body, err := br.do(ctx, http.MethodGet, t.path, nil)
			d := time.Since(t0)
			if err == nil {
				err = check(t, status, hdr.Get("Content-Type"), body)
			}
			if err != nil {
				return fmt.Errorf("through the stack: %w", err)
			}

			ev := portalEvent(host, routeKeys[i], t.path, t.params, direct)
			b.timer.take()
			t1 := time.Now()
			resp, err := handlers[i](b.timer.timed(ctx), ev)
			dd := time.Since(t1)
			calls, spent := b.timer.take()
			if err == nil {
				err = check(t, resp.StatusCode, resp.Headers["Content-Type"], []byte(resp.Body))
			}
			if err != nil {
				return fmt.Errorf("called directly: %w", err)
			}
			for _, line := range resp.Cookies {
				if c, err := http.ParseSetCookie(line); err == nil {
					keepCookies(direct, []*http.Cookie{c})
				}
			}
			if !measured {
				continue
			}
			a.http, a.direct, a.sdk, a.rest = append(a.http, d), append(a.direct, dd), append(a.sdk, spent), append(a.rest, dd-spent)
			a.sizes = append(a.sizes, len(body))
			if a.body == nil {
				a.body = body
			}
			for op, n := range calls {
				a.calls[op] += n
			}
		}
	}
	para(w, "A person like section 7's (%d ledger events, plus an open rectification request), signed in as a "+
		"browser would: POST /v1/portal-links, GET of the link (%.1f ms), POST of its Continue form (%.1f ms, 303 with "+
		"the session cookie). The client carries the __Host- cookies itself and sends no Sec-GPC, so no page writes. "+
		"%d measured GETs per page after %d warm-up rounds, the pages in turn, one client. \"link landing\" is a "+
		"second, unused link's page.", cfg.dsrEvents, ms(took[0]), ms(took[1]), cfg.portalN, portalWarmup)
	para(w, "HTTP: as the client sees it through the local stack. hdl: the stack's own handler invoked directly with "+
		"the events.APIGatewayV2HTTPRequest the emulation would send, right after each HTTP request; SDK is the summed "+
		"time of its AWS SDK calls in that invocation (the embedded emulator over loopback), rest the handler minus "+
		"that: session, page logic and templ rendering. Bytes are the uncompressed HTML as sent (median; "+
		"spread is the largest minus the smallest) and the same body gzipped at level 6. Milliseconds.")
	fmt.Fprintln(w)
	rows := []string{"page\tbytes\tspread\tgzip\tHTTP p50\tp99\thdl p50\tp99\tSDK p50\trest\tSDK calls per request"}
	for i, t := range targets {
		a := accs[i]
		sizes := slices.Sorted(slices.Values(a.sizes))
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
		_, _ = zw.Write(a.body)
		_ = zw.Close()
		var calls []string
		for _, op := range slices.Sorted(maps.Keys(a.calls)) {
			calls = append(calls, fmt.Sprintf("%s %.2f", strings.TrimPrefix(op, "DynamoDB."), float64(a.calls[op])/float64(len(a.direct))))
		}
		h, d, sdk, rest := distOf(a.http), distOf(a.direct), distOf(a.sdk), distOf(a.rest)
		rows = append(rows, fmt.Sprintf("%s\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s", t.name, sizes[len(sizes)/2],
			sizes[len(sizes)-1]-sizes[0], gz.Len(), h.P50Ms, h.P99Ms, d.P50Ms, d.P99Ms, sdk.P50Ms, rest.P50Ms, strings.Join(calls, ", ")))
	}
	table(w, rows...)
	para(w, "SDK calls are DynamoDB operations unless named otherwise; a cache expiring during the run shows as a "+
		"fraction of a call. The overview, rights and history pages each make one Query; the emulator's Query walks "+
		"every item of the table (%d items here), so their SDK time reflects the emulator and the table's size more "+
		"than the page.", tableSize)
	return nil
}

// portalEvent is the payload format 2.0 event the API Gateway emulation would send for a
// browser's GET of path (see infra/apigw), with the browser's cookies.
func portalEvent(host, routeKey, path string, params, cookies map[string]string) events.APIGatewayV2HTTPRequest {
	var jar []string
	for _, k := range slices.Sorted(maps.Keys(cookies)) {
		jar = append(jar, k+"="+cookies[k])
	}
	_, port, _ := net.SplitHostPort(host)
	now := time.Now()
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: path, Cookies: jar, PathParameters: params,
		Headers: map[string]string{"accept": "text/html", "host": host, "user-agent": "Go-http-client/1.1",
			"x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http", "x-forwarded-port": port},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: routeKey, AccountID: "000000000000", Stage: "$default", RequestID: "bench-portal",
			DomainName: host, DomainPrefix: strings.Split(host, ".")[0],
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: path, Protocol: "HTTP/1.1",
				SourceIP: "127.0.0.1", UserAgent: "Go-http-client/1.1"},
		},
	}
}

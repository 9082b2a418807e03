package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/portal/session"
)

// Section 8: the hosted portal's pages, through the stack and by calling their handlers.

// httpHandler is the signature of an API route's handler.
type httpHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// portalWarmup is the unmeasured rounds before the measured ones (fills the brand, catalog
// and key caches of the stack's handlers and of the directly called ones).
const portalWarmup = 10

// browser keeps the portal's cookies itself (they are __Host- Secure cookies and the stack
// is plain http, so net/http/cookiejar would not send them) and follows no redirects.
type browser struct {
	base    string
	client  *http.Client
	cookies map[string]string
}

func (b *browser) do(ctx context.Context, method, target string, form url.Values) (int, http.Header, []byte, error) {
	if !strings.HasPrefix(target, "http") {
		target = b.base + target
	}
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(form.Encode()))
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
	keepCookies(b.cookies, resp.Cookies())
	return resp.StatusCode, resp.Header, out, err
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

// link is the part of POST /v1/portal-links' answer the bench reads.
type link struct {
	URL             string `json:"url"`
	ListUnsubscribe string `json:"listUnsubscribe"`
}

// mintLink asks the API for a portal link of a profile, of a topic unless it is "".
func mintLink(ctx context.Context, b *bench, profileID, topic string) (link, error) {
	body := map[string]any{"profileId": profileID}
	if topic != "" {
		body["topic"] = topic
	}
	var l link
	return l, b.c.call(ctx, http.MethodPost, "/v1/portal-links", b.fix.writeKey, body, http.StatusCreated, &l)
}

// signIn signs in to the portal as the profile's person would: a brand link from the API,
// GET of its page, POST of its Continue form. It returns the browser holding the session
// and how long the GET and the POST took.
func signIn(ctx context.Context, b *bench, profileID string) (*browser, [2]time.Duration, error) {
	var took [2]time.Duration
	l, err := mintLink(ctx, b, profileID, "")
	if err != nil {
		return nil, took, err
	}
	br := &browser{base: b.st.URL, cookies: map[string]string{}, client: &http.Client{Timeout: 30 * time.Second,
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	t0 := time.Now()
	status, _, page, err := br.do(ctx, http.MethodGet, l.URL, nil)
	took[0] = time.Since(t0)
	m := csrfField.FindSubmatch(page)
	if err != nil || status != http.StatusOK || m == nil {
		return nil, took, fmt.Errorf("open the portal link: status %d, %v: %.300s", status, err, page)
	}
	t0 = time.Now()
	status, _, page, err = br.do(ctx, http.MethodPost, l.URL, url.Values{"csrf": {string(m[1])}})
	took[1] = time.Since(t0)
	if err != nil || status != http.StatusSeeOther || br.cookies[session.CookieName(benchTenant)] == "" {
		return nil, took, fmt.Errorf("continue: status %d, %v: %.300s", status, err, page)
	}
	return br, took, nil
}

// getRoute is the template's first GET (or ANY) route of a function.
func getRoute(st *localstack.Stack, function string) (template.Route, error) {
	fn, _ := st.Template.Function(function)
	for _, r := range fn.Routes {
		if r.Method == http.MethodGet || r.Method == "ANY" {
			return r, nil
		}
	}
	return template.Route{}, fmt.Errorf("template.yaml has no GET route of %s", function)
}

// portalBench measures section 8: each page through the stack and by calling its handler.
func portalBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg, st := b.cfg, b.st
	p, err := newPerson(ctx, b, "portal")
	if err != nil {
		return err
	}
	// An open request, so that the overview and the rights page list one.
	if _, err := b.quiet.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: p.ID, Type: dsr.Rectification, Verification: dsr.AttestedBrand},
		app.RequestWrite{Actor: operator.Actor}); err != nil {
		return fmt.Errorf("rectification request: %w", err)
	}
	topic, err := mintLink(ctx, b, p.ID, "newsletter")
	if err != nil {
		return err
	}
	// A second link, never used: its landing page (the Continue button) is measured too.
	spare, err := mintLink(ctx, b, p.ID, "")
	if err != nil {
		return err
	}
	br, took, err := signIn(ctx, b, p.ID)
	if err != nil {
		return err
	}
	defer br.client.CloseIdleConnections()
	tableSize, err := tableItems(ctx, b)
	if err != nil {
		return err
	}
	token := func(u string) string { return u[strings.LastIndex(u, "/")+1:] }
	targets := []struct {
		name, function, token string
		signedIn              bool
	}{
		{"overview", "PortalOverview", "", true},
		{"details", "PortalDetails", "", true},
		{"subscriptions", "PortalSubscriptions", "", true},
		{"consents", "PortalConsents", "", true},
		{"rights", "PortalRights", "", true},
		{"history", "PortalHistory", "", true},
		{"login", "PortalLogin", "", false},
		{"unsubscribe confirmation", "PortalUnsubscribe", token(strings.Trim(topic.ListUnsubscribe, "<>")), false},
		{"link landing (Continue)", "PortalOpen", token(spare.URL), false},
	}
	signedInMarker := []byte(`action="/portal/` + benchTenant + `/logout"`)
	check := func(name string, signedIn bool, status int, ctype string, body []byte) error {
		if status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") || bytes.Contains(body, signedInMarker) != signedIn {
			return fmt.Errorf("%s answered %d %q (want 200, signed in %v): %.300s", name, status, ctype, signedIn, body)
		}
		return nil
	}
	direct := maps.Clone(br.cookies) // the directly called handlers' browser
	rows := []string{"page\tbytes\tspread\tgzip\tHTTP p50\tp99\thdl p50\tp99\tSDK p50\trest\tSDK calls per request"}
	for _, t := range targets {
		route, err := getRoute(st, t.function)
		if err != nil {
			return err
		}
		params := map[string]string{"tenant": benchTenant, "token": t.token}
		path := strings.NewReplacer("{tenant}", benchTenant, "{token}", t.token).Replace(route.Path)
		handler, _ := b.handlers[t.function].(httpHandler)
		var lat, hdl, sdk, rest []time.Duration
		var sizes []int
		var first []byte
		calls := map[string]int{}
		for round := range portalWarmup + cfg.portalN {
			t0 := time.Now()
			status, hdr, body, err := br.do(ctx, http.MethodGet, path, nil)
			d := time.Since(t0)
			if err = cmp.Or(err, check(t.name, t.signedIn, status, hdr.Get("Content-Type"), body)); err != nil {
				return fmt.Errorf("through the stack: %w", err)
			}
			var resp events.APIGatewayV2HTTPResponse
			dd, spent, err := b.timer.call(ctx, calls, func(ctx context.Context) (err error) {
				resp, err = handler(ctx, apiEvent(st.URL, http.MethodGet, route.Key(), path, "", params, direct, nil))
				return err
			})
			if err = cmp.Or(err, check(t.name, t.signedIn, resp.StatusCode, resp.Headers["Content-Type"], []byte(resp.Body))); err != nil {
				return fmt.Errorf("called directly: %w", err)
			}
			for _, line := range resp.Cookies {
				if c, err := http.ParseSetCookie(line); err == nil {
					keepCookies(direct, []*http.Cookie{c})
				}
			}
			if round < portalWarmup {
				clear(calls)
				continue
			}
			lat, hdl, sdk, rest = append(lat, d), append(hdl, dd), append(sdk, spent), append(rest, dd-spent)
			sizes = append(sizes, len(body))
			if first == nil {
				first = body
			}
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(first)
		zw.Close()
		h, d, s, r := distOf(lat), distOf(hdl), distOf(sdk), distOf(rest)
		slices.Sort(sizes)
		rows = append(rows, fmt.Sprintf("%s\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s", t.name, sizes[len(sizes)/2],
			sizes[len(sizes)-1]-sizes[0], gz.Len(), h.P50, h.P99, d.P50, d.P99, s.P50, r.P50, formatCounts(calls, len(hdl), 2)))
	}
	note(w, "A person like section 7's (%d ledger events, an open request), signed in through a link (GET %.1f ms, POST Continue %.1f ms).",
		cfg.dsrEvents, ms(took[0]), ms(took[1]))
	note(w, "%d measured GETs per page after %d warm-up rounds, one client. hdl: the stack's handler called directly with the event;", cfg.portalN, portalWarmup)
	note(w, "SDK: its AWS SDK calls' summed time (DynamoDB unless named), rest: the handler minus that. Bytes: HTML (median, spread), gzipped. ms.\n")
	table(w, rows...)
	note(w, "The emulator's Query walks every item of the table (%d here): the Query pages' SDK time reflects that more than the page.", tableSize)
	return nil
}

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Section 7: persons with 1,000 ledger events ask for access and then for erasure.

const (
	dsrPoll  = 20 * time.Millisecond // how often the client asks GET /v1/requests/{id}
	dsrBound = 60 * time.Second      // the longest the client waits for one request
)

// figure is one measured value of one person; a person's figures come in print order.
type figure struct {
	name, unit string
	v          float64
}

// jobName is the worker that carries out a request of each type.
var jobName = map[dsr.Type]string{dsr.Access: "ProcessExport", dsr.Erasure: "ProcessErasure"}

// attestation is the reason of the bench's attested requests (no emailed confirmation).
const attestation = "identity checked by the support desk"

// dsrBench measures section 7 through the HTTP API and the stack's workers. The DynamoDB
// requests of each job are deterministic: make test asserts them (TestJobRequestCounts).
func dsrBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg := b.cfg
	t0 := time.Now()
	people := make([]string, cfg.dsrPersons)
	for i := range people {
		var err error
		if people[i], err = newPerson(ctx, b, "dsr"); err != nil {
			return err
		}
	}
	generated := time.Since(t0)
	items, err := tableItems(ctx, b)
	if err != nil {
		return err
	}
	var figs [][]figure // per person
	for _, id := range people {
		var f []figure
		for _, typ := range []dsr.Type{dsr.Access, dsr.Erasure} {
			jf, err := dsrRequest(ctx, b, id, typ)
			if err != nil {
				return fmt.Errorf("person %s, %s: %w", id, typ, err)
			}
			f = append(f, jf...)
		}
		figs = append(figs, f)
	}
	note(w, "%d persons, each with 3 identities, 8 attributes, 2 consents, 2 subscriptions and %d ledger events (written in %.1fs).",
		cfg.dsrPersons, cfg.dsrEvents, generated.Seconds())
	note(w, "POST /v1/requests, then GET /v1/requests/{id} every %.0f ms until completed; job times clocked around the stack's worker.", ms(dsrPoll))
	note(w, "Table items before: %d. The jobs' DynamoDB requests are asserted by make test (TestJobRequestCounts).\n", items)
	rows := []string{"figure\tunit\tmedian\tmin\tmax"}
	for j, f := range figs[0] {
		var v []float64
		for _, p := range figs {
			v = append(v, p[j].v)
		}
		num, sp := "%.1f", spreadOf(v)
		if f.unit != "ms" {
			num = "%.0f"
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t"+num+"\t"+num+"\t"+num, f.name, f.unit, sp.Median, sp.Min, sp.Max))
	}
	table(w, rows...)
	return nil
}

// sqsJob is the SQS event that hands a job worker the request, as the queue delivers it.
func sqsJob(requestID string) events.SQSEvent {
	body, _ := json.Marshal(dsr.JobMessage{Tenant: benchTenant, RequestID: requestID})
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: "bench-" + requestID, Body: string(body),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs"}}}
}

// quietRequest records an attested request without an outbox item: the workers never see it.
func quietRequest(ctx context.Context, b *bench, profileID string, typ dsr.Type) (string, error) {
	res, err := b.quiet.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: profileID, Type: typ,
		Verification: dsr.AttestedBrand, AttestationReason: attestation}, app.RequestWrite{Actor: operator.Actor})
	if err != nil {
		return "", fmt.Errorf("%s request: %w", typ, err)
	}
	return res.Request.ID, nil
}

// requestView is the part of GET /v1/requests/{id} the bench reads.
type requestView struct {
	ID      string     `json:"id"`
	Status  dsr.Status `json:"status"`
	Failure string     `json:"failure"`
	Export  *struct {
		Bytes int64 `json:"bytes"`
	} `json:"export"`
	Download *struct {
		URL string `json:"url"`
	} `json:"download"`
}

// dsrRequest posts a request, polls it until closed and downloads an export as a brand would.
func dsrRequest(ctx context.Context, b *bench, profileID string, typ dsr.Type) ([]figure, error) {
	c, key := b.c, b.fix.keys[apikey.Requests]
	var v requestView
	t0 := time.Now()
	err := c.call(ctx, http.MethodPost, "/v1/requests", key, map[string]any{"profileId": profileID, "type": typ, "attested": true,
		"attestationReason": attestation}, http.StatusCreated, &v)
	posted := ms(time.Since(t0))
	var seen time.Time
	if err == nil {
		err = poll(ctx, dsrPoll, dsrBound, func() (bool, error) {
			err := c.call(ctx, http.MethodGet, "/v1/requests/"+v.ID, key, nil, http.StatusOK, &v)
			seen = time.Now()
			return v.Status != dsr.Pending && v.Status != dsr.InProgress, err
		})
	}
	if err == nil && v.Status != dsr.Completed {
		err = fmt.Errorf("ended %s: %s", v.Status, v.Failure)
	}
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", v.ID, err)
	}
	run := b.rec.run(v.ID)
	figs := []figure{
		{string(typ) + ": POST -> completed seen", "ms", ms(seen.Sub(t0))},
		{"  POST /v1/requests answered", "ms", posted},
		{"  POST sent -> " + jobName[typ] + " invoked", "ms", ms(run.Start.Sub(t0))},
		{"  " + jobName[typ] + " in the stack", "ms", ms(run.End.Sub(run.Start))},
		{"  job done -> completed seen by the poll", "ms", ms(seen.Sub(run.End))},
		{"  " + jobName[typ] + " invocations", "count", float64(run.Invocations)},
	}
	if typ != dsr.Access {
		return figs, nil
	}
	if v.Export == nil || v.Download == nil {
		return nil, errors.New("the completed access request has no export or download link")
	}
	t0 = time.Now()
	status, _, zip, err := fetch(c.Client, v.Download.URL, nil)
	download := ms(time.Since(t0))
	if err != nil || status != http.StatusOK || int64(len(zip)) != v.Export.Bytes {
		return nil, fmt.Errorf("download: status %d, %d of %d bytes, %v", status, len(zip), v.Export.Bytes, err)
	}
	return append(figs, figure{"export ZIP (export.bytes)", "bytes", float64(len(zip))},
		figure{"download: GET presigned download.url", "ms", download}), nil
}

// personSeq numbers the persons of this run; phoneBase makes their phone numbers unique.
var (
	personSeq atomic.Int64
	phoneBase = time.Now().UnixNano() / 1000 % 1e8
)

// newPerson creates a person (sections 7 and 8) as the export and erasure tests do, with changes
// by several kinds of actor until the ledger holds cfg.dsrEvents events; it returns the id.
func newPerson(ctx context.Context, b *bench, tag string) (string, error) {
	svc, keyID := b.quiet, b.fix.keyIDs[apikey.Write]
	n, stamp := personSeq.Add(1), time.Now().UnixNano()
	res, err := svc.CreateProfile(ctx, benchTenant, app.Create{
		Identities: []app.IdentityInput{{Type: "email", Value: fmt.Sprintf("%s-%d-%d@example.com", tag, stamp, n)},
			{Type: "phone", Value: fmt.Sprintf("+48 6%08d", (phoneBase+n)%1e8)},
			{Type: "customer_id", Value: fmt.Sprintf("C-%s-%d-%d", tag, stamp%1e9, n)}},
		Patch: app.Patch{Attributes: map[string]any{"givenName": "Ada", "familyName": "Nowak", "locale": "en", "country": "PL",
			"loyalty_tier": "gold", "shoe_size": 38.5, "vip": true, "birth_date": "1990-05-31"}},
		Consents: map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2, Locale: "en"},
			"partners": {Status: profile.Denied, NoticeVersion: 1}},
		Subscriptions: map[string]profile.SubscriptionInput{"newsletter": {Status: profile.Subscribed, Frequency: "monthly"},
			"offers": {Status: profile.Subscribed, Channels: []string{"email", "sms"}, Frequency: "weekly"}},
	}, app.Write{Actor: ledger.Actor{Kind: ledger.ActorAPIKey, ID: keyID}})
	if err != nil {
		return "", fmt.Errorf("create person: %w", err)
	}
	id := res.Profile.ID
	actors := []ledger.Actor{{Kind: ledger.ActorAPIKey, ID: keyID}, {Kind: ledger.ActorPortal}, {Kind: ledger.ActorSync, ID: "crm"}, {Kind: ledger.ActorOperator, ID: "support"}}
	granted := false
	for i, seq := 0, res.Profile.LedgerSeq; seq < int64(b.cfg.dsrEvents); i++ {
		w := app.Write{Actor: actors[i%len(actors)]}
		if i%5 == 4 {
			res, err = svc.UpdateProfile(ctx, benchTenant, id, app.Patch{Attributes: map[string]any{"shoe_size": float64(36 + i%10)}}, w)
		} else {
			granted = !granted
			res, err = svc.PutConsent(ctx, benchTenant, id, "personalisation", profile.ConsentInput{Status: consentStatus[granted], NoticeVersion: 2}, w)
		}
		if err != nil {
			return "", fmt.Errorf("event %d of person %s: %w", i, id, err)
		}
		seq = res.Profile.LedgerSeq
	}
	return id, nil
}

// tableItems counts the table's items: the emulator's Query walks them all.
func tableItems(ctx context.Context, b *bench) (int64, error) {
	var n int64
	p := dynamodb.NewScanPaginator(b.db, &dynamodb.ScanInput{TableName: &b.st.Table, Select: types.SelectCount})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count table items: %w", err)
		}
		n += int64(page.Count)
	}
	return n, nil
}

// Section 8: the hosted portal's pages, through the stack and by calling their handlers.

// portalWarmup is the unmeasured rounds: they fill the handlers' brand, catalog and key caches.
const portalWarmup = 10

// fetch GETs a page, or POSTs a form if not nil, and returns the status, content type and body.
func fetch(c *http.Client, target string, form url.Values) (int, string, []byte, error) {
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = c.Get(target)
	} else {
		resp, err = c.PostForm(target, form)
	}
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, err
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
	return l, b.c.call(ctx, http.MethodPost, "/v1/portal-links", b.fix.keys[apikey.PortalLinks], body, http.StatusCreated, &l)
}

// signIn opens a link from the API and POSTs its Continue form: the browser holds the session.
func signIn(ctx context.Context, b *bench, profileID string) (*http.Client, [2]time.Duration, error) {
	var took [2]time.Duration
	l, err := mintLink(ctx, b, profileID, "")
	if err != nil {
		return nil, took, err
	}
	// net/http/cookiejar sends the portal's __Host- Secure cookies to the plain-http stack
	// because it is on a loopback address, as browsers do.
	cookies, _ := cookiejar.New(nil)
	br := &http.Client{Jar: cookies, Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t0 := time.Now()
	status, _, page, err := fetch(br, l.URL, nil)
	took[0] = time.Since(t0)
	m := csrfField.FindSubmatch(page)
	if err != nil || status != http.StatusOK || m == nil {
		return nil, took, fmt.Errorf("open the portal link: status %d, %v: %.300s", status, err, page)
	}
	t0 = time.Now()
	status, _, page, err = fetch(br, l.URL, url.Values{"csrf": {string(m[1])}})
	took[1] = time.Since(t0)
	u, _ := url.Parse(l.URL)
	if err != nil || status != http.StatusSeeOther ||
		!slices.ContainsFunc(cookies.Cookies(u), func(c *http.Cookie) bool { return c.Name == session.CookieName(benchTenant) }) {
		return nil, took, fmt.Errorf("continue: status %d, %v: %.300s", status, err, page)
	}
	return br, took, nil
}

// portalBench measures each page through the stack and its handler with the event the stack sent.
func portalBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg, st := b.cfg, b.st
	id, err := newPerson(ctx, b, "portal")
	if err != nil {
		return err
	}
	// An open request, so that the overview and the rights page list one.
	if _, err := quietRequest(ctx, b, id, dsr.Rectification); err != nil {
		return err
	}
	topic, err := mintLink(ctx, b, id, "newsletter")
	if err != nil {
		return err
	}
	// A second link, never used: its landing page (the Continue button) is measured too.
	spare, err := mintLink(ctx, b, id, "")
	if err != nil {
		return err
	}
	br, took, err := signIn(ctx, b, id)
	if err != nil {
		return err
	}
	defer br.CloseIdleConnections()
	tableSize, err := tableItems(ctx, b)
	if err != nil {
		return err
	}
	portal := st.URL + "/portal/" + benchTenant
	targets := []struct {
		name, function, url string
		signedIn            bool
	}{
		{"overview", "PortalOverview", portal, true},
		{"details", "PortalDetails", portal + "/details", true},
		{"subscriptions", "PortalSubscriptions", portal + "/subscriptions", true},
		{"consents", "PortalConsents", portal + "/consents", true},
		{"rights", "PortalRights", portal + "/rights", true},
		{"history", "PortalHistory", portal + "/history", true},
		{"login", "PortalLogin", portal + "/login", false},
		{"unsubscribe confirmation", "PortalUnsubscribe", strings.Trim(topic.ListUnsubscribe, "<>"), false},
		{"link landing (Continue)", "PortalOpen", spare.URL, false},
	}
	signedInMarker := []byte(`action="/portal/` + benchTenant + `/logout"`)
	rows := []string{"page\tbytes\tspread\tgzip\tHTTP p50\tp99\thdl p50\tp99\tSDK p50\trest\tSDK calls per request"}
	for _, t := range targets {
		handler, _ := b.rec.handlers[t.function].(httpHandler)
		// check fails unless the page is HTML, signed in or not as it should be.
		check := func(via string, status int, ctype string, body []byte, err error) error {
			if err == nil && (status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") || bytes.Contains(body, signedInMarker) != t.signedIn) {
				err = fmt.Errorf("answered %d %q (want 200, signed in %v): %.300s", status, ctype, t.signedIn, body)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", t.name, via, err)
			}
			return nil
		}
		var lat, hdl, sdk, rest []time.Duration
		var sizes []int
		var first []byte
		m := &meter{}
		for round := range portalWarmup + cfg.portalN {
			if round == portalWarmup {
				m = &meter{}
			}
			t0 := time.Now()
			status, ctype, body, err := fetch(br, t.url, nil)
			d := time.Since(t0)
			if err := check("through the stack", status, ctype, body, err); err != nil {
				return err
			}
			ev, before, t1 := b.rec.event(t.function), m.spent, time.Now()
			resp, err := handler(m.ctx(ctx), ev)
			dd, spent := time.Since(t1), m.spent-before
			if err := check("called directly", resp.StatusCode, resp.Headers["Content-Type"], []byte(resp.Body), err); err != nil {
				return err
			}
			if round < portalWarmup {
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
			sizes[len(sizes)-1]-sizes[0], gz.Len(), h.P50, h.P99, d.P50, d.P99, s.P50, r.P50, formatCounts(m.calls, len(hdl), 2)))
	}
	note(w, "A person like section 7's (%d ledger events, an open request), signed in through a link (GET %.1f ms, POST Continue %.1f ms).",
		cfg.dsrEvents, ms(took[0]), ms(took[1]))
	note(w, "%d measured GETs per page after %d warm-up rounds, one client. hdl: the stack's handler called directly with the event;", cfg.portalN, portalWarmup)
	note(w, "SDK: its AWS SDK calls' summed time (DynamoDB unless named), rest: the handler minus that. Bytes: HTML (median, spread), gzipped. ms.\n")
	table(w, rows...)
	note(w, "The emulator's Query walks every item of the table (%d here): the Query pages' SDK time reflects that more than the page.", tableSize)
	return nil
}

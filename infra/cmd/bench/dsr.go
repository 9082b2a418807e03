package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Section 7: persons with 1,000 ledger events ask for access and then for erasure.

const (
	dsrPoll  = 20 * time.Millisecond // how often the client asks GET /v1/requests/{id}
	dsrBound = 60 * time.Second      // the longest the client waits for one request
)

// figure is one measured figure's values over the persons.
type figure struct {
	name, unit string
	indent     bool
	values     []float64
}

// figuresOf makes the figures named by "name|unit", indented when the name starts with ">".
func figuresOf(specs ...string) []*figure {
	out := make([]*figure, len(specs))
	for i, s := range specs {
		name, unit, _ := strings.Cut(s, "|")
		out[i] = &figure{name: strings.TrimPrefix(name, ">"), unit: unit, indent: strings.HasPrefix(name, ">")}
	}
	return out
}

// apiFigures and directFigures are the figures of the two paths, in print order.
func apiFigures() []*figure {
	return figuresOf("access: POST -> completed seen|ms", ">POST /v1/requests answered|ms",
		">POST sent -> ProcessExport invoked|ms", ">ProcessExport in the stack|ms", ">job done -> completed seen by the poll|ms",
		"export ZIP (export.bytes)|bytes", "download: GET presigned download.url|ms",
		"erasure: POST -> completed seen|ms", ">POST /v1/requests answered|ms", ">POST sent -> ProcessErasure invoked|ms",
		">ProcessErasure in the stack|ms", ">job done -> completed seen by the poll|ms")
}

func directFigures() []*figure {
	return figuresOf("ProcessExport handler called directly|ms", ">summed AWS SDK call time|ms",
		">export ZIP (export.bytes)|bytes", "ProcessErasure handler called directly|ms", ">summed AWS SDK call time|ms")
}

// requestView is the part of GET /v1/requests/{id} the bench reads.
type requestView struct {
	ID      string     `json:"id"`
	Status  dsr.Status `json:"status"`
	Failure string     `json:"failure"`
	Export  *struct {
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	} `json:"export"`
	Download *struct {
		URL string `json:"url"`
	} `json:"download"`
}

// dsrBench measures section 7: half the persons through the HTTP API and the stack's
// workers, the other half by calling the stack's job handlers directly.
func dsrBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg, st := b.cfg, b.st
	db := dynamodb.NewFromConfig(st.AWS.AWS)
	store := dynamo.New(db, st.Table)
	reqKey, k, err := seed.Key(ctx, store, benchTenant, "bench-requests", []apikey.Scope{apikey.Requests})
	if err != nil {
		return fmt.Errorf("seed requests key: %w", err)
	}
	svc := quietService(st)
	t0 := time.Now()
	people, err := newPersons(ctx, svc, "dsr", 2*cfg.dsrPersons, cfg.dsrEvents, k.ID)
	if err != nil {
		return err
	}
	generated := time.Since(t0)
	c := newClient(st.URL, 4)
	defer c.CloseIdleConnections()
	exportJob, ok1 := b.handlers["ProcessExport"].(queueHandler)
	erasureJob, ok2 := b.handlers["ProcessErasure"].(queueHandler)
	if !ok1 || !ok2 {
		return fmt.Errorf("the job handlers are %T and %T, not queue handlers", b.handlers["ProcessExport"], b.handlers["ProcessErasure"])
	}
	apiFigs, directFigs := apiFigures(), directFigures()
	record := func(figs []*figure, v []float64) {
		for i, f := range figs {
			f.values = append(f.values, v[i])
		}
	}
	var items [2]int64
	var invocations []string
	var calls [2][]map[string]int
	for i, p := range people {
		if i%cfg.dsrPersons == 0 {
			if items[i/cfg.dsrPersons], err = tableItems(ctx, db, st.Table); err != nil {
				return err
			}
		}
		if i < cfg.dsrPersons {
			v, inv, err := dsrThroughAPI(ctx, c, b.jobs, reqKey, b.fix.readKey, p)
			if err != nil {
				return fmt.Errorf("person %s through the API: %w", p.ID, err)
			}
			record(apiFigs, v)
			invocations = append(invocations, inv)
			continue
		}
		v, cs, err := dsrDirect(ctx, c, svc, store, db, st.Table, b.timer, [2]queueHandler{exportJob, erasureJob}, b.fix.readKey, p)
		if err != nil {
			return fmt.Errorf("person %s, handlers called directly: %w", p.ID, err)
		}
		record(directFigs, v)
		calls[0], calls[1] = append(calls[0], cs[0]), append(calls[1], cs[1])
	}
	para(w, "%d persons per path, each with 3 identities, 8 attributes, 2 consents, 2 subscriptions and exactly %d "+
		"ledger events by four kinds of actor (written in %.1fs, not measured). Through the API: POST /v1/requests "+
		"(attested), then GET /v1/requests/{id} every %.0f ms until completed; the presigned download is checked "+
		"(size, sha256, the ZIP's files) and the profile answers 404 after the erasure. Pickup: outbox poller -> "+
		"DispatchEvents -> SQS -> %s; the job's own time is clocked around the stack's worker. Directly: a request "+
		"recorded without an outbox item, then the stack's own handler invoked with the SQS event. Table items: %d "+
		"before the API runs, %d before the direct runs (the emulator's Query walks every item).",
		cfg.dsrPersons, cfg.dsrEvents, generated.Seconds(), ms(dsrPoll), jobPickup(st), items[0], items[1])
	fmt.Fprintln(w)
	rows := []string{"figure\tunit\tmedian\tmin\tmax"}
	for _, f := range append(apiFigs, directFigs...) {
		name, num, sp := f.name, "%.1f", spreadOf(f.values)
		if f.indent {
			name = "  " + name
		}
		if f.unit == "bytes" {
			num = "%.0f"
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t"+num+"\t"+num+"\t"+num, name, f.unit, sp.Median, sp.Min, sp.Max))
	}
	table(w, rows...)
	para(w, "SDK calls of ProcessExport called directly (median per job): %s.", callsSummary(calls[0]))
	para(w, "SDK calls of ProcessErasure called directly (median per job): %s. Its calls overlap (it deletes in "+
		"parallel), so their summed time can exceed the handler's.", callsSummary(calls[1]))
	para(w, "Worker invocations per person (access+erasure): %s.", strings.Join(invocations, ", "))
	return nil
}

// quietService is the use cases over a store that writes no outbox items: nobody needs
// their events, it is much faster, and the stack's workers never see its requests.
func quietService(st *localstack.Stack) *app.Service {
	quiet := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	quiet.DisableOutbox()
	return app.New(quiet, time.Now, time.Minute)
}

// sqsJob is the SQS event that hands a job worker the request, as the queue delivers it.
func sqsJob(requestID string) events.SQSEvent {
	body, _ := json.Marshal(dsr.JobMessage{Tenant: benchTenant, RequestID: requestID})
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: "bench-" + requestID, Body: string(body),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs"}}}
}

// dsrThroughAPI asks for access, downloads and checks the export, then asks for erasure,
// all through the HTTP API with a requests-scoped key, and checks the profile is gone. It
// returns the values of apiFigures and the worker invocations ("access+erasure").
func dsrThroughAPI(ctx context.Context, c *client, jobs *jobClock, reqKey, readKey string, p person) ([]float64, string, error) {
	access, accessInv, done, err := dsrRequest(ctx, c, jobs, reqKey, p.ID, dsr.Access)
	if err != nil {
		return nil, "", fmt.Errorf("access: %w", err)
	}
	if done.Export == nil || done.Download == nil || done.Download.URL == "" {
		return nil, "", errors.New("the completed access request has no export or download link")
	}
	// The download, as the brand's system would fetch it: a plain GET of the presigned URL.
	t0 := time.Now()
	resp, err := c.Get(done.Download.URL)
	if err != nil {
		return nil, "", fmt.Errorf("download: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	download := ms(time.Since(t0))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("download: status %d, %v: %.300s", resp.StatusCode, err, body)
	}
	sum := sha256.Sum256(body)
	if int64(len(body)) != done.Export.Bytes || hex.EncodeToString(sum[:]) != done.Export.SHA256 {
		return nil, "", fmt.Errorf("the download (%d bytes) does not match export %+v", len(body), *done.Export)
	}
	if err := checkZip(body); err != nil {
		return nil, "", err
	}
	erasure, erasureInv, _, err := dsrRequest(ctx, c, jobs, reqKey, p.ID, dsr.Erasure)
	if err != nil {
		return nil, "", fmt.Errorf("erasure: %w", err)
	}
	if err := wantGone(ctx, c, readKey, p.ID); err != nil {
		return nil, "", err
	}
	v := append(access[:], float64(done.Export.Bytes), download)
	return append(v, erasure[:]...), fmt.Sprintf("%d+%d", accessInv, erasureInv), nil
}

// wantGone checks that GET /v1/profiles/{id} answers 404.
func wantGone(ctx context.Context, c *client, readKey, id string) error {
	status, b, err := c.do(ctx, http.MethodGet, "/v1/profiles/"+id, readKey, nil)
	if err == nil && status != http.StatusNotFound {
		err = fmt.Errorf("GET /v1/profiles/%s after the erasure answered %d: %.300s", id, status, b)
	}
	return err
}

// checkZip checks that b is the export ZIP: export.Files, in order.
func checkZip(b []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("the download is not a ZIP: %w", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, export.Files) {
		return fmt.Errorf("the ZIP holds %v, want %v", names, export.Files)
	}
	return nil
}

// dsrRequest posts a request, polls it every dsrPoll until it is closed (at most dsrBound),
// and returns the timings (POST -> completed seen, the POST, POST -> job invoked, the job,
// job done -> seen, in ms; the last three from the job clock), the worker's invocations and
// the completed request.
func dsrRequest(ctx context.Context, c *client, jobs *jobClock, key, profileID string, typ dsr.Type) ([5]float64, int, requestView, error) {
	var t [5]float64
	var v requestView
	get := func(method, path string, body any, want int) error {
		status, b, err := c.do(ctx, method, path, key, body)
		if err == nil && status != want {
			err = fmt.Errorf("%s %s answered %d: %.300s", method, path, status, b)
		}
		if err == nil {
			v = requestView{}
			err = json.Unmarshal(b, &v)
		}
		return err
	}
	t0 := time.Now()
	err := get(http.MethodPost, "/v1/requests", map[string]any{"profileId": profileID, "type": typ, "attested": true}, http.StatusCreated)
	t[1] = ms(time.Since(t0))
	if err != nil {
		return t, 0, v, err
	}
	id := v.ID
	var seen time.Time
	for v.Status == dsr.Pending || v.Status == dsr.InProgress {
		select {
		case <-ctx.Done():
			return t, 0, v, ctx.Err()
		case <-time.After(dsrPoll):
		}
		err := get(http.MethodGet, "/v1/requests/"+id, nil, http.StatusOK)
		if seen = time.Now(); err != nil {
			return t, 0, v, err
		}
		if seen.Sub(t0) > dsrBound {
			return t, 0, v, fmt.Errorf("request %s still %s after %v", id, v.Status, dsrBound)
		}
	}
	t[0] = ms(seen.Sub(t0))
	run, _ := jobs.run(id)
	if run.Invocations > 0 {
		t[2], t[3], t[4] = ms(run.Start.Sub(t0)), ms(run.End.Sub(run.Start)), ms(seen.Sub(run.End))
	}
	if v.Status != dsr.Completed {
		return t, 0, v, fmt.Errorf("request %s ended %s: %s", id, v.Status, v.Failure)
	}
	return t, run.Invocations, v, nil
}

// dsrDirect records an access and then an erasure request for p through the use case
// without an outbox item (so the stack's workers never see them) and runs each job by
// calling the stack's handler (jobs: export, erasure) with the SQS event the queue would
// deliver. It returns the values of directFigures and each job's SDK calls.
func dsrDirect(ctx context.Context, c *client, svc *app.Service, store *dynamo.Store, db *dynamodb.Client, table string,
	timer *sdkTimer, jobs [2]queueHandler, readKey string, p person,
) ([]float64, [2]map[string]int, error) {
	var calls [2]map[string]int
	var v []float64
	for i, typ := range []dsr.Type{dsr.Access, dsr.Erasure} {
		if typ == dsr.Erasure {
			// The erasure job would otherwise wait for the export's outbox items itself.
			if _, err := waitOutboxEmpty(ctx, db, table, drainTimeout); err != nil {
				return nil, calls, err
			}
		}
		res, err := svc.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: p.ID, Type: typ, Verification: dsr.AttestedBrand},
			app.RequestWrite{Actor: operator.Actor})
		if err != nil {
			return nil, calls, err
		}
		timer.take()
		t0 := time.Now()
		resp, err := jobs[i](timer.timed(ctx), sqsJob(res.Request.ID))
		took := time.Since(t0)
		var spent time.Duration
		calls[i], spent = timer.take()
		if err == nil && len(resp.BatchItemFailures) > 0 {
			err = fmt.Errorf("the handler failed the message: %+v", resp.BatchItemFailures)
		}
		var req *dsr.Request
		if err == nil {
			req, err = store.Request(ctx, benchTenant, res.Request.ID)
		}
		if err == nil && (req.Status != dsr.Completed || typ == dsr.Access && (req.Export == nil || req.Export.Bytes == 0)) {
			err = fmt.Errorf("request after the handler: %s, export %+v, failure %q", req.Status, req.Export, req.Failure)
		}
		if err != nil {
			return nil, calls, fmt.Errorf("%s: %w", typ, err)
		}
		v = append(v, ms(took), ms(spent))
		if typ == dsr.Access {
			v = append(v, float64(req.Export.Bytes))
		}
	}
	return v, calls, wantGone(ctx, c, readKey, p.ID)
}

// jobPickup describes how the local stack feeds the job workers.
func jobPickup(st *localstack.Stack) string {
	var parts []string
	for _, id := range []string{"ProcessExport", "ProcessErasure"} {
		fn, _ := st.Template.Function(id)
		for _, q := range fn.Queues {
			parts = append(parts, fmt.Sprintf("%s <- %s (BatchSize %d, batching window %d s)", id, q.QueueLogicalID, q.BatchSize, q.MaxBatchingWindowSeconds))
		}
	}
	return strings.Join(parts, "; ")
}

// callsSummary formats SDK calls per job: the median count per operation.
func callsSummary(runs []map[string]int) string {
	ops := map[string][]float64{}
	var total []float64
	for _, m := range runs {
		for op := range m {
			ops[op] = nil
		}
	}
	for _, m := range runs {
		t := 0
		for op := range ops {
			ops[op] = append(ops[op], float64(m[op]))
			t += m[op]
		}
		total = append(total, float64(t))
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, fmt.Sprintf("%s %g", op, spreadOf(ops[op]).Median))
	}
	return fmt.Sprintf("%g calls: %s", spreadOf(total).Median, strings.Join(parts, ", "))
}

// person is a profile of the bench tenant made for sections 7 and 8.
type person struct {
	ID, Email string
}

// personSeq numbers the persons of this run; phoneBase makes their phone numbers unique.
var (
	personSeq atomic.Int64
	phoneBase = time.Now().UnixNano() / 1000 % 1e8
)

// newPerson creates a person the way the export and erasure tests make theirs, through the
// use cases over a store without outbox items (nobody subscribes to them, and it is much
// faster): three identities, standard and custom attributes, a granted and a denied
// consent, two subscriptions, and then consent toggles and attribute changes by several
// kinds of actor until the ledger holds exactly events events.
func newPerson(ctx context.Context, svc *app.Service, tag string, events int, keyID string) (person, error) {
	n, stamp := personSeq.Add(1), time.Now().UnixNano()
	p := person{Email: fmt.Sprintf("%s-%d-%d@example.com", tag, stamp, n)}
	res, err := svc.CreateProfile(ctx, benchTenant, app.Create{
		Identities: []app.IdentityInput{{Type: "email", Value: p.Email},
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
		return p, fmt.Errorf("create person: %w", err)
	}
	if !res.Created {
		return p, fmt.Errorf("person %s matched an existing profile %s", p.Email, res.Profile.ID)
	}
	p.ID = res.Profile.ID
	actors := []ledger.Actor{{Kind: ledger.ActorAPIKey, ID: keyID}, {Kind: ledger.ActorPortal}, {Kind: ledger.ActorSync, ID: "crm"}, {Kind: ledger.ActorOperator, ID: "support"}}
	granted := false
	for i, seq := 0, res.Profile.LedgerSeq; seq < int64(events); i++ {
		w := app.Write{Actor: actors[i%len(actors)]}
		if i%5 == 4 {
			res, err = svc.UpdateProfile(ctx, benchTenant, p.ID, app.Patch{Attributes: map[string]any{"shoe_size": float64(36 + i%10)}}, w)
		} else {
			granted = !granted
			status := profile.Withdrawn
			if granted {
				status = profile.Granted
			}
			res, err = svc.PutConsent(ctx, benchTenant, p.ID, "personalisation", profile.ConsentInput{Status: status, NoticeVersion: 2}, w)
		}
		if err != nil {
			return p, fmt.Errorf("event %d of person %s: %w", i, p.ID, err)
		}
		seq = res.Profile.LedgerSeq
	}
	cur, err := svc.GetProfile(ctx, benchTenant, p.ID)
	if err != nil {
		return p, err
	}
	if cur.LedgerSeq != int64(events) {
		return p, fmt.Errorf("person %s has %d ledger events, want %d", p.ID, cur.LedgerSeq, events)
	}
	return p, nil
}

// newPersons makes n persons, up to 3 at a time.
func newPersons(ctx context.Context, svc *app.Service, tag string, n, events int, keyID string) ([]person, error) {
	var mu sync.Mutex
	var out []person
	l := load(n, make([]int, 3), func(int, int) error {
		p, err := newPerson(ctx, svc, tag, events, keyID)
		mu.Lock()
		defer mu.Unlock()
		out = append(out, p)
		return err
	})
	return out, l.first
}

// tableItems counts the items of the table (a Scan with Select COUNT). The embedded
// emulator's Query filters every item of the table (kumo's MemoryStorage.Query walks the
// table's items), so Query latencies there grow with this number; DynamoDB reads only the
// queried partition.
func tableItems(ctx context.Context, db *dynamodb.Client, table string) (int64, error) {
	var n int64
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table, Select: types.SelectCount})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count table items: %w", err)
		}
		n += int64(page.Count)
	}
	return n, nil
}

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
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// Section 6: a person with 1,000 ledger events asks for access and then for erasure.

const (
	// dsrPoll is how often the client asks GET /v1/requests/{id} for the status.
	dsrPoll = 20 * time.Millisecond
	// dsrBound is the longest the client waits for one request to complete.
	dsrBound = 60 * time.Second
)

// dsrReport is section 6.
type dsrReport struct {
	Persons      int `json:"personsPerPath"`
	LedgerEvents int `json:"ledgerEventsPerPerson"`
	// GenerateSeconds is the time to write the 2×Persons persons (not measured further).
	GenerateSeconds float64 `json:"generateSeconds"`
	PollMs          float64 `json:"pollIntervalMs"`
	// Table items when the API runs and the direct runs began (see tableItems).
	ItemsBeforeAPI    int64   `json:"tableItemsBeforeAPI"`
	ItemsBeforeDirect int64   `json:"tableItemsBeforeDirect"`
	BoundSeconds      float64 `json:"boundSeconds"`
	// Pickup describes the job queues' event source mappings as the local stack runs them.
	Pickup string `json:"pickup"`
	// API are the requests made through the HTTP API, one per person; Direct the job
	// handlers invoked without the queue, one person each.
	API    []dsrAPIRun    `json:"api"`
	Direct []dsrDirectRun `json:"direct"`
	// Summary is median, min and max over the persons of each figure.
	Summary []dsrStat `json:"summary"`
}

// dsrAPIRun is one person's access and erasure through the HTTP API and the stack's workers.
type dsrAPIRun struct {
	ProfileID string `json:"profileId"`
	Access    dsrJob `json:"access"`
	// ZipBytes is export.bytes; the download was checked against it and its sha256.
	ZipBytes   int64   `json:"zipBytes"`
	ZipFiles   int     `json:"zipFiles"`
	DownloadMs float64 `json:"downloadMs"`
	Erasure    dsrJob  `json:"erasure"`
	// ProfileStatusAfter is GET /v1/profiles/{id}'s status after the erasure (404 expected).
	ProfileStatusAfter int `json:"profileStatusAfterErasure"`
}

// dsrJob is one request through the API: from sending the POST to the poll that saw it
// completed, split with the stack's job clock.
type dsrJob struct {
	RequestID string  `json:"requestId"`
	PostMs    float64 `json:"postMs"`
	TotalMs   float64 `json:"postToCompletedSeenMs"`
	Polls     int     `json:"polls"`
	// PickupMs is POST sent -> the worker invoked (outbox poller, dispatcher, SQS receive);
	// JobMs the worker's invocation; SeenMs the worker's return -> the poll that saw it.
	PickupMs    float64 `json:"postToJobStartMs"`
	JobMs       float64 `json:"jobMs"`
	SeenMs      float64 `json:"jobEndToSeenMs"`
	Invocations int     `json:"invocations"`
}

// dsrDirectRun is one person's jobs run by calling the handlers, without the queue.
type dsrDirectRun struct {
	ProfileID string  `json:"profileId"`
	ExportMs  float64 `json:"exportHandlerMs"`
	ZipBytes  int64   `json:"zipBytes"`
	// OutboxWaitMs is the wait, before the erasure, for the dispatcher to take the export's
	// outbox items (the erasure job would otherwise wait for them itself); not measured.
	OutboxWaitMs float64 `json:"outboxWaitMs"`
	ErasureMs    float64 `json:"erasureHandlerMs"`
	// SDK calls the handlers made, by "Service.Operation", and their summed time.
	ExportCalls   map[string]int `json:"exportSdkCalls"`
	ExportSDKMs   float64        `json:"exportSdkMs"`
	ErasureCalls  map[string]int `json:"erasureSdkCalls"`
	ErasureSDKMs  float64        `json:"erasureSdkMs"`
	ProfileStatus int            `json:"profileStatusAfterErasure"`
	ExportStatus  dsr.Status     `json:"exportStatus"`
	ErasureStatus dsr.Status     `json:"erasureStatus"`
}

// dsrStat is one summary line.
type dsrStat struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Indent bool   `json:"-"`
	spread
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

// dsrBench measures section 6. The job clock (jobs) is the one wrapped around the stack's
// workers; stackName is the stack's name, for building the handlers.
func dsrBench(ctx context.Context, cfg config, st *localstack.Stack, stackName string, jobs *jobClock, fix *fixture) (*dsrReport, error) {
	rep := &dsrReport{Persons: cfg.dsrPersons, LedgerEvents: cfg.dsrEvents, PollMs: ms(dsrPoll), BoundSeconds: dsrBound.Seconds(), Pickup: jobPickup(st)}
	db := dynamodb.NewFromConfig(st.AWS.AWS)
	store := dynamo.New(db, st.Table)
	reqKey, k, err := seed.Key(ctx, store, benchTenant, "bench-requests", []apikey.Scope{apikey.Requests})
	if err != nil {
		return nil, fmt.Errorf("seed requests key: %w", err)
	}
	quiet := dynamo.New(db, st.Table)
	quiet.DisableOutbox()
	svc := app.New(quiet, time.Now, time.Minute)

	t0 := time.Now()
	people, err := newPersons(ctx, svc, "dsr", 2*cfg.dsrPersons, cfg.dsrEvents, k.ID)
	if err != nil {
		return nil, err
	}
	rep.GenerateSeconds = time.Since(t0).Seconds()
	fmt.Fprintf(progress, "  %d persons with %d ledger events each written in %.1fs\n", len(people), cfg.dsrEvents, rep.GenerateSeconds)

	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	defer tr.CloseIdleConnections()
	l := &loader{url: st.URL, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}

	if rep.ItemsBeforeAPI, err = tableItems(ctx, db, st.Table); err != nil {
		return rep, err
	}
	// Through the API and the stack's own workers.
	for _, p := range people[:cfg.dsrPersons] {
		r, err := dsrThroughAPI(ctx, l, tr, jobs, reqKey, fix.readKey, p)
		rep.API = append(rep.API, r)
		if err != nil {
			return rep, fmt.Errorf("person %s through the API: %w", p.ID, err)
		}
		fmt.Fprintf(progress, "  API: access %.0f ms (job %.0f ms), ZIP %d bytes, download %.1f ms; erasure %.0f ms (job %.0f ms)\n",
			r.Access.TotalMs, r.Access.JobMs, r.ZipBytes, r.DownloadMs, r.Erasure.TotalMs, r.Erasure.JobMs)
	}

	// The job handlers, called directly.
	if rep.ItemsBeforeDirect, err = tableItems(ctx, db, st.Table); err != nil {
		return rep, err
	}
	timer := newSDKTimer()
	awsCfg := timer.config(st.HandlerAWS)
	exportH, err := buildFunction(ctx, st, stackName, "ProcessExport", awsCfg)
	if err != nil {
		return rep, err
	}
	erasureH, err := buildFunction(ctx, st, stackName, "ProcessErasure", awsCfg)
	if err != nil {
		return rep, err
	}
	exportJob, ok1 := exportH.(wire.QueueHandler)
	erasureJob, ok2 := erasureH.(wire.QueueHandler)
	if !ok1 || !ok2 {
		return rep, fmt.Errorf("the job handlers are %T and %T, not queue handlers", exportH, erasureH)
	}
	for _, p := range people[cfg.dsrPersons:] {
		r, err := dsrDirect(ctx, l, svc, store, db, st.Table, timer, exportJob, erasureJob, fix.readKey, p)
		rep.Direct = append(rep.Direct, r)
		if err != nil {
			return rep, fmt.Errorf("person %s, handlers called directly: %w", p.ID, err)
		}
		fmt.Fprintf(progress, "  direct: ProcessExport %.0f ms, ZIP %d bytes; ProcessErasure %.0f ms\n", r.ExportMs, r.ZipBytes, r.ErasureMs)
	}
	rep.Summary = dsrSummary(rep)
	return rep, nil
}

// dsrThroughAPI asks for access, downloads the export, then asks for erasure, all through
// the HTTP API with a requests-scoped key, and checks the profile is gone.
func dsrThroughAPI(ctx context.Context, l *loader, tr *http.Transport, jobs *jobClock, reqKey, readKey string, p person) (dsrAPIRun, error) {
	r := dsrAPIRun{ProfileID: p.ID}
	var err error
	var done requestView
	if r.Access, done, err = dsrRequest(ctx, l, jobs, reqKey, p.ID, dsr.Access); err != nil {
		return r, fmt.Errorf("access: %w", err)
	}
	if done.Export == nil || done.Download == nil || done.Download.URL == "" {
		return r, errors.New("the completed access request has no export or download link")
	}
	r.ZipBytes = done.Export.Bytes

	// The download, as the brand's system would fetch it: a plain GET of the presigned URL.
	dl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t0 := time.Now()
	resp, err := dl.Get(done.Download.URL)
	if err != nil {
		return r, fmt.Errorf("download: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.DownloadMs = ms(time.Since(t0))
	if err != nil || resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("download: status %d, %v: %.300s", resp.StatusCode, err, body)
	}
	sum := sha256.Sum256(body)
	if int64(len(body)) != done.Export.Bytes || hex.EncodeToString(sum[:]) != done.Export.SHA256 {
		return r, fmt.Errorf("the download (%d bytes) does not match export %+v", len(body), *done.Export)
	}
	if r.ZipFiles, err = zipFiles(body); err != nil {
		return r, err
	}

	if r.Erasure, _, err = dsrRequest(ctx, l, jobs, reqKey, p.ID, dsr.Erasure); err != nil {
		return r, fmt.Errorf("erasure: %w", err)
	}
	status, b, err := l.do(ctx, http.MethodGet, "/v1/profiles/"+p.ID, readKey, nil)
	if err != nil {
		return r, err
	}
	r.ProfileStatusAfter = status
	if status != http.StatusNotFound {
		return r, fmt.Errorf("GET /v1/profiles/%s after the erasure answered %d: %.300s", p.ID, status, b)
	}
	return r, nil
}

// zipFiles checks that b is the export ZIP (export.Files, in order) and counts its files.
func zipFiles(b []byte) (int, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0, fmt.Errorf("the download is not a ZIP: %w", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, export.Files) {
		return 0, fmt.Errorf("the ZIP holds %v, want %v", names, export.Files)
	}
	return len(names), nil
}

// dsrRequest posts a request, polls it every dsrPoll until it is closed (at most dsrBound),
// and returns the timings and the completed request.
func dsrRequest(ctx context.Context, l *loader, jobs *jobClock, key, profileID string, typ dsr.Type) (dsrJob, requestView, error) {
	var j dsrJob
	var v requestView
	t0 := time.Now()
	status, b, err := l.do(ctx, http.MethodPost, "/v1/requests", key, map[string]any{"profileId": profileID, "type": typ, "attested": true})
	j.PostMs = ms(time.Since(t0))
	if err == nil && status != http.StatusCreated {
		err = fmt.Errorf("POST /v1/requests answered %d: %.300s", status, b)
	}
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	if err != nil {
		return j, v, err
	}
	j.RequestID = v.ID
	var seen time.Time
	for {
		select {
		case <-ctx.Done():
			return j, v, ctx.Err()
		case <-time.After(dsrPoll):
		}
		status, b, err := l.do(ctx, http.MethodGet, "/v1/requests/"+j.RequestID, key, nil)
		seen = time.Now()
		j.Polls++
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("GET /v1/requests/%s answered %d: %.300s", j.RequestID, status, b)
		}
		if err == nil {
			v = requestView{}
			err = json.Unmarshal(b, &v)
		}
		if err != nil {
			return j, v, err
		}
		if v.Status != dsr.Pending && v.Status != dsr.InProgress {
			break
		}
		if seen.Sub(t0) > dsrBound {
			return j, v, fmt.Errorf("request %s still %s after %v", j.RequestID, v.Status, dsrBound)
		}
	}
	j.TotalMs = ms(seen.Sub(t0))
	if run, ok := jobs.run(j.RequestID); ok {
		j.PickupMs, j.JobMs, j.SeenMs = ms(run.Start.Sub(t0)), ms(run.End.Sub(run.Start)), ms(seen.Sub(run.End))
		j.Invocations = run.Invocations
	}
	if v.Status != dsr.Completed {
		return j, v, fmt.Errorf("request %s ended %s: %s", j.RequestID, v.Status, v.Failure)
	}
	return j, v, nil
}

// dsrDirect records an access and then an erasure request for p through the use case
// without an outbox item (so the stack's workers never see them) and runs each job by
// calling its handler with a synthetic SQS event, as the queue would deliver it.
func dsrDirect(ctx context.Context, l *loader, svc *app.Service, store *dynamo.Store, db *dynamodb.Client, table string,
	timer *sdkTimer, exportJob, erasureJob wire.QueueHandler, readKey string, p person,
) (dsrDirectRun, error) {
	r := dsrDirectRun{ProfileID: p.ID}
	run := func(h wire.QueueHandler, typ dsr.Type) (*dsr.Request, time.Duration, map[string]int, time.Duration, error) {
		res, err := svc.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: p.ID, Type: typ, Verification: dsr.AttestedBrand},
			app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "bench"}})
		if err != nil {
			return nil, 0, nil, 0, err
		}
		body, _ := json.Marshal(dsr.JobMessage{Tenant: benchTenant, RequestID: res.Request.ID})
		ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "bench-" + res.Request.ID, Body: string(body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs"}}}
		timer.take()
		t0 := time.Now()
		resp, err := h(ctx, ev)
		took := time.Since(t0)
		calls, spent := timer.take()
		if err == nil && len(resp.BatchItemFailures) > 0 {
			err = fmt.Errorf("the handler failed the message: %+v", resp.BatchItemFailures)
		}
		if err != nil {
			return nil, took, calls, spent, err
		}
		req, err := store.Request(ctx, benchTenant, res.Request.ID)
		return req, took, calls, spent, err
	}

	req, took, calls, spent, err := run(exportJob, dsr.Access)
	r.ExportMs, r.ExportCalls, r.ExportSDKMs = ms(took), calls, ms(spent)
	if err != nil {
		return r, fmt.Errorf("export: %w", err)
	}
	r.ExportStatus = req.Status
	if req.Status != dsr.Completed || req.Export == nil || req.Export.Bytes == 0 {
		return r, fmt.Errorf("export request after the handler: %s, export %+v, failure %q", req.Status, req.Export, req.Failure)
	}
	r.ZipBytes = req.Export.Bytes

	wait, err := waitOutboxEmpty(ctx, db, table, drainTimeout)
	r.OutboxWaitMs = ms(wait)
	if err != nil {
		return r, err
	}
	req, took, calls, spent, err = run(erasureJob, dsr.Erasure)
	r.ErasureMs, r.ErasureCalls, r.ErasureSDKMs = ms(took), calls, ms(spent)
	if err != nil {
		return r, fmt.Errorf("erasure: %w", err)
	}
	r.ErasureStatus = req.Status
	if req.Status != dsr.Completed {
		return r, fmt.Errorf("erasure request after the handler: %s, failure %q", req.Status, req.Failure)
	}
	status, b, err := l.do(ctx, http.MethodGet, "/v1/profiles/"+p.ID, readKey, nil)
	if err != nil {
		return r, err
	}
	r.ProfileStatus = status
	if status != http.StatusNotFound {
		return r, fmt.Errorf("GET /v1/profiles/%s after the erasure answered %d: %.300s", p.ID, status, b)
	}
	return r, nil
}

// jobPickup describes how the local stack feeds the job workers.
func jobPickup(st *localstack.Stack) string {
	var parts []string
	for _, id := range []string{"ProcessExport", "ProcessErasure"} {
		fn, ok := st.Template.Function(id)
		if !ok {
			continue
		}
		for _, q := range fn.Queues {
			parts = append(parts, fmt.Sprintf("%s <- %s (BatchSize %d, batching window %d s)", id, q.QueueLogicalID, q.BatchSize, q.MaxBatchingWindowSeconds))
		}
	}
	return strings.Join(parts, "; ")
}

func dsrSummary(rep *dsrReport) []dsrStat {
	col := func(vals func(int) float64, n int) spread {
		v := make([]float64, n)
		for i := range n {
			v[i] = vals(i)
		}
		return spreadOf(v)
	}
	a, d := rep.API, rep.Direct
	out := []dsrStat{
		{Name: "access: POST -> completed seen", Unit: "ms", spread: col(func(i int) float64 { return a[i].Access.TotalMs }, len(a))},
		{Name: "POST /v1/requests answered", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Access.PostMs }, len(a))},
		{Name: "POST sent -> ProcessExport invoked", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Access.PickupMs }, len(a))},
		{Name: "ProcessExport in the stack", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Access.JobMs }, len(a))},
		{Name: "job done -> completed seen by the poll", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Access.SeenMs }, len(a))},
		{Name: "export ZIP (export.bytes)", Unit: "bytes", spread: col(func(i int) float64 { return float64(a[i].ZipBytes) }, len(a))},
		{Name: "download: GET presigned download.url", Unit: "ms", spread: col(func(i int) float64 { return a[i].DownloadMs }, len(a))},
		{Name: "erasure: POST -> completed seen", Unit: "ms", spread: col(func(i int) float64 { return a[i].Erasure.TotalMs }, len(a))},
		{Name: "POST /v1/requests answered", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Erasure.PostMs }, len(a))},
		{Name: "POST sent -> ProcessErasure invoked", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Erasure.PickupMs }, len(a))},
		{Name: "ProcessErasure in the stack", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Erasure.JobMs }, len(a))},
		{Name: "job done -> completed seen by the poll", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return a[i].Erasure.SeenMs }, len(a))},
		{Name: "ProcessExport handler called directly", Unit: "ms", spread: col(func(i int) float64 { return d[i].ExportMs }, len(d))},
		{Name: "summed AWS SDK call time", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return d[i].ExportSDKMs }, len(d))},
		{Name: "export ZIP (export.bytes)", Unit: "bytes", Indent: true, spread: col(func(i int) float64 { return float64(d[i].ZipBytes) }, len(d))},
		{Name: "ProcessErasure handler called directly", Unit: "ms", spread: col(func(i int) float64 { return d[i].ErasureMs }, len(d))},
		{Name: "summed AWS SDK call time", Unit: "ms", Indent: true, spread: col(func(i int) float64 { return d[i].ErasureSDKMs }, len(d))},
	}
	return out
}

// callsSummary formats the SDK calls of the direct runs: the median count per operation.
func callsSummary(runs []dsrDirectRun, pick func(dsrDirectRun) map[string]int) string {
	ops := map[string][]float64{}
	for _, r := range runs {
		for op := range pick(r) {
			ops[op] = nil
		}
	}
	var total []float64
	for _, r := range runs {
		m := pick(r)
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

// printDSR prints section 6.
func printDSR(w io.Writer, d *dsrReport) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("6. Data-subject requests of a %d-event person: export (access) and erasure\n", d.LedgerEvents)
	p("%s\n", wrap(fmt.Sprintf("%d persons per path, each with 3 identities (email, phone, customer_id), 8 attributes, "+
		"2 consents, 2 subscriptions and exactly %d ledger events by four kinds of actor, written through app.Service "+
		"over a store without outbox items (%.1fs for all %d; not measured).",
		d.Persons, d.LedgerEvents, d.GenerateSeconds, 2*d.Persons), "   ", 100))
	p("%s\n", wrap(fmt.Sprintf("Through the API (a requests-scoped key): POST /v1/requests {profileId, type, attested: "+
		"true}, then GET /v1/requests/{id} every %.0f ms (bound %.0fs) until completed; the export's presigned "+
		"download.url is fetched and checked (size, sha256, the ZIP's files); after the erasure GET "+
		"/v1/profiles/{id} answered 404 each time. The request goes POST -> outbox item -> the local outbox poller "+
		"(every 100 ms) -> DispatchEvents -> SQS -> the local SQS poller -> the job: %s. \"POST sent -> job "+
		"invoked\" therefore includes the outbox poller's interval, the dispatcher and the SQS poller's pickup: the "+
		"poller long-polls with a 1 s wait (eventsource receiveWait), and the emulator answers a waiting receive as "+
		"soon as a message is sent, so a fresh job does not wait out the second (a redelivered one would wait for "+
		"its visibility timeout). The job's own time comes from a clock wrapped around the stack's worker "+
		"(localstack.Options.Wrap).", d.PollMs, d.BoundSeconds, d.Pickup), "   ", 100))
	p("%s\n", wrap("Directly: a fresh request recorded through the requests use case without an outbox item (no "+
		"queue ever sees it), then the ProcessExport or ProcessErasure handler, built by wire.Build with the stack's "+
		"environment for the function, invoked with a synthetic one-record events.SQSEvent; the request was "+
		"completed afterwards. Before each direct erasure the bench waited for the dispatcher to take the export's "+
		"outbox items, as the job would otherwise wait for them itself.", "   ", 100))
	p("%s\n\n", wrap(fmt.Sprintf("The table held %d items when the API runs began and %d when the direct runs "+
		"began (the API persons were erased by then). The emulator's Query walks every item of the table, so the "+
		"export job's Queries cost more here the fuller the table; the direct runs also had no client polling "+
		"beside them.", d.ItemsBeforeAPI, d.ItemsBeforeDirect), "   ", 100))
	width := len("figure")
	for _, s := range d.Summary {
		width = max(width, len(s.Name)+2)
	}
	p("   %-*s  %-5s  %10s  %10s  %10s\n", width, "figure", "unit", "median", "min", "max")
	for _, s := range d.Summary {
		name := s.Name
		if s.Indent {
			name = "  " + name
		}
		f := "%10.1f"
		if s.Unit == "bytes" {
			f = "%10.0f"
		}
		p("   %-*s  %-5s  "+f+"  "+f+"  "+f+"\n", width, name, s.Unit, s.Median, s.Min, s.Max)
	}
	p("%s\n", wrap("SDK calls of ProcessExport called directly (median per job): "+
		callsSummary(d.Direct, func(r dsrDirectRun) map[string]int { return r.ExportCalls })+".", "   ", 100))
	p("%s\n", wrap("SDK calls of ProcessErasure called directly (median per job): "+
		callsSummary(d.Direct, func(r dsrDirectRun) map[string]int { return r.ErasureCalls })+
		". Its calls overlap (it deletes in parallel), so their summed time can exceed the handler's.", "   ", 100))
	var inv []string
	for _, r := range d.API {
		inv = append(inv, fmt.Sprintf("%d+%d", r.Access.Invocations, r.Erasure.Invocations))
	}
	p("%s\n\n", wrap(fmt.Sprintf("Worker invocations per person (access+erasure): %s; polls until completed are "+
		"included in \"job done -> completed seen\". The ZIP is the whole export (profile.json, CSVs, index.html).",
		strings.Join(inv, ", ")), "   ", 100))
}

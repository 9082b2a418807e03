package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
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

// jobName is the worker that carries out a request of type t.
func jobName(t dsr.Type) string {
	return map[dsr.Type]string{dsr.Access: "ProcessExport", dsr.Erasure: "ProcessErasure"}[t]
}

// dsrBench measures section 7: half the persons through the HTTP API and the stack's
// workers, the other half by calling the stack's job handlers directly.
func dsrBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg := b.cfg
	t0 := time.Now()
	people, err := newPersons(ctx, b, "dsr", 2*cfg.dsrPersons)
	if err != nil {
		return err
	}
	generated := time.Since(t0)
	var figs [2][][]figure // per path, per person
	var items [2]int64
	var invocations []string
	calls := map[dsr.Type]map[string]int{dsr.Access: {}, dsr.Erasure: {}} // summed over the persons
	for i, p := range people {
		path := i / cfg.dsrPersons
		if i%cfg.dsrPersons == 0 {
			if items[path], err = tableItems(ctx, b); err != nil {
				return err
			}
		}
		var f []figure
		if path == 0 {
			var inv string
			if f, inv, err = dsrThroughAPI(ctx, b, p); err != nil {
				return fmt.Errorf("person %s through the API: %w", p.ID, err)
			}
			invocations = append(invocations, inv)
		} else if f, err = dsrDirect(ctx, b, p, calls); err != nil {
			return fmt.Errorf("person %s, handlers called directly: %w", p.ID, err)
		}
		figs[path] = append(figs[path], f)
	}
	note(w, "%d persons per path, each with 3 identities, 8 attributes, 2 consents, 2 subscriptions and %d ledger events (written in %.1fs).",
		cfg.dsrPersons, cfg.dsrEvents, generated.Seconds())
	note(w, "API: POST /v1/requests, then GET /v1/requests/{id} every %.0f ms until completed; job times clocked around the stack's worker.", ms(dsrPoll))
	note(w, "Directly: a request without an outbox item, then the stack's handler called with the SQS event. Table items: %d / %d before each.\n",
		items[0], items[1])
	rows := []string{"figure\tunit\tmedian\tmin\tmax"}
	for _, persons := range figs {
		for j, f := range persons[0] {
			var v []float64
			for _, p := range persons {
				v = append(v, p[j].v)
			}
			num, sp := "%.1f", spreadOf(v)
			if f.unit == "bytes" {
				num = "%.0f"
			}
			rows = append(rows, fmt.Sprintf("%s\t%s\t"+num+"\t"+num+"\t"+num, f.name, f.unit, sp.Median, sp.Min, sp.Max))
		}
	}
	table(w, rows...)
	for _, t := range []dsr.Type{dsr.Access, dsr.Erasure} {
		note(w, "SDK calls of %s called directly, per job: %d: %s.", jobName(t), total(calls[t])/cfg.dsrPersons, formatCounts(calls[t], cfg.dsrPersons, 1))
	}
	note(w, "ProcessErasure deletes in parallel, so its summed SDK time can exceed the handler's.")
	note(w, "Worker invocations per person (access+erasure): %s.", strings.Join(invocations, ", "))
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

// dsrThroughAPI asks for access, downloads the export, then asks for erasure, all through
// the HTTP API with a requests-scoped key. It returns the figures and the worker
// invocations ("access+erasure").
func dsrThroughAPI(ctx context.Context, b *bench, p person) ([]figure, string, error) {
	access, accessInv, done, err := dsrRequest(ctx, b, p.ID, dsr.Access)
	if err != nil {
		return nil, "", fmt.Errorf("access: %w", err)
	}
	if done.Export == nil || done.Download == nil {
		return nil, "", fmt.Errorf("the completed access request has no export or download link")
	}
	// The download, as the brand's system would fetch it: a plain GET of the presigned URL.
	t0 := time.Now()
	resp, err := b.c.Get(done.Download.URL)
	if err != nil {
		return nil, "", fmt.Errorf("download: %w", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	download := ms(time.Since(t0))
	if err != nil || resp.StatusCode != http.StatusOK || n != done.Export.Bytes {
		return nil, "", fmt.Errorf("download: status %d, %d of %d bytes, %v", resp.StatusCode, n, done.Export.Bytes, err)
	}
	erasure, erasureInv, _, err := dsrRequest(ctx, b, p.ID, dsr.Erasure)
	if err != nil {
		return nil, "", fmt.Errorf("erasure: %w", err)
	}
	f := append(access, figure{"export ZIP (export.bytes)", "bytes", float64(n)}, figure{"download: GET presigned download.url", "ms", download})
	return append(f, erasure...), fmt.Sprintf("%d+%d", accessInv, erasureInv), nil
}

// dsrRequest posts a request, polls it every dsrPoll until it is closed (at most dsrBound),
// and returns its timings (the last three from the job clock), the worker's invocations and
// the completed request.
func dsrRequest(ctx context.Context, b *bench, profileID string, typ dsr.Type) ([]figure, int, requestView, error) {
	c, key := b.c, b.fix.requestsKey
	var v requestView
	t0 := time.Now()
	err := c.call(ctx, http.MethodPost, "/v1/requests", key, map[string]any{"profileId": profileID, "type": typ, "attested": true}, http.StatusCreated, &v)
	posted := ms(time.Since(t0))
	seen := time.Now()
	for err == nil && (v.Status == dsr.Pending || v.Status == dsr.InProgress) {
		select {
		case <-ctx.Done():
			return nil, 0, v, ctx.Err()
		case <-time.After(dsrPoll):
		}
		err = c.call(ctx, http.MethodGet, "/v1/requests/"+v.ID, key, nil, http.StatusOK, &v)
		if seen = time.Now(); seen.Sub(t0) > dsrBound {
			return nil, 0, v, fmt.Errorf("request %s still %s after %v", v.ID, v.Status, dsrBound)
		}
	}
	if err == nil && v.Status != dsr.Completed {
		err = fmt.Errorf("request %s ended %s: %s", v.ID, v.Status, v.Failure)
	}
	if err != nil {
		return nil, 0, v, err
	}
	run, label := b.jobs.run(v.ID), map[dsr.Type]string{dsr.Access: "access", dsr.Erasure: "erasure"}[typ]
	return []figure{
		{label + ": POST -> completed seen", "ms", ms(seen.Sub(t0))},
		{"  POST /v1/requests answered", "ms", posted},
		{"  POST sent -> " + jobName(typ) + " invoked", "ms", ms(run.Start.Sub(t0))},
		{"  " + jobName(typ) + " in the stack", "ms", ms(run.End.Sub(run.Start))},
		{"  job done -> completed seen by the poll", "ms", ms(seen.Sub(run.End))},
	}, run.Invocations, v, nil
}

// dsrDirect records an access and then an erasure request for p through the use case
// without an outbox item (so the stack's workers never see them) and runs each job by
// calling the stack's handler with the SQS event the queue would deliver. It returns the
// figures and adds each job's SDK calls to calls.
func dsrDirect(ctx context.Context, b *bench, p person, calls map[dsr.Type]map[string]int) ([]figure, error) {
	var figs []figure
	for _, typ := range []dsr.Type{dsr.Access, dsr.Erasure} {
		if typ == dsr.Erasure {
			// The erasure job would otherwise wait for the export's outbox items itself.
			if _, err := waitOutboxEmpty(ctx, b.db, b.st.Table); err != nil {
				return nil, err
			}
		}
		res, err := b.quiet.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: p.ID, Type: typ, Verification: dsr.AttestedBrand},
			app.RequestWrite{Actor: operator.Actor})
		if err != nil {
			return nil, err
		}
		job, _ := b.handlers[jobName(typ)].(queueHandler)
		var resp events.SQSEventResponse
		took, spent, err := b.timer.call(ctx, calls[typ], func(ctx context.Context) (err error) {
			resp, err = job(ctx, sqsJob(res.Request.ID))
			return err
		})
		var req *dsr.Request
		if err == nil && len(resp.BatchItemFailures) == 0 {
			req, err = b.store.Request(ctx, benchTenant, res.Request.ID)
		}
		if err != nil || req == nil || req.Status != dsr.Completed {
			return nil, fmt.Errorf("%s: the handler answered %+v, %v; request %+v", typ, resp, err, req)
		}
		figs = append(figs, figure{jobName(typ) + " handler called directly", "ms", ms(took)}, figure{"  summed AWS SDK call time", "ms", ms(spent)})
		if req.Export != nil {
			figs = append(figs, figure{"  export ZIP (export.bytes)", "bytes", float64(req.Export.Bytes)})
		}
	}
	return figs, nil
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

// newPerson creates a person the way the export and erasure tests make theirs: three
// identities, standard and custom attributes, a granted and a denied consent, two
// subscriptions, and then consent toggles and attribute changes by several kinds of actor
// until the ledger holds exactly events events.
func newPerson(ctx context.Context, b *bench, tag string) (person, error) {
	svc, events, keyID := b.quiet, b.cfg.dsrEvents, b.fix.writeKeyID
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
	p.ID = res.Profile.ID
	actors := []ledger.Actor{{Kind: ledger.ActorAPIKey, ID: keyID}, {Kind: ledger.ActorPortal}, {Kind: ledger.ActorSync, ID: "crm"}, {Kind: ledger.ActorOperator, ID: "support"}}
	granted := false
	for i, seq := 0, res.Profile.LedgerSeq; seq < int64(events); i++ {
		w := app.Write{Actor: actors[i%len(actors)]}
		if i%5 == 4 {
			res, err = svc.UpdateProfile(ctx, benchTenant, p.ID, app.Patch{Attributes: map[string]any{"shoe_size": float64(36 + i%10)}}, w)
		} else {
			granted = !granted
			status := map[bool]profile.ConsentStatus{true: profile.Granted, false: profile.Withdrawn}[granted]
			res, err = svc.PutConsent(ctx, benchTenant, p.ID, "personalisation", profile.ConsentInput{Status: status, NoticeVersion: 2}, w)
		}
		if err != nil {
			return p, fmt.Errorf("event %d of person %s: %w", i, p.ID, err)
		}
		seq = res.Profile.LedgerSeq
	}
	return p, nil
}

// newPersons makes n persons, up to 3 at a time.
func newPersons(ctx context.Context, b *bench, tag string, n int) ([]person, error) {
	var mu sync.Mutex
	var out []person
	l := load(n, make([]int, 3), func(int, int) error {
		p, err := newPerson(ctx, b, tag)
		mu.Lock()
		defer mu.Unlock()
		out = append(out, p)
		return err
	})
	return out, l.first
}

// tableItems counts the items of the table (a Scan with Select COUNT). The embedded
// emulator's Query walks every item of the table, so Query latencies there grow with this
// number; DynamoDB reads only the queried partition.
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

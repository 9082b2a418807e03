package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/registry"
)

// Helpers of sections 6 and 7: handlers built outside the stack exactly as the stack
// builds them, a clock on the stack's own job workers, an SDK call timer and the
// 1,000-event person.

// functionEnv is the environment the local stack gives a function: the template's
// variables resolved against the provisioned resources and the parameters (PortalBaseUrl
// pointing at this server), plus the two variables the stack adds.
func functionEnv(st *localstack.Stack, stackName, logicalID string) (map[string]string, error) {
	fn, ok := st.Template.Function(logicalID)
	if !ok {
		return nil, fmt.Errorf("template.yaml has no function %s", logicalID)
	}
	params, err := st.Template.ParameterValues(map[string]string{"PortalBaseUrl": st.URL + "/portal"})
	if err != nil {
		return nil, err
	}
	maps.Copy(params, template.PseudoParameters(stackName, st.AWS.AWS.Region, "000000000000"))
	env, err := st.Template.Environment(fn, st.Physical.Refs(), params)
	if err != nil {
		return nil, fmt.Errorf("environment of %s: %w", logicalID, err)
	}
	env["ALLOW_HTTP_LOOPBACK"] = "true"
	env["OUTBOX_INDEX"] = "true"
	return env, nil
}

// buildFunction builds a function's handler as the stack does (wire.Build with the
// function's environment), over awsCfg.
func buildFunction(ctx context.Context, st *localstack.Stack, stackName, logicalID string, awsCfg aws.Config) (any, error) {
	env, err := functionEnv(st, stackName, logicalID)
	if err != nil {
		return nil, err
	}
	build, ok := registry.Builder(logicalID)
	if !ok {
		return nil, fmt.Errorf("no builder for %s", logicalID)
	}
	log := slog.New(slog.NewJSONHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn})).With("function", logicalID, "bench", "direct")
	h, err := wire.Build(ctx, build, func(k string) string { return env[k] }, awsCfg, log)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", logicalID, err)
	}
	return h, nil
}

// jobRun is what the clock saw of one request's job in the stack.
type jobRun struct {
	Function    string
	Start, End  time.Time // of the first invocation, of the last
	Invocations int
	Failed      int // invocations that returned an error or listed the message as failed
}

// jobClock times the local stack's own job workers (ProcessExport, ProcessErasure) per
// data-subject request, as a localstack.Options.Wrap: the time a message waited for its
// worker and the time the worker took can then be told apart.
type jobClock struct {
	mu   sync.Mutex
	runs map[string]*jobRun // request id -> run
}

func newJobClock() *jobClock { return &jobClock{runs: map[string]*jobRun{}} }

func (c *jobClock) wrap(logicalID string, h any) any {
	next, ok := h.(wire.QueueHandler)
	if !ok || logicalID != "ProcessExport" && logicalID != "ProcessErasure" {
		return h
	}
	return wire.QueueHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		resp, err := next(ctx, ev)
		end := time.Now()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, rec := range ev.Records {
			var m dsr.JobMessage
			if json.Unmarshal([]byte(rec.Body), &m) != nil || m.RequestID == "" {
				continue
			}
			r := c.runs[m.RequestID]
			if r == nil {
				r = &jobRun{Function: logicalID, Start: start}
				c.runs[m.RequestID] = r
			}
			r.End = end
			r.Invocations++
			if err != nil || slices.ContainsFunc(resp.BatchItemFailures, func(f events.SQSBatchItemFailure) bool { return f.ItemIdentifier == rec.MessageId }) {
				r.Failed++
			}
		}
		return resp, err
	})
}

// run returns what the clock saw of a request's job.
func (c *jobClock) run(requestID string) (jobRun, bool) {
	if c == nil {
		return jobRun{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.runs[requestID]
	if !ok {
		return jobRun{}, false
	}
	return *r, true
}

// sdkTimer counts and times the AWS SDK calls of the clients built from a configuration it
// was added to (per call, retries included), by "Service.Operation".
type sdkTimer struct {
	mu    sync.Mutex
	calls map[string]int
	spent time.Duration
}

func newSDKTimer() *sdkTimer { return &sdkTimer{calls: map[string]int{}} }

// config returns a copy of cfg whose clients report to the timer.
func (t *sdkTimer) config(cfg aws.Config) aws.Config {
	c := cfg.Copy()
	// Copy shares the slice: clip it so this append never writes into another config's.
	c.APIOptions = append(slices.Clip(c.APIOptions), func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchTimeSDKCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				t0 := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				d := time.Since(t0)
				t.mu.Lock()
				t.calls[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
				t.spent += d
				t.mu.Unlock()
				return out, md, err
			}), middleware.Before)
	})
	return c
}

// take returns the calls and their summed time since the last take, and starts over.
func (t *sdkTimer) take() (map[string]int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	calls, spent := t.calls, t.spent
	t.calls, t.spent = map[string]int{}, 0
	return calls, spent
}

// person is a profile of the bench tenant made for sections 6 and 7.
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
	out := make([]person, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = newPerson(ctx, svc, tag, events, keyID)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dist is a distribution of durations in milliseconds.
type dist struct {
	N      int     `json:"n"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	MeanMs float64 `json:"meanMs"`
	MinMs  float64 `json:"minMs"`
	MaxMs  float64 `json:"maxMs"`
}

func distOf(ds []time.Duration) dist {
	if len(ds) == 0 {
		return dist{}
	}
	s := slices.Sorted(slices.Values(ds))
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return dist{N: len(s), P50Ms: ms(percentile(s, 0.50)), P99Ms: ms(percentile(s, 0.99)),
		MeanMs: ms(sum / time.Duration(len(s))), MinMs: ms(s[0]), MaxMs: ms(s[len(s)-1])}
}

// spread is the median, minimum and maximum of a few values.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(v))
	return spread{Median: median(s), Min: s[0], Max: s[len(s)-1]}
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

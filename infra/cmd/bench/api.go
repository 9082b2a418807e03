package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

const benchTenant = "bench"

// fixture is the seeded data the measured requests use.
type fixture struct {
	readKey, writeKey string
	readKeyID         string
	ids, emails       []string
	// granted is the marketing consent state of each profile; the write phase flips it,
	// each worker only the profiles it owns.
	granted []bool
}

// seedFixture creates the bench tenant, the demo catalog, a read and a write API key and
// n profiles (one email identity each; every other one with marketing consent granted at
// notice version 2), directly in the table, not through the API.
func seedFixture(ctx context.Context, st *localstack.Stack, n int) (*fixture, error) {
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	svc := app.New(store, time.Now, 0)
	if err := seed.Tenant(ctx, store, benchTenant, "Bench"); err != nil {
		return nil, fmt.Errorf("seed tenant: %w", err)
	}
	if _, err := seed.LoadCatalog(ctx, svc, benchTenant, seed.DemoCatalog); err != nil {
		return nil, fmt.Errorf("seed catalog: %w", err)
	}
	f := &fixture{}
	var err error
	var k apikey.Key
	if f.readKey, k, err = seed.Key(ctx, store, benchTenant, "bench-read", []apikey.Scope{apikey.Read}); err != nil {
		return nil, fmt.Errorf("seed read key: %w", err)
	}
	f.readKeyID = k.ID
	if f.writeKey, _, err = seed.Key(ctx, store, benchTenant, "bench-write", []apikey.Scope{apikey.Write}); err != nil {
		return nil, fmt.Errorf("seed write key: %w", err)
	}
	f.ids, f.emails, f.granted = make([]string, n), make([]string, n), make([]bool, n)
	stamp := time.Now().UnixNano()
	for i := range n {
		f.emails[i] = fmt.Sprintf("bench-%d-%d@example.com", stamp, i)
		f.granted[i] = i%2 == 0
		in := app.Create{Identities: []app.IdentityInput{{Type: "email", Value: f.emails[i]}}}
		if f.granted[i] {
			in.Consents = map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2, Locale: "en"}}
		}
		res, err := svc.CreateProfile(ctx, benchTenant, in, app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "bench"}})
		if err != nil {
			return nil, fmt.Errorf("seed profile %d: %w", i, err)
		}
		f.ids[i] = res.Profile.ID
	}
	return f, nil
}

// operation is one kind of API request the bench measures.
type operation struct {
	name   string
	method string
	key    func(f *fixture) string
	// request returns the path and JSON body of the worker's k-th request (k counts from 0
	// per worker, warm-up included) and a check of the answer.
	request func(f *fixture, worker, workers, k int) (path string, body any, check func(status int, body []byte) error)
	// checks is how many consent checks one request answers (0 for other operations).
	checks int
}

func operations(batch int) []operation {
	readKey := func(f *fixture) string { return f.readKey }
	// pick spreads the requests of all workers over the profiles.
	pick := func(f *fixture, worker, workers, k int) int { return (k*workers + worker) % len(f.ids) }
	wantCheck := func(wantAllowed bool, wantID string) func(int, []byte) error {
		return func(status int, body []byte) error {
			var r struct {
				Allowed   *bool  `json:"allowed"`
				Reason    string `json:"reason"`
				ProfileID string `json:"profileId"`
			}
			if err := want200(status, body, &r); err != nil {
				return err
			}
			if r.Allowed == nil || *r.Allowed != wantAllowed || r.ProfileID != wantID {
				return fmt.Errorf("check answered %s, want allowed=%v for %s", body, wantAllowed, wantID)
			}
			return nil
		}
	}
	return []operation{
		{name: "consent check by id", method: http.MethodPost, key: readKey, checks: 1,
			request: func(f *fixture, w, n, k int) (string, any, func(int, []byte) error) {
				i := pick(f, w, n, k)
				return "/v1/consent-checks", map[string]any{"profileId": f.ids[i], "purpose": "marketing"}, wantCheck(f.granted[i], f.ids[i])
			}},
		{name: "consent check by identity (email)", method: http.MethodPost, key: readKey, checks: 1,
			request: func(f *fixture, w, n, k int) (string, any, func(int, []byte) error) {
				i := pick(f, w, n, k)
				return "/v1/consent-checks", map[string]any{
					"identity": map[string]string{"type": "email", "value": f.emails[i]}, "purpose": "marketing",
				}, wantCheck(f.granted[i], f.ids[i])
			}},
		{name: fmt.Sprintf("batch of %d checks (ids + emails)", batch), method: http.MethodPost, key: readKey, checks: batch,
			request: func(f *fixture, w, n, k int) (string, any, func(int, []byte) error) {
				checks := make([]map[string]any, batch)
				want := make([]int, batch)
				first := (k*n + w) * batch
				for j := range checks {
					i := (first + j) % len(f.ids)
					want[j] = i
					if j%2 == 0 {
						checks[j] = map[string]any{"profileId": f.ids[i], "purpose": "marketing"}
					} else {
						checks[j] = map[string]any{"identity": map[string]string{"type": "email", "value": f.emails[i]}, "purpose": "marketing"}
					}
				}
				return "/v1/consent-checks", map[string]any{"checks": checks}, func(status int, body []byte) error {
					var r struct {
						Results []struct {
							Allowed   bool   `json:"allowed"`
							ProfileID string `json:"profileId"`
						} `json:"results"`
					}
					if err := want200(status, body, &r); err != nil {
						return err
					}
					if len(r.Results) != batch {
						return fmt.Errorf("batch answered %d results, want %d", len(r.Results), batch)
					}
					for j, res := range r.Results {
						if i := want[j]; res.ProfileID != f.ids[i] || res.Allowed != f.granted[i] {
							return fmt.Errorf("batch result %d is %+v, want allowed=%v for %s", j, res, f.granted[i], f.ids[i])
						}
					}
					return nil
				}
			}},
		{name: "profile read (GET /v1/profiles/{id})", method: http.MethodGet, key: readKey,
			request: func(f *fixture, w, n, k int) (string, any, func(int, []byte) error) {
				id := f.ids[pick(f, w, n, k)]
				return "/v1/profiles/" + id, nil, func(status int, body []byte) error {
					var r struct {
						ID string `json:"id"`
					}
					if err := want200(status, body, &r); err != nil {
						return err
					}
					if r.ID != id {
						return fmt.Errorf("read profile %s, got %s", id, r.ID)
					}
					return nil
				}
			}},
		{name: "consent write (PUT .../consents/marketing)", method: http.MethodPut, key: func(f *fixture) string { return f.writeKey },
			request: func(f *fixture, w, n, k int) (string, any, func(int, []byte) error) {
				// Worker w owns the profiles i with i%n == w (of the first len/n*n), so no two
				// workers write one profile at the same time and each can flip its state.
				owned := len(f.ids) / n
				i := (k%owned)*n + w
				f.granted[i] = !f.granted[i]
				status := "withdrawn"
				if f.granted[i] {
					status = "granted"
				}
				return "/v1/profiles/" + f.ids[i] + "/consents/marketing",
					map[string]any{"status": status, "noticeVersion": 2},
					func(code int, body []byte) error { return want200(code, body, nil) }
			}},
	}
}

func want200(status int, body []byte, v any) error {
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %s", status, bytes.TrimSpace(body))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("answer is not the expected JSON: %v: %s", err, body)
	}
	return nil
}

// opResult is the measurement of one operation.
type opResult struct {
	Name     string  `json:"name"`
	Requests int     `json:"requests"`
	Clients  int     `json:"clients"`
	Errors   int     `json:"errors"`
	Error    string  `json:"firstError,omitempty"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
	MeanMs   float64 `json:"meanMs"`
	MaxMs    float64 `json:"maxMs"`
	OpsPerS  float64 `json:"opsPerSecond"`
	Checks   int     `json:"checksPerRequest,omitempty"`
	// DynamoDB is DynamoDB requests (attempts sent) per operation, by operation name.
	DynamoDB map[string]float64 `json:"dynamodbRequestsPerOp"`
	// DynamoDBCalls is SDK calls per operation, by operation name (equal to DynamoDB unless
	// the SDK retried).
	DynamoDBCalls map[string]float64 `json:"dynamodbCallsPerOp"`
	// ReadUnits and WriteUnits are consumed capacity per operation; nil when not reported.
	ReadUnits  *float64 `json:"readCapacityUnitsPerOp"`
	WriteUnits *float64 `json:"writeCapacityUnitsPerOp"`
	// CapacityReported counts the DynamoDB responses that carried ConsumedCapacity, out of
	// CapacityResponses.
	CapacityReported  int64   `json:"capacityReportedResponses"`
	CapacityResponses int64   `json:"capacityResponses"`
	WallSeconds       float64 `json:"wallSeconds"`
}

type loader struct {
	url     string
	client  *http.Client
	fix     *fixture
	counter *ddbCounter
	workers int
}

// run sends warmup unmeasured requests, then n measured requests, of op, from l.workers
// concurrent clients, and returns the measurement. Each worker keeps its own request
// sequence k, so the warm-up and the measured phase continue one sequence.
func (l *loader) run(ctx context.Context, op operation, warmup, n int) opResult {
	next := make([]int, l.workers) // per-worker k
	var (
		errMu    sync.Mutex
		errCount int
		firstErr error
	)
	phase := func(total int, lat [][]time.Duration) {
		var issued atomic.Int64
		var wg sync.WaitGroup
		for w := range l.workers {
			wg.Go(func() {
				for issued.Add(1) <= int64(total) {
					k := next[w]
					next[w]++
					path, body, check := op.request(l.fix, w, l.workers, k)
					t0 := time.Now()
					status, resp, err := l.do(ctx, op.method, path, op.key(l.fix), body)
					d := time.Since(t0)
					if err == nil {
						err = check(status, resp)
					}
					if lat != nil {
						lat[w] = append(lat[w], d)
					}
					if err != nil {
						errMu.Lock()
						errCount++
						if firstErr == nil {
							firstErr = err
						}
						errMu.Unlock()
					}
				}
			})
		}
		wg.Wait()
	}
	if warmup > 0 {
		phase(warmup, nil)
	}
	errMu.Lock()
	warmErrs, warmErr := errCount, firstErr
	errCount, firstErr = 0, nil
	errMu.Unlock()

	lat := make([][]time.Duration, l.workers)
	l.counter.start()
	t0 := time.Now()
	phase(n, lat)
	wall := time.Since(t0)
	snap := l.counter.stop()

	all := slices.Concat(lat...)
	slices.Sort(all)
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	r := opResult{
		Name: op.name, Requests: len(all), Clients: l.workers, Errors: errCount, Checks: op.checks,
		P50Ms: ms(percentile(all, 0.50)), P99Ms: ms(percentile(all, 0.99)), MaxMs: ms(all[len(all)-1]),
		MeanMs: ms(sum / time.Duration(len(all))), OpsPerS: float64(len(all)) / wall.Seconds(),
		DynamoDB: perOp(snap.Attempts, len(all)), DynamoDBCalls: perOp(snap.Calls, len(all)),
		CapacityReported: snap.Reported, CapacityResponses: snap.Responses, WallSeconds: wall.Seconds(),
	}
	if snap.Reported > 0 {
		ru, wu := snap.ReadUnits/float64(len(all)), snap.WriteUnits/float64(len(all))
		r.ReadUnits, r.WriteUnits = &ru, &wu
	}
	if firstErr != nil {
		r.Error = firstErr.Error()
	}
	if warmErr != nil {
		r.Errors += warmErrs
		if r.Error == "" {
			r.Error = "warm-up: " + warmErr.Error()
		}
	}
	return r
}

func (l *loader) do(ctx context.Context, method, path, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

func perOp(counts map[string]int64, n int) map[string]float64 {
	out := make(map[string]float64, len(counts))
	for k, v := range counts {
		out[k] = float64(v) / float64(n)
	}
	return out
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.999999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// apiBench measures every operation through the running stack's HTTP API.
func apiBench(ctx context.Context, cfg config, counter *ddbCounter, st *localstack.Stack, fix *fixture) ([]opResult, error) {
	tr := &http.Transport{MaxIdleConns: 4 * cfg.clients, MaxIdleConnsPerHost: 4 * cfg.clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	l := &loader{url: st.URL, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, fix: fix, counter: counter, workers: cfg.clients}
	var out []opResult
	for _, op := range operations(cfg.batch) {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r := l.run(ctx, op, cfg.warmup, cfg.requests)
		out = append(out, r)
		fmt.Fprintf(progress, "  measured %-44s %7.0f ops/s, %d errors\n", op.name, r.OpsPerS, r.Errors)
	}
	return out, nil
}

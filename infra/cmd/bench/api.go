package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
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

// operator is the actor of the bench's own writes through the use cases.
var operator = app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "bench"}}

// fixture is the seeded data the measured requests use.
type fixture struct {
	readKey, writeKey string
	readKeyID         string
	ids, emails       []string
	// granted is the marketing consent state of each profile; writers flip it, each worker
	// only the profiles it owns (see owned).
	granted []bool
}

// owned is the k-th profile worker w of workers owns: those with index%workers == w, so
// that no two workers write one profile at the same time.
func (f *fixture) owned(w, workers, k int) int { return (k%(len(f.ids)/workers))*workers + w }

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
		res, err := svc.CreateProfile(ctx, benchTenant, in, operator)
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
				i := f.owned(w, n, k)
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

// client sends JSON requests with a bearer key to the stack's HTTP API.
type client struct {
	url string
	*http.Client
}

func newClient(url string, conns int) *client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}
	return &client{url: url, Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *client) do(ctx context.Context, method, path, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// opResult is the measurement of one operation.
type opResult struct {
	Name    string `json:"name"`
	Clients int    `json:"clients"`
	Errors  int    `json:"errors"`
	Error   string `json:"firstError,omitempty"`
	dist
	OpsPerS float64 `json:"opsPerSecond"`
	Checks  int     `json:"checksPerRequest,omitempty"`
	// DynamoDB is DynamoDB requests (attempts sent) per operation, by operation name;
	// DynamoDBCalls SDK calls (equal unless the SDK retried).
	DynamoDB      map[string]float64 `json:"dynamodbRequestsPerOp"`
	DynamoDBCalls map[string]float64 `json:"dynamodbCallsPerOp"`
	// ReadUnits and WriteUnits are consumed capacity per operation; nil when not reported.
	ReadUnits         *float64 `json:"readCapacityUnitsPerOp"`
	WriteUnits        *float64 `json:"writeCapacityUnitsPerOp"`
	CapacityReported  int64    `json:"capacityReportedResponses"`
	CapacityResponses int64    `json:"capacityResponses"`
}

// apiBench sends, per operation, cfg.warmup unmeasured and then cfg.requests measured
// requests from cfg.clients concurrent clients through the stack's HTTP API, checking
// every answer against the seeded state.
func apiBench(ctx context.Context, b *bench) ([]opResult, error) {
	cfg, fix := b.cfg, b.fix
	c := newClient(b.st.URL, 4*cfg.clients)
	defer c.CloseIdleConnections()
	var out []opResult
	for _, op := range operations(cfg.batch) {
		seq := make([]int, cfg.clients)
		call := func(w, k int) error {
			path, body, check := op.request(fix, w, cfg.clients, k)
			status, resp, err := c.do(ctx, op.method, path, op.key(fix), body)
			if err != nil {
				return err
			}
			return check(status, resp)
		}
		warm := load(cfg.warmup, seq, call)
		b.counter.start()
		l := load(cfg.requests, seq, call)
		snap := b.counter.stop()
		n := len(l.lat)
		r := opResult{Name: op.name, Clients: cfg.clients, Errors: l.errors + warm.errors, Checks: op.checks,
			dist: distOf(l.lat), OpsPerS: float64(n) / l.wall.Seconds(),
			DynamoDB: perOp(snap.Attempts, n), DynamoDBCalls: perOp(snap.Calls, n),
			CapacityReported: snap.Reported, CapacityResponses: snap.Responses}
		if snap.Reported > 0 {
			ru, wu := snap.ReadUnits/float64(n), snap.WriteUnits/float64(n)
			r.ReadUnits, r.WriteUnits = &ru, &wu
		}
		if first := cmpErr(warm.first, l.first); first != nil {
			r.Error = first.Error()
		}
		out = append(out, r)
		fmt.Fprintf(progress, "  measured %-44s %7.0f ops/s, %d errors\n", op.name, r.OpsPerS, r.Errors)
		if r.Errors > 0 {
			return out, fmt.Errorf("%s: %d failed requests, first: %s", r.Name, r.Errors, r.Error)
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func perOp[V int | int64](counts map[string]V, n int) map[string]float64 {
	out := make(map[string]float64, len(counts))
	for k, v := range counts {
		out[k] = float64(v) / float64(n)
	}
	return out
}

func sum(m map[string]float64) float64 {
	var t float64
	for _, v := range m {
		t += v
	}
	return t
}

// capacityNote explains the consumed-capacity figures.
func capacityNote(rep *report, cfg config) string {
	var responses, reported int64
	for _, r := range rep.API {
		responses += r.CapacityResponses
		reported += r.CapacityReported
	}
	switch {
	case !cfg.capacity:
		return "not requested (-capacity=false)."
	case reported == 0:
		return fmt.Sprintf("not reported by the emulator: ReturnConsumedCapacity=TOTAL was added to all %d DynamoDB "+
			"calls of the measured phases and none of the answers carried ConsumedCapacity. Derive units from the "+
			"request counts and item sizes instead.", responses)
	case reported < responses:
		return fmt.Sprintf("reported for %d of %d DynamoDB answers; the figures are sums of what was reported.", reported, responses)
	}
	return fmt.Sprintf("reported by the endpoint for all %d DynamoDB answers (ReturnConsumedCapacity=TOTAL).", responses)
}

func printAPI(w io.Writer, rep *report, cfg config) {
	fmt.Fprintf(w, "1. Brand API through the local stack (HTTP -> API Gateway emulation -> handlers -> emulator)\n")
	para(w, "%d measured requests per operation from %d concurrent clients, after %d warm-up requests (warm "+
		"containers: catalog and API-key caches filled); %d seeded profiles, half with marketing consent granted; "+
		"every answer is checked against the seeded state.", cfg.requests, cfg.clients, cfg.warmup, cfg.profiles)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   operation\tp50 ms\tp99 ms\tops/s\terrors\tDynamoDB requests per operation")
	for _, r := range rep.API {
		ddb := formatCounts(r.DynamoDB, 3)
		if r.Checks > 1 {
			ddb += fmt.Sprintf("  (%.4f per check)", sum(r.DynamoDB)/float64(r.Checks))
		}
		if retries := sum(r.DynamoDB) - sum(r.DynamoDBCalls); retries > 0 {
			ddb += fmt.Sprintf("  incl. %.3f retries", retries)
		}
		fmt.Fprintf(tw, "   %s\t%.2f\t%.2f\t%.0f\t%d\t%s\n", r.Name, r.P50Ms, r.P99Ms, r.OpsPerS, r.Errors, ddb)
	}
	tw.Flush()
	para(w, "Consumed capacity: %s", rep.CapacityNote)
	for _, r := range rep.API {
		if r.ReadUnits != nil {
			fmt.Fprintf(w, "     %-44s %.2f RCU + %.2f WCU per operation\n", r.Name, *r.ReadUnits, *r.WriteUnits)
		}
	}
	para(w, "Per-tenant reads every request needs are amortised by the warm-container caches (API Gateway's "+
		"authorizer result cache, the authorizer's key cache, the catalog cache); when one expires during a measured "+
		"phase its read shows as a fraction of a request per operation. Latency and ops/s include the HTTP client, "+
		"the API Gateway emulation and the emulator, all in this process on %d CPUs: compare them between operations "+
		"and revisions, not with AWS figures.", rep.NumCPU)
	fmt.Fprintln(w)
}

package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
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
	name, method string
	write        bool // uses the write key
	checks       int  // consent checks one request answers (0 for other operations)
	// request returns the path and JSON body of the worker's k-th request (k counts from 0
	// per worker, warm-up included) and a check of the answer.
	request func(f *fixture, worker, workers, k int) (path string, body any, check func(status int, body []byte) error)
}

// checkOp is a consent-check operation of n checks per request (1: the single form), each
// by profile id or, where byEmail says so, by email identity; every answer is compared with
// the seeded state.
func checkOp(name string, n int, byEmail func(j int) bool) operation {
	return operation{name: name, method: http.MethodPost, checks: n, request: func(f *fixture, w, workers, k int) (string, any, func(int, []byte) error) {
		specs, want := make([]map[string]any, n), make([]int, n)
		for j := range specs {
			i := ((k*workers+w)*n + j) % len(f.ids)
			want[j], specs[j] = i, map[string]any{"profileId": f.ids[i], "purpose": "marketing"}
			if byEmail(j) {
				specs[j] = map[string]any{"identity": map[string]string{"type": "email", "value": f.emails[i]}, "purpose": "marketing"}
			}
		}
		var body any = map[string]any{"checks": specs}
		if n == 1 {
			body = specs[0]
		}
		return "/v1/consent-checks", body, func(status int, b []byte) error {
			type result struct {
				Allowed   *bool  `json:"allowed"`
				ProfileID string `json:"profileId"`
			}
			var r struct {
				result
				Results []result `json:"results"`
			}
			if err := want200(status, b, &r); err != nil {
				return err
			}
			if n == 1 {
				r.Results = []result{r.result}
			}
			if len(r.Results) != n {
				return fmt.Errorf("answered %d results, want %d", len(r.Results), n)
			}
			for j, res := range r.Results {
				if i := want[j]; res.Allowed == nil || *res.Allowed != f.granted[i] || res.ProfileID != f.ids[i] {
					return fmt.Errorf("check %d answered %s, want allowed=%v for %s", j, b, f.granted[i], f.ids[i])
				}
			}
			return nil
		}
	}}
}

func operations(batch int) []operation {
	return []operation{
		checkOp("consent check by id", 1, func(int) bool { return false }),
		checkOp("consent check by identity (email)", 1, func(int) bool { return true }),
		checkOp(fmt.Sprintf("batch of %d checks (ids + emails)", batch), batch, func(j int) bool { return j%2 == 1 }),
		{name: "profile read (GET /v1/profiles/{id})", method: http.MethodGet,
			request: func(f *fixture, w, n, k int) (string, any, func(int, []byte) error) {
				id := f.ids[(k*n+w)%len(f.ids)]
				return "/v1/profiles/" + id, nil, func(status int, body []byte) error {
					var r struct{ ID string }
					if err := want200(status, body, &r); err != nil || r.ID == id {
						return err
					}
					return fmt.Errorf("read profile %s, got %s", id, r.ID)
				}
			}},
		{name: "consent write (PUT .../consents/marketing)", method: http.MethodPut, write: true,
			request: func(f *fixture, w, n, k int) (string, any, func(int, []byte) error) {
				i := f.owned(w, n, k)
				f.granted[i] = !f.granted[i]
				status := map[bool]string{true: "granted", false: "withdrawn"}[f.granted[i]]
				return "/v1/profiles/" + f.ids[i] + "/consents/marketing", map[string]any{"status": status, "noticeVersion": 2},
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

// apiBench sends, per operation, cfg.warmup unmeasured and then cfg.requests measured
// requests from cfg.clients concurrent clients through the stack's HTTP API, checking
// every answer against the seeded state, and counts the handlers' DynamoDB requests.
func apiBench(ctx context.Context, b *bench, w io.Writer) error {
	cfg, fix := b.cfg, b.fix
	para(w, "%d measured requests per operation from %d concurrent clients, after %d warm-up requests (warm "+
		"containers: catalog and API-key caches filled); %d seeded profiles, half with marketing consent granted; "+
		"every answer is checked against the seeded state. DynamoDB requests are HTTP requests sent (retries "+
		"included), counted in the handlers' SDK clients; a warm-container cache expiring during a phase shows as "+
		"a fraction of a request. Latency includes the client, the API Gateway emulation and the emulator, all in "+
		"this process on %d CPUs.", cfg.requests, cfg.clients, cfg.warmup, cfg.profiles, runtime.NumCPU())
	c := newClient(b.st.URL, 4*cfg.clients)
	defer c.CloseIdleConnections()
	rows := []string{"operation\tp50 ms\tp99 ms\tops/s\terrors\tDynamoDB requests per operation"}
	defer func() { fmt.Fprintln(w); table(w, rows...) }()
	for _, op := range operations(cfg.batch) {
		seq := make([]int, cfg.clients)
		call := func(worker, k int) error {
			path, body, check := op.request(fix, worker, cfg.clients, k)
			key := fix.readKey
			if op.write {
				key = fix.writeKey
			}
			status, resp, err := c.do(ctx, op.method, path, key, body)
			if err != nil {
				return err
			}
			return check(status, resp)
		}
		warm := load(cfg.warmup, seq, call)
		b.counter.start()
		l := load(cfg.requests, seq, call)
		calls, attempts := b.counter.stop()
		d, n := distOf(l.lat), len(l.lat)
		ddb := formatCounts(perOp(attempts, n), 3)
		if op.checks > 1 {
			ddb += fmt.Sprintf("  (%.4f per check)", sum(perOp(attempts, n))/float64(op.checks))
		}
		if retries := sum(perOp(attempts, n)) - sum(perOp(calls, n)); retries > 0 {
			ddb += fmt.Sprintf("  incl. %.3f retries", retries)
		}
		rows = append(rows, fmt.Sprintf("%s\t%.2f\t%.2f\t%.0f\t%d\t%s", op.name, d.P50Ms, d.P99Ms, float64(n)/l.wall.Seconds(), l.errors+warm.errors, ddb))
		if err := cmp.Or(warm.first, l.first, ctx.Err()); err != nil {
			return fmt.Errorf("%s: %d failed requests, first: %w", op.name, l.errors+warm.errors, err)
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

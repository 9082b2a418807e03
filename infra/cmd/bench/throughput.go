package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// throughputReport is section 2: what the stack around a consent check leaves of the
// emulator's own BatchGetItem rate.
type throughputReport struct {
	Clients  int `json:"clients"`
	Requests int `json:"requestsPerVariant"`
	// Keys is how many distinct captured BatchGetItem inputs the raw variant replays.
	Keys int `json:"capturedInputs"`
	// HTTP is consent checks by id through the HTTP API; Raw the checks' own BatchGetItem
	// requests sent straight to the emulator.
	HTTP  throughputVariant `json:"http"`
	Raw   throughputVariant `json:"rawBatchGetItem"`
	Ratio float64           `json:"httpOverRaw"`
}

type throughputVariant struct {
	PerS   float64 `json:"perSecond"`
	Errors int     `json:"errors"`
	dist
}

// throughput captures the BatchGetItem input of one consent check by id per profile (up to
// 64), then measures, in rounds that alternate the order (AB, BA), cfg.requests checks
// through the HTTP API and cfg.requests replays of the captured inputs from a plain
// DynamoDB client, both from cfg.clients concurrent clients.
func throughput(ctx context.Context, b *bench) (*throughputReport, error) {
	cfg, fix := b.cfg, b.fix
	c := newClient(b.st.URL, 4*cfg.clients)
	defer c.CloseIdleConnections()
	check := func(i int) error {
		status, body, err := c.do(ctx, http.MethodPost, "/v1/consent-checks", fix.readKey,
			map[string]any{"profileId": fix.ids[i], "purpose": "marketing"})
		if err != nil {
			return err
		}
		var r struct{ Allowed *bool }
		if err := want200(status, body, &r); err != nil {
			return err
		}
		if r.Allowed == nil || *r.Allowed != fix.granted[i] {
			return fmt.Errorf("check of %s answered %s, want allowed=%v", fix.ids[i], body, fix.granted[i])
		}
		return nil
	}

	var inputs []*dynamodb.BatchGetItemInput
	b.counter.mu.Lock()
	b.counter.capture = func(op string, params any) {
		if in, ok := params.(*dynamodb.BatchGetItemInput); ok {
			cp := *in
			cp.ReturnConsumedCapacity = "" // as the handler sends it when nothing counts
			inputs = append(inputs, &cp)
		}
	}
	b.counter.mu.Unlock()
	b.counter.start()
	n := min(64, len(fix.ids))
	var err error
	for i := range n {
		if err = check(i); err != nil {
			break
		}
	}
	b.counter.stop()
	b.counter.mu.Lock()
	b.counter.capture = nil
	b.counter.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if len(inputs) != n {
		return nil, fmt.Errorf("%d consent checks made %d BatchGetItem calls; the raw variant needs exactly one each", n, len(inputs))
	}

	db := dynamodb.NewFromConfig(b.st.AWS.AWS)
	raw := func(_, k int) error {
		in := inputs[k%len(inputs)]
		out, err := db.BatchGetItem(ctx, in)
		if err != nil {
			return err
		}
		if len(out.UnprocessedKeys) > 0 || len(out.Responses[b.st.Table]) != 1 {
			return fmt.Errorf("BatchGetItem answered %d items and %d unprocessed tables", len(out.Responses[b.st.Table]), len(out.UnprocessedKeys))
		}
		return nil
	}
	viaHTTP := func(w, k int) error { return check((k*cfg.clients + w) % len(fix.ids)) }
	rep := &throughputReport{Clients: cfg.clients, Requests: cfg.requests, Keys: len(inputs)}
	variants := []struct {
		res  *throughputVariant
		do   func(w, k int) error
		seq  []int
		lat  []time.Duration
		wall time.Duration
	}{{res: &rep.HTTP, do: viaHTTP, seq: make([]int, cfg.clients)}, {res: &rep.Raw, do: raw, seq: make([]int, cfg.clients)}}
	for i := range variants {
		v := &variants[i]
		if warm := load(cfg.warmup, v.seq, v.do); warm.first != nil {
			return nil, fmt.Errorf("warm-up: %w", warm.first)
		}
	}
	for round, order := range [][]int{{0, 1}, {1, 0}} {
		for _, i := range order {
			v := &variants[i]
			l := load(cfg.requests/2+round*(cfg.requests%2), v.seq, v.do)
			v.lat, v.wall = append(v.lat, l.lat...), v.wall+l.wall
			v.res.Errors += l.errors
			if l.first != nil {
				return nil, l.first
			}
		}
	}
	for _, v := range variants {
		v.res.dist, v.res.PerS = distOf(v.lat), float64(len(v.lat))/v.wall.Seconds()
	}
	rep.Ratio = rep.HTTP.PerS / rep.Raw.PerS
	fmt.Fprintf(progress, "  %.0f checks/s through HTTP, %.0f BatchGetItem/s raw\n", rep.HTTP.PerS, rep.Raw.PerS)
	return rep, nil
}

func printThroughput(w io.Writer, t *throughputReport) {
	fmt.Fprintf(w, "2. Consent checks/s through the stack beside raw BatchGetItem/s to the same emulator\n")
	para(w, "%d requests per variant from %d concurrent clients, in two rounds of alternating order after warm-up. "+
		"HTTP: POST /v1/consent-checks by profile id (checked). Raw: the BatchGetItem inputs the checks themselves "+
		"sent (captured from %d checks, same keys and options), replayed by a plain SDK client straight to the "+
		"embedded emulator.", t.Requests, t.Clients, t.Keys)
	for _, v := range []struct {
		name string
		r    throughputVariant
	}{{"consent checks via HTTP", t.HTTP}, {"raw BatchGetItem", t.Raw}} {
		fmt.Fprintf(w, "   %-26s %8.0f /s   p50 %6.2f ms   p99 %6.2f ms   errors %d\n", v.name, v.r.PerS, v.r.P50Ms, v.r.P99Ms, v.r.Errors)
	}
	fmt.Fprintf(w, "   ratio checks/s : BatchGetItem/s = %.2f (the stack keeps %.0f%% of the emulator's rate)\n\n", t.Ratio, 100*t.Ratio)
}

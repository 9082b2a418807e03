package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// throughput captures the BatchGetItem input of one consent check by id per profile (up to
// 64), then measures, in two rounds that alternate the order, cfg.requests checks through
// the HTTP API and cfg.requests replays of the captured inputs from a plain DynamoDB client
// straight to the emulator, both from cfg.clients concurrent clients.
func throughput(ctx context.Context, b *bench, w io.Writer) error {
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
	n := min(64, len(fix.ids))
	params, err := b.counter.captured(func() error {
		for i := range n {
			if err := check(i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var inputs []*dynamodb.BatchGetItemInput
	for _, p := range params {
		if in, ok := p.(*dynamodb.BatchGetItemInput); ok {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) != n {
		return fmt.Errorf("%d consent checks made %d BatchGetItem calls; the raw variant needs exactly one each", n, len(inputs))
	}
	db := dynamodb.NewFromConfig(b.st.AWS.AWS)
	variants := []struct {
		name string
		do   func(worker, k int) error
		seq  []int
		lat  []time.Duration
		wall time.Duration
	}{
		{name: "consent checks via HTTP", do: func(worker, k int) error { return check((k*cfg.clients + worker) % len(fix.ids)) }},
		{name: "raw BatchGetItem", do: func(_, k int) error {
			out, err := db.BatchGetItem(ctx, inputs[k%len(inputs)])
			if err == nil && (len(out.UnprocessedKeys) > 0 || len(out.Responses[b.st.Table]) != 1) {
				err = fmt.Errorf("BatchGetItem answered %d items, %d unprocessed tables", len(out.Responses[b.st.Table]), len(out.UnprocessedKeys))
			}
			return err
		}},
	}
	for i := range variants {
		v := &variants[i]
		v.seq = make([]int, cfg.clients)
		if warm := load(cfg.warmup, v.seq, v.do); warm.first != nil {
			return fmt.Errorf("%s warm-up: %w", v.name, warm.first)
		}
	}
	for round, order := range [][]int{{0, 1}, {1, 0}} {
		for _, i := range order {
			v := &variants[i]
			l := load(cfg.requests/2+round*(cfg.requests%2), v.seq, v.do)
			if l.first != nil {
				return fmt.Errorf("%s: %d errors, first: %w", v.name, l.errors, l.first)
			}
			v.lat, v.wall = append(v.lat, l.lat...), v.wall+l.wall
		}
	}
	para(w, "%d requests per variant from %d concurrent clients, in two rounds of alternating order after warm-up. "+
		"HTTP: POST /v1/consent-checks by profile id (answers checked). Raw: the BatchGetItem inputs those checks "+
		"sent (captured from %d checks: same keys and options), replayed by a plain SDK client straight to the "+
		"embedded emulator.", cfg.requests, cfg.clients, n)
	var rate [2]float64
	for i, v := range variants {
		d := distOf(v.lat)
		rate[i] = float64(len(v.lat)) / v.wall.Seconds()
		fmt.Fprintf(w, "   %-26s %8.0f /s   p50 %6.2f ms   p99 %6.2f ms\n", v.name, rate[i], d.P50Ms, d.P99Ms)
	}
	fmt.Fprintf(w, "   ratio checks/s : BatchGetItem/s = %.2f (the stack keeps %.0f%% of the emulator's rate)\n", rate[0]/rate[1], 100*rate[0]/rate[1])
	return nil
}

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
	check := func(i int) error {
		return b.c.call(ctx, http.MethodPost, "/v1/consent-checks", fix.readKey,
			map[string]any{"profileId": fix.ids[i], "purpose": "marketing"}, http.StatusOK, nil)
	}
	b.counter.start()
	for i := range 64 {
		if err := check(i); err != nil {
			b.counter.stop()
			return err
		}
	}
	_, _, params := b.counter.stop()
	var inputs []*dynamodb.BatchGetItemInput
	for _, p := range params {
		if in, ok := p.(*dynamodb.BatchGetItemInput); ok {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) == 0 {
		return fmt.Errorf("64 consent checks made no BatchGetItem call to replay")
	}
	variants := []struct {
		name string
		do   func(worker, k int) error
		seq  []int
		lat  []time.Duration
		wall time.Duration
	}{
		{name: "consent checks via HTTP", do: func(worker, k int) error { return check((k*cfg.clients + worker) % len(fix.ids)) }},
		{name: "raw BatchGetItem", do: func(_, k int) error {
			_, err := b.db.BatchGetItem(ctx, inputs[k%len(inputs)])
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
	note(w, "%d requests per variant from %d clients, in two rounds of alternating order after warm-up.", cfg.requests, cfg.clients)
	note(w, "Raw: the %d BatchGetItem inputs 64 checks by id sent, replayed by a plain SDK client to the emulator.", len(inputs))
	var rate [2]float64
	rows := []string{}
	for i, v := range variants {
		d := distOf(v.lat)
		rate[i] = float64(len(v.lat)) / v.wall.Seconds()
		rows = append(rows, fmt.Sprintf("%s\t%.0f /s\tp50 %.2f ms\tp99 %.2f ms", v.name, rate[i], d.P50, d.P99))
	}
	table(w, rows...)
	note(w, "ratio checks/s : BatchGetItem/s = %.2f (the stack keeps %.0f%% of the emulator's rate)", rate[0]/rate[1], 100*rate[0]/rate[1])
	return nil
}

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// outboxRounds is how many alternating rounds the outbox writes are split into.
const outboxRounds = 20

// outboxCost measures consent writes over a store with the outbox item and one without.
func outboxCost(ctx context.Context, b *bench, w io.Writer) error {
	cfg, fix := b.cfg, b.fix
	type arm struct {
		name string
		svc  *app.Service
		m    *meter // of the measured writes
	}
	arms := []*arm{{name: "with outbox"}, {name: "DisableOutbox"}}
	for i, a := range arms {
		store := dynamo.New(dynamodb.NewFromConfig(b.st.HandlerAWS), b.st.Table) // metered
		if i == 1 {
			store.DisableOutbox()
		}
		a.svc, a.m = app.New(store, time.Now, time.Minute), &meter{}
	}
	var drained time.Duration
	var dispatched int64
	seq := make([]int, cfg.clients) // shared by both variants: each write flips a profile
	rounds, err := alternate(outboxRounds, cfg.warmup, cfg.outboxN, func(i, n int, measured bool) (loadResult, error) {
		d, err := waitOutboxEmpty(ctx, b)
		drained += d
		if err != nil {
			return loadResult{}, err
		}
		a, mctx := arms[i], ctx // warm-up writes (not metered) fill the caches
		if measured {
			mctx = a.m.ctx(ctx)
		}
		l := load(n, seq, func(worker, k int) error {
			p := fix.owned(worker, cfg.clients, k)
			_, err := a.svc.PutConsent(mctx, benchTenant, fix.ids[p], "marketing", profile.ConsentInput{Status: fix.flip(p), NoticeVersion: 2}, operator)
			return err
		})
		if err := cmp.Or(l.err(), ctx.Err()); err != nil || !measured || i == 1 {
			return l, err
		}
		left, err := outboxPending(ctx, b)
		dispatched += int64(n) - left
		return l, err
	})
	if err != nil {
		return err
	}
	note(w, "%d writes per variant from %d workers on profiles they own, in %d rounds alternating the order (AB, BA, ...),", cfg.outboxN, cfg.clients, outboxRounds)
	note(w, "each starting with an empty outbox, after %d warm-up writes. No webhook: the dispatcher only deletes the items.\n", cfg.warmup)
	rows := []string{"variant\tp50 ms\tp99 ms\tmean ms\tmax ms\twrites/s\titems per TransactWriteItems\tDynamoDB calls per write"}
	var d [2]dist
	var items [2]float64
	for i, a := range arms {
		var sizes []int
		for _, t := range inputsOf[*dynamodb.TransactWriteItemsInput](a.m.inputs) {
			sizes = append(sizes, len(t.TransactItems))
			items[i] += float64(len(t.TransactItems))
		}
		l := sum(rounds[i])
		d[i], items[i] = distOf(l.lat), items[i]/float64(len(sizes))
		rows = append(rows, fmt.Sprintf("%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.2f (min %d, max %d, %d calls)\t%s", a.name,
			d[i].P50, d[i].P99, d[i].Mean, d[i].Max, l.rate(),
			items[i], slices.Min(sizes), slices.Max(sizes), len(sizes), formatCounts(a.m.calls, len(l.lat), 3)))
	}
	rel := func(with, without float64) string {
		return fmt.Sprintf("%+.2f (%+.0f%%)", with-without, 100*(with-without)/without)
	}
	table(w, append(rows, fmt.Sprintf("outbox costs\t%s\t%s\t%s\t\t\t%+.2f\t", rel(d[0].P50, d[1].P50),
		rel(d[0].P99, d[1].P99), rel(d[0].Mean, d[1].Mean), items[0]-items[1]))...)
	var delta []float64
	slower := 0
	for r := range rounds[0] {
		p, q := distOf(rounds[0][r].lat).P50, distOf(rounds[1][r].lat).P50
		delta = append(delta, p-q)
		if p > q {
			slower++
		}
	}
	note(w, "Paired by round: with-outbox p50 above DisableOutbox p50 in %d of %d rounds; median difference %+.2f ms.",
		slower, len(delta), spreadOf(delta).Median)
	note(w, "The dispatcher (in this process, same CPUs) had taken %d of %d items as their rounds ended; draining took %.1fs (not measured).",
		dispatched, cfg.outboxN, drained.Seconds())
	return nil
}

// outboxPending counts the outbox items not yet dispatched, on the index the poller reads.
func outboxPending(ctx context.Context, b *bench) (int64, error) {
	var n int64
	for _, pk := range dynamo.OutboxPartitions() {
		p := dynamodb.NewQueryPaginator(b.db, &dynamodb.QueryInput{
			TableName: &b.st.Table, IndexName: aws.String("GSI1"), Select: types.SelectCount,
			KeyConditionExpression:    aws.String("GSI1PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("count outbox items: %w", err)
			}
			n += int64(page.Count)
		}
	}
	return n, nil
}

// waitOutboxEmpty waits up to two minutes for the dispatcher to take every outbox item.
func waitOutboxEmpty(ctx context.Context, b *bench) (time.Duration, error) {
	t0 := time.Now()
	err := poll(ctx, 20*time.Millisecond, 2*time.Minute, func() (bool, error) {
		n, err := outboxPending(ctx, b)
		return n == 0, err
	})
	if err != nil {
		err = fmt.Errorf("outbox items still pending (is the dispatcher stuck?): %w", err)
	}
	return time.Since(t0), err
}

const (
	eventType      = "consent.changed" // the event section 6 subscribes to and produces
	duplicateGrace = time.Second       // the receiver's wait for duplicates after the last event
	eventsTimeout  = 2 * time.Minute   // the longest wait for the deliveries after the last write
)

// receiver is the webhook endpoint: it verifies every signature, as a customer would.
type receiver struct {
	mu               sync.Mutex
	secret           string
	since, last      time.Time                // the last: arrival of the latest distinct event
	arrived          map[string]time.Duration // event id -> receive time minus occurredAt
	dups, unexpected int
	bad              []error // deliveries that did not verify
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	id := req.Header.Get(webhook.HeaderID)
	r.mu.Lock()
	defer r.mu.Unlock()
	err := webhook.Verify(r.secret, id, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, now, 5*time.Minute)
	var e webhook.Event
	if err == nil && (json.Unmarshal(body, &e) != nil || e.ID != id) {
		err = fmt.Errorf("body %.200s does not match its Webhook-Id %q", body, id)
	}
	_, seen := r.arrived[e.ID]
	switch {
	case err != nil:
		r.bad = append(r.bad, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	case e.Type != eventType || e.Tenant != benchTenant || e.OccurredAt.Before(r.since):
		r.unexpected++
	case seen:
		r.dups++
	default:
		r.arrived[e.ID] = now.Sub(e.OccurredAt)
		r.last = now
	}
	w.WriteHeader(http.StatusNoContent)
}

// eventsOut makes consent changes through the HTTP API and awaits their webhook deliveries.
func eventsOut(ctx context.Context, b *bench, w io.Writer) (err error) {
	cfg, c, adminKey := b.cfg, b.c, b.fix.keys[apikey.Admin]
	// Earlier sections' events would reach the receiver too.
	drained, err := waitOutboxEmpty(ctx, b)
	if err != nil {
		return err
	}
	rc := &receiver{arrived: map[string]time.Duration{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var hook struct{ ID, Secret string }
	if err := c.call(ctx, http.MethodPost, "/v1/webhooks", adminKey, map[string]any{"url": srv.URL + "/hook",
		"eventTypes": []string{eventType}, "description": "bench receiver"}, http.StatusCreated, &hook); err != nil {
		return fmt.Errorf("register webhook: %w", err)
	}
	defer func() { // even when the context was cancelled; a failed delete fails the phase
		err = errors.Join(err, c.call(context.WithoutCancel(ctx), http.MethodDelete, "/v1/webhooks/"+hook.ID, adminKey, nil, http.StatusNoContent, nil))
	}()
	rc.mu.Lock()
	rc.secret, rc.since = hook.Secret, time.Now()
	rc.mu.Unlock()

	first := time.Now()
	l := load(cfg.events, make([]int, cfg.clients), func(w, k int) error { return consentWrite(ctx, b, w, k) })
	lastWrite := time.Now()
	if err := l.err(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  %d consent changes written in %.2fs; waiting for their deliveries ...\n", cfg.events, l.wall.Seconds())
	// Poll the outbox too, to tell the dispatcher's share of the time from the delivery's.
	var emptyAt time.Time
	waitErr := poll(ctx, 50*time.Millisecond, eventsTimeout, func() (bool, error) {
		if n, err := outboxPending(ctx, b); emptyAt.IsZero() && err == nil && n == 0 {
			emptyAt = time.Now()
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.arrived) == cfg.events && !emptyAt.IsZero(), nil
	})
	if waitErr != nil {
		waitErr = fmt.Errorf("deliveries after the last write: %w", waitErr)
	}
	time.Sleep(duplicateGrace) // late duplicates would arrive now, if any

	rc.mu.Lock()
	defer rc.mu.Unlock()
	note(w, "%d consent changes (PUT .../consents/marketing) from %d clients on distinct profiles; one webhook for %s,", cfg.events, cfg.clients, eventType)
	note(w, "received by an httptest server that verifies every signature (webhook.Verify). Earlier outbox items drained first (%.1fs).\n", drained.Seconds())
	end := rc.last.Sub(first).Seconds()
	writes := lastWrite.Sub(first).Seconds()
	lat := distOf(slices.Collect(maps.Values(rc.arrived)))
	table(w, fmt.Sprintf("writes\t%d in %.2fs (%.0f/s)", cfg.events, writes, float64(cfg.events)/writes),
		fmt.Sprintf("first write -> last delivery\t%.2fs: %.0f events/s end to end", end, float64(len(rc.arrived))/end),
		fmt.Sprintf("last write -> last delivery\t%.2fs", rc.last.Sub(lastWrite).Seconds()),
		fmt.Sprintf("last write -> outbox empty\t%.2fs (polled every 50 ms)", emptyAt.Sub(lastWrite).Seconds()),
		fmt.Sprintf("delivery latency (received - occurredAt)\tp50 %.1f ms, p99 %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms",
			lat.P50, lat.P99, lat.Mean, lat.Min, lat.Max),
		fmt.Sprintf("delivered\t%d distinct event ids for %d changes", len(rc.arrived), cfg.events),
		fmt.Sprintf("also received\t%d duplicate deliveries (until %v after the last), %d unexpected events, %d bad signatures",
			rc.dups, duplicateGrace, rc.unexpected, len(rc.bad)))
	if len(rc.bad) > 0 {
		waitErr = errors.Join(waitErr, fmt.Errorf("%d deliveries did not verify, first: %w", len(rc.bad), rc.bad[0]))
	}
	return waitErr
}

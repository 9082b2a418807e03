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

	"github.com/livingprofile/livingprofile/shared/webhook"
)

const (
	eventType = "consent.changed" // the event section 6 subscribes to and produces
	// duplicateGrace is how long the receiver keeps listening for duplicates after the
	// last distinct event arrived.
	duplicateGrace = time.Second
	eventsTimeout  = 2 * time.Minute // the longest wait for the deliveries after the last write
)

// receiver is the webhook endpoint: it verifies every delivery's signature as a customer
// would and records the first arrival of each event.
type receiver struct {
	mu                    sync.Mutex
	secret                string
	since, last           time.Time                // the last: arrival of the latest distinct event
	arrived               map[string]time.Duration // event id -> receive time minus occurredAt
	dups, unexpected, bad int
	firstBad              error
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
		r.bad++
		r.firstBad = cmp.Or(r.firstBad, err)
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

// delivered returns how many distinct events arrived.
func (r *receiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.arrived)
}

// eventsOut registers a verifying loopback receiver for consent.changed with an admin key,
// makes cfg.events consent changes through the HTTP API from cfg.clients clients on
// distinct profiles, and waits until every change's event has been delivered. The webhook
// is deleted afterwards.
func eventsOut(ctx context.Context, b *bench, w io.Writer) (err error) {
	cfg, st, fix := b.cfg, b.st, b.fix
	db, c, adminKey := b.db, b.c, fix.adminKey
	// Earlier phases' changes are still being dispatched: wait, or their events would reach
	// the receiver too.
	drained, err := waitOutboxEmpty(ctx, db, st.Table)
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
	defer func() {
		// Delete even when the context was cancelled; a failed delete fails the phase.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = errors.Join(err, c.call(dctx, http.MethodDelete, "/v1/webhooks/"+hook.ID, adminKey, nil, http.StatusNoContent, nil))
	}()
	rc.mu.Lock()
	rc.secret, rc.since = hook.Secret, time.Now()
	rc.mu.Unlock()

	first := time.Now()
	l := load(cfg.events, make([]int, cfg.clients), func(worker, k int) error {
		i := fix.owned(worker, cfg.clients, k)
		return c.call(ctx, http.MethodPut, "/v1/profiles/"+fix.ids[i]+"/consents/marketing", fix.writeKey, fix.flip(i), http.StatusOK, nil)
	})
	lastWrite := time.Now()
	if l.first != nil {
		return fmt.Errorf("%d of %d consent writes failed, first: %w", l.errors, cfg.events, l.first)
	}
	fmt.Fprintf(os.Stderr, "  %d consent changes written in %.2fs; waiting for their deliveries ...\n", cfg.events, l.wall.Seconds())
	// Poll the outbox too, to tell the dispatcher's share of the time from the delivery's.
	var emptyAt time.Time
	var waitErr error
	for (rc.delivered() < cfg.events || emptyAt.IsZero()) && waitErr == nil {
		if n, err := outboxPending(ctx, db, st.Table); emptyAt.IsZero() && err == nil && n == 0 {
			emptyAt = time.Now()
		}
		select {
		case <-ctx.Done():
			waitErr = ctx.Err()
		case <-time.After(50 * time.Millisecond):
			if time.Since(lastWrite) > eventsTimeout {
				waitErr = fmt.Errorf("not every event was delivered within %v of the last write", eventsTimeout)
			}
		}
	}
	time.Sleep(duplicateGrace) // late duplicates would arrive now, if any

	rc.mu.Lock()
	defer rc.mu.Unlock()
	note(w, "%d consent changes (PUT .../consents/marketing) from %d clients on distinct profiles; one webhook for %s,", cfg.events, cfg.clients, eventType)
	note(w, "received by an httptest server that verifies every signature (webhook.Verify). Earlier outbox items drained first (%.1fs).\n", drained.Seconds())
	end := rc.last.Sub(first).Seconds()
	writes := lastWrite.Sub(first).Seconds()
	rows := []string{fmt.Sprintf("writes\t%d in %.2fs (%.0f/s)", cfg.events, writes, float64(cfg.events)/writes)}
	if len(rc.arrived) == cfg.events {
		rows = append(rows, fmt.Sprintf("first write -> last delivery\t%.2fs: %.0f events/s end to end", end, float64(cfg.events)/end))
	} else {
		rows = append(rows, fmt.Sprintf("first write -> last delivery\tincomplete (%.2fs to the last event received)", end))
	}
	rows = append(rows, fmt.Sprintf("last write -> last delivery\t%.2fs", rc.last.Sub(lastWrite).Seconds()))
	if !emptyAt.IsZero() {
		rows = append(rows, fmt.Sprintf("last write -> outbox empty\t%.2fs (polled every 50 ms)", emptyAt.Sub(lastWrite).Seconds()))
	}
	lat := distOf(slices.Collect(maps.Values(rc.arrived)))
	table(w, append(rows,
		fmt.Sprintf("delivery latency (received - occurredAt)\tp50 %.1f ms, p99 %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms",
			lat.P50, lat.P99, lat.Mean, lat.Min, lat.Max),
		fmt.Sprintf("delivered\t%d distinct event ids for %d changes", len(rc.arrived), cfg.events),
		fmt.Sprintf("also received\t%d duplicate deliveries (until %v after the last), %d unexpected events, %d bad signatures",
			rc.dups, duplicateGrace, rc.unexpected, rc.bad))...)
	if rc.bad > 0 {
		waitErr = errors.Join(waitErr, fmt.Errorf("%d deliveries did not verify, first: %w", rc.bad, rc.firstBad))
	}
	return waitErr
}

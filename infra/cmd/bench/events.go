package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// eventType is the event section 6 subscribes to and produces.
const eventType = "consent.changed"

// duplicateGrace is how long the receiver keeps listening for duplicates after the last
// distinct event arrived.
const duplicateGrace = time.Second

// receiver is the webhook endpoint: it verifies every delivery's signature as a customer
// would and records the first arrival of each event.
type receiver struct {
	srv      *httptest.Server
	want     int
	profiles map[string]bool // the profiles this phase changes; read-only once serving
	done     chan struct{}

	mu         sync.Mutex
	secret     string
	since      time.Time
	arrived    map[string]time.Duration // event id -> receive time minus occurredAt
	perProfile map[string]int
	last       time.Time // arrival of the latest distinct event
	dups       int
	unexpected int
	badSig     int
	firstBad   string
}

func newReceiver(want int, profiles map[string]bool) *receiver {
	r := &receiver{want: want, profiles: profiles, done: make(chan struct{}),
		arrived: map[string]time.Duration{}, perProfile: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	now := time.Now()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := req.Header.Get(webhook.HeaderID)
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	verr := webhook.Verify(secret, id, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, now, 5*time.Minute)
	var e webhook.Event
	if verr == nil {
		if err := json.Unmarshal(body, &e); err != nil || e.ID != id {
			verr = fmt.Errorf("body %.200s does not match its Webhook-Id %q", body, id)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case verr != nil:
		r.badSig++
		if r.firstBad == "" {
			r.firstBad = verr.Error()
		}
		w.WriteHeader(http.StatusBadRequest)
		return
	case e.Type != eventType || e.Tenant != benchTenant || !r.profiles[e.ProfileID] || e.Data.Subject != "marketing" || e.OccurredAt.Before(r.since):
		r.unexpected++
	default:
		if _, seen := r.arrived[e.ID]; seen {
			r.dups++
			break
		}
		r.arrived[e.ID] = now.Sub(e.OccurredAt)
		r.perProfile[e.ProfileID]++
		r.last = now
		if len(r.arrived) == r.want {
			close(r.done)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// eventsOut registers a verifying loopback receiver for consent.changed with an admin key,
// makes cfg.events consent changes through the HTTP API from cfg.clients clients on
// distinct profiles, and waits (at most cfg.eventsTimeout after the last write) until
// every change's event has been delivered. The webhook is deleted afterwards.
func eventsOut(ctx context.Context, b *bench, w io.Writer) (err error) {
	cfg, st, fix := b.cfg, b.st, b.fix
	db := dynamodb.NewFromConfig(st.AWS.AWS)
	adminKey, _, err := seed.Key(ctx, dynamo.New(db, st.Table), benchTenant, "bench-admin", []apikey.Scope{apikey.Admin})
	if err != nil {
		return fmt.Errorf("seed admin key: %w", err)
	}
	// Earlier phases' changes are still being dispatched: wait, or their events would reach
	// the receiver too.
	drained, err := waitOutboxEmpty(ctx, db, st.Table, drainTimeout)
	if err != nil {
		return err
	}
	profiles := map[string]bool{}
	for _, id := range fix.ids {
		profiles[id] = true
	}
	rc := newReceiver(cfg.events, profiles)
	defer rc.srv.Close()
	c := newClient(st.URL, 4*cfg.clients)
	defer c.CloseIdleConnections()
	status, body, err := c.do(ctx, http.MethodPost, "/v1/webhooks", adminKey, map[string]any{
		"url": rc.srv.URL + "/hook", "eventTypes": []string{eventType}, "description": "bench receiver"})
	var hook struct{ ID, Secret string }
	if err == nil && status != http.StatusCreated {
		err = fmt.Errorf("status %d: %s", status, body)
	}
	if err == nil {
		if err = json.Unmarshal(body, &hook); err == nil && (hook.ID == "" || hook.Secret == "") {
			err = fmt.Errorf("answer has no id or secret: %s", body)
		}
	}
	if err != nil {
		return fmt.Errorf("register webhook: %w", err)
	}
	defer func() {
		// Delete even when the context was cancelled; a failed delete fails the phase.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		status, body, derr := c.do(dctx, http.MethodDelete, "/v1/webhooks/"+hook.ID, adminKey, nil)
		if derr == nil && status != http.StatusNoContent {
			derr = fmt.Errorf("status %d: %s", status, body)
		}
		if derr != nil {
			err = errors.Join(err, fmt.Errorf("delete webhook %s: %w", hook.ID, derr))
		}
	}()
	rc.mu.Lock()
	rc.secret, rc.since = hook.Secret, time.Now()
	rc.mu.Unlock()

	// The writes: worker w flips the marketing consent of the profiles it owns.
	var mu sync.Mutex
	expected := map[string]int{}
	first := time.Now()
	l := load(cfg.events, make([]int, cfg.clients), func(worker, k int) error {
		i := fix.owned(worker, cfg.clients, k)
		next := map[bool]string{true: "withdrawn", false: "granted"}[fix.granted[i]]
		status, body, err := c.do(ctx, http.MethodPut, "/v1/profiles/"+fix.ids[i]+"/consents/marketing", fix.writeKey,
			map[string]any{"status": next, "noticeVersion": 2})
		if err == nil {
			err = want200(status, body, nil)
		}
		if err == nil {
			fix.granted[i] = !fix.granted[i]
			mu.Lock()
			expected[fix.ids[i]]++
			mu.Unlock()
		}
		return err
	})
	lastWrite := time.Now()
	if l.first != nil {
		return fmt.Errorf("%d of %d consent writes failed, first: %w", l.errors, cfg.events, l.first)
	}
	fmt.Fprintf(progress, "  %d consent changes written in %.2fs; waiting for their deliveries ...\n", cfg.events, l.wall.Seconds())
	// Watch the outbox, to tell the dispatcher's share of the time from the delivery's.
	var watch sync.WaitGroup
	var emptyAt time.Time
	watchDone := make(chan struct{})
	watch.Go(func() {
		for {
			if n, err := outboxPending(ctx, db, st.Table); err == nil && n == 0 {
				emptyAt = time.Now()
				return
			}
			select {
			case <-watchDone:
				return
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	var waitErr error
	select {
	case <-rc.done:
		select { // late duplicates would arrive now, if any
		case <-time.After(duplicateGrace):
		case <-ctx.Done():
		}
	case <-time.After(cfg.eventsTimeout):
		waitErr = fmt.Errorf("not every event was delivered within %v of the last write", cfg.eventsTimeout)
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	close(watchDone)
	watch.Wait()

	rc.mu.Lock()
	defer rc.mu.Unlock()
	var mismatch []string
	for id, n := range expected {
		if got := rc.perProfile[id]; got != n {
			mismatch = append(mismatch, fmt.Sprintf("%s: %d events for %d changes", id, got, n))
		}
	}
	slices.Sort(mismatch)
	para(w, "%d consent changes (PUT /v1/profiles/{id}/consents/marketing, alternating granted/withdrawn) from %d "+
		"concurrent clients on distinct profiles; one webhook for %s, registered with POST /v1/webhooks (admin key) and "+
		"deleted afterwards, received by an httptest server on 127.0.0.1 that verifies every signature "+
		"(webhook.Verify) and answers 204. Pipeline: %s. Earlier phases' outbox items were drained first (%.1fs).",
		cfg.events, cfg.clients, eventType, pipeline(st), drained.Seconds())
	fmt.Fprintln(w)
	end := rc.last.Sub(first).Seconds()
	rows := []string{fmt.Sprintf("writes\t%d in %.2fs (%.0f/s)", cfg.events, lastWrite.Sub(first).Seconds(), float64(cfg.events)/lastWrite.Sub(first).Seconds())}
	if len(rc.arrived) == cfg.events {
		rows = append(rows, fmt.Sprintf("first write -> last delivery\t%.2fs: %.0f events/s end to end", end, float64(cfg.events)/end))
	} else {
		rows = append(rows, fmt.Sprintf("first write -> last delivery\tincomplete (%.2fs to the last event received)", end))
	}
	rows = append(rows, fmt.Sprintf("last write -> last delivery\t%.2fs", rc.last.Sub(lastWrite).Seconds()))
	if !emptyAt.IsZero() {
		rows = append(rows, fmt.Sprintf("last write -> outbox empty\t%.2fs (every item dispatched; polled every 50 ms)", emptyAt.Sub(lastWrite).Seconds()))
	}
	lat := distOf(slices.Collect(maps.Values(rc.arrived)))
	table(w, append(rows,
		fmt.Sprintf("delivery latency (received - occurredAt)\tp50 %.1f ms, p99 %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms",
			lat.P50Ms, lat.P99Ms, lat.MeanMs, lat.MinMs, lat.MaxMs),
		fmt.Sprintf("delivered\t%d distinct event ids for %d changes, %d profiles whose counts do not match", len(rc.arrived), cfg.events, len(mismatch)),
		fmt.Sprintf("also received\t%d duplicate deliveries (until %v after the last), %d unexpected events, %d bad signatures",
			rc.dups, duplicateGrace, rc.unexpected, rc.badSig))...)
	switch {
	case waitErr != nil:
		return waitErr
	case rc.badSig > 0:
		return fmt.Errorf("%d deliveries did not verify, first: %s", rc.badSig, rc.firstBad)
	case len(mismatch) > 0:
		return fmt.Errorf("events do not match the changes per profile (%d profiles), first: %s", len(mismatch), mismatch[0])
	}
	return nil
}

// pipeline describes the dispatcher's and the delivery worker's event sources as the
// template configures them.
func pipeline(st *localstack.Stack) string {
	var dispatch, deliver string
	for _, fn := range st.Template.Functions {
		for _, s := range fn.Streams {
			dispatch = fmt.Sprintf("%s (outbox poller standing in for the table stream, BatchSize %d per outbox partition, %d partitions)",
				fn.LogicalID, s.BatchSize, len(localstack.OutboxPartitions()))
		}
		for _, q := range fn.Queues {
			if fn.LogicalID == "DeliverWebhooks" {
				deliver = fmt.Sprintf("%s (SQS poller, BatchSize %d, batching window %d s, timeout %d s)",
					fn.LogicalID, q.BatchSize, q.MaxBatchingWindowSeconds, fn.Timeout)
			}
		}
	}
	return dispatch + " -> " + deliver
}

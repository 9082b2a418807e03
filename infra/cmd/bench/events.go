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
	"text/tabwriter"
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

// eventsReport is section 6: consent changes through the HTTP API until their webhook
// deliveries arrive at a loopback receiver.
type eventsReport struct {
	Changes int `json:"changes"`
	Clients int `json:"clients"`
	// Pipeline describes the event sources as the template configures them.
	Pipeline string `json:"pipeline"`
	// OutboxDrainSeconds is the wait for earlier phases' outbox items before registering.
	OutboxDrainSeconds float64 `json:"outboxDrainSeconds"`
	WritesSeconds      float64 `json:"writesSeconds"`
	WritesPerS         float64 `json:"writesPerSecond"`
	WriteErrors        int     `json:"writeErrors"`
	// EndToEndSeconds runs from the first write to the last distinct event's verified delivery.
	EndToEndSeconds float64 `json:"firstWriteToLastDeliverySeconds"`
	EventsPerS      float64 `json:"eventsPerSecond"`
	// LastWriteToLastDelivery is how long the pipeline ran on after the writes.
	LastWriteToLastDeliverySeconds float64 `json:"lastWriteToLastDeliverySeconds"`
	// LastWriteToOutboxEmpty is when the dispatcher had taken every outbox item, polled every
	// 50 ms from the last write (0 when not seen).
	LastWriteToOutboxEmptySeconds float64 `json:"lastWriteToOutboxEmptySeconds"`
	// Latency is receive time minus the event's occurredAt, first delivery of each event.
	Latency dist `json:"deliveryLatency"`
	// Delivered counts distinct event ids verified; Duplicates further verified deliveries of
	// them (up to DuplicateGraceSeconds after the last); Unexpected deliveries of events this
	// phase did not make; BadSignatures deliveries that did not verify.
	Delivered             int     `json:"distinctEventsDelivered"`
	Duplicates            int     `json:"duplicateDeliveries"`
	Unexpected            int     `json:"unexpectedDeliveries"`
	BadSignatures         int     `json:"badSignatures"`
	DuplicateGraceSeconds float64 `json:"duplicateGraceSeconds"`
	// PerProfileMatch is true when every profile got exactly as many events as changes.
	PerProfileMatch bool `json:"perProfileCountsMatch"`
	WebhookDeleted  bool `json:"webhookDeleted"`
}

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
func eventsOut(ctx context.Context, b *bench) (rep *eventsReport, err error) {
	cfg, st, fix := b.cfg, b.st, b.fix
	rep = &eventsReport{Changes: cfg.events, Clients: cfg.clients, Pipeline: pipeline(st), DuplicateGraceSeconds: duplicateGrace.Seconds()}
	db := dynamodb.NewFromConfig(st.AWS.AWS)
	store := dynamo.New(db, st.Table)
	adminKey, _, err := seed.Key(ctx, store, benchTenant, "bench-admin", []apikey.Scope{apikey.Admin})
	if err != nil {
		return nil, fmt.Errorf("seed admin key: %w", err)
	}
	// Earlier phases' changes are still being dispatched: wait, or their events would reach
	// the receiver too.
	d, err := waitOutboxEmpty(ctx, db, st.Table, drainTimeout)
	rep.OutboxDrainSeconds = d.Seconds()
	if err != nil {
		return nil, err
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
		"url": rc.srv.URL + "/hook", "eventTypes": []string{eventType}, "description": "bench receiver",
	})
	if err == nil && status != http.StatusCreated {
		err = fmt.Errorf("status %d: %s", status, body)
	}
	var hook struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err == nil {
		if err = json.Unmarshal(body, &hook); err == nil && (hook.ID == "" || hook.Secret == "") {
			err = fmt.Errorf("answer has no id or secret: %s", body)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("register webhook: %w", err)
	}
	defer func() {
		// Delete even when the context was cancelled; a failed delete fails the phase.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		status, body, derr := c.do(dctx, http.MethodDelete, "/v1/webhooks/"+hook.ID, adminKey, nil)
		if derr == nil && status != http.StatusNoContent {
			derr = fmt.Errorf("status %d: %s", status, body)
		}
		rep.WebhookDeleted = derr == nil
		if derr != nil {
			err = errors.Join(err, fmt.Errorf("delete webhook %s: %w", hook.ID, derr))
		}
	}()
	rc.mu.Lock()
	rc.secret = hook.Secret
	rc.since = time.Now()
	rc.mu.Unlock()

	// The writes: worker w flips the marketing consent of the profiles it owns.
	var mu sync.Mutex
	expected := map[string]int{}
	first := time.Now()
	l := load(cfg.events, make([]int, cfg.clients), func(w, k int) error {
		i := fix.owned(w, cfg.clients, k)
		next := "granted"
		if fix.granted[i] {
			next = "withdrawn"
		}
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
	rep.WriteErrors = l.errors
	firstErr := l.first
	lastWrite := time.Now()
	rep.WritesSeconds = lastWrite.Sub(first).Seconds()
	rep.WritesPerS = float64(cfg.events) / rep.WritesSeconds
	fmt.Fprintf(progress, "  %d consent changes written in %.2fs; waiting for their deliveries ...\n", cfg.events, rep.WritesSeconds)
	if firstErr != nil {
		return rep, fmt.Errorf("%d of %d consent writes failed, first: %w", rep.WriteErrors, cfg.events, firstErr)
	}

	// Watch the outbox, to tell the dispatcher's share of the time from the delivery's.
	var (
		watch     sync.WaitGroup
		emptyAt   time.Time
		watchDone = make(chan struct{})
	)
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
	timedOut := false
	select {
	case <-rc.done:
		// Late duplicates would arrive now, if any.
		select {
		case <-time.After(duplicateGrace):
		case <-ctx.Done():
		}
	case <-time.After(cfg.eventsTimeout):
		timedOut = true
	case <-ctx.Done():
		waitErr = ctx.Err()
	}

	close(watchDone)
	watch.Wait()
	if !emptyAt.IsZero() {
		rep.LastWriteToOutboxEmptySeconds = emptyAt.Sub(lastWrite).Seconds()
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	rep.Delivered, rep.Duplicates, rep.Unexpected, rep.BadSignatures = len(rc.arrived), rc.dups, rc.unexpected, rc.badSig
	if timedOut {
		waitErr = fmt.Errorf("only %d of %d events delivered within %v of the last write", rep.Delivered, cfg.events, cfg.eventsTimeout)
	}
	rep.Latency = distOf(slices.Collect(maps.Values(rc.arrived)))
	if len(rc.arrived) > 0 {
		rep.EndToEndSeconds = rc.last.Sub(first).Seconds()
		rep.LastWriteToLastDeliverySeconds = rc.last.Sub(lastWrite).Seconds()
		if rep.Delivered == cfg.events {
			rep.EventsPerS = float64(cfg.events) / rep.EndToEndSeconds
		}
	}
	var mismatch []string
	for id, n := range expected {
		if got := rc.perProfile[id]; got != n {
			mismatch = append(mismatch, fmt.Sprintf("%s: %d events for %d changes", id, got, n))
		}
	}
	rep.PerProfileMatch = len(mismatch) == 0
	fmt.Fprintf(progress, "  %d of %d events delivered, %d duplicates, %d unexpected, %d bad signatures\n",
		rep.Delivered, cfg.events, rep.Duplicates, rep.Unexpected, rep.BadSignatures)
	switch {
	case waitErr != nil:
		return rep, waitErr
	case rep.BadSignatures > 0:
		return rep, fmt.Errorf("%d deliveries did not verify, first: %s", rep.BadSignatures, rc.firstBad)
	case rep.Delivered != cfg.events:
		return rep, fmt.Errorf("%d distinct events delivered for %d changes", rep.Delivered, cfg.events)
	case len(mismatch) > 0:
		slices.Sort(mismatch)
		return rep, fmt.Errorf("events do not match the changes per profile (%d profiles), first: %s", len(mismatch), mismatch[0])
	}
	return rep, nil
}

// pipeline describes the dispatcher's and the delivery worker's event sources as the
// template configures them.
func pipeline(st *localstack.Stack) string {
	var dispatch, deliver string
	for _, fn := range st.Template.Functions {
		for _, s := range fn.Streams {
			dispatch = fmt.Sprintf("%s (outbox poller standing in for the table stream, BatchSize %d per outbox partition, %d partitions)",
				fn.LogicalID, s.BatchSize, len(dynamo.OutboxPartitions()))
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

func printEvents(w io.Writer, e *eventsReport) {
	fmt.Fprintf(w, "6. Events out through the local stack (PUT consent -> outbox -> dispatcher -> SQS -> delivery worker -> receiver)\n")
	para(w, "%d consent changes (PUT /v1/profiles/{id}/consents/marketing, alternating "+
		"granted/withdrawn) from %d concurrent clients on distinct profiles; one webhook for %s, registered with "+
		"POST /v1/webhooks (admin key) and deleted afterwards, received by an httptest server on 127.0.0.1 that "+
		"verifies every signature (webhook.Verify) and answers 204. Pipeline: %s. Earlier phases' outbox items "+
		"were drained first (%.1fs).", e.Changes, e.Clients, eventType, e.Pipeline, e.OutboxDrainSeconds)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "   writes\t%d in %.2fs (%.0f/s), %d errors\n", e.Changes, e.WritesSeconds, e.WritesPerS, e.WriteErrors)
	if e.EventsPerS > 0 {
		fmt.Fprintf(tw, "   first write -> last delivery\t%.2fs: %.0f events/s end to end\n", e.EndToEndSeconds, e.EventsPerS)
	} else {
		fmt.Fprintf(tw, "   first write -> last delivery\tincomplete (%.2fs to the last event received)\n", e.EndToEndSeconds)
	}
	fmt.Fprintf(tw, "   last write -> last delivery\t%.2fs\n", e.LastWriteToLastDeliverySeconds)
	if e.LastWriteToOutboxEmptySeconds > 0 {
		fmt.Fprintf(tw, "   last write -> outbox empty\t%.2fs (every item dispatched: queued for delivery and deleted; polled every 50 ms)\n",
			e.LastWriteToOutboxEmptySeconds)
	}
	fmt.Fprintf(tw, "   delivery latency (received - occurredAt)\tp50 %.1f ms, p99 %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms\n",
		e.Latency.P50Ms, e.Latency.P99Ms, e.Latency.MeanMs, e.Latency.MinMs, e.Latency.MaxMs)
	match := "per-profile counts match"
	if !e.PerProfileMatch {
		match = "per-profile counts DO NOT match"
	}
	fmt.Fprintf(tw, "   delivered\t%d distinct event ids for %d changes, %s\n", e.Delivered, e.Changes, match)
	grace := ""
	if e.Delivered == e.Changes {
		grace = fmt.Sprintf(" (until %.0fs after the last)", e.DuplicateGraceSeconds)
	}
	fmt.Fprintf(tw, "   also received\t%d duplicate deliveries%s, %d unexpected events, %d bad signatures\n",
		e.Duplicates, grace, e.Unexpected, e.BadSignatures)
	tw.Flush()
	fmt.Fprintln(w)
}

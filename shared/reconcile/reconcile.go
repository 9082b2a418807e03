// Package reconcile finds events that were committed but never reached their webhook
// deliveries, and queues them again. Two things can be lost outside the transactional
// outbox's guarantee: an outbox item whose dispatch gave up (the stream's retries ran out,
// or locally, a restart), and a delivery whose queue message is gone (a queue that lost it,
// or locally, a restart of the unpersisted emulator queue). Both are found on GSI1's sparse,
// time-ordered views (one Query per shard), never by a Scan.
//
// Queuing again is safe: a re-dispatched outbox item keeps its delivery log entries, and the
// worker drops a message whose delivery is already delivered, so an endpoint gets an event
// at least once and, once delivered, no more.
package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/delivery"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Store finds the lost work and marks re-queued deliveries.
type Store interface {
	StaleOutbox(ctx context.Context, before time.Time, limit int) ([]*dynamo.Outbox, error)
	StaleDeliveries(ctx context.Context, before time.Time, limit int) ([]dynamo.StaleDelivery, error)
	TouchDelivery(ctx context.Context, d dynamo.StaleDelivery, at time.Time) error
}

// Dispatcher dispatches outbox items (dispatch.Dispatcher).
type Dispatcher interface {
	Dispatch(ctx context.Context, outs []*dynamo.Outbox) error
}

// Queue takes deliveries.
type Queue interface {
	Send(ctx context.Context, msgs []webhook.Message) error
}

// StaleAfter is how long a delivery or an outbox item may go unwritten before it counts as
// lost. A live retrying delivery is written at every attempt, at most delivery.MaxBackoff
// apart plus the worker's run; a live outbox item is dispatched within the stream's retries
// (minutes). The margin covers a backlogged queue; a delivery that was only slow is sent
// twice, which receivers de-duplicate by webhook-id.
const StaleAfter = delivery.MaxBackoff + 45*time.Minute

// Batch bounds the items one run handles of each kind, so a run fits its timeout; what is
// left is handled by the next run.
const Batch = 500

// Reconciler is the scheduled handler. It is safe for concurrent use.
type Reconciler struct {
	store    Store
	dispatch Dispatcher
	queue    Queue
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Reconciler.
func New(store Store, dispatch Dispatcher, queue Queue, log *slog.Logger, now func() time.Time) *Reconciler {
	return &Reconciler{store: store, dispatch: dispatch, queue: queue, log: log, now: now}
}

// Result counts what one run queued again.
type Result struct {
	Outbox     int `json:"outbox"`
	Deliveries int `json:"deliveries"`
}

// Detail is the optional detail of the scheduled event. Before, when set, replaces
// now-StaleAfter as the cutoff: the local stack, whose queues do not survive a restart,
// reconciles everything written before it started.
type Detail struct {
	Before time.Time `json:"before"`
}

// Handle runs Reconcile with the cutoff of the event's detail or now-StaleAfter, batch after
// batch, until a batch finds less than Batch of each kind or the context's deadline is less
// than deadlineMargin away (the next run carries on): a backlog larger than one batch, such
// as every delivery the local stack's lost queues held, is queued again in one run.
func (r *Reconciler) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	var d Detail
	if len(ev.Detail) > 0 {
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return fmt.Errorf("reconcile: event detail: %w", err)
		}
	}
	if d.Before.IsZero() {
		d.Before = r.now().Add(-StaleAfter)
	}
	var total Result
	for batch := 1; ; batch++ {
		res, err := r.Reconcile(ctx, d.Before)
		total.Outbox, total.Deliveries = total.Outbox+res.Outbox, total.Deliveries+res.Deliveries
		deadline, bounded := ctx.Deadline()
		if err != nil || res.Outbox < Batch && res.Deliveries < Batch || batch == maxBatches ||
			bounded && time.Until(deadline) < deadlineMargin {
			r.log.InfoContext(ctx, "reconciled", "before", d.Before, "outbox", total.Outbox, "deliveries", total.Deliveries, "batches", batch)
			return err
		}
	}
}

// maxBatches bounds one run (Batch of each kind per batch); deadlineMargin is the time a run
// leaves itself to finish a batch.
const (
	maxBatches     = 100
	deadlineMargin = 30 * time.Second
)

// Reconcile re-dispatches the outbox items and re-queues the deliveries (pending or
// retrying) last written before cutoff, up to Batch of each. A re-queued delivery is
// touched after it was sent, so the next run leaves it to its new message.
func (r *Reconciler) Reconcile(ctx context.Context, before time.Time) (Result, error) {
	var res Result
	outs, err := r.store.StaleOutbox(ctx, before, Batch)
	if err != nil {
		return res, err
	}
	if len(outs) > 0 {
		if err := r.dispatch.Dispatch(ctx, outs); err != nil {
			return res, fmt.Errorf("reconcile outbox: %w", err)
		}
		res.Outbox = len(outs)
	}
	stale, err := r.store.StaleDeliveries(ctx, before, Batch)
	if err != nil || len(stale) == 0 {
		return res, err
	}
	msgs := make([]webhook.Message, len(stale))
	for i, d := range stale {
		msgs[i] = d.Message
	}
	if err := r.queue.Send(ctx, msgs); err != nil {
		return res, fmt.Errorf("reconcile deliveries: %w", err)
	}
	now := r.now().UTC()
	for _, d := range stale {
		if err := r.store.TouchDelivery(ctx, d, now); err != nil {
			return res, err
		}
		res.Deliveries++
	}
	return res, nil
}

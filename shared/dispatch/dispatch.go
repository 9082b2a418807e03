// Package dispatch turns committed changes into webhook deliveries. It reads outbox items
// from the table's stream (locally: from the outbox poller), puts one delivery per event
// and subscribed endpoint on the delivery queue, and deletes the outbox item only after
// that, so a crash at any point leads to a redelivery, never to a lost event.
package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Store is what the dispatcher reads and writes.
type Store interface {
	Endpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error)
	PutDelivery(ctx context.Context, tenant string, d *webhook.Delivery, onlyNew bool) error
	DeleteOutbox(ctx context.Context, o *dynamo.Outbox) error
}

// Queue takes deliveries.
type Queue interface {
	Send(ctx context.Context, msgs []webhook.Message) error
}

// Dispatcher is the stream handler. It is safe for concurrent use.
type Dispatcher struct {
	store Store
	queue Queue
	log   *slog.Logger
	now   func() time.Time
}

// New returns a dispatcher.
func New(store Store, queue Queue, log *slog.Logger) *Dispatcher {
	return &Dispatcher{store: store, queue: queue, log: log, now: time.Now}
}

// Handle dispatches a batch of stream records in order. On the first failure it reports
// that record, so the stream retries from it (and only from it) while the rest wait.
func (d *Dispatcher) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, r := range ev.Records {
		if r.EventName != "INSERT" {
			continue
		}
		o, err := dynamo.OutboxFromStream(r)
		if err != nil {
			// A record that can never decode would block the shard forever: log and move on.
			d.log.ErrorContext(ctx, "undecodable outbox record skipped", "eventId", r.EventID, "err", err)
			continue
		}
		if err := d.dispatch(ctx, o); err != nil {
			d.log.ErrorContext(ctx, "dispatch failed; the stream will retry", "tenant", o.Tenant, "eventId", r.EventID, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			return resp, nil
		}
	}
	return resp, nil
}

func (d *Dispatcher) dispatch(ctx context.Context, o *dynamo.Outbox) error {
	eps, err := d.store.Endpoints(ctx, o.Tenant)
	if err != nil {
		return err
	}
	var msgs []webhook.Message
	now := d.now().UTC()
	for _, le := range o.Events {
		e := webhook.FromLedger(le)
		for i := range eps {
			ep := &eps[i]
			if !ep.Wants(e) {
				continue
			}
			m := webhook.Message{Tenant: o.Tenant, EndpointID: ep.ID, DeliveryID: webhook.DeliveryID(e, ep.ID), Event: e}
			del := &webhook.Delivery{ID: m.DeliveryID, EndpointID: ep.ID, EventID: e.ID, EventType: e.Type,
				Status: webhook.Pending, CreatedAt: now, UpdatedAt: now}
			if err := d.store.PutDelivery(ctx, o.Tenant, del, true); err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
	}
	if err := d.queue.Send(ctx, msgs); err != nil {
		return err
	}
	if err := d.store.DeleteOutbox(ctx, o); err != nil {
		return fmt.Errorf("events queued, outbox kept (they may be queued again): %w", err)
	}
	d.log.InfoContext(ctx, "dispatched", "tenant", o.Tenant, "events", len(o.Events), "deliveries", len(msgs))
	return nil
}

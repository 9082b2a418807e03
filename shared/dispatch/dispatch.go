// Package dispatch turns committed changes into webhook deliveries and request jobs. It
// reads outbox items from the table's stream (locally: from the outbox poller), puts one
// delivery per event and subscribed endpoint on the delivery queue, starts the erasure or
// export job of a new data-subject request, and deletes the outbox item only after all
// that, so a crash at any point leads to a redelivery, never to a lost event.
package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Store is what the dispatcher reads and writes. WebhooksVersion must change, strongly
// consistently, with every write of a tenant's endpoints, and Endpoints must see every write
// the version read before it counted (dynamo.Store: one GetItem, one consistent Query).
type Store interface {
	WebhooksVersion(ctx context.Context, tenant string) (int64, error)
	Endpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error)
	PutDelivery(ctx context.Context, tenant string, d *webhook.Delivery, onlyNew bool) error
	DeleteOutbox(ctx context.Context, o *dynamo.Outbox) error
}

// Queue takes deliveries.
type Queue interface {
	Send(ctx context.Context, msgs []webhook.Message) error
}

// Jobs starts request jobs; nil when the function has no job queues.
type Jobs interface {
	Start(ctx context.Context, t dsr.Type, m dsr.JobMessage) error
}

// Dispatcher is the stream handler. It is safe for concurrent use.
//
// It keeps each tenant's endpoint list between batches under the tenant's webhook version
// and lists again only when the version moved, so a batch of a tenant whose webhooks did not
// change costs one GetItem instead of a Query that re-reads every endpoint. There is no TTL
// and no staleness: an endpoint written (created, rotated, deleted) before the dispatch of an
// outbox item reads the tenant's version is seen by that dispatch.
type Dispatcher struct {
	store     Store
	queue     Queue
	jobs      Jobs
	log       *slog.Logger
	now       func() time.Time
	endpoints endpointCache
}

// New returns a dispatcher; jobs may be nil.
func New(store Store, queue Queue, jobs Jobs, log *slog.Logger) *Dispatcher {
	return &Dispatcher{store: store, queue: queue, jobs: jobs, log: log, now: time.Now}
}

// maxCachedTenants bounds the endpoint cache: past it the cache starts empty again, so a
// long-lived container serving many tenants does not grow without limit.
const maxCachedTenants = 4096

// endpointCache holds, per tenant, the endpoints listed and the webhook version read before
// listing them. The lists are shared and never modified.
type endpointCache struct {
	mu      sync.Mutex
	tenants map[string]versionedEndpoints
}

type versionedEndpoints struct {
	version int64
	eps     []webhook.Endpoint
}

func (c *endpointCache) get(tenant string, version int64) ([]webhook.Endpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.tenants[tenant]
	return v.eps, ok && v.version == version
}

// put keeps the list read under the newer version when concurrent batches race.
func (c *endpointCache) put(tenant string, version int64, eps []webhook.Endpoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.tenants[tenant]; ok && v.version > version {
		return
	}
	if c.tenants == nil || len(c.tenants) >= maxCachedTenants {
		c.tenants = map[string]versionedEndpoints{}
	}
	c.tenants[tenant] = versionedEndpoints{version, eps}
}

// tenantEndpoints returns tenant's endpoints: the cached list when the webhook version is
// the one it was cached under, else a fresh list. The version is read before listing, so a
// write racing the listing leaves a version the next call sees as changed.
func (d *Dispatcher) tenantEndpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error) {
	version, err := d.store.WebhooksVersion(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if eps, ok := d.endpoints.get(tenant, version); ok {
		return eps, nil
	}
	eps, err := d.store.Endpoints(ctx, tenant)
	if err != nil {
		return nil, err
	}
	d.endpoints.put(tenant, version, eps)
	return eps, nil
}

// parallel bounds the store writes in flight for one batch.
const parallel = 8

// Handle dispatches a batch of stream records. Endpoints are looked up once per tenant and
// batch, deliveries of all records are queued together, and outbox items are deleted
// last. On failure it reports the first record of the batch, so the stream retries the
// whole batch (nothing is reported done until all of it is).
func (d *Dispatcher) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var (
		first string
		outs  []*dynamo.Outbox
	)
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
		if outs = append(outs, o); len(outs) == 1 {
			first = r.Change.SequenceNumber
		}
	}
	// Nothing is sent until every record is prepared, so any failure retries the whole
	// batch from its first record: reporting a later one would let the stream skip records
	// whose deliveries were never queued.
	if err := d.Dispatch(ctx, outs); err != nil {
		d.log.ErrorContext(ctx, "dispatch failed; the stream will retry the batch", "records", len(outs), "err", err)
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: first}}}, nil
	}
	return events.DynamoDBEventResponse{}, nil
}

// Dispatch queues the deliveries and starts the jobs of outbox items, then deletes them.
// Dispatching an item again is harmless: its delivery log entries are kept as they are, and
// the worker drops a message of a delivery already delivered.
func (d *Dispatcher) Dispatch(ctx context.Context, outs []*dynamo.Outbox) error {
	endpoints := map[string][]webhook.Endpoint{}
	now := d.now().UTC()
	var msgs []webhook.Message
	var dels []func(context.Context) error
	for _, o := range outs {
		eps, ok := endpoints[o.Tenant]
		if o.Quiet {
			eps, ok = nil, true
		}
		if !ok {
			var err error
			if eps, err = d.tenantEndpoints(ctx, o.Tenant); err != nil {
				return err
			}
			endpoints[o.Tenant] = eps
		}
		for _, le := range o.Events {
			if err := d.startJob(ctx, o.Tenant, le.Type, le.New); err != nil {
				return err
			}
			e := webhook.FromLedger(le)
			for j := range eps {
				ep := &eps[j]
				if !ep.Wants(e) {
					continue
				}
				m := webhook.Message{Tenant: o.Tenant, EndpointID: ep.ID, DeliveryID: webhook.DeliveryID(e, ep.ID), Event: e}
				del := &webhook.Delivery{ID: m.DeliveryID, EndpointID: ep.ID, EventID: e.ID, EventType: e.Type,
					Status: webhook.Pending, CreatedAt: now, UpdatedAt: now, Message: &m}
				tenant := o.Tenant
				dels = append(dels, func(ctx context.Context) error { return d.store.PutDelivery(ctx, tenant, del, true) })
				msgs = append(msgs, m)
			}
		}
	}
	if err := each(ctx, dels); err != nil {
		return err
	}
	if err := d.queue.Send(ctx, msgs); err != nil {
		return err
	}
	deletes := make([]func(context.Context) error, len(outs))
	for i, o := range outs {
		deletes[i] = func(ctx context.Context) error { return d.store.DeleteOutbox(ctx, o) }
	}
	if err := each(ctx, deletes); err != nil {
		return fmt.Errorf("events queued, outbox kept (they may be queued again): %w", err)
	}
	if len(outs) > 0 {
		d.log.InfoContext(ctx, "dispatched", "records", len(outs), "deliveries", len(msgs))
	}
	return nil
}

// startJob puts the job of an erasure or export request on its queue when the request is
// ready: a request.created event that does not hold it (the request needs no confirmation
// and no cool-off), or the request.released event of a request confirmed by the person or
// whose cool-off ended. A held request is never queued; the job itself also refuses one
// that is still waiting (dsr.Request.Waiting).
func (d *Dispatcher) startJob(ctx context.Context, tenant, eventType string, payload json.RawMessage) error {
	if eventType != "request.created" && eventType != "request.released" || d.jobs == nil {
		return nil
	}
	var c dsr.CreatedEvent
	if err := json.Unmarshal(payload, &c); err != nil || !c.Type.Job() || c.Hold {
		return nil
	}
	return d.jobs.Start(ctx, c.Type, dsr.JobMessage{Tenant: tenant, RequestID: c.ID})
}

// each runs fns with at most parallel in flight and returns the first error.
func each(ctx context.Context, fns []func(context.Context) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, parallel)
	)
	for _, fn := range fns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

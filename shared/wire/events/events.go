// Package events builds the functions of events out that use SQS: the outbox stream
// dispatcher, the webhook delivery worker, the redrive route and the reconciler.
package events

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/shared/delivery"
	"github.com/livingprofile/livingprofile/shared/dispatch"
	"github.com/livingprofile/livingprofile/shared/eventbus"
	"github.com/livingprofile/livingprofile/shared/queue"
	"github.com/livingprofile/livingprofile/shared/reconcile"
	"github.com/livingprofile/livingprofile/shared/wire"
)

func queueOf(d *wire.Deps, client *sqs.Client, env string) (*queue.Queue, error) {
	url, err := d.Required(env)
	if err != nil {
		return nil, err
	}
	return queue.New(client, url), nil
}

// DispatchEvents builds the outbox stream handler. ERASURE_QUEUE_URL and EXPORT_QUEUE_URL
// are optional: without them no request job is started.
func DispatchEvents(_ context.Context, d *wire.Deps) (any, error) {
	dis, _, err := dispatcher(d)
	if err != nil {
		return nil, err
	}
	return wire.StreamHandler(dis.Handle), nil
}

// ReconcileEvents builds the scheduled reconciler, which dispatches like DispatchEvents.
func ReconcileEvents(_ context.Context, d *wire.Deps) (any, error) {
	dis, q, err := dispatcher(d)
	if err != nil {
		return nil, err
	}
	return wire.ScheduleHandler(reconcile.New(d.Store, dis, q, d.Log, time.Now).Handle), nil
}

func dispatcher(d *wire.Deps) (*dispatch.Dispatcher, *queue.Queue, error) {
	client := sqs.NewFromConfig(d.AWS)
	q, err := queueOf(d, client, "DELIVERY_QUEUE_URL")
	if err != nil {
		return nil, nil, err
	}
	var jobs dispatch.Jobs
	if erasure, export := d.Env("ERASURE_QUEUE_URL"), d.Env("EXPORT_QUEUE_URL"); erasure != "" || export != "" {
		jobs = queue.NewJobs(client, erasure, export)
	}
	return dispatch.New(d.Store, q, jobs, d.Log), q, nil
}

// DeliverWebhooks builds the webhook delivery worker.
func DeliverWebhooks(ctx context.Context, d *wire.Deps) (any, error) {
	q, err := queueOf(d, sqs.NewFromConfig(d.AWS), "DELIVERY_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	name, err := d.Required("EVENT_BUS_NAME")
	if err != nil {
		return nil, err
	}
	bus, err := eventbus.New(ctx, d.AWS, name)
	if err != nil {
		return nil, err
	}
	attempts, err := d.Positive("MAX_ATTEMPTS")
	if err != nil {
		return nil, err
	}
	base, err := d.Positive("RETRY_BASE_SECONDS")
	if err != nil {
		return nil, err
	}
	w := delivery.NewWorker(d.Store, q, d.Log, delivery.Options{
		MaxAttempts: attempts, RetryBase: time.Duration(base) * time.Second, AllowLoopback: d.AllowLoopback(), LoopbackOnly: d.LoopbackOnly(),
		Bus: bus,
	})
	return wire.QueueHandler(w.Handle), nil
}

// RedriveWebhookDeliveries builds POST /v1/webhooks/{id}/redrive; it alone reads the
// dead-letter queue.
func RedriveWebhookDeliveries(_ context.Context, d *wire.Deps) (any, error) {
	client := sqs.NewFromConfig(d.AWS)
	dlq, err := queueOf(d, client, "DELIVERY_DLQ_URL")
	if err != nil {
		return nil, err
	}
	main, err := queueOf(d, client, "DELIVERY_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	a := d.API(nil).WithWebhooks(d.Webhooks(), delivery.NewRedriver(d.Store, dlq, main))
	return wire.HTTPHandler(a.RedriveWebhookDeliveries()), nil
}

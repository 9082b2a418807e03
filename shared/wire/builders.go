package wire

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/delivery"
	"github.com/livingprofile/livingprofile/shared/dispatch"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/queue"
)

// One Builder per function in template.yaml, named by its logical id.

func route(d *Deps, pick func(*httpapi.API) httpapi.Handler) (any, error) {
	return HTTPHandler(pick(d.api(nil))), nil
}

// Authorizer builds the API key authorizer.
func Authorizer(_ context.Context, d *Deps) (any, error) {
	return AuthorizerHandler(authorizer.New(d.store, d.log, keyCacheTTL).Handle), nil
}

// CreateProfile builds POST /v1/profiles.
func CreateProfile(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).CreateProfile)
}

// FindProfile builds GET /v1/profiles.
func FindProfile(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).FindProfile)
}

// GetProfile builds GET /v1/profiles/{id}.
func GetProfile(_ context.Context, d *Deps) (any, error) { return route(d, (*httpapi.API).GetProfile) }

// UpdateProfile builds PATCH /v1/profiles/{id}.
func UpdateProfile(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).UpdateProfile)
}

// PutConsent builds PUT /v1/profiles/{id}/consents/{purpose}.
func PutConsent(_ context.Context, d *Deps) (any, error) { return route(d, (*httpapi.API).PutConsent) }

// PutSubscription builds PUT /v1/profiles/{id}/subscriptions/{topic}.
func PutSubscription(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).PutSubscription)
}

// CheckConsent builds POST /v1/consent-checks.
func CheckConsent(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).CheckConsent)
}

// ListEvents builds GET /v1/profiles/{id}/events.
func ListEvents(_ context.Context, d *Deps) (any, error) { return route(d, (*httpapi.API).ListEvents) }

// GetCatalog builds GET /v1/catalog.
func GetCatalog(_ context.Context, d *Deps) (any, error) { return route(d, (*httpapi.API).GetCatalog) }

// PutCatalog builds PUT /v1/catalog.
func PutCatalog(_ context.Context, d *Deps) (any, error) { return route(d, (*httpapi.API).PutCatalog) }

// Sync builds POST /v1/sync.
func Sync(_ context.Context, d *Deps) (any, error) { return route(d, (*httpapi.API).Sync) }

// CreatePortalLink builds POST /v1/portal-links; it alone reads the signing secret.
func CreatePortalLink(ctx context.Context, d *Deps) (any, error) {
	signer, err := d.portalSigner(ctx)
	if err != nil {
		return nil, err
	}
	return HTTPHandler(d.api(signer).PortalLinks()), nil
}

func webhookRoute(d *Deps, pick func(*httpapi.API) httpapi.Handler) (any, error) {
	a := d.api(nil).WithWebhooks(app.NewWebhooks(d.store, time.Now, d.allowLoopback()), nil)
	return HTTPHandler(pick(a)), nil
}

// CreateWebhook builds POST /v1/webhooks.
func CreateWebhook(_ context.Context, d *Deps) (any, error) {
	return webhookRoute(d, (*httpapi.API).CreateWebhook)
}

// ListWebhooks builds GET /v1/webhooks.
func ListWebhooks(_ context.Context, d *Deps) (any, error) {
	return webhookRoute(d, (*httpapi.API).ListWebhooks)
}

// DeleteWebhook builds DELETE /v1/webhooks/{id}.
func DeleteWebhook(_ context.Context, d *Deps) (any, error) {
	return webhookRoute(d, (*httpapi.API).DeleteWebhook)
}

// RotateWebhookSecret builds POST /v1/webhooks/{id}/secret.
func RotateWebhookSecret(_ context.Context, d *Deps) (any, error) {
	return webhookRoute(d, (*httpapi.API).RotateWebhookSecret)
}

// ListWebhookDeliveries builds GET /v1/webhooks/{id}/deliveries.
func ListWebhookDeliveries(_ context.Context, d *Deps) (any, error) {
	return webhookRoute(d, (*httpapi.API).ListWebhookDeliveries)
}

// RedriveWebhookDeliveries builds POST /v1/webhooks/{id}/redrive; it alone reads the
// dead-letter queue.
func RedriveWebhookDeliveries(_ context.Context, d *Deps) (any, error) {
	dlq, err := d.queue("DELIVERY_DLQ_URL")
	if err != nil {
		return nil, err
	}
	main, err := d.queue("DELIVERY_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	a := d.api(nil).WithWebhooks(app.NewWebhooks(d.store, time.Now, d.allowLoopback()), delivery.NewRedriver(d.store, dlq, main))
	return HTTPHandler(a.RedriveWebhookDeliveries()), nil
}

// DispatchEvents builds the outbox stream handler.
func DispatchEvents(_ context.Context, d *Deps) (any, error) {
	q, err := d.queue("DELIVERY_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	var jobs dispatch.Jobs
	if erasure, export := d.env("ERASURE_QUEUE_URL"), d.env("EXPORT_QUEUE_URL"); erasure != "" || export != "" {
		jobs = queue.NewJobs(sqs.NewFromConfig(d.aws), erasure, export)
	}
	return StreamHandler(dispatch.New(d.store, q, jobs, d.log).Handle), nil
}

// DeliverWebhooks builds the webhook delivery worker.
func DeliverWebhooks(_ context.Context, d *Deps) (any, error) {
	q, err := d.queue("DELIVERY_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	attempts, err := d.positive("MAX_ATTEMPTS")
	if err != nil {
		return nil, err
	}
	base, err := d.positive("RETRY_BASE_SECONDS")
	if err != nil {
		return nil, err
	}
	w := delivery.NewWorker(d.store, q, d.log, delivery.Options{
		MaxAttempts: attempts, RetryBase: time.Duration(base) * time.Second, AllowLoopback: d.allowLoopback(),
	})
	return QueueHandler(w.Handle), nil
}

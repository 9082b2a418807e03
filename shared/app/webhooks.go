package app

import (
	"context"
	"errors"
	"slices"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// WebhookStore keeps webhook endpoints and their delivery logs.
type WebhookStore interface {
	PutEndpoint(ctx context.Context, ep *webhook.Endpoint, create bool) error
	// EndpointsAt lists the endpoints with the version of the tenant's webhooks they are at;
	// CreateEndpoint creates one only while the version is still at (else errs.ErrStale).
	EndpointsAt(ctx context.Context, tenant string) ([]webhook.Endpoint, int64, error)
	CreateEndpoint(ctx context.Context, ep *webhook.Endpoint, at int64) error
	Endpoint(ctx context.Context, tenant, id string) (*webhook.Endpoint, error)
	Endpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error)
	DeleteEndpoint(ctx context.Context, tenant, id string) error
	Deliveries(ctx context.Context, tenant, endpointID string, limit int) ([]webhook.Delivery, error)
}

// Webhooks runs the webhook registration use cases.
type Webhooks struct {
	store         WebhookStore
	now           Clock
	allowLoopback bool
}

// NewWebhooks returns the use cases; allowLoopback admits http:// loopback URLs (local stack).
func NewWebhooks(store WebhookStore, now Clock, allowLoopback bool) *Webhooks {
	return &Webhooks{store: store, now: now, allowLoopback: allowLoopback}
}

// Register validates and stores a new endpoint with a fresh signing secret, which the
// caller shows once. The cap of webhook.MaxEndpoints holds under concurrent registrations:
// the endpoint is created only while the list it was counted against is still the tenant's.
func (w *Webhooks) Register(ctx context.Context, tenant string, ep webhook.Endpoint) (*webhook.Endpoint, error) {
	if err := ep.Validate(w.allowLoopback); err != nil {
		return nil, err
	}
	now := w.now().UTC()
	ep.ID, ep.Tenant, ep.CreatedAt = NewID("wh_"), tenant, now
	ep.EventTypes = slices.Compact(slices.Sorted(slices.Values(ep.EventTypes)))
	ep.Secrets = []webhook.Secret{webhook.NewSecret(now)}
	for attempt := 1; ; attempt++ {
		existing, at, err := w.store.EndpointsAt(ctx, tenant)
		if err != nil {
			return nil, err
		}
		if len(existing) >= webhook.MaxEndpoints {
			return nil, errs.E(errs.Conflict, "this tenant has the maximum number of webhooks; delete one first")
		}
		err = w.store.CreateEndpoint(ctx, &ep, at)
		if errors.Is(err, errs.ErrStale) && attempt < maxRegisterAttempts {
			continue // another endpoint write came first: count again
		}
		if err != nil {
			return nil, err
		}
		return &ep, nil
	}
}

// maxRegisterAttempts bounds a registration's recounts while other writes of the tenant's
// webhooks keep coming first.
const maxRegisterAttempts = 8

// List returns the tenant's endpoints.
func (w *Webhooks) List(ctx context.Context, tenant string) ([]webhook.Endpoint, error) {
	return w.store.Endpoints(ctx, tenant)
}

// Get returns one endpoint.
func (w *Webhooks) Get(ctx context.Context, tenant, id string) (*webhook.Endpoint, error) {
	return w.store.Endpoint(ctx, tenant, id)
}

// Delete removes an endpoint; queued deliveries to it are dropped.
func (w *Webhooks) Delete(ctx context.Context, tenant, id string) error {
	return w.store.DeleteEndpoint(ctx, tenant, id)
}

// RotateSecret adds a new signing secret; the old one keeps signing for webhook.RotationOverlap.
func (w *Webhooks) RotateSecret(ctx context.Context, tenant, id string) (webhook.Secret, *webhook.Endpoint, error) {
	ep, err := w.store.Endpoint(ctx, tenant, id)
	if err != nil {
		return webhook.Secret{}, nil, err
	}
	s := ep.Rotate(w.now().UTC())
	if err := w.store.PutEndpoint(ctx, ep, false); err != nil {
		return webhook.Secret{}, nil, err
	}
	return s, ep, nil
}

// Deliveries returns an endpoint's most recent deliveries.
func (w *Webhooks) Deliveries(ctx context.Context, tenant, id string, limit int) ([]webhook.Delivery, error) {
	if limit < 1 || limit > 100 {
		return nil, errs.Field("limit", "must be between 1 and 100")
	}
	if _, err := w.store.Endpoint(ctx, tenant, id); err != nil {
		return nil, err
	}
	return w.store.Deliveries(ctx, tenant, id, limit)
}

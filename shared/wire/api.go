package wire

import (
	"context"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/retention/sweeper"
	"github.com/livingprofile/livingprofile/shared/sweep"
)

// The functions that use nothing but the table, one Builder each, named by logical id.
// Functions that use another AWS service are built in the sub-package of that service, so
// that no binary links a client it does not use.

func route(d *Deps, pick func(*httpapi.API) httpapi.Handler) (any, error) {
	return HTTPHandler(pick(d.API(nil))), nil
}

func webhookRoute(d *Deps, pick func(*httpapi.API) httpapi.Handler) (any, error) {
	return HTTPHandler(pick(d.API(nil).WithWebhooks(d.Webhooks(), nil))), nil
}

// Webhooks returns the webhook endpoint use cases over the table.
func (d *Deps) Webhooks() *app.Webhooks { return app.NewWebhooks(d.Store, time.Now, d.AllowLoopback()) }

// Authorizer builds the API key authorizer.
func Authorizer(_ context.Context, d *Deps) (any, error) {
	return AuthorizerHandler(authorizer.New(d.Store, d.Log, authorizer.CacheTTL, time.Now).Handle), nil
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

// RecordsOfProcessing builds GET /v1/records-of-processing.
func RecordsOfProcessing(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).RecordsOfProcessing)
}

// Sync builds POST /v1/sync.
func Sync(_ context.Context, d *Deps) (any, error) { return route(d, (*httpapi.API).Sync) }

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

// ListRequests builds GET /v1/requests.
func ListRequests(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).ListRequests)
}

// CancelRequest builds POST /v1/requests/{id}/cancel.
func CancelRequest(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).CancelRequest)
}

// CompleteRequest builds POST /v1/requests/{id}/completion.
func CompleteRequest(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).CompleteRequest)
}

// SweepDeadlines builds the hourly deadline sweeper.
func SweepDeadlines(_ context.Context, d *Deps) (any, error) {
	return ScheduleHandler(sweep.New(d.Store, d.Log, time.Now).Handle), nil
}

// SweepRetention builds the daily retention job.
func SweepRetention(_ context.Context, d *Deps) (any, error) {
	return ScheduleHandler(sweeper.New(d.Store, d.Profiles(), d.Log, time.Now).Handle), nil
}

// ListRetentionRuns builds GET /v1/retention-runs.
func ListRetentionRuns(_ context.Context, d *Deps) (any, error) {
	return route(d, func(a *httpapi.API) httpapi.Handler { return a.ListRetentionRuns(d.Store) })
}

// RouteNotFound builds the HTTP API's $default route: 405 or 404 problems for requests no
// route matches. It uses no client.
func RouteNotFound(_ context.Context, d *Deps) (any, error) {
	return HTTPHandler(httpapi.RouteNotFound(d.Log)), nil
}

// MergeProfiles builds POST /v1/profiles/{id}/merges.
func MergeProfiles(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).MergeProfiles)
}

// SplitProfile builds POST /v1/profiles/{id}/splits.
func SplitProfile(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).SplitProfile)
}

// ListMergeCandidates builds GET /v1/merge-candidates.
func ListMergeCandidates(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).ListMergeCandidates)
}

// DecideMergeCandidate builds POST /v1/merge-candidates/{id}/decision.
func DecideMergeCandidate(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).DecideMergeCandidate)
}

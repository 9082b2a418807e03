package httpapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Redriver moves an endpoint's parked deliveries back onto the delivery queue.
type Redriver interface {
	Redrive(ctx context.Context, tenant, endpointID string, limit int) (int, error)
}

// WithWebhooks adds the webhook use cases (and, for the redrive route, the redriver).
func (a *API) WithWebhooks(w *app.Webhooks, r Redriver) *API {
	a.webhooks, a.redriver = w, r
	return a
}

// endpointView is an endpoint as the API shows it: never its secrets.
type endpointView struct {
	ID          string    `json:"id"`
	URL         string    `json:"url,omitempty"`
	Target      string    `json:"target,omitempty"`
	EventTypes  []string  `json:"eventTypes"`
	Description string    `json:"description,omitempty"`
	Source      string    `json:"source,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

func viewOf(ep *webhook.Endpoint) endpointView {
	return endpointView{ID: ep.ID, URL: ep.URL, Target: ep.Target, EventTypes: ep.EventTypes, Description: ep.Description, Source: ep.Source, CreatedAt: ep.CreatedAt}
}

// webhookID reads the {id} path parameter; a malformed id cannot exist.
func webhookID(r *request) (string, error) {
	id := r.ev.PathParameters["id"]
	if len(id) != 29 || !strings.HasPrefix(id, "wh_") {
		return "", errs.E(errs.NotFound, "webhook not found")
	}
	return id, nil
}

type webhookBody struct {
	URL         string   `json:"url"`
	Target      string   `json:"target"`
	EventTypes  []string `json:"eventTypes"`
	Description string   `json:"description" jsonin:"text"`
	Source      string   `json:"source"`
}

// CreateWebhook serves POST /v1/webhooks (admin): registers an endpoint and shows its
// signing secret once.
func (a *API) CreateWebhook() Handler {
	return route{api: a, key: "POST /v1/webhooks", hasBody: true, maxBody: smallBody, idempotent: true,
		serve: func(ctx context.Context, r *request) (*response, error) {
			var b webhookBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			ep, err := a.webhooks.Register(ctx, r.tenant, webhook.Endpoint{URL: b.URL, Target: b.Target, EventTypes: b.EventTypes, Description: b.Description, Source: b.Source})
			if err != nil {
				return nil, err
			}
			body := struct {
				endpointView
				Secret string `json:"secret"`
			}{viewOf(ep), ep.Secrets[0].Value}
			resp := &response{status: 201, body: body, headers: map[string]string{"Location": "/v1/webhooks/" + ep.ID}}
			return resp, r.remember(ctx, a, resp)
		}}.handler()
}

// ListWebhooks serves GET /v1/webhooks (admin).
func (a *API) ListWebhooks() Handler {
	return route{api: a, key: "GET /v1/webhooks", serve: func(ctx context.Context, r *request) (*response, error) {
		eps, err := a.webhooks.List(ctx, r.tenant)
		if err != nil {
			return nil, err
		}
		views := make([]endpointView, len(eps))
		for i := range eps {
			views[i] = viewOf(&eps[i])
		}
		return &response{status: 200, body: map[string]any{"webhooks": views}}, nil
	}}.handler()
}

// DeleteWebhook serves DELETE /v1/webhooks/{id} (admin).
func (a *API) DeleteWebhook() Handler {
	return route{api: a, key: "DELETE /v1/webhooks/{id}", serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := webhookID(r)
		if err != nil {
			return nil, err
		}
		if err := a.webhooks.Delete(ctx, r.tenant, id); err != nil {
			return nil, err
		}
		return &response{status: 204}, nil
	}}.handler()
}

// RotateWebhookSecret serves POST /v1/webhooks/{id}/secret (admin): a new secret, shown once.
func (a *API) RotateWebhookSecret() Handler {
	return route{api: a, key: "POST /v1/webhooks/{id}/secret", serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := webhookID(r)
		if err != nil {
			return nil, err
		}
		s, ep, err := a.webhooks.RotateSecret(ctx, r.tenant, id)
		if err != nil {
			return nil, err
		}
		var prevExpiry *time.Time
		for _, old := range ep.Secrets {
			if old.Value != s.Value {
				prevExpiry = old.ExpiresAt
			}
		}
		return &response{status: 200, body: map[string]any{"id": ep.ID, "secret": s.Value, "previousSecretExpiresAt": prevExpiry}}, nil
	}}.handler()
}

// ListWebhookDeliveries serves GET /v1/webhooks/{id}/deliveries?limit= (admin): the
// newest deliveries with status, attempts and last error.
func (a *API) ListWebhookDeliveries() Handler {
	return route{api: a, key: "GET /v1/webhooks/{id}/deliveries", query: []string{"limit"}, serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := webhookID(r)
		if err != nil {
			return nil, err
		}
		limit, err := intQuery(r, "limit", 50)
		if err != nil {
			return nil, err
		}
		ds, err := a.webhooks.Deliveries(ctx, r.tenant, id, limit)
		if err != nil {
			return nil, err
		}
		return &response{status: 200, body: map[string]any{"deliveries": ds}}, nil
	}}.handler()
}

// RedriveWebhookDeliveries serves POST /v1/webhooks/{id}/redrive?limit= (admin): parked
// deliveries go back on the delivery queue.
func (a *API) RedriveWebhookDeliveries() Handler {
	return route{api: a, key: "POST /v1/webhooks/{id}/redrive", query: []string{"limit"}, serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := webhookID(r)
		if err != nil {
			return nil, err
		}
		limit, err := intQuery(r, "limit", 100)
		if err != nil {
			return nil, err
		}
		if limit < 1 || limit > 1000 {
			return nil, errs.Field("limit", "must be between 1 and 1000")
		}
		if _, err := a.webhooks.Get(ctx, r.tenant, id); err != nil {
			return nil, err
		}
		n, err := a.redriver.Redrive(ctx, r.tenant, id, limit)
		if err != nil {
			return nil, err
		}
		return &response{status: 200, body: map[string]any{"redriven": n}}, nil
	}}.handler()
}

// intQuery reads an optional whole-number query parameter.
func intQuery(r *request, name string, def int) (int, error) {
	v, ok := r.ev.QueryStringParameters[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errs.Field(name, "must be a whole number")
	}
	return n, nil
}

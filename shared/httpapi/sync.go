package httpapi

import (
	"context"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/profile"
)

const (
	// syncBodyMax bounds a sync batch: 500 changes of about 2 KB each.
	syncBodyMax = 1 << 20
	// syncBudget is how long a batch may run: API Gateway answers 503 after 30 s, however
	// long the function may run. Changes not reached by then are answered deferred.
	syncBudget = 25 * time.Second
	// syncMargin is kept free before the function's own deadline to write the answer.
	syncMargin = 2 * time.Second
	// maxSyncRecord is the largest answer stored for an Idempotency-Key replay (an item
	// holds 400 KB); a larger one is answered but not stored.
	maxSyncRecord = 300 << 10
)

type syncBody struct {
	Source  string           `json:"source"`
	Changes []syncChangeBody `json:"changes"`
}

type syncChangeBody struct {
	ID             string                      `json:"id"`
	Identity       *app.IdentityInput          `json:"identity"`
	Identities     []app.IdentityInput         `json:"identities"`
	OccurredAt     string                      `json:"occurredAt"`
	Attributes     map[string]any              `json:"attributes"`
	Consents       map[string]consentBody      `json:"consents"`
	Subscriptions  map[string]subscriptionBody `json:"subscriptions"`
	EmailEvent     *emailEventBody             `json:"emailEvent"`
	SignupEvidence *evidenceBody               `json:"signupEvidence"`
}

type emailEventBody struct {
	Type       string `json:"type"`
	Topic      string `json:"topic"`
	BounceType string `json:"bounceType"`
}

// input converts the body; a missing or malformed occurredAt stays zero, which the use
// case reports as the field changes[i].occurredAt.
func (b syncBody) input() app.SyncBatch {
	in := app.SyncBatch{Source: b.Source, Changes: make([]app.SyncChange, len(b.Changes))}
	for i, c := range b.Changes {
		at, _ := time.Parse(time.RFC3339, c.OccurredAt)
		ch := app.SyncChange{ID: c.ID, Identity: c.Identity, Identities: c.Identities, OccurredAt: at, Attributes: c.Attributes, SignupEvidence: c.SignupEvidence.input()}
		if c.Consents != nil {
			ch.Consents = make(map[string]profile.ConsentInput, len(c.Consents))
			for k, v := range c.Consents {
				ch.Consents[k] = v.input()
			}
		}
		if c.Subscriptions != nil {
			ch.Subscriptions = make(map[string]profile.SubscriptionInput, len(c.Subscriptions))
			for k, v := range c.Subscriptions {
				ch.Subscriptions[k] = v.input()
			}
		}
		if e := c.EmailEvent; e != nil {
			ch.EmailEvent = &app.EmailEvent{Type: e.Type, Topic: e.Topic, BounceType: e.BounceType}
		}
		in.Changes[i] = ch
	}
	return in
}

// syncDeadline is when a batch stops taking on changes: within syncBudget, and syncMargin
// before the function's deadline.
func syncDeadline(ctx context.Context, now time.Time) time.Time {
	d := now.Add(syncBudget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-syncMargin).Before(d) {
		d = dl.Add(-syncMargin)
	}
	return d
}

// Sync serves POST /v1/sync: a batch of up to 500 changes from one source system, answered
// per change, in order: {"results": [...], "summary": {...}}. A batch that cannot be read
// is a 400 problem naming the fields (changes[i].id, changes[i].occurredAt, source, ...)
// and writes nothing; a change that cannot be applied is "rejected" in its result. An
// Idempotency-Key replays the first answer verbatim; without one, a replayed batch
// answers "duplicate" for every change it applied.
func (a *API) Sync() Handler {
	return route{api: a, key: "POST /v1/sync", hasBody: true, maxBody: syncBodyMax, idempotent: true,
		serve: func(ctx context.Context, r *request) (*response, error) {
			var b syncBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			in := b.input()
			in.RequestID, in.Deadline = r.requestID, syncDeadline(ctx, a.now())
			results, err := a.app.Sync(ctx, r.tenant, in)
			if err != nil {
				return nil, err
			}
			sum := app.Summarize(results)
			a.log.InfoContext(ctx, "sync batch", "requestId", r.requestID, "tenant", r.tenant, "source", in.Source,
				"changes", len(results), "applied", sum.Applied, "skippedStale", sum.SkippedStale,
				"duplicate", sum.Duplicate, "rejected", sum.Rejected, "deferred", sum.Deferred)
			resp := &response{status: 200, body: map[string]any{"source": in.Source, "results": results, "summary": sum}}
			if r.idemKey != "" {
				rec, err := r.record(resp)
				if err != nil {
					return nil, err
				}
				if len(rec.Outcome) > maxSyncRecord {
					a.log.WarnContext(ctx, "sync answer too large to store for Idempotency-Key replays",
						"requestId", r.requestID, "tenant", r.tenant, "bytes", len(rec.Outcome))
					return resp, nil
				}
				if err := a.app.PutRecord(ctx, r.tenant, rec); err != nil {
					return nil, err
				}
			}
			return resp, nil
		}}.handler()
}

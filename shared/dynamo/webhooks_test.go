package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// newEndpoint is a new endpoint of tenant tn with a signing secret.
func newEndpoint(tn string) *webhook.Endpoint {
	ep := &webhook.Endpoint{ID: testenv.Unique("wh"), Tenant: tn, URL: "https://hooks.example.com/x",
		EventTypes: []string{webhook.AllEvents}, CreatedAt: time.Now()}
	ep.Rotate(time.Now())
	return ep
}

// TestWebhooksVersion: every endpoint write that succeeds (create, rotation, delete) moves
// the tenant's webhook version by one, every refused one (a create of an existing id, an
// update or delete of a missing one) keeps its error and moves nothing, a tenant without a
// marker is at 0, and the marker is never listed as an endpoint.
func TestWebhooksVersion(t *testing.T) {
	ctx := context.Background()
	tn := testenv.Unique("whv")
	ep, missing := newEndpoint(tn), newEndpoint(tn)
	steps := []struct {
		name        string
		write       func() error // nil: only read
		wantErr     errs.Code    // "" for success
		wantVersion int64
		wantListed  int
	}{
		{name: "no marker", wantVersion: 0, wantListed: 0},
		{name: "create", write: func() error { return env.store.PutEndpoint(ctx, ep, true) }, wantVersion: 1, wantListed: 1},
		{name: "create of an existing id", write: func() error { return env.store.PutEndpoint(ctx, ep, true) },
			wantErr: errs.Conflict, wantVersion: 1, wantListed: 1},
		{name: "rotate", write: func() error { ep.Rotate(time.Now()); return env.store.PutEndpoint(ctx, ep, false) },
			wantVersion: 2, wantListed: 1},
		{name: "update of a missing id", write: func() error { return env.store.PutEndpoint(ctx, missing, false) },
			wantErr: errs.NotFound, wantVersion: 2, wantListed: 1},
		{name: "delete", write: func() error { return env.store.DeleteEndpoint(ctx, tn, ep.ID) }, wantVersion: 3, wantListed: 0},
		{name: "delete of a missing id", write: func() error { return env.store.DeleteEndpoint(ctx, tn, ep.ID) },
			wantErr: errs.NotFound, wantVersion: 3, wantListed: 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.write != nil {
				err := st.write()
				if st.wantErr == "" && err != nil || st.wantErr != "" && errs.CodeOf(err) != st.wantErr {
					t.Fatalf("write: %v, want code %q", err, st.wantErr)
				}
			}
			if v, err := env.store.WebhooksVersion(ctx, tn); err != nil || v != st.wantVersion {
				t.Fatalf("WebhooksVersion = %d, %v; want %d", v, err, st.wantVersion)
			}
			eps, err := env.store.Endpoints(ctx, tn)
			if err != nil || len(eps) != st.wantListed {
				t.Fatalf("Endpoints = %d endpoints, %v; want %d", len(eps), err, st.wantListed)
			}
			if st.wantListed == 1 && (eps[0].ID != ep.ID || len(eps[0].Secrets) != len(ep.Secrets)) {
				t.Fatalf("listed %s with %d secrets, want %s with %d", eps[0].ID, len(eps[0].Secrets), ep.ID, len(ep.Secrets))
			}
		})
	}
	t.Run("other tenant", func(t *testing.T) {
		if v, err := env.store.WebhooksVersion(ctx, testenv.Unique("whv")); err != nil || v != 0 {
			t.Fatalf("WebhooksVersion of a tenant whose endpoints were never written = %d, %v; want 0", v, err)
		}
	})
}

// TestCreateEndpointAt: EndpointsAt reads the version and then the list (the marker is
// never listed); CreateEndpoint commits at that version, and at an older one
// fails with errs.ErrStale, writing nothing.
func TestCreateEndpointAt(t *testing.T) {
	ctx := context.Background()
	tn := testenv.Unique("wha")
	steps := []struct {
		name        string
		at          int64 // the version the create is conditioned on
		wantStale   bool
		wantVersion int64
		wantListed  int
	}{
		{name: "first, at no marker", at: 0, wantVersion: 1, wantListed: 1},
		{name: "at no marker again: stale", at: 0, wantStale: true, wantVersion: 1, wantListed: 1},
		{name: "at the current version", at: 1, wantVersion: 2, wantListed: 2},
		{name: "at an older version: stale", at: 1, wantStale: true, wantVersion: 2, wantListed: 2},
	}
	for _, s := range steps {
		err := env.store.CreateEndpoint(ctx, newEndpoint(tn), s.at)
		if s.wantStale != errors.Is(err, errs.ErrStale) || !s.wantStale && err != nil {
			t.Errorf("%s: %v, want stale %v", s.name, err, s.wantStale)
		}
		eps, v, err := env.store.EndpointsAt(ctx, tn)
		if err != nil || v != s.wantVersion || len(eps) != s.wantListed {
			t.Errorf("%s: EndpointsAt = %d endpoints at %d (%v), want %d at %d", s.name, len(eps), v, err, s.wantListed, s.wantVersion)
		}
		if got, err := env.store.WebhooksVersion(ctx, tn); err != nil || got != v {
			t.Errorf("%s: WebhooksVersion = %d (%v), EndpointsAt said %d", s.name, got, err, v)
		}
	}
}

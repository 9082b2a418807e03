package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// TestRegisterCapHoldsUnderConcurrency: registrations racing for a tenant's last free webhook
// slots fill them and no more; the others are refused with the cap's Conflict.
func TestRegisterCapHoldsUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	tn := testenv.Unique("cap")
	w := app.NewWebhooks(env.store, time.Now, false)
	ep := webhook.Endpoint{URL: "https://hooks.example.com/x", EventTypes: []string{webhook.AllEvents}}
	const free, racers = 2, 6
	for range webhook.MaxEndpoints - free {
		if _, err := w.Register(ctx, tn, ep); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		refused []error
	)
	for range racers {
		wg.Go(func() {
			_, err := w.Register(ctx, tn, ep)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				created++
			} else {
				refused = append(refused, err)
			}
		})
	}
	wg.Wait()
	if created != free {
		t.Errorf("%d of %d racing registrations created, want %d (refusals: %v)", created, racers, free, refused)
	}
	for _, err := range refused {
		if errs.CodeOf(err) != errs.Conflict {
			t.Errorf("refused with %v, want the cap's Conflict", err)
		}
	}
	if eps, err := w.List(ctx, tn); err != nil || len(eps) != webhook.MaxEndpoints {
		t.Errorf("the tenant has %d webhooks (%v), want %d", len(eps), err, webhook.MaxEndpoints)
	}
}

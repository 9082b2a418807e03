package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dispatch"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// TestQuietCommits: the commits of a quiet sync batch (an import without webhooks) carry
// the mark on their outbox item, and the dispatcher queues no delivery for them but still
// deletes them; the same batch not quiet is delivered.
func TestQuietCommits(t *testing.T) {
	ctx := context.Background()
	tn := fmt.Sprintf("quiet%d", time.Now().UnixNano()%1e9)
	if err := seed.Tenant(ctx, env.store, tn, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, env.svc, tn, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	ep := &webhook.Endpoint{ID: app.NewID("wh_"), Tenant: tn, URL: "https://hooks.example.com/all", EventTypes: []string{webhook.AllEvents}, CreatedAt: time.Now()}
	ep.Rotate(time.Now())
	if err := env.store.PutEndpoint(ctx, ep, true); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(env.store, env.queue, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	for _, tc := range []struct {
		quiet bool
		want  bool // deliveries queued
	}{{true, false}, {false, true}} {
		t.Run(fmt.Sprintf("quiet %v", tc.quiet), func(t *testing.T) {
			b := app.SyncBatch{Source: "crm", Quiet: tc.quiet, Changes: []app.SyncChange{{
				ID: fmt.Sprintf("c-%v", tc.quiet), Identity: &app.IdentityInput{Type: "email", Value: fmt.Sprintf("q-%v@example.com", tc.quiet)},
				OccurredAt: time.Now(), Attributes: map[string]any{"givenName": "Ada"}}}}
			res, err := env.svc.Sync(ctx, tn, b)
			if err != nil || res[0].Status != app.SyncApplied {
				t.Fatalf("sync: %+v %v", res, err)
			}
			ev := stream(t, tn)
			if len(ev.Records) != 1 {
				t.Fatalf("%d outbox records, want 1", len(ev.Records))
			}
			if o, _ := dynamo.OutboxFromStream(ev.Records[0]); o.Quiet != tc.quiet {
				t.Fatalf("outbox item quiet %v, want %v", o.Quiet, tc.quiet)
			}
			if _, err := d.Handle(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if got := len(received(t)[ep.ID]) > 0; got != tc.want {
				t.Fatalf("deliveries queued: %v, want %v", got, tc.want)
			}
			if left := stream(t, tn); len(left.Records) != 0 {
				t.Fatalf("%d outbox items left after dispatch", len(left.Records))
			}
		})
	}
}

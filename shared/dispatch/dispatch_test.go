package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/infra/eventsource"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dispatch"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/queue"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// The dispatcher tests run on the embedded emulator: a table and the delivery queue
// provisioned from template.yaml, real SDK clients, and outbox items written by the use
// cases, handed to the dispatcher as the table's stream would.

var env struct {
	db    *dynamodb.Client
	table string
	store *dynamo.Store
	svc   *app.Service
	queue *queue.Queue
	e     *testenv.Env
}

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "dispatch", func(_ context.Context, e *testenv.Env) error {
		env.db, env.table, env.store, env.e = e.DB, e.Table, e.Store, e
		env.svc = app.New(env.store, time.Now, 0)
		env.queue = queue.New(sqs.NewFromConfig(e.AWS), e.Physical["WebhookDeliveryQueue"].URL)
		return nil
	}))
}

var seq atomic.Int64

// stream returns the pending outbox items of tenant tn as the stream's INSERT records.
func stream(t *testing.T, tn string) events.DynamoDBEvent {
	t.Helper()
	var ev events.DynamoDBEvent
	p := dynamodb.NewScanPaginator(env.db, &dynamodb.ScanInput{TableName: &env.table, ConsistentRead: new(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			img, err := eventsource.ConvertItem(it)
			if err != nil {
				t.Fatal(err)
			}
			r := events.DynamoDBEventRecord{EventName: "INSERT", EventID: strconv.Itoa(len(ev.Records) + 1),
				Change: events.DynamoDBStreamRecord{NewImage: img, SequenceNumber: strconv.FormatInt(seq.Add(1), 10)}}
			if o, err := dynamo.OutboxFromStream(r); err == nil && o.Tenant == tn {
				ev.Records = append(ev.Records, r)
			}
		}
	}
	return ev
}

// received takes every message off the delivery queue and counts them per endpoint.
func received(t *testing.T) map[string][]webhook.Message {
	t.Helper()
	out := map[string][]webhook.Message{}
	for empty := 0; empty < 2; {
		msgs, err := env.queue.Receive(context.Background(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			empty++
			continue
		}
		for _, m := range msgs {
			var w webhook.Message
			if err := json.Unmarshal([]byte(m.Body), &w); err != nil {
				t.Fatal(err)
			}
			out[w.EndpointID] = append(out[w.EndpointID], w)
			if err := env.queue.Delete(context.Background(), m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestHandle: a batch of outbox records becomes one queued delivery per event and
// subscribed endpoint, each logged as pending, and the outbox items are deleted.
func TestHandle(t *testing.T) {
	ctx := context.Background()
	tn := fmt.Sprintf("disp%d", time.Now().UnixNano()%1e9)
	if err := seed.Tenant(ctx, env.store, tn, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, env.svc, tn, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	endpoints := map[string][]string{"consents": {"consent.changed"}, "all": {webhook.AllEvents}, "subscriptions": {"subscription.changed"}}
	ids := map[string]string{}
	for name, types := range endpoints {
		ep := &webhook.Endpoint{ID: app.NewID("wh_"), Tenant: tn, URL: "https://hooks.example.com/" + name, EventTypes: types, CreatedAt: time.Now()}
		ep.Rotate(time.Now())
		if err := env.store.PutEndpoint(ctx, ep, true); err != nil {
			t.Fatal(err)
		}
		ids[name] = ep.ID
	}
	w := app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}}
	res, err := env.svc.CreateProfile(ctx, tn, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: "ada@example.com"}},
		Consents: map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2}}}, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.PutConsent(ctx, tn, res.Profile.ID, "marketing", profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: 2}, w); err != nil {
		t.Fatal(err)
	}
	ev := stream(t, tn)
	if len(ev.Records) != 2 {
		t.Fatalf("%d outbox records for two commits, want 2", len(ev.Records))
	}
	var ledgerEvents []string
	for _, r := range ev.Records {
		o, _ := dynamo.OutboxFromStream(r)
		for _, e := range o.Events {
			ledgerEvents = append(ledgerEvents, e.Type)
		}
	}
	sort.Strings(ledgerEvents)

	d := dispatch.New(env.store, env.queue, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	resp, err := d.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %+v, %v", resp, err)
	}
	got := received(t)
	want := map[string]int{"consents": 2, "all": len(ledgerEvents), "subscriptions": 0}
	for name, n := range want {
		t.Run(name, func(t *testing.T) {
			msgs := got[ids[name]]
			if len(msgs) != n {
				t.Fatalf("%d deliveries queued for endpoint %s, want %d", len(msgs), name, n)
			}
			for _, m := range msgs {
				if m.Tenant != tn || m.DeliveryID != webhook.DeliveryID(m.Event, ids[name]) || !(slices.Contains(endpoints[name], webhook.AllEvents) || slices.Contains(endpoints[name], m.Event.Type)) {
					t.Fatalf("message %+v", m)
				}
			}
			logged, err := env.store.Deliveries(ctx, tn, ids[name], 100)
			if err != nil || len(logged) != n {
				t.Fatalf("%d deliveries logged, want %d (%v)", len(logged), n, err)
			}
			for _, l := range logged {
				if l.Status != webhook.Pending {
					t.Fatalf("delivery logged as %s, want pending", l.Status)
				}
			}
		})
	}
	t.Run("outbox emptied", func(t *testing.T) {
		if n, err := env.store.PendingOutbox(ctx, tn, res.Profile.ID); err != nil || n != 0 {
			t.Fatalf("%d outbox items still pending (%v)", n, err)
		}
		if left := stream(t, tn); len(left.Records) != 0 {
			t.Fatalf("%d outbox items left", len(left.Records))
		}
	})
	t.Run("redelivered batch", func(t *testing.T) {
		// The stream may hand a batch over again: the delivery log keeps its entries.
		if _, err := d.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
		logged, err := env.store.Deliveries(ctx, tn, ids["all"], 100)
		if err != nil || len(logged) != len(ledgerEvents) {
			t.Fatalf("%d deliveries logged after a redelivery, want %d (%v)", len(logged), len(ledgerEvents), err)
		}
		received(t)
	})
}

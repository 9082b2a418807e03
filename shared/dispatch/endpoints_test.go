package dispatch_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/dispatch"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// requests counts the DynamoDB requests of a store by operation, and the sort key of each
// GetItem, through an SDK middleware on the store's own client.
type requests struct {
	mu   sync.Mutex
	ops  map[string]int
	gets []string
}

func (r *requests) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID {
			r.mu.Lock()
			r.ops[awsmiddleware.GetOperationName(ctx)]++
			if g, ok := in.Parameters.(*dynamodb.GetItemInput); ok {
				sk, _ := g.Key["SK"].(*types.AttributeValueMemberS)
				r.gets = append(r.gets, sk.Value)
			}
			r.mu.Unlock()
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// take returns the counts since the last take and resets them.
func (r *requests) take() (map[string]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops, gets := r.ops, r.gets
	r.ops, r.gets = map[string]int{}, nil
	return ops, gets
}

// countedStore is a store on the test table whose requests c counts.
func countedStore() (*dynamo.Store, *requests) {
	c := &requests{ops: map[string]int{}}
	db := dynamodb.NewFromConfig(env.e.AWS, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, c.option) })
	return dynamo.New(db, env.table), c
}

func newEndpoint(tn string) *webhook.Endpoint {
	ep := &webhook.Endpoint{ID: testenv.Unique("wh"), Tenant: tn, URL: "https://hooks.example.com/x",
		EventTypes: []string{webhook.AllEvents}, CreatedAt: time.Now()}
	ep.Rotate(time.Now())
	return ep
}

// TestEndpointCache: the dispatcher lists a tenant's endpoints once and then, while they do
// not change, reads only the tenant's webhook version (one GetItem) per batch; every
// registration, rotation and deletion is seen by the next batch; and endpoints stored before
// the version marker existed are dispatched to.
func TestEndpointCache(t *testing.T) {
	ctx := context.Background()
	tn := testenv.Unique("epc")
	if err := env.e.Seed(ctx, tn); err != nil {
		t.Fatal(err)
	}
	store, counted := countedStore()
	d := dispatch.New(store, env.queue, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	// batch commits a change of a new person in tenant tn and dispatches its outbox item. It
	// returns the events dispatched, the messages queued per endpoint, and the dispatcher's
	// DynamoDB requests.
	batch := func(t *testing.T, tn string) (int, map[string][]webhook.Message, map[string]int, []string) {
		t.Helper()
		env.e.NewPerson(t, tn)
		ev := stream(t, tn)
		events := 0
		for _, r := range ev.Records {
			o, err := dynamo.OutboxFromStream(r)
			if err != nil {
				t.Fatal(err)
			}
			events += len(o.Events)
		}
		if len(ev.Records) != 1 || events == 0 {
			t.Fatalf("%d outbox records with %d events, want one record with events", len(ev.Records), events)
		}
		counted.take()
		if resp, err := d.Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("Handle: %+v, %v", resp, err)
		}
		ops, gets := counted.take()
		return events, received(t), ops, gets
	}

	a, b := newEndpoint(tn), newEndpoint(tn)
	if err := env.store.PutEndpoint(ctx, a, true); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		change  func() error // the endpoint write before the batch; nil: none
		queries int          // Query requests of the batch: 1 to list, 0 from the cache
		want    []string     // endpoints that get the batch's events
		notWant []string
	}{
		{name: "first batch lists", queries: 1, want: []string{a.ID}},
		{name: "unchanged batch reads only the version", queries: 0, want: []string{a.ID}},
		{name: "registration", change: func() error { return env.store.PutEndpoint(ctx, b, true) },
			queries: 1, want: []string{a.ID, b.ID}},
		{name: "unchanged after registration", queries: 0, want: []string{a.ID, b.ID}},
		{name: "rotation", change: func() error { a.Rotate(time.Now()); return env.store.PutEndpoint(ctx, a, false) },
			queries: 1, want: []string{a.ID, b.ID}},
		{name: "deletion", change: func() error { return env.store.DeleteEndpoint(ctx, tn, b.ID) },
			queries: 1, want: []string{a.ID}, notWant: []string{b.ID}},
		{name: "unchanged after deletion", queries: 0, want: []string{a.ID}, notWant: []string{b.ID}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.change != nil {
				if err := st.change(); err != nil {
					t.Fatal(err)
				}
			}
			events, got, ops, gets := batch(t, tn)
			if ops["Query"] != st.queries {
				t.Errorf("%d Query requests, want %d (requests %v)", ops["Query"], st.queries, ops)
			}
			if ops["GetItem"] != 1 || !slices.Equal(gets, []string{"WHVER"}) {
				t.Errorf("GetItem of %v, want exactly one of the webhook version marker (requests %v)", gets, ops)
			}
			for _, id := range st.want {
				if len(got[id]) != events {
					t.Errorf("endpoint %s got %d deliveries, want %d", id, len(got[id]), events)
				}
			}
			for _, id := range st.notWant {
				if len(got[id]) != 0 {
					t.Errorf("deleted endpoint %s got %d deliveries", id, len(got[id]))
				}
			}
		})
	}

	t.Run("endpoint without a marker", func(t *testing.T) {
		// As stored before endpoint writes kept a version: the endpoint item alone.
		tn := testenv.Unique("epl")
		if err := env.e.Seed(ctx, tn); err != nil {
			t.Fatal(err)
		}
		legacy := newEndpoint(tn)
		doc, err := json.Marshal(legacy)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &env.table, Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#" + tn}, "SK": &types.AttributeValueMemberS{Value: "WH#" + legacy.ID},
			"doc": &types.AttributeValueMemberS{Value: string(doc)},
		}}); err != nil {
			t.Fatal(err)
		}
		if v, err := env.store.WebhooksVersion(ctx, tn); err != nil || v != 0 {
			t.Fatalf("WebhooksVersion = %d, %v; want 0 without a marker", v, err)
		}
		for _, queries := range []int{1, 0} {
			events, got, ops, _ := batch(t, tn)
			if len(got[legacy.ID]) != events || ops["Query"] != queries {
				t.Fatalf("endpoint without a marker got %d of %d deliveries in %d Query requests, want all in %d",
					len(got[legacy.ID]), events, ops["Query"], queries)
			}
		}
		added := newEndpoint(tn)
		if err := env.store.PutEndpoint(ctx, added, true); err != nil {
			t.Fatal(err)
		}
		events, got, _, _ := batch(t, tn)
		if len(got[legacy.ID]) != events || len(got[added.ID]) != events {
			t.Fatalf("after a registration: %d and %d of %d deliveries, want all to both", len(got[legacy.ID]), len(got[added.ID]), events)
		}
	})
}

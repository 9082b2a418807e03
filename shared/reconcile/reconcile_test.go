package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/delivery"
	"github.com/livingprofile/livingprofile/shared/dispatch"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/queue"
	"github.com/livingprofile/livingprofile/shared/reconcile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// The reconciler runs on the embedded emulator: the table and the delivery queue from
// template.yaml, outbox items written by the use cases, the real dispatcher and worker.

var env struct {
	*testenv.Env
	queue    *queue.Queue
	store    *dynamo.Store // counts its DynamoDB requests in requests
	requests atomic.Int64
}

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "reconcile", func(ctx context.Context, e *testenv.Env) error {
		env.Env = e
		env.queue = queue.New(sqs.NewFromConfig(e.AWS), e.Physical["WebhookDeliveryQueue"].URL)
		db := dynamodb.NewFromConfig(e.AWS, func(o *dynamodb.Options) {
			o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
				return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID {
						env.requests.Add(1)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
			})
		})
		env.store = dynamo.New(db, e.Table)
		return nil
	}))
}

// drain takes every message off the delivery queue, as a lost queue would lose them.
func drain(t *testing.T) []events.SQSMessage {
	t.Helper()
	var out []events.SQSMessage
	for empty := 0; empty < 2; {
		msgs, err := env.queue.Receive(t.Context(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			empty++
		}
		for _, m := range msgs {
			out = append(out, events.SQSMessage{MessageId: fmt.Sprint(len(out)), Body: m.Body, ReceiptHandle: m.ReceiptHandle,
				Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
			if err := env.queue.Delete(t.Context(), m.ReceiptHandle); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestReconcile walks one change through every loss the reconciler repairs: an outbox item
// never dispatched, then delivery messages that vanished from the queue, then a duplicate of
// a delivered message, and checks that fresh work and repaired work are left alone.
func TestReconcile(t *testing.T) {
	ctx := t.Context()
	tn := testenv.Unique("rec")
	if err := env.Seed(ctx, tn); err != nil {
		t.Fatal(err)
	}
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { posts.Add(1) }))
	defer srv.Close()
	ep := &webhook.Endpoint{ID: "wh_" + tn, Tenant: tn, URL: srv.URL, EventTypes: []string{webhook.AllEvents}, CreatedAt: time.Now()}
	ep.Rotate(time.Now())
	if err := env.Store.PutEndpoint(ctx, ep, true); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	p := env.NewPerson(t, tn)
	if _, err := env.Profiles.PutConsent(ctx, tn, p.ID, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1}, testenv.Operator); err != nil {
		t.Fatal(err)
	}
	dis := dispatch.New(env.store, env.queue, nil, quiet)
	r := reconcile.New(env.store, dis, env.queue, quiet, time.Now)
	run := func(t *testing.T, cutoff time.Time, want reconcile.Result) {
		t.Helper()
		env.requests.Store(0)
		got, err := r.Reconcile(ctx, cutoff)
		if err != nil || got != want {
			t.Fatalf("Reconcile = %+v, %v; want %+v", got, err, want)
		}
		t.Logf("reconcile run: %+v in %d DynamoDB requests", got, env.requests.Load())
	}

	t.Run("fresh work is left alone", func(t *testing.T) {
		run(t, before, reconcile.Result{})
		// Empty: one Query per view shard (4 outbox, 8 delivery), the whole cost of a quiet run.
		if n := env.requests.Load(); n != 12 {
			t.Errorf("an empty run made %d DynamoDB requests, want 12", n)
		}
	})
	var first []events.SQSMessage
	t.Run("undispatched outbox items", func(t *testing.T) {
		run(t, time.Now(), reconcile.Result{Outbox: 2})
		if first = drain(t); len(first) < 2 {
			t.Fatalf("%d deliveries queued for two changes", len(first))
		}
		run(t, time.Now().Add(-time.Minute), reconcile.Result{})
	})
	t.Run("lost delivery messages", func(t *testing.T) {
		cutoff := time.Now()
		run(t, cutoff, reconcile.Result{Deliveries: len(first)})
		again := drain(t)
		if len(again) != len(first) {
			t.Fatalf("%d deliveries queued again, want %d", len(again), len(first))
		}
		// Touched when queued again: the same cutoff no longer finds them.
		run(t, cutoff, reconcile.Result{})
	})
	t.Run("delivered ones stay delivered", func(t *testing.T) {
		w := delivery.NewWorker(env.store, env.queue, quiet, delivery.Options{MaxAttempts: 3, RetryBase: time.Second, AllowLoopback: true})
		if resp, err := w.Handle(ctx, events.SQSEvent{Records: first}); err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver: %+v, %v", resp, err)
		}
		if n := posts.Load(); n != int64(len(first)) {
			t.Fatalf("%d POSTs, want %d", n, len(first))
		}
		// Delivered entries leave the view, and a duplicate message is dropped unsent.
		run(t, time.Now().Add(time.Second), reconcile.Result{})
		var m webhook.Message
		if err := json.Unmarshal([]byte(first[0].Body), &m); err != nil {
			t.Fatal(err)
		}
		if err := env.queue.Send(ctx, []webhook.Message{m}); err != nil {
			t.Fatal(err)
		}
		if resp, err := w.Handle(ctx, events.SQSEvent{Records: drain(t)}); err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("deliver duplicate: %+v, %v", resp, err)
		}
		if n := posts.Load(); n != int64(len(first)) {
			t.Fatalf("a duplicate of a delivered message was POSTed (%d POSTs, want %d)", n, len(first))
		}
	})
}

// TestHandle: the scheduled event's detail may set the cutoff; a malformed one is an error.
func TestHandle(t *testing.T) {
	r := reconcile.New(env.store, dispatch.New(env.store, env.queue, nil, quiet), env.queue, quiet, time.Now)
	for _, tc := range []struct {
		name, detail string
		ok           bool
	}{{"scheduled", `{}`, true}, {"cutoff", `{"before":"2020-01-01T00:00:00Z"}`, true}, {"malformed", `{"before":1}`, false}} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Handle(t.Context(), events.EventBridgeEvent{Detail: json.RawMessage(tc.detail)})
			if (err == nil) != tc.ok {
				t.Fatalf("Handle(%s) = %v", tc.detail, err)
			}
		})
	}
}

// TestHandleDrainsABacklog: one scheduled run queues again every lost delivery of a backlog
// larger than one batch, as the local stack's restart needs, batch after batch.
func TestHandleDrainsABacklog(t *testing.T) {
	ctx := t.Context()
	tn := testenv.Unique("backlog")
	drain(t) // what other tests left queued
	at := time.Now().Add(-time.Hour)
	const lost = reconcile.Batch + 3
	for i := range lost {
		m := webhook.Message{Tenant: tn, EndpointID: "wh_" + tn, DeliveryID: fmt.Sprintf("d%04d", i),
			Event: webhook.Event{ID: fmt.Sprintf("ev%04d", i), Type: "consent.changed"}}
		d := &webhook.Delivery{ID: m.DeliveryID, EndpointID: m.EndpointID, EventID: m.Event.ID, EventType: m.Event.Type,
			Status: webhook.Pending, CreatedAt: at, UpdatedAt: at, Message: &m}
		if err := env.store.PutDelivery(ctx, tn, d, true); err != nil {
			t.Fatal(err)
		}
	}
	r := reconcile.New(env.store, dispatch.New(env.store, env.queue, nil, quiet), env.queue, quiet, time.Now)
	detail, _ := json.Marshal(reconcile.Detail{Before: time.Now()})
	if err := r.Handle(ctx, events.EventBridgeEvent{Detail: detail}); err != nil {
		t.Fatal(err)
	}
	queued := map[string]bool{}
	for _, msg := range drain(t) {
		var m webhook.Message
		if err := json.Unmarshal([]byte(msg.Body), &m); err != nil {
			t.Fatal(err)
		}
		if m.Tenant == tn {
			queued[m.DeliveryID] = true
		}
	}
	if len(queued) != lost {
		t.Errorf("one run queued %d of %d lost deliveries again", len(queued), lost)
	}
}

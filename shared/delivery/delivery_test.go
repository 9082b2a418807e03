package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/delivery"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/queue"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// The worker tests keep the delivery log in a table on the embedded emulator and postpone
// retries on a real SQS queue there, both provisioned from template.yaml; the receiver is
// an httptest server.

var env struct {
	store *dynamo.Store
	queue *queue.Queue
}

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "delivery", func(_ context.Context, e *testenv.Env) error {
		env.store = e.Store
		env.queue = queue.New(sqs.NewFromConfig(e.AWS), e.Physical["WebhookDeliveryQueue"].URL)
		return nil
	}))
}

const tenant = "acme"

// receiver answers with status and records what it received, verifying each signature.
type receiver struct {
	mu       sync.Mutex
	status   int
	got      []webhook.Event
	badSigns int
	srv      *httptest.Server
}

func newReceiver(t *testing.T, secret *string) *receiver {
	r := &receiver{status: 204}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := webhook.Verify(*secret, req.Header.Get(webhook.HeaderID), req.Header.Get(webhook.HeaderTimestamp),
			req.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			r.badSigns++
		}
		var e webhook.Event
		_ = json.Unmarshal(body, &e)
		r.got = append(r.got, e)
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// message queues one delivery message and takes it off again, as Lambda's event source
// does, so that the worker holds a real receipt handle; attempt is its receive count.
func message(t *testing.T, epID string, attempt int) events.SQSEvent {
	t.Helper()
	ctx := context.Background()
	e := webhook.Event{ID: app.NewID("ev_"), Type: "consent.changed", Tenant: tenant, ProfileID: app.NewID("p_"), OccurredAt: time.Now().UTC()}
	m := webhook.Message{Tenant: tenant, EndpointID: epID, DeliveryID: webhook.DeliveryID(e, epID), Event: e}
	if err := env.queue.Send(ctx, []webhook.Message{m}); err != nil {
		t.Fatal(err)
	}
	got, err := env.queue.Receive(ctx, 1, time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("receive: %v, %v", got, err)
	}
	return events.SQSEvent{Records: []events.SQSMessage{{MessageId: m.DeliveryID, Body: got[0].Body, ReceiptHandle: got[0].ReceiptHandle,
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(attempt)}}}}
}

func deliveryOf(t *testing.T, ev events.SQSEvent) *webhook.Delivery {
	t.Helper()
	var m webhook.Message
	if err := json.Unmarshal([]byte(ev.Records[0].Body), &m); err != nil {
		t.Fatal(err)
	}
	d, err := env.store.Delivery(context.Background(), tenant, m.EndpointID, m.DeliveryID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// visibleAgain reports whether the queue offers a message again right away.
func visibleAgain(t *testing.T) bool {
	t.Helper()
	got, err := env.queue.Receive(context.Background(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got {
		_ = env.queue.Delete(context.Background(), m.ReceiptHandle)
	}
	return len(got) > 0
}

// TestWorker: a 2xx answer to a signed delivery completes it; a 5xx schedules a retry by
// hiding the message for the backoff; the last attempt parks the delivery.
func TestWorker(t *testing.T) {
	ctx := context.Background()
	var secret string
	rc := newReceiver(t, &secret)
	ep := &webhook.Endpoint{ID: app.NewID("wh_"), Tenant: tenant, URL: rc.srv.URL + "/hook", EventTypes: []string{webhook.AllEvents}, CreatedAt: time.Now()}
	secret = ep.Rotate(time.Now()).Value
	if err := env.store.PutEndpoint(ctx, ep, true); err != nil {
		t.Fatal(err)
	}
	w := delivery.NewWorker(env.store, env.queue, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		delivery.Options{MaxAttempts: 3, RetryBase: 30 * time.Second, AllowLoopback: true, Timeout: 5 * time.Second})
	tests := []struct {
		name     string
		status   int
		attempt  int
		failed   bool   // reported as a batch item failure
		want     string // delivery status logged
		visible  bool   // offered again at once
		received int    // posts the receiver saw
	}{
		{"delivered", 204, 1, false, webhook.Delivered, false, 1},
		{"5xx retries later", 503, 1, true, webhook.Retrying, false, 1},
		{"second 5xx", 500, 2, true, webhook.Retrying, false, 1},
		{"last attempt parks", 500, 3, true, webhook.Parked, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc.mu.Lock()
			rc.status, rc.got, rc.badSigns = tt.status, nil, 0
			rc.mu.Unlock()
			ev := message(t, ep.ID, tt.attempt)
			resp, err := w.Handle(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if failed := len(resp.BatchItemFailures) == 1; failed != tt.failed {
				t.Fatalf("batch item failures %v, want failed=%v", resp.BatchItemFailures, tt.failed)
			}
			rc.mu.Lock()
			got, bad := len(rc.got), rc.badSigns
			rc.mu.Unlock()
			if got != tt.received || bad != 0 {
				t.Fatalf("receiver saw %d posts (%d badly signed), want %d", got, bad, tt.received)
			}
			d := deliveryOf(t, ev)
			if d.Status != tt.want || d.LastStatus != tt.status || d.Attempts != 1 {
				t.Fatalf("delivery log %+v, want status %s, last status %d", d, tt.want, tt.status)
			}
			if v := visibleAgain(t); v != tt.visible {
				t.Fatalf("message offered again at once: %v, want %v", v, tt.visible)
			}
		})
	}
	t.Run("duplicate of a delivered message", func(t *testing.T) {
		rc.mu.Lock()
		rc.status, rc.got = 204, nil
		rc.mu.Unlock()
		ev := message(t, ep.ID, 1)
		for range 2 {
			if resp, err := w.Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle: %+v, %v", resp, err)
			}
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.got) != 1 {
			t.Fatalf("a duplicate message was posted again: %d posts", len(rc.got))
		}
	})
	t.Run("endpoint gone", func(t *testing.T) {
		ev := message(t, app.NewID("wh_"), 1)
		if resp, err := w.Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("Handle: %+v, %v", resp, err)
		}
		if d := deliveryOf(t, ev); d.Status != webhook.Dropped {
			t.Fatalf("delivery to a deleted endpoint logged %s, want dropped", d.Status)
		}
	})
}

// TestRotationSignsNextDelivery: the worker reads the endpoint on every attempt, so the very
// first delivery after a rotation carries the old and the new signature, and the first after
// a deletion is dropped, however warm the worker is.
func TestRotationSignsNextDelivery(t *testing.T) {
	ctx := context.Background()
	type post struct {
		id, ts, sig string
		body        []byte
	}
	var (
		mu    sync.Mutex
		posts []post
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		posts = append(posts, post{req.Header.Get(webhook.HeaderID), req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body})
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	ep := &webhook.Endpoint{ID: app.NewID("wh_"), Tenant: tenant, URL: srv.URL + "/hook", EventTypes: []string{webhook.AllEvents}, CreatedAt: time.Now()}
	old := ep.Rotate(time.Now()).Value
	if err := env.store.PutEndpoint(ctx, ep, true); err != nil {
		t.Fatal(err)
	}
	w := delivery.NewWorker(env.store, env.queue, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		delivery.Options{MaxAttempts: 3, RetryBase: time.Second, AllowLoopback: true, Timeout: 5 * time.Second})
	deliver := func() (post, events.SQSEvent) {
		t.Helper()
		ev := message(t, ep.ID, 1)
		if resp, err := w.Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("Handle: %+v, %v", resp, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(posts) == 0 {
			return post{}, ev
		}
		p := posts[len(posts)-1]
		posts = nil
		return p, ev
	}
	verifies := func(p post, secret string) bool {
		return webhook.Verify(secret, p.id, p.ts, p.sig, p.body, time.Now(), 5*time.Minute) == nil
	}
	var fresh string
	steps := []struct {
		name string
		do   func()
		old  bool // the post verifies with the first secret
		new  bool // and with the rotated one
	}{
		{"before the rotation: the old secret", nil, true, false},
		{"the first delivery after the rotation: both", func() {
			fresh = ep.Rotate(time.Now()).Value
			if err := env.store.PutEndpoint(ctx, ep, false); err != nil {
				t.Fatal(err)
			}
		}, true, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.do != nil {
				s.do()
			}
			p, _ := deliver()
			if p.sig == "" {
				t.Fatal("nothing was posted")
			}
			if got := verifies(p, old); got != s.old {
				t.Errorf("verifies with the old secret: %v, want %v (%s)", got, s.old, p.sig)
			}
			if got := fresh != "" && verifies(p, fresh); got != s.new {
				t.Errorf("verifies with the new secret: %v, want %v (%s)", got, s.new, p.sig)
			}
		})
	}
	t.Run("the first delivery after a deletion is dropped", func(t *testing.T) {
		if err := env.store.DeleteEndpoint(ctx, tenant, ep.ID); err != nil {
			t.Fatal(err)
		}
		p, ev := deliver()
		if p.sig != "" {
			t.Fatal("a deleted endpoint was posted to")
		}
		if d := deliveryOf(t, ev); d.Status != webhook.Dropped {
			t.Fatalf("delivery logged %s, want dropped", d.Status)
		}
	})
}

package localstack_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
)

// TestSteadyWritesQueryNothing: once warm, a stream of consent writes and the dispatch and
// delivery of their events to a webhook make no DynamoDB Query in any function. A Query is
// the one request whose cost grows with what the table holds (on the embedded emulator it
// walks every item), so this is what keeps the local stack's write rate flat as history
// grows; each function's per-write requests are point reads and writes.
func TestSteadyWritesQueryNothing(t *testing.T) {
	ctx := context.Background()
	st, counter, store, _ := countedStack(t, "sq", nil)
	key, _, err := seed.Key(ctx, store, tenant, "steady", []apikey.Scope{apikey.Admin})
	if err != nil {
		t.Fatal(err)
	}
	var posts atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	c := &countClient{t: t, base: st.URL, key: key}
	c.send(routeRequest{method: "POST", path: "/v1/webhooks", status: 201,
		body: map[string]any{"url": hook.URL, "eventTypes": []string{"consent.changed"}}})
	id := c.send(routeRequest{method: "POST", path: "/v1/profiles", status: 201,
		body: map[string]any{"identities": []map[string]string{{"type": "customer_id", "value": "steady-1"}}}})["id"].(string)
	writes := func(n int) {
		t.Helper()
		want := posts.Load() + int64(n)
		for i := range n {
			c.send(routeRequest{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", status: 200,
				body: map[string]any{"status": []string{"granted", "withdrawn"}[i%2], "noticeVersion": 2}})
		}
		for deadline := time.Now().Add(20 * time.Second); posts.Load() < want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d deliveries arrived", posts.Load()-want+int64(n), n)
			}
		}
	}
	writes(4) // warm: the dispatcher lists the tenant's endpoints once
	counter.mu.Lock()
	clear(counter.counts)
	counter.mu.Unlock()
	writes(40)
	counter.mu.Lock()
	defer counter.mu.Unlock()
	for fn, ops := range counter.counts {
		if fn == "(no function)" {
			continue // the local event sources' own sweeps: see eventsource.Outbox
		}
		if ops["Query"] > 0 {
			t.Errorf("%s made %d Query requests during steady writes (all: %v)", fn, ops["Query"], ops)
		}
	}
	for _, fn := range []string{"PutConsent", "DispatchEvents", "DeliverWebhooks"} {
		if len(counter.counts[fn]) == 0 {
			t.Errorf("%s made no DynamoDB request: the test did not exercise it (counts: %v)", fn, counter.counts)
		}
	}
}

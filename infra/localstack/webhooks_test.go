package localstack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/webhook"
)

// receiver is a webhook endpoint on loopback that verifies every delivery's signature.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	fail   atomic.Int32 // answer 500 while > 0 (decremented per request); -1 fails forever

	mu       sync.Mutex
	received []webhook.Event // verified deliveries answered 2xx
	attempts int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts++
		err := webhook.Verify(r.secret, req.Header.Get(webhook.HeaderID), req.Header.Get(webhook.HeaderTimestamp),
			req.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute)
		if err != nil {
			t.Errorf("delivery with a bad signature: %v", err)
			w.WriteHeader(400)
			return
		}
		if n := r.fail.Load(); n != 0 {
			if n > 0 {
				r.fail.Add(-1)
			}
			w.WriteHeader(500)
			return
		}
		var e webhook.Event
		if err := json.Unmarshal(body, &e); err != nil || e.ID != req.Header.Get(webhook.HeaderID) {
			t.Errorf("delivery body %s does not match its Webhook-Id", body)
		}
		r.received = append(r.received, e)
		w.WriteHeader(204)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// register makes the receiver a webhook of the test tenant and returns its id.
func (r *receiver) register(types []string, source string) string {
	body := map[string]any{"url": r.srv.URL + "/hook", "eventTypes": types, "description": "test receiver"}
	if source != "" {
		body["source"] = source
	}
	res := must(r.t, do(r.t, call{method: "POST", path: "/v1/webhooks", key: "admin", body: body}), 201).json(r.t)
	r.secret = res["secret"].(string)
	id := res["id"].(string)
	r.t.Cleanup(func() { do(r.t, call{method: "DELETE", path: "/v1/webhooks/" + id, key: "admin"}) })
	return id
}

func (r *receiver) events() []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Event(nil), r.received...)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func deliveries(t *testing.T, hook string) []map[string]any {
	t.Helper()
	res := must(t, do(t, call{method: "GET", path: "/v1/webhooks/" + hook + "/deliveries", key: "admin"}), 200).json(t)
	var out []map[string]any
	for _, d := range res["deliveries"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func grant(t *testing.T, id, status string) {
	t.Helper()
	must(t, do(t, call{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", key: "write",
		body: map[string]any{"status": status, "noticeVersion": 2}}), 200)
}

// TestWebhookDelivery: a registered receiver gets a correctly signed event within seconds
// of a consent change, and the delivery log says so.
func TestWebhookDelivery(t *testing.T) {
	rc := newReceiver(t)
	hook := rc.register([]string{"consent.changed"}, "")
	id, _ := newProfile(t, nil)
	grant(t, id, "granted")
	eventually(t, 10*time.Second, "the consent event", func() bool { return len(rc.events()) > 0 })
	e := rc.events()[0]
	if e.Type != "consent.changed" || e.ProfileID != id || e.Tenant != tenant || e.Data.Subject != "marketing" {
		t.Fatalf("event %+v", e)
	}
	eventually(t, 5*time.Second, "the delivery log", func() bool {
		ds := deliveries(t, hook)
		return len(ds) == 1 && ds[0]["status"] == "delivered" && ds[0]["attempts"] == float64(1)
	})
	list := must(t, do(t, call{method: "GET", path: "/v1/webhooks", key: "admin"}), 200)
	if strings.Contains(string(list.body), rc.secret) || !strings.Contains(string(list.body), hook) {
		t.Fatalf("the webhook list must show the webhook and not its secret: %s", list.body)
	}
}

// TestWebhookRetries: a receiver failing three times then succeeding gets exactly one
// successful delivery, with four attempts recorded.
func TestWebhookRetries(t *testing.T) {
	rc := newReceiver(t)
	rc.fail.Store(3)
	hook := rc.register([]string{"consent.changed"}, "")
	id, _ := newProfile(t, nil)
	grant(t, id, "granted")
	eventually(t, 30*time.Second, "delivery after three failures", func() bool { return len(rc.events()) == 1 })
	eventually(t, 5*time.Second, "the delivery log", func() bool {
		ds := deliveries(t, hook)
		return len(ds) == 1 && ds[0]["status"] == "delivered" && ds[0]["attempts"] == float64(4)
	})
	time.Sleep(time.Second)
	if n := len(rc.events()); n != 1 {
		t.Fatalf("%d successful deliveries, want exactly 1", n)
	}
}

// TestWebhookParkedAndRedriven: a receiver that always fails ends in the dead-letter queue;
// after it recovers, a redrive delivers the event.
func TestWebhookParkedAndRedriven(t *testing.T) {
	rc := newReceiver(t)
	rc.fail.Store(-1)
	hook := rc.register([]string{"subscription.changed"}, "")
	id, _ := newProfile(t, nil)
	must(t, do(t, call{method: "PUT", path: "/v1/profiles/" + id + "/subscriptions/newsletter", key: "write",
		body: map[string]any{"status": "subscribed"}}), 200)
	eventually(t, 30*time.Second, "the delivery to be parked", func() bool {
		ds := deliveries(t, hook)
		return len(ds) == 1 && ds[0]["status"] == "parked"
	})
	rc.fail.Store(0)
	eventually(t, 15*time.Second, "the redrive to find the parked delivery", func() bool {
		r := must(t, do(t, call{method: "POST", path: "/v1/webhooks/" + hook + "/redrive", key: "admin"}), 200).json(t)
		return r["redriven"] == float64(1)
	})
	eventually(t, 10*time.Second, "delivery after redrive", func() bool { return len(rc.events()) == 1 })
	eventually(t, 5*time.Second, "the delivery log", func() bool {
		ds := deliveries(t, hook)
		return ds[0]["status"] == "delivered"
	})
}

// TestEventsSurviveCrashes: the dispatcher failing after the change committed, and the
// worker dying after it delivered, still deliver the event, under one stable event id.
func TestEventsSurviveCrashes(t *testing.T) {
	rc := newReceiver(t)
	rc.register([]string{"consent.changed"}, "")
	id, _ := newProfile(t, nil)
	faults.dispatchFailures.Store(2)
	faults.workerCrashes.Store(1)
	grant(t, id, "granted")
	eventually(t, 30*time.Second, "the event despite the crashes", func() bool { return len(rc.events()) >= 1 })
	eventually(t, 10*time.Second, "the faults to be used up", func() bool {
		return faults.dispatchFailures.Load() == 0 && faults.workerCrashes.Load() == 0
	})
	time.Sleep(2 * time.Second)
	evs := rc.events()
	for _, e := range evs {
		if e.ID != evs[0].ID || e.ProfileID != id {
			t.Fatalf("redelivery changed the event: %+v vs %+v", e, evs[0])
		}
	}
}

// TestWebhookValidation: registrations must be https (http only to loopback locally),
// name known event types, and never leak secrets.
func TestWebhookValidation(t *testing.T) {
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"plain http elsewhere", map[string]any{"url": "http://example.com/hook", "eventTypes": []string{"*"}}, "url"},
		{"credentials in url", map[string]any{"url": "https://user:pw@example.com/hook", "eventTypes": []string{"*"}}, "url"},
		{"not a url", map[string]any{"url": "hook", "eventTypes": []string{"*"}}, "url"},
		{"unknown type", map[string]any{"url": "https://example.com/hook", "eventTypes": []string{"consent.deleted"}}, "eventTypes[0]"},
		{"no types", map[string]any{"url": "https://example.com/hook", "eventTypes": []string{}}, "eventTypes"},
		{"bad source", map[string]any{"url": "https://example.com/hook", "eventTypes": []string{"*"}, "source": "CRM!"}, "source"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := isProblem(t, do(t, call{method: "POST", path: "/v1/webhooks", key: "admin", body: c.body}))
			if !namesField(p, c.field) {
				t.Fatalf("problem does not name %s: %v", c.field, p)
			}
		})
	}
	isProblem(t, do(t, call{method: "POST", path: "/v1/webhooks", key: "write", body: map[string]any{"url": "https://example.com", "eventTypes": []string{"*"}}}))
	must(t, do(t, call{method: "DELETE", path: "/v1/webhooks/wh_doesnotexistdoesnotexist12", key: "admin"}), 404)
}

// TestNoEchoToSource: a change that came in through sync from a system is not sent back to
// that system's webhook, but reaches the others; the system still hears of other changes.
func TestNoEchoToSource(t *testing.T) {
	crm, other := newReceiver(t), newReceiver(t)
	crm.register([]string{"consent.changed"}, "crm")
	other.register([]string{"consent.changed"}, "")
	id, email := newProfile(t, nil)
	must(t, do(t, call{method: "POST", path: "/v1/sync", key: "write", body: map[string]any{
		"source": "crm",
		"changes": []map[string]any{{
			"id": "chg-" + id, "identity": map[string]string{"type": "email", "value": email},
			"occurredAt": time.Now().UTC().Format(time.RFC3339Nano),
			"consents":   map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
		}},
	}}), 200)
	eventually(t, 10*time.Second, "the synced change at the other system", func() bool { return len(other.events()) == 1 })
	if e := other.events()[0]; e.Source.Kind != "sync" || e.Source.ID != "crm" {
		t.Fatalf("source of the synced change: %+v", e.Source)
	}
	grant(t, id, "withdrawn")
	eventually(t, 10*time.Second, "the API change at the CRM", func() bool { return len(crm.events()) == 1 })
	if e := crm.events()[0]; e.Source.Kind != "api_key" {
		t.Fatalf("the CRM got its own change back: %+v", e)
	}
	time.Sleep(time.Second)
	if n := len(crm.events()); n != 1 {
		t.Fatalf("the CRM got %d events, want only the API change", n)
	}
}

// TestWebhookRotationIsImmediate: the very first delivery after POST /v1/webhooks/{id}/secret
// carries the new signature and the old one, even from a worker that delivered to the
// endpoint a moment before.
func TestWebhookRotationIsImmediate(t *testing.T) {
	type signed struct{ id, ts, sig, body string }
	var (
		mu    sync.Mutex
		posts []signed
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		mu.Lock()
		posts = append(posts, signed{req.Header.Get(webhook.HeaderID), req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), string(body)})
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	reg := must(t, do(t, call{method: "POST", path: "/v1/webhooks", key: "admin",
		body: map[string]any{"url": srv.URL + "/hook", "eventTypes": []string{"consent.changed"}}}), 201).json(t)
	hook, old := reg["id"].(string), reg["secret"].(string)
	t.Cleanup(func() { do(t, call{method: "DELETE", path: "/v1/webhooks/" + hook, key: "admin"}) })
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(posts)
	}
	id, _ := newProfile(t, nil)
	grant(t, id, "granted") // warms the delivery worker with the endpoint as it was
	eventually(t, 10*time.Second, "the delivery before the rotation", func() bool { return received() == 1 })

	fresh := must(t, do(t, call{method: "POST", path: "/v1/webhooks/" + hook + "/secret", key: "admin"}), 200).json(t)["secret"].(string)
	grant(t, id, "withdrawn")
	eventually(t, 10*time.Second, "the first delivery after the rotation", func() bool { return received() == 2 })
	mu.Lock()
	before, after := posts[0], posts[1]
	mu.Unlock()
	tests := []struct {
		name   string
		post   signed
		secret string
		ok     bool
	}{
		{"before the rotation, old secret", before, old, true},
		{"before the rotation, new secret", before, fresh, false},
		{"first after the rotation, old secret", after, old, true},
		{"first after the rotation, new secret", after, fresh, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.post.id, tt.post.ts, tt.post.sig, []byte(tt.post.body), time.Now(), 5*time.Minute)
			if (err == nil) != tt.ok {
				t.Errorf("verifies: %v, want %v (Webhook-Signature %q)", err == nil, tt.ok, tt.post.sig)
			}
		})
	}
}

// TestMergeAndSplitEvents: a merge through the API sends profile.merged carrying both ids
// (the survivor as the event's profile, the absorbed one in the data), and a split sends
// profile.split, so downstream systems can merge and split too.
func TestMergeAndSplitEvents(t *testing.T) {
	rc := newReceiver(t)
	rc.register([]string{"profile.merged", "profile.split"}, "")
	a, _ := newProfile(t, nil)
	b, _ := newProfile(t, nil)
	m := must(t, do(t, call{method: "POST", path: "/v1/profiles/" + a + "/merges", key: "admin", body: map[string]any{"profileId": b}}), 200).json(t)
	eventually(t, 10*time.Second, "the merge event", func() bool { return len(rc.events()) > 0 })
	e := rc.events()[0]
	var d struct {
		MergeID, Absorbed string
	}
	if err := json.Unmarshal(e.Data.New, &d); err != nil || e.Type != "profile.merged" || e.ProfileID != a || d.Absorbed != b || d.MergeID != m["mergeId"] {
		t.Fatalf("merge event %+v (%s), want %s absorbing %s", e, e.Data.New, a, b)
	}
	must(t, do(t, call{method: "POST", path: "/v1/profiles/" + a + "/splits", key: "admin", body: map[string]any{"mergeId": m["mergeId"]}}), 200)
	eventually(t, 10*time.Second, "the split event", func() bool { return len(rc.events()) > 1 })
	if e := rc.events()[1]; e.Type != "profile.split" || e.ProfileID != a || e.Data.Subject != b {
		t.Fatalf("split event %+v", e)
	}
	if got := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + b, key: "read"}), 200).json(t); got["id"] != b || got["mergedInto"] != nil {
		t.Fatalf("after the split %s reads as %v", b, got)
	}
}

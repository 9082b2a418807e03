package webhook_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func TestSignVerify(t *testing.T) {
	s := webhook.NewSecret(t0)
	other := webhook.NewSecret(t0)
	body := []byte(`{"id":"ev_1","type":"consent.changed"}`)
	sig, err := webhook.Sign([]webhook.Secret{s}, "ev_1", t0, body)
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(t0.Unix(), 10)
	tests := []struct {
		name                string
		secret, id, ts, sig string
		body                []byte
		now                 time.Time
		ok                  bool
	}{
		{"valid", s.Value, "ev_1", ts, sig, body, t0, true},
		{"valid within tolerance", s.Value, "ev_1", ts, sig, body, t0.Add(4 * time.Minute), true},
		{"too old", s.Value, "ev_1", ts, sig, body, t0.Add(6 * time.Minute), false},
		{"from the future", s.Value, "ev_1", ts, sig, body, t0.Add(-6 * time.Minute), false},
		{"other secret", other.Value, "ev_1", ts, sig, body, t0, false},
		{"body changed", s.Value, "ev_1", ts, sig, []byte(`{"id":"ev_1","type":"consent.changedX"}`), t0, false},
		{"id changed", s.Value, "ev_2", ts, sig, body, t0, false},
		{"timestamp changed", s.Value, "ev_1", strconv.FormatInt(t0.Unix()+1, 10), sig, body, t0, false},
		{"garbage timestamp", s.Value, "ev_1", "soon", sig, body, t0, false},
		{"no signature", s.Value, "ev_1", ts, "", body, t0, false},
		{"wrong version", s.Value, "ev_1", ts, strings.Replace(sig, "v1,", "v2,", 1), body, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.id, tt.ts, tt.sig, tt.body, tt.now, 5*time.Minute)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestRotation: during the overlap both secrets sign, so receivers with either verify.
func TestRotation(t *testing.T) {
	ep := webhook.Endpoint{Secrets: []webhook.Secret{webhook.NewSecret(t0)}}
	old := ep.Secrets[0]
	nu := ep.Rotate(t0.Add(time.Hour))
	now := t0.Add(2 * time.Hour)
	active := ep.ActiveSecrets(now)
	if len(active) != 2 || active[0].Value != nu.Value {
		t.Fatalf("active secrets %+v", active)
	}
	body := []byte(`{}`)
	sig, _ := webhook.Sign(active, "ev", now, body)
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, s := range []webhook.Secret{old, nu} {
		if err := webhook.Verify(s.Value, "ev", ts, sig, body, now, time.Minute); err != nil {
			t.Fatalf("secret created %v does not verify during the overlap: %v", s.CreatedAt, err)
		}
	}
	later := t0.Add(time.Hour + webhook.RotationOverlap + time.Second)
	if a := ep.ActiveSecrets(later); len(a) != 1 || a[0].Value != nu.Value {
		t.Fatalf("after the overlap: %+v", a)
	}
}

func TestWants(t *testing.T) {
	e := webhook.FromLedger(ledger.Event{ID: "ev", Type: "consent.changed", Actor: ledger.Actor{Kind: ledger.ActorSync, ID: "crm"}})
	tests := []struct {
		name string
		ep   webhook.Endpoint
		want bool
	}{
		{"subscribed type", webhook.Endpoint{EventTypes: []string{"consent.changed"}}, true},
		{"all types", webhook.Endpoint{EventTypes: []string{"*"}}, true},
		{"other type", webhook.Endpoint{EventTypes: []string{"profile.updated"}}, false},
		{"change came from this endpoint's system", webhook.Endpoint{EventTypes: []string{"*"}, Source: "crm"}, false},
		{"change came from another system", webhook.Endpoint{EventTypes: []string{"*"}, Source: "esp"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ep.Wants(e); got != tt.want {
				t.Fatalf("Wants = %v", got)
			}
		})
	}
	api := webhook.FromLedger(ledger.Event{Type: "consent.changed", Actor: ledger.Actor{Kind: ledger.ActorAPIKey, ID: "crm"}})
	if !(&webhook.Endpoint{EventTypes: []string{"*"}, Source: "crm"}).Wants(api) {
		t.Fatal("an API change whose key id equals the source name was suppressed")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		ep       webhook.Endpoint
		loopback bool
		field    string
	}{
		{"https", webhook.Endpoint{URL: "https://hooks.example.com/x", EventTypes: []string{"*"}}, false, ""},
		{"http loopback locally", webhook.Endpoint{URL: "http://127.0.0.1:9000/x", EventTypes: []string{"*"}}, true, ""},
		{"http localhost locally", webhook.Endpoint{URL: "http://localhost:9000/x", EventTypes: []string{"*"}}, true, ""},
		{"http loopback in AWS", webhook.Endpoint{URL: "http://127.0.0.1:9000/x", EventTypes: []string{"*"}}, false, "url"},
		{"http elsewhere locally", webhook.Endpoint{URL: "http://example.com/x", EventTypes: []string{"*"}}, true, "url"},
		{"ftp", webhook.Endpoint{URL: "ftp://example.com/x", EventTypes: []string{"*"}}, false, "url"},
		{"userinfo", webhook.Endpoint{URL: "https://a:b@example.com/x", EventTypes: []string{"*"}}, false, "url"},
		{"relative", webhook.Endpoint{URL: "/x", EventTypes: []string{"*"}}, false, "url"},
		{"unknown type", webhook.Endpoint{URL: "https://e.com", EventTypes: []string{"nope"}}, false, "eventTypes[0]"},
		{"control chars in description", webhook.Endpoint{URL: "https://e.com", EventTypes: []string{"*"}, Description: "a\nb"}, false, "description"},
		{"bad source", webhook.Endpoint{URL: "https://e.com", EventTypes: []string{"*"}, Source: "Crm"}, false, "source"},
		{"event bus", webhook.Endpoint{Target: webhook.TargetEventBridge, EventTypes: []string{"*"}}, false, ""},
		{"event bus with a URL", webhook.Endpoint{Target: webhook.TargetEventBridge, URL: "https://e.com", EventTypes: []string{"*"}}, false, "url"},
		{"unknown target", webhook.Endpoint{Target: "sns", EventTypes: []string{"*"}}, false, "target"},
		{"neither URL nor target", webhook.Endpoint{EventTypes: []string{"*"}}, false, "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ep.Validate(tt.loopback)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool { return f.Field == tt.field }) {
				t.Fatalf("Validate = %v, want a problem naming %s", err, tt.field)
			}
		})
	}
}

func TestDeliveryIDStable(t *testing.T) {
	e := webhook.Event{ID: "ev_1", OccurredAt: t0}
	a, b := webhook.DeliveryID(e, "wh_1"), webhook.DeliveryID(e, "wh_1")
	if a != b || a == webhook.DeliveryID(e, "wh_2") || a == webhook.DeliveryID(webhook.Event{ID: "ev_2", OccurredAt: t0}, "wh_1") {
		t.Fatalf("delivery ids %s %s", a, b)
	}
	later := webhook.DeliveryID(webhook.Event{ID: "ev_0", OccurredAt: t0.Add(time.Millisecond)}, "wh_1")
	if later <= a {
		t.Fatalf("ids do not sort by event time: %s <= %s", later, a)
	}
}

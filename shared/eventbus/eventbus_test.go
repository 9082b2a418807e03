package eventbus_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/eventbus"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// The CloudEvent of an event carries the CloudEvents 1.0 required attributes, the ledger
// event's id, and the webhook event itself as data, as docs/eventbridge.md documents.
func TestOf(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	e := webhook.Event{ID: "ev_1", Type: "consent.changed", Tenant: "acme", ProfileID: "p_1", OccurredAt: at,
		Source: ledger.Actor{Kind: ledger.ActorPortal}, Data: webhook.EventData{Subject: "marketing", New: json.RawMessage(`{"status":"withdrawn"}`)}}
	b, err := json.Marshal(eventbus.Of(e))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"ev_1","source":"/livingprofile/tenants/acme","type":"com.livingprofile.consent.changed",` +
		`"subject":"p_1","time":"2026-12-04T09:00:00Z","datacontenttype":"application/json","data":{"id":"ev_1","type":"consent.changed",` +
		`"tenant":"acme","profileId":"p_1","occurredAt":"2026-12-04T10:00:00+01:00","source":{"kind":"portal"},` +
		`"data":{"subject":"marketing","new":{"status":"withdrawn"}}}}`
	if string(b) != want {
		t.Errorf("CloudEvent\n%s\nwant\n%s", b, want)
	}
}

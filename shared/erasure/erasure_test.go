package erasure_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/erasure"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

func request() *dsr.Request {
	r := dsr.New("rq_aaaaaaaaaaaaaaaaaaaaaaaaaa", "acme", "p_bbbbbbbbbbbbbbbbbbbbbbbbbb", dsr.Erasure, "", dsr.AttestedBrand,
		ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k1"}, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	r.Status, r.NotifyEmail, r.Version = dsr.InProgress, "ada@example.com", 2
	return r
}

func tomb() *dsr.Tombstone {
	return &dsr.Tombstone{Tenant: "acme", ProfileID: "p_bbbbbbbbbbbbbbbbbbbbbbbbbb", RequestID: "rq_aaaaaaaaaaaaaaaaaaaaaaaaaa",
		ErasedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), IdentitiesSuppressed: 3}
}

// TestEventsAreStable: every attempt emits the same events (ids, times, hashes), so a
// redelivered job cannot emit new ones, and they hold no personal data.
func TestEventsAreStable(t *testing.T) {
	a, b := erasure.Events(request(), tomb()), erasure.Events(request(), tomb())
	if len(a) != 2 || a[0].Type != erasure.EventErased || a[1].Type != "request.completed" {
		t.Fatalf("events %+v", a)
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Hash != b[i].Hash || !a[i].At.Equal(tomb().ErasedAt) || !strings.HasPrefix(a[i].ID, "ev_") || len(a[i].ID) != 29 {
			t.Fatalf("event %d differs between attempts or is malformed: %+v / %+v", i, a[i], b[i])
		}
		if a[i].Actor != erasure.Actor || a[i].ProfileID != request().ProfileID || a[i].Tenant != "acme" {
			t.Fatalf("event %d: %+v", i, a[i])
		}
		if strings.Contains(fmt.Sprintf("%+v %s %s", a[i], a[i].Old, a[i].New), "ada@") {
			t.Fatalf("event %d holds the address", i)
		}
	}
	if a[0].Subject != request().ID || string(a[0].New) != `{"identitiesSuppressed":3,"requestId":"rq_aaaaaaaaaaaaaaaaaaaaaaaaaa"}` {
		t.Fatalf("erased event %s %s", a[0].Subject, a[0].New)
	}
	if !strings.Contains(string(a[1].New), `"status":"completed"`) || !strings.Contains(string(a[1].Old), `"status":"in_progress"`) {
		t.Fatalf("completed event %s -> %s", a[1].Old, a[1].New)
	}
	other := request()
	other.ID = "rq_cccccccccccccccccccccccccc"
	if erasure.Events(other, tomb())[0].ID == a[0].ID {
		t.Fatal("two requests share an event id")
	}
}

func TestRecipients(t *testing.T) {
	erased := erasure.Events(request(), tomb())[0]
	eps := []webhook.Endpoint{
		{ID: "wh_all", EventTypes: []string{"*"}},
		{ID: "wh_erased", EventTypes: []string{"profile.erased"}, Source: "crm"},
		{ID: "wh_consents", EventTypes: []string{"consent.changed"}},
	}
	got := erasure.Recipients(erased, eps)
	if len(got) != 2 || got[0].EndpointID != "wh_all" || got[1].EndpointID != "wh_erased" {
		t.Fatalf("recipients %+v", got)
	}
	for _, r := range got {
		if r.Status != webhook.Pending || r.DeliveryID != webhook.DeliveryID(webhook.FromLedger(erased), r.EndpointID) {
			t.Fatalf("recipient %+v", r)
		}
	}
	if none := erasure.Recipients(erased, nil); none == nil || len(none) != 0 {
		t.Fatalf("no endpoints: %#v", none)
	}
}

type deliveries map[string]*webhook.Delivery

func (d deliveries) Delivery(_ context.Context, _, endpointID, id string) (*webhook.Delivery, error) {
	if del, ok := d[endpointID+"/"+id]; ok {
		return del, nil
	}
	if endpointID == "wh_broken" {
		return nil, errors.New("store down")
	}
	return nil, errs.E(errs.NotFound, "delivery not found")
}

func TestRefreshRecipients(t *testing.T) {
	r := request()
	r.Recipients = []dsr.Recipient{
		{EndpointID: "wh_a", DeliveryID: "d1", Status: webhook.Pending},
		{EndpointID: "wh_b", DeliveryID: "d2", Status: webhook.Pending},
		{EndpointID: "wh_c", DeliveryID: "d3", Status: webhook.Delivered},
	}
	d := deliveries{"wh_a/d1": {Status: webhook.Delivered}, "wh_c/d3": {Status: webhook.Parked}}
	changed, err := erasure.RefreshRecipients(context.Background(), d, r)
	if err != nil || !changed {
		t.Fatalf("changed %v err %v", changed, err)
	}
	want := []string{webhook.Delivered, webhook.Pending, webhook.Delivered} // not yet logged stays; delivered stays
	for i, rc := range r.Recipients {
		if rc.Status != want[i] {
			t.Errorf("recipient %d: %s, want %s", i, rc.Status, want[i])
		}
	}
	if changed, _ := erasure.RefreshRecipients(context.Background(), d, r); changed {
		t.Error("a second refresh changed something")
	}
	r.Recipients = append(r.Recipients, dsr.Recipient{EndpointID: "wh_broken", DeliveryID: "d4"})
	if _, err := erasure.RefreshRecipients(context.Background(), d, r); err == nil {
		t.Error("a store error was swallowed")
	}
}

func TestStepsAndPrefix(t *testing.T) {
	var names []string
	for _, s := range erasure.Steps() {
		names = append(names, s.String())
	}
	if got := strings.Join(names, ","); got != "start,lock,tombstone,suppress,outbox,requests,delete,exports,records,notify,complete" {
		t.Fatalf("steps %s", got)
	}
	if erasure.ExportPrefix("acme", "p_1") != export.ProfilePrefix("acme", "p_1") {
		t.Fatal("the erasure deletes another prefix than exports are written under")
	}
}

package retention_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/retention"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// cat has a consent purpose kept 30 days after the consent ends, a contract purpose kept 365
// days after the last activity, and attributes collected for one, the other, or both.
func cat() *catalog.Catalog {
	return &catalog.Catalog{
		Purposes: []catalog.Purpose{
			{ID: "marketing", LegalBasis: catalog.Consent, RetentionDays: 30},
			{ID: "orders", LegalBasis: catalog.Contract, RetentionDays: 365},
			{ID: "analytics", LegalBasis: catalog.LegitimateInterests},
		},
		Topics: []catalog.Topic{{ID: "newsletter", Purpose: "marketing"}, {ID: "shipping", Purpose: "orders"}},
		Attributes: []catalog.Attribute{
			{Name: "shoe_size", Purposes: []string{"marketing"}},
			{Name: "loyalty_tier", Purposes: []string{"marketing", "orders"}},
			{Name: "birth_date", Purposes: []string{"marketing", "analytics"}},
			{Name: "vip"},
		},
	}
}

func person(consent profile.ConsentStatus, at time.Time) *profile.Profile {
	return &profile.Profile{
		ID: "p_1", UpdatedAt: at, ActiveAt: at,
		Identities: []profile.Identity{{Type: "email", Value: "ola@example.com"}},
		Attributes: map[string]any{"shoe_size": 42.0, "loyalty_tier": "gold", "birth_date": "1990-01-01", "vip": true, "givenName": "Ola"},
		Consents:   map[string]profile.Consent{"marketing": {Status: consent, UpdatedAt: at}},
		Subscriptions: map[string]profile.Subscription{
			"newsletter": {Status: "subscribed", UpdatedAt: at}, "shipping": {Status: "subscribed", UpdatedAt: at},
		},
	}
}

func TestDue(t *testing.T) {
	c := cat()
	// A granted consent without expiry holds: nothing of marketing is due, however long.
	p := person(profile.Granted, t0)
	p.ActiveAt = t0.AddDate(2, 0, 0) // active: orders holds too
	if pl := retention.Due(c, p, t0.AddDate(2, 0, 1)); !pl.Empty() {
		t.Errorf("granted consent, active person: Due = %+v, want nothing", pl)
	}
	// Withdrawn 30 days ago, to the second: marketing's consent and topic are due; the
	// attributes shared with purposes still held are not.
	w := person(profile.Withdrawn, t0)
	w.ActiveAt = t0.AddDate(0, 0, 20)
	if pl := retention.Due(c, w, t0.AddDate(0, 0, 30).Add(-time.Second)); !pl.Empty() {
		t.Errorf("a second before 30 days: Due = %+v, want nothing", pl)
	}
	pl := retention.Due(c, w, t0.AddDate(0, 0, 30))
	want := []retention.Erased{{Purpose: "marketing", Days: 30, Attributes: []string{"shoe_size"}, Topics: []string{"newsletter"}, Consent: true}}
	if !equal(pl.Purposes, want) || pl.Inactive {
		t.Errorf("Due = %+v, want %+v", pl, want)
	}
	// A year after the last activity, orders is due too, and with it loyalty_tier (both its
	// purposes past); birth_date stays for analytics, kept while the relationship lasts.
	pl = retention.Due(c, w, w.ActiveAt.AddDate(0, 0, 365))
	want = []retention.Erased{
		{Purpose: "marketing", Days: 30, Attributes: []string{"shoe_size", "loyalty_tier"}, Topics: []string{"newsletter"}, Consent: true},
		{Purpose: "orders", Days: 365, Attributes: []string{"loyalty_tier"}, Topics: []string{"shipping"}},
	}
	if !equal(pl.Purposes, want) {
		t.Errorf("Due = %+v, want %+v", pl.Purposes, want)
	}
	// A consent that expires counts from its expiry.
	e := person(profile.Granted, t0)
	exp := t0.AddDate(0, 6, 0)
	e.Consents["marketing"] = profile.Consent{Status: profile.Granted, UpdatedAt: t0, ExpiresAt: &exp}
	e.ActiveAt = t0.AddDate(1, 0, 0)
	if pl := retention.Due(c, e, exp.AddDate(0, 0, 29)); !pl.Empty() {
		t.Errorf("29 days after expiry: Due = %+v", pl)
	}
	if pl := retention.Due(c, e, exp.AddDate(0, 0, 30)); len(pl.Purposes) != 1 || pl.Purposes[0].Purpose != "marketing" {
		t.Errorf("30 days after expiry: Due = %+v, want marketing", pl)
	}
	// The tenant's inactivity limit ends the whole profile; an anonymised one only once.
	c.Retention = catalog.RetentionSettings{InactiveDays: 730, InactiveAction: catalog.Anonymise}
	pl = retention.Due(c, w, w.ActiveAt.AddDate(0, 0, 730))
	if !pl.Inactive || pl.Action != catalog.Anonymise || len(pl.Purposes) != 0 {
		t.Errorf("inactive: Due = %+v, want the profile anonymised", pl)
	}
	at := t0
	w.AnonymisedAt = &at
	if pl := retention.Due(c, w, w.ActiveAt.AddDate(0, 0, 731)); pl.Inactive {
		t.Errorf("anonymised already: Due = %+v", pl)
	}
	// A profile from before activity was recorded counts from its last change.
	old := person(profile.Granted, t0)
	old.ActiveAt = time.Time{}
	if got := retention.ActiveAt(old); !got.Equal(t0) {
		t.Errorf("ActiveAt = %v, want the last change", got)
	}
}

func equal(a, b []retention.Erased) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestApplyAndRedacts(t *testing.T) {
	c := cat()
	w := person(profile.Withdrawn, t0)
	pl := retention.Due(c, w, t0.AddDate(0, 0, 30))
	next := w.Clone()
	changes, removed := pl.Apply(next, 0, t0.AddDate(0, 0, 30))
	if removed != nil || len(changes) != 1 || changes[0].Type != retention.EventErased || changes[0].Subject != "marketing" {
		t.Fatalf("Apply = %+v, %v", changes, removed)
	}
	if _, ok := next.Attributes["shoe_size"]; ok {
		t.Error("shoe_size kept")
	}
	if _, ok := next.Consents["marketing"]; ok {
		t.Error("the marketing consent kept")
	}
	if _, ok := next.Subscriptions["newsletter"]; ok {
		t.Error("the newsletter subscription kept")
	}
	for _, kept := range []string{"loyalty_tier", "birth_date", "vip", "givenName"} {
		if _, ok := next.Attributes[kept]; !ok {
			t.Errorf("%s erased, though a purpose still holds it", kept)
		}
	}
	if _, ok := next.Subscriptions["shipping"]; !ok || len(next.Identities) != 1 {
		t.Error("data of other purposes erased")
	}
	// The change names what was erased, never a value.
	b, _ := json.Marshal(changes[0].New)
	if want := `{"purpose":"marketing","retentionDays":30,"attributes":["shoe_size"],"topics":["newsletter"],"consent":true}`; string(b) != want {
		t.Errorf("change = %s, want %s", b, want)
	}
	ev := func(typ, subject, old, nw string) ledger.Event {
		e := ledger.Event{Type: typ, Subject: subject}
		if old != "" {
			e.Old = json.RawMessage(old)
		}
		if nw != "" {
			e.New = json.RawMessage(nw)
		}
		return e
	}
	for _, tc := range []struct {
		e    ledger.Event
		want bool
	}{
		{ev(profile.EventConsentChanged, "marketing", `{"status":"granted"}`, `{"status":"withdrawn"}`), true},
		{ev(profile.EventConsentChanged, "analytics", `{"status":"granted"}`, ""), false},
		{ev(profile.EventSubscriptionChanged, "newsletter", "", `{"status":"subscribed"}`), true},
		{ev(profile.EventSubscriptionChanged, "shipping", "", `{"status":"subscribed"}`), false},
		{ev(profile.EventProfileUpdated, "attributes", `{"shoe_size":41}`, `{"shoe_size":42}`), true},
		{ev(profile.EventProfileUpdated, "attributes", `{}`, `{"vip":true}`), false},
		{ev("profile.merged", "p_2", "", `{"attributes":{"shoe_size":40}}`), true},
		{ev(profile.EventIdentityAdded, "email", "", `{"type":"email","value":"ola@example.com"}`), false},
	} {
		if got := pl.Redacts(tc.e); got != tc.want {
			t.Errorf("Redacts(%s %s %s) = %v, want %v", tc.e.Type, tc.e.Subject, tc.e.New, got, tc.want)
		}
	}
	// Anonymising removes identities and attributes, keeps consents, and redacts every value.
	c.Retention = catalog.RetentionSettings{InactiveDays: 730, InactiveAction: catalog.Anonymise}
	pl = retention.Due(c, w, w.ActiveAt.AddDate(0, 0, 730))
	next = w.Clone()
	changes, removed = pl.Apply(next, 730, t0)
	if len(removed) != 1 || len(next.Identities) != 0 || len(next.Attributes) != 0 || next.AnonymisedAt == nil || len(next.Consents) != 1 {
		t.Errorf("anonymised profile = %+v, removed %v", next, removed)
	}
	if len(changes) != 1 || changes[0].Type != retention.EventAnonymised {
		t.Errorf("changes = %+v", changes)
	}
	if !pl.Redacts(ev(profile.EventIdentityAdded, "email", "", `{"value":"x"}`)) {
		t.Error("anonymising keeps an identity's value in the ledger")
	}
	// Erasing an inactive profile is the erasure request's work, not Apply's.
	c.Retention.InactiveAction = catalog.Erase
	pl = retention.Due(c, w, w.ActiveAt.AddDate(0, 0, 730))
	if ch, rm := pl.Apply(w.Clone(), 730, t0); ch != nil || rm != nil || !slices.Equal([]string{pl.Action}, []string{catalog.Erase}) {
		t.Errorf("erase: Apply = %v %v (%+v)", ch, rm, pl)
	}
}

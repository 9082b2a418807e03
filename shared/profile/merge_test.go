package profile_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

var (
	crm    = ledger.Actor{Kind: ledger.ActorSync, ID: "crm"}
	shop   = ledger.Actor{Kind: ledger.ActorSync, ID: "shop"}
	erp    = ledger.Actor{Kind: ledger.ActorSync, ID: "erp"} // listed nowhere in the demo catalog
	system = ledger.Actor{Kind: ledger.ActorSystem}
)

// at is t0 plus h hours, the clock of the merge tests.
func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

// mergePair returns a survivor and an absorbed profile with one identity each, and the
// absorbed one's chain closed at seq 7.
func mergePair() (s, b *profile.Profile) {
	s = profile.New("pr_s", at(0))
	s.Identities = []profile.Identity{{Type: "email", Value: "anna@example.com"}}
	b = profile.New("pr_b", at(0))
	b.Identities = []profile.Identity{{Type: "customer_id", Value: "c-1"}}
	b.LedgerSeq, b.LedgerHead = 7, "head-b-7"
	return s, b
}

func consentAt(st profile.ConsentStatus, h int) *profile.Consent {
	return &profile.Consent{Status: st, LegalBasis: catalog.Consent, NoticeVersion: 2, Source: portal, UpdatedAt: at(h)}
}

func subAt(st profile.SubscriptionStatus, h int, chans ...string) *profile.Subscription {
	return &profile.Subscription{Status: st, Channels: chans, Source: portal, UpdatedAt: at(h)}
}

// mustMerge merges b into s and fails the test on an error.
func mustMerge(t *testing.T, cat *catalog.Catalog, s, b *profile.Profile) (profile.Change, profile.MergeDetail, profile.MergeDetail) {
	t.Helper()
	ch, err := s.Merge(cat, b, "mg_1", at(24))
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if ch.Type != profile.EventProfileMerged || ch.Subject != b.ID {
		t.Errorf("change = %s %q, want %s %q", ch.Type, ch.Subject, profile.EventProfileMerged, b.ID)
	}
	d, ok := ch.New.(profile.MergeDetail)
	if !ok {
		t.Fatalf("change New is %T, want MergeDetail", ch.New)
	}
	old, ok := ch.Old.(profile.MergeDetail)
	if !ok {
		t.Fatalf("change Old is %T, want MergeDetail", ch.Old)
	}
	return ch, d, old
}

func TestMergeConsents(t *testing.T) {
	cat := loadCatalog(t)
	const k = "marketing"
	tests := []struct {
		name         string
		mine, theirs *profile.Consent // nil: the side holds no consent for the purpose
		theirsWin    bool             // else the survivor's stands
		combined     *profile.Consent // a record of both that replaces the survivor's
	}{
		{name: "only the survivor's", mine: consentAt(profile.Granted, 1)},
		{name: "only the absorbed's", theirs: consentAt(profile.Withdrawn, 1), theirsWin: true},
		{name: "only the absorbed's grant", theirs: consentAt(profile.Granted, 1), theirsWin: true},
		{name: "grant later on the absorbed side", mine: consentAt(profile.Withdrawn, 1), theirs: consentAt(profile.Granted, 2), theirsWin: true},
		{name: "grant later on the survivor's side", mine: consentAt(profile.Granted, 2), theirs: consentAt(profile.Withdrawn, 1)},
		{name: "withdrawal later on the absorbed side", mine: consentAt(profile.Granted, 1), theirs: consentAt(profile.Withdrawn, 2), theirsWin: true},
		{name: "withdrawal later on the survivor's side", mine: consentAt(profile.Withdrawn, 2), theirs: consentAt(profile.Granted, 1)},
		{name: "same instant: absorbed denied beats granted", mine: consentAt(profile.Granted, 1), theirs: consentAt(profile.Denied, 1), theirsWin: true},
		{name: "same instant: absorbed withdrawn beats granted", mine: consentAt(profile.Granted, 1), theirs: consentAt(profile.Withdrawn, 1), theirsWin: true},
		{name: "same instant: survivor's denial beats granted", mine: consentAt(profile.Denied, 1), theirs: consentAt(profile.Granted, 1)},
		{name: "same instant: survivor's withdrawal beats granted", mine: consentAt(profile.Withdrawn, 1), theirs: consentAt(profile.Granted, 1)},
		{name: "same instant, both refuse: survivor keeps", mine: consentAt(profile.Withdrawn, 1), theirs: consentAt(profile.Denied, 1)},
		{name: "same instant, both granted: survivor keeps", mine: consentAt(profile.Granted, 1), theirs: &profile.Consent{Status: profile.Granted, NoticeVersion: 2, Source: crm, UpdatedAt: at(1)}},
		{name: "same instant, both granted: the older notice version", mine: consentAt(profile.Granted, 1),
			theirs:   &profile.Consent{Status: profile.Granted, NoticeVersion: 1, Source: crm, UpdatedAt: at(1)},
			combined: &profile.Consent{Status: profile.Granted, LegalBasis: catalog.Consent, NoticeVersion: 1, Source: portal, UpdatedAt: at(1)}},
		{name: "same instant, both granted: the earlier expiry", mine: &profile.Consent{Status: profile.Granted, NoticeVersion: 2, Source: portal, UpdatedAt: at(1), ExpiresAt: ptr(at(100))},
			theirs:   &profile.Consent{Status: profile.Granted, NoticeVersion: 2, Source: crm, UpdatedAt: at(1), ExpiresAt: ptr(at(50))},
			combined: &profile.Consent{Status: profile.Granted, NoticeVersion: 2, Source: portal, UpdatedAt: at(1), ExpiresAt: ptr(at(50))}},
		{name: "same instant, both granted: an expiry beats none", mine: consentAt(profile.Granted, 1),
			theirs:   &profile.Consent{Status: profile.Granted, NoticeVersion: 2, Source: crm, UpdatedAt: at(1), ExpiresAt: ptr(at(50))},
			combined: &profile.Consent{Status: profile.Granted, LegalBasis: catalog.Consent, NoticeVersion: 2, Source: portal, UpdatedAt: at(1), ExpiresAt: ptr(at(50))}},
		{name: "same instant, both granted: the survivor's earlier expiry stands", mine: &profile.Consent{Status: profile.Granted, NoticeVersion: 2, Source: portal, UpdatedAt: at(1), ExpiresAt: ptr(at(50))},
			theirs: consentAt(profile.Granted, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := mergePair()
			if tt.mine != nil {
				s.Consents[k] = *tt.mine
			}
			if tt.theirs != nil {
				b.Consents[k] = *tt.theirs
			}
			_, d, old := mustMerge(t, cat, s, b)
			want, replaced := tt.mine, tt.theirsWin || tt.combined != nil
			switch {
			case tt.theirsWin:
				want = tt.theirs
			case tt.combined != nil:
				want = tt.combined
			}
			if got := s.Consents[k]; !reflect.DeepEqual(got, *want) {
				t.Errorf("merged consent = %+v, want %+v", got, *want)
			}
			got, changed := d.Consents[k]
			if changed != replaced || changed && !reflect.DeepEqual(got, *want) {
				t.Errorf("detail consents = %+v, want %+v only if it replaced the survivor's (%v)", d.Consents, *want, replaced)
			}
			prev, hadOld := old.Consents[k]
			if wantOld := replaced && tt.mine != nil; hadOld != wantOld || hadOld && !reflect.DeepEqual(prev, *tt.mine) {
				t.Errorf("old consents = %+v, want the survivor's replaced one only (%v)", old.Consents, wantOld)
			}
		})
	}
}

func TestMergeSubscriptions(t *testing.T) {
	cat := loadCatalog(t)
	const k = "offers"
	tests := []struct {
		name         string
		mine, theirs *profile.Subscription
		theirsWin    bool
		combined     *profile.Subscription // a choice of both that replaces the survivor's
	}{
		{name: "only the survivor's", mine: subAt(profile.Subscribed, 1, "email")},
		{name: "only the absorbed's", theirs: subAt(profile.Subscribed, 1, "sms"), theirsWin: true},
		{name: "subscribed later on the absorbed side", mine: subAt(profile.Unsubscribed, 1), theirs: subAt(profile.Subscribed, 2, "email"), theirsWin: true},
		{name: "subscribed later on the survivor's side", mine: subAt(profile.Subscribed, 2, "email"), theirs: subAt(profile.Unsubscribed, 1)},
		{name: "unsubscribed later on the absorbed side", mine: subAt(profile.Subscribed, 1, "email"), theirs: subAt(profile.Unsubscribed, 2), theirsWin: true},
		{name: "unsubscribed later on the survivor's side", mine: subAt(profile.Unsubscribed, 2), theirs: subAt(profile.Subscribed, 1, "email")},
		{name: "same instant: absorbed unsubscribe wins", mine: subAt(profile.Subscribed, 1, "email"), theirs: subAt(profile.Unsubscribed, 1), theirsWin: true},
		{name: "same instant: survivor's unsubscribe wins", mine: subAt(profile.Unsubscribed, 1), theirs: subAt(profile.Subscribed, 1, "email")},
		{name: "same instant, same channels: survivor keeps", mine: subAt(profile.Subscribed, 1, "email"), theirs: subAt(profile.Subscribed, 1, "email")},
		{name: "same instant, survivor's channels fewer: survivor keeps", mine: subAt(profile.Subscribed, 1, "email"), theirs: subAt(profile.Subscribed, 1, "email", "sms")},
		{name: "same instant: only the channels both chose", mine: subAt(profile.Subscribed, 1, "email", "push", "sms"), theirs: subAt(profile.Subscribed, 1, "push", "sms"),
			combined: subAt(profile.Subscribed, 1, "push", "sms")},
		{name: "same instant, no channel in common: unsubscribed", mine: &profile.Subscription{Status: profile.Subscribed, Channels: []string{"email"}, Frequency: "weekly", Source: portal, UpdatedAt: at(1)},
			theirs: subAt(profile.Subscribed, 1, "sms"), combined: &profile.Subscription{Status: profile.Unsubscribed, Channels: []string{}, Source: portal, UpdatedAt: at(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := mergePair()
			if tt.mine != nil {
				s.Subscriptions[k] = *tt.mine
			}
			if tt.theirs != nil {
				b.Subscriptions[k] = *tt.theirs
			}
			_, d, old := mustMerge(t, cat, s, b)
			want, replaced := tt.mine, tt.theirsWin || tt.combined != nil
			switch {
			case tt.theirsWin:
				want = tt.theirs
			case tt.combined != nil:
				want = tt.combined
			}
			if got := s.Subscriptions[k]; !sameJSON(got, *want) {
				t.Errorf("merged subscription = %+v, want %+v", got, *want)
			}
			got, changed := d.Subscriptions[k]
			if changed != replaced || changed && !sameJSON(got, *want) {
				t.Errorf("detail subscriptions = %+v, want %+v only if it replaced the survivor's (%v)", d.Subscriptions, *want, replaced)
			}
			prev, hadOld := old.Subscriptions[k]
			if wantOld := replaced && tt.mine != nil; hadOld != wantOld || hadOld && !reflect.DeepEqual(prev, *tt.mine) {
				t.Errorf("old subscriptions = %+v, want the survivor's replaced one only (%v)", old.Subscriptions, wantOld)
			}
		})
	}
}

func TestMergeRights(t *testing.T) {
	cat := loadCatalog(t)
	obj := func(kv ...any) map[string]time.Time {
		m := map[string]time.Time{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = at(kv[i+1].(int))
		}
		return m
	}
	tests := []struct {
		name         string
		mine, theirs profile.Rights
		want         profile.Rights
	}{
		{name: "nothing on either side", want: profile.Rights{}},
		{name: "objection only on the absorbed side", theirs: profile.Rights{Objections: obj("analytics", 1)}, want: profile.Rights{Objections: obj("analytics", 1)}},
		{name: "objection only on the survivor's side", mine: profile.Rights{Objections: obj("analytics", 1)}, want: profile.Rights{Objections: obj("analytics", 1)}},
		{name: "objections are a union", mine: profile.Rights{Objections: obj("analytics", 1)}, theirs: profile.Rights{Objections: obj("marketing", 2)},
			want: profile.Rights{Objections: obj("analytics", 1, "marketing", 2)}},
		{name: "the absorbed's earlier objection time is kept", mine: profile.Rights{Objections: obj("analytics", 3)}, theirs: profile.Rights{Objections: obj("analytics", 1)},
			want: profile.Rights{Objections: obj("analytics", 1)}},
		{name: "the survivor's earlier objection time is kept", mine: profile.Rights{Objections: obj("analytics", 1)}, theirs: profile.Rights{Objections: obj("analytics", 3)},
			want: profile.Rights{Objections: obj("analytics", 1)}},
		{name: "restriction from the absorbed side", theirs: profile.Rights{Restricted: true}, want: profile.Rights{Restricted: true}},
		{name: "restriction from the survivor's side", mine: profile.Rights{Restricted: true}, want: profile.Rights{Restricted: true}},
		{name: "automated-decision opt-out from the absorbed side", theirs: profile.Rights{AutomatedDecisionOptOut: true}, want: profile.Rights{AutomatedDecisionOptOut: true}},
		{name: "automated-decision opt-out from the survivor's side", mine: profile.Rights{AutomatedDecisionOptOut: true}, want: profile.Rights{AutomatedDecisionOptOut: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := mergePair()
			s.Rights, b.Rights = tt.mine, tt.theirs
			before := s.Clone().Rights
			_, d, old := mustMerge(t, cat, s, b)
			if !sameJSON(s.Rights, tt.want) {
				t.Errorf("merged rights = %+v, want %+v", s.Rights, tt.want)
			}
			changed := !sameJSON(before, tt.want)
			if (d.Rights != nil) != changed || changed && (!sameJSON(*d.Rights, tt.want) || !sameJSON(*old.Rights, before)) {
				t.Errorf("detail rights = %+v (old %+v), want %+v only if it changed from %+v", d.Rights, old.Rights, tt.want, before)
			}
		})
	}
}

// attr is one side's state of an attribute: a value, or a removal (AttributeTimes set,
// value absent), or nothing at all (zero at).
type attr struct {
	value   any // nil with a non-zero at: removed
	src     ledger.Actor
	at      time.Time
	present bool
}

func val(v any, src ledger.Actor, h int) attr {
	return attr{value: v, src: src, at: at(h), present: true}
}
func removed(src ledger.Actor, h int) attr { return attr{src: src, at: at(h)} }

func (a attr) set(p *profile.Profile, name string) {
	if a.at.IsZero() {
		return
	}
	if a.present {
		p.Attributes[name] = a.value
	}
	if p.AttributeTimes == nil {
		p.AttributeTimes, p.AttributeSources = map[string]time.Time{}, map[string]ledger.Actor{}
	}
	p.AttributeTimes[name], p.AttributeSources[name] = a.at, a.src
}

func TestMergeAttributes(t *testing.T) {
	cat := loadCatalog(t)
	// The rows rely on the demo catalog's order of sources.
	want := map[string][]string{"*": {"portal", "crm", "api"}, "givenName": {"portal", "crm", "shop"}}
	if !reflect.DeepEqual(cat.Resolution.SourcePriority, want) {
		t.Fatalf("demo catalog source priority = %v, want %v", cat.Resolution.SourcePriority, want)
	}
	tests := []struct {
		name         string
		attr         string
		mine, theirs attr
		theirsWin    bool
	}{
		{name: "more trusted absorbed source wins though older", attr: "loyalty_tier", mine: val("gold", apiKey, 5), theirs: val("silver", portal, 1), theirsWin: true},
		{name: "more trusted survivor source wins though older", attr: "loyalty_tier", mine: val("gold", portal, 1), theirs: val("silver", apiKey, 5)},
		{name: "per-attribute order: shop beats api for givenName", attr: profile.AttrGivenName, mine: val("Anna", apiKey, 5), theirs: val("Ann", shop, 1), theirsWin: true},
		{name: "default order: api beats unlisted shop", attr: "loyalty_tier", mine: val("gold", apiKey, 1), theirs: val("silver", shop, 5)},
		{name: "equal priority: more recent absorbed wins", attr: "loyalty_tier", mine: val("gold", crm, 1), theirs: val("silver", crm, 2), theirsWin: true},
		{name: "equal priority: more recent survivor wins", attr: "loyalty_tier", mine: val("gold", crm, 2), theirs: val("silver", crm, 1)},
		{name: "equal priority and time: survivor keeps", attr: "loyalty_tier", mine: val("gold", crm, 2), theirs: val("silver", crm, 2)},
		{name: "unlisted source ranks after every listed one", attr: "loyalty_tier", mine: val("gold", erp, 5), theirs: val("silver", apiKey, 1), theirsWin: true},
		{name: "two unlisted sources: more recent wins", attr: "loyalty_tier", mine: val("gold", erp, 1), theirs: val("silver", shop, 2), theirsWin: true},
		{name: "system is unlisted", attr: "loyalty_tier", mine: val("gold", system, 5), theirs: val("silver", apiKey, 1), theirsWin: true},
		{name: "a removal wins by priority", attr: "loyalty_tier", mine: val("gold", apiKey, 5), theirs: removed(portal, 1), theirsWin: true},
		{name: "a removal wins by time", attr: profile.AttrCountry, mine: val("PL", crm, 1), theirs: removed(crm, 2), theirsWin: true},
		{name: "a survivor's removal wins", attr: profile.AttrCountry, mine: removed(crm, 2), theirs: val("DE", crm, 1)},
		{name: "an older removal loses", attr: profile.AttrCountry, mine: val("PL", crm, 2), theirs: removed(crm, 1)},
		{name: "only on the absorbed side", attr: "shoe_size", theirs: val(38.0, apiKey, 1), theirsWin: true},
		{name: "only on the survivor's side", attr: "shoe_size", mine: val(38.0, apiKey, 1)},
		{name: "survivor's value without provenance ranks last", attr: "vip", mine: attr{value: true, present: true}, theirs: val(false, apiKey, 1), theirsWin: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := mergePair()
			tt.mine.set(s, tt.attr)
			if tt.mine.present && tt.mine.at.IsZero() {
				s.Attributes[tt.attr] = tt.mine.value
			}
			tt.theirs.set(b, tt.attr)
			before := s.Clone()
			_, d, old := mustMerge(t, cat, s, b)
			w := before
			if tt.theirsWin {
				w = b
			}
			gv, gok := s.Attributes[tt.attr]
			wv, wok := w.Attributes[tt.attr]
			if gv != wv || gok != wok || !s.AttributeTimes[tt.attr].Equal(w.AttributeTimes[tt.attr]) || s.AttributeSources[tt.attr] != w.AttributeSources[tt.attr] {
				t.Errorf("merged = %v (%v) set at %v by %v, want %v (%v) at %v by %v", gv, gok, s.AttributeTimes[tt.attr], s.AttributeSources[tt.attr],
					wv, wok, w.AttributeTimes[tt.attr], w.AttributeSources[tt.attr])
			}
			dv, changed := d.Attributes[tt.attr]
			ov := old.Attributes[tt.attr]
			if changed != tt.theirsWin || changed && (dv != wv || ov != before.Attributes[tt.attr]) {
				t.Errorf("detail attributes = %v (old %v), want the absorbed's only if it won (%v)", d.Attributes, old.Attributes, tt.theirsWin)
			}
		})
	}
}

func TestMergeIdentitiesAndAliases(t *testing.T) {
	cat := loadCatalog(t)
	email := func(i int) profile.Identity {
		return profile.Identity{Type: "email", Value: fmt.Sprintf("p%d@example.com", i)}
	}
	ids := func(from, to int) []profile.Identity {
		var out []profile.Identity
		for i := from; i < to; i++ {
			out = append(out, email(i))
		}
		return out
	}
	aliases := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("pr_%s%d", prefix, i))
		}
		return out
	}
	tests := []struct {
		name                string
		mine, theirs        []profile.Identity
		mineAls, theirsAls  []string
		wantIDs             []profile.Identity // nil: a Conflict
		wantAliases         []string
		wantAddedIdentities []profile.Identity
		wantIdentitySources []string
	}{
		{name: "union without duplicates", mine: ids(0, 2), theirs: ids(1, 3),
			wantIDs: ids(0, 3), wantAliases: []string{"pr_b"}, wantAddedIdentities: ids(2, 3), wantIdentitySources: []string{"email:p0@example.com", "email:p1@example.com"}},
		{name: "exactly MaxIdentities", mine: ids(0, 5), theirs: ids(5, profile.MaxIdentities),
			wantIDs: ids(0, profile.MaxIdentities), wantAliases: []string{"pr_b"}, wantAddedIdentities: ids(5, profile.MaxIdentities)},
		{name: "MaxIdentities counting a shared one once", mine: ids(0, 6), theirs: ids(5, profile.MaxIdentities+1)[:5],
			wantIDs: ids(0, profile.MaxIdentities), wantAliases: []string{"pr_b"}, wantAddedIdentities: ids(6, profile.MaxIdentities)},
		{name: "more than MaxIdentities", mine: ids(0, 6), theirs: ids(6, profile.MaxIdentities+1)},
		{name: "aliases: the survivor's, the absorbed id, the absorbed's", mine: ids(0, 1), theirs: ids(1, 2), mineAls: []string{"pr_x"}, theirsAls: []string{"pr_y", "pr_z"},
			wantIDs: ids(0, 2), wantAliases: []string{"pr_x", "pr_b", "pr_y", "pr_z"}, wantAddedIdentities: ids(1, 2)},
		{name: "exactly MaxAliases", mine: ids(0, 1), theirs: ids(1, 2), mineAls: aliases("s", 10), theirsAls: aliases("b", profile.MaxAliases-11),
			wantIDs: ids(0, 2), wantAliases: append(append(aliases("s", 10), "pr_b"), aliases("b", profile.MaxAliases-11)...), wantAddedIdentities: ids(1, 2)},
		{name: "more than MaxAliases", mine: ids(0, 1), theirs: ids(1, 2), mineAls: aliases("s", 10), theirsAls: aliases("b", profile.MaxAliases-10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := mergePair()
			s.Identities, b.Identities = slices.Clone(tt.mine), slices.Clone(tt.theirs)
			s.Aliases, b.Aliases = tt.mineAls, tt.theirsAls
			// Provenance of the first identity of each side.
			s.IdentitySources = map[string]profile.Provenance{tt.mine[0].String(): {Source: portal, At: at(1)}}
			b.IdentitySources = map[string]profile.Provenance{tt.theirs[0].String(): {Source: crm, At: at(2)}}
			before := s.Clone()
			ch, err := s.Merge(cat, b, "mg_1", at(24))
			if tt.wantIDs == nil {
				if e, ok := errs.As(err); !ok || e.Code != errs.Conflict {
					t.Fatalf("Merge error = %v, want a Conflict", err)
				}
				if !reflect.DeepEqual(s, before) {
					t.Errorf("a refused merge changed the survivor: %+v, was %+v", s, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if !slices.Equal(s.Identities, tt.wantIDs) {
				t.Errorf("identities = %v, want %v", s.Identities, tt.wantIDs)
			}
			if !slices.Equal(s.Aliases, tt.wantAliases) {
				t.Errorf("aliases = %v, want %v", s.Aliases, tt.wantAliases)
			}
			if d := ch.New.(profile.MergeDetail); !slices.Equal(d.Identities, tt.wantAddedIdentities) {
				t.Errorf("detail identities = %v, want %v", d.Identities, tt.wantAddedIdentities)
			}
			// Provenance is a union in which the survivor's entry stands.
			if got := s.IdentitySources[tt.mine[0].String()]; got.Source != portal {
				t.Errorf("survivor's identity provenance = %+v, want the survivor's", got)
			}
			if _, shared := before.IdentitySources[tt.theirs[0].String()]; !shared {
				if got := s.IdentitySources[tt.theirs[0].String()]; got.Source != crm {
					t.Errorf("absorbed identity provenance = %+v, want the absorbed's", got)
				}
			}
			if tt.wantIdentitySources != nil {
				var keys []string
				for k := range s.IdentitySources {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if !slices.Equal(keys, tt.wantIdentitySources) {
					t.Errorf("identity sources = %v, want %v", keys, tt.wantIdentitySources)
				}
			}
		})
	}
}

func TestMergeRecordsAndDetail(t *testing.T) {
	cat := loadCatalog(t)
	tests := []struct {
		name          string
		sCreated      time.Time
		bCreated      time.Time
		wantCreatedAt time.Time
	}{
		{name: "absorbed created earlier", sCreated: at(5), bCreated: at(1), wantCreatedAt: at(1)},
		{name: "survivor created earlier", sCreated: at(1), bCreated: at(5), wantCreatedAt: at(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := mergePair()
			s.CreatedAt, b.CreatedAt = tt.sCreated, tt.bCreated
			s.Merges = []profile.MergeRef{{ID: "mg_0", Absorbed: "pr_x", At: at(0)}}
			s.Aliases = []string{"pr_x"}
			// Changed by the merge: marketing (later withdrawal), newsletter (only theirs),
			// loyalty_tier (trusted source), restriction. Unchanged: partners (survivor's
			// later grant), givenName (survivor's trusted source), an identity both hold.
			s.Consents["marketing"] = *consentAt(profile.Granted, 1)
			b.Consents["marketing"] = *consentAt(profile.Withdrawn, 2)
			s.Consents["partners"] = *consentAt(profile.Granted, 3)
			b.Consents["partners"] = *consentAt(profile.Denied, 2)
			b.Subscriptions["newsletter"] = *subAt(profile.Subscribed, 1, "email")
			val("gold", apiKey, 3).set(s, "loyalty_tier")
			val("silver", crm, 1).set(b, "loyalty_tier")
			val("Anna", portal, 1).set(s, profile.AttrGivenName)
			val("Ann", crm, 3).set(b, profile.AttrGivenName)
			b.Rights.Restricted = true
			b.Identities = append(b.Identities, s.Identities[0])
			prev := s.Clone()

			ch, d, old := mustMerge(t, cat, s, b)
			wantNew := profile.MergeDetail{
				MergeID: "mg_1", Absorbed: "pr_b", AbsorbedLedgerSeq: 7, AbsorbedLedgerHead: "head-b-7",
				Consents:      map[string]profile.Consent{"marketing": b.Consents["marketing"]},
				Subscriptions: map[string]profile.Subscription{"newsletter": b.Subscriptions["newsletter"]},
				Attributes:    map[string]any{"loyalty_tier": "silver"},
				Identities:    []profile.Identity{{Type: "customer_id", Value: "c-1"}},
				Rights:        &profile.Rights{Restricted: true},
			}
			wantOld := profile.MergeDetail{
				Consents:      map[string]profile.Consent{"marketing": prev.Consents["marketing"]},
				Subscriptions: map[string]profile.Subscription{},
				Attributes:    map[string]any{"loyalty_tier": "gold"},
				Rights:        &profile.Rights{},
			}
			if !reflect.DeepEqual(d, wantNew) {
				t.Errorf("detail =\n%+v\nwant\n%+v", d, wantNew)
			}
			if !reflect.DeepEqual(old, wantOld) {
				t.Errorf("old =\n%+v\nwant\n%+v", old, wantOld)
			}
			if _, err := json.Marshal(ch.New); err != nil {
				t.Errorf("detail does not marshal: %v", err)
			}
			wantMerges := []profile.MergeRef{{ID: "mg_0", Absorbed: "pr_x", At: at(0)}, {ID: "mg_1", Absorbed: "pr_b", At: at(24)}}
			if !reflect.DeepEqual(s.Merges, wantMerges) {
				t.Errorf("merges = %+v, want %+v", s.Merges, wantMerges)
			}
			if !s.CreatedAt.Equal(tt.wantCreatedAt) {
				t.Errorf("CreatedAt = %v, want %v", s.CreatedAt, tt.wantCreatedAt)
			}
			if s.Version != prev.Version || s.ID != "pr_s" {
				t.Errorf("merge changed id/version to %q/%d; sealing the change counts the version", s.ID, s.Version)
			}
		})
	}
}

// sameJSON reports whether a and b encode the same, so that a nil and an empty map (which
// a stored profile does not tell apart) compare equal.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// splitBase returns the survivor s0 and the absorbed b0 just before the merge at at(24),
// each with its own consents, subscriptions, attributes, rights, aliases and merges.
func splitBase(t *testing.T, cat *catalog.Catalog) (s0, b0 *profile.Profile) {
	t.Helper()
	s0 = profile.New("pr_s", at(0))
	s0.Identities = []profile.Identity{{Type: "email", Value: "anna@example.com"}}
	s0.IdentitySources = map[string]profile.Provenance{"email:anna@example.com": {Source: portal, At: at(0)}}
	s0.Consents["marketing"] = *consentAt(profile.Granted, 1)
	s0.Subscriptions["newsletter"] = *subAt(profile.Subscribed, 1, "email")
	val("Anna", portal, 1).set(s0, profile.AttrGivenName)
	val("PL", crm, 5).set(s0, profile.AttrCountry)
	// Both objected to analytics, the survivor later: the merge keeps the absorbed's time.
	s0.Rights.Objections = map[string]time.Time{"analytics": at(3)}
	s0.Aliases = []string{"pr_s_old"}
	s0.Merges = []profile.MergeRef{{ID: "mg_s", Absorbed: "pr_s_old", At: at(-2)}}
	s0.Version, s0.LedgerSeq, s0.LedgerHead = 9, 9, "head-s-9"

	b0 = profile.New("pr_b", at(-5))
	b0.Identities = []profile.Identity{{Type: "customer_id", Value: "c-1"}, {Type: "phone", Value: "+48600100200"}}
	b0.IdentitySources = map[string]profile.Provenance{"customer_id:c-1": {Source: crm, At: at(-5)}, "phone:+48600100200": {Source: crm, At: at(-4)}}
	b0.Consents["personalisation"] = *consentAt(profile.Granted, 2)
	b0.Consents["partners"] = *consentAt(profile.Withdrawn, 2)
	b0.Consents["marketing"] = *consentAt(profile.Denied, 0)
	b0.Subscriptions["offers"] = *subAt(profile.Subscribed, 2, "email", "sms")
	val("gold", portal, 2).set(b0, "loyalty_tier")
	val("DE", crm, 1).set(b0, profile.AttrCountry)
	b0.Rights.Objections = map[string]time.Time{"analytics": at(2)}
	b0.Rights.AutomatedDecisionOptOut = true
	b0.Aliases = []string{"pr_old"}
	b0.Merges = []profile.MergeRef{{ID: "mg_0", Absorbed: "pr_old", At: at(-1)}}
	b0.Version, b0.LedgerSeq, b0.LedgerHead = 4, 5, "head-b-5"
	return s0, b0
}

// TestSplit merges b0 into s0, makes the row's changes on the merged profile after the
// merge (each sealed, so counting the version), splits, and compares both sides with s0
// and b0 plus the row's expected differences.
func TestSplit(t *testing.T) {
	cat := loadCatalog(t)
	after := at(30) // the changes made since the merge
	withdraw := profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: 2}
	must := func(t *testing.T, m *profile.Profile, ch []profile.Change, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("change after the merge: %v", err)
		}
		m.Version += int64(len(ch))
	}
	tests := []struct {
		name string
		// prep changes the base before the merge.
		prep func(s0, b0 *profile.Profile)
		// since changes the merged profile after the merge.
		since func(t *testing.T, m *profile.Profile)
		// wantS and wantB turn s0 and b0 into the expected sides.
		wantS, wantB func(s, b *profile.Profile)
		conflict     bool
	}{
		{name: "nothing changed since"},
		{name: "a later grant stays with the survivor only",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetConsent(cat, "partners", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1}, portal, after)
				must(t, m, ch, err)
			},
			wantS: func(s, _ *profile.Profile) {
				exp := after.AddDate(0, 0, 365)
				s.Consents["partners"] = profile.Consent{Status: profile.Granted, LegalBasis: catalog.Consent, NoticeVersion: 1, Source: portal, UpdatedAt: after, ExpiresAt: &exp}
			}},
		{name: "a later withdrawal of the absorbed's consent applies to both",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetConsent(cat, "personalisation", withdraw, portal, after)
				must(t, m, ch, err)
			},
			wantS: func(s, b *profile.Profile) {
				c := profile.Consent{Status: profile.Withdrawn, LegalBasis: catalog.Consent, NoticeVersion: 2, Source: portal, UpdatedAt: after}
				s.Consents["personalisation"], b.Consents["personalisation"] = c, c
			}},
		{name: "a later withdrawal of the survivor's consent applies to both",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetConsent(cat, "marketing", withdraw, portal, after)
				must(t, m, ch, err)
			},
			wantS: func(s, b *profile.Profile) {
				c := profile.Consent{Status: profile.Withdrawn, LegalBasis: catalog.Consent, NoticeVersion: 2, Source: portal, UpdatedAt: after}
				s.Consents["marketing"], b.Consents["marketing"] = c, c
			}},
		{name: "a later unsubscribe applies to both, a later subscribe to the survivor only",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetSubscription(cat, "offers", profile.SubscriptionInput{Status: profile.Unsubscribed}, portal, after)
				must(t, m, ch, err)
				ch, err = m.SetSubscription(cat, "orders", profile.SubscriptionInput{Status: profile.Subscribed}, portal, after)
				must(t, m, ch, err)
			},
			wantS: func(s, b *profile.Profile) {
				u := profile.Subscription{Status: profile.Unsubscribed, Channels: []string{}, Source: portal, UpdatedAt: after}
				s.Subscriptions["offers"], b.Subscriptions["offers"] = u, u
				s.Subscriptions["orders"] = profile.Subscription{Status: profile.Subscribed, Channels: []string{"email", "sms"}, Source: portal, UpdatedAt: after}
			}},
		{name: "a later objection and restriction apply to both",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetRights(cat, profile.RightsInput{Restricted: ptr(true), Objections: map[string]bool{"marketing": true}}, after)
				must(t, m, ch, err)
			},
			wantS: func(s, b *profile.Profile) {
				s.Rights.Restricted, b.Rights.Restricted = true, true
				s.Rights.RestrictedAt, b.Rights.RestrictedAt = &after, &after
				s.Rights.Objections["marketing"], b.Rights.Objections["marketing"] = after, after
			}},
		{name: "a later automated-decision opt-out applies to both",
			prep: func(_, b0 *profile.Profile) { b0.Rights.AutomatedDecisionOptOut = false },
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetRights(cat, profile.RightsInput{AutomatedDecisionOptOut: ptr(true)}, after)
				must(t, m, ch, err)
			},
			wantS: func(s, b *profile.Profile) {
				s.Rights.AutomatedDecisionOptOut, b.Rights.AutomatedDecisionOptOut = true, true
				s.Rights.OptOutAt, b.Rights.OptOutAt = &after, &after
			}},
		// The opt-out and the restriction carry the time they last changed, so Split tells
		// one the absorbed held and the person lifted and set again since (on both) from one
		// never touched (the absorbed's only).
		{name: "an opt-out the absorbed held, lifted and set again since, applies to both",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetRights(cat, profile.RightsInput{AutomatedDecisionOptOut: ptr(false)}, after)
				must(t, m, ch, err)
				ch, err = m.SetRights(cat, profile.RightsInput{AutomatedDecisionOptOut: ptr(true)}, after.Add(time.Minute))
				must(t, m, ch, err)
			},
			wantS: func(s, b *profile.Profile) {
				again := after.Add(time.Minute)
				s.Rights.AutomatedDecisionOptOut, s.Rights.OptOutAt, b.Rights.OptOutAt = true, &again, &again
			}},
		{name: "a right of the absorbed's lifted since is lifted for the survivor only",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.SetRights(cat, profile.RightsInput{AutomatedDecisionOptOut: ptr(false), Objections: map[string]bool{"analytics": false}}, after)
				must(t, m, ch, err)
			},
			wantS: func(s, b *profile.Profile) { delete(s.Rights.Objections, "analytics"); s.Rights.OptOutAt = &after }},
		{name: "a later attribute change stays with the survivor",
			since: func(t *testing.T, m *profile.Profile) {
				must(t, m, m.SetAttributes(map[string]any{profile.AttrGivenName: "Anne", "loyalty_tier": nil}, apiKey, after), nil)
			},
			wantS: func(s, _ *profile.Profile) {
				val("Anne", apiKey, 30).set(s, profile.AttrGivenName)
				removed(apiKey, 30).set(s, "loyalty_tier")
			}},
		{name: "an identity added since stays with the survivor",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.AddIdentity(profile.Identity{Type: "loyalty_card", Value: "L-9"}, apiKey, after)
				must(t, m, ch, err)
			},
			wantS: func(s, _ *profile.Profile) {
				s.Identities = append(s.Identities, profile.Identity{Type: "loyalty_card", Value: "L-9"})
				s.IdentitySources["loyalty_card:L-9"] = profile.Provenance{Source: apiKey, At: after}
			}},
		{name: "an identity of the absorbed removed since stays removed",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.RemoveIdentity(profile.Identity{Type: "phone", Value: "+48600100200"})
				must(t, m, ch, err)
			},
			wantB: func(_, b *profile.Profile) {
				b.Identities = b.Identities[:1]
				delete(b.IdentitySources, "phone:+48600100200")
			}},
		{name: "the absorbed left without an identity is a conflict",
			since: func(t *testing.T, m *profile.Profile) {
				for _, id := range []profile.Identity{{Type: "customer_id", Value: "c-1"}, {Type: "phone", Value: "+48600100200"}} {
					ch, err := m.RemoveIdentity(id)
					must(t, m, ch, err)
				}
			},
			conflict: true},
		{name: "the survivor left without an identity is a conflict",
			since: func(t *testing.T, m *profile.Profile) {
				ch, err := m.RemoveIdentity(profile.Identity{Type: "email", Value: "anna@example.com"})
				must(t, m, ch, err)
			},
			conflict: true},
		{name: "a later merge stays with the survivor",
			since: func(t *testing.T, m *profile.Profile) {
				c := profile.New("pr_c", at(25))
				c.Identities = []profile.Identity{{Type: "email", Value: "c@example.com"}}
				if _, err := m.Merge(cat, c, "mg_2", after); err != nil {
					t.Fatalf("later merge: %v", err)
				}
				m.Version++
			},
			wantS: func(s, _ *profile.Profile) {
				s.Identities = append(s.Identities, profile.Identity{Type: "email", Value: "c@example.com"})
				s.Aliases = append(s.Aliases, "pr_c")
				s.Merges = append(s.Merges, profile.MergeRef{ID: "mg_2", Absorbed: "pr_c", At: after})
				s.ClosedChains = map[string]profile.ChainHead{"pr_c": {}}
			}},
		{name: "the absorbed's version above the merged one",
			prep: func(_, b0 *profile.Profile) { b0.Version = 50 }},
		{name: "many changes since: the restored version still passes the merged one",
			since: func(t *testing.T, m *profile.Profile) { m.Version += 40 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s0, b0 := splitBase(t, cat)
			if tt.prep != nil {
				tt.prep(s0, b0)
			}
			m := s0.Clone()
			if _, err := m.Merge(cat, b0, "mg_1", at(24)); err != nil {
				t.Fatalf("Merge: %v", err)
			}
			m.Version++ // the merge is sealed in the survivor's chain
			if tt.since != nil {
				tt.since(t, m)
			}
			i := slices.IndexFunc(m.Merges, func(r profile.MergeRef) bool { return r.ID == "mg_1" })
			if i < 0 {
				t.Fatalf("merges = %+v, want mg_1 among them", m.Merges)
			}
			ref := m.Merges[i]
			mergedVersion := m.Version
			restored, chB, chS, err := m.Split(ref, s0, b0, at(40))
			if tt.conflict {
				if e, ok := errs.As(err); !ok || e.Code != errs.Conflict {
					t.Fatalf("Split error = %v, want a Conflict", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			wantS, wantB := s0.Clone(), b0.Clone()
			wantS.Version = mergedVersion // Split leaves the survivor's version to the seal
			// Split sets the restored version to the higher of b0's and the merged
			// profile's, so that sealing the split (one more) passes every version the
			// absorbed id answered with while merged.
			wantB.Version, wantB.UpdatedAt = max(b0.Version, mergedVersion), at(40)
			if tt.wantS != nil {
				tt.wantS(wantS, wantB)
			}
			if tt.wantB != nil {
				tt.wantB(wantS, wantB)
			}
			if !sameJSON(m, wantS) {
				t.Errorf("survivor =\n%s\nwant\n%s", js(m), js(wantS))
			}
			if !sameJSON(restored, wantB) {
				t.Errorf("restored =\n%s\nwant\n%s", js(restored), js(wantB))
			}
			if sealed := restored.Version + 1; sealed <= mergedVersion || sealed <= b0.Version {
				t.Errorf("restored version once sealed = %d, want above the merged %d and b0's %d", sealed, mergedVersion, b0.Version)
			}
			for _, c := range []profile.Change{chB, chS} {
				if c.Type != profile.EventProfileSplit {
					t.Errorf("change type = %q, want %q", c.Type, profile.EventProfileSplit)
				}
			}
			if chB.Subject != "pr_b" || chS.Subject != "pr_s" {
				t.Errorf("change subjects = %q, %q, want pr_b, pr_s", chB.Subject, chS.Subject)
			}
		})
	}
}

func js(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// TestMergeNeverAllowsMore checks, for random pairs of profiles over the demo catalog's
// purposes, topics and channels, this invariant of Merge. Let M be the merge of b into s,
// checked at one instant, and let X be either side and Y the other. If M allows a check c
// (profile.Decide), then for each X:
//   - X's rights allow c: X is not restricted, did not object to c's purpose and, for a
//     purpose of automated decision, did not opt out (nothing of Y's can lift these);
//   - for a purpose whose basis is consent, X's consent record for it allows c, or Y's is
//     strictly later (or X has none);
//   - for a topic, X's subscription to it allows c's channel, or Y's is strictly later (or
//     X has none).
//
// That is: the merged profile never allows what a side's latest decision refused, unless
// the other side decided strictly later. Decision times come from a handful of instants,
// so that ties are frequent.
func TestMergeNeverAllowsMore(t *testing.T) {
	cat := loadCatalog(t)
	rng := rand.New(rand.NewPCG(1, 2))
	now := at(3)
	when := func() time.Time { return at(rng.IntN(4)) }
	random := func(id string) *profile.Profile {
		p := profile.New(id, at(0))
		p.Identities = []profile.Identity{{Type: "customer_id", Value: id}}
		for _, pur := range cat.Purposes {
			if pur.LegalBasis == catalog.Consent && rng.IntN(3) > 0 {
				c := profile.Consent{Status: []profile.ConsentStatus{profile.Granted, profile.Granted, profile.Denied, profile.Withdrawn}[rng.IntN(4)],
					LegalBasis: pur.LegalBasis, NoticeVersion: 1 + rng.IntN(pur.NoticeVersion), Source: portal, UpdatedAt: when()}
				if rng.IntN(3) == 0 {
					exp := now.Add(time.Duration(rng.IntN(3)-1) * time.Hour)
					c.ExpiresAt = &exp
				}
				p.Consents[pur.ID] = c
			}
			if pur.Objectable() && rng.IntN(5) == 0 {
				if p.Rights.Objections == nil {
					p.Rights.Objections = map[string]time.Time{}
				}
				p.Rights.Objections[pur.ID] = when()
			}
		}
		for _, top := range cat.Topics {
			if rng.IntN(3) == 0 {
				continue
			}
			s := profile.Subscription{Status: profile.Unsubscribed, Channels: []string{}, Source: portal, UpdatedAt: when()}
			if rng.IntN(3) > 0 {
				// As SetSubscription leaves it: at least one channel, in sorted order.
				s.Status = profile.Subscribed
				for _, ch := range top.Channels {
					if rng.IntN(2) == 0 {
						s.Channels = append(s.Channels, ch)
					}
				}
				if len(s.Channels) == 0 {
					s.Channels = []string{top.Channels[rng.IntN(len(top.Channels))]}
				}
				slices.Sort(s.Channels)
			}
			p.Subscriptions[top.ID] = s
		}
		p.Rights.Restricted = rng.IntN(10) == 0
		p.Rights.AutomatedDecisionOptOut = rng.IntN(4) == 0
		return p
	}
	var checks []profile.Check
	for _, pur := range cat.Purposes {
		checks = append(checks, profile.Check{Purpose: pur.ID})
	}
	for _, top := range cat.Topics {
		checks = append(checks, profile.Check{Purpose: top.Purpose, Topic: top.ID})
		for _, ch := range cat.Channels {
			checks = append(checks, profile.Check{Purpose: top.Purpose, Topic: top.ID, Channel: ch.ID})
		}
	}
	// rightsAllow is Decide on X's rights alone with a consent that allows c.
	rightsAllow := func(x *profile.Profile, c profile.Check) bool {
		probe := profile.New("probe", at(0))
		probe.Rights = x.Rights
		probe.Consents[c.Purpose] = profile.Consent{Status: profile.Granted, NoticeVersion: mustPurpose(t, cat, c.Purpose).NoticeVersion, UpdatedAt: at(0)}
		return profile.Decide(probe, cat, profile.Check{Purpose: c.Purpose}, now).Allowed
	}
	// consentAllows is Decide on X's consent record for c's purpose alone.
	consentAllows := func(x *profile.Profile, c profile.Check) bool {
		probe := profile.New("probe", at(0))
		if v, ok := x.Consents[c.Purpose]; ok {
			probe.Consents[c.Purpose] = v
		}
		return profile.Decide(probe, cat, profile.Check{Purpose: c.Purpose}, now).Allowed
	}
	// subscriptionAllows is Decide on X's subscription to c's topic, with M's consents
	// (which allow c when M does).
	subscriptionAllows := func(x, m *profile.Profile, c profile.Check) bool {
		probe := profile.New("probe", at(0))
		probe.Consents = m.Consents
		if v, ok := x.Subscriptions[c.Topic]; ok {
			probe.Subscriptions[c.Topic] = v
		}
		return profile.Decide(probe, cat, c, now).Allowed
	}
	laterConsent := func(y, x *profile.Profile, pur string) bool {
		cx, ok := x.Consents[pur]
		cy, oky := y.Consents[pur]
		return oky && (!ok || cy.UpdatedAt.After(cx.UpdatedAt))
	}
	laterSubscription := func(y, x *profile.Profile, top string) bool {
		sx, ok := x.Subscriptions[top]
		sy, oky := y.Subscriptions[top]
		return oky && (!ok || sy.UpdatedAt.After(sx.UpdatedAt))
	}
	const cases = 400
	allowedSeen := 0
	for i := range cases {
		s, b := random("pr_s"), random("pr_b")
		m := s.Clone()
		if _, err := m.Merge(cat, b, "mg_1", at(24)); err != nil {
			t.Fatalf("case %d: Merge: %v", i, err)
		}
		for _, c := range checks {
			if !profile.Decide(m, cat, c, now).Allowed {
				continue
			}
			allowedSeen++
			for _, side := range []struct {
				name string
				x, y *profile.Profile
			}{{"survivor", s, b}, {"absorbed", b, s}} {
				var broken string
				pur := mustPurpose(t, cat, c.Purpose)
				switch {
				case !rightsAllow(side.x, c):
					broken = "its rights"
				case pur.LegalBasis == catalog.Consent && !consentAllows(side.x, c) && !laterConsent(side.y, side.x, c.Purpose):
					broken = fmt.Sprintf("its consent %+v", side.x.Consents[c.Purpose])
				case c.Topic != "" && !subscriptionAllows(side.x, m, c) && !laterSubscription(side.y, side.x, c.Topic):
					broken = fmt.Sprintf("its subscription %+v", side.x.Subscriptions[c.Topic])
				}
				if broken != "" {
					t.Errorf("case %d: merged allows %+v though the %s refused it by %s, and the other side's decision is not later (%+v / %+v)",
						i, c, side.name, broken, side.y.Consents[c.Purpose], side.y.Subscriptions[c.Topic])
				}
			}
		}
	}
	// The invariant is vacuous unless merged profiles do allow things.
	if allowedSeen < cases {
		t.Fatalf("only %d allowed checks over %d cases; the generator no longer exercises the rule", allowedSeen, cases)
	}
}

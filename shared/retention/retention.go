// Package retention decides what of a profile is past its retention (storage limitation,
// Art. 5(1)(e)) and how it ends: a purpose's data - its consent, its topics' subscriptions
// and the attributes collected only for purposes past retention - is erased, with the
// values its ledger events held; a profile nobody acted on for the tenant's limit is
// erased like an erasure request or anonymised, as the catalog says.
//
// Retention runs from two clocks: a purpose based on consent keeps its data for
// Purpose.RetentionDays after the consent ended (withdrawn, refused or expired); any other
// purpose, and the profile as a whole, for their days after the profile's last activity
// (profile.Profile.ActiveAt). The store keeps one marker per clock and profile on an index
// (ActivityClock, ConsentClock), so the retention job finds what is due without a scan.
package retention

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Actor is who retention's changes name.
var Actor = ledger.Actor{Kind: ledger.ActorSystem, ID: "retention"}

// Ledger event types of retention. retention.erased has Subject = the purpose and New =
// Erased (names, never values); profile.anonymised has New = Anonymised.
const (
	EventErased     = "retention.erased"
	EventAnonymised = "profile.anonymised"
)

// ActivityClock names the marker of a profile's last activity.
const ActivityClock = "ACT"

// ConsentClock names the marker of when the consent for purpose ended.
func ConsentClock(purpose string) string { return "END#" + purpose }

// ConsentEnd is when consent c stopped holding (refused or withdrawn: when it was recorded)
// or will stop (its expiry); nil while it holds without an end.
func ConsentEnd(c profile.Consent) *time.Time {
	if c.Status != profile.Granted {
		t := c.UpdatedAt
		return &t
	}
	if c.ExpiresAt != nil {
		t := *c.ExpiresAt
		return &t
	}
	return nil
}

// ActiveAt is when the profile was last changed by the person or the brand; a profile from
// before that was recorded counts from its last change.
func ActiveAt(p *profile.Profile) time.Time {
	if !p.ActiveAt.IsZero() {
		return p.ActiveAt
	}
	return p.UpdatedAt
}

// Plan is what is past retention on one profile at one time.
type Plan struct {
	// Purposes hold the data of each purpose past its retention.
	Purposes []Erased `json:"purposes,omitempty"`
	// Inactive says the whole profile is past the tenant's limit, and Action is what
	// happens to it (catalog.Erase or catalog.Anonymise).
	Inactive bool   `json:"inactive,omitempty"`
	Action   string `json:"action,omitempty"`
}

// Empty reports whether nothing is due.
func (pl Plan) Empty() bool { return len(pl.Purposes) == 0 && !pl.Inactive }

// Erased is the data of one purpose that retention erases: names, never values. It is the
// New of a retention.erased event.
type Erased struct {
	Purpose    string   `json:"purpose"`
	Days       int      `json:"retentionDays"`
	Attributes []string `json:"attributes,omitempty"`
	Topics     []string `json:"topics,omitempty"`
	Consent    bool     `json:"consent,omitempty"`
}

// Anonymised is the New of a profile.anonymised event: how much was removed.
type Anonymised struct {
	Identities int `json:"identities"`
	Attributes int `json:"attributes"`
	Days       int `json:"inactiveDays"`
}

// Due is what of p is past retention under cat at now.
func Due(cat *catalog.Catalog, p *profile.Profile, now time.Time) Plan {
	var pl Plan
	active := ActiveAt(p)
	if d := cat.Retention.InactiveDays; d > 0 && !active.AddDate(0, 0, d).After(now) {
		if cat.Retention.Action() == catalog.Erase || p.AnonymisedAt == nil {
			pl.Inactive, pl.Action = true, cat.Retention.Action()
		}
	}
	if pl.Inactive {
		return pl // the whole profile ends; its purposes with it
	}
	past := map[string]bool{}
	for _, pur := range cat.Purposes {
		past[pur.ID] = pastRetention(pur, p, active, now)
	}
	for _, pur := range cat.Purposes {
		if !past[pur.ID] {
			continue
		}
		e := Erased{Purpose: pur.ID, Days: pur.RetentionDays}
		attrs, topics := cat.PurposeData(pur.ID)
		for _, name := range attrs {
			a, _ := cat.Attribute(name)
			if _, held := p.Attributes[name]; held && !slices.ContainsFunc(a.Purposes, func(id string) bool { return !past[id] }) {
				e.Attributes = append(e.Attributes, name)
			}
		}
		for _, t := range topics {
			if _, held := p.Subscriptions[t]; held {
				e.Topics = append(e.Topics, t)
			}
		}
		_, e.Consent = p.Consents[pur.ID]
		if len(e.Attributes) > 0 || len(e.Topics) > 0 || e.Consent {
			pl.Purposes = append(pl.Purposes, e)
		}
	}
	return pl
}

// pastRetention reports whether purpose's retention on p ended by now.
func pastRetention(pur catalog.Purpose, p *profile.Profile, active, now time.Time) bool {
	if pur.RetentionDays <= 0 {
		return false // kept while the relationship lasts
	}
	from := active
	if pur.LegalBasis == catalog.Consent {
		if c, ok := p.Consents[pur.ID]; ok {
			end := ConsentEnd(c)
			if end == nil {
				return false
			}
			from = *end
		}
	}
	return !from.AddDate(0, 0, pur.RetentionDays).After(now)
}

// Apply removes what the plan erases from p (a copy the caller commits) and returns the
// ledger changes to record. An inactive profile to erase is not changed here: it ends by
// an erasure request.
func (pl Plan) Apply(p *profile.Profile, days int, now time.Time) (changes []profile.Change, removed []profile.Identity) {
	if pl.Inactive {
		if pl.Action != catalog.Anonymise {
			return nil, nil
		}
		a := Anonymised{Identities: len(p.Identities), Attributes: len(p.Attributes), Days: days}
		removed = p.Identities
		p.Identities, p.Attributes = []profile.Identity{}, map[string]any{}
		p.AttributeSources, p.IdentitySources = nil, nil
		at := now
		p.AnonymisedAt = &at
		return []profile.Change{{Type: EventAnonymised, New: a}}, removed
	}
	for _, e := range pl.Purposes {
		for _, name := range e.Attributes {
			delete(p.Attributes, name)
			delete(p.AttributeSources, name)
		}
		for _, t := range e.Topics {
			delete(p.Subscriptions, t)
		}
		if e.Consent {
			delete(p.Consents, e.Purpose)
		}
		changes = append(changes, profile.Change{Type: EventErased, Subject: e.Purpose, New: e})
	}
	return changes, nil
}

// Redacts reports whether ledger event e holds a value the plan erases: for an anonymised
// profile every value; for a purpose, its consent changes, its topics' subscription changes,
// and any event whose values name an erased attribute.
func (pl Plan) Redacts(e ledger.Event) bool {
	if pl.Inactive {
		return pl.Action == catalog.Anonymise
	}
	names := map[string]bool{}
	for _, p := range pl.Purposes {
		switch {
		case e.Type == profile.EventConsentChanged && e.Subject == p.Purpose,
			e.Type == profile.EventSubscriptionChanged && slices.Contains(p.Topics, e.Subject):
			return true
		}
		for _, a := range p.Attributes {
			names[a] = true
		}
	}
	return len(names) > 0 && (names[e.Subject] || namesAny(e.Old, names) || namesAny(e.New, names))
}

// namesAny reports whether the JSON value raw has, at any depth, an object key in names.
func namesAny(raw json.RawMessage, names map[string]bool) bool {
	if len(raw) == 0 {
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return true // unreadable: redact rather than keep a value that may be one
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if names[k] || walk(x[k]) {
					return true
				}
			}
		case []any:
			return slices.ContainsFunc(x, walk)
		}
		return false
	}
	return walk(v)
}

// Mark is one retention marker as the index lists it: the profile and the clock's time.
// Key is its position in the index, where a run resumes.
type Mark struct {
	ProfileID string
	At        time.Time
	Key       string
}

// State is a tenant's progress through the markers: per rule and shard, the Key of the
// last marker an enforced run finished with. Markers only move later (a profile acted on
// again moves to its new time), so nothing before a watermark is due again under the
// same rule.
type State struct {
	Watermarks map[string]string `json:"watermarks"`
}

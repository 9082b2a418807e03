// Package profile is the living profile: one person's identities, attributes, consents,
// subscriptions and GDPR rights state, the rules that change them, and the consent check.
// It imports no AWS package; every change it makes is reported as a Change for the ledger.
package profile

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// ConsentStatus is the state of a consent.
type ConsentStatus string

// The consent states.
const (
	Granted   ConsentStatus = "granted"
	Denied    ConsentStatus = "denied"
	Withdrawn ConsentStatus = "withdrawn"
)

// Consent is the person's answer for one purpose.
type Consent struct {
	Status        ConsentStatus      `json:"status"`
	LegalBasis    catalog.LegalBasis `json:"legalBasis"`
	NoticeVersion int                `json:"noticeVersion"`
	Locale        string             `json:"locale,omitempty"`
	Source        ledger.Actor       `json:"source"`
	UpdatedAt     time.Time          `json:"updatedAt"`
	ExpiresAt     *time.Time         `json:"expiresAt,omitempty"`
	// Method is how the answer was captured, when the writer said (consent evidence).
	Method string `json:"method,omitempty"`
}

// SubscriptionStatus is the state of a subscription.
type SubscriptionStatus string

// The subscription states.
const (
	Subscribed   SubscriptionStatus = "subscribed"
	Unsubscribed SubscriptionStatus = "unsubscribed"
)

// Subscription is the person's choice for one topic.
type Subscription struct {
	Status    SubscriptionStatus `json:"status"`
	Channels  []string           `json:"channels"`
	Frequency string             `json:"frequency,omitempty"`
	Source    ledger.Actor       `json:"source"`
	UpdatedAt time.Time          `json:"updatedAt"`
}

// Rights is the Art. 18, 21 and 22 state.
type Rights struct {
	// Restricted is Art. 18: data is kept but not processed; every check answers no.
	Restricted bool `json:"restricted"`
	// Objections maps purpose ids to when the person objected (Art. 21).
	Objections map[string]time.Time `json:"objections,omitempty"`
	// AutomatedDecisionOptOut is Art. 22: purposes marked automated decision answer no.
	AutomatedDecisionOptOut bool `json:"automatedDecisionOptOut"`
	// RestrictedAt and OptOutAt are when Restricted and AutomatedDecisionOptOut last
	// changed (absent before they first did), so that a split can tell a change made since
	// a merge from the state either side brought.
	RestrictedAt *time.Time `json:"restrictedAt,omitempty"`
	OptOutAt     *time.Time `json:"automatedDecisionOptOutAt,omitempty"`
}

// Profile is one living profile. Version increases by one with every committed change.
type Profile struct {
	ID            string                  `json:"id"`
	Version       int64                   `json:"version"`
	CreatedAt     time.Time               `json:"createdAt"`
	UpdatedAt     time.Time               `json:"updatedAt"`
	Identities    []Identity              `json:"identities"`
	Attributes    map[string]any          `json:"attributes"`
	Consents      map[string]Consent      `json:"consents"`
	Subscriptions map[string]Subscription `json:"subscriptions"`
	Rights        Rights                  `json:"rights"`
	LedgerSeq     int64                   `json:"ledgerSeq"`
	LedgerHead    string                  `json:"ledgerHead"`
	// ActiveAt is when the person or the brand's systems last changed the profile; the
	// product's own changes (expiry, jobs, retention) do not count. Retention runs from it.
	ActiveAt time.Time `json:"activeAt,omitzero"`
	// AnonymisedAt is when retention anonymised the profile: it holds no identity and no
	// attribute any more, and its ledger no values.
	AnonymisedAt *time.Time `json:"anonymisedAt,omitempty"`

	// AttributeTimes maps an attribute name to when its value was last set or removed, in
	// the writer's time frame (server time for API writes, the source's time for sync), so
	// that an older change never overwrites a newer one. A removed attribute keeps its time.
	AttributeTimes map[string]time.Time `json:"attributeTimes,omitempty"`
	// AttributeSources maps an attribute name to who last set or removed it (provenance).
	AttributeSources map[string]ledger.Actor `json:"attributeSources,omitempty"`
	// IdentitySources maps an identity, as Identity.String, to who attached it and when.
	// An identity attached before provenance was recorded has no entry.
	IdentitySources map[string]Provenance `json:"identitySources,omitempty"`

	// Aliases are the ids of the profiles merged into this one, directly or through an
	// earlier merge. Each alias's profile item carries a copy of this profile, so a read or
	// a consent check by an absorbed id is still one GetItem.
	Aliases []string `json:"aliases,omitempty"`
	// ClosedChains maps each alias to where its own ledger chain ends (its closing event),
	// so that the absorbed history stays verifiable by its id.
	ClosedChains map[string]ChainHead `json:"closedChains,omitempty"`
	// Merges records each merge this profile absorbed, so a split can undo it.
	Merges []MergeRef `json:"merges,omitempty"`
}

// ChainHead is the last event of a ledger chain.
type ChainHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Provenance is who set a value, and when.
type Provenance struct {
	Source ledger.Actor `json:"source"`
	At     time.Time    `json:"at"`
}

// SourceName is the name a catalog's source priority gives the writer a: a sync source by
// its id, and "api", "portal" or "system" for the other kinds of writer.
func SourceName(a ledger.Actor) string {
	switch a.Kind {
	case ledger.ActorSync:
		return a.ID
	case ledger.ActorAPIKey:
		return "api"
	}
	return a.Kind
}

// New returns an empty profile.
func New(id string, now time.Time) *Profile {
	return &Profile{
		ID: id, CreatedAt: now, UpdatedAt: now,
		Identities: []Identity{}, Attributes: map[string]any{},
		Consents: map[string]Consent{}, Subscriptions: map[string]Subscription{},
	}
}

// Clone returns a deep copy, so a failed attempt never leaks into a retry.
func (p *Profile) Clone() *Profile {
	c := *p
	c.Identities = slices.Clone(p.Identities)
	c.Attributes = maps.Clone(p.Attributes)
	c.AttributeTimes = maps.Clone(p.AttributeTimes)
	c.AttributeSources = maps.Clone(p.AttributeSources)
	c.IdentitySources = maps.Clone(p.IdentitySources)
	c.Aliases = slices.Clone(p.Aliases)
	c.ClosedChains = maps.Clone(p.ClosedChains)
	c.Merges = slices.Clone(p.Merges)
	c.Consents = maps.Clone(p.Consents)
	c.Subscriptions = maps.Clone(p.Subscriptions)
	c.Rights.Objections = maps.Clone(p.Rights.Objections)
	return &c
}

// HasIdentity reports whether the profile holds id.
func (p *Profile) HasIdentity(id Identity) bool { return slices.Contains(p.Identities, id) }

// Change is one ledger-worthy change made to a profile.
type Change struct {
	Type          string // event type, e.g. "consent.changed"
	Subject       string
	NoticeVersion int
	LegalBasis    string
	Old, New      any
}

// Event types recorded in the ledger.
const (
	EventProfileCreated      = "profile.created"
	EventProfileUpdated      = "profile.updated"
	EventIdentityAdded       = "identity.added"
	EventIdentityRemoved     = "identity.removed"
	EventConsentChanged      = "consent.changed"
	EventSubscriptionChanged = "subscription.changed"
	EventRestrictionChanged  = "restriction.changed"
	EventObjectionChanged    = "objection.changed"
	EventAutomatedDecision   = "automated_decision.changed"
)

// Events turns changes into unsealed ledger events.
func Events(changes []Change, at time.Time, actor ledger.Actor, requestID string) []ledger.Event {
	out := make([]ledger.Event, 0, len(changes))
	for _, c := range changes {
		out = append(out, ledger.Event{
			Type: c.Type, At: at, Actor: actor, RequestID: requestID, Subject: c.Subject,
			NoticeVersion: c.NoticeVersion, LegalBasis: c.LegalBasis, Old: raw(c.Old), New: raw(c.New),
		})
	}
	return out
}

func raw(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("profile: change value does not marshal: %v", err))
	}
	return b
}

// Standard attributes every tenant has; custom ones come from the catalog.
const (
	AttrGivenName  = "givenName"
	AttrFamilyName = "familyName"
	AttrLocale     = "locale"
	AttrCountry    = "country"
)

var (
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	dateRE    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// ValidateAttribute checks one attribute value (nil removes it) and returns the value to
// store, or a reason it is invalid.
func ValidateAttribute(cat *catalog.Catalog, name string, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	text := func(max int) (any, string) {
		s, ok := v.(string)
		if !ok {
			return nil, "must be a string"
		}
		s = strings.TrimSpace(s)
		if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			return nil, "must be printable text"
		}
		if utf8.RuneCountInString(s) > max {
			return nil, fmt.Sprintf("must be at most %d characters", max)
		}
		return s, ""
	}
	switch name {
	case AttrGivenName, AttrFamilyName:
		return text(100)
	case AttrLocale:
		s, ok := v.(string)
		if !ok || !catalog.ValidLocale(s) {
			return nil, "must be a language code such as en or pl"
		}
		return s, ""
	case AttrCountry:
		s, ok := v.(string)
		if !ok || !countryRE.MatchString(s) {
			return nil, "must be an ISO 3166-1 alpha-2 code such as PL"
		}
		return s, ""
	}
	a, ok := cat.Attribute(name)
	if !ok {
		return nil, "is not an attribute declared in the catalog"
	}
	switch a.Type {
	case catalog.String:
		max := a.MaxLength
		if max == 0 {
			max = 1000
		}
		return text(max)
	case catalog.Number:
		if f, ok := v.(float64); ok {
			return f, ""
		}
		return nil, "must be a number"
	case catalog.Boolean:
		if b, ok := v.(bool); ok {
			return b, ""
		}
		return nil, "must be true or false"
	case catalog.Date:
		s, ok := v.(string)
		if ok && dateRE.MatchString(s) {
			if _, err := time.Parse(time.DateOnly, s); err == nil {
				return s, ""
			}
		}
		return nil, "must be a date such as 2024-05-31"
	}
	return nil, "has an unknown type"
}

// SetAttributes applies a merge patch of attributes (nil removes) and reports the change.
// Every attribute it changes gets at as its time in AttributeTimes and src as its source in
// AttributeSources. The caller has validated every value with ValidateAttribute.
func (p *Profile) SetAttributes(patch map[string]any, src ledger.Actor, at time.Time) []Change {
	old := map[string]any{}
	changed := map[string]any{}
	for k, v := range patch {
		cur, had := p.Attributes[k]
		if (v == nil && !had) || (v != nil && had && cur == v) {
			continue
		}
		old[k] = cur
		changed[k] = v
		if p.AttributeTimes == nil {
			p.AttributeTimes = map[string]time.Time{}
		}
		p.AttributeTimes[k] = at
		if p.AttributeSources == nil {
			p.AttributeSources = map[string]ledger.Actor{}
		}
		p.AttributeSources[k] = src
		if v == nil {
			delete(p.Attributes, k)
		} else {
			p.Attributes[k] = v
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return []Change{{Type: EventProfileUpdated, Subject: "attributes", Old: old, New: changed}}
}

// AddIdentity attaches id, recording src and at as its provenance, if the profile does not
// hold it yet.
func (p *Profile) AddIdentity(id Identity, src ledger.Actor, at time.Time) ([]Change, error) {
	if p.HasIdentity(id) {
		return nil, nil
	}
	if len(p.Identities) >= MaxIdentities {
		return nil, errs.Field("identities", fmt.Sprintf("a profile holds at most %d identities", MaxIdentities))
	}
	p.Identities = append(p.Identities, id)
	if p.IdentitySources == nil {
		p.IdentitySources = map[string]Provenance{}
	}
	p.IdentitySources[id.String()] = Provenance{Source: src, At: at}
	return []Change{{Type: EventIdentityAdded, Subject: id.Type, New: id}}, nil
}

// RemoveIdentity detaches id. A profile keeps at least one identity.
func (p *Profile) RemoveIdentity(id Identity) ([]Change, error) {
	i := slices.Index(p.Identities, id)
	if i < 0 {
		return nil, nil
	}
	if len(p.Identities) == 1 {
		return nil, errs.E(errs.Conflict, "a profile must keep at least one identity")
	}
	p.Identities = slices.Delete(p.Identities, i, i+1)
	delete(p.IdentitySources, id.String())
	return []Change{{Type: EventIdentityRemoved, Subject: id.Type, Old: id}}, nil
}

// ConsentInput is a requested consent change.
type ConsentInput struct {
	Status        ConsentStatus
	NoticeVersion int
	Locale        string
	ExpiresAt     *time.Time
	// Method is how the answer was captured (one of ConsentMethods); empty when not said.
	Method string
}

// ConsentMethods are the ways a consent answer can have been captured.
var ConsentMethods = []string{"double_opt_in", "single_opt_in", "written", "verbal"}

// Check refuses an answer that breaks the API's document whatever the catalog holds: an
// unknown status, a notice version below 1, a locale that is no language code.
func (in ConsentInput) Check() error {
	var f errs.Fields
	switch in.Status {
	case Granted, Denied, Withdrawn:
	default:
		f.Add("status", "must be granted, denied or withdrawn")
	}
	if in.NoticeVersion < 1 {
		f.Add("noticeVersion", "must be at least 1")
	}
	if in.Locale != "" && !catalog.ValidLocale(in.Locale) {
		f.Add("locale", "must be a language code such as en or pl")
	}
	if in.Method != "" && !slices.Contains(ConsentMethods, in.Method) {
		f.Add("method", "must be one of "+strings.Join(ConsentMethods, ", "))
	}
	return f.Err()
}

// SetConsent records the person's answer for a purpose whose legal basis is consent.
func (p *Profile) SetConsent(cat *catalog.Catalog, purposeID string, in ConsentInput, actor ledger.Actor, now time.Time) ([]Change, error) {
	// The input's own shape first: a malformed answer is refused as such, purpose or not.
	var f errs.Fields
	f.Join(in.Check())
	pur, ok := cat.Purpose(purposeID)
	if !ok {
		if err := f.Err(); err != nil {
			return nil, err
		}
		return nil, errs.E(errs.NotFound, "no such purpose in the catalog", errs.FieldError{Field: "purpose", Reason: "unknown purpose"})
	}
	if pur.LegalBasis != catalog.Consent {
		f.Unmet("purpose", fmt.Sprintf("the legal basis of this purpose is %s, not consent; record an objection instead", pur.LegalBasis))
	}
	if in.NoticeVersion > pur.NoticeVersion {
		f.Unmet("noticeVersion", fmt.Sprintf("must be the notice version shown, 1 to %d", pur.NoticeVersion))
	}
	if in.Locale != "" && !cat.SupportsLocale(in.Locale) {
		f.Unmet("locale", "must be one of the catalog's locales")
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		f.Unmet("expiresAt", "must be in the future")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if in.ExpiresAt == nil && in.Status == Granted && pur.DefaultConsentDays > 0 {
		exp := now.AddDate(0, 0, pur.DefaultConsentDays)
		in.ExpiresAt = &exp
	}
	old, had := p.Consents[purposeID]
	if had && old.Status == in.Status && old.NoticeVersion == in.NoticeVersion && old.Locale == in.Locale &&
		old.Method == in.Method && equalTime(old.ExpiresAt, in.ExpiresAt) {
		return nil, nil
	}
	c := Consent{
		Status: in.Status, LegalBasis: pur.LegalBasis, NoticeVersion: in.NoticeVersion, Locale: in.Locale,
		Source: actor, UpdatedAt: now, ExpiresAt: in.ExpiresAt, Method: in.Method,
	}
	p.Consents[purposeID] = c
	var oldv any
	if had {
		oldv = old
	}
	return []Change{{Type: EventConsentChanged, Subject: purposeID, NoticeVersion: in.NoticeVersion, LegalBasis: string(pur.LegalBasis), Old: oldv, New: c}}, nil
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// SubscriptionInput is a requested subscription change.
type SubscriptionInput struct {
	Status    SubscriptionStatus
	Channels  []string // empty with Subscribed means every channel of the topic
	Frequency string
}

// Check refuses a choice that breaks the API's document whatever the catalog holds: a status
// other than subscribed or unsubscribed, a channel named twice.
func (in SubscriptionInput) Check() error {
	var f errs.Fields
	switch in.Status {
	case Subscribed, Unsubscribed:
	default:
		f.Add("status", "must be subscribed or unsubscribed")
	}
	chans := slices.Clone(in.Channels)
	slices.Sort(chans)
	if len(slices.Compact(slices.Clone(chans))) != len(chans) {
		f.Add("channels", "must not repeat a channel")
	}
	return f.Err()
}

// SetSubscription records the person's choice for a topic.
func (p *Profile) SetSubscription(cat *catalog.Catalog, topicID string, in SubscriptionInput, actor ledger.Actor, now time.Time) ([]Change, error) {
	// The input's own shape first: a malformed choice is refused as such, topic or not.
	var f errs.Fields
	f.Join(in.Check())
	t, ok := cat.Topic(topicID)
	if !ok {
		if err := f.Err(); err != nil {
			return nil, err
		}
		return nil, errs.E(errs.NotFound, "no such topic in the catalog", errs.FieldError{Field: "topic", Reason: "unknown topic"})
	}
	for i, ch := range in.Channels {
		if !slices.Contains(t.Channels, ch) {
			f.Unmet(fmt.Sprintf("channels[%d]", i), "is not a channel of this topic")
		}
	}
	freq := in.Frequency
	switch {
	case freq != "" && !slices.Contains(t.Frequencies, freq):
		f.Unmet("frequency", "is not a frequency of this topic")
	case freq == "" && len(t.Frequencies) > 0 && in.Status == Subscribed:
		freq = t.Frequencies[0]
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	chans := slices.Sorted(slices.Values(in.Channels))
	if in.Status == Subscribed && len(chans) == 0 {
		chans = slices.Sorted(slices.Values(t.Channels))
	}
	if in.Status == Unsubscribed {
		chans, freq = []string{}, ""
	}
	old, had := p.Subscriptions[topicID]
	if had && old.Status == in.Status && slices.Equal(old.Channels, chans) && old.Frequency == freq {
		return nil, nil
	}
	s := Subscription{Status: in.Status, Channels: chans, Frequency: freq, Source: actor, UpdatedAt: now}
	p.Subscriptions[topicID] = s
	var oldv any
	if had {
		oldv = old
	}
	return []Change{{Type: EventSubscriptionChanged, Subject: topicID, Old: oldv, New: s}}, nil
}

// RightsInput is a partial change of the Art. 18/21/22 state; nil fields stay as they are.
type RightsInput struct {
	Restricted              *bool
	AutomatedDecisionOptOut *bool
	Objections              map[string]bool // purpose -> object (true) or lift (false)
}

// SetRights applies a change of the Art. 18/21/22 state.
func (p *Profile) SetRights(cat *catalog.Catalog, in RightsInput, now time.Time) ([]Change, error) {
	var f errs.Fields
	if len(in.Objections) > 20 {
		f.Add("rights.objections", "at most 20 objections per request")
	}
	for _, id := range slices.Sorted(maps.Keys(in.Objections)) {
		if _, ok := cat.Purpose(id); !ok {
			f.Unmet("rights.objections."+id, "unknown purpose")
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var out []Change
	if in.Restricted != nil && *in.Restricted != p.Rights.Restricted {
		out = append(out, Change{Type: EventRestrictionChanged, Old: p.Rights.Restricted, New: *in.Restricted})
		p.Rights.Restricted, p.Rights.RestrictedAt = *in.Restricted, &now
	}
	if in.AutomatedDecisionOptOut != nil && *in.AutomatedDecisionOptOut != p.Rights.AutomatedDecisionOptOut {
		out = append(out, Change{Type: EventAutomatedDecision, Old: p.Rights.AutomatedDecisionOptOut, New: *in.AutomatedDecisionOptOut})
		p.Rights.AutomatedDecisionOptOut, p.Rights.OptOutAt = *in.AutomatedDecisionOptOut, &now
	}
	for _, id := range slices.Sorted(maps.Keys(in.Objections)) {
		_, had := p.Rights.Objections[id]
		want := in.Objections[id]
		if had == want {
			continue
		}
		if want {
			if p.Rights.Objections == nil {
				p.Rights.Objections = map[string]time.Time{}
			}
			p.Rights.Objections[id] = now
		} else {
			delete(p.Rights.Objections, id)
		}
		out = append(out, Change{Type: EventObjectionChanged, Subject: id, Old: had, New: want})
	}
	return out, nil
}

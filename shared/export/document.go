package export

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// SchemaVersion is the version of profile.json's format, described by
// docs/export.schema.json. It changes only with an incompatible change of the format.
const SchemaVersion = "1.0"

// The shapes below are profile.json's sections; docs/export.schema.json describes them.

// Controller is who holds the data: the tenant (Art. 15 is answered by the controller).
type Controller struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Recipient is a system the person's data is disclosed to: a registered webhook endpoint,
// named by its description and host only (never its path, query or secrets).
type Recipient struct {
	Description string `json:"description,omitempty"`
	Host        string `json:"host"`
}

// RecipientsOf turns a tenant's webhook endpoints into recipients, de-duplicated and sorted.
func RecipientsOf(eps []webhook.Endpoint) []Recipient {
	out := []Recipient{}
	for _, ep := range eps {
		u, err := url.Parse(ep.URL)
		if err != nil || u.Hostname() == "" {
			continue
		}
		r := Recipient{Description: strings.TrimSpace(ep.Description), Host: strings.ToLower(u.Hostname())}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Recipient) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Description, b.Description))
	})
	return out
}

type docRequest struct {
	ID         string    `json:"id"`
	Type       dsr.Type  `json:"type"`
	ReceivedAt time.Time `json:"receivedAt"`
}

type docSubject struct {
	ProfileID string    `json:"profileId"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Version   int64     `json:"version"`
}

type docConsent struct {
	Purpose       string                `json:"purpose"`
	Status        profile.ConsentStatus `json:"status"`
	LegalBasis    catalog.LegalBasis    `json:"legalBasis"`
	NoticeVersion int                   `json:"noticeVersion"`
	Locale        string                `json:"locale,omitempty"`
	Source        ledger.Actor          `json:"source"`
	UpdatedAt     time.Time             `json:"updatedAt"`
	ExpiresAt     *time.Time            `json:"expiresAt,omitempty"`
	Method        string                `json:"method,omitempty"`
}

type docSubscription struct {
	Topic     string                     `json:"topic"`
	Status    profile.SubscriptionStatus `json:"status"`
	Channels  []string                   `json:"channels"`
	Frequency string                     `json:"frequency,omitempty"`
	Source    ledger.Actor               `json:"source"`
	UpdatedAt time.Time                  `json:"updatedAt"`
}

type docObjection struct {
	Purpose string    `json:"purpose"`
	At      time.Time `json:"at"`
}

type docRights struct {
	Restricted              bool           `json:"restricted"`
	AutomatedDecisionOptOut bool           `json:"automatedDecisionOptOut"`
	Objections              []docObjection `json:"objections"`
}

type docExtension struct {
	Months int       `json:"months"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

type docDSR struct {
	ID           string           `json:"id"`
	Type         dsr.Type         `json:"type"`
	Purpose      string           `json:"purpose,omitempty"`
	Status       dsr.Status       `json:"status"`
	Verification dsr.Verification `json:"verification"`
	Source       ledger.Actor     `json:"source"`
	ReceivedAt   time.Time        `json:"receivedAt"`
	DueAt        time.Time        `json:"dueAt"`
	CompletedAt  *time.Time       `json:"completedAt,omitempty"`
	Extension    *docExtension    `json:"extension,omitempty"`
	DenialReason string           `json:"denialReason,omitempty"`
}

// Verification is the result of checking the ledger's hash chain over every exported event.
type Verification struct {
	// Verified says every event chains to its predecessor, the sequence numbers run from 1
	// without gaps, and the last event is the head the profile records.
	Verified bool `json:"verified"`
	// BrokenAtSeq, when not verified, is the first sequence number that does not verify
	// (0 when the events verify but end before the recorded head).
	BrokenAtSeq int64 `json:"brokenAtSeq,omitempty"`
	// Count is how many events were exported; Head is the last one's hash.
	Count int64  `json:"count"`
	Head  string `json:"head"`
}

type docPurpose struct {
	ID                string             `json:"id"`
	Name              string             `json:"name"`
	Description       string             `json:"description,omitempty"`
	LegalBasis        catalog.LegalBasis `json:"legalBasis"`
	RetentionDays     int                `json:"retentionDays"` // 0: while the relationship lasts
	DirectMarketing   bool               `json:"directMarketing"`
	AutomatedDecision bool               `json:"automatedDecision"`
	Notice            string             `json:"notice"`
	NoticeVersion     int                `json:"noticeVersion"`
}

// Source is who or what supplied or changed the person's data (Art. 15(1)(g)): one
// distinct ledger actor, with how many events it recorded and when.
type Source struct {
	Kind    string    `json:"kind"`
	ID      string    `json:"id,omitempty"`
	Name    string    `json:"name,omitempty"`
	Events  int64     `json:"events"`
	FirstAt time.Time `json:"firstAt"`
	LastAt  time.Time `json:"lastAt"`
}

type docArt15 struct {
	Purposes             []docPurpose   `json:"purposes"`
	Categories           []string       `json:"categories"`
	DataCategories       []DataCategory `json:"dataCategories"`
	Recipients           []Recipient    `json:"recipients"`
	Sources              []Source       `json:"sources"`
	AutomatedDecisions   []string       `json:"automatedDecisionPurposes"`
	Rights               []string       `json:"rights"`
	SupervisoryAuthority string         `json:"supervisoryAuthority"`
}

// categories lists the categories of personal data the export holds (Art. 15(1)(b)).
func categories(p *profile.Profile) []string {
	out := []string{"identities"}
	if len(p.Attributes) > 0 {
		out = append(out, "attributes")
	}
	if len(p.Consents) > 0 {
		out = append(out, "consents")
	}
	if len(p.Subscriptions) > 0 {
		out = append(out, "subscriptions")
	}
	return append(out, "rights", "ledger", "requests")
}

func consentsOf(p *profile.Profile) []docConsent {
	out := make([]docConsent, 0, len(p.Consents))
	for _, id := range slices.Sorted(maps.Keys(p.Consents)) {
		c := p.Consents[id]
		out = append(out, docConsent{Purpose: id, Status: c.Status, LegalBasis: c.LegalBasis, NoticeVersion: c.NoticeVersion,
			Locale: c.Locale, Source: c.Source, UpdatedAt: c.UpdatedAt.UTC(), ExpiresAt: utcPtr(c.ExpiresAt), Method: c.Method})
	}
	return out
}

func subscriptionsOf(p *profile.Profile) []docSubscription {
	out := make([]docSubscription, 0, len(p.Subscriptions))
	for _, id := range slices.Sorted(maps.Keys(p.Subscriptions)) {
		s := p.Subscriptions[id]
		ch := slices.Clone(s.Channels)
		if ch == nil {
			ch = []string{}
		}
		out = append(out, docSubscription{Topic: id, Status: s.Status, Channels: ch, Frequency: s.Frequency,
			Source: s.Source, UpdatedAt: s.UpdatedAt.UTC()})
	}
	return out
}

func rightsOf(p *profile.Profile) docRights {
	r := docRights{Restricted: p.Rights.Restricted, AutomatedDecisionOptOut: p.Rights.AutomatedDecisionOptOut, Objections: []docObjection{}}
	for _, id := range slices.Sorted(maps.Keys(p.Rights.Objections)) {
		r.Objections = append(r.Objections, docObjection{Purpose: id, At: p.Rights.Objections[id].UTC()})
	}
	return r
}

func requestsOf(rs []dsr.Request) []docDSR {
	out := make([]docDSR, 0, len(rs))
	for _, r := range rs {
		d := docDSR{ID: r.ID, Type: r.Type, Purpose: r.Purpose, Status: r.Status, Verification: r.Verification, Source: r.Source,
			ReceivedAt: r.ReceivedAt.UTC(), DueAt: r.DueAt.UTC(), CompletedAt: utcPtr(r.CompletedAt), DenialReason: r.DenialReason}
		if r.Extension != nil {
			d.Extension = &docExtension{Months: r.Extension.Months, Reason: r.Extension.Reason, At: r.Extension.At.UTC()}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b docDSR) int {
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func purposesOf(cat *catalog.Catalog, locale string) []docPurpose {
	out := make([]docPurpose, 0, len(cat.Purposes))
	for _, p := range cat.Purposes {
		out = append(out, docPurpose{ID: p.ID, Name: p.Name.In(locale, cat.DefaultLocale),
			Description: p.Description.In(locale, cat.DefaultLocale), LegalBasis: p.LegalBasis, RetentionDays: p.RetentionDays,
			DirectMarketing: p.DirectMarketing, AutomatedDecision: p.AutomatedDecision, Notice: p.Notice, NoticeVersion: p.NoticeVersion})
	}
	return out
}

func automatedPurposes(cat *catalog.Catalog) []string {
	out := []string{}
	for _, p := range cat.Purposes {
		if p.AutomatedDecision {
			out = append(out, p.ID)
		}
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// attributeTimes returns the profile's attribute times in UTC (never nil).
func attributeTimes(p *profile.Profile) map[string]time.Time {
	out := make(map[string]time.Time, len(p.AttributeTimes))
	for k, t := range p.AttributeTimes {
		out[k] = t.UTC()
	}
	return out
}

// attributes returns the profile's attributes (never nil).
func attributes(p *profile.Profile) map[string]any {
	if p.Attributes == nil {
		return map[string]any{}
	}
	return p.Attributes
}

// docIdentity is an identity with who attached it and when (Art. 14(2)(f)); an identity
// attached before the service recorded provenance has neither.
type docIdentity struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	// Category is the identity type's data category in the catalog.
	Category string        `json:"category"`
	Source   *ledger.Actor `json:"source,omitempty"`
	AddedAt  *time.Time    `json:"addedAt,omitempty"`
}

// identities returns the profile's identities with their category and provenance (never
// nil).
func identities(p *profile.Profile, cat *catalog.Catalog) []docIdentity {
	out := make([]docIdentity, 0, len(p.Identities))
	for _, id := range p.Identities {
		d := docIdentity{Type: id.Type, Value: id.Value, Category: cat.IdentityCategory(id.Type)}
		if pv, ok := p.IdentitySources[id.String()]; ok {
			at := pv.At.UTC()
			d.Source, d.AddedAt = &pv.Source, &at
		}
		out = append(out, d)
	}
	return out
}

// attributeCategories returns each held attribute's data category in the catalog (never
// nil).
func attributeCategories(p *profile.Profile, cat *catalog.Catalog) map[string]string {
	out := make(map[string]string, len(p.Attributes))
	for k := range p.Attributes {
		out[k] = cat.AttributeCategory(k)
	}
	return out
}

// DataCategory is a category of the person's data the export holds (Art. 15(1)(b)),
// named in the export's language; Special marks a special category (Art. 9, 10).
type DataCategory struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Special bool   `json:"special"`
}

// dataCategories lists the categories of the identities and attributes held, in the
// catalog's order of categories.
func dataCategories(p *profile.Profile, cat *catalog.Catalog, locale string) []DataCategory {
	held := map[string]bool{}
	for _, id := range p.Identities {
		held[cat.IdentityCategory(id.Type)] = true
	}
	for k := range p.Attributes {
		held[cat.AttributeCategory(k)] = true
	}
	out := []DataCategory{}
	for _, d := range cat.Categories() {
		if held[d.ID] {
			out = append(out, DataCategory{ID: d.ID, Name: d.Name.In(locale, cat.DefaultLocale), Special: d.Special})
		}
	}
	return out
}

// attributeSources returns who last set or removed each attribute (never nil).
func attributeSources(p *profile.Profile) map[string]ledger.Actor {
	out := make(map[string]ledger.Actor, len(p.AttributeSources))
	maps.Copy(out, p.AttributeSources)
	return out
}

// compact renders a raw JSON value on one line, "" for none.
func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// raw marshals v, "null" if it cannot be.
func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

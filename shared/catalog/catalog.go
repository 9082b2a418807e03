// Package catalog describes what a tenant asks its customers about: purposes of processing
// with their legal bases and privacy notices, channels, topics and declared attributes.
// A Catalog that passed Validate is internally consistent: every reference resolves.
package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/jsonin"
)

// Text is a localized string: locale ("en", "pl") to text.
type Text map[string]string

// In returns the text in locale, falling back to fallback and then to any text.
func (t Text) In(locale, fallback string) string {
	if s := t[locale]; s != "" {
		return s
	}
	if s := t[fallback]; s != "" {
		return s
	}
	if keys := slices.Sorted(maps.Keys(t)); len(keys) > 0 {
		return t[keys[0]]
	}
	return ""
}

// LegalBasis is a GDPR Art. 6(1) lawful basis.
type LegalBasis string

// The six lawful bases of Art. 6(1)(a)-(f).
const (
	Consent             LegalBasis = "consent"
	Contract            LegalBasis = "contract"
	LegalObligation     LegalBasis = "legal_obligation"
	VitalInterests      LegalBasis = "vital_interests"
	PublicTask          LegalBasis = "public_task"
	LegitimateInterests LegalBasis = "legitimate_interests"
)

// Valid reports whether b is one of the six bases.
func (b LegalBasis) Valid() bool {
	switch b {
	case Consent, Contract, LegalObligation, VitalInterests, PublicTask, LegitimateInterests:
		return true
	}
	return false
}

// Purpose is a purpose of processing (Art. 13(1)(c)).
type Purpose struct {
	ID          string     `json:"id"`
	Name        Text       `json:"name"`
	Description Text       `json:"description,omitempty" jsonin:"text"`
	LegalBasis  LegalBasis `json:"legalBasis"`
	// DirectMarketing makes an objection to this purpose absolute (Art. 21(3)).
	DirectMarketing bool `json:"directMarketing,omitempty"`
	// AutomatedDecision marks profiling or automated decision-making (Art. 22).
	AutomatedDecision bool `json:"automatedDecision,omitempty"`
	// SaleOrSharing marks sale/sharing or targeted advertising, which Global Privacy Control opts out of.
	SaleOrSharing bool `json:"saleOrSharing,omitempty"`
	// Notice is the privacy notice shown for this purpose, and NoticeVersion its current version.
	Notice        string `json:"notice"`
	NoticeVersion int    `json:"noticeVersion"`
	// ReconsentBelow makes consents recorded under notice versions below it outdated.
	ReconsentBelow int `json:"reconsentBelow,omitempty"`
	// RetentionDays is how long data for this purpose is kept (Art. 13(2)(a)); 0 means "while the relationship lasts".
	RetentionDays int `json:"retentionDays,omitempty"`
	// DefaultConsentDays, when set, makes consents for this purpose expire after that many days unless the writer says otherwise.
	DefaultConsentDays int `json:"defaultConsentDays,omitempty"`
	// DataCategories are the ids of the data categories the purpose uses (Art. 30(1)(c)).
	DataCategories []string `json:"dataCategories,omitempty"`
	// Recipients are the ids of the declared recipients the purpose's data goes to.
	Recipients []string `json:"recipients,omitempty"`
	// Transfers are the purpose's transfers outside the EEA with their safeguards.
	Transfers []Transfer `json:"transfers,omitempty"`
}

// Channel is a way of reaching a person.
type Channel struct {
	ID   string `json:"id"`
	Name Text   `json:"name"`
}

// Topic is a subject a person can subscribe to, on some channels, for one purpose.
type Topic struct {
	ID          string   `json:"id"`
	Name        Text     `json:"name"`
	Description Text     `json:"description,omitempty" jsonin:"text"`
	Purpose     string   `json:"purpose"`
	Channels    []string `json:"channels"`
	Frequencies []string `json:"frequencies,omitempty"`
}

// NoticeVersion is one published version of a privacy notice.
type NoticeVersion struct {
	Version     int       `json:"version"`
	Text        Text      `json:"text" jsonin:"text"`
	PublishedAt time.Time `json:"publishedAt"`
}

// Notice is a versioned, localized privacy notice (Art. 13/14).
type Notice struct {
	ID       string          `json:"id"`
	Title    Text            `json:"title"`
	Versions []NoticeVersion `json:"versions"`
}

// AttributeType is the JSON type of a custom attribute.
type AttributeType string

// The attribute types.
const (
	String  AttributeType = "string"
	Number  AttributeType = "number"
	Boolean AttributeType = "boolean"
	Date    AttributeType = "date" // YYYY-MM-DD
)

// Attribute declares a custom profile attribute.
type Attribute struct {
	Name      string        `json:"name"`
	Label     Text          `json:"label,omitempty"`
	Type      AttributeType `json:"type"`
	MaxLength int           `json:"maxLength,omitempty"`
	// Category is the attribute's data category (see DataCategory); empty is OtherCategory.
	Category string `json:"category,omitempty"`
	// Purposes are the purposes the attribute is collected for: when every one of them is
	// past its retention on a profile, the value is erased. An attribute without purposes
	// is kept while the profile is.
	Purposes []string `json:"purposes,omitempty"`
}

// Catalog is a tenant's whole catalog. Version is assigned by the store.
type Catalog struct {
	Version       int         `json:"version"`
	DefaultLocale string      `json:"defaultLocale"`
	Locales       []string    `json:"locales"`
	Purposes      []Purpose   `json:"purposes"`
	Channels      []Channel   `json:"channels"`
	Topics        []Topic     `json:"topics"`
	Notices       []Notice    `json:"notices"`
	Attributes    []Attribute `json:"attributes,omitempty"`
	// IdentityTypes declares typed identifiers beyond email, phone and customer_id.
	IdentityTypes []string `json:"identityTypes,omitempty"`
	// IdentityCategories gives a declared identity type its data category; a type not
	// listed is OtherCategory.
	IdentityCategories map[string]string `json:"identityCategories,omitempty"`
	// DataCategories declares categories of personal data beyond the built-in ones.
	DataCategories []DataCategory `json:"dataCategories,omitempty"`
	// Controller, DPO and Recipients are what the transparency page and the records of
	// processing state besides the purposes (see transparency.go).
	Controller *Controller `json:"controller,omitempty"`
	DPO        *DPO        `json:"dpo,omitempty"`
	Recipients []Recipient `json:"recipients,omitempty"`
	// Requests are the tenant's settings of data-subject requests.
	Requests RequestSettings `json:"requests,omitzero"`
	// Resolution is how identities from the brand's systems join into one profile.
	Resolution Resolution `json:"resolution,omitzero"`
	// Retention is how long the tenant keeps profiles nobody acts on.
	Retention RetentionSettings `json:"retention,omitzero"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// RequestSettings are a tenant's settings of data-subject requests.
type RequestSettings struct {
	// VerificationDays is how long a request from the brand API waits for the person to
	// confirm it by the emailed link before it expires; 0 means 7 days.
	VerificationDays int `json:"verificationDays,omitempty"`
	// ErasureCoolOffDays delays a confirmed erasure by this many days, in which the person
	// can still call it off by the emailed link; 0 means none.
	ErasureCoolOffDays int `json:"erasureCoolOffDays,omitempty"`
}

// Resolution is how the tenant joins the identities its systems know into one profile.
type Resolution struct {
	// TrustedIdentityTypes are the identity types trusted enough to merge on: linking an
	// identity of such a type that another profile holds merges the two at once. A link
	// through any other type only records a merge candidate for review.
	TrustedIdentityTypes []string `json:"trustedIdentityTypes,omitempty"`
	// SourcePriority orders the sources (sync source ids, "api", "portal") by how much
	// their value of an attribute is trusted, most trusted first, per attribute name; "*"
	// is the order for attributes without one. A merge keeps the value of the more
	// trusted source, and between equals (or sources not listed) the more recent.
	SourcePriority map[string][]string `json:"sourcePriority,omitempty"`
}

// Trusted reports whether a link through identity type t may merge without review.
func (r Resolution) Trusted(t string) bool { return slices.Contains(r.TrustedIdentityTypes, t) }

// Rank is the position of source among the trusted sources of attribute name: 0 is the
// most trusted, and a source not listed ranks after every listed one.
func (r Resolution) Rank(name, source string) int {
	order, ok := r.SourcePriority[name]
	if !ok {
		order = r.SourcePriority["*"]
	}
	if i := slices.Index(order, source); i >= 0 {
		return i
	}
	return len(order)
}

// Bounds of RequestSettings, in days.
const (
	MaxVerificationDays = 30
	MaxCoolOffDays      = 30
)

// VerificationWindow is how long a request waits for the person's confirmation.
func (c *Catalog) VerificationWindow() time.Duration {
	if d := c.Requests.VerificationDays; d > 0 {
		return time.Duration(d) * 24 * time.Hour
	}
	return 7 * 24 * time.Hour
}

// ErasureCoolOff is how long a confirmed erasure waits before it runs; 0 for none.
func (c *Catalog) ErasureCoolOff() time.Duration {
	return time.Duration(c.Requests.ErasureCoolOffDays) * 24 * time.Hour
}

// Objectable reports whether the person may object to the purpose under Art. 21: its
// legal basis is legitimate interests or public task (Art. 21(1)), or it is direct
// marketing, on any basis (Art. 21(2)). Consent is withdrawn instead (Art. 7(3)); the
// other bases give no right to object.
func (p Purpose) Objectable() bool {
	return p.DirectMarketing || p.LegalBasis == LegitimateInterests || p.LegalBasis == PublicTask
}

// Limits keep one catalog within one DynamoDB item and cheap to load.
const (
	MaxPurposes   = 100
	MaxChannels   = 20
	MaxTopics     = 200
	MaxNotices    = 100
	MaxVersions   = 50
	MaxAttributes = 100
	MaxIDTypes    = 20
	MaxSources    = 20
	MaxTextLen    = 20000
)

// ValidID reports whether s is a well-formed catalog identifier, ^[a-z][a-z0-9_-]{0,63}$
// (lower-case, starts with a letter). Checked by hand: compiling the pattern was a tenth of
// a millisecond of every function's cold start.
func ValidID(s string) bool {
	if len(s) < 1 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidLocale reports whether s is a language code with an optional region,
// ^[a-z]{2}(-[A-Z]{2})?$: "en", "pl", "en-GB".
func ValidLocale(s string) bool {
	lower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	upper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	return (len(s) == 2 || len(s) == 5 && s[2] == '-' && upper(s[3]) && upper(s[4])) && lower(s[0]) && lower(s[1])
}

// StandardAttributes every profile has; a catalog declares only custom ones.
var StandardAttributes = []string{"givenName", "familyName", "locale", "country"}

// BuiltinIdentityTypes are accepted for every tenant.
var BuiltinIdentityTypes = []string{"email", "phone", "customer_id"}

// Validate checks the whole catalog and names every offending field.
func (c *Catalog) Validate() error {
	var f errs.Fields
	if !ValidLocale(c.DefaultLocale) {
		f.Add("defaultLocale", "must be a language code such as en or pl")
	}
	if len(c.Locales) == 0 || len(c.Locales) > 20 {
		f.Add("locales", "must list 1 to 20 locales")
	}
	for i, l := range c.Locales {
		if !ValidLocale(l) {
			f.Add(fmt.Sprintf("locales[%d]", i), "must be a language code such as en or pl")
		}
	}
	if !slices.Contains(c.Locales, c.DefaultLocale) {
		f.Unmet("defaultLocale", "must be one of locales")
	}
	if d := c.Requests.VerificationDays; d < 0 || d > MaxVerificationDays {
		f.Add("requests.verificationDays", fmt.Sprintf("must be 0 (7 days) to %d", MaxVerificationDays))
	}
	if d := c.Requests.ErasureCoolOffDays; d < 0 || d > MaxCoolOffDays {
		f.Add("requests.erasureCoolOffDays", fmt.Sprintf("must be 0 (none) to %d", MaxCoolOffDays))
	}
	text := func(field string, t Text, required bool) {
		if required && len(t) == 0 {
			// A text per locale of locales: the document cannot say which are needed.
			f.Unmet(field, "is required")
		}
		for l, s := range t {
			if !slices.Contains(c.Locales, l) {
				f.Unmet(field+"."+l, "locale is not in locales")
			}
			if utf8.RuneCountInString(s) > MaxTextLen {
				f.Add(field+"."+l, "is too long")
			}
			if strings.TrimSpace(s) == "" {
				f.Add(field+"."+l, "must not be empty")
			}
		}
	}
	ids := func(field string, n, limit int, id func(int) string) map[string]bool {
		seen := map[string]bool{}
		if n > limit {
			f.Add(field, fmt.Sprintf("must have at most %d entries", limit))
		}
		for i := range n {
			s := id(i)
			if !ValidID(s) {
				f.Add(fmt.Sprintf("%s[%d].id", field, i), "must match ^[a-z][a-z0-9_-]{0,63}$")
			}
			if seen[s] {
				f.Unmet(fmt.Sprintf("%s[%d].id", field, i), "is a duplicate")
			}
			seen[s] = true
		}
		return seen
	}
	notices := map[string]int{} // id -> highest version
	ids("notices", len(c.Notices), MaxNotices, func(i int) string { return c.Notices[i].ID })
	for i, n := range c.Notices {
		p := fmt.Sprintf("notices[%d]", i)
		text(p+".title", n.Title, true)
		if len(n.Versions) == 0 || len(n.Versions) > MaxVersions {
			f.Add(p+".versions", fmt.Sprintf("must have 1 to %d versions", MaxVersions))
		}
		last := 0
		for j, v := range n.Versions {
			if v.Version != last+1 {
				f.Unmet(fmt.Sprintf("%s.versions[%d].version", p, j), "versions must count up from 1")
			}
			last = v.Version
			text(fmt.Sprintf("%s.versions[%d].text", p, j), v.Text, true)
		}
		notices[n.ID] = last
	}
	purposes := ids("purposes", len(c.Purposes), MaxPurposes, func(i int) string { return c.Purposes[i].ID })
	for i, p := range c.Purposes {
		fp := fmt.Sprintf("purposes[%d]", i)
		text(fp+".name", p.Name, true)
		text(fp+".description", p.Description, false)
		if !p.LegalBasis.Valid() {
			f.Add(fp+".legalBasis", "must be one of consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests")
		}
		latest, ok := notices[p.Notice]
		switch {
		case !ok:
			f.Unmet(fp+".notice", "must name a notice in notices")
		case p.NoticeVersion < 1 || p.NoticeVersion > latest:
			f.Unmet(fp+".noticeVersion", "must be a published version of the notice")
		}
		if p.ReconsentBelow < 0 || p.ReconsentBelow > p.NoticeVersion {
			f.Unmet(fp+".reconsentBelow", "must be between 0 and noticeVersion")
		}
		if p.RetentionDays < 0 || p.DefaultConsentDays < 0 {
			f.Add(fp, "day counts must not be negative")
		}
	}
	channels := ids("channels", len(c.Channels), MaxChannels, func(i int) string { return c.Channels[i].ID })
	for i, ch := range c.Channels {
		text(fmt.Sprintf("channels[%d].name", i), ch.Name, true)
	}
	ids("topics", len(c.Topics), MaxTopics, func(i int) string { return c.Topics[i].ID })
	for i, t := range c.Topics {
		ft := fmt.Sprintf("topics[%d]", i)
		text(ft+".name", t.Name, true)
		text(ft+".description", t.Description, false)
		if !purposes[t.Purpose] {
			f.Unmet(ft+".purpose", "must name a purpose in purposes")
		}
		if len(t.Channels) == 0 {
			f.Add(ft+".channels", "must list at least one channel")
		}
		for j, ch := range t.Channels {
			if !channels[ch] {
				f.Unmet(fmt.Sprintf("%s.channels[%d]", ft, j), "must name a channel in channels")
			}
		}
		for j, fr := range t.Frequencies {
			if slices.Contains(t.Frequencies[:j], fr) {
				f.Unmet(fmt.Sprintf("%s.frequencies[%d]", ft, j), "is a duplicate")
			}
			if !ValidID(fr) {
				f.Add(fmt.Sprintf("%s.frequencies[%d]", ft, j), "must match ^[a-z][a-z0-9_-]{0,63}$")
			}
		}
	}
	if len(c.Attributes) > MaxAttributes {
		f.Add("attributes", fmt.Sprintf("must have at most %d entries", MaxAttributes))
	}
	seenAttr := map[string]bool{}
	for i, a := range c.Attributes {
		fa := fmt.Sprintf("attributes[%d]", i)
		if !ValidID(a.Name) {
			f.Add(fa+".name", "must match ^[a-z][a-z0-9_-]{0,63}$")
		}
		if slices.Contains(StandardAttributes, a.Name) {
			f.Unmet(fa+".name", "is a standard attribute")
		}
		if seenAttr[a.Name] {
			f.Unmet(fa+".name", "is a duplicate")
		}
		seenAttr[a.Name] = true
		switch a.Type {
		case String, Number, Boolean, Date:
		default:
			f.Add(fa+".type", "must be one of string, number, boolean, date")
		}
		if a.MaxLength < 0 || a.MaxLength > 4096 {
			f.Add(fa+".maxLength", "must be between 0 and 4096")
		}
		text(fa+".label", a.Label, false)
	}
	if len(c.IdentityTypes) > MaxIDTypes {
		f.Add("identityTypes", fmt.Sprintf("must have at most %d entries", MaxIDTypes))
	}
	for i, t := range c.IdentityTypes {
		if slices.Contains(c.IdentityTypes[:i], t) {
			f.Unmet(fmt.Sprintf("identityTypes[%d]", i), "is a duplicate")
		}
		if !ValidID(t) || slices.Contains(BuiltinIdentityTypes, t) {
			f.Unmet(fmt.Sprintf("identityTypes[%d]", i), "must be a new lower-case identifier, not email, phone or customer_id")
		}
	}
	for i, t := range c.Resolution.TrustedIdentityTypes {
		if !c.IdentityType(t) || slices.Contains(c.Resolution.TrustedIdentityTypes[:i], t) {
			f.Unmet(fmt.Sprintf("resolution.trustedIdentityTypes[%d]", i), "must name each identity type once")
		}
	}
	if len(c.Resolution.SourcePriority) > MaxAttributes {
		f.Add("resolution.sourcePriority", fmt.Sprintf("must have at most %d entries", MaxAttributes))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Resolution.SourcePriority)) {
		fs := "resolution.sourcePriority." + name
		if name != "*" && !seenAttr[name] && !slices.Contains(StandardAttributes, name) {
			f.Unmet(fs, "must name an attribute, or * for every other")
		}
		order := c.Resolution.SourcePriority[name]
		if len(order) == 0 || len(order) > MaxSources {
			f.Add(fs, fmt.Sprintf("must list 1 to %d sources", MaxSources))
		}
		for j, src := range order {
			if !ValidID(src) || slices.Contains(order[:j], src) {
				f.Unmet(fmt.Sprintf("%s[%d]", fs, j), "must name each source once, as ^[a-z][a-z0-9_-]{0,63}$")
			}
		}
	}
	c.validateCategories(&f, text)
	c.validateTransparency(&f, text)
	c.validateRetention(&f, purposes)
	return f.Err()
}

// Purpose returns the purpose with id.
func (c *Catalog) Purpose(id string) (Purpose, bool) {
	for _, p := range c.Purposes {
		if p.ID == id {
			return p, true
		}
	}
	return Purpose{}, false
}

// Topic returns the topic with id.
func (c *Catalog) Topic(id string) (Topic, bool) {
	for _, t := range c.Topics {
		if t.ID == id {
			return t, true
		}
	}
	return Topic{}, false
}

// HasChannel reports whether channel is declared.
func (c *Catalog) HasChannel(id string) bool {
	return slices.ContainsFunc(c.Channels, func(ch Channel) bool { return ch.ID == id })
}

// Attribute returns the declared custom attribute called name.
func (c *Catalog) Attribute(name string) (Attribute, bool) {
	for _, a := range c.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// Notice returns the notice with id.
func (c *Catalog) Notice(id string) (Notice, bool) {
	for _, n := range c.Notices {
		if n.ID == id {
			return n, true
		}
	}
	return Notice{}, false
}

// IdentityType reports whether t is a built-in or declared identity type.
func (c *Catalog) IdentityType(t string) bool {
	return slices.Contains(BuiltinIdentityTypes, t) || slices.Contains(c.IdentityTypes, t)
}

// SupportsLocale reports whether locale is one of the catalog's locales.
func (c *Catalog) SupportsLocale(l string) bool { return slices.Contains(c.Locales, l) }

// Parse decodes a catalog document by the rules of jsonin (unknown fields, duplicate keys,
// null and trailing data are errors naming the field path), so a misspelt key in a catalog
// file is reported rather than silently dropped. It does not validate; call Validate.
func Parse(b []byte) (*Catalog, error) {
	var c Catalog
	if err := jsonin.Decode(b, &c); err != nil {
		return nil, fmt.Errorf("parse catalog: %w", err)
	}
	return &c, nil
}

package profile_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

func TestValidateAttribute(t *testing.T) {
	cat := loadCatalog(t)
	// The custom attributes the table exercises, as the demo catalog declares them.
	for name, typ := range map[string]catalog.AttributeType{
		"loyalty_tier": catalog.String, "birth_date": catalog.Date, "shoe_size": catalog.Number, "vip": catalog.Boolean,
	} {
		if a, ok := cat.Attribute(name); !ok || a.Type != typ {
			t.Fatalf("demo catalog attribute %q = %+v, want type %s", name, a, typ)
		}
	}
	tier, _ := cat.Attribute("loyalty_tier")
	tierMax := tier.MaxLength
	if tierMax == 0 {
		tierMax = 1000
	}
	tests := []struct {
		name string
		attr string
		in   any
		want any  // the value to store when valid
		bad  bool // rejected
	}{
		// removal
		{name: "nil removes a standard attribute", attr: profile.AttrGivenName, in: nil, want: nil},
		{name: "nil removes even an undeclared attribute", attr: "nope", in: nil, want: nil},
		// givenName / familyName
		{name: "given name trimmed", attr: profile.AttrGivenName, in: "  Anna ", want: "Anna"},
		{name: "family name with diacritics", attr: profile.AttrFamilyName, in: "Żółkiewska-Łęcka", want: "Żółkiewska-Łęcka"},
		{name: "given name of 100 runes", attr: profile.AttrGivenName, in: strings.Repeat("ł", 100), want: strings.Repeat("ł", 100)},
		{name: "given name of 101 runes", attr: profile.AttrGivenName, in: strings.Repeat("a", 101), bad: true},
		{name: "given name with newline", attr: profile.AttrGivenName, in: "An\nna", bad: true},
		{name: "given name with NUL", attr: profile.AttrFamilyName, in: "Nowak\x00", bad: true},
		{name: "given name invalid UTF-8", attr: profile.AttrGivenName, in: "An\xffna", bad: true},
		{name: "given name a number", attr: profile.AttrGivenName, in: 42.0, bad: true},
		{name: "given name a bool", attr: profile.AttrGivenName, in: true, bad: true},
		{name: "given name an object", attr: profile.AttrGivenName, in: map[string]any{"a": "b"}, bad: true},
		{name: "given name HTML kept as text", attr: profile.AttrGivenName, in: "<b>Anna</b>", want: "<b>Anna</b>"},
		// locale / country
		{name: "locale", attr: profile.AttrLocale, in: "pl", want: "pl"},
		{name: "locale with region", attr: profile.AttrLocale, in: "pl-PL", want: "pl-PL"},
		{name: "locale upper case", attr: profile.AttrLocale, in: "PL", bad: true},
		{name: "locale word", attr: profile.AttrLocale, in: "polish", bad: true},
		{name: "locale with space", attr: profile.AttrLocale, in: " pl", bad: true},
		{name: "locale number", attr: profile.AttrLocale, in: 1.0, bad: true},
		{name: "country", attr: profile.AttrCountry, in: "PL", want: "PL"},
		{name: "country lower case", attr: profile.AttrCountry, in: "pl", bad: true},
		{name: "country alpha-3", attr: profile.AttrCountry, in: "POL", bad: true},
		{name: "country with newline", attr: profile.AttrCountry, in: "PL\n", bad: true},
		// custom string
		{name: "custom string", attr: "loyalty_tier", in: " gold ", want: "gold"},
		{name: "custom string at maxLength", attr: "loyalty_tier", in: strings.Repeat("ś", tierMax), want: strings.Repeat("ś", tierMax)},
		{name: "custom string over maxLength", attr: "loyalty_tier", in: strings.Repeat("s", tierMax+1), bad: true},
		{name: "custom string number", attr: "loyalty_tier", in: 3.0, bad: true},
		{name: "custom string control", attr: "loyalty_tier", in: "gold\x1b", bad: true},
		{name: "custom string SQL kept as text", attr: "loyalty_tier", in: "' OR 1=1 --", want: "' OR 1=1 --"},
		// custom date
		{name: "date", attr: "birth_date", in: "1990-05-31", want: "1990-05-31"},
		{name: "date leap day", attr: "birth_date", in: "2024-02-29", want: "2024-02-29"},
		{name: "date not a leap day", attr: "birth_date", in: "2023-02-29", bad: true},
		{name: "date month 13", attr: "birth_date", in: "2024-13-01", bad: true},
		{name: "date short form", attr: "birth_date", in: "2024-1-1", bad: true},
		{name: "date with time", attr: "birth_date", in: "2024-01-01T00:00:00Z", bad: true},
		{name: "date with space", attr: "birth_date", in: " 2024-01-01", bad: true},
		{name: "date non-ASCII digits", attr: "birth_date", in: "٢٠٢٤-٠١-٠١", bad: true},
		{name: "date number", attr: "birth_date", in: 20240101.0, bad: true},
		// custom number
		{name: "number", attr: "shoe_size", in: 42.5, want: 42.5},
		{name: "number zero", attr: "shoe_size", in: 0.0, want: 0.0},
		{name: "number negative", attr: "shoe_size", in: -1.0, want: -1.0},
		{name: "number as string", attr: "shoe_size", in: "42", bad: true},
		{name: "number as bool", attr: "shoe_size", in: true, bad: true},
		// custom boolean
		{name: "bool true", attr: "vip", in: true, want: true},
		{name: "bool false", attr: "vip", in: false, want: false},
		{name: "bool as string", attr: "vip", in: "true", bad: true},
		{name: "bool as number", attr: "vip", in: 1.0, bad: true},
		// undeclared
		{name: "undeclared attribute", attr: "favourite_colour", in: "blue", bad: true},
		{name: "standard names are case-sensitive", attr: "GivenName", in: "Anna", bad: true},
		{name: "empty attribute name", attr: "", in: "x", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := profile.ValidateAttribute(cat, tt.attr, tt.in)
			if tt.bad {
				if reason == "" {
					t.Fatalf("ValidateAttribute(%q, %#v) = %#v, want rejected", tt.attr, tt.in, got)
				}
				if got != nil {
					t.Errorf("rejected value returned %#v, want nil", got)
				}
				return
			}
			if reason != "" {
				t.Fatalf("ValidateAttribute(%q, %#v) rejected: %s", tt.attr, tt.in, reason)
			}
			if got != tt.want {
				t.Errorf("ValidateAttribute(%q, %#v) = %#v, want %#v", tt.attr, tt.in, got, tt.want)
			}
		})
	}
}

// TestValidateAttributeFromJSON validates values as the API receives them: decoded JSON.
func TestValidateAttributeFromJSON(t *testing.T) {
	cat := loadCatalog(t)
	var body map[string]any
	if err := json.Unmarshal([]byte(`{"givenName":"Anna","shoe_size":38,"vip":true,"birth_date":"2000-01-01","loyalty_tier":"gold","country":"PL","locale":"en"}`), &body); err != nil {
		t.Fatal(err)
	}
	for name, v := range body {
		if _, reason := profile.ValidateAttribute(cat, name, v); reason != "" {
			t.Errorf("%s = %#v rejected: %s", name, v, reason)
		}
	}
}

func TestSetAttributes(t *testing.T) {
	p := newProfile()
	t1, t2, t3 := time.Unix(100, 0), time.Unix(200, 0), time.Unix(300, 0)
	ch := p.SetAttributes(map[string]any{"givenName": "Anna", "vip": true}, apiKey, t1)
	if len(ch) != 1 || ch[0].Type != profile.EventProfileUpdated || ch[0].Subject != "attributes" {
		t.Fatalf("changes = %+v", ch)
	}
	if !reflect.DeepEqual(ch[0].New, map[string]any{"givenName": "Anna", "vip": true}) {
		t.Errorf("New = %#v", ch[0].New)
	}
	if ch := p.SetAttributes(map[string]any{"givenName": "Anna", "familyName": nil}, apiKey, t2); ch != nil {
		t.Errorf("unchanged patch reported %+v", ch)
	}
	if want := map[string]time.Time{"givenName": t1, "vip": t1}; !reflect.DeepEqual(p.AttributeTimes, want) {
		t.Errorf("times after an unchanged patch = %v, want %v", p.AttributeTimes, want)
	}
	ch = p.SetAttributes(map[string]any{"givenName": nil, "vip": false}, apiKey, t3)
	if len(ch) != 1 || !reflect.DeepEqual(ch[0].Old, map[string]any{"givenName": "Anna", "vip": true}) {
		t.Fatalf("changes = %+v", ch)
	}
	if _, ok := p.Attributes["givenName"]; ok || p.Attributes["vip"] != false {
		t.Errorf("attributes = %#v", p.Attributes)
	}
	// A removed attribute keeps the time of its removal, so an older set cannot revive it.
	if want := map[string]time.Time{"givenName": t3, "vip": t3}; !reflect.DeepEqual(p.AttributeTimes, want) {
		t.Errorf("times = %v, want %v", p.AttributeTimes, want)
	}
	c := p.Clone()
	c.AttributeTimes["vip"] = t1
	if !p.AttributeTimes["vip"].Equal(t3) {
		t.Error("Clone shares AttributeTimes")
	}
}

func TestSetConsent(t *testing.T) {
	cat := loadCatalog(t)
	marketing := mustPurpose(t, cat, "marketing")
	partners := mustPurpose(t, cat, "partners")
	if marketing.LegalBasis != catalog.Consent || marketing.DefaultConsentDays != 0 {
		t.Fatalf("demo purpose marketing changed: %+v", marketing)
	}
	if partners.LegalBasis != catalog.Consent || partners.DefaultConsentDays <= 0 {
		t.Fatalf("demo purpose partners changed: %+v", partners)
	}
	partnersExpiry := t0.AddDate(0, 0, partners.DefaultConsentDays)
	explicit := t0.Add(48 * time.Hour)
	tests := []struct {
		name       string
		purpose    string
		in         profile.ConsentInput
		wantCode   errs.Code
		wantFields []string
		wantExpiry *time.Time
	}{
		{name: "grant at the current notice", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: marketing.NoticeVersion, Locale: "pl"}},
		{name: "grant at an older notice version", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1}},
		{name: "deny", purpose: "marketing", in: profile.ConsentInput{Status: profile.Denied, NoticeVersion: marketing.NoticeVersion}},
		{name: "withdraw", purpose: "marketing", in: profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: marketing.NoticeVersion}},
		{name: "default expiry from DefaultConsentDays", purpose: "partners", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: partners.NoticeVersion}, wantExpiry: &partnersExpiry},
		{name: "explicit expiry beats the default", purpose: "partners", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: partners.NoticeVersion, ExpiresAt: &explicit}, wantExpiry: &explicit},
		{name: "no default expiry on denial", purpose: "partners", in: profile.ConsentInput{Status: profile.Denied, NoticeVersion: partners.NoticeVersion}},
		{name: "expiry a nanosecond ahead", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1, ExpiresAt: ptr(t0.Add(time.Nanosecond))}, wantExpiry: ptr(t0.Add(time.Nanosecond))},

		{name: "contract purpose", purpose: "service", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1},
			wantCode: errs.Unprocessable, wantFields: []string{"purpose"}},
		{name: "legitimate interests purpose", purpose: "analytics", in: profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: 1},
			wantCode: errs.Unprocessable, wantFields: []string{"purpose"}},
		{name: "unknown purpose", purpose: "nope", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1},
			wantCode: errs.NotFound, wantFields: []string{"purpose"}},
		{name: "notice version 0", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted},
			wantCode: errs.Invalid, wantFields: []string{"noticeVersion"}},
		{name: "notice version negative", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: -1},
			wantCode: errs.Invalid, wantFields: []string{"noticeVersion"}},
		{name: "notice version above the purpose's", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: marketing.NoticeVersion + 1},
			wantCode: errs.Unprocessable, wantFields: []string{"noticeVersion"}},
		{name: "notice version of another notice", purpose: "partners", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: partners.NoticeVersion + 1},
			wantCode: errs.Unprocessable, wantFields: []string{"noticeVersion"}},
		{name: "unknown status", purpose: "marketing", in: profile.ConsentInput{Status: "maybe", NoticeVersion: 1},
			wantCode: errs.Invalid, wantFields: []string{"status"}},
		{name: "empty status", purpose: "marketing", in: profile.ConsentInput{NoticeVersion: 1},
			wantCode: errs.Invalid, wantFields: []string{"status"}},
		{name: "status in upper case", purpose: "marketing", in: profile.ConsentInput{Status: "GRANTED", NoticeVersion: 1},
			wantCode: errs.Invalid, wantFields: []string{"status"}},
		{name: "unsupported locale", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1, Locale: "de"},
			wantCode: errs.Unprocessable, wantFields: []string{"locale"}},
		{name: "expiry in the past", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1, ExpiresAt: ptr(t0.Add(-time.Hour))},
			wantCode: errs.Unprocessable, wantFields: []string{"expiresAt"}},
		{name: "expiry exactly now", purpose: "marketing", in: profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1, ExpiresAt: ptr(t0)},
			wantCode: errs.Unprocessable, wantFields: []string{"expiresAt"}},
		{name: "every field wrong at once", purpose: "service", in: profile.ConsentInput{Status: "x", NoticeVersion: 9, Locale: "xx", ExpiresAt: ptr(t0)},
			wantCode: errs.Invalid, wantFields: []string{"purpose", "status", "noticeVersion", "locale", "expiresAt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProfile()
			before := p.Clone()
			changes, err := p.SetConsent(cat, tt.purpose, tt.in, apiKey, t0)
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("SetConsent() = %+v, want %s error", changes, tt.wantCode)
				}
				wantFields(t, err, tt.wantCode, tt.wantFields...)
				if changes != nil || !reflect.DeepEqual(p, before) {
					t.Errorf("a rejected change modified the profile: %+v", p.Consents)
				}
				return
			}
			if err != nil {
				t.Fatalf("SetConsent() error = %v", err)
			}
			if len(changes) != 1 {
				t.Fatalf("changes = %+v, want one", changes)
			}
			c := changes[0]
			pur := mustPurpose(t, cat, tt.purpose)
			if c.Type != profile.EventConsentChanged || c.Subject != tt.purpose || c.NoticeVersion != tt.in.NoticeVersion ||
				c.LegalBasis != string(catalog.Consent) || c.Old != nil {
				t.Errorf("change = %+v", c)
			}
			got, ok := p.Consents[tt.purpose]
			if !ok {
				t.Fatalf("consent not stored")
			}
			if !reflect.DeepEqual(c.New, got) {
				t.Errorf("change.New = %+v, stored %+v", c.New, got)
			}
			if got.Status != tt.in.Status || got.NoticeVersion != tt.in.NoticeVersion || got.Locale != tt.in.Locale ||
				got.LegalBasis != pur.LegalBasis || got.Source != apiKey || !got.UpdatedAt.Equal(t0) {
				t.Errorf("stored consent = %+v", got)
			}
			switch {
			case tt.wantExpiry == nil && got.ExpiresAt != nil:
				t.Errorf("ExpiresAt = %v, want none", got.ExpiresAt)
			case tt.wantExpiry != nil && (got.ExpiresAt == nil || !got.ExpiresAt.Equal(*tt.wantExpiry)):
				t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, tt.wantExpiry)
			}
		})
	}
}

func TestSetConsentSequence(t *testing.T) {
	cat := loadCatalog(t)
	nv := mustPurpose(t, cat, "marketing").NoticeVersion
	p := newProfile()
	grant := profile.ConsentInput{Status: profile.Granted, NoticeVersion: nv, Locale: "en"}

	if ch, err := p.SetConsent(cat, "marketing", grant, portal, t0); err != nil || len(ch) != 1 {
		t.Fatalf("first grant = %+v, %v", ch, err)
	}
	first := p.Consents["marketing"]

	// Same answer again, even later and from another actor: nothing changes.
	ch, err := p.SetConsent(cat, "marketing", grant, apiKey, t0.Add(time.Hour))
	if err != nil || ch != nil {
		t.Fatalf("repeat grant = %+v, %v, want no change", ch, err)
	}
	if !reflect.DeepEqual(p.Consents["marketing"], first) {
		t.Errorf("a no-op rewrote the consent: %+v", p.Consents["marketing"])
	}

	// Only the locale differs: a change.
	enToPl := grant
	enToPl.Locale = "pl"
	if ch, err := p.SetConsent(cat, "marketing", enToPl, portal, t0.Add(2*time.Hour)); err != nil || len(ch) != 1 {
		t.Fatalf("locale change = %+v, %v", ch, err)
	}

	// Withdrawal records the previous state as Old.
	withdraw := profile.ConsentInput{Status: profile.Withdrawn, NoticeVersion: nv, Locale: "pl"}
	ch, err = p.SetConsent(cat, "marketing", withdraw, portal, t0.Add(3*time.Hour))
	if err != nil || len(ch) != 1 {
		t.Fatalf("withdraw = %+v, %v", ch, err)
	}
	old, ok := ch[0].Old.(profile.Consent)
	if !ok || old.Status != profile.Granted || old.Locale != "pl" {
		t.Errorf("withdraw Old = %#v", ch[0].Old)
	}
	if got := p.Consents["marketing"]; got.Status != profile.Withdrawn || got.Source != portal || !got.UpdatedAt.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("after withdraw = %+v", got)
	}

	// The changes turn into ledger events that carry valid JSON.
	evs := profile.Events(ch, t0, portal, "req-1")
	if len(evs) != 1 || evs[0].Subject != "marketing" || evs[0].NoticeVersion != nv || evs[0].LegalBasis != "consent" ||
		!json.Valid(evs[0].Old) || !json.Valid(evs[0].New) || evs[0].RequestID != "req-1" {
		t.Errorf("Events() = %+v", evs)
	}
}

func TestSetConsentDefaultExpiryNoOp(t *testing.T) {
	cat := loadCatalog(t)
	pur := mustPurpose(t, cat, "partners")
	p := newProfile()
	in := profile.ConsentInput{Status: profile.Granted, NoticeVersion: pur.NoticeVersion}
	if _, err := p.SetConsent(cat, "partners", in, portal, t0); err != nil {
		t.Fatal(err)
	}
	if ch, err := p.SetConsent(cat, "partners", in, portal, t0); err != nil || ch != nil {
		t.Errorf("same grant at the same instant = %+v, %v, want no change", ch, err)
	}
	// Re-granting later renews the default expiry, which is a change.
	later := t0.Add(24 * time.Hour)
	ch, err := p.SetConsent(cat, "partners", in, portal, later)
	if err != nil || len(ch) != 1 {
		t.Fatalf("re-grant later = %+v, %v, want a renewal", ch, err)
	}
	if exp := p.Consents["partners"].ExpiresAt; exp == nil || !exp.Equal(later.AddDate(0, 0, pur.DefaultConsentDays)) {
		t.Errorf("renewed ExpiresAt = %v", exp)
	}
}

func TestSetSubscription(t *testing.T) {
	cat := loadCatalog(t)
	offers, _ := cat.Topic("offers")
	newsletter, _ := cat.Topic("newsletter")
	orders, _ := cat.Topic("orders")
	if len(offers.Channels) < 2 || len(offers.Frequencies) == 0 || len(newsletter.Frequencies) < 2 || len(orders.Frequencies) != 0 {
		t.Fatalf("demo topics changed: offers %+v newsletter %+v orders %+v", offers, newsletter, orders)
	}
	allOffers := slices.Sorted(slices.Values(offers.Channels))
	// A channel of the catalog that the newsletter does not use.
	var notNewsletter string
	for _, ch := range cat.Channels {
		if !slices.Contains(newsletter.Channels, ch.ID) {
			notNewsletter = ch.ID
			break
		}
	}
	tests := []struct {
		name       string
		topic      string
		in         profile.SubscriptionInput
		wantChans  []string
		wantFreq   string
		wantCode   errs.Code
		wantFields []string
	}{
		{name: "all channels when none given, sorted", topic: "offers", in: profile.SubscriptionInput{Status: profile.Subscribed},
			wantChans: allOffers, wantFreq: offers.Frequencies[0]},
		{name: "subset of channels, sorted", topic: "offers", in: profile.SubscriptionInput{Status: profile.Subscribed, Channels: []string{offers.Channels[1], offers.Channels[0]}},
			wantChans: slices.Sorted(slices.Values(offers.Channels[:2])), wantFreq: offers.Frequencies[0]},
		{name: "default frequency is the first", topic: "newsletter", in: profile.SubscriptionInput{Status: profile.Subscribed},
			wantChans: newsletter.Channels, wantFreq: newsletter.Frequencies[0]},
		{name: "explicit frequency", topic: "newsletter", in: profile.SubscriptionInput{Status: profile.Subscribed, Frequency: newsletter.Frequencies[1]},
			wantChans: newsletter.Channels, wantFreq: newsletter.Frequencies[1]},
		{name: "topic without frequencies", topic: "orders", in: profile.SubscriptionInput{Status: profile.Subscribed},
			wantChans: slices.Sorted(slices.Values(orders.Channels)), wantFreq: ""},
		{name: "unsubscribe clears channels and frequency", topic: "newsletter",
			in:        profile.SubscriptionInput{Status: profile.Unsubscribed, Channels: newsletter.Channels, Frequency: newsletter.Frequencies[1]},
			wantChans: []string{}, wantFreq: ""},

		{name: "channel not on the topic", topic: "newsletter", in: profile.SubscriptionInput{Status: profile.Subscribed, Channels: []string{notNewsletter}},
			wantCode: errs.Unprocessable, wantFields: []string{"channels[0]"}},
		{name: "unknown channel second", topic: "offers", in: profile.SubscriptionInput{Status: profile.Subscribed, Channels: []string{offers.Channels[0], "fax"}},
			wantCode: errs.Unprocessable, wantFields: []string{"channels[1]"}},
		{name: "duplicate channel", topic: "offers", in: profile.SubscriptionInput{Status: profile.Subscribed, Channels: []string{offers.Channels[0], offers.Channels[1], offers.Channels[0]}},
			wantCode: errs.Invalid, wantFields: []string{"channels"}},
		{name: "duplicate channel on unsubscribe", topic: "offers", in: profile.SubscriptionInput{Status: profile.Unsubscribed, Channels: []string{offers.Channels[0], offers.Channels[0]}},
			wantCode: errs.Invalid, wantFields: []string{"channels"}},
		{name: "frequency not of the topic", topic: "newsletter", in: profile.SubscriptionInput{Status: profile.Subscribed, Frequency: "hourly"},
			wantCode: errs.Unprocessable, wantFields: []string{"frequency"}},
		{name: "frequency on a topic without frequencies", topic: "orders", in: profile.SubscriptionInput{Status: profile.Subscribed, Frequency: "weekly"},
			wantCode: errs.Unprocessable, wantFields: []string{"frequency"}},
		{name: "unknown status", topic: "offers", in: profile.SubscriptionInput{Status: "on"},
			wantCode: errs.Invalid, wantFields: []string{"status"}},
		{name: "empty status", topic: "offers", in: profile.SubscriptionInput{},
			wantCode: errs.Invalid, wantFields: []string{"status"}},
		{name: "unknown topic", topic: "nope", in: profile.SubscriptionInput{Status: profile.Subscribed},
			wantCode: errs.NotFound, wantFields: []string{"topic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProfile()
			before := p.Clone()
			var input []string
			if tt.in.Channels != nil {
				input = slices.Clone(tt.in.Channels)
			}
			changes, err := p.SetSubscription(cat, tt.topic, tt.in, portal, t0)
			if !slices.Equal(tt.in.Channels, input) {
				t.Errorf("SetSubscription reordered the caller's channels: %v", tt.in.Channels)
			}
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("SetSubscription() = %+v, want %s", changes, tt.wantCode)
				}
				wantFields(t, err, tt.wantCode, tt.wantFields...)
				if !reflect.DeepEqual(p, before) {
					t.Errorf("a rejected change modified the profile")
				}
				return
			}
			if err != nil {
				t.Fatalf("SetSubscription() error = %v", err)
			}
			if len(changes) != 1 || changes[0].Type != profile.EventSubscriptionChanged || changes[0].Subject != tt.topic || changes[0].Old != nil {
				t.Fatalf("changes = %+v", changes)
			}
			got := p.Subscriptions[tt.topic]
			if got.Status != tt.in.Status || !slices.Equal(got.Channels, tt.wantChans) || got.Frequency != tt.wantFreq ||
				got.Source != portal || !got.UpdatedAt.Equal(t0) {
				t.Errorf("stored = %+v, want channels %v frequency %q", got, tt.wantChans, tt.wantFreq)
			}
			if got.Channels == nil {
				t.Errorf("Channels is nil; it must marshal as [] not null")
			}
			if !reflect.DeepEqual(changes[0].New, got) {
				t.Errorf("change.New = %+v, stored %+v", changes[0].New, got)
			}
		})
	}
}

func TestSetSubscriptionNoOp(t *testing.T) {
	cat := loadCatalog(t)
	offers, _ := cat.Topic("offers")
	p := newProfile()
	sub := profile.SubscriptionInput{Status: profile.Subscribed, Channels: []string{offers.Channels[0], offers.Channels[1]}}
	if _, err := p.SetSubscription(cat, "offers", sub, portal, t0); err != nil {
		t.Fatal(err)
	}
	stored := p.Subscriptions["offers"]
	tests := []struct {
		name string
		in   profile.SubscriptionInput
	}{
		{"same input", sub},
		{"channels in another order", profile.SubscriptionInput{Status: profile.Subscribed, Channels: []string{offers.Channels[1], offers.Channels[0]}}},
		{"explicit default frequency", profile.SubscriptionInput{Status: profile.Subscribed, Channels: sub.Channels, Frequency: offers.Frequencies[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := p.SetSubscription(cat, "offers", tt.in, apiKey, t0.Add(time.Hour))
			if err != nil || ch != nil {
				t.Fatalf("SetSubscription() = %+v, %v, want no change", ch, err)
			}
			if !reflect.DeepEqual(p.Subscriptions["offers"], stored) {
				t.Errorf("a no-op rewrote the subscription: %+v", p.Subscriptions["offers"])
			}
		})
	}

	// Unsubscribe: a change with Old; again: no change.
	ch, err := p.SetSubscription(cat, "offers", profile.SubscriptionInput{Status: profile.Unsubscribed}, portal, t0.Add(2*time.Hour))
	if err != nil || len(ch) != 1 {
		t.Fatalf("unsubscribe = %+v, %v", ch, err)
	}
	if old, ok := ch[0].Old.(profile.Subscription); !ok || old.Status != profile.Subscribed {
		t.Errorf("unsubscribe Old = %#v", ch[0].Old)
	}
	ch, err = p.SetSubscription(cat, "offers", profile.SubscriptionInput{Status: profile.Unsubscribed, Channels: []string{offers.Channels[0]}}, portal, t0.Add(3*time.Hour))
	if err != nil || ch != nil {
		t.Errorf("second unsubscribe = %+v, %v, want no change", ch, err)
	}
}

func TestSetRights(t *testing.T) {
	cat := loadCatalog(t)
	p := newProfile()
	tests := []struct {
		name      string
		in        profile.RightsInput
		wantTypes []string
		wantErr   []string
		check     func(t *testing.T, p *profile.Profile)
	}{
		{name: "nothing", in: profile.RightsInput{}},
		{name: "restrict", in: profile.RightsInput{Restricted: ptr(true)}, wantTypes: []string{profile.EventRestrictionChanged},
			check: func(t *testing.T, p *profile.Profile) {
				if !p.Rights.Restricted {
					t.Errorf("not restricted")
				}
			}},
		{name: "restrict again is a no-op", in: profile.RightsInput{Restricted: ptr(true)}},
		{name: "opt out of automated decisions", in: profile.RightsInput{AutomatedDecisionOptOut: ptr(true), Restricted: ptr(true)},
			wantTypes: []string{profile.EventAutomatedDecision}},
		{name: "object to two purposes", in: profile.RightsInput{Objections: map[string]bool{"marketing": true, "analytics": true}},
			wantTypes: []string{profile.EventObjectionChanged, profile.EventObjectionChanged},
			check: func(t *testing.T, p *profile.Profile) {
				for _, id := range []string{"marketing", "analytics"} {
					if at, ok := p.Rights.Objections[id]; !ok || !at.Equal(t0) {
						t.Errorf("objection %s = %v, %v", id, at, ok)
					}
				}
			}},
		{name: "object again and lift one", in: profile.RightsInput{Objections: map[string]bool{"marketing": true, "analytics": false}},
			wantTypes: []string{profile.EventObjectionChanged},
			check: func(t *testing.T, p *profile.Profile) {
				if _, ok := p.Rights.Objections["analytics"]; ok {
					t.Errorf("analytics objection not lifted")
				}
				if _, ok := p.Rights.Objections["marketing"]; !ok {
					t.Errorf("marketing objection lost")
				}
			}},
		{name: "lift an objection never made", in: profile.RightsInput{Objections: map[string]bool{"service": false}}},
		{name: "unknown purpose changes nothing", in: profile.RightsInput{Restricted: ptr(false), Objections: map[string]bool{"nope": true, "marketing": false}},
			wantErr: []string{"rights.objections.nope"},
			check: func(t *testing.T, p *profile.Profile) {
				if !p.Rights.Restricted {
					t.Errorf("restriction lifted by a rejected change")
				}
				if _, ok := p.Rights.Objections["marketing"]; !ok {
					t.Errorf("objection lifted by a rejected change")
				}
			}},
		{name: "lift restriction", in: profile.RightsInput{Restricted: ptr(false), AutomatedDecisionOptOut: ptr(false)},
			wantTypes: []string{profile.EventRestrictionChanged, profile.EventAutomatedDecision}},
	}
	// The rows run in order on one profile: each starts from the state the previous left.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, err := p.SetRights(cat, tt.in, t0)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("SetRights() = %+v, want error", changes)
				}
				wantFields(t, err, errs.Unprocessable, tt.wantErr...) // purposes the catalog lacks
			} else if err != nil {
				t.Fatalf("SetRights() error = %v", err)
			}
			var types []string
			for _, c := range changes {
				types = append(types, c.Type)
				if c.Old == c.New {
					t.Errorf("change %+v has Old == New", c)
				}
			}
			if !slices.Equal(types, tt.wantTypes) {
				t.Errorf("change types = %v, want %v", types, tt.wantTypes)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestAddIdentity(t *testing.T) {
	p := newProfile()
	for i := len(p.Identities); i < profile.MaxIdentities; i++ {
		id := profile.Identity{Type: "customer_id", Value: fmt.Sprintf("c-%d", i)}
		ch, err := p.AddIdentity(id, apiKey, t0)
		if err != nil || len(ch) != 1 || ch[0].Type != profile.EventIdentityAdded || ch[0].Subject != "customer_id" || ch[0].New != id {
			t.Fatalf("AddIdentity(%v) = %+v, %v", id, ch, err)
		}
	}
	if len(p.Identities) != profile.MaxIdentities {
		t.Fatalf("holds %d identities, want %d", len(p.Identities), profile.MaxIdentities)
	}
	tests := []struct {
		name    string
		id      profile.Identity
		wantErr bool
	}{
		{"one over the limit", profile.Identity{Type: "phone", Value: "+48123456789"}, true},
		{"one already held is a no-op even when full", p.Identities[3], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := p.AddIdentity(tt.id, apiKey, t0)
			if tt.wantErr {
				wantFields(t, err, errs.Invalid, "identities")
			} else if err != nil || ch != nil {
				t.Errorf("AddIdentity() = %+v, %v, want no change", ch, err)
			}
			if len(p.Identities) != profile.MaxIdentities {
				t.Errorf("holds %d identities", len(p.Identities))
			}
		})
	}
}

func TestRemoveIdentity(t *testing.T) {
	email := profile.Identity{Type: "email", Value: "anna@example.com"}
	phone := profile.Identity{Type: "phone", Value: "+48123456789"}
	p := newProfile()
	if _, err := p.AddIdentity(phone, apiKey, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       profile.Identity
		wantCode errs.Code
		wantLen  int
		changed  bool
	}{
		{name: "not held is a no-op", id: profile.Identity{Type: "email", Value: "eve@example.com"}, wantLen: 2},
		{name: "remove one of two", id: phone, wantLen: 1, changed: true},
		{name: "refuse to remove the last", id: email, wantCode: errs.Conflict, wantLen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := p.RemoveIdentity(tt.id)
			if tt.wantCode != "" {
				if errs.CodeOf(err) != tt.wantCode {
					t.Errorf("RemoveIdentity() error = %v, want %s", err, tt.wantCode)
				}
			} else if err != nil {
				t.Fatalf("RemoveIdentity() error = %v", err)
			}
			if tt.changed != (len(ch) == 1) {
				t.Errorf("changes = %+v, want changed=%v", ch, tt.changed)
			}
			if tt.changed && (ch[0].Type != profile.EventIdentityRemoved || ch[0].Old != tt.id || ch[0].Subject != tt.id.Type) {
				t.Errorf("change = %+v", ch[0])
			}
			if len(p.Identities) != tt.wantLen {
				t.Errorf("holds %v, want %d identities", p.Identities, tt.wantLen)
			}
		})
	}
	if !p.HasIdentity(email) {
		t.Errorf("the last identity was removed")
	}
}

func TestCloneIsDeep(t *testing.T) {
	cat := loadCatalog(t)
	p := newProfile()
	p.Attributes["vip"] = true
	if _, err := p.SetConsent(cat, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 1}, portal, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetRights(cat, profile.RightsInput{Objections: map[string]bool{"analytics": true}}, t0); err != nil {
		t.Fatal(err)
	}
	c := p.Clone()
	c.Identities[0].Value = "changed@example.com"
	c.Attributes["vip"] = false
	delete(c.Consents, "marketing")
	c.Subscriptions["x"] = profile.Subscription{}
	delete(c.Rights.Objections, "analytics")
	if p.Identities[0].Value != "anna@example.com" || p.Attributes["vip"] != true || len(p.Consents) != 1 ||
		len(p.Subscriptions) != 0 || len(p.Rights.Objections) != 1 {
		t.Errorf("changing the clone changed the original: %+v", p)
	}
}

// FuzzValidateAttribute: text attributes come back trimmed, printable and within their
// limit, and a stored value validates to itself.
func FuzzValidateAttribute(f *testing.F) {
	cat := loadCatalog(f)
	for _, s := range []struct{ name, value string }{
		{profile.AttrGivenName, "  Anna "}, {profile.AttrFamilyName, strings.Repeat("ł", 101)},
		{profile.AttrLocale, "pl-PL"}, {profile.AttrCountry, "PL"}, {"loyalty_tier", "gold\x00"},
		{"birth_date", "2024-02-29"}, {"birth_date", "2023-02-29"}, {"shoe_size", "42"}, {"vip", "true"},
		{"nope", "x"}, {profile.AttrGivenName, "\xff\xfe"}, {profile.AttrGivenName, "<script>alert(1)</script>"},
		{"loyalty_tier", "' OR 1=1; --"}, {profile.AttrGivenName, "\u00a0\u2028Anna\u2029"},
	} {
		f.Add(s.name, s.value)
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		got, reason := profile.ValidateAttribute(cat, name, value)
		if reason != "" {
			if got != nil {
				t.Fatalf("rejected (%s) but returned %#v", reason, got)
			}
			return
		}
		s, ok := got.(string)
		if !ok {
			t.Fatalf("string input stored as %T", got)
		}
		if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			t.Fatalf("stored %q is not printable text", s)
		}
		max := 1000
		switch name {
		case profile.AttrGivenName, profile.AttrFamilyName:
			max = 100
		default:
			if a, ok := cat.Attribute(name); ok && a.MaxLength > 0 {
				max = a.MaxLength
			}
		}
		if utf8.RuneCountInString(s) > max {
			t.Fatalf("stored %d runes, limit %d", utf8.RuneCountInString(s), max)
		}
		again, reason := profile.ValidateAttribute(cat, name, s)
		if reason != "" || again != got {
			t.Fatalf("stored value %q re-validates to %#v (%s)", s, again, reason)
		}
	})
}

// TestConsentMethod: how a consent was captured is kept on it as evidence, a change of it
// alone is a change, and an unknown method is refused naming the field.
func TestConsentMethod(t *testing.T) {
	cat := loadCatalog(t)
	p := newProfile()
	ch, err := p.SetConsent(cat, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2, Method: "written"}, apiKey, t0)
	if err != nil || len(ch) != 1 || p.Consents["marketing"].Method != "written" {
		t.Fatalf("grant with a method: %+v, %v; consent %+v", ch, err, p.Consents["marketing"])
	}
	if ch, err := p.SetConsent(cat, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2, Method: "double_opt_in"}, apiKey, t0); err != nil || len(ch) != 1 {
		t.Fatalf("a new method is a change: %+v, %v", ch, err)
	}
	_, err = p.SetConsent(cat, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2, Method: "carrier_pigeon"}, apiKey, t0)
	wantFields(t, err, errs.Invalid, "method")
}

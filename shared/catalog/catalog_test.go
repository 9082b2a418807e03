package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/jsonin"
)

// demoCatalogPath is the demo tenant's catalog, the one the local stack seeds.
const demoCatalogPath = "../../infra/seed/demo-catalog.json"

// loadDemo reads the demo catalog strictly (unknown fields are an error, as in the seeder).
func loadDemo(t testing.TB) *catalog.Catalog {
	t.Helper()
	b, err := os.ReadFile(demoCatalogPath)
	if err != nil {
		t.Fatalf("read demo catalog: %v", err)
	}
	c, err := catalog.Parse(b)
	if err != nil {
		t.Fatalf("decode demo catalog: %v", err)
	}
	return c
}

// fieldsOf returns the sorted, de-duplicated field paths of a Validate error.
// documentRule are the cases of TestValidateRejects whose rule the OpenAPI document states.
var documentRule = map[string]bool{
	"upper-case channel id":                   true,
	"empty channel id":                        true,
	"id starting with digit":                  true,
	"id with SQL injection":                   true,
	"id of 65 characters":                     true,
	"renamed purpose breaks topic references": true,
	"attribute name not an id":                true,
	"notice without versions":                 true,
	"negative retention":                      true,
	"negative default consent days":           true,
	"unknown legal basis":                     true,
	"empty legal basis":                       true,
	"topic with no channels":                  true,
	"topic with bad frequency":                true,
	"bad default locale":                      true,
	"bad locale in list":                      true,
	"region locale with lower-case region":    true,
	"no locales":                              true,
	"too many locales":                        true,
	"text too long":                           true,
	"notice text too long":                    true,
	"bad attribute type":                      true,
	"empty attribute type":                    true,
	"attribute type in upper case":            true,
	"attribute maxLength too large":           true,
	"attribute maxLength negative":            true,
	"too many identity types":                 true,
	"too many channels":                       true,
	"too many attributes":                     true,
	"too many notice versions":                true,
}

func fieldsOf(t *testing.T, err error, code errs.Code) []string {
	t.Helper()
	e, ok := errs.As(err)
	if !ok {
		t.Fatalf("Validate() = %v, want *errs.Error", err)
	}
	if e.Code != code {
		t.Fatalf("Validate() code = %q, want %q", e.Code, code)
	}
	var out []string
	for _, f := range e.Fields {
		if f.Reason == "" {
			t.Errorf("field %q has an empty reason", f.Field)
		}
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestValidateDemoCatalog(t *testing.T) {
	c := loadDemo(t)
	if err := c.Validate(); err != nil {
		if e, ok := errs.As(err); ok {
			t.Fatalf("demo catalog is invalid: %v", e.Fields)
		}
		t.Fatalf("demo catalog is invalid: %v", err)
	}
	// Sanity: the tests below index into these, so pin the layout they rely on.
	ids := func(n int, id func(int) string) []string {
		var out []string
		for i := range n {
			out = append(out, id(i))
		}
		return out
	}
	checks := []struct {
		what string
		got  []string
		want []string
	}{
		{"notices", ids(len(c.Notices), func(i int) string { return c.Notices[i].ID }), []string{"privacy", "partners"}},
		{"purposes", ids(len(c.Purposes), func(i int) string { return c.Purposes[i].ID }), []string{"marketing", "personalisation", "partners", "service", "analytics"}},
		{"channels", ids(len(c.Channels), func(i int) string { return c.Channels[i].ID }), []string{"email", "sms", "push", "post", "phone"}},
		{"topics", ids(len(c.Topics), func(i int) string { return c.Topics[i].ID }), []string{"newsletter", "offers", "orders", "partner-offers"}},
		{"attributes", ids(len(c.Attributes), func(i int) string { return c.Attributes[i].Name }), []string{"loyalty_tier", "birth_date", "shoe_size", "vip"}},
		{"identityTypes", c.IdentityTypes, []string{"loyalty_card"}},
	}
	for _, ck := range checks {
		if !slices.Equal(ck.got, ck.want) {
			t.Errorf("demo catalog %s = %v, want %v (update the tests if the demo catalog changed)", ck.what, ck.got, ck.want)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	long := strings.Repeat("x", catalog.MaxTextLen+1)
	tests := []struct {
		name   string
		mutate func(c *catalog.Catalog)
		// want is the exact set of reported field paths, unless contains is set, in which
		// case want only has to be a subset (for mutations that cascade).
		want     []string
		contains bool
	}{
		// duplicate ids
		{name: "duplicate purpose id", mutate: func(c *catalog.Catalog) { c.Purposes[4].ID = "marketing" },
			want: []string{"purposes[4].id"}},
		{name: "duplicate channel id", mutate: func(c *catalog.Catalog) { c.Channels[4].ID = "email" },
			want: []string{"channels[4].id"}},
		{name: "duplicate topic id", mutate: func(c *catalog.Catalog) { c.Topics[3].ID = "orders" },
			want: []string{"topics[3].id"}},
		{name: "duplicate notice id", mutate: func(c *catalog.Catalog) { c.Notices = append(c.Notices, c.Notices[0]) },
			want: []string{"notices[2].id"}},
		{name: "duplicate attribute name", mutate: func(c *catalog.Catalog) { c.Attributes[3].Name = "shoe_size" },
			want: []string{"attributes[3].name"}},
		// malformed ids
		{name: "upper-case channel id", mutate: func(c *catalog.Catalog) { c.Channels[4].ID = "Phone" },
			want: []string{"channels[4].id"}},
		{name: "empty channel id", mutate: func(c *catalog.Catalog) { c.Channels[4].ID = "" },
			want: []string{"channels[4].id"}},
		{name: "id starting with digit", mutate: func(c *catalog.Catalog) { c.Purposes[4].ID = "1analytics" },
			want: []string{"purposes[4].id"}},
		{name: "id with SQL injection", mutate: func(c *catalog.Catalog) { c.Purposes[4].ID = "a'; DROP TABLE x;--" },
			want: []string{"purposes[4].id"}},
		{name: "id of 65 characters", mutate: func(c *catalog.Catalog) { c.Purposes[4].ID = "a" + strings.Repeat("b", 64) },
			want: []string{"purposes[4].id"}},
		{name: "renamed purpose breaks topic references", mutate: func(c *catalog.Catalog) { c.Purposes[0].ID = "Marketing" },
			want: []string{"purposes[0].id", "topics[0].purpose", "topics[1].purpose", "attributes[0].purposes[1]"}},
		{name: "attribute name not an id", mutate: func(c *catalog.Catalog) { c.Attributes[0].Name = "Loyalty Tier" },
			want: []string{"attributes[0].name"}},
		// notices and notice versions
		{name: "unknown notice", mutate: func(c *catalog.Catalog) { c.Purposes[2].Notice = "nope" },
			want: []string{"purposes[2].notice"}},
		{name: "noticeVersion 0", mutate: func(c *catalog.Catalog) { c.Purposes[3].NoticeVersion = 0 },
			want: []string{"purposes[3].noticeVersion"}},
		{name: "noticeVersion negative", mutate: func(c *catalog.Catalog) { c.Purposes[3].NoticeVersion = -1 },
			want: []string{"purposes[3].noticeVersion", "purposes[3].reconsentBelow"}},
		{name: "noticeVersion above the latest", mutate: func(c *catalog.Catalog) { c.Purposes[3].NoticeVersion = 3 },
			want: []string{"purposes[3].noticeVersion"}},
		{name: "noticeVersion above the latest of its own notice", mutate: func(c *catalog.Catalog) { c.Purposes[2].NoticeVersion = 2 },
			want: []string{"purposes[2].noticeVersion"}},
		{name: "notice versions skip a number", mutate: func(c *catalog.Catalog) { c.Notices[0].Versions[1].Version = 3 },
			want: []string{"notices[0].versions[1].version"}},
		{name: "notice versions start at 0", mutate: func(c *catalog.Catalog) { c.Notices[1].Versions[0].Version = 0 },
			want: []string{"notices[1].versions[0].version", "purposes[2].noticeVersion"}},
		{name: "notice without versions", mutate: func(c *catalog.Catalog) { c.Notices[1].Versions = nil },
			want: []string{"notices[1].versions", "purposes[2].noticeVersion"}},
		{name: "notice version without text", mutate: func(c *catalog.Catalog) { c.Notices[0].Versions[0].Text = nil },
			want: []string{"notices[0].versions[0].text"}},
		{name: "notice without title", mutate: func(c *catalog.Catalog) { c.Notices[0].Title = catalog.Text{} },
			want: []string{"notices[0].title"}},
		{name: "reconsentBelow above noticeVersion", mutate: func(c *catalog.Catalog) { c.Purposes[0].ReconsentBelow = 3 },
			want: []string{"purposes[0].reconsentBelow"}},
		{name: "reconsentBelow negative", mutate: func(c *catalog.Catalog) { c.Purposes[0].ReconsentBelow = -1 },
			want: []string{"purposes[0].reconsentBelow"}},
		{name: "negative retention", mutate: func(c *catalog.Catalog) { c.Purposes[0].RetentionDays = -1 },
			want: []string{"purposes[0]"}},
		{name: "negative default consent days", mutate: func(c *catalog.Catalog) { c.Purposes[2].DefaultConsentDays = -30 },
			want: []string{"purposes[2]"}},
		{name: "unknown legal basis", mutate: func(c *catalog.Catalog) { c.Purposes[0].LegalBasis = "because" },
			want: []string{"purposes[0].legalBasis"}},
		{name: "empty legal basis", mutate: func(c *catalog.Catalog) { c.Purposes[0].LegalBasis = "" },
			want: []string{"purposes[0].legalBasis"}},
		{name: "purpose without name", mutate: func(c *catalog.Catalog) { c.Purposes[1].Name = nil },
			want: []string{"purposes[1].name"}},
		// topics
		{name: "topic with unknown channel", mutate: func(c *catalog.Catalog) { c.Topics[1].Channels = []string{"email", "fax"} },
			want: []string{"topics[1].channels[1]"}},
		{name: "topic with no channels", mutate: func(c *catalog.Catalog) { c.Topics[1].Channels = nil },
			want: []string{"topics[1].channels"}},
		{name: "topic with unknown purpose", mutate: func(c *catalog.Catalog) { c.Topics[0].Purpose = "nope" },
			want: []string{"topics[0].purpose"}},
		{name: "topic with empty purpose", mutate: func(c *catalog.Catalog) { c.Topics[2].Purpose = "" },
			want: []string{"topics[2].purpose"}},
		{name: "topic with bad frequency", mutate: func(c *catalog.Catalog) { c.Topics[0].Frequencies = []string{"weekly", "Every Day"} },
			want: []string{"topics[0].frequencies[1]"}},
		{name: "topic without name", mutate: func(c *catalog.Catalog) { c.Topics[3].Name = nil },
			want: []string{"topics[3].name"}},
		// locales
		{name: "bad default locale", mutate: func(c *catalog.Catalog) { c.DefaultLocale = "EN" },
			want: []string{"defaultLocale"}},
		{name: "default locale not listed", mutate: func(c *catalog.Catalog) { c.DefaultLocale = "de" },
			want: []string{"defaultLocale"}},
		{name: "bad locale in list", mutate: func(c *catalog.Catalog) { c.Locales = append(c.Locales, "english") },
			want: []string{"locales[2]"}},
		{name: "region locale with lower-case region", mutate: func(c *catalog.Catalog) { c.Locales = append(c.Locales, "en-gb") },
			want: []string{"locales[2]"}},
		{name: "no locales", mutate: func(c *catalog.Catalog) { c.Locales = nil },
			want: []string{"defaultLocale", "locales", "purposes[0].name.en"}, contains: true},
		{name: "too many locales", mutate: func(c *catalog.Catalog) {
			for i := range 19 {
				c.Locales = append(c.Locales, fmt.Sprintf("%c%c", 'a'+i, 'a'+i))
			}
		}, want: []string{"locales"}},
		// text
		{name: "purpose name in unlisted locale", mutate: func(c *catalog.Catalog) { c.Purposes[0].Name["de"] = "Marketing" },
			want: []string{"purposes[0].name.de"}},
		{name: "purpose description in unlisted locale", mutate: func(c *catalog.Catalog) { c.Purposes[0].Description["fr"] = "x" },
			want: []string{"purposes[0].description.fr"}},
		{name: "notice text in unlisted locale", mutate: func(c *catalog.Catalog) { c.Notices[0].Versions[1].Text["de"] = "x" },
			want: []string{"notices[0].versions[1].text.de"}},
		{name: "notice title in unlisted locale", mutate: func(c *catalog.Catalog) { c.Notices[1].Title["cs"] = "x" },
			want: []string{"notices[1].title.cs"}},
		{name: "channel name in unlisted locale", mutate: func(c *catalog.Catalog) { c.Channels[0].Name["de"] = "E-Mail" },
			want: []string{"channels[0].name.de"}},
		{name: "topic description in unlisted locale", mutate: func(c *catalog.Catalog) { c.Topics[0].Description["de"] = "x" },
			want: []string{"topics[0].description.de"}},
		{name: "attribute label in unlisted locale", mutate: func(c *catalog.Catalog) { c.Attributes[3].Label["de"] = "x" },
			want: []string{"attributes[3].label.de"}},
		{name: "text in a malformed locale", mutate: func(c *catalog.Catalog) { c.Purposes[0].Name["<script>"] = "x" },
			want: []string{"purposes[0].name.<script>"}},
		{name: "text too long", mutate: func(c *catalog.Catalog) { c.Purposes[0].Description["en"] = long },
			want: []string{"purposes[0].description.en"}},
		{name: "notice text too long", mutate: func(c *catalog.Catalog) { c.Notices[0].Versions[0].Text["pl"] = long },
			want: []string{"notices[0].versions[0].text.pl"}},
		{name: "channel without name", mutate: func(c *catalog.Catalog) { c.Channels[2].Name = nil },
			want: []string{"channels[2].name"}},
		// attributes
		{name: "bad attribute type", mutate: func(c *catalog.Catalog) { c.Attributes[0].Type = "text" },
			want: []string{"attributes[0].type"}},
		{name: "empty attribute type", mutate: func(c *catalog.Catalog) { c.Attributes[1].Type = "" },
			want: []string{"attributes[1].type"}},
		{name: "attribute type in upper case", mutate: func(c *catalog.Catalog) { c.Attributes[2].Type = "Number" },
			want: []string{"attributes[2].type"}},
		{name: "attribute maxLength too large", mutate: func(c *catalog.Catalog) { c.Attributes[0].MaxLength = 4097 },
			want: []string{"attributes[0].maxLength"}},
		{name: "attribute maxLength negative", mutate: func(c *catalog.Catalog) { c.Attributes[0].MaxLength = -1 },
			want: []string{"attributes[0].maxLength"}},
		// identity types
		{name: "identity type shadows email", mutate: func(c *catalog.Catalog) { c.IdentityTypes = append(c.IdentityTypes, "email") },
			want: []string{"identityTypes[1]"}},
		{name: "identity type shadows phone", mutate: func(c *catalog.Catalog) { c.IdentityCategories = nil; c.IdentityTypes = []string{"phone"} },
			want: []string{"identityTypes[0]"}},
		{name: "identity type shadows customer_id", mutate: func(c *catalog.Catalog) {
			c.IdentityCategories = nil
			c.IdentityTypes = []string{"loyalty_card", "customer_id"}
		},
			want: []string{"identityTypes[1]"}},
		{name: "identity type not an id", mutate: func(c *catalog.Catalog) { c.IdentityCategories = nil; c.IdentityTypes = []string{"Loyalty:Card"} },
			want: []string{"identityTypes[0]"}},
		{name: "identity type empty", mutate: func(c *catalog.Catalog) { c.IdentityCategories = nil; c.IdentityTypes = []string{""} },
			want: []string{"identityTypes[0]"}},
		// limits
		{name: "too many identity types", mutate: func(c *catalog.Catalog) {
			c.IdentityCategories = nil
			c.IdentityTypes = nil
			for i := range catalog.MaxIDTypes + 1 {
				c.IdentityTypes = append(c.IdentityTypes, fmt.Sprintf("card%d", i))
			}
		}, want: []string{"identityTypes"}},
		{name: "too many channels", mutate: func(c *catalog.Catalog) {
			for i := len(c.Channels); i <= catalog.MaxChannels; i++ {
				c.Channels = append(c.Channels, catalog.Channel{ID: fmt.Sprintf("ch%d", i), Name: catalog.Text{"en": "x"}})
			}
		}, want: []string{"channels"}},
		{name: "too many attributes", mutate: func(c *catalog.Catalog) {
			for i := len(c.Attributes); i <= catalog.MaxAttributes; i++ {
				c.Attributes = append(c.Attributes, catalog.Attribute{Name: fmt.Sprintf("a%d", i), Type: catalog.String})
			}
		}, want: []string{"attributes"}},
		{name: "too many notice versions", mutate: func(c *catalog.Catalog) {
			for v := len(c.Notices[1].Versions) + 1; v <= catalog.MaxVersions+1; v++ {
				c.Notices[1].Versions = append(c.Notices[1].Versions, catalog.NoticeVersion{Version: v, Text: catalog.Text{"en": "x"}})
			}
		}, want: []string{"notices[1].versions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadDemo(t)
			tt.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want fields %v", tt.want)
			}
			// What the document bounds is Invalid; references between the catalog's parts (a
			// notice, a locale, a duplicate id) are rules across fields, Unprocessable.
			code := errs.Unprocessable
			if documentRule[tt.name] {
				code = errs.Invalid
			}
			got := fieldsOf(t, err, code)
			if tt.contains {
				for _, w := range tt.want {
					if !slices.Contains(got, w) {
						t.Errorf("Validate() fields = %v, want them to include %q", got, w)
					}
				}
				return
			}
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Validate() fields = %v, want %v", got, want)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *catalog.Catalog)
	}{
		{"region locale", func(c *catalog.Catalog) { c.Locales = append(c.Locales, "en-GB") }},
		{"no custom identity types", func(c *catalog.Catalog) { c.IdentityCategories = nil; c.IdentityTypes = nil }},
		{"no attributes", func(c *catalog.Catalog) { c.Attributes = nil }},
		{"older notice version shown", func(c *catalog.Catalog) { c.Purposes[0].NoticeVersion = 1 }},
		{"reconsentBelow equal to noticeVersion", func(c *catalog.Catalog) { c.Purposes[0].ReconsentBelow = 2 }},
		{"text of exactly the maximum length", func(c *catalog.Catalog) {
			c.Purposes[0].Description["en"] = strings.Repeat("x", catalog.MaxTextLen)
		}},
		{"maxLength at the limit", func(c *catalog.Catalog) { c.Attributes[0].MaxLength = 4096 }},
		{"id of 64 characters", func(c *catalog.Catalog) { c.Purposes[4].ID = "a" + strings.Repeat("b", 63) }},
		{"exactly MaxIDTypes identity types", func(c *catalog.Catalog) {
			c.IdentityCategories = nil
			c.IdentityTypes = nil
			for i := range catalog.MaxIDTypes {
				c.IdentityTypes = append(c.IdentityTypes, fmt.Sprintf("card%d", i))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadDemo(t)
			tt.mutate(c)
			if err := c.Validate(); err != nil {
				e, _ := errs.As(err)
				t.Fatalf("Validate() = %v (fields %v), want nil", err, e.Fields)
			}
		})
	}
}

func TestTextIn(t *testing.T) {
	tests := []struct {
		name             string
		text             catalog.Text
		locale, fallback string
		want             string
	}{
		{"exact locale", catalog.Text{"en": "Hello", "pl": "Cześć"}, "pl", "en", "Cześć"},
		{"fallback locale", catalog.Text{"en": "Hello", "pl": "Cześć"}, "de", "en", "Hello"},
		{"fallback when locale empty string", catalog.Text{"en": "Hello", "pl": "Cześć"}, "", "pl", "Cześć"},
		{"neither: first locale in sorted order", catalog.Text{"pl": "Cześć", "de": "Hallo", "fr": "Salut"}, "en", "cs", "Hallo"},
		{"region locale is not its language", catalog.Text{"en": "Hello"}, "en-GB", "pl", "Hello"},
		{"region locale exact", catalog.Text{"en": "Hello", "en-GB": "Hiya"}, "en-GB", "en", "Hiya"},
		{"empty text", catalog.Text{}, "en", "en", ""},
		{"nil text", nil, "en", "pl", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.text.In(tt.locale, tt.fallback); got != tt.want {
				t.Errorf("In(%q, %q) = %q, want %q", tt.locale, tt.fallback, got, tt.want)
			}
		})
	}
}

func TestTextInIsDeterministic(t *testing.T) {
	text := catalog.Text{}
	for _, l := range []string{"pl", "de", "fr", "cs", "sk", "it", "es", "nl"} {
		text[l] = "text-" + l
	}
	for range 50 {
		if got := text.In("en", "en-GB"); got != "text-cs" {
			t.Fatalf("In() = %q, want the alphabetically first locale's text every time", got)
		}
	}
}

func TestLookups(t *testing.T) {
	c := loadDemo(t)
	if p, ok := c.Purpose("partners"); !ok || p.DefaultConsentDays != 365 || !p.SaleOrSharing {
		t.Errorf("Purpose(partners) = %+v, %v", p, ok)
	}
	if _, ok := c.Purpose("nope"); ok {
		t.Errorf("Purpose(nope) found")
	}
	if tp, ok := c.Topic("offers"); !ok || tp.Purpose != "marketing" || !slices.Equal(tp.Channels, []string{"email", "sms", "push"}) {
		t.Errorf("Topic(offers) = %+v, %v", tp, ok)
	}
	if _, ok := c.Topic(""); ok {
		t.Errorf("Topic(\"\") found")
	}
	if !c.HasChannel("sms") || c.HasChannel("fax") || c.HasChannel("") {
		t.Errorf("HasChannel wrong")
	}
	if a, ok := c.Attribute("birth_date"); !ok || a.Type != catalog.Date {
		t.Errorf("Attribute(birth_date) = %+v, %v", a, ok)
	}
	if n, ok := c.Notice("privacy"); !ok || len(n.Versions) != 2 {
		t.Errorf("Notice(privacy) = %+v, %v", n, ok)
	}
	for _, typ := range []struct {
		t    string
		want bool
	}{{"email", true}, {"phone", true}, {"customer_id", true}, {"loyalty_card", true}, {"fax", false}, {"", false}, {"EMAIL", false}} {
		if got := c.IdentityType(typ.t); got != typ.want {
			t.Errorf("IdentityType(%q) = %v, want %v", typ.t, got, typ.want)
		}
	}
	if !c.SupportsLocale("pl") || c.SupportsLocale("de") || c.SupportsLocale("") {
		t.Errorf("SupportsLocale wrong")
	}
}

func TestLegalBasisValid(t *testing.T) {
	for _, b := range []catalog.LegalBasis{catalog.Consent, catalog.Contract, catalog.LegalObligation, catalog.VitalInterests, catalog.PublicTask, catalog.LegitimateInterests} {
		if !b.Valid() {
			t.Errorf("%q.Valid() = false", b)
		}
	}
	for _, b := range []catalog.LegalBasis{"", "Consent", "legitimate-interests", "consent "} {
		if b.Valid() {
			t.Errorf("%q.Valid() = true", b)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true}, {"marketing", true}, {"partner-offers", true}, {"loyalty_card", true}, {"a1", true},
		{"a" + strings.Repeat("b", 63), true}, {"a" + strings.Repeat("b", 64), false},
		{"", false}, {"1a", false}, {"-a", false}, {"_a", false}, {"A", false}, {"aB", false},
		{"a b", false}, {"a.b", false}, {"a:b", false}, {"a#b", false}, {"ą", false}, {"a\n", false}, {"a\x00", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.id), func(t *testing.T) {
			if got := catalog.ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

// FuzzValidate feeds arbitrary JSON to Validate: it must never panic, and any catalog it
// accepts must have every reference resolvable.
func FuzzValidate(f *testing.F) {
	demo, err := os.ReadFile(demoCatalogPath)
	if err != nil {
		f.Fatalf("read demo catalog: %v", err)
	}
	f.Add(demo)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"defaultLocale":"en","locales":["en"]}`))
	f.Add([]byte(`{"defaultLocale":"en","locales":["en"],"notices":[{"id":"n","title":{"en":"t"},"versions":[{"version":1,"text":{"en":"x"}}]}],"purposes":[{"id":"p","name":{"en":"p"},"legalBasis":"consent","notice":"n","noticeVersion":1}],"channels":[{"id":"email","name":{"en":"e"}}],"topics":[{"id":"t","name":{"en":"t"},"purpose":"p","channels":["email"]}]}`))
	f.Add([]byte(`{"defaultLocale":"en","locales":["en"],"purposes":[{"id":"p","notice":"missing","noticeVersion":-1}]}`))
	f.Add([]byte(`{"identityTypes":["email","<script>alert(1)</script>"]}`))
	f.Add([]byte(`{"defaultLocale":"en","defaultLocale":"pl","locales":["en"]}`))
	f.Add([]byte("{\"defaultLocale\":\"en\xff\",\"locales\":[\"en\"]}"))
	f.Add([]byte(`{"defaultLocale":"\ud800","locales":null}`))
	f.Add([]byte(`{"version":2.0,"defaultLocale":"en","locales":["en\u0000"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		parsed, err := catalog.Parse(b)
		if err != nil {
			var e *jsonin.Error
			if !errors.As(err, &e) || e.Path == "" {
				t.Fatalf("Parse(%q) = %v, want a *jsonin.Error with a path", b, err)
			}
			return
		}
		// What Parse accepts breaks no rule of jsonin: no duplicate key, invalid UTF-8,
		// lone surrogate, control character or null.
		if err := jsonin.Valid(b); err != nil {
			t.Fatalf("Parse accepted %q, which jsonin refuses: %v", b, err)
		}
		c := *parsed
		if err := c.Validate(); err != nil {
			if _, ok := errs.As(err); !ok || errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("Validate() = %v, want an Invalid *errs.Error", err)
			}
			return
		}
		if !c.SupportsLocale(c.DefaultLocale) {
			t.Fatalf("accepted catalog's default locale %q is not in locales", c.DefaultLocale)
		}
		for _, p := range c.Purposes {
			n, ok := c.Notice(p.Notice)
			if !ok || p.NoticeVersion < 1 || p.NoticeVersion > len(n.Versions) {
				t.Fatalf("accepted purpose %q has an unresolvable notice %q v%d", p.ID, p.Notice, p.NoticeVersion)
			}
		}
		for _, tp := range c.Topics {
			if _, ok := c.Purpose(tp.Purpose); !ok {
				t.Fatalf("accepted topic %q names unknown purpose %q", tp.ID, tp.Purpose)
			}
			for _, ch := range tp.Channels {
				if !c.HasChannel(ch) {
					t.Fatalf("accepted topic %q names unknown channel %q", tp.ID, ch)
				}
			}
		}
		for _, it := range c.IdentityTypes {
			if slices.Contains(catalog.BuiltinIdentityTypes, it) || !catalog.ValidID(it) {
				t.Fatalf("accepted identity type %q", it)
			}
		}
	})
}

func TestParseNamesThePath(t *testing.T) {
	tests := []struct{ name, in, path, reason string }{
		{"duplicate key", `{"notices":[{"id":"n","id":"m"}]}`, "notices[0].id", "appears more than once"},
		{"wrong type deep", `{"purposes":[{},{"noticeVersion":"2"}]}`, "purposes[1].noticeVersion", "must be a whole number"},
		{"fraction", `{"purposes":[{"noticeVersion":1.5}]}`, "purposes[0].noticeVersion", "must be a whole number"},
		{"newline in a name", `{"purposes":[{"name":{"en":"a\nb"}}]}`, "purposes[0].name.en", "must not hold control characters"},
		{"NUL in notice text", `{"notices":[{"versions":[{"text":{"en":"a\u0000"}}]}]}`, "notices[0].versions[0].text.en", "must not hold control characters"},
		{"null list", `{"topics":null}`, "topics", "must not be null"},
		{"misspelt key", `{"purposes":[{"legalbasis":"consent"}]}`, "purposes[0].legalbasis", "is not a known field"},
		{"wrong-typed time", `{"updatedAt":true}`, "updatedAt", "must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := catalog.Parse([]byte(tt.in))
			var e *jsonin.Error
			if !errors.As(err, &e) || e.Path != tt.path || e.Reason != tt.reason {
				t.Fatalf("Parse(%s) = %v, want %s: %s", tt.in, err, tt.path, tt.reason)
			}
		})
	}
	c, err := catalog.Parse([]byte(`{"version":3.0,"notices":[{"versions":[{"text":{"en":"line 1\nline 2"}}]}]}`))
	if err != nil || c.Version != 3 || c.Notices[0].Versions[0].Text["en"] != "line 1\nline 2" {
		t.Fatalf("Parse = %+v, %v: want version 3 and a two-line notice text", c, err)
	}
}

// FuzzShapes holds the hand-written identifier and locale checks to their patterns.
func FuzzShapes(f *testing.F) {
	id, locale := regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`), regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
	for _, s := range []string{"a", "marketing", "a-", "1a", "en", "en-GB", "en-gb", "EN", "e", "en-G", "en_GB", "pl\n", "ą", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := catalog.ValidID(s), id.MatchString(s); got != want {
			t.Fatalf("ValidID(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := catalog.ValidLocale(s), locale.MatchString(s); got != want {
			t.Fatalf("ValidLocale(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

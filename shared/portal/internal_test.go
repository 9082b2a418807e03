package portal

import (
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/transparency"
)

func TestDefaultThemeContrast(t *testing.T) {
	th := NewTheme(Brand{})
	pairs := map[string][2]string{
		"text":           {th.Text, th.Background},
		"links":          {th.Primary, th.Background},
		"button text":    {th.OnPrimary, th.Primary},
		"error messages": {th.Error, th.Background},
	}
	for name, p := range pairs {
		if c := Contrast(p[0], p[1]); c < MinContrast {
			t.Errorf("%s: contrast %.2f < %.1f", name, c, MinContrast)
		}
	}
}

func TestThemeValidation(t *testing.T) {
	cases := []struct {
		name string
		in   Brand
		want func(Theme) bool
	}{
		{"good brand colours kept", Brand{Name: "Acme", PrimaryColor: "#7A1F5C", BackgroundColor: "#FFFDF5", TextColor: "#222222"},
			func(t Theme) bool {
				return t.Primary == "#7a1f5c" && t.Background == "#fffdf5" && t.Text == "#222222" && t.Name == "Acme"
			}},
		{"malformed colours fall back", Brand{PrimaryColor: "red", BackgroundColor: "#fff", TextColor: "#12345g"},
			func(t Theme) bool {
				return t.Primary == defaultPrimary && t.Background == defaultBackground && t.Text == defaultText
			}},
		{"CSS injection refused", Brand{PrimaryColor: "#000000;}body{display:none", TextColor: "#000000}"},
			func(t Theme) bool { return t.Primary == defaultPrimary && t.Text == defaultText }},
		{"unreadable text falls back", Brand{BackgroundColor: "#ffffff", TextColor: "#eeeeee"},
			func(t Theme) bool { return t.Text == defaultText && t.Background == defaultBackground }},
		{"pale primary falls back", Brand{PrimaryColor: "#ffff00"},
			func(t Theme) bool { return t.Primary == defaultPrimary }},
		{"dark background", Brand{BackgroundColor: "#111111", TextColor: "#f5f5f5"},
			func(t Theme) bool {
				return t.Background == "#111111" && Contrast(t.Primary, t.Background) >= MinContrast && Contrast(t.Error, t.Background) >= MinContrast
			}},
		{"https logo kept", Brand{LogoURL: "https://cdn.example.com/logo.svg"},
			func(t Theme) bool { return t.LogoURL != "" && t.logoOrigin == "https://cdn.example.com" }},
		{"http logo dropped", Brand{LogoURL: "http://cdn.example.com/logo.svg"}, func(t Theme) bool { return t.LogoURL == "" }},
		{"javascript logo dropped", Brand{LogoURL: "javascript:alert(1)"}, func(t Theme) bool { return t.LogoURL == "" }},
		{"logo with quotes dropped", Brand{LogoURL: `https://x.example/"onerror=`}, func(t Theme) bool { return t.LogoURL == "" }},
		{"logo with credentials dropped", Brand{LogoURL: "https://u:p@x.example/l.png"}, func(t Theme) bool { return t.LogoURL == "" }},
		{"no name", Brand{}, func(t Theme) bool { return t.Name == defaultName }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := NewTheme(c.in)
			if !c.want(th) {
				t.Fatalf("theme %+v", th)
			}
			for _, pair := range [][2]string{{th.Text, th.Background}, {th.Primary, th.Background}, {th.OnPrimary, th.Primary}, {th.Error, th.Background}} {
				if Contrast(pair[0], pair[1]) < MinContrast {
					t.Fatalf("a validated theme has contrast %.2f for %v", Contrast(pair[0], pair[1]), pair)
				}
			}
		})
	}
}

func TestMessagesComplete(t *testing.T) {
	en := slices.Sorted(maps.Keys(messages["en"]))
	for _, lang := range uiLangs {
		got := slices.Sorted(maps.Keys(messages[lang]))
		if !slices.Equal(got, en) {
			for _, k := range en {
				if _, ok := messages[lang][k]; !ok {
					t.Errorf("%s lacks %q", lang, k)
				}
			}
			for _, k := range got {
				if _, ok := messages["en"][k]; !ok {
					t.Errorf("%s has %q, which en lacks", lang, k)
				}
			}
		}
		for k, v := range messages[lang] {
			if strings.Count(v, "%") != strings.Count(messages["en"][k], "%") {
				t.Errorf("%s %q has other format verbs than en", lang, k)
			}
		}
	}
}

// TestTemplatesUseKnownKeys: every key a template or handler names, and every key made from
// a domain value (statuses, types, bases), has a message.
func TestTemplatesUseKnownKeys(t *testing.T) {
	var keys []string
	pages, err := filepath.Glob("*.templ")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no .templ files: %v", err)
	}
	for _, name := range pages {
		b, _ := os.ReadFile(name)
		for _, m := range regexp.MustCompile(`\.T\("([a-zA-Z0-9.]+)"`).FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
	}
	files, _ := os.ReadDir(".")
	lit := regexp.MustCompile(`r\.t\("([a-zA-Z0-9.]+)"|"((?:error|link)\.[a-zA-Z]+Title)"|"((?:error|link)\.[a-z]+[A-Za-z]*)"`)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") || f.Name() == "messages.go" {
			continue
		}
		b, _ := os.ReadFile(f.Name())
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			for _, k := range m[1:] {
				if k != "" && !strings.HasSuffix(k, ".") {
					keys = append(keys, k)
				}
			}
		}
	}
	for _, s := range sections {
		keys = append(keys, "nav."+s[0])
	}
	for _, d := range doneKeys {
		keys = append(keys, "done."+d)
	}
	for _, ty := range dsr.Types {
		keys = append(keys, "reqtype."+string(ty))
	}
	for _, st := range []dsr.Status{dsr.Pending, dsr.InProgress, dsr.Completed, dsr.Cancelled, dsr.Denied, dsr.Failed} {
		keys = append(keys, "status."+string(st))
	}
	for _, st := range []profile.ConsentStatus{profile.Granted, profile.Denied, profile.Withdrawn} {
		keys = append(keys, "consent."+string(st), "ev.consent."+string(st))
	}
	keys = append(keys, "sub.subscribed", "sub.unsubscribed")
	for _, b := range []catalog.LegalBasis{catalog.Consent, catalog.Contract, catalog.LegalObligation, catalog.VitalInterests, catalog.PublicTask, catalog.LegitimateInterests} {
		keys = append(keys, "basis."+string(b))
	}
	for _, a := range catalog.StandardAttributes {
		keys = append(keys, "attr."+a)
	}
	for _, id := range catalog.BuiltinIdentityTypes {
		keys = append(keys, "identity."+id)
	}
	if len(keys) < 100 {
		t.Fatalf("found only %d keys: the scan is broken", len(keys))
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(keys))) {
		if _, ok := messages["en"][k]; !ok {
			t.Errorf("no message %q", k)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	cases := map[string]string{
		"pl-PL,pl;q=0.9,en;q=0.8": "pl",
		"de-DE,en;q=0.5,pl;q=0.7": "pl",
		"en-GB":                   "en",
		"de, fr":                  "",
		"":                        "",
		"pl;q=0, en;q=0.1":        "en",
		"pl;q=abc, en":            "en",
	}
	for h, want := range cases {
		if got := acceptLanguage(h); got != want {
			t.Errorf("%q: %q, want %q", h, got, want)
		}
	}
}

func TestDates(t *testing.T) {
	tm := mustTime("2026-03-05T09:07:00Z")
	if got := date("pl", tm); got != "5 marca 2026" {
		t.Error(got)
	}
	if got := dateTime("en", tm); got != "5 March 2026, 09:07 UTC" {
		t.Error(got)
	}
}

func mustTime(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}

func TestCheckForm(t *testing.T) {
	tests := []struct {
		name, route   string
		form          url.Values
		field, reason string // "" when accepted
	}{
		{"clean", "POST /portal/{tenant}/consents", url.Values{"csrf": {"x"}, "purpose": {"marketing"}}, "", ""},
		{"checkbox group repeats", "POST /portal/{tenant}/rights", url.Values{"action": {"objections"}, "object": {"a", "b"}}, "", ""},
		{"prefixed fields", "POST /portal/{tenant}/subscriptions", url.Values{"sub.news.email": {"on"}, "freq.news": {"weekly"}}, "", ""},
		{"attribute fields keep lines", "POST /portal/{tenant}/details", url.Values{"attr-address": {"1 Main St\r\nTown\t"}}, "", ""},
		{"unknown field", "POST /portal/{tenant}/consents", url.Values{"next": {"/x"}}, "next", "is not a field of this form"},
		{"unknown route takes only csrf", "POST /portal/{tenant}/elsewhere", url.Values{"a": {"1"}}, "a", "is not a field of this form"},
		{"duplicate", "POST /portal/{tenant}/consents", url.Values{"decision": {"grant", "withdraw"}}, "decision", "appears more than once"},
		{"invalid UTF-8", "POST /portal/{tenant}/login", url.Values{"email": {"a\xff@b.example"}}, "email", "is not valid UTF-8 or holds a control character"},
		{"NUL", "POST /portal/{tenant}/login", url.Values{"email": {"a\x00@b.example"}}, "email", "is not valid UTF-8 or holds a control character"},
		{"DEL", "POST /portal/{tenant}/login", url.Values{"email": {"a\x7f@b.example"}}, "email", "is not valid UTF-8 or holds a control character"},
		{"C1", "POST /portal/{tenant}/login", url.Values{"email": {"a\u009b@b.example"}}, "email", "is not valid UTF-8 or holds a control character"},
		{"newline in a name", "POST /portal/{tenant}/login", url.Values{"em\nail": {"x"}}, "em\nail", "is not a field name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkForm(tt.route, tt.form)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("checkForm = %v, want nil", err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid || len(e.Fields) != 1 || e.Fields[0] != (errs.FieldError{Field: tt.field, Reason: tt.reason}) {
				t.Fatalf("checkForm = %#v, want %q: %q", err, tt.field, tt.reason)
			}
		})
	}
}

// FuzzCheckForm: checkForm never panics, and any form it takes has only the route's fields,
// each once (checkbox groups aside), in valid UTF-8 without control characters.
func FuzzCheckForm(f *testing.F) {
	for _, s := range []string{"csrf=x&purpose=marketing&decision=grant", "decision=a&decision=b", "purpose=%ff", "purpose=%00",
		"%c2%85=1", "object=a&object=b&action=objections", "attr-address=a%0D%0Ab"} {
		f.Add("POST /portal/{tenant}/consents", s)
		f.Add("POST /portal/{tenant}/rights", s)
	}
	f.Fuzz(func(t *testing.T, route, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if checkForm(route, form) != nil {
			return
		}
		known := formFields[strings.TrimPrefix(route, "POST ")]
		for name, vs := range form {
			if known == nil && name != "csrf" || known != nil && !known(name) {
				t.Fatalf("took the field %q on %s", name, route)
			}
			if len(vs) > 1 && !repeatable[name] {
				t.Fatalf("took %q %d times", name, len(vs))
			}
			if !clean(name, false) {
				t.Fatalf("took the name %q", name)
			}
			for _, v := range vs {
				if !utf8.ValidString(v) || strings.ContainsFunc(v, func(c rune) bool {
					return (c < 0x20 || 0x7f <= c && c <= 0x9f) && c != '\t' && c != '\n' && c != '\r'
				}) {
					t.Fatalf("took the value %q", v)
				}
			}
		}
	})
}

// TestPrivacyMessages: every key the transparency page names is written in both languages,
// with the same placeholders.
func TestPrivacyMessages(t *testing.T) {
	b, err := os.ReadFile("page_privacy.templ")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range regexp.MustCompile(`\.P\("([a-zA-Z0-9.]+)"`).FindAllStringSubmatch(string(b), -1) {
		if !strings.HasSuffix(m[1], ".") {
			keys = append(keys, m[1])
		}
	}
	for _, k := range rightKeys {
		keys = append(keys, "right."+k, "right."+k+".text")
	}
	if len(keys) < 30 {
		t.Fatalf("found only %d keys: the scan is broken", len(keys))
	}
	for _, lang := range uiLangs {
		for _, k := range keys {
			if privacyMessages[lang][k] == "" {
				t.Errorf("%s: no privacy message %q", lang, k)
			}
		}
		if len(privacyMessages[lang]) != len(privacyMessages["en"]) {
			t.Errorf("%s has %d privacy messages, en %d", lang, len(privacyMessages[lang]), len(privacyMessages["en"]))
		}
		for k, v := range privacyMessages[lang] {
			if strings.Count(v, "%") != strings.Count(privacyMessages["en"][k], "%") {
				t.Errorf("%s %q: placeholders differ from English", lang, k)
			}
		}
	}
	if len(rightKeys) != len(transparency.Rights) {
		t.Errorf("the page explains %d rights, the JSON-LD names %d", len(rightKeys), len(transparency.Rights))
	}
}

package profile_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/profile"
)

func TestNormalizeIdentity(t *testing.T) {
	cat := loadCatalog(t)
	local64 := strings.Repeat("a", 64)
	tests := []struct {
		name, typ, value string
		want             string // normalized value; "" means the value is rejected
		reason           string // when rejected and set, the exact reason
	}{
		// email
		{name: "email lower-cased", typ: "email", value: "Anna.Nowak@Example.COM", want: "anna.nowak@example.com"},
		{name: "email trimmed", typ: "email", value: "  anna@example.com\u00a0", want: "anna@example.com"},
		{name: "email plus tag and apostrophe", typ: "email", value: "o'brien+news@example.co.uk", want: "o'brien+news@example.co.uk"},
		{name: "email unicode domain lower-cased", typ: "email", value: "Zofia@ŻÓŁW.PL", want: "zofia@żółw.pl"},
		{name: "email local part of 64", typ: "email", value: local64 + "@example.com", want: local64 + "@example.com"},
		{name: "email of 254 bytes", typ: "email", value: local64 + "@" + strings.Repeat("b", 185) + ".com", want: local64 + "@" + strings.Repeat("b", 185) + ".com"},
		{name: "email of 255 bytes", typ: "email", value: local64 + "@" + strings.Repeat("b", 186) + ".com"},
		{name: "email local part of 65", typ: "email", value: local64 + "a@example.com"},
		{name: "email without domain dot", typ: "email", value: "anna@localhost"},
		{name: "email without at", typ: "email", value: "anna.example.com"},
		{name: "email without local part", typ: "email", value: "@example.com"},
		{name: "email without domain", typ: "email", value: "anna@"},
		{name: "email with two ats", typ: "email", value: "anna@@example.com"},
		{name: "email with display name", typ: "email", value: "Anna <anna@example.com>"},
		{name: "email in angle brackets", typ: "email", value: "<anna@example.com>"},
		{name: "email with comment", typ: "email", value: "anna@example.com (Anna)"},
		{name: "email with quoted local part", typ: "email", value: `"anna nowak"@example.com`},
		{name: "email with IP literal", typ: "email", value: "anna@[192.168.0.1]"},
		{name: "email domain starts with dot", typ: "email", value: "anna@.example.com"},
		{name: "email domain ends with dot", typ: "email", value: "anna@example.com."},
		{name: "email list", typ: "email", value: "anna@example.com, eve@example.com"},
		{name: "email SQL injection", typ: "email", value: "anna@example.com'; DROP TABLE profiles;--"},
		{name: "email HTML injection", typ: "email", value: "<script>alert(1)</script>@example.com"},
		{name: "email empty", typ: "email", value: ""},
		{name: "email blank", typ: "email", value: "   "},
		{name: "email with newline", typ: "email", value: "anna@example.com\nBcc: eve@example.com", reason: "must be printable text"},
		{name: "email with trailing newline", typ: "email", value: "anna@example.com\n", reason: "must be printable text"},
		{name: "email with NUL", typ: "email", value: "anna\x00@example.com", reason: "must be printable text"},
		{name: "email with DEL", typ: "email", value: "anna\x7f@example.com", reason: "must be printable text"},
		{name: "email with C1 control", typ: "email", value: "anna\u0085@example.com", reason: "must be printable text"},
		{name: "email invalid UTF-8", typ: "email", value: "anna\xff@example.com", reason: "must be printable text"},
		// phone
		{name: "phone with spaces and dashes", typ: "phone", value: "+48 123-456-789", want: "+48123456789"},
		{name: "phone with 00 prefix", typ: "phone", value: "0048123456789", want: "+48123456789"},
		{name: "phone with brackets and dots", typ: "phone", value: "+48 (12) 345.67.89", want: "+48123456789"},
		{name: "phone trimmed", typ: "phone", value: "  +48123456789  ", want: "+48123456789"},
		{name: "phone of 8 digits", typ: "phone", value: "+12345678", want: "+12345678"},
		{name: "phone of 15 digits", typ: "phone", value: "+123456789012345", want: "+123456789012345"},
		{name: "phone of 7 digits", typ: "phone", value: "+1234567"},
		{name: "phone of 16 digits", typ: "phone", value: "+1234567890123456"},
		{name: "local phone number", typ: "phone", value: "123456789"},
		{name: "national trunk prefix", typ: "phone", value: "0123456789"},
		{name: "country code starting with 0", typ: "phone", value: "+0123456789"},
		{name: "00 then 0", typ: "phone", value: "000123456789"},
		{name: "double plus", typ: "phone", value: "++48123456789"},
		{name: "00 then plus", typ: "phone", value: "00+48123456789"},
		{name: "plus in the middle", typ: "phone", value: "48+123456789"},
		{name: "letters", typ: "phone", value: "+48 123 CALL ME"},
		{name: "extension", typ: "phone", value: "+48123456789 ext 12"},
		{name: "arabic-indic digits", typ: "phone", value: "+٤٨١٢٣٤٥٦٧٨٩"},
		{name: "fullwidth digits", typ: "phone", value: "+４８１２３４５６７８９"},
		{name: "phone with tab", typ: "phone", value: "+48\t123456789", reason: "must be printable text"},
		{name: "phone SQL injection", typ: "phone", value: "+48123456789' OR '1'='1"},
		{name: "phone just plus", typ: "phone", value: "+"},
		{name: "phone empty", typ: "phone", value: ""},
		// customer_id and custom types
		{name: "customer id keeps case", typ: "customer_id", value: "CRM-00042-AbC", want: "CRM-00042-AbC"},
		{name: "customer id trimmed", typ: "customer_id", value: "  c-1  ", want: "c-1"},
		{name: "customer id of 128 bytes", typ: "customer_id", value: strings.Repeat("x", 128), want: strings.Repeat("x", 128)},
		{name: "customer id of 129 bytes", typ: "customer_id", value: strings.Repeat("x", 129)},
		{name: "customer id of 65 two-byte runes", typ: "customer_id", value: strings.Repeat("ż", 65)},
		{name: "customer id empty", typ: "customer_id", value: ""},
		{name: "customer id blank", typ: "customer_id", value: " \u00a0 "},
		{name: "customer id with colon", typ: "customer_id", value: "a:b", want: "a:b"},
		{name: "customer id with NUL", typ: "customer_id", value: "c\x00", reason: "must be printable text"},
		{name: "customer id with escape sequence", typ: "customer_id", value: "\x1b[31mred", reason: "must be printable text"},
		{name: "customer id invalid UTF-8", typ: "customer_id", value: "\xc3\x28", reason: "must be printable text"},
		{name: "declared custom type", typ: "loyalty_card", value: "LC-0001", want: "LC-0001"},
		{name: "declared custom type too long", typ: "loyalty_card", value: strings.Repeat("9", 129)},
		// unknown types
		{name: "unknown type", typ: "fax", value: "+48123456789", reason: "unknown identity type"},
		{name: "empty type", typ: "", value: "anna@example.com", reason: "unknown identity type"},
		{name: "type is case-sensitive", typ: "EMAIL", value: "anna@example.com", reason: "unknown identity type"},
		{name: "type with injection", typ: "email' OR 1=1", value: "anna@example.com", reason: "unknown identity type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, reason := profile.NormalizeIdentity(cat, tt.typ, tt.value)
			if tt.want == "" {
				if reason == "" {
					t.Fatalf("NormalizeIdentity(%q, %q) = %+v, want it rejected", tt.typ, tt.value, id)
				}
				if id != (profile.Identity{}) {
					t.Errorf("rejected identity = %+v, want zero", id)
				}
				if tt.reason != "" && reason != tt.reason {
					t.Errorf("reason = %q, want %q", reason, tt.reason)
				}
				return
			}
			if reason != "" {
				t.Fatalf("NormalizeIdentity(%q, %q) rejected: %s", tt.typ, tt.value, reason)
			}
			if id.Type != tt.typ || id.Value != tt.want {
				t.Errorf("NormalizeIdentity(%q, %q) = %+v, want %s:%s", tt.typ, tt.value, id, tt.typ, tt.want)
			}
		})
	}
}

func TestNormalizeIdentityReasonDoesNotEchoValue(t *testing.T) {
	cat := loadCatalog(t)
	const secret = "zq7secretvalue"
	for _, tc := range []struct{ typ, value string }{
		{"email", secret},
		{"email", secret + "@localhost"},
		{"phone", secret},
		{"customer_id", strings.Repeat(secret, 10)},
		{"customer_id", secret + "\x00"},
		{"fax", secret},
	} {
		_, reason := profile.NormalizeIdentity(cat, tc.typ, tc.value)
		if reason == "" {
			t.Errorf("NormalizeIdentity(%q, %q) accepted", tc.typ, tc.value)
		}
		if strings.Contains(reason, secret) {
			t.Errorf("reason %q echoes the value", reason)
		}
	}
}

func TestNormalizeIdentityCustomTypeMustBeDeclared(t *testing.T) {
	cat := loadCatalog(t)
	if _, reason := profile.NormalizeIdentity(cat, "loyalty_card", "LC-1"); reason != "" {
		t.Fatalf("declared type rejected: %s", reason)
	}
	cat.IdentityTypes = nil
	if _, reason := profile.NormalizeIdentity(cat, "loyalty_card", "LC-1"); reason != "unknown identity type" {
		t.Errorf("undeclared type: reason = %q, want unknown identity type", reason)
	}
	cat.IdentityTypes = []string{"member_no"}
	if id, reason := profile.NormalizeIdentity(cat, "member_no", " M1 "); reason != "" || id.Value != "M1" {
		t.Errorf("newly declared type = %+v, %q", id, reason)
	}
	// Built-in types need no declaration.
	if _, reason := profile.NormalizeIdentity(&catalog.Catalog{}, "customer_id", "c1"); reason != "" {
		t.Errorf("built-in type with empty catalog rejected: %s", reason)
	}
}

// TestNormalizeEmailLowerCasingKeepsLimits pins a case found by FuzzNormalizeIdentity: a
// few upper-case letters take more bytes in lower case (U+023A Ⱥ is 2 bytes, ⱥ is 3), so
// checking the length before lower-casing let a normalized address exceed the limits and
// no longer normalize to itself.
func TestNormalizeEmailLowerCasingKeepsLimits(t *testing.T) {
	cat := loadCatalog(t)
	for _, value := range []string{
		strings.Repeat("Ⱥ", 32) + "@example.com",                         // 64-byte local part, 96 bytes lower-cased
		"a@" + strings.Repeat("Ⱥ", 120) + ".com",                         // 247 bytes, 367 lower-cased
		strings.Repeat("Ɐ", 10) + "@" + strings.Repeat("Ɑ", 110) + ".pl", // mixed
	} {
		id, reason := profile.NormalizeIdentity(cat, "email", value)
		if reason != "" {
			continue // rejecting is fine; accepting something that breaks the limits is not
		}
		again, reason := profile.NormalizeIdentity(cat, "email", id.Value)
		if reason != "" || again != id {
			t.Errorf("NormalizeIdentity(%q) = %q, which re-normalizes to %q (%s)", value, id.Value, again.Value, reason)
		}
		local, _, _ := strings.Cut(id.Value, "@")
		if len(id.Value) > 254 || len(local) > 64 {
			t.Errorf("NormalizeIdentity(%q) = %q: %d bytes, local part %d bytes", value, id.Value, len(id.Value), len(local))
		}
	}
}

func TestParseIdentity(t *testing.T) {
	cat := loadCatalog(t)
	tests := []struct {
		in      string
		want    profile.Identity
		wantErr bool
	}{
		{in: "email:Anna@Example.com", want: profile.Identity{Type: "email", Value: "anna@example.com"}},
		{in: "phone:+48 123-456-789", want: profile.Identity{Type: "phone", Value: "+48123456789"}},
		{in: "phone:0048123456789", want: profile.Identity{Type: "phone", Value: "+48123456789"}},
		{in: "customer_id:a:b:c", want: profile.Identity{Type: "customer_id", Value: "a:b:c"}},
		{in: "loyalty_card:LC-7", want: profile.Identity{Type: "loyalty_card", Value: "LC-7"}},
		{in: "anna@example.com", wantErr: true},
		{in: "", wantErr: true},
		{in: ":", wantErr: true},
		{in: ":anna@example.com", wantErr: true},
		{in: "email:", wantErr: true},
		{in: "email :anna@example.com", wantErr: true},
		{in: "phone:123456789", wantErr: true},
		{in: "fax:+48123456789", wantErr: true},
		{in: "email:anna@example.com\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id, reason := profile.ParseIdentity(cat, tt.in)
			if tt.wantErr {
				if reason == "" {
					t.Fatalf("ParseIdentity(%q) = %+v, want rejected", tt.in, id)
				}
				return
			}
			if reason != "" || id != tt.want {
				t.Fatalf("ParseIdentity(%q) = %+v, %q, want %+v", tt.in, id, reason, tt.want)
			}
			if back, reason := profile.ParseIdentity(cat, id.String()); reason != "" || back != id {
				t.Errorf("ParseIdentity(String()) = %+v, %q, want %+v", back, reason, id)
			}
		})
	}
}

func TestIdentityHash(t *testing.T) {
	a := profile.Identity{Type: "email", Value: "anna@example.com"}
	h := a.Hash()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h) {
		t.Fatalf("Hash() = %q, want 32 lower-case hex digits", h)
	}
	if a.Hash() != h {
		t.Errorf("Hash() is not stable")
	}
	if strings.Contains(h, "anna") {
		t.Errorf("Hash() leaks the value")
	}
	for _, other := range []profile.Identity{
		{Type: "customer_id", Value: "anna@example.com"},
		{Type: "email", Value: "anna@example.co"},
		{Type: "email:anna", Value: "example.com"}, // same String() prefix trick must not collide with a
	} {
		if other.Hash() == h && other.String() != a.String() {
			t.Errorf("Hash(%v) collides with Hash(%v)", other, a)
		}
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// FuzzNormalizeIdentity checks that normalization never panics, is idempotent, produces
// printable output, lower-cases emails and writes phones in E.164.
func FuzzNormalizeIdentity(f *testing.F) {
	cat := loadCatalog(f)
	seeds := []struct{ typ, value string }{
		{"email", "Anna.Nowak@Example.COM"},
		{"email", "  anna@example.com  "},
		{"email", "o'brien+tag@example.co.uk"},
		{"email", "Zofia@ŻÓŁW.PL"},
		{"email", strings.Repeat("Ⱥ", 32) + "@example.com"},
		{"email", "İ@example.com"},
		{"email", "K@example.com"}, // Kelvin sign
		{"email", "ß@EXAMPLE.COM"},
		{"email", `"quoted"@example.com`},
		{"email", "anna@[127.0.0.1]"},
		{"email", "Anna <anna@example.com>"},
		{"email", "anna@example.com\n"},
		{"email", "anna\x00@example.com"},
		{"email", "anna\xff@example.com"},
		{"email", "a@b.c"},
		{"email", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com"},
		{"email", strings.Repeat("a", 300) + "@example.com"},
		{"email", "'; DROP TABLE profiles;--@example.com"},
		{"email", "<img src=x onerror=alert(1)>@example.com"},
		{"email", "\u202eanna@example.com"},
		{"email", "anna\u200b@example.com"},
		{"phone", "+48 123-456-789"},
		{"phone", "0048123456789"},
		{"phone", "+48 (12) 345.67.89"},
		{"phone", "123456789"},
		{"phone", "+0123456789"},
		{"phone", "00+48123456789"},
		{"phone", "+٤٨١٢٣٤٥٦٧٨٩"},
		{"phone", "+1234567890123456"},
		{"phone", "+48\t123456789"},
		{"phone", "++++"},
		{"customer_id", "CRM-00042"},
		{"customer_id", " \u00a0x\u2028 "},
		{"customer_id", strings.Repeat("x", 128)},
		{"customer_id", strings.Repeat("ż", 65)},
		{"customer_id", "\x1b[31m"},
		{"customer_id", "<script>alert('x')</script>"},
		{"loyalty_card", "LC-0001"},
		{"fax", "+48123456789"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.value)
	}
	f.Fuzz(func(t *testing.T, typ, value string) {
		id, reason := profile.NormalizeIdentity(cat, typ, value)
		if reason != "" {
			if id != (profile.Identity{}) {
				t.Fatalf("rejected (%s) but returned %+v", reason, id)
			}
			return
		}
		if id.Type != typ {
			t.Fatalf("type changed from %q to %q", typ, id.Type)
		}
		if id.Value == "" {
			t.Fatalf("accepted an empty value from %q", value)
		}
		if !utf8.ValidString(id.Value) || strings.ContainsFunc(id.Value, unicode.IsControl) {
			t.Fatalf("output %q is not printable text", id.Value)
		}
		if id.Value != strings.TrimSpace(id.Value) {
			t.Fatalf("output %q has surrounding space", id.Value)
		}
		again, reason := profile.NormalizeIdentity(cat, typ, id.Value)
		if reason != "" || again != id {
			t.Fatalf("not idempotent: %q -> %q -> %q (%s)", value, id.Value, again.Value, reason)
		}
		if back, reason := profile.ParseIdentity(cat, id.String()); reason != "" || back != id {
			t.Fatalf("ParseIdentity(%q) = %+v (%s), want %+v", id.String(), back, reason, id)
		}
		switch typ {
		case "email":
			if strings.ToLower(id.Value) != id.Value {
				t.Fatalf("email %q is not lower-case", id.Value)
			}
			local, _, _ := strings.Cut(id.Value, "@")
			if len(id.Value) > 254 || len(local) > 64 || strings.Count(id.Value, "@") != 1 {
				t.Fatalf("email %q breaks the address limits", id.Value)
			}
		case "phone":
			if !e164.MatchString(id.Value) {
				t.Fatalf("phone %q is not E.164", id.Value)
			}
		default:
			if len(id.Value) > 128 {
				t.Fatalf("value of %d bytes accepted", len(id.Value))
			}
		}
	})
}

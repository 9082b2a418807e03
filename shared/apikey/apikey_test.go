package apikey_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/apikey"
)

var t0 = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

const alphabet = "abcdefghijklmnopqrstuvwxyz234567" // lower-case base32

func TestNewParseMatch(t *testing.T) {
	plain, k := apikey.New("acme", "CRM sync", []apikey.Scope{apikey.Read, apikey.Write}, t0)
	if !regexp.MustCompile(`^lp_k[a-z2-7]{16}_[a-z2-7]{52}$`).MatchString(plain) {
		t.Fatalf("New() plain key %q has the wrong shape", plain)
	}
	id, ok := apikey.ParseID(plain)
	if !ok || id != k.ID {
		t.Fatalf("ParseID(plain) = %q, %v, want %q", id, ok, k.ID)
	}
	if k.Tenant != "acme" || k.Name != "CRM sync" || !slices.Equal(k.Scopes, []apikey.Scope{apikey.Read, apikey.Write}) ||
		!k.CreatedAt.Equal(t0) || k.RevokedAt != nil {
		t.Errorf("New() key = %+v", k)
	}
	if k.Hash != apikey.Digest(plain) || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(k.Hash) {
		t.Errorf("Hash = %q, want the SHA-256 hex digest of the plain key", k.Hash)
	}
	if !k.Matches(plain) {
		t.Fatalf("Matches(plain) = false for a fresh key")
	}
	stored, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	secret := plain[len("lp_")+len(k.ID)+1:]
	if strings.Contains(string(stored), secret) || strings.Contains(string(stored), plain) {
		t.Errorf("the stored key holds the secret: %s", stored)
	}
	var back apikey.Key
	if err := json.Unmarshal(stored, &back); err != nil || !back.Matches(plain) {
		t.Errorf("key after a JSON round trip does not match: %v", err)
	}

	other, k2 := apikey.New("acme", "CRM sync", nil, t0)
	if other == plain || k2.ID == k.ID || k2.Hash == k.Hash {
		t.Errorf("two keys collide")
	}
	if k.Matches(other) || k2.Matches(plain) {
		t.Errorf("one key matches another")
	}
}

func TestMatchesRejects(t *testing.T) {
	plain, k := apikey.New("acme", "shop", []apikey.Scope{apikey.Read}, t0)
	revoked := k
	revoked.RevokedAt = &t0
	tests := []struct {
		name  string
		key   apikey.Key
		plain string
	}{
		{"revoked key", revoked, plain},
		{"revoked in the future still revoked", func() apikey.Key { r := k; later := t0.Add(time.Hour); r.RevokedAt = &later; return r }(), plain},
		{"empty", k, ""},
		{"prefix only", k, plain[:len(plain)-1]},
		{"extra character", k, plain + "a"},
		{"trailing newline", k, plain + "\n"},
		{"leading space", k, " " + plain},
		{"upper-case", k, strings.ToUpper(plain)},
		{"bearer prefix", k, "Bearer " + plain},
		{"the digest itself", k, k.Hash},
		{"empty stored hash", apikey.Key{ID: k.ID}, plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.key.Matches(tt.plain) {
				t.Errorf("Matches(%q) = true", tt.plain)
			}
		})
	}
	if !k.Matches(plain) {
		t.Errorf("the original key stopped matching")
	}
}

func TestMatchesOneChangedCharacter(t *testing.T) {
	plain, k := apikey.New("acme", "shop", []apikey.Scope{apikey.Read}, t0)
	for i := range len(plain) {
		// Replace each character with another one of the same class so the result still looks like a key.
		c := plain[i]
		var r byte
		switch {
		case c == '_' || c == 'l' && i == 0 || c == 'p' && i == 1:
			r = 'x'
		default:
			j := strings.IndexByte(alphabet, c)
			r = alphabet[(j+1)%len(alphabet)]
		}
		changed := plain[:i] + string(r) + plain[i+1:]
		if k.Matches(changed) {
			t.Errorf("Matches(key with byte %d changed %q->%q) = true", i, c, r)
		}
	}
}

func TestParseID(t *testing.T) {
	valid := "lp_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 52)
	tests := []struct {
		name   string
		in     string
		wantID string // "" means rejected
	}{
		{"valid", valid, "k" + strings.Repeat("a", 16)},
		{"valid with digits", "lp_k234567abcdefghij_" + strings.Repeat("7", 52), "k234567abcdefghij"},
		{"empty", "", ""},
		{"upper-case prefix", "LP_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 52), ""},
		{"wrong prefix", "pk_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 52), ""},
		{"id without k", "lp_" + strings.Repeat("a", 17) + "_" + strings.Repeat("b", 52), ""},
		{"id too short", "lp_k" + strings.Repeat("a", 15) + "_" + strings.Repeat("b", 52), ""},
		{"id too long", "lp_k" + strings.Repeat("a", 17) + "_" + strings.Repeat("b", 52), ""},
		{"secret too short", "lp_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 51), ""},
		{"secret too long", valid + "b", ""},
		{"upper-case secret", "lp_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("B", 52), ""},
		{"digit 1 not in base32", "lp_k" + strings.Repeat("1", 16) + "_" + strings.Repeat("b", 52), ""},
		{"digit 8 not in base32", "lp_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("8", 52), ""},
		{"padding", "lp_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 51) + "=", ""},
		{"missing separator", "lp_k" + strings.Repeat("a", 16) + strings.Repeat("b", 53), ""},
		{"dash separator", "lp-k" + strings.Repeat("a", 16) + "-" + strings.Repeat("b", 52), ""},
		{"trailing newline", valid + "\n", ""},
		{"trailing CRLF", valid + "\r\n", ""},
		{"leading space", " " + valid, ""},
		{"bearer prefix", "Bearer " + valid, ""},
		{"embedded NUL", valid[:20] + "\x00" + valid[21:], ""},
		{"two keys", valid + " " + valid, ""},
		{"unicode lookalike", "lp_k" + strings.Repeat("а", 16) + "_" + strings.Repeat("b", 52), ""}, // Cyrillic а
		{"SQL injection", "lp_k' OR '1'='1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := apikey.ParseID(tt.in)
			if tt.wantID == "" {
				if ok || id != "" {
					t.Errorf("ParseID(%q) = %q, %v, want rejected", tt.in, id, ok)
				}
				return
			}
			if !ok || id != tt.wantID {
				t.Errorf("ParseID(%q) = %q, %v, want %q", tt.in, id, ok, tt.wantID)
			}
		})
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in   string
		want []apikey.Scope // nil means rejected
	}{
		{"read", []apikey.Scope{apikey.Read}},
		{"read write", []apikey.Scope{apikey.Read, apikey.Write}},
		{"read,write", []apikey.Scope{apikey.Read, apikey.Write}},
		{" read , write ,requests ", []apikey.Scope{apikey.Read, apikey.Write, apikey.Requests}},
		{"admin", []apikey.Scope{apikey.Admin}},
		{"write read write", []apikey.Scope{apikey.Write, apikey.Read}},
		{"read write requests admin", []apikey.Scope{apikey.Read, apikey.Write, apikey.Requests, apikey.Admin}},
		{"portal_links attest", []apikey.Scope{apikey.PortalLinks, apikey.Attest}},
		{"portal-links", nil},
		{"", nil},
		{" , ,, ", nil},
		{"READ", nil},
		{"read delete", nil},
		{"read\twrite", nil},
		{"read;write", nil},
		{"read admin*", nil},
		{"réad", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := apikey.ParseScopes(tt.in)
			if tt.want == nil {
				if ok {
					t.Errorf("ParseScopes(%q) = %v, want rejected", tt.in, got)
				}
				return
			}
			if !ok || !slices.Equal(got, tt.want) {
				t.Errorf("ParseScopes(%q) = %v, %v, want %v", tt.in, got, ok, tt.want)
			}
			back, ok := apikey.ParseScopes(apikey.FormatScopes(got))
			if !ok || !slices.Equal(back, got) {
				t.Errorf("ParseScopes(FormatScopes(%v)) = %v, %v", got, back, ok)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		name   string
		scopes []apikey.Scope
		allow  []apikey.Scope
		deny   []apikey.Scope
	}{
		{"admin implies read, write and requests", []apikey.Scope{apikey.Admin},
			[]apikey.Scope{apikey.Read, apikey.Write, apikey.Requests, apikey.Admin}, []apikey.Scope{apikey.PortalLinks, apikey.Attest}},
		{"write does not imply portal links", []apikey.Scope{apikey.Write}, nil, []apikey.Scope{apikey.PortalLinks, apikey.Attest}},
		{"portal links alone", []apikey.Scope{apikey.PortalLinks}, []apikey.Scope{apikey.PortalLinks},
			[]apikey.Scope{apikey.Read, apikey.Write, apikey.Requests, apikey.Admin, apikey.Attest}},
		{"attest alone", []apikey.Scope{apikey.Attest}, []apikey.Scope{apikey.Attest},
			[]apikey.Scope{apikey.Read, apikey.Write, apikey.Requests, apikey.Admin, apikey.PortalLinks}},
		{"read only", []apikey.Scope{apikey.Read}, []apikey.Scope{apikey.Read}, []apikey.Scope{apikey.Write, apikey.Requests, apikey.Admin}},
		{"write does not imply read", []apikey.Scope{apikey.Write}, []apikey.Scope{apikey.Write}, []apikey.Scope{apikey.Read, apikey.Admin}},
		{"read and requests", []apikey.Scope{apikey.Read, apikey.Requests}, []apikey.Scope{apikey.Read, apikey.Requests}, []apikey.Scope{apikey.Write, apikey.Admin}},
		{"no scopes", nil, nil, apikey.AllScopes},
		{"unknown scope grants nothing", []apikey.Scope{"superuser"}, nil, apikey.AllScopes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := apikey.Key{Scopes: tt.scopes}
			for _, s := range tt.allow {
				if !apikey.Allows(tt.scopes, s) || !k.Allows(s) {
					t.Errorf("Allows(%v, %q) = false", tt.scopes, s)
				}
			}
			for _, s := range tt.deny {
				if apikey.Allows(tt.scopes, s) || k.Allows(s) {
					t.Errorf("Allows(%v, %q) = true", tt.scopes, s)
				}
			}
			if !apikey.AllowsAll(tt.scopes, tt.allow) {
				t.Errorf("AllowsAll(%v, %v) = false", tt.scopes, tt.allow)
			}
			for _, s := range tt.deny {
				if apikey.AllowsAll(tt.scopes, append(slices.Clone(tt.allow), s)) {
					t.Errorf("AllowsAll(%v, %v + %q) = true", tt.scopes, tt.allow, s)
				}
			}
		})
	}
}

func TestValidTenant(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"acme", true}, {"ab", true}, {"acme-shop", true}, {"0acme", true}, {"acme-", true},
		{strings.Repeat("a", 63), true}, {strings.Repeat("a", 64), false},
		{"", false}, {"a", false}, {"Acme", false}, {"-acme", false}, {"acme_shop", false},
		{"acme#PROFILE", false}, {"acme|x", false}, {"acme/x", false}, {"acme:x", false}, {"acme x", false},
		{"acme\n", false}, {"acme\x00", false}, {"ącme", false}, {"acme'--", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := apikey.ValidTenant(tt.in); got != tt.want {
				t.Errorf("ValidTenant(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// validKey is an independent statement of the key format: "lp_", "k", 16 base32
// characters, "_", 52 base32 characters (lower-case, no padding).
func validKey(s string) bool {
	if len(s) != 3+17+1+52 || !strings.HasPrefix(s, "lp_k") || s[20] != '_' {
		return false
	}
	for i := 4; i < len(s); i++ {
		if i == 20 {
			continue
		}
		if !strings.ContainsRune(alphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

func FuzzParseID(f *testing.F) {
	plain, _ := apikey.New("acme", "fuzz", nil, t0)
	for _, s := range []string{
		plain, plain + "\n", "\n" + plain, strings.ToUpper(plain), plain[:len(plain)-1], plain + "a",
		"lp_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 52),
		"lp_k" + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 51) + "=",
		"lp_k" + strings.Repeat("а", 16) + "_" + strings.Repeat("b", 52),
		"", "lp_", "lp__", "lp_k_", "Bearer " + plain, plain + " " + plain,
		"lp_k' OR '1'='1", "<script>", "\x00\xff\xfe", strings.Repeat("lp_k", 1000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := apikey.ParseID(s)
		if ok != validKey(s) {
			t.Fatalf("ParseID(%q) ok = %v, the format says %v", s, ok, validKey(s))
		}
		if !ok {
			if id != "" {
				t.Fatalf("rejected but returned id %q", id)
			}
			return
		}
		if id != s[3:20] {
			t.Fatalf("ParseID(%q) = %q, want %q", s, id, s[3:20])
		}
	})
}

// FuzzValidTenant holds the hand-written check to the tenant id's pattern.
func FuzzValidTenant(f *testing.F) {
	pattern := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	for _, s := range []string{"acme", "a", "-a", "a-", "ab\n", strings.Repeat("a", 63), strings.Repeat("a", 64), "ącme", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := apikey.ValidTenant(s), pattern.MatchString(s); got != want {
			t.Fatalf("ValidTenant(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

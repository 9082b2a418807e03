package profile

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
)

// Identity is one normalized identifier of a person, unique within a tenant.
type Identity struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// String renders the identity as "type:value", the form the API accepts in queries.
func (id Identity) String() string { return id.Type + ":" + id.Value }

// Hash returns a stable, non-reversible digest of the identity, used in storage keys
// so that identifiers never appear in clear in keys, indexes or metrics.
func (id Identity) Hash() string {
	sum := sha256.Sum256([]byte(id.String()))
	return hex.EncodeToString(sum[:16])
}

// MaxIdentities bounds how many identities one profile holds; each is a separate item
// written in the profile's transaction.
const MaxIdentities = 10

// NormalizeIdentity validates value as an identity of type typ and returns its canonical
// form: emails lower-cased, phones in E.164. The returned reason is empty when valid and
// otherwise says what is wrong, without echoing the value.
func NormalizeIdentity(cat *catalog.Catalog, typ, value string) (Identity, string) {
	if !cat.IdentityType(typ) {
		return Identity{}, "unknown identity type"
	}
	if !utf8.ValidString(value) || strings.ContainsFunc(value, unicode.IsControl) {
		return Identity{}, "must be printable text"
	}
	value = strings.TrimSpace(value)
	switch typ {
	case "email":
		v, ok := normalizeEmail(value)
		if !ok {
			return Identity{}, "must be an email address such as name@example.com"
		}
		return Identity{Type: typ, Value: v}, ""
	case "phone":
		v, ok := normalizePhone(value)
		if !ok {
			return Identity{}, "must be a phone number in international form such as +48123456789"
		}
		return Identity{Type: typ, Value: v}, ""
	default:
		if value == "" || len(value) > 128 {
			return Identity{}, "must be 1 to 128 bytes of UTF-8"
		}
		return Identity{Type: typ, Value: value}, ""
	}
}

// ParseIdentity parses the "type:value" form.
func ParseIdentity(cat *catalog.Catalog, s string) (Identity, string) {
	typ, value, ok := strings.Cut(s, ":")
	if !ok {
		return Identity{}, "must be type:value, for example email:name@example.com"
	}
	return NormalizeIdentity(cat, typ, value)
}

func normalizeEmail(s string) (string, bool) {
	s = strings.ToLower(s) // first: lower case can take more bytes, and the limits apply to the result
	if len(s) < 3 || len(s) > 254 {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.ContainsAny(domain, "[]") {
		return "", false
	}
	return strings.ToLower(s), true
}

func normalizePhone(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '.':
			return -1
		}
		return r
	}, s)
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "00"):
		s = s[2:]
	default:
		return "", false
	}
	if len(s) < 8 || len(s) > 15 || s[0] == '0' {
		return "", false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return "+" + s, true
}

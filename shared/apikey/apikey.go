// Package apikey mints and verifies brand API keys. A key is shown once, as
// "lp_<key id>_<secret>"; only its SHA-256 digest is stored, so a leaked table does not
// leak usable keys.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Scope is a permission a key carries.
type Scope string

// The scopes. Admin implies Read, Write and Requests, never PortalLinks or Attest: those two
// vouch for a person (a portal link opens the person's portal as them; an attestation says
// the brand proved who they are), so a key carries them only when it was given them by name.
const (
	Read     Scope = "read"
	Write    Scope = "write"
	Requests Scope = "requests"
	Admin    Scope = "admin"
	// PortalLinks alone allows minting portal links (POST /v1/portal-links).
	PortalLinks Scope = "portal_links"
	// Attest allows asserting that the brand verified the person of a data-subject request.
	Attest Scope = "attest"
	// Merge allows merging and splitting profiles and deciding merge candidates: joining
	// two people's data is a disclosure if wrong, so writing profiles is not enough.
	Merge Scope = "merge"
)

// AllScopes lists every scope.
var AllScopes = []Scope{Read, Write, Requests, Admin, PortalLinks, Attest, Merge}

// implied reports whether Admin implies scope.
func implied(scope Scope) bool { return scope != PortalLinks && scope != Attest }

// Key is the stored form of an API key.
type Key struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Name      string     `json:"name"`
	Hash      string     `json:"hash"`
	Scopes    []Scope    `json:"scopes"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// Allows reports whether the key carries scope (see Admin for what it implies).
func (k *Key) Allows(scope Scope) bool { return Allows(k.Scopes, scope) }

// Allows reports whether scopes grant scope: they name it, or they name Admin and Admin
// implies it (not PortalLinks, not Attest).
func Allows(scopes []Scope, scope Scope) bool {
	return slices.Contains(scopes, scope) || slices.Contains(scopes, Admin) && implied(scope)
}

// AllowsAll reports whether scopes grant every one of need.
func AllowsAll(scopes []Scope, need []Scope) bool {
	for _, s := range need {
		if !Allows(scopes, s) {
			return false
		}
	}
	return true
}

// ParseScopes parses a space- or comma-separated scope list, rejecting unknown scopes.
func ParseScopes(s string) ([]Scope, bool) {
	var out []Scope
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		sc := Scope(f)
		if !slices.Contains(AllScopes, sc) {
			return nil, false
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, len(out) > 0
}

// FormatScopes is the inverse of ParseScopes.
func FormatScopes(scopes []Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = string(s)
	}
	return strings.Join(parts, " ")
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ValidTenant reports whether s is a well-formed tenant id, ^[a-z0-9][a-z0-9-]{1,62}$.
// Tenant ids are part of every storage key, so this shape (no separators) is what keeps
// tenants apart. (The shapes here are checked by hand, not by regexp: compiling them was
// half a millisecond of every function's cold start.)
func ValidTenant(s string) bool {
	if len(s) < 2 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// base32Lower reports whether s is all lower-case base32 (a-z, 2-7).
func base32Lower(s string) bool {
	for i := range len(s) {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return strings.ToLower(b32.EncodeToString(b))
}

// New mints a key. It returns the plain key, to show once, and the record to store.
func New(tenant, name string, scopes []Scope, now time.Time) (string, Key) {
	id := "k" + random(10)
	plain := "lp_" + id + "_" + random(32)
	return plain, Key{ID: id, Tenant: tenant, Name: name, Hash: Digest(plain), Scopes: scopes, CreatedAt: now}
}

// Digest is the stored form of a plain key.
func Digest(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// ParseID extracts the key id from a plain key, ^lp_(k[a-z2-7]{16})_[a-z2-7]{52}$, or
// reports that it is not one.
func ParseID(plain string) (string, bool) {
	const idLen, secretLen = 17, 52
	rest, ok := strings.CutPrefix(plain, "lp_")
	if !ok || len(rest) != idLen+1+secretLen || rest[0] != 'k' || rest[idLen] != '_' ||
		!base32Lower(rest[1:idLen]) || !base32Lower(rest[idLen+1:]) {
		return "", false
	}
	return rest[:idLen], true
}

// Matches reports, in constant time, whether plain is the key k was minted for, and
// whether k is still valid.
func (k *Key) Matches(plain string) bool {
	ok := subtle.ConstantTimeCompare([]byte(Digest(plain)), []byte(k.Hash)) == 1
	return ok && k.RevokedAt == nil
}

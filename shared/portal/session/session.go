// Package session seals hosted-portal sessions into cookies and makes the portal's CSRF
// tokens. Every key is derived (HKDF-SHA256) from the portal signing secret that also signs
// portal links, one key per use, so a value made for one use is useless for another.
//
// A session cookie is encrypted and authenticated with AES-256-GCM; the tenant is bound in
// as additional data, so a cookie minted under one tenant's portal opens nothing under
// another's, even renamed. Keys follow the secret's rotation: Keys seals with the current
// secret and opens with the current or the previous one, so a rotation logs nobody out.
//
// The package imports no AWS package.
package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/portallink"
)

// Session lifetimes.
const (
	// IdleTimeout ends a session nobody used for this long.
	IdleTimeout = 30 * time.Minute
	// MaxAge ends every session this long after it began, used or not.
	MaxAge = 8 * time.Hour
	// clockSkew tolerates timestamps slightly in the future (containers' clocks differ).
	clockSkew = time.Minute
)

// Cookie names. All use the __Host- prefix: Secure, Path=/ and no Domain are then enforced
// by the browser, so no other host (not even a sibling subdomain) can set or shadow them.
const (
	cookiePrefix = "__Host-lp_s_"
	// PreCookie binds the CSRF tokens of forms shown before sign-in (login, link pages).
	PreCookie = "__Host-lp_pre"
	// LangCookie remembers the language the person picked ("en", "pl").
	LangCookie = "__Host-lp_lang"
)

// Via says how a session was opened.
const (
	ViaLink  = "link"  // a brand's portal link (linktoken.Open)
	ViaLogin = "login" // an emailed login link (linktoken.Login)
)

// Session is one signed-in person in one tenant's portal. It holds no personal data beyond
// the profile id.
type Session struct {
	ID        string `json:"sid"` // random; CSRF tokens and logout are bound to it
	Tenant    string `json:"t"`
	ProfileID string `json:"p"`
	Via       string `json:"via"`
	IssuedAt  int64  `json:"iat"`  // Unix seconds; the session ends MaxAge after it
	SeenAt    int64  `json:"seen"` // Unix seconds of the last request; IdleTimeout after it, it ends
	// GPC records that this session already honoured a Global Privacy Control signal.
	GPC bool `json:"gpc,omitempty"`
	// APIKey is the id of the brand API key whose portal link opened the session (ViaLink);
	// the portal ends the session when that key is revoked.
	APIKey string `json:"ak,omitempty"`
}

// New starts a session for a person at now.
func New(tenant, profileID, via string, now time.Time) Session {
	return Session{ID: NewID(), Tenant: tenant, ProfileID: profileID, Via: via, IssuedAt: now.Unix(), SeenAt: now.Unix()}
}

// ExpiresAt is when the session ends unless used again: the earlier of its idle and its
// absolute end.
func (s Session) ExpiresAt() time.Time {
	return time.Unix(min(s.SeenAt+int64(IdleTimeout/time.Second), s.IssuedAt+int64(MaxAge/time.Second)), 0)
}

// EndsAt is the session's absolute end.
func (s Session) EndsAt() time.Time { return time.Unix(s.IssuedAt+int64(MaxAge/time.Second), 0) }

// NewID returns a random identifier of 130 bits, lower-case base32.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// ErrInvalid means a cookie or token is malformed, forged, sealed by an unknown key, for
// another tenant, or expired. It never says which.
var ErrInvalid = errors.New("invalid or expired portal session")

// keySet is the keys derived from one secret.
type keySet struct {
	seal cipher.AEAD // session cookies
	csrf []byte      // CSRF tokens
}

// Keys holds the derived keys of the current secret and, during a rotation, the previous
// one. It is safe for concurrent use.
type Keys struct {
	sets   []keySet // sets[0] is the current secret's
	pseudo []byte   // Pseudonym's key, from the current secret
}

// HKDF info strings: one key per use, versioned.
const (
	infoSeal = "livingprofile portal session cookie v1"
	infoCSRF = "livingprofile portal csrf v1"
)

// NewKeys derives the keys from the current secret and any previous ones (Secrets Manager's
// AWSCURRENT, then AWSPREVIOUS). Secrets shorter than 32 bytes are refused.
func NewKeys(current portallink.Key, previous ...portallink.Key) (*Keys, error) {
	k := &Keys{}
	for _, sec := range append([]portallink.Key{current}, previous...) {
		if len(sec.Secret) < 32 {
			return nil, fmt.Errorf("portal session: secret %q is shorter than 32 bytes", sec.ID)
		}
		sealKey, err := hkdf.Key(sha256.New, []byte(sec.Secret), nil, infoSeal, 32)
		if err != nil {
			return nil, fmt.Errorf("derive session key: %w", err)
		}
		csrfKey, err := hkdf.Key(sha256.New, []byte(sec.Secret), nil, infoCSRF, 32)
		if err != nil {
			return nil, fmt.Errorf("derive csrf key: %w", err)
		}
		block, err := aes.NewCipher(sealKey)
		if err != nil {
			return nil, fmt.Errorf("session cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("session cipher: %w", err)
		}
		k.sets = append(k.sets, keySet{seal: aead, csrf: csrfKey})
	}
	var err error
	if k.pseudo, err = hkdf.Key(sha256.New, []byte(current.Secret), nil, infoPseudonym, 32); err != nil {
		return nil, fmt.Errorf("derive pseudonym key: %w", err)
	}
	return k, nil
}

var b64 = base64.RawURLEncoding

// aad binds a sealed session to its tenant and format version.
func aad(tenant string) []byte { return []byte("lp-session/1/" + tenant) }

// Seal encrypts and authenticates s with the current key; the result is cookie-safe.
func (k *Keys) Seal(s Session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode session: %w", err)
	}
	aead := k.sets[0].seal
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("session nonce: %w", err)
	}
	return b64.EncodeToString(aead.Seal(nonce, nonce, plain, aad(s.Tenant))), nil
}

// maxCookie bounds what Open decodes.
const maxCookie = 1024

// Open decrypts a sealed session for tenant with the current or a previous key, and checks
// that it belongs to tenant and is neither idle for IdleTimeout nor older than MaxAge at now.
func (k *Keys) Open(tenant, sealed string, now time.Time) (Session, error) {
	if len(sealed) > maxCookie {
		return Session{}, ErrInvalid
	}
	raw, err := b64.DecodeString(sealed)
	if err != nil {
		return Session{}, ErrInvalid
	}
	for _, set := range k.sets {
		n := set.seal.NonceSize()
		if len(raw) < n+set.seal.Overhead() {
			return Session{}, ErrInvalid
		}
		plain, err := set.seal.Open(nil, raw[:n], raw[n:], aad(tenant))
		if err != nil {
			continue
		}
		var s Session
		if json.Unmarshal(plain, &s) != nil || s.Tenant != tenant || s.ID == "" || s.ProfileID == "" {
			return Session{}, ErrInvalid
		}
		skew := int64(clockSkew / time.Second)
		switch t := now.Unix(); {
		case s.IssuedAt > t+skew || s.SeenAt > t+skew || s.SeenAt < s.IssuedAt:
			return Session{}, ErrInvalid
		case !now.Before(s.ExpiresAt()):
			return Session{}, ErrInvalid
		}
		return s, nil
	}
	return Session{}, ErrInvalid
}

// CookieName is the session cookie of one tenant's portal: a person may be signed in to
// several brands' portals at once.
func CookieName(tenant string) string { return cookiePrefix + tenant }

// Cookie returns the Set-Cookie value that stores s (sealed) until it would expire at now:
// HttpOnly, Secure, SameSite=Lax, Path=/, __Host- prefixed.
func (k *Keys) Cookie(s Session, now time.Time) (string, error) {
	sealed, err := k.Seal(s)
	if err != nil {
		return "", err
	}
	age := int(s.ExpiresAt().Sub(now) / time.Second)
	return SetCookie(CookieName(s.Tenant), sealed, max(age, 1)), nil
}

// ClearCookie returns the Set-Cookie value that deletes tenant's session cookie.
func ClearCookie(tenant string) string { return SetCookie(CookieName(tenant), "", -1) }

// SetCookie renders a __Host- cookie with the portal's attributes; maxAge < 0 deletes it.
func SetCookie(name, value string, maxAge int) string {
	c := &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	return c.String()
}

// CSRFToken returns the form token bound to tenant and binding: a session's ID for forms
// of a signed-in person, the PreCookie's value for forms shown before sign-in. A token is
// useless under another tenant, session or pre-cookie.
func (k *Keys) CSRFToken(tenant, binding string) string {
	return b64.EncodeToString(csrfMAC(k.sets[0].csrf, tenant, binding))
}

// CheckCSRF reports whether token is CSRFToken(tenant, binding) under the current or a
// previous key. An empty binding never checks.
func (k *Keys) CheckCSRF(tenant, binding, token string) bool {
	if binding == "" || token == "" || len(token) > 128 {
		return false
	}
	got, err := b64.DecodeString(token)
	if err != nil {
		return false
	}
	for _, set := range k.sets {
		if hmac.Equal(got, csrfMAC(set.csrf, tenant, binding)) {
			return true
		}
	}
	return false
}

func csrfMAC(key []byte, tenant, binding string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00" + tenant + "\x00" + binding))
	return m.Sum(nil)
}

// infoPseudonym derives the key of Pseudonym.
const infoPseudonym = "livingprofile portal pseudonym v1"

// Pseudonym returns a keyed, non-reversible digest of parts (hex, 128 bits), for storage
// keys that must not hold what they count (an email address, a client IP). It uses the
// current secret only: after a rotation, counters keyed by it start afresh.
func (k *Keys) Pseudonym(parts ...string) string {
	m := hmac.New(sha256.New, k.pseudo)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

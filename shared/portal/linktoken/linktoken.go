// Package linktoken gives the signed tokens of package portallink a kind, and builds the
// hosted-portal URLs they travel in. There are three kinds:
//
//   - Open: minted by the brand API (POST /v1/portal-links) for one person; opens a portal
//     session once (the portal consumes its nonce).
//   - Login: minted by the portal's login page and emailed to the person; opens a session
//     once, within LoginTTL.
//   - Unsubscribe: minted by the brand API next to an Open link when a topic is given; the
//     RFC 8058 one-click List-Unsubscribe credential for that topic. It may be used any
//     number of times until it expires and grants nothing else.
//
// The kind is part of the signed nonce, so a token of one kind is never accepted as
// another, and a token minted for one tenant carries that tenant in its signed claims.
// The package imports no AWS package.
package linktoken

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/portallink"
)

// Kind is what a token may be used for.
type Kind int

// The kinds of token.
const (
	Open        Kind = iota + 1 // a brand's portal link: one session, once
	Login                       // an emailed login link: one session, once, within LoginTTL
	Unsubscribe                 // a one-click unsubscribe from one topic's email
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case Open:
		return "open"
	case Login:
		return "login"
	case Unsubscribe:
		return "unsubscribe"
	}
	return "unknown"
}

// Lifetimes of the tokens the portal and the brand API mint.
const (
	// LoginTTL is how long an emailed login link works.
	LoginTTL = 15 * time.Minute
	// UnsubscribeTTL is how long a List-Unsubscribe URL works: emails are read, and
	// unsubscribed from, long after they were sent.
	UnsubscribeTTL = 365 * 24 * time.Hour
)

// Nonce prefixes mark the kind inside the signed claims. Open links minted before kinds
// existed carry a bare nonce and are Open.
const (
	prefixOpen        = "o."
	prefixLogin       = "l."
	prefixUnsubscribe = "u."
)

// ErrWrongKind means a validly signed token was presented where another kind is required.
var ErrWrongKind = errors.New("portal token of the wrong kind")

// NewNonce returns a random nonce with the kind's prefix: 130 bits of entropy.
func NewNonce(k Kind) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	id := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	switch k {
	case Login:
		return prefixLogin + id
	case Unsubscribe:
		return prefixUnsubscribe + id
	}
	return prefixOpen + id
}

// KindOf returns the kind the claims' nonce declares.
func KindOf(c portallink.Claims) Kind {
	switch {
	case strings.HasPrefix(c.Nonce, prefixLogin):
		return Login
	case strings.HasPrefix(c.Nonce, prefixUnsubscribe):
		return Unsubscribe
	case strings.HasPrefix(c.Nonce, prefixOpen), c.Nonce != "" && !strings.Contains(c.Nonce, "."):
		return Open
	}
	return 0
}

// Mint signs c as a token of kind k with a fresh nonce of that kind and returns the token
// and the claims as signed. The caller sets Tenant, ProfileID, IssuedAt and ExpiresAt (and,
// as it needs, Topic and Locale); an Unsubscribe token must name a Topic.
func Mint(s *portallink.Signer, k Kind, c portallink.Claims) (string, portallink.Claims, error) {
	if k < Open || k > Unsubscribe {
		return "", portallink.Claims{}, errors.New("linktoken: unknown kind")
	}
	if k == Unsubscribe && c.Topic == "" {
		return "", portallink.Claims{}, errors.New("linktoken: an unsubscribe token needs a topic")
	}
	c.Nonce = NewNonce(k)
	tok, err := s.Sign(c)
	if err != nil {
		return "", portallink.Claims{}, err
	}
	c, err = s.Verify(tok, time.Unix(c.IssuedAt, 0))
	return tok, c, err
}

// Verify checks a token's signature, expiry at now and kind (one of kinds), and returns its
// claims. Any failure is portallink.ErrInvalid or ErrWrongKind; neither says more.
func Verify(s *portallink.Signer, token string, now time.Time, kinds ...Kind) (portallink.Claims, Kind, error) {
	c, err := s.Verify(token, now)
	if err != nil {
		return portallink.Claims{}, 0, portallink.ErrInvalid
	}
	k := KindOf(c)
	for _, want := range kinds {
		if k == want {
			return c, k, nil
		}
	}
	return portallink.Claims{}, 0, ErrWrongKind
}

// VerifySignature checks only a token's signature and kind, not its expiry, and returns
// its claims. The portal uses it to recognise an expired or already used link of a person,
// so that it can offer to email a fresh one; it never opens a session with such claims.
// Tokens issued more than maxAge before now are refused.
func VerifySignature(s *portallink.Signer, token string, now time.Time, maxAge time.Duration, kinds ...Kind) (portallink.Claims, Kind, error) {
	c, ok := peek(token)
	if !ok || c.IssuedAt <= 0 || c.IssuedAt >= c.ExpiresAt || now.Sub(time.Unix(c.IssuedAt, 0)) > maxAge {
		return portallink.Claims{}, 0, portallink.ErrInvalid
	}
	// At the moment of issue the token had not expired: this checks the signature alone.
	return Verify(s, token, time.Unix(c.IssuedAt, 0), kinds...)
}

// peek decodes the claims without verifying anything.
func peek(token string) (portallink.Claims, bool) {
	p, _, ok := strings.Cut(token, ".")
	if !ok || len(token) > 2048 {
		return portallink.Claims{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return portallink.Claims{}, false
	}
	var c portallink.Claims
	if json.Unmarshal(raw, &c) != nil {
		return portallink.Claims{}, false
	}
	return c, true
}

// BaseURL is where portal URLs start: configured (PORTAL_BASE_URL, e.g.
// "https://portal.example.com/portal") without a trailing slash, or, when empty,
// "https://<domain>/portal" on the API's own domain.
func BaseURL(configured, domain string) string {
	if b := strings.TrimSuffix(configured, "/"); b != "" {
		return b
	}
	return "https://" + domain + "/portal"
}

// OpenURL is the URL of an Open or Login token: <base>/<tenant>/t/<token>, the portal's
// PortalOpen route.
func OpenURL(base, tenant, token string) string {
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(tenant) + "/t/" + url.PathEscape(token)
}

// UnsubscribeURL is the URL of an Unsubscribe token: <base>/<tenant>/unsubscribe/<token>,
// the portal's PortalUnsubscribe route (GET shows a confirmation, POST unsubscribes).
func UnsubscribeURL(base, tenant, token string) string {
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(tenant) + "/unsubscribe/" + url.PathEscape(token)
}

// ListUnsubscribe returns the RFC 8058 header values for an email about a topic: the
// List-Unsubscribe value "<url>" and the List-Unsubscribe-Post value.
func ListUnsubscribe(base, tenant, token string) (listUnsubscribe, listUnsubscribePost string) {
	return "<" + UnsubscribeURL(base, tenant, token) + ">", "List-Unsubscribe=One-Click"
}

// PageURL is the URL of one of a tenant's portal pages: <base>/<tenant><path>, where path
// is "" (the overview) or starts with "/" ("/rights", "/login", …). Emails link to pages
// with it (an export-ready email: PageURL(base, tenant, "/rights")).
func PageURL(base, tenant, path string) string {
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(tenant) + path
}

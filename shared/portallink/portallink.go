// Package portallink signs and verifies the expiring links that open the hosted portal
// for one person. A token is "<payload>.<signature>", both base64url: the payload is JSON
// claims naming the signing key, and the signature is HMAC-SHA256 over the payload.
package portallink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims are what a link grants.
type Claims struct {
	KeyID     string `json:"kid"`
	Tenant    string `json:"t"`
	ProfileID string `json:"p"`
	Topic     string `json:"tp,omitempty"` // the topic of the email the link came from
	Next      string `json:"nx,omitempty"` // a login link's page to come back to (portal.nextPages)
	Locale    string `json:"l,omitempty"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	Nonce     string `json:"n"`
	// APIKey is the id of the brand API key that minted the link ("" for the portal's own
	// login links); the portal refuses the link, and ends its sessions, once that key is
	// revoked.
	APIKey string `json:"ak,omitempty"`
}

// Key is one signing key.
type Key struct {
	ID     string `json:"kid"`
	Secret string `json:"key"`
}

// Signer signs with its first key and verifies with any, so keys can be rotated without
// invalidating links already sent.
type Signer struct{ keys []Key }

// ErrInvalid means a token is malformed, forged, signed by an unknown key, or expired.
var ErrInvalid = errors.New("invalid or expired portal token")

// NewSigner returns a signer; keys[0] signs. Secrets shorter than 32 bytes are refused.
func NewSigner(keys ...Key) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("portal link: no signing key")
	}
	for _, k := range keys {
		if k.ID == "" || len(k.Secret) < 32 {
			return nil, fmt.Errorf("portal link: signing key %q is too short or unnamed", k.ID)
		}
	}
	return &Signer{keys: keys}, nil
}

// ParseSecret reads a secret string {"kid": "...", "key": "..."} as stored in Secrets Manager.
func ParseSecret(secret string) (Key, error) {
	var k Key
	if err := json.Unmarshal([]byte(secret), &k); err != nil {
		return Key{}, fmt.Errorf("portal link secret is not JSON with kid and key: %w", err)
	}
	return k, nil
}

var b64 = base64.RawURLEncoding

// Sign returns a token for c, setting its key id.
func (s *Signer) Sign(c Claims) (string, error) {
	c.KeyID = s.keys[0].ID
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(mac(s.keys[0].Secret, p)), nil
}

// Verify checks a token's signature and expiry at now and returns its claims.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 2048 {
		return Claims{}, ErrInvalid
	}
	raw, err := b64.DecodeString(p)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return Claims{}, ErrInvalid
	}
	for _, k := range s.keys {
		// Compare the encoded form: decoding would accept non-canonical spellings of the
		// same signature, making one link many tokens.
		if k.ID == c.KeyID && hmac.Equal([]byte(sig), []byte(b64.EncodeToString(mac(k.Secret, p)))) {
			if now.Unix() >= c.ExpiresAt {
				return Claims{}, ErrInvalid
			}
			return c, nil
		}
	}
	return Claims{}, ErrInvalid
}

func mac(secret, payload string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

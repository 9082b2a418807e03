package drp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// NewToken returns a pair-wise bearer token for agent (section 2.05.1) and the hash to
// store. The token is "<agent id>.<256 random bits>": the agent is found with one read, and
// only the hash is kept, so the stored agent cannot be turned back into a working token.
func NewToken(agent string) (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	token = agent + "." + base64.RawURLEncoding.EncodeToString(b[:])
	return token, TokenHash(token)
}

// TokenHash is the stored form of a token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte("lp-drp-token/1\x00" + token))
	return hex.EncodeToString(sum[:])
}

// AgentOfToken returns the agent id a token names, without checking the token.
func AgentOfToken(token string) (string, bool) {
	agent, secret, ok := strings.Cut(token, ".")
	if !ok || !ValidID(agent) || len(secret) != 43 {
		return "", false
	}
	return agent, true
}

// TokenMatches reports whether token is the one whose hash is stored (constant time).
func TokenMatches(stored, token string) bool {
	got := TokenHash(token)
	return stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(got)) == 1
}

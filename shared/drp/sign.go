package drp

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// MaxSigned bounds a signed body, in bytes of its Base64 text.
const MaxSigned = 16 << 10

// ErrBadSignature means a message's signature does not verify with the agent's key.
var ErrBadSignature = errors.New("drp: the signature does not verify with the agent's key")

// Open verifies a signed body as section 3.07.1 makes it: Base64 of the 64-byte Ed25519
// signature followed by the message (libsodium's crypto_sign "combined mode"), sent as
// text/plain. It returns the message once the signature verifies with pub, and
// ErrBadSignature (wrapped in a Forbidden error) otherwise; a body that is not Base64 of
// at least a signature is Invalid.
func Open(pub ed25519.PublicKey, body []byte) ([]byte, error) {
	body = bytes.TrimSpace(body)
	bad := errs.Field("(body)", "must be the Base64 of an Ed25519 signature followed by the JSON message")
	if len(body) > MaxSigned {
		return nil, errs.E(errs.TooLarge, "the signed message is too large")
	}
	raw, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		// Padding is optional: some encoders leave it out.
		if raw, err = base64.RawStdEncoding.DecodeString(string(body)); err != nil {
			return nil, bad
		}
	}
	if len(raw) < ed25519.SignatureSize+2 {
		return nil, bad
	}
	sig, msg := raw[:ed25519.SignatureSize], raw[ed25519.SignatureSize:]
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, msg, sig) {
		return nil, &errs.Error{Code: errs.Forbidden, Message: "the signature does not verify with the agent's registered key", Err: ErrBadSignature}
	}
	return msg, nil
}

// Seal signs msg as an agent does: the Base64 of signature and message (crypto_sign).
func Seal(key ed25519.PrivateKey, msg []byte) []byte {
	signed := append(ed25519.Sign(key, msg), msg...)
	return []byte(base64.StdEncoding.EncodeToString(signed))
}

// ParseVerifyKey decodes an agent's Base64 verify key (section 3.05.1).
func ParseVerifyKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errs.Field("verifyKey", "must be the Base64 of a 32-byte Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

package opendsr

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KeyBits is the size of a processor's RSA key.
const KeyBits = 2048

// GenerateKey makes a processor signing key.
func GenerateKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("opendsr signing key: %w", err)
	}
	return k, nil
}

// Sign returns the Base64 RSASSA-PKCS1-v1_5 signature of the SHA-256 digest of body
// ("SHA256withRSA", as OpenGDPR processors sign), the value of HeaderSignature.
func Sign(key *rsa.PrivateKey, body []byte) (string, error) {
	d := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		return "", fmt.Errorf("opendsr sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// ErrBadSignature means a signature does not verify for the body.
var ErrBadSignature = errors.New("opendsr: the signature does not verify")

// Verify checks a Base64 signature made by Sign over body, as the controller does with the
// raw bytes before parsing them (section 8.8). White space in the header value (the
// specification's examples fold it over lines) is ignored.
func Verify(pub *rsa.PublicKey, body []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(signature), ""))
	if err != nil {
		return ErrBadSignature
	}
	d := sha256.Sum256(body)
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) != nil {
		return ErrBadSignature
	}
	return nil
}

// ParseKey decodes a private key kept as a PKCS #8 PEM block.
func ParseKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("opendsr key: not a PKCS #8 PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("opendsr key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("opendsr key: not an RSA key")
	}
	return rk, nil
}

// PublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block, what processor_certificate
// serves.
func PublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("opendsr public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM decodes a key encoded by PublicKeyPEM.
func ParsePublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("opendsr public key: not a PUBLIC KEY PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("opendsr public key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("opendsr public key: not an RSA key")
	}
	return rk, nil
}

// Signed returns the JSON body of doc and the headers that sign it as section 8.6 asks:
// the signature and the processor's domain, under the OpenDSR names and the OpenGDPR ones.
// The body must be sent byte for byte as returned: the signature is of these bytes.
func Signed(key *rsa.PrivateKey, domain string, doc any) (body []byte, headers map[string]string, err error) {
	body, err = json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("opendsr encode: %w", err)
	}
	sig, err := Sign(key, body)
	if err != nil {
		return nil, nil, err
	}
	return body, map[string]string{HeaderSignature: sig, HeaderDomain: domain, LegacyHeaderSignature: sig, LegacyHeaderDomain: domain}, nil
}

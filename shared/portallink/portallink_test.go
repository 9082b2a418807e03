package portallink_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/portallink"
)

var (
	keyA = portallink.Key{ID: "2026-01", Secret: strings.Repeat("A", 32)}
	keyB = portallink.Key{ID: "2026-06", Secret: "a much longer secret of more than thirty-two bytes!"}
	now  = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)
	b64  = base64.RawURLEncoding
)

func claims() portallink.Claims {
	return portallink.Claims{
		Tenant: "acme", ProfileID: "pr_123", Topic: "newsletter", Locale: "pl",
		IssuedAt: now.Unix(), ExpiresAt: now.Add(7 * 24 * time.Hour).Unix(), Nonce: "n0nce",
	}
}

func signer(t testing.TB, keys ...portallink.Key) *portallink.Signer {
	t.Helper()
	s, err := portallink.NewSigner(keys...)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

func sign(t testing.TB, s *portallink.Signer, c portallink.Claims) string {
	t.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

func TestNewSigner(t *testing.T) {
	tests := []struct {
		name    string
		keys    []portallink.Key
		wantErr bool
	}{
		{"one key", []portallink.Key{keyA}, false},
		{"two keys", []portallink.Key{keyB, keyA}, false},
		{"no keys", nil, true},
		{"secret of 31 bytes", []portallink.Key{{ID: "k", Secret: strings.Repeat("x", 31)}}, true},
		{"secret of 32 bytes", []portallink.Key{{ID: "k", Secret: strings.Repeat("x", 32)}}, false},
		{"empty secret", []portallink.Key{{ID: "k"}}, true},
		{"unnamed key", []portallink.Key{{Secret: strings.Repeat("x", 32)}}, true},
		{"second key too short", []portallink.Key{keyA, {ID: "old", Secret: "s3cr3t-0f-19-bytes!"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := portallink.NewSigner(tt.keys...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewSigner() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if s != nil {
					t.Errorf("NewSigner() returned a signer with an error")
				}
				for _, k := range tt.keys {
					if k.Secret != "" && strings.Contains(err.Error(), k.Secret) {
						t.Errorf("error %q leaks a secret", err)
					}
				}
			}
		})
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := signer(t, keyA)
	in := claims()
	in.KeyID = "caller-chosen" // Sign sets the key id itself
	tok := sign(t, s, in)
	if strings.Count(tok, ".") != 1 {
		t.Fatalf("token %q does not have exactly one dot", tok)
	}
	if strings.ContainsAny(tok, "+/= \n") {
		t.Errorf("token %q is not URL-safe base64", tok)
	}
	got, err := s.Verify(tok, now)
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	want := claims()
	want.KeyID = keyA.ID
	if got != want {
		t.Errorf("Verify() = %+v, want %+v", got, want)
	}
	if strings.Contains(tok, keyA.Secret) {
		t.Errorf("token contains the secret")
	}
}

func TestVerifyExpiry(t *testing.T) {
	s := signer(t, keyA)
	c := claims()
	exp := time.Unix(c.ExpiresAt, 0)
	tok := sign(t, s, c)
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"at issue", now, true},
		{"a second before expiry", exp.Add(-time.Second), true},
		{"a nanosecond before expiry", exp.Add(-time.Nanosecond), true},
		{"exactly at expiry", exp, false},
		{"half a second after expiry", exp.Add(500 * time.Millisecond), false},
		{"a year later", exp.AddDate(1, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Verify(tok, tt.at)
			if tt.ok && err != nil {
				t.Errorf("Verify at %v = %v, want valid", tt.at, err)
			}
			if !tt.ok && !errors.Is(err, portallink.ErrInvalid) {
				t.Errorf("Verify at %v = %v, want ErrInvalid", tt.at, err)
			}
		})
	}

	noExpiry := claims()
	noExpiry.ExpiresAt = 0
	if _, err := s.Verify(sign(t, s, noExpiry), now); !errors.Is(err, portallink.ErrInvalid) {
		t.Errorf("token without expiry accepted: %v", err)
	}
}

// tamper re-encodes a token's payload after edit, keeping the original signature.
func tamper(t *testing.T, tok string, edit func(m map[string]any)) string {
	t.Helper()
	p, sig, _ := strings.Cut(tok, ".")
	raw, err := b64.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(raw) + "." + sig
}

func TestVerifyRejects(t *testing.T) {
	sA := signer(t, keyA)
	tok := sign(t, sA, claims())
	p, sig, _ := strings.Cut(tok, ".")
	rawSig, _ := b64.DecodeString(sig)
	flipped := append([]byte(nil), rawSig...)
	flipped[0] ^= 1

	// Same key id, different secret: a forger who guessed the id.
	forger := signer(t, portallink.Key{ID: keyA.ID, Secret: strings.Repeat("B", 32)})
	forged := sign(t, forger, claims())
	// Right secret, different key id.
	otherID := sign(t, signer(t, portallink.Key{ID: "other", Secret: keyA.Secret}), claims())
	// A genuine token for someone else.
	other := claims()
	other.ProfileID = "pr_999"
	otherTok := sign(t, sA, other)
	_, otherSig, _ := strings.Cut(otherTok, ".")

	long := claims()
	long.Topic = strings.Repeat("t", 2000)
	longTok := sign(t, sA, long)

	tests := []struct {
		name  string
		token string
	}{
		{"forged signature (same kid, wrong secret)", forged},
		{"unknown kid", otherID},
		{"signature bit flipped", p + "." + b64.EncodeToString(flipped)},
		{"signature of another token", p + "." + otherSig},
		{"signature truncated", p + "." + sig[:len(sig)-2]},
		{"signature empty", p + "."},
		{"payload only", p},
		{"profile id changed", tamper(t, tok, func(m map[string]any) { m["p"] = "pr_999" })},
		{"tenant changed", tamper(t, tok, func(m map[string]any) { m["t"] = "evil" })},
		{"expiry extended", tamper(t, tok, func(m map[string]any) { m["exp"] = float64(now.AddDate(10, 0, 0).Unix()) })},
		{"kid changed", tamper(t, tok, func(m map[string]any) { m["kid"] = "other" })},
		{"payload re-encoded with padding", b64.EncodeToString([]byte(mustDecode(t, p))) + "=." + sig},
		{"extra dot", tok + "."},
		{"two tokens", tok + "." + tok},
		{"leading space", " " + tok},
		{"trailing space", tok + " "},
		{"newline in the payload", p[:5] + "\n" + p[5:] + "." + sig},
		{"over 2048 bytes", longTok},
		{"empty", ""},
		{"dot", "."},
		{"dots", "..."},
		{"not base64", "!!!.???"},
		{"payload not JSON", b64.EncodeToString([]byte("hello")) + "." + sig},
		{"payload JSON array", b64.EncodeToString([]byte("[1,2]")) + "." + sig},
		{"payload JSON null", b64.EncodeToString([]byte("null")) + "." + sig},
		{"JWT-looking", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		{"SQL injection", "' OR '1'='1.' OR '1'='1"},
		{"HTML", "<script>alert(1)</script>.x"},
		{"unicode", "żółw.żółw"},
		{"control characters", "\x00\x01.\x02"},
		{"very long garbage", strings.Repeat("A", 100000) + "." + strings.Repeat("B", 100000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sA.Verify(tt.token, now)
			if !errors.Is(err, portallink.ErrInvalid) {
				t.Errorf("Verify() = %+v, %v, want ErrInvalid", c, err)
			}
			if c != (portallink.Claims{}) {
				t.Errorf("Verify() returned claims %+v with an error", c)
			}
		})
	}
	if _, err := sA.Verify(tok, now); err != nil {
		t.Errorf("the untampered token stopped verifying: %v", err)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyRejectsNonCanonicalSignature: only the exact token Sign returned verifies.
// A 32-byte HMAC takes 43 base64 characters whose last one carries 2 unused bits, and
// encoding/base64 skips CR and LF even in Strict mode, so a decoder-based comparison
// accepts many spellings of one signature.
func TestVerifyRejectsNonCanonicalSignature(t *testing.T) {
	s := signer(t, keyA)
	tok := sign(t, s, claims())
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	dot := strings.IndexByte(tok, '.')
	variants := map[string]string{
		"trailing newline":         tok + "\n",
		"trailing CRLF":            tok + "\r\n",
		"newline inside signature": tok[:dot+5] + "\n" + tok[dot+5:],
		"newline after the dot":    tok[:dot+1] + "\r" + tok[dot+1:],
	}
	for bits := range 4 {
		if alt := tok[:len(tok)-1] + string(alphabet[last&^3|bits]); alt != tok {
			variants["unused low bits set to "+string(rune('0'+bits))] = alt
		}
	}
	for name, alt := range variants {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Verify(alt, now); err == nil {
				t.Errorf("Verify accepted %q, a re-spelling of the signed token %q", alt[dot:], tok[dot:])
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	oldOnly := signer(t, keyA)
	rotated := signer(t, keyB, keyA) // new key signs, old key still verifies
	newOnly := signer(t, keyB)

	oldTok := sign(t, oldOnly, claims())
	newTok := sign(t, rotated, claims())

	tests := []struct {
		name    string
		s       *portallink.Signer
		token   string
		wantKid string // "" means rejected
	}{
		{"rotated signer verifies a token of the old key", rotated, oldTok, keyA.ID},
		{"rotated signer verifies its own token", rotated, newTok, keyB.ID},
		{"old signer verifies the old token", oldOnly, oldTok, keyA.ID},
		{"old signer rejects a token of the new key", oldOnly, newTok, ""},
		{"after retiring the old key its tokens fail", newOnly, oldTok, ""},
		{"new-only signer verifies a new token", newOnly, newTok, keyB.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.s.Verify(tt.token, now)
			if tt.wantKid == "" {
				if !errors.Is(err, portallink.ErrInvalid) {
					t.Errorf("Verify() = %+v, %v, want ErrInvalid", c, err)
				}
				return
			}
			if err != nil || c.KeyID != tt.wantKid || c.ProfileID != "pr_123" {
				t.Errorf("Verify() = %+v, %v, want kid %q", c, err, tt.wantKid)
			}
		})
	}
	// A token signed with one key's id but checked against another key with the same
	// secret-less identity is not accepted: the kid selects the key.
	swapped := tamper(t, oldTok, func(m map[string]any) { m["kid"] = keyB.ID })
	if _, err := rotated.Verify(swapped, now); err == nil {
		t.Errorf("a token relabelled with the new kid verified")
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    portallink.Key
		wantErr bool
	}{
		{"valid", `{"kid":"2026-01","key":"` + keyA.Secret + `"}`, keyA, false},
		{"extra fields ignored", `{"kid":"k","key":"s","rotated":"2026-01-01"}`, portallink.Key{ID: "k", Secret: "s"}, false},
		{"not JSON", "just-a-secret", portallink.Key{}, true},
		{"empty", "", portallink.Key{}, true},
		{"array", `["k","s"]`, portallink.Key{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := portallink.ParseSecret(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseSecret() = %+v, %v, want %+v, err %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
	// A parsed secret that is too short is refused by NewSigner.
	k, err := portallink.ParseSecret(`{"kid":"k","key":"short"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := portallink.NewSigner(k); err == nil {
		t.Errorf("NewSigner accepted a short parsed secret")
	}
}

// FuzzVerify: Verify never panics, and accepts only tokens that Sign produced. The fuzzer
// does not know the secret, so any token it gets accepted must be one Sign would return
// for the same claims.
func FuzzVerify(f *testing.F) {
	s := signer(f, keyA)
	tok := sign(f, s, claims())
	p, sig, _ := strings.Cut(tok, ".")
	for _, seed := range []string{
		tok, tok + ".", tok[:len(tok)-1], p, "." + sig, p + "." + sig + sig,
		tok + "\r\n", // must be rejected: not what Sign returned
		sign(f, signer(f, keyB), claims()),
		sign(f, signer(f, portallink.Key{ID: keyA.ID, Secret: strings.Repeat("B", 32)}), claims()),
		"", ".", "a.b", "!!!.???", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		b64.EncodeToString([]byte(`{"kid":"2026-01","exp":99999999999}`)) + "." + sig,
		b64.EncodeToString([]byte(`{"kid":"2026-01","exp":1e400}`)) + "." + sig,
		b64.EncodeToString([]byte(`null`)) + "." + sig,
		"' OR '1'='1.--", "<script>.</script>", "żółw.żółw", "\x00.\xff",
		strings.Repeat("A", 3000) + "." + strings.Repeat("B", 43),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token, now)
		if err != nil {
			if !errors.Is(err, portallink.ErrInvalid) || c != (portallink.Claims{}) {
				t.Fatalf("Verify(%q) = %+v, %v", token, c, err)
			}
			return
		}
		if c.KeyID != keyA.ID || c.ExpiresAt <= now.Unix() {
			t.Fatalf("Verify(%q) accepted claims %+v", token, c)
		}
		again, err := s.Sign(c)
		if err != nil || again != token {
			t.Fatalf("Verify accepted %q, which Sign did not produce (Sign gives %q)", token, again)
		}
	})
}

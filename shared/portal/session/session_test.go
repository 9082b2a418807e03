package session_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

var (
	oldKey = portallink.Key{ID: "k1", Secret: strings.Repeat("o", 40)}
	newKey = portallink.Key{ID: "k2", Secret: strings.Repeat("n", 40)}
	t0     = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
)

func keys(t *testing.T, cur portallink.Key, prev ...portallink.Key) *session.Keys {
	t.Helper()
	k, err := session.NewKeys(cur, prev...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t *testing.T, k *session.Keys, s session.Session) string {
	t.Helper()
	v, err := k.Seal(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealOpen(t *testing.T) {
	k := keys(t, newKey)
	s := session.New("acme", "p_abc", session.ViaLink, t0)
	v := seal(t, k, s)
	if strings.Contains(v, "p_abc") || strings.Contains(v, "acme") {
		t.Fatal("the sealed session shows its contents")
	}
	got, err := k.Open("acme", v, t0.Add(time.Minute))
	if err != nil || got != s {
		t.Fatalf("open: %+v %v", got, err)
	}
	if v2 := seal(t, k, s); v2 == v {
		t.Fatal("two seals of one session are equal: the nonce is not random")
	}
}

func TestOpenRejects(t *testing.T) {
	k := keys(t, newKey)
	s := session.New("acme", "p_abc", session.ViaLogin, t0)
	v := seal(t, k, s)
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cases := []struct {
		name, tenant, value string
		at                  time.Time
	}{
		{"tampered nonce", "acme", flip(0), t0},
		{"tampered ciphertext", "acme", flip(len(raw) / 2), t0},
		{"tampered tag", "acme", flip(len(raw) - 1), t0},
		{"truncated", "acme", v[:len(v)-4], t0},
		{"other tenant", "globex", v, t0},
		{"not base64", "acme", v + "!", t0},
		{"empty", "acme", "", t0},
		{"huge", "acme", strings.Repeat("A", 5000), t0},
		{"idle too long", "acme", v, t0.Add(session.IdleTimeout)},
		{"unknown key", "acme", seal(t, keys(t, oldKey), s), t0},
		{"issued in the future", "acme", seal(t, k, session.New("acme", "p_abc", "link", t0.Add(time.Hour))), t0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := k.Open(c.tenant, c.value, c.at); err != session.ErrInvalid {
				t.Fatalf("opened: %v", err)
			}
		})
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	k := keys(t, newKey)
	s := session.New("acme", "p_abc", session.ViaLink, t0)
	// Used every 20 minutes, the session lives until MaxAge and no longer.
	at := t0
	for at.Before(t0.Add(session.MaxAge - 20*time.Minute)) {
		at = at.Add(20 * time.Minute)
		got, err := k.Open("acme", seal(t, k, s), at)
		if err != nil {
			t.Fatalf("active session refused at %v: %v", at.Sub(t0), err)
		}
		s = got
		s.SeenAt = at.Unix()
	}
	if _, err := k.Open("acme", seal(t, k, s), t0.Add(session.MaxAge)); err == nil {
		t.Fatal("a session outlived MaxAge")
	}
	if !s.ExpiresAt().Equal(t0.Add(session.MaxAge)) {
		t.Fatalf("ExpiresAt %v, want the absolute end", s.ExpiresAt())
	}
}

func TestRotation(t *testing.T) {
	before := keys(t, oldKey)
	after := keys(t, newKey, oldKey)
	s := session.New("acme", "p_abc", session.ViaLink, t0)
	old := seal(t, before, s)
	if _, err := after.Open("acme", old, t0); err != nil {
		t.Fatalf("a session sealed before the rotation was refused: %v", err)
	}
	fresh := seal(t, after, s)
	if _, err := before.Open("acme", fresh, t0); err == nil {
		t.Fatal("a session sealed after the rotation opened with the old key alone: it was not sealed with the current key")
	}
	if _, err := keys(t, newKey).Open("acme", old, t0); err == nil {
		t.Fatal("once the previous secret is gone, its sessions must not open")
	}
	tok := before.CSRFToken("acme", "s:1")
	if !after.CheckCSRF("acme", "s:1", tok) {
		t.Fatal("a form token made before the rotation was refused")
	}
	if _, err := session.NewKeys(portallink.Key{ID: "short", Secret: "too short"}); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

func TestCSRF(t *testing.T) {
	k := keys(t, newKey)
	tok := k.CSRFToken("acme", "s:abc")
	cases := []struct {
		name, tenant, binding, token string
		ok                           bool
	}{
		{"valid", "acme", "s:abc", tok, true},
		{"other session", "acme", "s:abd", tok, false},
		{"other tenant", "globex", "s:abc", tok, false},
		{"missing", "acme", "s:abc", "", false},
		{"no binding", "acme", "", k.CSRFToken("acme", ""), false},
		{"garbage", "acme", "s:abc", "not-a-token", false},
		{"other key", "acme", "s:abc", keys(t, oldKey).CSRFToken("acme", "s:abc"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := k.CheckCSRF(c.tenant, c.binding, c.token); got != c.ok {
				t.Fatalf("CheckCSRF = %v, want %v", got, c.ok)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	k := keys(t, newKey)
	s := session.New("acme", "p_abc", session.ViaLink, t0)
	line, err := k.Cookie(s, t0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := http.ParseSetCookie(line)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "__Host-lp_s_acme" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie attributes: %+v", c)
	}
	if c.MaxAge != int(session.IdleTimeout/time.Second) {
		t.Fatalf("Max-Age %d, want the idle timeout", c.MaxAge)
	}
	if cl, _ := http.ParseSetCookie(session.ClearCookie("acme")); cl.MaxAge >= 0 || cl.Name != c.Name {
		t.Fatalf("clear cookie: %+v", cl)
	}
}

func TestPseudonym(t *testing.T) {
	k := keys(t, newKey)
	a, b := k.Pseudonym("acme", "ip", "203.0.113.9"), k.Pseudonym("acme", "ip", "203.0.113.9")
	if a != b || len(a) != 32 || strings.Contains(a, "203") {
		t.Fatalf("pseudonym %q %q", a, b)
	}
	if a == k.Pseudonym("acme", "ip2", "03.0.113.9") || a == keys(t, oldKey).Pseudonym("acme", "ip", "203.0.113.9") {
		t.Fatal("pseudonyms collide across inputs or keys")
	}
}

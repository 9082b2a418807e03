package linktoken_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func signer(t *testing.T) *portallink.Signer {
	t.Helper()
	s, err := portallink.NewSigner(portallink.Key{ID: "k1", Secret: strings.Repeat("s", 40)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims() portallink.Claims {
	return portallink.Claims{Tenant: "acme", ProfileID: "p_x", Topic: "newsletter", IssuedAt: t0.Unix(), ExpiresAt: t0.Add(time.Hour).Unix()}
}

func TestKindsDoNotCross(t *testing.T) {
	s := signer(t)
	for _, k := range []linktoken.Kind{linktoken.Open, linktoken.Login, linktoken.Unsubscribe} {
		tok, c, err := linktoken.Mint(s, k, claims())
		if err != nil {
			t.Fatal(err)
		}
		if linktoken.KindOf(c) != k || c.KeyID != "k1" {
			t.Fatalf("%v: minted claims %+v", k, c)
		}
		for _, other := range []linktoken.Kind{linktoken.Open, linktoken.Login, linktoken.Unsubscribe} {
			_, got, err := linktoken.Verify(s, tok, t0, other)
			switch {
			case other == k && (err != nil || got != k):
				t.Errorf("%v token refused as itself: %v", k, err)
			case other != k && !errors.Is(err, linktoken.ErrWrongKind):
				t.Errorf("%v token accepted as %v", k, other)
			}
		}
	}
	// Links minted before kinds existed have a bare nonce: they are Open links.
	c := claims()
	c.Nonce = "abcdefghijklmnopqrstuvwxyz"
	tok, _ := s.Sign(c)
	if _, k, err := linktoken.Verify(s, tok, t0, linktoken.Open); err != nil || k != linktoken.Open {
		t.Fatalf("legacy link: %v %v", k, err)
	}
	if _, _, err := linktoken.Mint(s, linktoken.Unsubscribe, portallink.Claims{Tenant: "acme"}); err == nil {
		t.Fatal("an unsubscribe token without a topic was minted")
	}
}

func TestVerifySignatureIgnoresOnlyExpiry(t *testing.T) {
	s := signer(t)
	tok, _, _ := linktoken.Mint(s, linktoken.Open, claims())
	later := t0.Add(2 * time.Hour)
	if _, _, err := linktoken.Verify(s, tok, later, linktoken.Open); err == nil {
		t.Fatal("an expired token verified")
	}
	if _, _, err := linktoken.VerifySignature(s, tok, later, 24*time.Hour, linktoken.Open); err != nil {
		t.Fatalf("the signature of an expired token: %v", err)
	}
	if _, _, err := linktoken.VerifySignature(s, tok, t0.Add(48*time.Hour), 24*time.Hour, linktoken.Open); err == nil {
		t.Fatal("a token older than maxAge was accepted")
	}
	forged := tok[:len(tok)-2] + "AA"
	if _, _, err := linktoken.VerifySignature(s, forged, later, 24*time.Hour, linktoken.Open); err == nil {
		t.Fatal("a forged token's signature verified")
	}
}

func TestURLs(t *testing.T) {
	base := linktoken.BaseURL("", "api.example.com")
	if base != "https://api.example.com/portal" || linktoken.BaseURL("https://p.example.com/portal/", "x") != "https://p.example.com/portal" {
		t.Fatalf("base %q", base)
	}
	if u := linktoken.OpenURL(base, "acme", "a.b"); u != "https://api.example.com/portal/acme/t/a.b" {
		t.Fatal(u)
	}
	lu, lp := linktoken.ListUnsubscribe(base, "acme", "a.b")
	if lu != "<https://api.example.com/portal/acme/unsubscribe/a.b>" || lp != "List-Unsubscribe=One-Click" {
		t.Fatal(lu, lp)
	}
	if u := linktoken.PageURL(base, "acme", "/rights"); u != "https://api.example.com/portal/acme/rights" {
		t.Fatal(u)
	}
}

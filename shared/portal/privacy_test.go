package portal_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/infra/seed"
)

// TestPrivacyPage: the transparency page is public (no session, no cookie set), states the
// demo catalog's controller, DPO, purposes, bases, categories, recipients, transfers and
// retention in the language asked for, and is cacheable with an ETag that If-None-Match
// answers with 304.
func TestPrivacyPage(t *testing.T) {
	b := newBrowser(t)
	r := must(t, b.get("/portal/acme/privacy"), 200)
	for _, want := range []string{
		"How we use your personal data", "Demo Shop sp. z o.o.", `href="mailto:dpo@demo-shop.example"`,
		"Marketing communication", "Consent (Art. 6(1)(a) GDPR)", "Legitimate interests (Art. 6(1)(f) GDPR)",
		"Contact details", "Email delivery provider (processor, US)", "standard contractual clauses (Art. 46(2)(c) GDPR)",
		`href="https://example.com/legal/sccs-esp"`, "730 days", "while the customer relationship lasts",
		"Loyalty programme membership", "Your rights", `href="/portal/acme/login"`, `href="/portal/acme/privacy.json"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if len(r.cookies) > 0 {
		t.Errorf("the public page sets cookies %v", r.cookies)
	}
	if cc := r.headers["Cache-Control"]; cc != "public, max-age=300" || r.headers["Pragma"] != "" {
		t.Errorf("Cache-Control %q, Pragma %q; want public caching", cc, r.headers["Pragma"])
	}
	if csp := r.headers["Content-Security-Policy"]; strings.Contains(csp, "script-src") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	tag := r.headers["ETag"]
	if !strings.HasPrefix(tag, `"c`) {
		t.Fatalf("ETag %q", tag)
	}
	b.header["If-None-Match"] = tag
	if nm := b.get("/portal/acme/privacy"); nm.status != 304 || nm.body != "" {
		t.Errorf("If-None-Match: status %d, body %d bytes; want 304 and none", nm.status, len(nm.body))
	}
	delete(b.header, "If-None-Match")

	pl := must(t, b.get("/portal/acme/privacy?lang=pl"), 200)
	if !strings.Contains(pl.body, "Jak wykorzystujemy Twoje dane osobowe") || !strings.Contains(pl.body, "Zgoda (art. 6 ust. 1 lit. a RODO)") ||
		!strings.Contains(pl.body, `<html lang="pl">`) {
		t.Error("?lang=pl is not Polish")
	}
	if pl.headers["ETag"] == tag {
		t.Error("the Polish page has the English page's ETag")
	}
	b.header["Accept-Language"] = "pl-PL,pl;q=0.9"
	if r := must(t, b.get("/portal/acme/privacy"), 200); !strings.Contains(r.body, "Twoje prawa") {
		t.Error("Accept-Language pl is not Polish")
	}
}

func TestPrivacyJSON(t *testing.T) {
	r := must(t, newBrowser(t).get("/portal/acme/privacy.json"), 200)
	if ct := r.headers["Content-Type"]; ct != "application/ld+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["@id"] != "https://portal.test/portal/acme/privacy.json" {
		t.Errorf("@id = %v", doc["@id"])
	}
	for _, want := range []string{`"dpv:PersonalDataHandling"`, `"eu-gdpr:A6-1-a"`, `"eu-gdpr:A6-1-b"`, `"dpv:hasRecipient"`,
		`"loc:CH"`, `"eu-gdpr:A45-3"`, `"Demo Shop sp. z o.o."`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("JSON-LD lacks %s", want)
		}
	}
}

// TestPrivacyNotFound: an unknown or disabled tenant's page is the 404 page, never cached.
func TestPrivacyNotFound(t *testing.T) {
	ctx := context.Background()
	const tn = "hooli"
	if err := seed.Tenant(ctx, env.store, tn, "Hooli"); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, env.svc, tn, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	if err := env.store.SetTenantDisabled(ctx, tn, true); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/portal/nosuchtenant/privacy", "/portal/" + tn + "/privacy", "/portal/" + tn + "/privacy.json", "/portal/BAD!/privacy"} {
		r := newBrowser(t).get(path)
		if r.status != 404 || r.headers["Cache-Control"] != "no-store" {
			t.Errorf("%s: status %d, Cache-Control %q; want 404, no-store", path, r.status, r.headers["Cache-Control"])
		}
	}
}

func TestFooterLinksPrivacy(t *testing.T) {
	r := must(t, newBrowser(t).get("/portal/acme/login"), 200)
	if !strings.Contains(r.body, `<a href="/portal/acme/privacy">How we use your personal data</a>`) {
		t.Error("the footer does not link the transparency page")
	}
}

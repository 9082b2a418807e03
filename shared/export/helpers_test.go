package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/net/html"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// testCatalog is a small bilingual catalog with every legal-basis situation the export shows.
const testCatalog = `{
  "version": 3, "defaultLocale": "en", "locales": ["en", "pl"],
  "notices": [{"id": "privacy", "title": {"en": "Privacy", "pl": "Prywatność"},
    "versions": [{"version": 1, "text": {"en": "We process.", "pl": "Przetwarzamy."}, "publishedAt": "2025-01-01T00:00:00Z"}]}],
  "purposes": [
    {"id": "marketing", "legalBasis": "consent", "directMarketing": true, "notice": "privacy", "noticeVersion": 1, "retentionDays": 730,
     "name": {"en": "Marketing communication", "pl": "Komunikacja marketingowa"}},
    {"id": "personalisation", "legalBasis": "consent", "automatedDecision": true, "notice": "privacy", "noticeVersion": 1,
     "name": {"en": "Personalised offers", "pl": "Spersonalizowane oferty"}},
    {"id": "service", "legalBasis": "contract", "notice": "privacy", "noticeVersion": 1,
     "name": {"en": "Your account", "pl": "Twoje konto"}, "description": {"en": "Orders <b>and</b> delivery."}}
  ],
  "channels": [{"id": "email", "name": {"en": "Email", "pl": "E-mail"}}, {"id": "sms", "name": {"en": "Text message", "pl": "SMS"}}],
  "topics": [{"id": "newsletter", "purpose": "marketing", "channels": ["email", "sms"], "frequencies": ["weekly"],
    "name": {"en": "Newsletter", "pl": "Newsletter"}}],
  "attributes": [{"name": "loyalty_tier", "type": "string", "label": {"en": "Loyalty tier", "pl": "Poziom"}},
    {"name": "vip", "type": "boolean"}, {"name": "shoe_size", "type": "number"}]
}`

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// memLedger is a profile's ledger in memory; it records the limits asked for.
type memLedger struct {
	mu     sync.Mutex
	events []ledger.Event
	limits []int
}

func (m *memLedger) Events(_ context.Context, _, _ string, from int64, limit int) ([]ledger.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.limits = append(m.limits, limit)
	var out []ledger.Event
	for _, e := range m.events {
		if e.Seq >= from && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// person is a profile with two identities, attributes (one a formula), consents, a
// subscription, an objection and n ledger events from several actors.
func person(t testing.TB, tenant string, n int) (*profile.Profile, *catalog.Catalog, *memLedger) {
	t.Helper()
	var cat catalog.Catalog
	if err := json.Unmarshal([]byte(testCatalog), &cat); err != nil {
		t.Fatal(err)
	}
	if err := cat.Validate(); err != nil {
		t.Fatal(err)
	}
	p := profile.New(app.NewID("p_"), t0)
	p.Version = int64(n)
	p.Identities = []profile.Identity{{Type: "email", Value: "ada@example.com"}, {Type: "phone", Value: "+48123456789"}}
	p.Attributes = map[string]any{"givenName": "Ada <script>alert(1)</script>", "loyalty_tier": "=HYPERLINK(\"http://evil.example\",\"x\")",
		"vip": true, "shoe_size": 38.5, "locale": "en"}
	p.AttributeTimes = map[string]time.Time{"givenName": t0, "loyalty_tier": t0, "vip": t0, "shoe_size": t0, "locale": t0, "country": t0}
	// Provenance: the email was attached by the web shop's API key, the phone before the
	// service recorded sources; the CRM synced the given name, the person set the locale.
	p.IdentitySources = map[string]profile.Provenance{"email:ada@example.com": {Source: ledger.Actor{Kind: ledger.ActorAPIKey, ID: "key1"}, At: t0}}
	p.AttributeSources = map[string]ledger.Actor{"givenName": {Kind: ledger.ActorSync, ID: "crm"}, "locale": {Kind: ledger.ActorPortal},
		"country": {Kind: ledger.ActorSync, ID: "crm"}}
	exp := t0.AddDate(1, 0, 0)
	p.Consents = map[string]profile.Consent{
		"marketing":       {Status: profile.Granted, LegalBasis: catalog.Consent, NoticeVersion: 1, Locale: "en", Source: ledger.Actor{Kind: ledger.ActorPortal}, UpdatedAt: t0, ExpiresAt: &exp},
		"personalisation": {Status: profile.Withdrawn, LegalBasis: catalog.Consent, NoticeVersion: 1, Source: ledger.Actor{Kind: ledger.ActorAPIKey, ID: "key1"}, UpdatedAt: t0},
	}
	p.Subscriptions = map[string]profile.Subscription{
		"newsletter": {Status: profile.Subscribed, Channels: []string{"email", "sms"}, Frequency: "weekly", Source: ledger.Actor{Kind: ledger.ActorSync, ID: "crm"}, UpdatedAt: t0},
	}
	p.Rights.Objections = map[string]time.Time{"service": t0}
	actors := []ledger.Actor{{Kind: ledger.ActorAPIKey, ID: "key1"}, {Kind: ledger.ActorPortal}, {Kind: ledger.ActorSync, ID: "crm"}, {Kind: ledger.ActorOperator, ID: "ops"}}
	m := &memLedger{}
	prev := ""
	for i := 1; i <= n; i++ {
		e := ledger.Event{ID: fmt.Sprintf("ev_%06d", i), Tenant: tenant, ProfileID: p.ID, Seq: int64(i), Type: profile.EventConsentChanged,
			At: t0.Add(time.Duration(i) * time.Second), Actor: actors[i%len(actors)], Subject: "marketing", NoticeVersion: 1, LegalBasis: "consent",
			New: json.RawMessage(fmt.Sprintf(`{"status":"granted","n":%d,"note":"=1+1"}`, i))}
		ledger.Seal(prev, &e)
		prev = e.Hash
		m.events = append(m.events, e)
	}
	p.LedgerSeq, p.LedgerHead = int64(n), prev
	return p, &cat, m
}

// input is a complete export input for p.
func input(p *profile.Profile, cat *catalog.Catalog, l export.EventReader, locale string) export.Input {
	req := dsr.New(app.NewID("rq_"), "acme", p.ID, dsr.Access, "", dsr.AttestedBrand, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "key1"}, t0)
	req.Locale, req.Status = locale, dsr.InProgress
	old := dsr.New(app.NewID("rq_"), "acme", p.ID, dsr.Objection, "service", dsr.VerifiedPortal, ledger.Actor{Kind: ledger.ActorPortal}, t0.Add(-time.Hour))
	_ = old.Close(dsr.Completed, "", t0)
	return export.Input{
		GeneratedAt: t0.Add(time.Hour), Controller: export.Controller{ID: "acme", Name: "Acme & Co"}, Request: *req,
		Profile: p, Catalog: cat, Requests: []dsr.Request{*old, *req}, Ledger: l,
		Recipients: []export.Recipient{{Description: "CRM <sync>", Host: "crm.example.com"}, {Host: "esp.example.net"}},
		SourceName: func(_ context.Context, a ledger.Actor) string {
			if a.ID == "key1" {
				return "Web shop"
			}
			return ""
		},
	}
}

// opened is an export ZIP's files by name, in ZIP order.
type opened struct {
	names []string
	files map[string][]byte
}

func openZip(t testing.TB, b []byte) opened {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a ZIP: %v", err)
	}
	o := opened{files: map[string][]byte{}}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		o.names = append(o.names, f.Name)
		o.files[f.Name] = data
	}
	return o
}

func (o opened) csv(t testing.TB, name string) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(o.files[name]))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s is not RFC 4180 CSV: %v", name, err)
	}
	return rows
}

// schema compiles docs/export.schema.json, asserting formats.
func schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "docs", "export.schema.json")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

func validate(t testing.TB, s *jsonschema.Schema, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("profile.json is not JSON: %v", err)
	}
	if err := s.Validate(v); err != nil {
		t.Fatalf("profile.json does not validate against docs/export.schema.json: %v", err)
	}
}

// page is a parsed HTML document.
type page struct{ root *html.Node }

func parseHTML(t testing.TB, b []byte) page {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("index.html does not parse: %v", err)
	}
	return page{root}
}

func (p page) all(fn func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if fn(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(p.root)
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func (p page) byID(id string) *html.Node {
	ns := p.all(func(n *html.Node) bool { v, ok := attr(n, "id"); return n.Type == html.ElementNode && ok && v == id })
	if len(ns) != 1 {
		return nil
	}
	return ns[0]
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/net/html"

	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

func build(t testing.TB, in export.Input) ([]byte, export.Summary) {
	t.Helper()
	in.TempDir = t.TempDir()
	var buf bytes.Buffer
	sum, err := export.Build(context.Background(), &buf, in)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// exportDoc is the part of profile.json the tests read.
type exportDoc struct {
	Identities []map[string]any  `json:"identities"`
	Attributes map[string]any    `json:"attributes"`
	AttrTimes  map[string]string `json:"attributeTimes"`
	Ledger     struct {
		Events       []ledger.Event      `json:"events"`
		Verification export.Verification `json:"verification"`
	} `json:"ledger"`
	Requests []map[string]any `json:"requests"`
	Art15    struct {
		Purposes   []map[string]any   `json:"purposes"`
		Recipients []export.Recipient `json:"recipients"`
		Sources    []export.Source    `json:"sources"`
		Automated  []string           `json:"automatedDecisionPurposes"`
	} `json:"art15"`
}

func TestBuildSmallProfile(t *testing.T) {
	p, cat, l := person(t, "acme", 250)
	b, sum := build(t, input(p, cat, l, "en"))
	z := openZip(t, b)
	if !slices.Equal(z.names, export.Files) {
		t.Fatalf("ZIP holds %v, want %v", z.names, export.Files)
	}

	t.Run("profile.json validates and holds everything", func(t *testing.T) {
		validate(t, schema(t), z.files[export.FileJSON])
		var d exportDoc
		if err := json.Unmarshal(z.files[export.FileJSON], &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Identities) != 2 || len(d.Attributes) != 5 || len(d.AttrTimes) != 6 || len(d.Requests) != 2 {
			t.Errorf("identities %d attributes %d attributeTimes %d requests %d", len(d.Identities), len(d.Attributes), len(d.AttrTimes), len(d.Requests))
		}
		if len(d.Ledger.Events) != 250 || !slices.EqualFunc(d.Ledger.Events, l.events, func(a, b ledger.Event) bool { return a.Hash == b.Hash }) {
			t.Fatalf("ledger holds %d events, not the stored 250 in order", len(d.Ledger.Events))
		}
		// Exported verbatim: the person can re-check the chain from the file alone.
		if ok, at := ledger.Verify("", d.Ledger.Events); !ok {
			t.Errorf("exported events do not verify from %d", at)
		}
		v := d.Ledger.Verification
		if !v.Verified || v.Count != 250 || v.Head != p.LedgerHead || sum.Ledger != v {
			t.Errorf("verification %+v, summary %+v", v, sum.Ledger)
		}
		if len(d.Art15.Purposes) != 3 || d.Art15.Purposes[2]["legalBasis"] != "contract" || len(d.Art15.Recipients) != 2 ||
			!slices.Equal(d.Art15.Automated, []string{"personalisation"}) {
			t.Errorf("art15 %+v", d.Art15)
		}
		var kinds []string
		for _, s := range d.Art15.Sources {
			kinds = append(kinds, s.Kind)
			if s.Kind == ledger.ActorAPIKey && s.Name != "Web shop" {
				t.Errorf("API key source named %q", s.Name)
			}
		}
		if !slices.Equal(kinds, []string{"api_key", "operator", "portal", "sync"}) {
			t.Errorf("sources %v", kinds)
		}
	})

	t.Run("CSV files parse with one row per item", func(t *testing.T) {
		for name, want := range map[string]int{
			export.FileIdentities: 2, export.FileAttributes: 5, export.FileConsents: 2, export.FileSubscriptions: 1,
			export.FileLedger: 250, export.FileRequests: 2,
		} {
			rows := z.csv(t, name)
			if len(rows)-1 != want {
				t.Errorf("%s: %d rows, want %d", name, len(rows)-1, want)
			}
		}
		if !bytes.Contains(z.files[export.FileLedger], []byte("\r\n")) {
			t.Error("ledger.csv lines do not end in CRLF (RFC 4180)")
		}
		attrs := z.csv(t, export.FileAttributes)
		for _, r := range attrs[1:] {
			if r[0] == "loyalty_tier" && !strings.HasPrefix(r[1], "'=HYPERLINK") {
				t.Errorf("formula not neutralized: %q", r[1])
			}
		}
		for _, r := range z.csv(t, export.FileIdentities)[1:] {
			if r[0] == "phone" && r[1] != "'+48123456789" {
				t.Errorf("phone cell %q", r[1])
			}
		}
		ledgerRows := z.csv(t, export.FileLedger)
		if ledgerRows[1][0] != "1" || ledgerRows[250][0] != "250" || ledgerRows[250][13] != p.LedgerHead {
			t.Errorf("ledger.csv rows out of order: %v", ledgerRows[250])
		}
	})

	t.Run("index.html opens: self-contained, escaped, with the Art. 15 facts", func(t *testing.T) {
		raw := z.files[export.FileHTML]
		pg := parseHTML(t, raw)
		htmlEl := pg.all(func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "html" })
		if lang, _ := attr(htmlEl[0], "lang"); lang != "en" {
			t.Errorf("lang %q", lang)
		}
		if s := pg.all(func(n *html.Node) bool {
			_, src := attr(n, "src")
			_, href := attr(n, "href")
			return n.Type == html.ElementNode && (n.Data == "script" || n.Data == "link" || n.Data == "iframe" || src || href)
		}); len(s) > 0 {
			t.Errorf("page has scripts or external references: %v", s[0].Data)
		}
		if bytes.Contains(raw, []byte("<script>alert")) || !bytes.Contains(raw, []byte("Ada &lt;script&gt;")) {
			t.Error("attribute value not escaped")
		}
		for _, id := range []string{"identities", "attributes", "consents", "subscriptions", "rights", "requests", "purposes", "categories",
			"recipients", "sources", "automated-decisions", "your-rights", "complaint", "ledger"} {
			if pg.byID(id) == nil {
				t.Errorf("no section #%s", id)
			}
		}
		purposes := text(pg.byID("purposes"))
		for _, want := range []string{"Marketing communication", "Your consent (Art. 6(1)(a) GDPR)", "730 days",
			"Your account", "Performance of a contract", "As long as you are our customer"} {
			if !strings.Contains(purposes, want) {
				t.Errorf("purposes section lacks %q: %s", want, purposes)
			}
		}
		if rec := text(pg.byID("recipients")); !strings.Contains(rec, "CRM <sync>") || !strings.Contains(rec, "esp.example.net") {
			t.Errorf("recipients: %s", rec)
		}
		if src := text(pg.byID("sources")); !strings.Contains(src, "Web shop") || !strings.Contains(src, "crm") || !strings.Contains(src, "preference centre") {
			t.Errorf("sources: %s", src)
		}
		if c := text(pg.byID("complaint")); !strings.Contains(c, "supervisory authority") {
			t.Errorf("complaint: %s", c)
		}
		rows := pg.all(func(n *html.Node) bool {
			return n.Type == html.ElementNode && n.Data == "tr" && n.Parent != nil && n.Parent.Parent != nil && ancestorID(n, "ledger")
		})
		if len(rows) != 251 { // header + 250 events
			t.Errorf("ledger table has %d rows", len(rows))
		}
	})

	t.Run("the ledger is read in bounded pages", func(t *testing.T) {
		if len(l.limits) != 3 || slices.Max(l.limits) > 100 {
			t.Errorf("ledger reads %v, want three pages of at most 100", l.limits)
		}
	})
}

func ancestorID(n *html.Node, id string) bool {
	for ; n != nil; n = n.Parent {
		if v, ok := attr(n, "id"); ok && v == id {
			return true
		}
	}
	return false
}

func TestBuildPolish(t *testing.T) {
	p, cat, l := person(t, "acme", 3)
	b, sum := build(t, input(p, cat, l, "pl-PL"))
	z := openZip(t, b)
	validate(t, schema(t), z.files[export.FileJSON])
	pg := parseHTML(t, z.files[export.FileHTML])
	htmlEl := pg.all(func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "html" })
	if lang, _ := attr(htmlEl[0], "lang"); lang != "pl" || sum.Locale != "pl" {
		t.Errorf("lang %q, locale %q", lang, sum.Locale)
	}
	purposes := text(pg.byID("purposes"))
	for _, want := range []string{"Komunikacja marketingowa", "Twoja zgoda (art. 6 ust. 1 lit. a RODO)", "730 dni", "Wykonanie umowy"} {
		if !strings.Contains(purposes, want) {
			t.Errorf("purposes lack %q: %s", want, purposes)
		}
	}
	if c := text(pg.byID("complaint")); !strings.Contains(c, "Prezes Urzędu Ochrony Danych Osobowych") {
		t.Errorf("complaint: %s", c)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	p, cat, l := person(t, "acme", 120)
	in := input(p, cat, l, "en")
	a, _ := build(t, in)
	b, _ := build(t, in)
	if !bytes.Equal(a, b) {
		t.Error("the same input built different bytes")
	}
}

func TestBuildReportsBrokenChain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(*memLedger)
		broken int64
	}{
		{"changed event", func(m *memLedger) { m.events[41].Subject = "partners" }, 42},
		{"removed event", func(m *memLedger) { m.events = slices.Delete(m.events, 150, 151) }, 152},
		{"cut off before the head", func(m *memLedger) { m.events = m.events[:199] }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cat, l := person(t, "acme", 200)
			tc.tamper(l)
			b, sum := build(t, input(p, cat, l, "en"))
			if sum.Ledger.Verified || sum.Ledger.BrokenAtSeq != tc.broken {
				t.Errorf("verification %+v, want broken at %d", sum.Ledger, tc.broken)
			}
			z := openZip(t, b)
			validate(t, schema(t), z.files[export.FileJSON])
			if !bytes.Contains(z.files[export.FileHTML], []byte(`class="warn"`)) {
				t.Error("index.html does not warn of the broken history")
			}
		})
	}
}

func TestRecipientsOf(t *testing.T) {
	got := export.RecipientsOf([]webhook.Endpoint{
		{URL: "https://hooks.example.com/path/secret-token?sig=x", Description: "CRM"},
		{URL: "https://HOOKS.example.com/other", Description: "CRM"},
		{URL: "https://esp.example.net/a"},
		{URL: "::not a url"},
	})
	want := []export.Recipient{{Host: "esp.example.net"}, {Description: "CRM", Host: "hooks.example.com"}}
	if !slices.Equal(got, want) {
		t.Errorf("RecipientsOf = %+v, want %+v", got, want)
	}
}

func TestKeys(t *testing.T) {
	if k := export.Key("acme", "p_x", "rq_y"); k != "acme/p_x/rq_y.zip" || !strings.HasPrefix(k, export.ProfilePrefix("acme", "p_x")) {
		t.Errorf("Key = %q", k)
	}
}

// BenchmarkBuild1000Events builds the export of a person with 1,000 ledger events.
func BenchmarkBuild1000Events(b *testing.B) {
	p, cat, l := person(b, "acme", 1000)
	in := input(p, cat, l, "en")
	in.TempDir = b.TempDir()
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if _, err := export.Build(context.Background(), &buf, in); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "zip-bytes")
}

// TestSchemaIsStrict: the schema rejects what an export must never be, so a passing
// validation means something.
func TestSchemaIsStrict(t *testing.T) {
	p, cat, l := person(t, "acme", 2)
	b, _ := build(t, input(p, cat, l, "en"))
	good := openZip(t, b).files[export.FileJSON]
	s := schema(t)
	for name, mutate := range map[string]func(map[string]any){
		"missing art15":   func(d map[string]any) { delete(d, "art15") },
		"unknown field":   func(d map[string]any) { d["extra"] = 1 },
		"bad legal basis": func(d map[string]any) { d["consents"].([]any)[0].(map[string]any)["legalBasis"] = "because" },
		"bad time":        func(d map[string]any) { d["generatedAt"] = "yesterday" },
		"event without hash": func(d map[string]any) {
			delete(d["ledger"].(map[string]any)["events"].([]any)[0].(map[string]any), "hash")
		},
		"recipient with a url": func(d map[string]any) {
			d["art15"].(map[string]any)["recipients"].([]any)[0].(map[string]any)["url"] = "https://x"
		},
	} {
		t.Run(name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(good, &d); err != nil {
				t.Fatal(err)
			}
			mutate(d)
			raw, _ := json.Marshal(d)
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if s.Validate(v) == nil {
				t.Error("the schema accepted it")
			}
		})
	}
}

// byProfile is the ledgers of several profiles, each read by its id.
type byProfile map[string]*memLedger

func (b byProfile) Events(ctx context.Context, tenant, id string, from int64, limit int) ([]ledger.Event, error) {
	return b[id].Events(ctx, tenant, id, from, limit)
}

// TestBuildMergedProfile: the export of a profile that absorbed another holds the absorbed
// chain too, verified on its own to the head the merge recorded; a tampered one is reported.
func TestBuildMergedProfile(t *testing.T) {
	for _, tamper := range []bool{false, true} {
		t.Run(fmt.Sprintf("tampered=%v", tamper), func(t *testing.T) {
			p, cat, l := person(t, "acme", 20)
			b, _, lb := person(t, "acme", 7)
			p.Aliases = []string{b.ID}
			p.ClosedChains = map[string]profile.ChainHead{b.ID: {Seq: b.LedgerSeq, Hash: b.LedgerHead}}
			if tamper {
				lb.events[3].Subject = "partners"
			}
			z := openZip(t, func() []byte { out, _ := build(t, input(p, cat, byProfile{p.ID: l, b.ID: lb}, "en")); return out }())
			validate(t, schema(t), z.files[export.FileJSON])
			var d struct {
				Ledger struct {
					Events []ledger.Event `json:"events"`
					Merged []struct {
						ProfileID    string              `json:"profileId"`
						Events       []ledger.Event      `json:"events"`
						Verification export.Verification `json:"verification"`
					} `json:"mergedLedgers"`
				} `json:"ledger"`
			}
			if err := json.Unmarshal(z.files[export.FileJSON], &d); err != nil {
				t.Fatal(err)
			}
			if len(d.Ledger.Events) != 20 || len(d.Ledger.Merged) != 1 || d.Ledger.Merged[0].ProfileID != b.ID || len(d.Ledger.Merged[0].Events) != 7 {
				t.Fatalf("ledger %d events, merged %+v; want 20 and the absorbed 7", len(d.Ledger.Events), d.Ledger.Merged)
			}
			if v := d.Ledger.Merged[0].Verification; v.Verified == tamper || tamper && v.BrokenAtSeq != 4 {
				t.Fatalf("the absorbed chain's verification %+v, tampered %v", v, tamper)
			}
			if rows := z.csv(t, export.FileLedger); len(rows) != 1+27 {
				t.Fatalf("ledger.csv has %d rows, want a header and 27 events", len(rows))
			}
		})
	}
}

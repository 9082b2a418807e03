package export_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// TestExportSaysWhereDataCameFrom: every identity, attribute, consent and subscription
// carries its source and time in profile.json, the CSV files and index.html (GDPR Art.
// 14(2)(f)); a value from before the service recorded its source says so.
func TestExportSaysWhereDataCameFrom(t *testing.T) {
	p, cat, l := person(t, "acme", 3)
	key1, crm, portal := ledger.Actor{Kind: ledger.ActorAPIKey, ID: "key1"}, ledger.Actor{Kind: ledger.ActorSync, ID: "crm"}, ledger.Actor{Kind: ledger.ActorPortal}

	t.Run("profile.json", func(t *testing.T) {
		b, _ := build(t, input(p, cat, l, "en"))
		z := openZip(t, b)
		validate(t, schema(t), z.files[export.FileJSON])
		var d struct {
			Identities []struct {
				Type, Value string
				Source      *ledger.Actor `json:"source"`
				AddedAt     string        `json:"addedAt"`
			} `json:"identities"`
			AttributeSources map[string]ledger.Actor `json:"attributeSources"`
			Consents         []struct {
				Source    ledger.Actor `json:"source"`
				UpdatedAt string       `json:"updatedAt"`
			} `json:"consents"`
			Subscriptions []struct {
				Source    ledger.Actor `json:"source"`
				UpdatedAt string       `json:"updatedAt"`
			} `json:"subscriptions"`
		}
		if err := json.Unmarshal(z.files[export.FileJSON], &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Identities) != 2 || d.Identities[0].Source == nil || *d.Identities[0].Source != key1 || d.Identities[0].AddedAt != "2026-03-02T10:00:00Z" {
			t.Errorf("email identity %+v", d.Identities[0])
		}
		if d.Identities[1].Source != nil || d.Identities[1].AddedAt != "" {
			t.Errorf("the phone has no recorded source, yet the export gives one: %+v", d.Identities[1])
		}
		if d.AttributeSources["givenName"] != crm || d.AttributeSources["locale"] != portal || len(d.AttributeSources) != 3 {
			t.Errorf("attributeSources %v", d.AttributeSources)
		}
		for _, c := range d.Consents {
			if c.Source.Kind == "" || c.UpdatedAt == "" {
				t.Errorf("consent without source or time: %+v", c)
			}
		}
		if len(d.Subscriptions) != 1 || d.Subscriptions[0].Source != crm || d.Subscriptions[0].UpdatedAt == "" {
			t.Errorf("subscriptions %+v", d.Subscriptions)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		b, _ := build(t, input(p, cat, l, "en"))
		z := openZip(t, b)
		ids := z.csv(t, export.FileIdentities)
		if !slices.Equal(ids[0], []string{"type", "value", "sourceKind", "sourceId", "addedAt", "category"}) {
			t.Fatalf("identities.csv header %v", ids[0])
		}
		if !slices.Equal(ids[1], []string{"email", "ada@example.com", "api_key", "key1", "2026-03-02T10:00:00Z", "contact"}) ||
			!slices.Equal(ids[2], []string{"phone", "'+48123456789", "", "", "", "contact"}) {
			t.Errorf("identities.csv rows %v", ids[1:])
		}
		attrs := z.csv(t, export.FileAttributes)
		if !slices.Equal(attrs[0], []string{"name", "value", "updatedAt", "sourceKind", "sourceId", "category"}) {
			t.Fatalf("attributes.csv header %v", attrs[0])
		}
		got := map[string][]string{}
		for _, r := range attrs[1:] {
			got[r[0]] = r[2:]
		}
		if !slices.Equal(got["givenName"], []string{"2026-03-02T10:00:00Z", "sync", "crm", "name"}) ||
			!slices.Equal(got["locale"], []string{"2026-03-02T10:00:00Z", "portal", "", "preference"}) ||
			!slices.Equal(got["vip"], []string{"2026-03-02T10:00:00Z", "", "", "other"}) {
			t.Errorf("attributes.csv sources %v", got)
		}
	})

	for _, tc := range []struct{ lang, key1, crm, none string }{
		{"en", "A system of Acme &amp; Co (connection key1)", "Synchronisation from the system crm", "Not recorded"},
		{"pl", "System Acme &amp; Co (połączenie key1)", "Synchronizacja z systemu crm", "Nie zarejestrowano"},
	} {
		t.Run("index.html "+tc.lang, func(t *testing.T) {
			b, _ := build(t, input(p, cat, l, tc.lang))
			pg := parseHTML(t, openZip(t, b).files[export.FileHTML])
			rows := func(section string) []string {
				var out []string
				for _, tr := range pg.all(func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "tr" }) {
					for a := tr.Parent; a != nil; a = a.Parent {
						if id, _ := attr(a, "id"); id == section {
							out = append(out, text(tr))
						}
					}
				}
				return out
			}
			unescape := func(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }
			ids := rows("identities")
			if len(ids) != 3 || !strings.Contains(ids[1], unescape(tc.key1)) || !strings.Contains(ids[1], "2026-03-02 10:00 UTC") ||
				!strings.Contains(ids[2], tc.none) {
				t.Errorf("identities %q", ids)
			}
			var given string
			for _, r := range rows("attributes") {
				if strings.Contains(r, "Ada <script>") {
					given = r
				}
			}
			if !strings.Contains(given, tc.crm) {
				t.Errorf("the given name's row %q does not name the CRM", given)
			}
		})
	}
}

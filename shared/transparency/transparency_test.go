package transparency_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/transparency"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// fixture is testdata/catalog.json: a special category, a representative, every kind of
// recipient and safeguard, a purpose that declares no categories, and a recipient name
// that is a spreadsheet formula.
func fixture(t *testing.T) *catalog.Catalog {
	t.Helper()
	b, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("fixture is invalid: %v", err)
	}
	return c
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (run with -update after checking the change):\n%s", name, got)
	}
}

func TestRecordsGolden(t *testing.T) {
	c := fixture(t)
	for _, lang := range []string{"en", "pl"} {
		t.Run(lang, func(t *testing.T) {
			rs := transparency.RecordsOf(transparency.Build(c, lang))
			js, err := json.MarshalIndent(rs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "records."+lang+".json", append(js, '\n'))
			csv, err := rs.CSV()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "records."+lang+".csv", csv)
			golden(t, "records."+lang+".html", rs.HTML())
		})
	}
}

func TestRecordsContent(t *testing.T) {
	rs := transparency.RecordsOf(transparency.Build(fixture(t), "en"))
	if len(rs.Records) != 3 {
		t.Fatalf("records = %d, want one per purpose (3)", len(rs.Records))
	}
	csv, err := rs.CSV()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(csv, []byte(`'=HYPERLINK`)) {
		t.Error("the CSV does not neutralize a recipient name that is a formula")
	}
	if h := rs.HTML(); bytes.Contains(h, []byte("<Shop>")) || !bytes.Contains(h, []byte("Shoe &lt;Shop&gt; Ltd")) {
		t.Error("the HTML does not escape the controller's name")
	}
	h := string(rs.HTML())
	style := h[strings.Index(h, "<style>")+len("<style>") : strings.Index(h, "</style>")]
	sum := sha256.Sum256([]byte(style))
	if csp := transparency.RecordsCSP(); !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("records CSP %q does not allow the page's style sheet", csp)
	}
	care := rs.Records[1]
	if !slices.ContainsFunc(care.Categories, func(c transparency.Category) bool { return c.ID == "health" && c.Special }) {
		t.Errorf("care categories = %+v, want health as special", care.Categories)
	}
	if care.Retention != "while the customer relationship lasts" || rs.Records[0].Retention != "730 days" {
		t.Errorf("retention = %q, %q", care.Retention, rs.Records[0].Retention)
	}
	// stats declares no categories: it uses what the profile holds, health included.
	var ids []string
	for _, c := range rs.Records[2].Categories {
		ids = append(ids, c.ID)
	}
	if want := []string{"name", "contact", "identifier", "location", "preference", "health"}; !slices.Equal(ids, want) {
		t.Errorf("undeclared categories = %v, want %v", ids, want)
	}
	if !strings.Contains(rs.Records[0].SecurityMeasures, "KMS") {
		t.Error("security measures do not name encryption at rest")
	}
}

func TestDPVGolden(t *testing.T) {
	c := fixture(t)
	b, err := transparency.DPV(transparency.Build(c, "en"), "https://api.example.com/portal/acme/privacy.json")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "dpv.en.json", append(b, '\n'))
	for _, term := range []string{`"dpv:PersonalDataHandling"`, `"eu-gdpr:A6-1-a"`, `"eu-gdpr:A6-1-b"`, `"eu-gdpr:A6-1-f"`,
		`"dpv:SpecialCategoryPersonalData"`, `"eu-gdpr:A46-2-c"`, `"eu-gdpr:A45-3"`, `"loc:US"`, `"dpv:DataProtectionOfficer"`,
		`"P730D"`, `"dpv:UntilEventDuration"`, `"dpv:DataProcessor"`, `"dpv:PublicAuthority"`, `"dpv:hasRepresentative"`} {
		if !bytes.Contains(b, []byte(term)) {
			t.Errorf("the JSON-LD lacks %s", term)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil || doc["@context"] == nil {
		t.Fatalf("not JSON-LD with a context: %v", err)
	}
}

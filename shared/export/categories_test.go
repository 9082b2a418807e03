package export_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/export"
)

// TestExportNamesDataCategories: profile.json names each identity's and attribute's data
// category from the catalog and lists the categories held (a special one marked), and
// index.html shows the category beside each value.
func TestExportNamesDataCategories(t *testing.T) {
	p, cat, l := person(t, "acme", 3)
	cat.DataCategories = append(cat.DataCategories, catalog.DataCategory{ID: "health", Special: true,
		Name: catalog.Text{"en": "Health data", "pl": "Dane o zdrowiu"}})
	for i := range cat.Attributes {
		if cat.Attributes[i].Name == "vip" {
			cat.Attributes[i].Category = "health"
		}
	}
	b, _ := build(t, input(p, cat, l, "en"))
	z := openZip(t, b)
	validate(t, schema(t), z.files[export.FileJSON])
	var d struct {
		Identities []struct {
			Type, Category string
		} `json:"identities"`
		AttributeCategories map[string]string `json:"attributeCategories"`
		Art15               struct {
			DataCategories []export.DataCategory `json:"dataCategories"`
		} `json:"art15"`
	}
	if err := json.Unmarshal(z.files[export.FileJSON], &d); err != nil {
		t.Fatal(err)
	}
	for _, id := range d.Identities {
		if id.Category != cat.IdentityCategory(id.Type) || id.Category == "" {
			t.Errorf("identity %s has category %q", id.Type, id.Category)
		}
	}
	if d.AttributeCategories["givenName"] != catalog.NameCategory || d.AttributeCategories["vip"] != "health" {
		t.Errorf("attributeCategories = %v", d.AttributeCategories)
	}
	i := slices.IndexFunc(d.Art15.DataCategories, func(c export.DataCategory) bool { return c.ID == "health" })
	if i < 0 || !d.Art15.DataCategories[i].Special || d.Art15.DataCategories[i].Name != "Health data" {
		t.Errorf("art15.dataCategories = %+v, want health marked special", d.Art15.DataCategories)
	}
	page := string(z.files[export.FileHTML])
	for _, want := range []string{"<th>Data category</th>", "<td>Contact details</td>", "<td>Health data (special category)</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
}

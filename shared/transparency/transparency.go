// Package transparency turns a tenant's catalog into what the law asks a controller to tell
// (Art. 13, 14) and to record (Art. 30): per purpose its legal basis, the categories of data
// it uses, its recipients, transfers outside the EEA and retention, with the controller and
// the DPO. The portal's public privacy page, its DPV JSON-LD and the brand API's records of
// processing are all rendered from one Statement, so they cannot disagree.
//
// It reads nothing and imports no AWS package: everything comes from the catalog.
package transparency

import (
	"slices"
	"strconv"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
)

// Category is a data category, named in the statement's language.
type Category struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Special bool   `json:"special,omitempty"`
}

// Recipient is a declared recipient, named in the statement's language.
type Recipient struct {
	ID      string                `json:"id"`
	Name    string                `json:"name"`
	Kind    catalog.RecipientKind `json:"kind"`
	Country string                `json:"country"`
}

// Activity is one purpose of processing with everything resolved.
type Activity struct {
	Purpose           string             `json:"purpose"`
	Name              string             `json:"name"`
	Description       string             `json:"description,omitempty"`
	LegalBasis        catalog.LegalBasis `json:"legalBasis"`
	DirectMarketing   bool               `json:"directMarketing,omitempty"`
	AutomatedDecision bool               `json:"automatedDecision,omitempty"`
	Categories        []Category         `json:"dataCategories"`
	Recipients        []Recipient        `json:"recipients"`
	Transfers         []catalog.Transfer `json:"transfers"`
	// RetentionDays is the purpose's retention; 0 is "while the relationship lasts".
	RetentionDays int `json:"retentionDays"`
}

// Statement is the whole of what a tenant tells, in one language.
type Statement struct {
	Lang           string              `json:"language"`
	CatalogVersion int                 `json:"catalogVersion"`
	UpdatedAt      time.Time           `json:"updatedAt"`
	Controller     *catalog.Controller `json:"controller"`
	DPO            *catalog.DPO        `json:"dpo"`
	Activities     []Activity          `json:"activities"`
	// Special are the special categories (Art. 9, 10) any activity uses.
	Special []Category `json:"specialCategories"`
}

// DataSubjects is the category of data subjects of every activity (Art. 30(1)(c)): the
// product holds one kind of person, the brand's customers.
const DataSubjects = "customers"

// Build resolves the catalog into a Statement in lang (falling back to the catalog's
// default locale for texts without it). A purpose that lists no data categories uses the
// categories the catalog classifies the profile's data into: the standard attributes, the
// built-in identity types and every declared attribute and identity type, so that an
// unclassified purpose is never shown as using no data.
func Build(cat *catalog.Catalog, lang string) Statement {
	s := Statement{Lang: lang, CatalogVersion: cat.Version, UpdatedAt: cat.UpdatedAt, Controller: cat.Controller, DPO: cat.DPO,
		Activities: []Activity{}, Special: []Category{}}
	text := func(t catalog.Text) string { return t.In(lang, cat.DefaultLocale) }
	category := func(id string) Category {
		d, _ := cat.Category(id)
		return Category{ID: id, Name: text(d.Name), Special: d.Special}
	}
	for _, p := range cat.Purposes {
		a := Activity{Purpose: p.ID, Name: text(p.Name), Description: text(p.Description), LegalBasis: p.LegalBasis,
			DirectMarketing: p.DirectMarketing, AutomatedDecision: p.AutomatedDecision, RetentionDays: p.RetentionDays,
			Categories: []Category{}, Recipients: []Recipient{}, Transfers: slices.Clone(p.Transfers)}
		if a.Transfers == nil {
			a.Transfers = []catalog.Transfer{}
		}
		ids := p.DataCategories
		if len(ids) == 0 {
			ids = ProfileCategories(cat)
		}
		for _, id := range ids {
			c := category(id)
			a.Categories = append(a.Categories, c)
			if c.Special && !slices.ContainsFunc(s.Special, func(x Category) bool { return x.ID == id }) {
				s.Special = append(s.Special, c)
			}
		}
		for _, id := range p.Recipients {
			r, _ := cat.Recipient(id)
			a.Recipients = append(a.Recipients, Recipient{ID: id, Name: text(r.Name), Kind: r.Kind, Country: r.Country})
		}
		s.Activities = append(s.Activities, a)
	}
	return s
}

// ProfileCategories are the categories of the data a profile can hold under cat, in the
// order of cat.Categories: those of the standard attributes, the built-in and declared
// identity types and the declared attributes.
func ProfileCategories(cat *catalog.Catalog) []string {
	used := map[string]bool{}
	for _, a := range catalog.StandardAttributes {
		used[cat.AttributeCategory(a)] = true
	}
	for _, a := range cat.Attributes {
		used[cat.AttributeCategory(a.Name)] = true
	}
	for _, t := range append(slices.Clone(catalog.BuiltinIdentityTypes), cat.IdentityTypes...) {
		used[cat.IdentityCategory(t)] = true
	}
	var out []string
	for _, d := range cat.Categories() {
		if used[d.ID] {
			out = append(out, d.ID)
		}
	}
	return out
}

// Retention is an activity's retention in words of lang.
func Retention(lang string, days int) string {
	if days == 0 {
		return Label(lang, "retention.relationship")
	}
	return Label(lang, "retention.days", strconv.Itoa(days))
}

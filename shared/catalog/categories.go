package catalog

import (
	"fmt"
	"maps"
	"slices"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// DataCategory is a category of personal data (Art. 30(1)(c)): what the transparency page,
// the records of processing, the export and a breach's selection group attributes and
// identity types by.
type DataCategory struct {
	ID   string `json:"id"`
	Name Text   `json:"name"`
	// Special marks a special category (Art. 9(1)) or data about convictions (Art. 10),
	// which the transparency page and a breach report name as such.
	Special bool `json:"special,omitempty"`
}

// The built-in categories every tenant has. The standard attributes and the built-in
// identity types belong to them; a custom attribute or identity type that names no category
// is OtherCategory, still personal data.
const (
	NameCategory       = "name"
	ContactCategory    = "contact"
	IdentifierCategory = "identifier"
	LocationCategory   = "location"
	PreferenceCategory = "preference"
	OtherCategory      = "other"
)

// BuiltinCategories are the categories a catalog need not declare.
var BuiltinCategories = []DataCategory{
	{ID: NameCategory, Name: Text{"en": "Name", "pl": "Imię i nazwisko"}},
	{ID: ContactCategory, Name: Text{"en": "Contact details", "pl": "Dane kontaktowe"}},
	{ID: IdentifierCategory, Name: Text{"en": "Customer identifiers", "pl": "Identyfikatory klienta"}},
	{ID: LocationCategory, Name: Text{"en": "Location", "pl": "Lokalizacja"}},
	{ID: PreferenceCategory, Name: Text{"en": "Preferences", "pl": "Preferencje"}},
	{ID: OtherCategory, Name: Text{"en": "Other personal data", "pl": "Inne dane osobowe"}},
}

// standardCategories classifies the standard attributes and the built-in identity types.
var standardCategories = map[string]string{
	"givenName": NameCategory, "familyName": NameCategory, "locale": PreferenceCategory, "country": LocationCategory,
	"email": ContactCategory, "phone": ContactCategory, "customer_id": IdentifierCategory,
}

// MaxCategories bounds the categories a catalog declares.
const MaxCategories = 50

// Categories returns the built-in categories followed by the declared ones.
func (c *Catalog) Categories() []DataCategory {
	return append(slices.Clone(BuiltinCategories), c.DataCategories...)
}

// Category returns the built-in or declared category with id.
func (c *Catalog) Category(id string) (DataCategory, bool) {
	all := c.Categories()
	i := slices.IndexFunc(all, func(d DataCategory) bool { return d.ID == id })
	if i < 0 {
		return DataCategory{}, false
	}
	return all[i], true
}

// AttributeCategory is the category of the attribute called name: a standard attribute's
// own, a declared one's Category, and OtherCategory for an unclassified or unknown one.
func (c *Catalog) AttributeCategory(name string) string {
	if cat, ok := standardCategories[name]; ok && slices.Contains(StandardAttributes, name) {
		return cat
	}
	if a, ok := c.Attribute(name); ok && a.Category != "" {
		return a.Category
	}
	return OtherCategory
}

// IdentityCategory is the category of identity type t: a built-in type's own, a declared
// type's entry in IdentityCategories, and OtherCategory otherwise.
func (c *Catalog) IdentityCategory(t string) string {
	if cat, ok := standardCategories[t]; ok && slices.Contains(BuiltinIdentityTypes, t) {
		return cat
	}
	if cat := c.IdentityCategories[t]; cat != "" {
		return cat
	}
	return OtherCategory
}

// validateCategories checks the declared categories and every reference to one.
func (c *Catalog) validateCategories(f *errs.Fields, text func(field string, t Text, required bool)) {
	if len(c.DataCategories) > MaxCategories {
		f.Add("dataCategories", fmt.Sprintf("must have at most %d entries", MaxCategories))
	}
	known := map[string]bool{}
	for _, b := range BuiltinCategories {
		known[b.ID] = true
	}
	for i, d := range c.DataCategories {
		fd := fmt.Sprintf("dataCategories[%d]", i)
		switch {
		case !ValidID(d.ID):
			f.Add(fd+".id", "must match ^[a-z][a-z0-9_-]{0,63}$")
		case known[d.ID]:
			f.Unmet(fd+".id", "is a duplicate or a built-in category")
		}
		known[d.ID] = true
		text(fd+".name", d.Name, true)
	}
	for i, a := range c.Attributes {
		if a.Category != "" && !known[a.Category] {
			f.Unmet(fmt.Sprintf("attributes[%d].category", i), "must name a built-in category or one in dataCategories")
		}
	}
	if len(c.IdentityCategories) > MaxIDTypes {
		f.Add("identityCategories", fmt.Sprintf("must have at most %d entries", MaxIDTypes))
	}
	for _, t := range slices.Sorted(maps.Keys(c.IdentityCategories)) {
		switch {
		case !slices.Contains(c.IdentityTypes, t):
			f.Unmet("identityCategories."+t, "must name an identity type in identityTypes")
		case !known[c.IdentityCategories[t]]:
			f.Unmet("identityCategories."+t, "must name a built-in category or one in dataCategories")
		}
	}
}

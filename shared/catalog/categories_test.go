package catalog_test

import (
	"slices"
	"testing"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
)

func TestCategoriesClassify(t *testing.T) {
	c := loadDemo(t)
	for name, want := range map[string]string{
		"givenName": catalog.NameCategory, "country": catalog.LocationCategory, "loyalty_tier": "loyalty",
		"vip": catalog.OtherCategory, "no_such_attribute": catalog.OtherCategory,
	} {
		if got := c.AttributeCategory(name); got != want {
			t.Errorf("AttributeCategory(%q) = %q, want %q", name, got, want)
		}
	}
	for typ, want := range map[string]string{
		"email": catalog.ContactCategory, "customer_id": catalog.IdentifierCategory, "loyalty_card": "loyalty", "unknown": catalog.OtherCategory,
	} {
		if got := c.IdentityCategory(typ); got != want {
			t.Errorf("IdentityCategory(%q) = %q, want %q", typ, got, want)
		}
	}
	if d, ok := c.Category("demographic"); !ok || d.Name["pl"] == "" {
		t.Errorf("Category(demographic) = %+v, %v; want the declared category", d, ok)
	}
	if _, ok := c.Category(catalog.ContactCategory); !ok {
		t.Error("a built-in category is not found")
	}
}

func TestCategoriesValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *catalog.Catalog)
		want   []string
	}{
		{"unknown attribute category", func(c *catalog.Catalog) { c.Attributes[0].Category = "health" }, []string{"attributes[0].category"}},
		{"category redeclares a built-in", func(c *catalog.Catalog) { c.DataCategories[0].ID = catalog.ContactCategory },
			[]string{"dataCategories[0].id", "attributes[0].category", "identityCategories.loyalty_card", "purposes[1].dataCategories[2]"}},
		{"duplicate category", func(c *catalog.Catalog) { c.DataCategories[1].ID = "loyalty" }, []string{"dataCategories[1].id", "attributes[1].category", "purposes[1].dataCategories[3]"}},
		{"category without a name", func(c *catalog.Catalog) { c.DataCategories[0].Name = nil }, []string{"dataCategories[0].name"}},
		{"identity category of an undeclared type", func(c *catalog.Catalog) { c.IdentityCategories["passport"] = "loyalty" }, []string{"identityCategories.passport"}},
		{"identity category unknown", func(c *catalog.Catalog) { c.IdentityCategories["loyalty_card"] = "nope" }, []string{"identityCategories.loyalty_card"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadDemo(t)
			tt.mutate(c)
			e, ok := errs.As(c.Validate())
			if !ok {
				t.Fatal("Validate() = nil, want field errors")
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("fields = %v, want %v", got, want)
			}
		})
	}
	special := loadDemo(t)
	special.DataCategories = append(special.DataCategories, catalog.DataCategory{ID: "health", Name: catalog.Text{"en": "Health"}, Special: true})
	special.Attributes[3].Category = "health"
	if err := special.Validate(); err != nil {
		t.Errorf("a declared special category: Validate() = %v", err)
	}
}

package catalog_test

import (
	"slices"
	"testing"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
)

func TestTransparencyDemo(t *testing.T) {
	c := loadDemo(t)
	if c.Controller == nil || c.DPO == nil || len(c.Recipients) == 0 {
		t.Fatal("the demo catalog declares no controller, DPO or recipients: the transparency page would be incomplete")
	}
	if r, ok := c.Recipient("esp"); !ok || r.Kind != catalog.Processor {
		t.Errorf("Recipient(esp) = %+v, %v", r, ok)
	}
	if _, ok := c.Recipient("nobody"); ok {
		t.Error("an undeclared recipient is found")
	}
}

func TestTransparencyValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *catalog.Catalog)
		want   []string
	}{
		{"controller without name, bad email", func(c *catalog.Catalog) { c.Controller.Name = " "; c.Controller.Email = "privacy" },
			[]string{"controller.name", "controller.email"}},
		{"controller address too long", func(c *catalog.Catalog) { c.Controller.Address = string(make([]rune, catalog.MaxAddressLen+1)) },
			[]string{"controller.address"}},
		{"representative incomplete", func(c *catalog.Catalog) {
			c.Controller.Representative = &catalog.Representative{Name: "EU Rep", Email: "rep@example.com"}
		}, []string{"controller.representative.address"}},
		{"dpo email with a space", func(c *catalog.Catalog) { c.DPO.Email = "d po@example.com" }, []string{"dpo.email"}},
		{"dpo phone with a control character", func(c *catalog.Catalog) { c.DPO.Phone = "+48\x00" }, []string{"dpo.phone"}},
		{"recipient kind, country, duplicate", func(c *catalog.Catalog) {
			c.Recipients[1].Kind = "friend"
			c.Recipients[1].Country = "pl"
			c.Recipients[2].ID = "esp"
		}, []string{"recipients[1].kind", "recipients[1].country", "recipients[2].id"}},
		{"recipient without a name", func(c *catalog.Catalog) { c.Recipients[0].Name = nil }, []string{"recipients[0].name"}},
		{"purpose category unknown and duplicate", func(c *catalog.Catalog) {
			c.Purposes[0].DataCategories = []string{"health", "contact", "contact"}
		}, []string{"purposes[0].dataCategories[0]", "purposes[0].dataCategories[2]"}},
		{"purpose recipient undeclared", func(c *catalog.Catalog) { c.Purposes[1].Recipients = []string{"nobody"} },
			[]string{"purposes[1].recipients[0]"}},
		{"transfer inside the EEA, bad safeguard, http link", func(c *catalog.Catalog) {
			c.Purposes[0].Transfers = []catalog.Transfer{{Country: "DE", Safeguard: "trust", DocumentURL: "http://example.com/x"}}
		}, []string{"purposes[0].transfers[0].country", "purposes[0].transfers[0].safeguard", "purposes[0].transfers[0].documentUrl"}},
		{"too many recipients", func(c *catalog.Catalog) {
			for len(c.Recipients) <= catalog.MaxRecipients {
				c.Recipients = append(c.Recipients, c.Recipients[0])
			}
		}, []string{"recipients"}},
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
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("errors %v lack %s", got, w)
				}
			}
		})
	}
}

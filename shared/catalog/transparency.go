package catalog

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// Controller is the controller of the processing (Art. 13(1)(a), Art. 30(1)(a)): who the
// transparency page and the records of processing name as responsible.
type Controller struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Email   string `json:"email"`
	// Representative is the controller's representative in the Union (Art. 27), for a
	// controller established outside it.
	Representative *Representative `json:"representative,omitempty"`
}

// Representative is a controller's representative in the Union (Art. 27).
type Representative struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Email   string `json:"email"`
}

// DPO is the data protection officer's contact (Art. 13(1)(b), Art. 37(7)).
type DPO struct {
	Name    string `json:"name"`
	Email   string `json:"email"`
	Phone   string `json:"phone,omitempty"`
	Address string `json:"address,omitempty"`
}

// RecipientKind is what a recipient is to the controller.
type RecipientKind string

// The kinds of recipient.
const (
	// Processor processes on the controller's behalf (Art. 28).
	Processor RecipientKind = "processor"
	// ThirdPartyController receives the data for its own purposes.
	ThirdPartyController RecipientKind = "controller"
	// PublicAuthority receives the data under a legal obligation.
	PublicAuthority RecipientKind = "public_authority"
)

// Recipient is a recipient or category of recipients of personal data (Art. 13(1)(e)).
type Recipient struct {
	ID   string        `json:"id"`
	Name Text          `json:"name"`
	Kind RecipientKind `json:"kind"`
	// Country is where the recipient processes, ISO 3166-1 alpha-2.
	Country string `json:"country"`
}

// Safeguard is the ground of a transfer outside the EEA (Chapter V).
type Safeguard string

// The safeguards.
const (
	AdequacyDecision Safeguard = "adequacy_decision" // Art. 45
	SCCs             Safeguard = "sccs"              // standard contractual clauses, Art. 46(2)(c)
	BCRs             Safeguard = "bcrs"              // binding corporate rules, Art. 47
	Derogation       Safeguard = "derogation"        // Art. 49
)

// Transfer is a transfer of a purpose's data to a country outside the EEA (Art. 13(1)(f)).
type Transfer struct {
	// Country is ISO 3166-1 alpha-2 and outside the EEA.
	Country   string    `json:"country"`
	Safeguard Safeguard `json:"safeguard"`
	// DocumentURL is where the safeguard can be read or a copy obtained (https).
	DocumentURL string `json:"documentUrl"`
}

// Limits of the transparency fields.
const (
	MaxRecipients     = 50
	MaxTransfers      = 20
	MaxNameLen        = 200
	MaxAddressLen     = 500
	MaxEmailLen       = 254
	MaxPhoneLen       = 32
	MaxDocumentURLLen = 2048
)

// eea are the EEA's members: a transfer is to a country outside it.
var eea = []string{"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
	"IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"}

// Recipient returns the declared recipient with id.
func (c *Catalog) Recipient(id string) (Recipient, bool) {
	i := slices.IndexFunc(c.Recipients, func(r Recipient) bool { return r.ID == id })
	if i < 0 {
		return Recipient{}, false
	}
	return c.Recipients[i], true
}

func validCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// validEmail is a plausibility check of an address the brand publishes: one @, a local
// part, a dotted domain, no spaces. Delivery is not the catalog's to prove.
func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return utf8.RuneCountInString(s) <= MaxEmailLen && at > 0 && strings.Count(s, "@") == 1 &&
		strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".") &&
		strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) < 0
}

// validateTransparency checks the controller, the DPO, the recipients and every purpose's
// data categories, recipients and transfers.
func (c *Catalog) validateTransparency(f *errs.Fields, text func(field string, t Text, required bool)) {
	str := func(field, s string, max int, required bool) {
		switch n := utf8.RuneCountInString(s); {
		case required && strings.TrimSpace(s) == "":
			f.Add(field, "is required")
		case n > max:
			f.Add(field, fmt.Sprintf("must be at most %d characters", max))
		case strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
			f.Add(field, "must not hold control characters")
		}
	}
	email := func(field, s string) {
		if !validEmail(s) {
			f.Add(field, "must be an email address")
		}
	}
	if ct := c.Controller; ct != nil {
		str("controller.name", ct.Name, MaxNameLen, true)
		str("controller.address", ct.Address, MaxAddressLen, true)
		email("controller.email", ct.Email)
		if r := ct.Representative; r != nil {
			str("controller.representative.name", r.Name, MaxNameLen, true)
			str("controller.representative.address", r.Address, MaxAddressLen, true)
			email("controller.representative.email", r.Email)
		}
	}
	if d := c.DPO; d != nil {
		str("dpo.name", d.Name, MaxNameLen, true)
		email("dpo.email", d.Email)
		str("dpo.phone", d.Phone, MaxPhoneLen, false)
		str("dpo.address", d.Address, MaxAddressLen, false)
	}
	if len(c.Recipients) > MaxRecipients {
		f.Add("recipients", fmt.Sprintf("must have at most %d entries", MaxRecipients))
	}
	recipients := map[string]bool{}
	for i, r := range c.Recipients {
		fr := fmt.Sprintf("recipients[%d]", i)
		switch {
		case !ValidID(r.ID):
			f.Add(fr+".id", "must match ^[a-z][a-z0-9_-]{0,63}$")
		case recipients[r.ID]:
			f.Unmet(fr+".id", "is a duplicate")
		}
		recipients[r.ID] = true
		text(fr+".name", r.Name, true)
		switch r.Kind {
		case Processor, ThirdPartyController, PublicAuthority:
		default:
			f.Add(fr+".kind", "must be one of processor, controller, public_authority")
		}
		if !validCountry(r.Country) {
			f.Add(fr+".country", "must be an ISO 3166-1 alpha-2 code such as PL")
		}
	}
	for i, p := range c.Purposes {
		fp := fmt.Sprintf("purposes[%d]", i)
		if len(p.DataCategories) > MaxCategories+len(BuiltinCategories) {
			f.Add(fp+".dataCategories", "lists too many categories")
		}
		for j, id := range p.DataCategories {
			fd := fmt.Sprintf("%s.dataCategories[%d]", fp, j)
			if _, ok := c.Category(id); !ok {
				f.Unmet(fd, "must name a built-in category or one in dataCategories")
			}
			if slices.Contains(p.DataCategories[:j], id) {
				f.Unmet(fd, "is a duplicate")
			}
		}
		if len(p.Recipients) > MaxRecipients {
			f.Add(fp+".recipients", fmt.Sprintf("must have at most %d entries", MaxRecipients))
		}
		for j, id := range p.Recipients {
			fr := fmt.Sprintf("%s.recipients[%d]", fp, j)
			if !recipients[id] {
				f.Unmet(fr, "must name a recipient in recipients")
			}
			if slices.Contains(p.Recipients[:j], id) {
				f.Unmet(fr, "is a duplicate")
			}
		}
		if len(p.Transfers) > MaxTransfers {
			f.Add(fp+".transfers", fmt.Sprintf("must have at most %d entries", MaxTransfers))
		}
		for j, t := range p.Transfers {
			ft := fmt.Sprintf("%s.transfers[%d]", fp, j)
			switch {
			case !validCountry(t.Country):
				f.Add(ft+".country", "must be an ISO 3166-1 alpha-2 code such as US")
			case slices.Contains(eea, t.Country):
				f.Unmet(ft+".country", "is in the EEA: only transfers outside it are declared")
			}
			switch t.Safeguard {
			case AdequacyDecision, SCCs, BCRs, Derogation:
			default:
				f.Add(ft+".safeguard", "must be one of adequacy_decision, sccs, bcrs, derogation")
			}
			if u, err := url.Parse(t.DocumentURL); err != nil || u.Scheme != "https" || u.Host == "" || len(t.DocumentURL) > MaxDocumentURLLen {
				f.Add(ft+".documentUrl", fmt.Sprintf("must be an https URL of at most %d characters", MaxDocumentURLLen))
			}
		}
	}
}

package portal

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// field is one labelled form control with its hint and error, ready to render: the
// formField component links them with aria-describedby and marks errors with aria-invalid.
type field struct {
	ID, Name, Label, Hint string
	Error, ErrorPrefix    string
	Type, Value           string // Type of an input: text, email, date, number
	Autocomplete          string
	InputMode             string
	MaxLength             int
	Required              bool
	Options               []option // a select instead of an input, when set
}

type option struct {
	Value, Label string
	Selected     bool
}

// DescribedBy is the ids of the field's hint and error, for aria-describedby.
func (f field) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.ID+"-hint")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// formFields says which fields each form of the portal posts, by route: checkForm refuses
// any other. Checkbox groups may repeat a field (repeatable); no other field may appear twice.
var formFields = map[string]func(name string) bool{
	"/portal/{tenant}/t/{token}": only("csrf"),
	"/portal/{tenant}/login":     only("csrf", "email", "token"),
	"/portal/{tenant}/logout":    only("csrf"),
	"/portal/{tenant}/details":   func(n string) bool { return n == "csrf" || strings.HasPrefix(n, formID("")) },
	"/portal/{tenant}/subscriptions": func(n string) bool {
		return only("csrf", "action")(n) || strings.HasPrefix(n, "sub.") || strings.HasPrefix(n, "freq.")
	},
	"/portal/{tenant}/consents":            only("csrf", "purpose", "noticeVersion", "decision"),
	"/portal/{tenant}/rights":              only("csrf", "action", "type", "optout", "object"),
	"/portal/{tenant}/rights/erase":        only("csrf", "confirm"),
	"/portal/{tenant}/unsubscribe/{token}": only("List-Unsubscribe"),
}

// repeatable are the fields of checkbox groups.
var repeatable = map[string]bool{"object": true}

func only(names ...string) func(string) bool {
	return func(n string) bool { return slices.Contains(names, n) }
}

// checkForm refuses a posted form that its page would not send: a field the route's form
// does not have, a field sent twice, a name that is not valid UTF-8 or holds a control
// character, or a value that is not valid UTF-8 or holds a control character other than
// tab, newline and carriage return (which a textarea may send). The portal answers its
// "could not read the form" page; the handlers only ever see clean text.
func checkForm(route string, form url.Values) error {
	known := formFields[strings.TrimPrefix(route, "POST ")]
	if known == nil {
		known = only("csrf")
	}
	for _, name := range slices.Sorted(maps.Keys(form)) {
		vs := form[name]
		switch {
		case !clean(name, false):
			return errs.Field(name, "is not a field name")
		case !known(name):
			return errs.Field(name, "is not a field of this form")
		case len(vs) > 1 && !repeatable[name]:
			return errs.Field(name, "appears more than once")
		}
		for _, v := range vs {
			if !clean(v, true) {
				return errs.Field(name, "is not valid UTF-8 or holds a control character")
			}
		}
	}
	return nil
}

// clean reports whether s is valid UTF-8 without control characters (C0, DEL, C1);
// lines allows tab, newline and carriage return.
func clean(s string, lines bool) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(c rune) bool {
		if lines && (c == '\t' || c == '\n' || c == '\r') {
			return false
		}
		return c < 0x20 || 0x7f <= c && c <= 0x9f
	})
}

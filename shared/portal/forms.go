package portal

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
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
	"/portal/{tenant}/login":     only("csrf", "email", "token", "next"),
	"/portal/{tenant}/confirm":   only("csrf", "t"),
	"/portal/{tenant}/logout":    only("csrf"),
	"/portal/{tenant}/details":   func(n string) bool { return n == "csrf" || strings.HasPrefix(n, formID("")) },
	"/portal/{tenant}/subscriptions": func(n string) bool {
		return only("csrf", "action")(n) || strings.HasPrefix(n, "sub.") || strings.HasPrefix(n, "freq.")
	},
	"/portal/{tenant}/consents":            only("csrf", "purpose", "noticeVersion", "decision"),
	"/portal/{tenant}/rights":              only("csrf", "action", "type", "optout", "object"),
	"/portal/{tenant}/rights/erase":        only("csrf", "confirm"),
	"/portal/{tenant}/unsubscribe/{token}": only("List-Unsubscribe"),

	"/portal/{tenant}/details/identities": only("csrf", "identity"),
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

// shape is what docs/openapi.yaml says of one portal route's address and form: what its path
// parameters must be, patterns of its query parameters and form fields, and which of them it
// needs.
type shape struct {
	path, query     map[string]func(string) bool
	form            map[string]func(string) bool
	needQuery, need []string
	csrf            bool // the form carries the page's CSRF token
}

// The shapes' checks are functions rather than regular expressions: compiling a dozen
// expressions was a tenth of a millisecond of every portal function's cold start.

// confirmToken bounds an emailed request link's token as the document does (100
// characters, no control characters but tab, line feed and carriage return); whether it is
// one is the link's state (410).
func confirmToken(s string) bool {
	return utf8.RuneCountInString(s) <= 100 && !strings.ContainsFunc(s, func(c rune) bool {
		return c < 0x20 && c != '\t' && c != '\n' && c != '\r' || 0x7f <= c && c <= 0x9f
	})
}

// identityField bounds an identity as the removal form posts it: type:value, a type without
// control characters, at most 300 characters in all (a type and a value of at most 254);
// whether the profile holds it is the profile's state.
func identityField(s string) bool {
	typ, _, ok := strings.Cut(s, ":")
	return ok && typ != "" && clean(typ, false) && utf8.RuneCountInString(s) <= 300
}

// oneOf is the check of a field that takes one of vs.
func oneOf(vs ...string) func(string) bool {
	return func(s string) bool { return slices.Contains(vs, s) }
}

// pageNumber is ^[1-9][0-9]{0,8}$.
func pageNumber(s string) bool {
	return len(s) >= 1 && len(s) <= 9 && s[0] != '0' && !strings.ContainsFunc(s, func(c rune) bool { return c < '0' || c > '9' })
}

// shapes are the portal's routes as docs/openapi.yaml gives them. checkShape refuses a
// request that breaks its route's shape before the session is looked at: a malformed
// address or form is the same 400 for a browser with a session and one without, rather than
// a redirect to the login page for the one.
var shapes = map[string]shape{
	"GET /portal/{tenant}/history": {query: map[string]func(string) bool{"page": pageNumber}},
	"GET /portal/{tenant}/login": {query: map[string]func(string) bool{"expired": oneOf("1"), "signedout": oneOf("1"),
		"next": oneOf("erase", "rights")}},
	"GET /portal/{tenant}/confirm":            {needQuery: []string{"t"}, query: map[string]func(string) bool{"t": confirmToken}},
	"GET /portal/{tenant}/receipts/{purpose}": {path: map[string]func(string) bool{"purpose": catalog.ValidID}},
	"GET /portal/{tenant}/exports/{id}":       {path: map[string]func(string) bool{"id": app.ValidRequestID}},
	"POST /portal/{tenant}/t/{token}":         {csrf: true},
	"POST /portal/{tenant}/login":             {csrf: true, form: map[string]func(string) bool{"next": oneOf("erase", "rights")}},
	"POST /portal/{tenant}/confirm":           {csrf: true, need: []string{"t"}, form: map[string]func(string) bool{"t": confirmToken}},
	"POST /portal/{tenant}/logout":            {csrf: true},
	"POST /portal/{tenant}/details":           {csrf: true},
	"POST /portal/{tenant}/subscriptions": {csrf: true, need: []string{"action"},
		form: map[string]func(string) bool{"action": oneOf("save", "unsubscribe_all")}},
	"POST /portal/{tenant}/consents": {csrf: true, need: []string{"purpose", "noticeVersion", "decision"},
		form: map[string]func(string) bool{"decision": oneOf("grant", "withdraw")}},
	"POST /portal/{tenant}/rights": {csrf: true, need: []string{"action"},
		form: map[string]func(string) bool{"action": oneOf("export", "restrict", "lift_restriction", "objections", "automated"),
			"type": oneOf("access", "portability"), "optout": oneOf("on")}},
	// An unticked confirmation box sends no field: the page answers it with its inline error.
	"POST /portal/{tenant}/rights/erase":        {csrf: true, form: map[string]func(string) bool{"confirm": oneOf("yes")}},
	"POST /portal/{tenant}/unsubscribe/{token}": {form: map[string]func(string) bool{"List-Unsubscribe": oneOf("One-Click")}},

	"POST /portal/{tenant}/details/identities": {csrf: true, need: []string{"identity"},
		form: map[string]func(string) bool{"identity": identityField}},
}

// checkShape refuses a request that breaks its route's shape (see shapes), naming the
// first offending parameter or field in a stable order. A malformed path names nothing
// (404, as the API answers a malformed id); a form without its CSRF token is refused as an
// expired form (403), as one with a wrong token is; anything else is 400.
func checkShape(route string, path, query map[string]string, form url.Values) error {
	s := shapes[route]
	for _, name := range slices.Sorted(maps.Keys(s.path)) {
		if !s.path[name](path[name]) {
			return errs.E(errs.NotFound, "no such page")
		}
	}
	if _, ok := form["csrf"]; s.csrf && !ok {
		return errCSRF
	}
	for _, name := range s.needQuery {
		if _, ok := query[name]; !ok {
			return errs.Field(name, "is required")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.query)) {
		if v, ok := query[name]; ok && !s.query[name](v) {
			return errs.Field(name, "is not a valid value")
		}
	}
	for _, name := range s.need {
		if _, ok := form[name]; !ok {
			return errs.Field(name, "is required")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.form)) {
		for _, v := range form[name] {
			if !s.form[name](v) {
				return errs.Field(name, "is not a valid value")
			}
		}
	}
	return nil
}

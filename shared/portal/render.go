package portal

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"strings"

	"github.com/a-h/templ"
)

//go:embed static/portal.css
var baseCSS string

// view is what the layout and a page component render.
type view struct {
	tmpl     string
	Lang     string
	Title    string
	Theme    Theme
	CSS      string // the style sheet, theme colours first (see Theme.css)
	Base     string
	SignedIn bool
	Nav      []navItem
	Langs    []langItem
	Errors   []fieldError
	Notices  []string
	Data     any
	styleSrc string
	r        *rc
}

// CSRF is the form token of the page's binding (made, with its pre-sign-in cookie, only
// when a page asks for it).
func (v *view) CSRF() string {
	if v.r == nil || v.r.tenant == "" {
		return ""
	}
	return v.r.csrf()
}

type navItem struct {
	Href, Label string
	Current     bool
}

type langItem struct {
	Code, Name, Href string
	Current          bool
}

// fieldError is one entry of the error summary: Field is the id of the control it links to.
type fieldError struct {
	Field, Message string
}

type link struct{ Href, Label string }

type hidden struct{ Name, Value string }

// messageData is the data of the generic message page.
type messageData struct {
	Paragraphs []string
	Form       *messageForm
	Link       *link
	RequestID  string
}

type messageForm struct {
	Action string
	CSRF   string
	Hidden []hidden
	Button string
}

// T translates key into the page's language, formatting args into it.
func (v *view) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// sections of the signed-in navigation: key, path under the tenant's base.
var sections = [][2]string{
	{"overview", ""}, {"details", "/details"}, {"subscriptions", "/subscriptions"},
	{"consents", "/consents"}, {"rights", "/rights"}, {"history", "/history"},
}

// view builds the view of a page in this request's language, theme and session.
func (r *rc) view(tmpl, title string, data any) *view {
	css, styleSrc := r.theme.css()
	v := &view{tmpl: tmpl, Lang: r.lang, Title: title, Theme: r.theme, CSS: css, styleSrc: styleSrc,
		Base: r.base(), SignedIn: r.sess != nil, Data: data, Notices: r.notices, r: r}
	if r.tenant == "" {
		v.Base = ""
	}
	if r.sess != nil {
		for _, s := range sections {
			v.Nav = append(v.Nav, navItem{Href: r.base() + s[1], Label: r.t("nav." + s[0]), Current: r.nav == s[0]})
		}
	}
	for _, l := range uiLangs {
		v.Langs = append(v.Langs, langItem{Code: l, Name: langNames[l], Href: r.self + "?lang=" + url.QueryEscape(l), Current: l == r.lang})
	}
	return v
}

// documentTitle is the page's <title>: marked as an error while the page shows errors.
func (v *view) documentTitle() string {
	t := v.Title + " – " + v.Theme.Name
	if len(v.Errors) > 0 {
		t = v.T("error.titlePrefix") + " " + t
	}
	return t
}

// styleElement is the page's inline style sheet. It is written as it is (the CSP allows it
// by its hash, so it must not be altered): Theme.css makes it from validated "#rrggbb"
// colours and the embedded sheet, and a sheet that could end the element is refused.
func styleElement(css string) templ.Component {
	if strings.Contains(strings.ToLower(css), "</style") {
		return templ.Raw("", fmt.Errorf("style sheet ends its element"))
	}
	return templ.Raw("<style>" + css + "</style>")
}

// content is the component of v's page; the page named must be the one of its data.
func (v *view) content() (templ.Component, error) {
	var c templ.Component
	var name string
	switch d := v.Data.(type) {
	case overviewData:
		c, name = overviewContent(v, d), "overview"
	case detailsData:
		c, name = detailsContent(v, d), "details"
	case subscriptionsData:
		c, name = subscriptionsContent(v, d), "subscriptions"
	case consentsData:
		c, name = consentsContent(v, d), "consents"
	case rightsData:
		c, name = rightsContent(v, d), "rights"
	case eraseData:
		c, name = eraseContent(v, d), "erase"
	case historyData:
		c, name = historyContent(v, d), "history"
	case loginData:
		c, name = loginContent(v, d), "login"
	case messageData:
		c, name = messageContent(v, d), "message"
	case unsubscribeData:
		c, name = unsubscribeContent(v, d), "unsubscribe"
	}
	if c == nil || name != v.tmpl {
		return nil, fmt.Errorf("no page %q for its data", v.tmpl)
	}
	return c, nil
}

// renderView renders v and returns the page and its Content-Security-Policy.
func (p *Portal) renderView(v *view) ([]byte, string, error) {
	c, err := v.content()
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	if err := layout(v, c).Render(context.Background(), &b); err != nil {
		return nil, "", fmt.Errorf("render %s: %w", v.tmpl, err)
	}
	return b.Bytes(), pageCSP(v), nil
}

// pageCSP is the Content-Security-Policy of v's page: its style sheet by hash, the logo's
// origin, no script.
func pageCSP(v *view) string {
	img := "'none'"
	if v.Theme.logoOrigin != "" {
		img = v.Theme.logoOrigin
	}
	return "default-src 'none'; style-src " + v.styleSrc + "; img-src " + img +
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// t translates key in this request's language.
func (r *rc) t(key string, args ...any) string { return translate(r.lang, key, args...) }

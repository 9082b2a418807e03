package portal

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/portal.css
var baseCSS string

// pages are the page templates, each with the layout.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").ParseFS(templateFS, "templates/layout.html"))
	out := map[string]*template.Template{}
	entries, err := templateFS.ReadDir("templates")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+e.Name()))
	}
	return out
}()

// view is what the layout and a page template render.
type view struct {
	tmpl     string
	Lang     string
	Title    string
	Theme    Theme
	CSS      template.CSS
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
// when a template asks for it).
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
	v := &view{tmpl: tmpl, Lang: r.lang, Title: title, Theme: r.theme, CSS: template.CSS(css), styleSrc: styleSrc,
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

// renderView renders v and returns the page and its Content-Security-Policy.
func (p *Portal) renderView(v *view) ([]byte, string, error) {
	t, ok := pages[v.tmpl]
	if !ok {
		return nil, "", fmt.Errorf("no template %q", v.tmpl)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return nil, "", fmt.Errorf("render %s: %w", v.tmpl, err)
	}
	img := "'none'"
	if v.Theme.logoOrigin != "" {
		img = v.Theme.logoOrigin
	}
	csp := "default-src 'none'; style-src " + v.styleSrc + "; img-src " + img +
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	return b.Bytes(), csp, nil
}

// t translates key in this request's language.
func (r *rc) t(key string, args ...any) string { return translate(r.lang, key, args...) }

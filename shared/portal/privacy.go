package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/cache"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/transparency"
)

// PrivacyMaxAge is how long a browser or a CDN may keep the transparency page and its JSON
// before asking again (with If-None-Match): a catalog change shows within it.
const PrivacyMaxAge = 300

// Catalogs is the warm catalog cache the transparency page reads through; *app.Service has
// it.
type Catalogs interface {
	CachedCatalog(tenant string) (*catalog.Catalog, bool)
	KeepCatalog(tenant string, c *catalog.Catalog)
}

// PublicConfig is what NewPublic needs. Catalogs and Pages are required.
type PublicConfig struct {
	Catalogs Catalogs
	Pages    Pages
	Log      *slog.Logger
	// Now is the clock of the brand cache; default time.Now.
	Now func() time.Time
}

// Public serves the portal's one public page that needs neither a session nor the
// signing keys: the transparency page. It is built apart from Portal, and renders its page
// and its error page itself, so that its function links none of the signed-in pages, the
// session keys or the use cases. It is safe for concurrent use.
type Public struct {
	cfg    PublicConfig
	brands *cache.TTL[Brand]
}

// NewPublic returns the transparency page's server over cfg.
func NewPublic(cfg PublicConfig) (*Public, error) {
	if cfg.Catalogs == nil || cfg.Pages == nil {
		return nil, errors.New("portal: Catalogs and Pages are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Public{cfg: cfg, brands: cache.New[Brand](CacheTTL, cfg.Now)}, nil
}

// Privacy serves GET /portal/{tenant}/privacy, the tenant's public transparency page
// (Art. 13, 14), and GET /portal/{tenant}/privacy.json, the same statement as W3C DPV
// JSON-LD. No session is opened or needed. The language is ?lang= or Accept-Language only
// (not the portal's language cookie, and no cookie is set), so that the answer is the same
// for everyone who asks the same and can be cached: Cache-Control public with an ETag made
// from the catalog version, the language and the brand, and If-None-Match answers 304. An
// unknown or disabled tenant is the portal's 404 page, not cached.
func (p *Public) Privacy() Handler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (out events.APIGatewayV2HTTPResponse, _ error) {
		start := time.Now()
		r := &rc{ctx: ctx, ev: ev, method: ev.RequestContext.HTTP.Method, requestID: ev.RequestContext.RequestID,
			theme: NewTheme(Brand{}), lang: "en"}
		log := p.cfg.Log.With("requestId", r.requestID, "route", ev.RouteKey)
		defer func() {
			if v := recover(); v != nil {
				log.ErrorContext(ctx, "panic in portal handler", "panic", fmt.Sprint(v))
				out = r.publicFailure(errs.E(errs.Internal, "internal error"))
			}
			log.InfoContext(ctx, "request", "tenant", r.tenant, "status", out.StatusCode, "ms", time.Since(start).Milliseconds())
		}()
		out, err := p.privacy(r)
		if err != nil {
			if errs.CodeOf(err) == errs.Internal {
				log.ErrorContext(ctx, "portal request failed", "tenant", r.tenant, "err", err)
			}
			out = r.publicFailure(err)
		}
		return out, nil
	}
}

func (p *Public) privacy(r *rc) (events.APIGatewayV2HTTPResponse, error) {
	var none events.APIGatewayV2HTTPResponse
	r.lang = r.publicLang()
	r.tenant = r.ev.PathParameters["tenant"]
	if !apikey.ValidTenant(r.tenant) {
		r.tenant = ""
		return none, errs.E(errs.NotFound, "no such portal")
	}
	if r.method != http.MethodGet {
		return none, errMethod
	}
	brand, haveBrand := p.brands.Peek(r.tenant)
	cat, haveCat := p.cfg.Catalogs.CachedCatalog(r.tenant)
	// The brand is always asked for while it is not cached: a disabled tenant has no page.
	if !haveBrand || !haveCat {
		read, err := p.cfg.Pages.ReadPage(r.ctx, r.tenant, PageQuery{Brand: !haveBrand, Catalog: !haveCat})
		if err != nil {
			return none, err
		}
		if !haveBrand {
			brand = read.Brand
			p.brands.Put(r.tenant, brand)
		}
		if !haveCat {
			cat = read.Catalog
			p.cfg.Catalogs.KeepCatalog(r.tenant, cat)
		}
	}
	r.theme, r.cat = NewTheme(brand), cat
	r.lang = r.publicLang()
	r.self = r.base() + "/privacy"
	s := transparency.Build(cat, r.lang)
	tag := privacyETag(r, s)
	h := securityHeaders()
	delete(h, "Pragma")
	h["Cache-Control"], h["ETag"], h["Vary"], h["Content-Language"] = "public, max-age="+strconv.Itoa(PrivacyMaxAge), tag, "Accept-Language", r.lang
	if inm := r.header("if-none-match"); inm != "" && strings.Contains(inm, tag) {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotModified, Headers: h}, nil
	}
	if strings.HasSuffix(r.ev.RouteKey, ".json") {
		b, err := transparency.DPV(s, "https://"+r.ev.RequestContext.DomainName+r.base()+"/privacy.json")
		if err != nil {
			return none, err
		}
		h["Content-Type"], h["Access-Control-Allow-Origin"] = "application/ld+json", "*"
		h["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: h, Body: string(b)}, nil
	}
	d := r.privacyData(s)
	v := r.view("privacy", d.P("title"), d)
	return r.publicPage(http.StatusOK, v, privacyContent(v, d), h)
}

// publicLang is ?lang=, else Accept-Language, else the catalog's default, else English.
func (r *rc) publicLang() string {
	if l := r.query("lang"); isUI(l) {
		return l
	}
	if l := acceptLanguage(r.header("accept-language")); l != "" {
		return l
	}
	if r.cat != nil && isUI(primary(r.cat.DefaultLocale)) {
		return primary(r.cat.DefaultLocale)
	}
	return "en"
}

// publicPage renders content in the layout with the headers h.
func (r *rc) publicPage(status int, v *view, content templ.Component, h map[string]string) (events.APIGatewayV2HTTPResponse, error) {
	var b bytes.Buffer
	if err := layout(v, content).Render(r.ctx, &b); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("render %s: %w", v.tmpl, err)
	}
	h["Content-Type"], h["Content-Security-Policy"] = "text/html; charset=utf-8", pageCSP(v)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h, Body: b.String()}, nil
}

// publicFailure is the portal's error page of err, not cached.
func (r *rc) publicFailure(err error) events.APIGatewayV2HTTPResponse {
	status, title, d := r.failureData(err)
	v := r.view("message", title, d)
	out, rerr := r.publicPage(status, v, messageContent(v, d), securityHeaders())
	if rerr != nil {
		h := securityHeaders()
		h["Content-Type"] = "text/html; charset=utf-8"
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusInternalServerError, Headers: h,
			Body: "<!doctype html><title>Error</title><p>Something went wrong.</p>"}
	}
	return out
}

// privacyData is the transparency page's data.
type privacyData struct {
	S          transparency.Statement
	Lang       string
	Brand      string
	LoginHref  string
	JSONHref   string
	Contact    string // where to write to exercise a right: the DPO, else the controller
	Activities []privacyActivity
}

type privacyActivity struct {
	transparency.Activity
	Basis      string
	Retention  string
	Transfers  []privacyTransfer
	Recipients []string
}

type privacyTransfer struct {
	Country, Safeguard, Href string
}

// P translates a key of the privacy page's own messages (privacyMessages).
func (d privacyData) P(key string, args ...any) string {
	m, ok := privacyMessages[d.Lang][key]
	if !ok {
		m = privacyMessages["en"][key]
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// privacyETag changes with the catalog (its version), the language and the brand's look.
func privacyETag(r *rc, s transparency.Statement) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{r.theme.Name, r.theme.LogoURL, r.theme.Background, r.theme.Text, r.theme.Primary}, "\x00")))
	return `"c` + strconv.Itoa(s.CatalogVersion) + "-" + r.lang + "-" + hex.EncodeToString(sum[:6]) + `"`
}

func (r *rc) privacyData(s transparency.Statement) privacyData {
	d := privacyData{S: s, Lang: r.lang, Brand: r.theme.Name, LoginHref: r.base() + "/login", JSONHref: r.base() + "/privacy.json"}
	switch {
	case s.DPO != nil:
		d.Contact = s.DPO.Email
	case s.Controller != nil:
		d.Contact = s.Controller.Email
	}
	for _, a := range s.Activities {
		pa := privacyActivity{Activity: a, Basis: transparency.Label(r.lang, "basis."+string(a.LegalBasis)),
			Retention: transparency.Retention(r.lang, a.RetentionDays)}
		for _, x := range a.Recipients {
			pa.Recipients = append(pa.Recipients, x.Name+" ("+transparency.Label(r.lang, "kind."+string(x.Kind))+", "+x.Country+")")
		}
		for _, t := range a.Transfers {
			pa.Transfers = append(pa.Transfers, privacyTransfer{Country: t.Country,
				Safeguard: transparency.Label(r.lang, "safeguard."+string(t.Safeguard)), Href: t.DocumentURL})
		}
		d.Activities = append(d.Activities, pa)
	}
	return d
}

// rightKeys are the rights the page explains, in the order of transparency.Rights.
var rightKeys = []string{"withdraw", "access", "rectification", "erasure", "restriction", "portability", "object", "automated", "complaint"}

// categoryName is a category's name with its special mark.
func (d privacyData) categoryName(c transparency.Category) string {
	if c.Special {
		return c.Name + " (" + transparency.Label(d.Lang, "special") + ")"
	}
	return c.Name
}

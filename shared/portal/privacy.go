package portal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/livingprofile/livingprofile/shared/transparency"
)

// PrivacyMaxAge is how long a browser or a CDN may keep the transparency page and its JSON
// before asking again (with If-None-Match): a catalog change shows within it.
const PrivacyMaxAge = 300

// NewPublic returns a portal that serves only the public transparency page (Privacy): it
// needs Profiles (for the warm catalog cache) and Pages, and no signing keys, so its
// function reads no secret. Log and Now are optional as in New.
func NewPublic(cfg Config) (*Portal, error) {
	if cfg.Profiles == nil || cfg.Pages == nil {
		return nil, errors.New("portal: Profiles and Pages are required")
	}
	return newPortal(cfg), nil
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

// Privacy serves GET /portal/{tenant}/privacy, the tenant's public transparency page
// (Art. 13, 14), and GET /portal/{tenant}/privacy.json, the same statement as W3C DPV
// JSON-LD. No session is opened or needed. The language is ?lang= or Accept-Language only
// (not the portal's language cookie, and no cookie is set), so that the answer is the same
// for everyone who asks the same and can be cached: Cache-Control public with an ETag made
// from the catalog version, the language and the brand, and If-None-Match answers 304.
func (p *Portal) Privacy() Handler {
	return p.serve(public, func(r *rc) (*result, error) {
		if r.method != http.MethodGet {
			return nil, errMethod
		}
		r.set = nil
		r.lang = "en"
		if l := r.query("lang"); isUI(l) {
			r.lang = l
		} else if l := acceptLanguage(r.header("accept-language")); l != "" {
			r.lang = l
		} else if l := primary(r.cat.DefaultLocale); isUI(l) {
			r.lang = l
		}
		r.self = r.base() + "/privacy"
		s := transparency.Build(r.cat, r.lang)
		tag := privacyETag(r, s)
		h := map[string]string{"Cache-Control": "public, max-age=" + strconv.Itoa(PrivacyMaxAge), "ETag": tag,
			"Vary": "Accept-Language", "Content-Language": r.lang}
		h["Pragma"] = "" // respond's no-cache, which would defeat the caching
		if inm := r.header("if-none-match"); inm != "" && strings.Contains(inm, tag) {
			h["Content-Type"] = ""
			return &result{status: http.StatusNotModified, headers: h}, nil
		}
		if strings.HasSuffix(r.ev.RouteKey, ".json") {
			b, err := transparency.DPV(s, "https://"+r.ev.RequestContext.DomainName+r.base()+"/privacy.json")
			if err != nil {
				return nil, err
			}
			h["Access-Control-Allow-Origin"] = "*"
			h["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
			return &result{status: http.StatusOK, body: b, ctype: "application/ld+json", headers: h}, nil
		}
		v := r.view("privacy", privacyMessages[r.lang]["title"], r.privacyData(s))
		var b bytes.Buffer
		if err := layout(v, privacyContent(v, v.Data.(privacyData))).Render(r.ctx, &b); err != nil {
			return nil, fmt.Errorf("render privacy: %w", err)
		}
		h["Content-Security-Policy"] = pageCSP(v)
		return &result{status: http.StatusOK, body: b.Bytes(), ctype: "text/html; charset=utf-8", headers: h}, nil
	})
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

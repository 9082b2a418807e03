package portal

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// rc is one request as a page's work sees it.
type rc struct {
	ctx       context.Context
	p         *Portal
	ev        events.APIGatewayV2HTTPRequest
	tenant    string
	method    string
	requestID string
	theme     Theme
	cat       *catalog.Catalog
	lang      string
	cookies   map[string]string
	form      url.Values
	sess      *session.Session
	prof      *profile.Profile
	self      string // this page's own path, for language links
	nav       string // the current section of the navigation
	set       []string
	notices   []string
	pre       string        // the pre-sign-in CSRF binding cookie's value
	requests  []dsr.Request // the person's requests, when listed beside the page's read
	listed    bool
}

// result is what a page's work answers.
type result struct {
	status   int
	view     *view
	redirect string // an internal path (never taken from input)
	external string // a URL the portal made itself (a presigned download)
	body     []byte
	ctype    string
	headers  map[string]string
}

// access is how much a page needs before its work runs.
type access int

const (
	public   access = iota // tenant, brand and catalog
	signedIn               // and a session and the person's profile; honours GPC (may write)
	readOnly               // signedIn, but never writes the profile: GPC is only reported
)

// base is the tenant's portal path prefix.
func (r *rc) base() string { return "/portal/" + r.tenant }

// header returns a request header (API Gateway lower-cases names).
func (r *rc) header(name string) string { return r.ev.Headers[name] }

// query returns a query parameter.
func (r *rc) query(name string) string { return r.ev.QueryStringParameters[name] }

// serve wraps a page's work with everything every portal request needs: tenant, brand,
// catalog, language, the session (for signedIn pages), GPC, security headers, logging and
// panic recovery.
func (p *Portal) serve(need access, work func(*rc) (*result, error)) Handler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (out events.APIGatewayV2HTTPResponse, _ error) {
		start := time.Now()
		r := &rc{ctx: ctx, p: p, ev: ev, method: ev.RequestContext.HTTP.Method, requestID: ev.RequestContext.RequestID,
			theme: NewTheme(Brand{}), lang: "en"}
		log := p.log.With("requestId", r.requestID, "route", ev.RouteKey)
		defer func() {
			if v := recover(); v != nil {
				log.ErrorContext(ctx, "panic in portal handler", "panic", fmt.Sprint(v))
				out = r.respond(r.failure(errs.E(errs.Internal, "internal error")))
			}
			log.InfoContext(ctx, "request", "tenant", r.tenant, "status", out.StatusCode, "ms", time.Since(start).Milliseconds())
		}()
		res, err := r.prepare(need)
		if err == nil && res == nil {
			res, err = work(r)
		}
		if err != nil {
			if errs.CodeOf(err) == errs.Internal {
				log.ErrorContext(ctx, "portal request failed", "tenant", r.tenant, "err", err)
			}
			res = r.failure(err)
		}
		return r.respond(res), nil
	}
}

// prepare loads what every page needs; a non-nil result answers instead of the page.
func (r *rc) prepare(need access) (*result, error) {
	r.cookies = parseCookies(r.ev.Cookies)
	r.lang = r.negotiate("")
	r.tenant = r.ev.PathParameters["tenant"]
	if !apikey.ValidTenant(r.tenant) {
		r.tenant = ""
		return nil, errs.E(errs.NotFound, "no such portal")
	}
	r.self = r.base()
	// The session cookie opens without a read, so that what the page needs is read at once:
	// one round trip, and on a warm container only the session's state and the profile.
	now := r.p.now()
	raw, hadCookie := r.cookies[session.CookieName(r.tenant)]
	s, errSession := session.Session{}, session.ErrInvalid
	if need != public {
		s, errSession = r.p.cfg.Keys.Open(r.tenant, raw, now)
	}
	brand, haveBrand := r.p.brands.Peek(r.tenant)
	cat, haveCat := r.p.cfg.Profiles.CachedCatalog(r.tenant)
	q := PageQuery{Brand: !haveBrand, Catalog: !haveCat}
	keyActive, haveKey := true, true
	if errSession == nil {
		q.SessionID, q.ProfileID = s.ID, s.ProfileID
		if s.APIKey != "" {
			if keyActive, haveKey = r.p.keys.Peek(r.tenant + "/" + s.APIKey); !haveKey {
				q.KeyID = s.APIKey
			}
		}
	}
	// The overview and the rights page list the person's requests: a Query, made beside the
	// read, whose answer is dropped unseen when the session turns out to be revoked.
	listing := errSession == nil && r.method == http.MethodGet && r.p.cfg.Requests != nil && listsRequests[r.ev.RouteKey]
	var read PageRead
	readPage := func() (err error) {
		read, err = r.p.cfg.Pages.ReadPage(r.ctx, r.tenant, q)
		return err
	}
	var errRead error
	if listing {
		errRead, _ = concurrently(readPage, func() (err error) {
			r.requests, err = r.p.cfg.Requests.RequestsOfProfile(r.ctx, r.tenant, s.ProfileID)
			r.listed = err == nil
			return nil // a failed list is made again by the page, which reports it
		})
	} else {
		errRead = readPage()
	}
	if errRead != nil {
		return nil, errRead
	}
	if q.Brand {
		brand = read.Brand
		r.p.brands.Put(r.tenant, brand)
	}
	r.theme = NewTheme(brand)
	if q.Catalog {
		cat = read.Catalog
		r.p.cfg.Profiles.KeepCatalog(r.tenant, cat)
	}
	r.cat = cat
	if q.KeyID != "" {
		keyActive = read.KeyActive
		r.p.keys.Put(r.tenant+"/"+q.KeyID, keyActive)
	}
	r.lang = r.negotiate("") // now with the catalog's default locale
	if r.method == http.MethodPost {
		if err := r.parseForm(); err != nil {
			return nil, err
		}
	}
	if err := checkShape(r.ev.RouteKey, r.ev.PathParameters, r.ev.QueryStringParameters, r.form); err != nil {
		return nil, err
	}
	if need == public {
		return nil, nil
	}
	if errSession == nil && (read.Revoked || !keyActive || read.Profile == nil) {
		// Revoked, vouched for by a revoked key, or of a profile no longer held (erased):
		// the session is over, and the profile read is dropped unseen.
		errSession = session.ErrInvalid
	}
	if errSession != nil {
		path := r.base() + "/login"
		if hadCookie {
			r.set = append(r.set, session.ClearCookie(r.tenant))
			path += "?expired=1"
		}
		return &result{redirect: path}, nil
	}
	s.SeenAt = max(s.SeenAt, now.Unix())
	r.sess, r.prof = &s, read.Profile
	r.lang = r.negotiate(localeOf(r.prof))
	if err := r.p.honourGPC(r, need == signedIn); err != nil {
		return nil, err
	}
	return nil, r.keepSession()
}

// listsRequests are the routes whose page lists the person's requests.
var listsRequests = map[string]bool{"GET /portal/{tenant}": true, "GET /portal/{tenant}/rights": true}

// concurrently runs a and b at once and returns their errors. A panic in b is an internal
// error, as serve makes of one in a.
func concurrently(a, b func() error) (errA, errB error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				errB = errs.E(errs.Internal, fmt.Sprint("panic in a concurrent read: ", v))
			}
		}()
		errB = b()
	}()
	errA = a()
	<-done
	return errA, errB
}

// keepSession re-issues the session cookie, extending its idle time.
func (r *rc) keepSession() error {
	c, err := r.p.cfg.Keys.Cookie(*r.sess, r.p.now())
	if err != nil {
		return err
	}
	r.set = append(r.set, c)
	return nil
}

func localeOf(p *profile.Profile) string {
	if p == nil {
		return ""
	}
	l, _ := p.Attributes[profile.AttrLocale].(string)
	return l
}

func parseCookies(list []string) map[string]string {
	out := map[string]string{}
	for _, c := range list {
		for part := range strings.SplitSeq(c, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && name != "" {
				if _, dup := out[name]; !dup {
					out[name] = value
				}
			}
		}
	}
	return out
}

// errTooLarge is a body over maxBody.
var errTooLarge = errs.E(errs.TooLarge, "the form is too large")

// parseForm reads a url-encoded or multipart form body of at most maxBody bytes.
func (r *rc) parseForm() error {
	body := []byte(r.ev.Body)
	if r.ev.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(r.ev.Body)) > maxBody+3 {
			return errTooLarge
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(r.ev.Body); err != nil {
			return errs.E(errs.Invalid, "the form could not be read")
		}
	}
	if len(body) > maxBody {
		return errTooLarge
	}
	r.form = url.Values{}
	ct := r.header("content-type")
	if ct == "" && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil && ct != "":
		return errs.E(errs.UnsupportedMedia, "the form must be url-encoded")
	case ct == "" || mt == "application/x-www-form-urlencoded" || mt == "text/plain":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return errs.E(errs.Invalid, "the form could not be read")
		}
		r.form = v
	case mt == "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return errs.E(errs.Invalid, "the form could not be read")
			}
			if part.FileName() != "" {
				continue
			}
			b, err := io.ReadAll(io.LimitReader(part, maxBody))
			if err != nil {
				return errs.E(errs.Invalid, "the form could not be read")
			}
			r.form.Add(part.FormName(), string(b))
		}
	default:
		return errs.E(errs.UnsupportedMedia, "the form must be url-encoded")
	}
	return checkForm(r.ev.RouteKey, r.form)
}

// errCSRF is a missing or invalid form token.
var errCSRF = errs.E(errs.Forbidden, "the form token is missing or invalid")

// csrf returns the form token of this request's binding: the session when signed in, else
// the pre-sign-in cookie (created when absent).
func (r *rc) csrf() string {
	if r.sess != nil {
		return r.p.cfg.Keys.CSRFToken(r.tenant, "s:"+r.sess.ID)
	}
	if r.pre == "" {
		r.pre = r.cookies[session.PreCookie]
		if !validPre(r.pre) {
			r.pre = session.NewID()
			r.set = append(r.set, session.SetCookie(session.PreCookie, r.pre, int((2*time.Hour)/time.Second)))
		}
	}
	return r.p.cfg.Keys.CSRFToken(r.tenant, "p:"+r.pre)
}

func validPre(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// checkCSRF verifies the posted form token against this request's binding.
func (r *rc) checkCSRF() error {
	tok := r.form.Get("csrf")
	if r.sess != nil {
		if r.p.cfg.Keys.CheckCSRF(r.tenant, "s:"+r.sess.ID, tok) {
			return nil
		}
		return errCSRF
	}
	pre := r.cookies[session.PreCookie]
	if validPre(pre) && r.p.cfg.Keys.CheckCSRF(r.tenant, "p:"+pre, tok) {
		r.pre = pre
		return nil
	}
	return errCSRF
}

// failure turns an error into an error page.
func (r *rc) failure(err error) *result {
	status, title, d := r.failureData(err)
	return r.page(status, "message", title, d)
}

// failureData is the status, title and message of the error page of err.
func (r *rc) failureData(err error) (int, string, messageData) {
	code := errs.CodeOf(err)
	status, title, text := http.StatusInternalServerError, "error.internalTitle", "error.internal"
	switch code {
	case errs.NotFound:
		status, title, text = http.StatusNotFound, "error.notFoundTitle", "error.notFound"
	case errs.Forbidden:
		status, title, text = http.StatusForbidden, "error.forbiddenTitle", "error.forbidden"
	case errs.Conflict, errs.PreconditionFailed, errs.Erased:
		status, title, text = http.StatusConflict, "error.conflictTitle", "error.conflict"
	case errs.TooManyRequests:
		status, title, text = http.StatusTooManyRequests, "error.busyTitle", "error.busy"
	case errs.TooLarge:
		status, title, text = http.StatusRequestEntityTooLarge, "error.invalidTitle", "error.tooLarge"
	case errs.UnsupportedMedia:
		status, title, text = http.StatusUnsupportedMediaType, "error.invalidTitle", "error.invalid"
	case errs.Invalid:
		status, title, text = http.StatusBadRequest, "error.invalidTitle", "error.invalid"
	case errs.Unprocessable:
		status, title, text = http.StatusUnprocessableEntity, "error.invalidTitle", "error.invalid"
	}
	d := messageData{Paragraphs: []string{r.t(text)}}
	if status == http.StatusInternalServerError {
		d.RequestID = r.requestID
	}
	if r.tenant != "" {
		if r.sess != nil {
			d.Link = &link{Href: r.base(), Label: r.t("error.backOverview")}
		} else {
			d.Link = &link{Href: r.base() + "/login", Label: r.t("error.toLogin")}
		}
	}
	return status, r.t(title), d
}

// respond renders a result into the API Gateway response, with the security headers every
// portal response carries.
func (r *rc) respond(res *result) events.APIGatewayV2HTTPResponse {
	h := securityHeaders()
	out := events.APIGatewayV2HTTPResponse{StatusCode: res.status, Headers: h}
	switch {
	case res.view != nil:
		body, csp, err := r.p.renderView(res.view)
		if err != nil {
			r.p.log.ErrorContext(r.ctx, "render page", "err", err)
			out.StatusCode, body = http.StatusInternalServerError, []byte("<!doctype html><title>Error</title><p>Something went wrong.</p>")
		}
		h["Content-Type"] = "text/html; charset=utf-8"
		h["Content-Security-Policy"] = csp
		out.Body = string(body)
	case res.redirect != "":
		out.StatusCode = http.StatusSeeOther
		h["Location"] = res.redirect
	case res.external != "":
		out.StatusCode = http.StatusSeeOther
		h["Location"] = res.external
	default:
		h["Content-Type"] = res.ctype
		out.Body = string(res.body)
	}
	for k, v := range res.headers {
		h[k] = v
	}
	out.Cookies = r.set // after rendering, which may add the pre-sign-in cookie
	if out.StatusCode == 0 {
		out.StatusCode = http.StatusOK
	}
	return out
}

// securityHeaders are the headers every portal response carries, before a page's own.
func securityHeaders() map[string]string {
	return map[string]string{
		"Cache-Control":                "no-store",
		"Pragma":                       "no-cache",
		"X-Frame-Options":              "DENY",
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Permissions-Policy":           "browsing-topics=()",
		"Strict-Transport-Security":    "max-age=31536000",
		"Content-Security-Policy":      "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
}

// page is a rendered page result.
func (r *rc) page(status int, tmpl, title string, data any) *result {
	return &result{status: status, view: r.view(tmpl, title, data)}
}

// redirectTo answers 303 See Other to a path under this tenant's portal, with an optional
// fixed flash key (?done=…) the target shows as a notice.
func (r *rc) redirectTo(path, done string) *result {
	target := r.base() + path
	if done != "" {
		target += "?done=" + url.QueryEscape(done)
	}
	return &result{redirect: target}
}

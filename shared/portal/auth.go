package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// resendMaxAge is how old a used or expired link may be and still let its holder ask for a
// fresh login link to be emailed to the person (never shown to the holder).
const resendMaxAge = 90 * 24 * time.Hour

// Open serves GET and POST /portal/{tenant}/t/{token}: a brand's portal link
// (linktoken.Open) or an emailed login link (linktoken.Login).
//
// GET checks the token (signature, expiry, tenant, not yet used) and shows a "Continue"
// button; it changes nothing, so link scanners that fetch URLs in emails do not use the
// link up. POST (with the pre-sign-in CSRF token) uses the token's nonce once, opens a
// session for the person (a sealed __Host- cookie) and redirects to the overview — or, for
// a link about a topic, to the subscriptions page. A used or expired link answers 410 with
// a page offering to email a new link; a forged link, or one of another tenant, 404.
func (p *Portal) Open() Handler {
	return p.serve(public, func(r *rc) (*result, error) {
		token := r.ev.PathParameters["token"]
		r.self = r.base() + "/t/" + url.PathEscape(token)
		now := p.now()
		c, kind, err := linktoken.Verify(p.cfg.Links, token, now, linktoken.Open, linktoken.Login)
		if err != nil || c.Tenant != r.tenant || !app.ValidProfileID(c.ProfileID) {
			return r.badLink(token), nil
		}
		if ok, err := p.minterActive(r.ctx, r.tenant, c.APIKey); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			return r.badLink(""), nil // its key was revoked: the link vouches for nobody
		}
		if l := primary(c.Locale); isUI(l) && r.query("lang") == "" && !isUI(r.cookies[session.LangCookie]) {
			r.lang = l
		}
		used, err := p.cfg.Store.PortalNonceUsed(r.ctx, r.tenant, c.Nonce)
		if err != nil {
			return nil, err
		}
		if used {
			return r.usedLink(token, "link.usedTitle", "link.used"), nil
		}
		switch r.method {
		case http.MethodGet:
			return r.page(http.StatusOK, "message", r.t("open.title"), messageData{
				Paragraphs: []string{r.t("open.intro", r.theme.Name)},
				Form:       &messageForm{Action: r.self, CSRF: r.csrf(), Button: r.t("open.button")},
			}), nil
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		err = p.cfg.Store.UsePortalNonce(r.ctx, r.tenant, c.Nonce, time.Unix(c.ExpiresAt, 0))
		if errors.Is(err, errs.ErrReplay) {
			return r.usedLink(token, "link.usedTitle", "link.used"), nil
		}
		if err != nil {
			return nil, err
		}
		if _, err := p.cfg.Profiles.GetProfile(r.ctx, r.tenant, c.ProfileID); err != nil {
			if errs.CodeOf(err) == errs.NotFound {
				return r.badLink(""), nil
			}
			return nil, err
		}
		via := session.ViaLink
		if kind == linktoken.Login {
			via = session.ViaLogin
		}
		s := session.New(r.tenant, c.ProfileID, via, now)
		s.APIKey = c.APIKey
		r.sess = &s
		if err := r.keepSession(); err != nil {
			return nil, err
		}
		if next, ok := nextPages[c.Next]; ok && kind == linktoken.Login {
			return &result{redirect: r.base() + next}, nil
		}
		if t, ok := r.cat.Topic(c.Topic); ok && c.Topic != "" && catalog.ValidID(t.ID) {
			return &result{redirect: r.base() + "/subscriptions#topic-" + t.ID}, nil
		}
		return &result{redirect: r.base()}, nil
	})
}

// errMethod answers a method the route does not serve.
var errMethod = errs.E(errs.NotFound, "no such page")

// badLink is the page of a link that is not valid here; an expired link of this tenant
// offers a new one.
func (r *rc) badLink(token string) *result {
	if token != "" {
		c, _, err := linktoken.VerifySignature(r.p.cfg.Links, token, r.p.now(), resendMaxAge, linktoken.Open, linktoken.Login)
		if err == nil && c.Tenant == r.tenant {
			return r.usedLink(token, "link.expiredTitle", "link.expired")
		}
	}
	return r.page(http.StatusNotFound, "message", r.t("link.invalidTitle"), messageData{
		Paragraphs: []string{r.t("link.invalid")},
		Link:       &link{Href: r.base() + "/login", Label: r.t("link.signIn")},
	})
}

// usedLink is the 410 page of a used or expired link: it offers to email the person a new
// login link (to their address on file, which the page never shows).
func (r *rc) usedLink(token, title, text string) *result {
	return r.page(http.StatusGone, "message", r.t(title), messageData{
		Paragraphs: []string{r.t(text), r.t("link.offer")},
		Form: &messageForm{Action: r.base() + "/login", CSRF: r.csrf(), Button: r.t("link.resend"),
			Hidden: []hidden{{Name: "token", Value: token}}},
		Link: &link{Href: r.base() + "/login", Label: r.t("link.signIn")},
	})
}

// loginData is the login page's.
type loginData struct {
	Email field
	Next  string // the page an emailed link brings the person back to (nextPages)
}

// next is the login's page to come back to, when it is one of nextPages.
func (r *rc) next() string {
	n := r.query("next")
	if r.method == http.MethodPost {
		n = r.form.Get("next")
	}
	if _, ok := nextPages[n]; ok {
		return n
	}
	return ""
}

// Login serves GET and POST /portal/{tenant}/login.
//
// GET shows the form (one email field). POST (with the pre-sign-in CSRF token) emails a
// single-use login link valid for linktoken.LoginTTL to the address, if it belongs to a
// profile of the tenant; the answer is the same page, with the same status, and takes at
// least Config.LoginFloor either way, so it tells nobody whether the address is known. A
// POST with a "token" field instead (from the page of a used or expired link) emails the
// link to the person that link was for. Requests are limited per address (Limits.PerAddress
// per Window; over it, nothing is sent but the answer is the same) and per client IP
// (Limits.PerIP; over it, a 429 "try later" page that does not depend on the address).
func (p *Portal) Login() Handler {
	return p.serve(public, func(r *rc) (*result, error) {
		r.self = r.base() + "/login"
		switch r.method {
		case http.MethodGet:
			switch {
			case r.query("expired") == "1":
				r.notices = append(r.notices, r.t("login.expiredNotice"))
			case r.query("signedout") == "1":
				r.notices = append(r.notices, r.t("login.signedOutNotice"))
			case r.next() != "":
				r.notices = append(r.notices, r.t("login.reauthNotice"))
			}
			return r.loginForm(http.StatusOK, "", ""), nil
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		start := time.Now()
		res, err := p.login(r)
		if res != nil && res.status != http.StatusUnprocessableEntity {
			p.cfg.Sleep(r.ctx, p.cfg.LoginFloor-time.Since(start))
		}
		return res, err
	})
}

func (r *rc) loginForm(status int, value, problem string) *result {
	f := field{ID: "email", Name: "email", Type: "email", Label: r.t("login.email"), Hint: r.t("login.emailHint"),
		Value: value, Autocomplete: "email", Required: true, MaxLength: 254}
	if problem != "" {
		f.Error, f.ErrorPrefix = problem, r.t("error.prefix")
	}
	v := r.page(status, "login", r.t("login.title"), loginData{Email: f, Next: r.next()})
	if problem != "" {
		v.view.Errors = []fieldError{{Field: "email", Message: problem}}
	}
	return v
}

// login does the work of a login POST; every path that got this far does the same work
// (rate counters, a profile read, building the email) whether or not the person exists.
func (p *Portal) login(r *rc) (*result, error) {
	now := p.now()
	var (
		prof *profile.Profile
		addr profile.Identity
	)
	if tok := r.form.Get("token"); tok != "" {
		c, _, err := linktoken.VerifySignature(p.cfg.Links, tok, now, resendMaxAge, linktoken.Open, linktoken.Login)
		if err != nil || c.Tenant != r.tenant || !app.ValidProfileID(c.ProfileID) {
			return r.badLink(""), nil
		}
		prof, err = p.cfg.Profiles.GetProfile(r.ctx, r.tenant, c.ProfileID)
		if err != nil && errs.CodeOf(err) != errs.NotFound {
			return nil, err
		}
		if addr = emailIdentity(prof); addr.Value == "" {
			prof = nil
			addr = profile.Identity{Type: "email", Value: "profile:" + c.ProfileID}
		}
	} else {
		raw := r.form.Get("email")
		id, reason := profile.NormalizeIdentity(r.cat, "email", raw)
		switch {
		case strings.TrimSpace(raw) == "":
			return r.loginForm(http.StatusUnprocessableEntity, raw, r.t("login.emailMissing")), nil
		case reason != "":
			return r.loginForm(http.StatusUnprocessableEntity, raw, r.t("login.emailInvalid")), nil
		}
		addr = id
	}
	lim := p.cfg.Limits
	ipHits, err := p.cfg.Store.CountPortalHit(r.ctx, r.tenant, "ip:"+p.cfg.Keys.Pseudonym(r.tenant, "ip", r.ev.RequestContext.HTTP.SourceIP), lim.Window, now)
	if err != nil {
		return nil, err
	}
	if ipHits > int64(lim.PerIP) {
		return r.page(http.StatusTooManyRequests, "message", r.t("login.tooManyTitle"), messageData{
			Paragraphs: []string{r.t("login.tooMany")},
		}), nil
	}
	addrHits, err := p.cfg.Store.CountPortalHit(r.ctx, r.tenant, "addr:"+p.cfg.Keys.Pseudonym(r.tenant, "addr", addr.String()), lim.Window, now)
	if err != nil {
		return nil, err
	}
	if r.form.Get("token") == "" {
		prof, err = p.cfg.Profiles.FindProfile(r.ctx, r.tenant, addr.String())
		if err != nil && errs.CodeOf(err) != errs.NotFound {
			return nil, err
		}
	}
	loginURL, lang, err := p.loginLink(r, prof, now)
	if err != nil {
		return nil, err
	}
	switch {
	case prof == nil:
		// Nobody to send to: the link was minted all the same, and is dropped.
	case addrHits > int64(lim.PerAddress):
		r.p.log.WarnContext(r.ctx, "login link not sent: address over its limit", "tenant", r.tenant)
	case p.cfg.Mailer == nil:
		r.p.log.ErrorContext(r.ctx, "login link not sent: no mailer configured", "tenant", r.tenant)
	default:
		if err := p.cfg.Mailer.SendLoginLink(r.ctx, addr.Value, lang, loginURL, linktoken.LoginTTL); err != nil {
			// The answer stays the same: a failure must not tell the address exists.
			r.p.log.ErrorContext(r.ctx, "send login link", "tenant", r.tenant, "err", err)
		}
	}
	return r.page(http.StatusOK, "message", r.t("login.sentTitle"), messageData{
		Paragraphs: []string{r.t("login.sent", r.theme.Name), r.t("login.sentValidity"), r.t("login.sentNothing")},
		Link:       &link{Href: r.base() + "/login", Label: r.t("login.again")},
	}), nil
}

func emailIdentity(p *profile.Profile) profile.Identity {
	if p == nil {
		return profile.Identity{}
	}
	for _, id := range p.Identities {
		if id.Type == "email" {
			return id
		}
	}
	return profile.Identity{}
}

// loginLink mints the login link (single use, linktoken.LoginTTL) for prof, and the
// language of its email. For a profile that does not exist it mints one all the same (for
// a random id that opens nothing), so both paths do the same work.
func (p *Portal) loginLink(r *rc, prof *profile.Profile, now time.Time) (string, string, error) {
	lang := r.lang
	pid := app.NewID("p_")
	if prof != nil {
		pid = prof.ID
		if l := primary(localeOf(prof)); isUI(l) {
			lang = l
		}
	}
	tok, _, err := linktoken.Mint(p.cfg.Links, linktoken.Login, portallink.Claims{
		Tenant: r.tenant, ProfileID: pid, Locale: lang, Next: r.next(),
		IssuedAt: now.Unix(), ExpiresAt: now.Add(linktoken.LoginTTL).Unix(),
	})
	if err != nil {
		return "", "", err
	}
	return linktoken.OpenURL(linktoken.BaseURL(p.cfg.BaseURL, r.ev.RequestContext.DomainName), r.tenant, tok), lang, nil
}

// Logout serves POST /portal/{tenant}/logout: it revokes the session (server-side, until
// its absolute end), deletes the cookie and redirects to the login page.
func (p *Portal) Logout() Handler {
	return p.serve(readOnly, func(r *rc) (*result, error) {
		if r.method != http.MethodPost {
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		if err := p.cfg.Store.RevokePortalSession(r.ctx, r.tenant, r.sess.ID, r.sess.EndsAt()); err != nil {
			return nil, err
		}
		name := session.CookieName(r.tenant) + "="
		kept := r.set[:0]
		for _, c := range r.set {
			if !strings.HasPrefix(c, name) {
				kept = append(kept, c)
			}
		}
		r.set = append(kept, session.ClearCookie(r.tenant))
		r.sess = nil
		return &result{redirect: r.base() + "/login?signedout=1"}, nil
	})
}

package portal

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/portal/session"
)

// ConfirmActor is the person acting by a single-use link emailed about their request.
var ConfirmActor = ledger.Actor{Kind: ledger.ActorPortal, ID: "email-link"}

// Confirm serves GET and POST /portal/{tenant}/confirm?t=<token>: the single-use links
// emailed about a request made for the person through the brand API (mail.RequestConfirm).
//
// GET shows what will happen (the request's type, and for an erasure the tenant's
// cool-off) and a button; it changes nothing, so mail scanners that fetch links confirm
// nothing. POST (with the pre-sign-in CSRF token, as the login page's forms) carries the
// link out once: a confirmation link confirms the request (verification email_confirmed)
// and releases its job, at once or after the cool-off; a cancel link calls an erasure off
// while it awaits confirmation or its cool-off. A used, expired, forged or other tenant's
// link answers 410, the same for each, and no session is needed or opened.
func (p *Portal) Confirm() Handler {
	return p.serve(public, func(r *rc) (*result, error) {
		token := r.query("t")
		if r.method == http.MethodPost && r.form.Get("t") != "" {
			token = r.form.Get("t")
		}
		r.self = r.base() + "/confirm?t=" + url.QueryEscape(token)
		if p.cfg.Requests == nil {
			return nil, errs.E(errs.NotFound, "data-subject requests are not available")
		}
		req, kind, err := p.cfg.Requests.RequestByLink(r.ctx, r.tenant, token)
		if errors.Is(err, dsr.ErrLinkUsed) {
			return r.linkGone(), nil
		}
		if err != nil {
			return nil, err
		}
		if l := primary(req.Locale); isUI(l) && r.query("lang") == "" && !isUI(r.cookies[session.LangCookie]) {
			r.lang = l
		}
		switch r.method {
		case http.MethodGet:
			return r.confirmPage(req, kind, token), nil
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		done, err := p.cfg.Requests.UseLink(r.ctx, r.tenant, token, app.RequestWrite{Actor: ConfirmActor, RequestID: r.requestID})
		if errors.Is(err, dsr.ErrLinkUsed) {
			return r.linkGone(), nil
		}
		if err != nil {
			return nil, err
		}
		switch {
		case kind == app.LinkCancel:
			return r.page(http.StatusOK, "message", r.t("confirm.cancelledTitle"), messageData{Paragraphs: []string{r.t("confirm.cancelled")}}), nil
		case done.CoolOffUntil != nil && done.ReleasedAt == nil:
			return r.page(http.StatusOK, "message", r.t("confirm.doneTitle"), messageData{
				Paragraphs: []string{r.t("confirm.doneCoolOff", dateTime(r.lang, *done.CoolOffUntil))}}), nil
		}
		return r.page(http.StatusOK, "message", r.t("confirm.doneTitle"), messageData{Paragraphs: []string{r.t("confirm.done")}}), nil
	})
}

// confirmPage shows what a link will do and the button that does it.
func (r *rc) confirmPage(req *dsr.Request, kind, token string) *result {
	form := &messageForm{Action: r.base() + "/confirm", CSRF: r.csrf(), Hidden: []hidden{{Name: "t", Value: token}}}
	if kind == app.LinkCancel {
		form.Button = r.t("confirm.cancelButton")
		return r.page(http.StatusOK, "message", r.t("confirm.cancelTitle"), messageData{
			Paragraphs: []string{r.t("confirm.cancelIntro", r.theme.Name)}, Form: form, RequestID: req.ID})
	}
	form.Button = r.t("confirm.button")
	ps := []string{r.t("confirm.intro", r.t("confirm."+string(req.Type)), r.theme.Name)}
	if days := int(r.cat.ErasureCoolOff() / (24 * time.Hour)); req.Type == dsr.Erasure && days > 0 {
		ps = append(ps, r.t("confirm.erasureWait", r.theme.Name, days))
	}
	return r.page(http.StatusOK, "message", r.t("confirm.title"), messageData{Paragraphs: ps, Form: form, RequestID: req.ID})
}

// linkGone is the page of a request link that no longer works.
func (r *rc) linkGone() *result {
	return r.page(http.StatusGone, "message", r.t("confirm.usedTitle"), messageData{Paragraphs: []string{r.t("confirm.used")}})
}

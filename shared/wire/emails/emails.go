// Package emails builds the request routes that email the person through SES: new
// requests (the confirmation link), extensions and denials.
package emails

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// mailingRoute builds a request route whose use case emails the person, from SENDER_EMAIL
// (required).
func mailingRoute(ctx context.Context, d *wire.Deps, pick func(*httpapi.API) httpapi.Handler) (any, error) {
	from, err := d.Required("SENDER_EMAIL")
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(ctx, d.AWS, from)
	if err != nil {
		return nil, err
	}
	n := requestMail{sender: sender, log: d.Log}
	api := httpapi.New(d.Profiles().WithNotifier(n), d.Log, nil, d.Env("PORTAL_BASE_URL"))
	return wire.HTTPHandler(pick(api)), nil
}

// CreateRequest builds POST /v1/requests; it emails the person the link to confirm a
// request made for them.
func CreateRequest(ctx context.Context, d *wire.Deps) (any, error) {
	return mailingRoute(ctx, d, (*httpapi.API).CreateRequest)
}

// ExtendRequest builds POST /v1/requests/{id}/extension; it tells the person by email.
func ExtendRequest(ctx context.Context, d *wire.Deps) (any, error) {
	return mailingRoute(ctx, d, (*httpapi.API).ExtendRequest)
}

// DenyRequest builds POST /v1/requests/{id}/denial; it tells the person by email.
func DenyRequest(ctx context.Context, d *wire.Deps) (any, error) {
	return mailingRoute(ctx, d, (*httpapi.API).DenyRequest)
}

// requestMail is the app.Notifier that emails people about their requests (package mail),
// in the request's locale. Failures are logged without personal data.
type requestMail struct {
	sender mail.Sender
	log    *slog.Logger
}

func (m requestMail) NotifyExtension(ctx context.Context, r *dsr.Request, to string) error {
	data := map[string]string{"dueAt": mail.Date(r.DueAt, r.Locale), "requestId": r.ID}
	if x := r.Extension; x != nil {
		data["reason"], data["months"] = x.Reason, strconv.Itoa(x.Months)
	}
	return m.logged(ctx, r, "extension", m.sender.Send(ctx, to, r.Locale, mail.RequestExtended, data))
}

func (m requestMail) NotifyDenial(ctx context.Context, r *dsr.Request, to string) error {
	data := map[string]string{"reason": r.DenialReason, "requestId": r.ID}
	return m.logged(ctx, r, "denial", m.sender.Send(ctx, to, r.Locale, mail.RequestDenied, data))
}

func (m requestMail) NotifyConfirmation(ctx context.Context, r *dsr.Request, to string, l app.RequestLinks) error {
	data := map[string]string{"request": string(r.Type), "requestId": r.ID}
	if l.Confirm != "" {
		data["link"] = linktoken.PageURL(l.Base, r.Tenant, "/confirm?t="+url.QueryEscape(l.Confirm))
		if r.VerifyBy != nil {
			data["expiresAt"] = mail.Date(*r.VerifyBy, r.Locale)
		}
	}
	if l.Cancel != "" {
		data["cancelLink"] = linktoken.PageURL(l.Base, r.Tenant, "/confirm?t="+url.QueryEscape(l.Cancel))
		data["coolOffDays"] = strconv.Itoa(int(l.CoolOff / (24 * time.Hour)))
	}
	return m.logged(ctx, r, "confirmation", m.sender.Send(ctx, to, r.Locale, mail.RequestConfirm, data))
}

func (m requestMail) logged(ctx context.Context, r *dsr.Request, what string, err error) error {
	if err != nil {
		m.log.ErrorContext(ctx, "request notice not sent", "notice", what, "tenant", r.Tenant, "requestId", r.ID, "err", err)
	}
	return err
}

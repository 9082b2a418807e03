// Package notices emails people about their data-subject requests through SES v2 (package
// mail), from SENDER_EMAIL: the app.Notifier of the functions that make or change requests.
package notices

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// Requests returns the notifier, sending from SENDER_EMAIL (required).
func Requests(ctx context.Context, d *wire.Deps) (app.Notifier, error) {
	from, err := d.Required("SENDER_EMAIL")
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(ctx, d.AWS, from)
	if err != nil {
		return nil, err
	}
	return requestMail{sender: sender, log: d.Log}, nil
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

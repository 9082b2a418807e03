// Package login builds the portal's sign-in function, the one portal function that sends
// email (SES): the emailed single-use sign-in link.
package login

import (
	"context"
	"strconv"
	"time"

	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages"
)

// PortalLogin builds GET|POST /portal/{tenant}/login; it sends from SENDER_EMAIL (required).
func PortalLogin(ctx context.Context, d *wire.Deps) (any, error) {
	return pages.Route(ctx, d, (*portal.Portal).Login, withMailer)
}

func withMailer(d *wire.Deps, cfg *portal.Config) error {
	from, err := d.Required("SENDER_EMAIL")
	if err != nil {
		return err
	}
	// Resolving the endpoint reads only the configuration: no request, nothing to cancel.
	s, err := mail.NewSender(context.Background(), d.AWS, from)
	if err != nil {
		return err
	}
	cfg.Mailer = loginMail{s}
	return nil
}

// loginMail sends the login email (mail.LoginLink).
type loginMail struct{ s mail.Sender }

func (m loginMail) SendLoginLink(ctx context.Context, to, locale, link string, ttl time.Duration) error {
	return m.s.Send(ctx, to, locale, mail.LoginLink, map[string]string{"link": link, "minutes": strconv.Itoa(int(ttl / time.Minute))})
}

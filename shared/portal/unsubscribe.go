package portal

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// EmailChannel is the channel id a one-click unsubscribe removes from its topic.
const EmailChannel = "email"

type unsubscribeData struct{ Topic, Action string }

// Unsubscribe serves GET and POST /portal/{tenant}/unsubscribe/{token}, the RFC 8058
// one-click unsubscribe URL of an email about one topic (linktoken.Unsubscribe, minted by
// POST /v1/portal-links next to the link, as listUnsubscribe).
//
// GET shows a confirmation page whose button POSTs. POST — from that page or straight from
// a mail client with the body List-Unsubscribe=One-Click (url-encoded or multipart) — needs
// no session and no CSRF token (the token is the credential): it removes the email channel
// from the person's subscription to the topic (unsubscribing from the topic when no channel
// is left), recorded with OneClickActor, and answers 200 with a short page. It is
// idempotent. A forged, expired or other tenant's token answers 404 (expired: 410).
func (p *Portal) Unsubscribe() Handler {
	return p.serve(public, func(r *rc) (*result, error) {
		token := r.ev.PathParameters["token"]
		r.self = r.base() + "/unsubscribe/" + url.PathEscape(token)
		c, _, err := linktoken.Verify(p.cfg.Links, token, p.now(), linktoken.Unsubscribe)
		t, ok := r.cat.Topic(c.Topic)
		if err != nil || c.Tenant != r.tenant || !app.ValidProfileID(c.ProfileID) || !ok {
			if _, _, serr := linktoken.VerifySignature(p.cfg.Links, token, p.now(), 10*linktoken.UnsubscribeTTL, linktoken.Unsubscribe); serr == nil && err != nil {
				return r.page(http.StatusGone, "message", r.t("unsub.expiredTitle"), messageData{
					Paragraphs: []string{r.t("unsub.expired")},
					Link:       &link{Href: r.base() + "/login", Label: r.t("link.signIn")},
				}), nil
			}
			return nil, errs.E(errs.NotFound, "no such unsubscribe link")
		}
		if l := primary(c.Locale); isUI(l) && r.query("lang") == "" && !isUI(r.cookies[session.LangCookie]) {
			r.lang = l
		}
		name, _ := text(t.Name, r.lang, r.cat)
		switch r.method {
		case http.MethodGet:
			return r.page(http.StatusOK, "unsubscribe", r.t("unsub.title"), unsubscribeData{Topic: name, Action: r.self}), nil
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		prof, err := p.cfg.Profiles.GetProfile(r.ctx, r.tenant, c.ProfileID)
		if err != nil && errs.CodeOf(err) != errs.NotFound {
			return nil, err
		}
		if prof != nil {
			if err := p.oneClick(r, prof, t.ID, t.Channels); err != nil {
				return nil, err
			}
		}
		return r.page(http.StatusOK, "message", r.t("unsub.doneTitle"), messageData{
			Paragraphs: []string{r.t("unsub.done", name, r.theme.Name)},
			Link:       &link{Href: r.base() + "/login", Label: r.t("unsub.manage")},
		}), nil
	})
}

// oneClick removes the email channel from the person's subscription to topic.
func (p *Portal) oneClick(r *rc, prof *profile.Profile, topic string, topicChannels []string) error {
	cur, had := prof.Subscriptions[topic]
	if !had || cur.Status != profile.Subscribed {
		return nil
	}
	in := profile.SubscriptionInput{Status: profile.Unsubscribed}
	if slices.Contains(topicChannels, EmailChannel) {
		var rest []string
		for _, ch := range cur.Channels {
			if ch != EmailChannel {
				rest = append(rest, ch)
			}
		}
		if len(rest) == len(cur.Channels) {
			return nil // not subscribed by email
		}
		if len(rest) > 0 {
			in = profile.SubscriptionInput{Status: profile.Subscribed, Channels: rest, Frequency: cur.Frequency}
		}
	}
	_, err := p.cfg.Profiles.PutSubscription(r.ctx, r.tenant, prof.ID, topic, in, app.Write{Actor: OneClickActor, RequestID: r.requestID})
	return err
}

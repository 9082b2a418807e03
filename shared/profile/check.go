package profile

import (
	"slices"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
)

// Reason is the machine-readable answer to a consent check.
type Reason string

// The reasons a check can give.
const (
	ReasonAllowed                 Reason = "allowed"
	ReasonNoProfile               Reason = "no_profile"
	ReasonRestricted              Reason = "restricted"
	ReasonObjected                Reason = "objected"
	ReasonAutomatedDecisionOptOut Reason = "automated_decision_opt_out"
	ReasonNoConsent               Reason = "no_consent"
	ReasonConsentDenied           Reason = "consent_denied"
	ReasonConsentWithdrawn        Reason = "consent_withdrawn"
	ReasonConsentExpired          Reason = "consent_expired"
	ReasonNoticeOutdated          Reason = "notice_outdated"
	ReasonNotSubscribed           Reason = "not_subscribed"
	ReasonChannelNotAllowed       Reason = "channel_not_allowed"
	ReasonChannelNotSubscribed    Reason = "channel_not_subscribed"
)

// Check asks: may this person be contacted (or their data processed) for Purpose, about
// Topic, on Channel? Topic and Channel are optional. The caller has resolved Purpose from
// Topic when only a topic was given, and checked every id against the catalog.
type Check struct {
	Purpose string
	Topic   string
	Channel string
}

// Decision is the answer to a Check.
type Decision struct {
	Allowed bool
	Reason  Reason
}

// Decide answers c for p (nil when no profile matched). Restrictions come first because
// they override any consent (Art. 18); an objection to direct marketing is absolute (Art. 21(3)).
func Decide(p *Profile, cat *catalog.Catalog, c Check, now time.Time) Decision {
	no := func(r Reason) Decision { return Decision{Reason: r} }
	if p == nil {
		return no(ReasonNoProfile)
	}
	pur, _ := cat.Purpose(c.Purpose)
	if p.Rights.Restricted {
		return no(ReasonRestricted)
	}
	if _, objected := p.Rights.Objections[pur.ID]; objected {
		return no(ReasonObjected)
	}
	if pur.AutomatedDecision && p.Rights.AutomatedDecisionOptOut {
		return no(ReasonAutomatedDecisionOptOut)
	}
	if pur.LegalBasis == catalog.Consent {
		cons, ok := p.Consents[pur.ID]
		switch {
		case !ok:
			return no(ReasonNoConsent)
		case cons.Status == Denied:
			return no(ReasonConsentDenied)
		case cons.Status == Withdrawn:
			return no(ReasonConsentWithdrawn)
		case cons.ExpiresAt != nil && !now.Before(*cons.ExpiresAt):
			return no(ReasonConsentExpired)
		case cons.NoticeVersion < pur.ReconsentBelow:
			return no(ReasonNoticeOutdated)
		}
	}
	if c.Topic != "" {
		t, _ := cat.Topic(c.Topic)
		if c.Channel != "" && !slices.Contains(t.Channels, c.Channel) {
			return no(ReasonChannelNotAllowed)
		}
		sub, ok := p.Subscriptions[c.Topic]
		if !ok || sub.Status != Subscribed {
			return no(ReasonNotSubscribed)
		}
		if c.Channel != "" && !slices.Contains(sub.Channels, c.Channel) {
			return no(ReasonChannelNotSubscribed)
		}
	}
	return Decision{Allowed: true, Reason: ReasonAllowed}
}

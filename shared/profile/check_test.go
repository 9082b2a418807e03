package profile_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// opt configures a test profile for Decide.
type opt func(p *profile.Profile)

func consent(purpose string, status profile.ConsentStatus, noticeVersion int) opt {
	return func(p *profile.Profile) {
		p.Consents[purpose] = profile.Consent{Status: status, LegalBasis: catalog.Consent, NoticeVersion: noticeVersion, Source: portal, UpdatedAt: t0.Add(-time.Hour)}
	}
}

func expiring(purpose string, at time.Time) opt {
	return func(p *profile.Profile) {
		c := p.Consents[purpose]
		c.ExpiresAt = &at
		p.Consents[purpose] = c
	}
}

func subscribed(topic string, channels ...string) opt {
	return func(p *profile.Profile) {
		p.Subscriptions[topic] = profile.Subscription{Status: profile.Subscribed, Channels: channels, Source: portal, UpdatedAt: t0}
	}
}

func unsubscribed(topic string) opt {
	return func(p *profile.Profile) {
		p.Subscriptions[topic] = profile.Subscription{Status: profile.Unsubscribed, Channels: []string{}, Source: portal, UpdatedAt: t0}
	}
}

func restricted(p *profile.Profile) { p.Rights.Restricted = true }

func objected(purpose string) opt {
	return func(p *profile.Profile) {
		if p.Rights.Objections == nil {
			p.Rights.Objections = map[string]time.Time{}
		}
		p.Rights.Objections[purpose] = t0.Add(-time.Minute)
	}
}

func automatedOptOut(p *profile.Profile) { p.Rights.AutomatedDecisionOptOut = true }

// reasonConstants parses check.go for every constant of type Reason, so that a new reason
// without a test row fails TestDecideCoversEveryReason.
func reasonConstants(t *testing.T) []profile.Reason {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "check.go", nil, 0)
	if err != nil {
		t.Fatalf("parse check.go: %v", err)
	}
	var out []profile.Reason
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("Reason constant with a non-literal value")
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, profile.Reason(s))
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Reason constants found in check.go")
	}
	return out
}

type decideCase struct {
	name  string
	nilP  bool
	opts  []opt
	check profile.Check
	want  profile.Reason
}

func decideCases(t *testing.T, cat *catalog.Catalog) []decideCase {
	// The rows lean on these properties of the demo catalog; fail loudly if it changes.
	mk := mustPurpose(t, cat, "marketing")
	pers := mustPurpose(t, cat, "personalisation")
	an := mustPurpose(t, cat, "analytics")
	svc := mustPurpose(t, cat, "service")
	if mk.LegalBasis != catalog.Consent || mk.AutomatedDecision || mk.ReconsentBelow > 1 {
		t.Fatalf("demo purpose marketing changed: %+v", mk)
	}
	if pers.LegalBasis != catalog.Consent || !pers.AutomatedDecision || pers.ReconsentBelow != 2 || pers.NoticeVersion != 2 {
		t.Fatalf("demo purpose personalisation changed: %+v", pers)
	}
	if an.LegalBasis != catalog.LegitimateInterests || svc.LegalBasis != catalog.Contract {
		t.Fatalf("demo purposes analytics/service changed: %+v %+v", an, svc)
	}
	for topic, want := range map[string][]string{"newsletter": {"email"}, "offers": {"email", "sms", "push"}, "orders": {"email", "sms"}} {
		tp, ok := cat.Topic(topic)
		if !ok || len(tp.Channels) != len(want) {
			t.Fatalf("demo topic %s changed: %+v", topic, tp)
		}
	}

	mkOK := consent("marketing", profile.Granted, mk.NoticeVersion)
	persOK := consent("personalisation", profile.Granted, pers.NoticeVersion)
	mkCheck := profile.Check{Purpose: "marketing"}
	persCheck := profile.Check{Purpose: "personalisation"}
	exp := t0 // consents expiring at the check instant
	return []decideCase{
		// allowed
		{name: "allowed: consent granted", opts: []opt{mkOK}, check: mkCheck, want: profile.ReasonAllowed},
		{name: "allowed: consent at an older notice not below reconsentBelow", opts: []opt{consent("marketing", profile.Granted, 1)}, check: mkCheck, want: profile.ReasonAllowed},
		{name: "allowed: consent expiring a nanosecond later", opts: []opt{mkOK, expiring("marketing", t0.Add(time.Nanosecond))}, check: mkCheck, want: profile.ReasonAllowed},
		{name: "allowed: legitimate interests without consent", check: profile.Check{Purpose: "analytics"}, want: profile.ReasonAllowed},
		{name: "allowed: contract ignores a denied consent record", opts: []opt{consent("service", profile.Denied, 1)}, check: profile.Check{Purpose: "service"}, want: profile.ReasonAllowed},
		{name: "allowed: opt-out ignored for a purpose not marked automated", opts: []opt{mkOK, automatedOptOut}, check: mkCheck, want: profile.ReasonAllowed},
		{name: "allowed: objection to another purpose", opts: []opt{mkOK, objected("analytics")}, check: mkCheck, want: profile.ReasonAllowed},
		{name: "allowed: automated purpose with current consent", opts: []opt{persOK}, check: persCheck, want: profile.ReasonAllowed},
		{name: "allowed: topic and subscribed channel", opts: []opt{mkOK, subscribed("offers", "email", "sms")}, check: profile.Check{Purpose: "marketing", Topic: "offers", Channel: "sms"}, want: profile.ReasonAllowed},
		{name: "allowed: topic without channel", opts: []opt{mkOK, subscribed("offers", "email")}, check: profile.Check{Purpose: "marketing", Topic: "offers"}, want: profile.ReasonAllowed},
		{name: "allowed: service topic without consent", opts: []opt{subscribed("orders", "email", "sms")}, check: profile.Check{Purpose: "service", Topic: "orders", Channel: "sms"}, want: profile.ReasonAllowed},
		{name: "allowed: channel without topic is not checked", opts: []opt{mkOK}, check: profile.Check{Purpose: "marketing", Channel: "post"}, want: profile.ReasonAllowed},

		// no profile
		{name: "no profile", nilP: true, check: mkCheck, want: profile.ReasonNoProfile},

		// restricted beats everything
		{name: "restricted beats consent granted", opts: []opt{mkOK, subscribed("offers", "email"), restricted}, check: profile.Check{Purpose: "marketing", Topic: "offers", Channel: "email"}, want: profile.ReasonRestricted},
		{name: "restricted beats legitimate interests", opts: []opt{restricted}, check: profile.Check{Purpose: "analytics"}, want: profile.ReasonRestricted},
		{name: "restricted beats contract", opts: []opt{restricted}, check: profile.Check{Purpose: "service"}, want: profile.ReasonRestricted},
		{name: "restricted beats objection", opts: []opt{restricted, objected("marketing"), mkOK}, check: mkCheck, want: profile.ReasonRestricted},
		{name: "restricted beats missing consent", opts: []opt{restricted}, check: mkCheck, want: profile.ReasonRestricted},

		// objection
		{name: "objection beats consent granted", opts: []opt{mkOK, objected("marketing")}, check: mkCheck, want: profile.ReasonObjected},
		{name: "objection to legitimate interests", opts: []opt{objected("analytics")}, check: profile.Check{Purpose: "analytics"}, want: profile.ReasonObjected},
		{name: "objection beats automated opt-out", opts: []opt{persOK, objected("personalisation"), automatedOptOut}, check: persCheck, want: profile.ReasonObjected},

		// automated decisions
		{name: "automated-decision opt-out", opts: []opt{persOK, automatedOptOut}, check: persCheck, want: profile.ReasonAutomatedDecisionOptOut},
		{name: "automated-decision opt-out beats missing consent", opts: []opt{automatedOptOut}, check: persCheck, want: profile.ReasonAutomatedDecisionOptOut},

		// consent states
		{name: "no consent", check: mkCheck, want: profile.ReasonNoConsent},
		{name: "no consent beats topic checks", opts: []opt{subscribed("offers", "email")}, check: profile.Check{Purpose: "marketing", Topic: "offers", Channel: "email"}, want: profile.ReasonNoConsent},
		{name: "consent for another purpose only", opts: []opt{persOK}, check: mkCheck, want: profile.ReasonNoConsent},
		{name: "consent denied", opts: []opt{consent("marketing", profile.Denied, mk.NoticeVersion)}, check: mkCheck, want: profile.ReasonConsentDenied},
		{name: "consent withdrawn", opts: []opt{consent("marketing", profile.Withdrawn, mk.NoticeVersion)}, check: mkCheck, want: profile.ReasonConsentWithdrawn},
		{name: "withdrawn beats expired", opts: []opt{consent("marketing", profile.Withdrawn, mk.NoticeVersion), expiring("marketing", t0.Add(-time.Hour))}, check: mkCheck, want: profile.ReasonConsentWithdrawn},
		{name: "consent expired exactly at expiry time", opts: []opt{mkOK, expiring("marketing", exp)}, check: mkCheck, want: profile.ReasonConsentExpired},
		{name: "consent expired earlier", opts: []opt{mkOK, expiring("marketing", t0.Add(-24*time.Hour))}, check: mkCheck, want: profile.ReasonConsentExpired},
		{name: "consent expiry in another zone", opts: []opt{mkOK, expiring("marketing", t0.In(time.FixedZone("CEST", 2*3600)))}, check: mkCheck, want: profile.ReasonConsentExpired},
		{name: "expired beats outdated notice", opts: []opt{consent("personalisation", profile.Granted, 1), expiring("personalisation", t0)}, check: persCheck, want: profile.ReasonConsentExpired},
		{name: "notice outdated via reconsentBelow", opts: []opt{consent("personalisation", profile.Granted, 1)}, check: persCheck, want: profile.ReasonNoticeOutdated},

		// topics and channels
		{name: "topic not subscribed", opts: []opt{mkOK}, check: profile.Check{Purpose: "marketing", Topic: "newsletter"}, want: profile.ReasonNotSubscribed},
		{name: "topic unsubscribed", opts: []opt{mkOK, unsubscribed("newsletter")}, check: profile.Check{Purpose: "marketing", Topic: "newsletter", Channel: "email"}, want: profile.ReasonNotSubscribed},
		{name: "other topic subscribed only", opts: []opt{mkOK, subscribed("offers", "email")}, check: profile.Check{Purpose: "marketing", Topic: "newsletter", Channel: "email"}, want: profile.ReasonNotSubscribed},
		{name: "channel not allowed by topic", opts: []opt{mkOK, subscribed("newsletter", "email")}, check: profile.Check{Purpose: "marketing", Topic: "newsletter", Channel: "sms"}, want: profile.ReasonChannelNotAllowed},
		// Decide checks the channel against the topic before the subscription (the
		// answer does not depend on the person), although the Reason constants list
		// not_subscribed first.
		{name: "channel not allowed beats not subscribed", opts: []opt{mkOK}, check: profile.Check{Purpose: "marketing", Topic: "newsletter", Channel: "post"}, want: profile.ReasonChannelNotAllowed},
		{name: "channel not subscribed", opts: []opt{mkOK, subscribed("offers", "email")}, check: profile.Check{Purpose: "marketing", Topic: "offers", Channel: "sms"}, want: profile.ReasonChannelNotSubscribed},
		{name: "service topic channel not subscribed", opts: []opt{subscribed("orders", "email")}, check: profile.Check{Purpose: "service", Topic: "orders", Channel: "sms"}, want: profile.ReasonChannelNotSubscribed},
	}
}

func TestDecide(t *testing.T) {
	cat := loadCatalog(t)
	for _, tt := range decideCases(t, cat) {
		t.Run(tt.name, func(t *testing.T) {
			var p *profile.Profile
			if !tt.nilP {
				p = newProfile()
				for _, o := range tt.opts {
					o(p)
				}
			}
			got := profile.Decide(p, cat, tt.check, t0)
			if got.Reason != tt.want {
				t.Errorf("Decide(%+v) reason = %q, want %q", tt.check, got.Reason, tt.want)
			}
			if got.Allowed != (tt.want == profile.ReasonAllowed) {
				t.Errorf("Decide(%+v) allowed = %v with reason %q", tt.check, got.Allowed, got.Reason)
			}
		})
	}
}

func TestDecideCoversEveryReason(t *testing.T) {
	cat := loadCatalog(t)
	covered := map[profile.Reason]bool{}
	for _, c := range decideCases(t, cat) {
		covered[c.want] = true
	}
	for _, r := range reasonConstants(t) {
		if !covered[r] {
			t.Errorf("no TestDecide row expects reason %q", r)
		}
	}
}

// TestDecideWithStoredState checks consents and subscriptions written through SetConsent
// and SetSubscription, not hand-built, answer as expected.
func TestDecideWithStoredState(t *testing.T) {
	cat := loadCatalog(t)
	p := newProfile()
	partners := mustPurpose(t, cat, "partners")
	if _, err := p.SetConsent(cat, "partners", profile.ConsentInput{Status: profile.Granted, NoticeVersion: partners.NoticeVersion}, portal, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetSubscription(cat, "partner-offers", profile.SubscriptionInput{Status: profile.Subscribed}, portal, t0); err != nil {
		t.Fatal(err)
	}
	check := profile.Check{Purpose: "partners", Topic: "partner-offers", Channel: "email"}
	expiry := t0.AddDate(0, 0, partners.DefaultConsentDays)
	tests := []struct {
		name string
		at   time.Time
		want profile.Reason
	}{
		{"right after granting", t0, profile.ReasonAllowed},
		{"just before the default expiry", expiry.Add(-time.Second), profile.ReasonAllowed},
		{"at the default expiry", expiry, profile.ReasonConsentExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := profile.Decide(p, cat, check, tt.at); got.Reason != tt.want {
				t.Errorf("Decide at %v = %q, want %q", tt.at, got.Reason, tt.want)
			}
		})
	}
}

package portal_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// withSources makes a person whose data came from four writers: the operator created the
// profile (its email), the brand's API added a phone number, the "crm" sync source set the
// given name, and the person granted a consent in the portal.
func withSources(t *testing.T) (p *profile.Profile, email, phone string) {
	t.Helper()
	ctx := context.Background()
	p, email = newProfile(t, tenant, app.Create{})
	phone = fmt.Sprintf("+48600%06d", seq.Add(1)%1e6)
	api := app.Write{Actor: ledger.Actor{Kind: ledger.ActorAPIKey, ID: "kprovenancetest00"}}
	if _, err := env.svc.UpdateProfile(ctx, tenant, p.ID, app.Patch{AddIdentities: []app.IdentityInput{{Type: "phone", Value: phone}}}, api); err != nil {
		t.Fatal(err)
	}
	crm := app.Write{Actor: ledger.Actor{Kind: ledger.ActorSync, ID: "crm"}}
	if _, err := env.svc.UpdateProfile(ctx, tenant, p.ID, app.Patch{Attributes: map[string]any{"givenName": "Ada"}}, crm); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.PutConsent(ctx, tenant, p.ID, "marketing", profile.ConsentInput{Status: profile.Granted, NoticeVersion: 2},
		app.Write{Actor: portal.PersonActor}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.PutSubscription(ctx, tenant, p.ID, "offers", profile.SubscriptionInput{Status: profile.Subscribed, Channels: []string{"sms"}},
		app.Write{Actor: ledger.Actor{Kind: ledger.ActorSystem}}); err != nil {
		t.Fatal(err)
	}
	return profileOf(t, tenant, p.ID), email, phone
}

// row returns the row of the page's sources section that holds text, "" if none does.
func row(body, text string) string {
	_, body, _ = strings.Cut(body, `id="sources"`)
	i := strings.Index(body, text)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(body[:i], "<tr")
	end := strings.Index(body[i:], "</tr>")
	if start < 0 || end < 0 {
		return ""
	}
	return body[start : i+end]
}

func TestDetailsShowWhereDataCameFrom(t *testing.T) {
	p, email, phone := withSources(t)
	b := newBrowser(t)
	b.signIn(tenant, p.ID)
	for _, tc := range []struct {
		lang  string
		title string
		rows  map[string]string // a value on the page -> its source in words
		date  string
	}{
		{"en", "Where your data came from", map[string]string{
			email: "Acme Shop staff", phone: "Acme Shop&#39;s systems (API)", "Ada": "crm (a system of Acme Shop)",
			"Marketing communication": "you, in this portal", "Special offers": "the service itself"}, p.UpdatedAt.Format("2 January 2006")},
		{"pl", "Skąd pochodzą Twoje dane", map[string]string{
			email: "pracownicy Acme Shop", phone: "systemy Acme Shop (API)", "Ada": "crm (system Acme Shop)",
			"Ty, w tym portalu": "Ty, w tym portalu", "sama usługa": "sama usługa"}, ""},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			body := must(t, b.get("/portal/"+tenant+"/details?lang="+tc.lang), 200).body
			if !strings.Contains(body, tc.title) {
				t.Fatalf("no %q section", tc.title)
			}
			for value, source := range tc.rows {
				if r := row(body, value); !strings.Contains(r, source) {
					t.Errorf("the row of %q does not name %q as its source: %s", value, source, r)
				}
			}
			if tc.date != "" && !strings.Contains(row(body, phone), tc.date) {
				t.Errorf("the phone's row lacks its date %q", tc.date)
			}
		})
	}
}

func TestRemoveIdentity(t *testing.T) {
	p, email, phone := withSources(t)
	b := newBrowser(t)
	// Signed in by the address the person then removes.
	b.signInByEmail(tenant, p.ID)
	page := must(t, b.get("/portal/"+tenant+"/details"), 200)
	tok := csrf(t, page)
	path := "/portal/" + tenant + "/details/identities"

	t.Run("CSRF", func(t *testing.T) {
		for name, token := range map[string]string{"missing": "", "garbage": "abc"} {
			f := url.Values{"identity": {"email:" + email}}
			if token != "" {
				f.Set("csrf", token)
			}
			if r := must(t, b.post(path, f), 403); !strings.Contains(r.body, "Your form has expired") {
				t.Errorf("%s token: not the 403 page", name)
			}
		}
		if profileOf(t, tenant, p.ID).Version != p.Version {
			t.Fatal("a forged form changed the profile")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for name, f := range map[string]url.Values{
			"no identity":   {"csrf": {tok}},
			"no type":       {"csrf": {tok}, "identity": {"nobody@example.com"}},
			"too long":      {"csrf": {tok}, "identity": {"email:" + strings.Repeat("a", 400)}},
			"unknown field": {"csrf": {tok}, "identity": {"email:" + email}, "force": {"1"}},
			"twice":         {"csrf": {tok}, "identity": {"email:" + email, "phone:" + phone}},
			"control char":  {"csrf": {tok}, "identity": {"email:a\x00b"}},
		} {
			if r := b.post(path, f); r.status != 400 {
				t.Errorf("%s: status %d, want 400", name, r.status)
			}
		}
		r := must(t, b.post(path, url.Values{"csrf": {tok}, "identity": {"email:someone-else@example.com"}}), 303)
		if r.headers["Location"] != "/portal/"+tenant+"/details?done=nothing" {
			t.Errorf("an identity not held: redirect to %q", r.headers["Location"])
		}
	})
	t.Run("removes and keeps the session", func(t *testing.T) {
		r := must(t, b.post(path, url.Values{"csrf": {tok}, "identity": {"email:" + email}}), 303)
		if r.headers["Location"] != "/portal/"+tenant+"/details?done=identity_removed" {
			t.Fatalf("redirect to %q", r.headers["Location"])
		}
		got := profileOf(t, tenant, p.ID)
		if got.HasIdentity(profile.Identity{Type: "email", Value: email}) || len(got.Identities) != 1 {
			t.Fatalf("identities after removal: %d", len(got.Identities))
		}
		evs := ledgerOf(t, tenant, p.ID)
		if last := evs[len(evs)-1]; last.Type != profile.EventIdentityRemoved || last.Actor != portal.PersonActor {
			t.Errorf("last event %s by %+v", last.Type, last.Actor)
		}
		// The session belongs to the profile: the person is still signed in, and told so.
		page := must(t, b.get(r.headers["Location"]), 200)
		if !strings.Contains(page.body, "You are still signed in.") {
			t.Error("no notice after the removal")
		}
		if strings.Contains(page.body, email) {
			t.Error("the removed address is still shown")
		}
		// The removed address no longer signs in: the login page sends it nothing.
		before := len(env.mail.to(email))
		login(t, newBrowser(t), url.Values{"email": {email}})
		if len(env.mail.to(email)) != before {
			t.Error("a login link was sent to the removed address")
		}
	})
	t.Run("the last identity stays", func(t *testing.T) {
		page := must(t, b.get("/portal/"+tenant+"/details"), 200)
		if strings.Contains(page.body, `name="identity"`) {
			t.Error("the last identity has a removal form")
		}
		if !strings.Contains(page.body, "Your only one: it cannot be removed") {
			t.Error("the page does not say the last identity cannot be removed")
		}
		before := profileOf(t, tenant, p.ID).Version
		for _, lang := range []string{"en", "pl"} {
			r := must(t, b.post(path+"?lang="+lang, url.Values{"csrf": {tok}, "identity": {"phone:" + phone}}), 409)
			want := map[string]string{"en": "This is the only way we know you", "pl": "To jedyny sposób, w jaki Cię znamy"}[lang]
			if !strings.Contains(r.body, want) || !strings.Contains(r.body, `href="#identity-1"`) {
				t.Errorf("%s: the refusal does not explain itself next to the identity", lang)
			}
		}
		if profileOf(t, tenant, p.ID).Version != before {
			t.Fatal("the refused removal changed the profile")
		}
	})
}

package browser

import (
	"strings"
	"testing"
)

// TestPrivacyPageInBrowser opens the public transparency page in headless Chromium with
// JavaScript on and off, in English and in Polish, without signing in: it states the demo
// catalog's controller, purposes with their legal bases, recipients, transfers and
// retention, links the machine-readable JSON-LD and the sign-in page, and passes axe-core
// (with JavaScript on). Every variant is saved as a screenshot.
func TestPrivacyPageInBrowser(t *testing.T) {
	needBrowser(t)
	report := &axeReport{}
	for _, mode := range []struct {
		name, prefix string
		js           bool
	}{{"javascript", "privacy-js", true}, {"no-javascript", "privacy-nojs", false}} {
		t.Run(mode.name, func(t *testing.T) {
			tb := newTab(t, mode.js, mode.prefix, report)
			t.Cleanup(func() {
				if probs := tb.console.problems(); len(probs) > 0 {
					t.Errorf("the page logged problems to the console:\n%s", strings.Join(probs, "\n"))
				}
			})
			for _, lang := range []struct {
				code, h1, basis, retention, rights string
			}{
				{"en", "How we use your personal data", "Consent (Art. 6(1)(a) GDPR)", "730 days", "Your rights"},
				{"pl", "Jak wykorzystujemy Twoje dane osobowe", "Zgoda (art. 6 ust. 1 lit. a RODO)", "730 dni", "Twoje prawa"},
			} {
				path := "/portal/" + tenant + "/privacy"
				if st := tb.open(env.stack.URL + path + "?lang=" + lang.code); st != 200 {
					t.Fatalf("%s: status %d", lang.code, st)
				}
				tb.wantPage(path, lang.h1)
				if got := tb.lang(); got != lang.code {
					t.Errorf("<html lang> = %q, want %q", got, lang.code)
				}
				main := tb.text("main")
				for _, want := range []string{"Demo Shop sp. z o.o.", "dpo@demo-shop.example", lang.basis, lang.retention, lang.rights, "US"} {
					if !strings.Contains(main, want) {
						t.Errorf("%s page lacks %q", lang.code, want)
					}
				}
				for _, sel := range []string{`a[href="` + path + `.json"]`, `a[href="/portal/` + tenant + `/login"]`, `a[href="https://example.com/legal/sccs-esp"]`} {
					if !tb.has(sel) {
						t.Errorf("%s page has no %s", lang.code, sel)
					}
				}
				tb.page("privacy-" + lang.code)
			}
			// The footer's link leads here from any portal page, signed in or not.
			tb.open(env.stack.URL + "/portal/" + tenant + "/login")
			if st := tb.submit(`footer a[href="/portal/` + tenant + `/privacy"]`); st != 200 {
				t.Fatalf("footer link: status %d", st)
			}
			tb.wantPage("/portal/"+tenant+"/privacy", "How we use your personal data")
		})
	}
	if !t.Failed() {
		t.Log(report.summary())
	}
}

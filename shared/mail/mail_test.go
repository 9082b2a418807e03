package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/shared/mail"
)

// full is data with every key any kind uses.
var full = map[string]string{
	"link": "https://portal.example.com/t/abc?x=1&y=2", "minutes": "15", "expiresAt": "5 March 2026",
	"requestId": "rq_abc", "completedAt": "1 March 2026", "reason": "Many requests <this> month & more",
	"dueAt": "1 May 2026", "months": "2", "request": "erasure", "cancelLink": "https://portal.example.com/confirm?t=x", "coolOffDays": "3",
}

func TestRenderEveryKindAndLocale(t *testing.T) {
	for _, k := range mail.Kinds {
		for _, l := range mail.Locales {
			t.Run(string(k)+"/"+l, func(t *testing.T) {
				m, err := mail.Render(k, l, full)
				if err != nil {
					t.Fatal(err)
				}
				if m.Locale != l || m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
					t.Fatalf("locale %q subject %q", m.Locale, m.Subject)
				}
				if strings.Contains(m.Text, "<no value>") || strings.Contains(m.HTML, "<no value>") {
					t.Fatal("a key rendered as <no value>")
				}
				if !strings.Contains(m.HTML, `<html lang="`+l+`">`) || !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") {
					t.Fatalf("html document: %s", m.HTML)
				}
				// No tracking: no images, no scripts.
				for _, bad := range []string{"<img", "<script", "utm_"} {
					if strings.Contains(m.HTML, bad) {
						t.Fatalf("html contains %s", bad)
					}
				}
				for _, key := range mail.Required(k) {
					if key == "request" {
						continue // a code the email words in the person's language
					}
					if !strings.Contains(m.Text, full[key]) {
						t.Errorf("text lacks %s: %s", key, m.Text)
					}
				}
				if k == mail.LoginLink || k == mail.ExportReady {
					if !strings.Contains(m.HTML, `href="https://portal.example.com/t/abc?x=1&amp;y=2"`) {
						t.Errorf("html link not escaped as an attribute: %s", m.HTML)
					}
				}
				if strings.Contains(m.HTML, "<this>") {
					t.Error("html does not escape data")
				}
			})
		}
	}
}

func TestRenderOptionalKeys(t *testing.T) {
	m, err := mail.Render(mail.ErasureDone, "en", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.Text, "request ") || strings.Contains(m.Text, " on ") {
		t.Errorf("optional parts rendered without data: %s", m.Text)
	}
}

// TestRenderSanitizesLinks: a link that is not a web URL never becomes a clickable one in
// the HTML body (the text body shows it as given, a mail client does not run it).
func TestRenderSanitizesLinks(t *testing.T) {
	for _, link := range []string{"javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>x</script>", "vbscript:x"} {
		for _, k := range []mail.Kind{mail.LoginLink, mail.ExportReady} {
			t.Run(string(k)+"/"+link, func(t *testing.T) {
				m, err := mail.Render(k, "en", map[string]string{"link": link})
				if err != nil {
					t.Fatal(err)
				}
				lower := strings.ToLower(m.HTML)
				if strings.Contains(lower, "javascript:") || strings.Contains(lower, "data:") || strings.Contains(lower, "vbscript:") || strings.Contains(lower, "<script") {
					t.Fatalf("unsafe link kept: %s", m.HTML)
				}
			})
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	cases := []struct {
		name string
		kind mail.Kind
		data map[string]string
		want string
	}{
		{"unknown kind", "welcome", full, "unknown kind"},
		{"missing link", mail.LoginLink, map[string]string{"minutes": "5"}, `"link"`},
		{"blank reason", mail.RequestDenied, map[string]string{"reason": "  "}, `"reason"`},
		{"missing dueAt", mail.RequestExtended, map[string]string{"reason": "long enough reason"}, `"dueAt"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := mail.Render(c.kind, "en", c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to mention %s", err, c.want)
			}
		})
	}
}

func TestLocale(t *testing.T) {
	for in, want := range map[string]string{"pl": "pl", "pl-PL": "pl", "PL_pl": "pl", "en-GB": "en", "de": "en", "": "en"} {
		if got := mail.Locale(in); got != want {
			t.Errorf("Locale(%q) = %q, want %q", in, got, want)
		}
	}
	m, err := mail.Render(mail.RequestDenied, "pl-PL", full)
	if err != nil || !strings.Contains(m.Subject, "odrzucony") {
		t.Fatalf("pl-PL: %q %v", m.Subject, err)
	}
}

func TestDate(t *testing.T) {
	at := time.Date(2026, 3, 5, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 6 March in UTC
	if got := mail.Date(at, "en"); got != "6 March 2026" {
		t.Errorf("en: %q", got)
	}
	if got := mail.Date(at, "pl-PL"); got != "6 marca 2026" {
		t.Errorf("pl: %q", got)
	}
}

// TestSendThroughEmulator sends through SES v2 of the embedded emulator and reads the email
// back from its sent-emails endpoint.
func TestSendThroughEmulator(t *testing.T) {
	ctx := context.Background()
	st, err := localaws.Start(ctx, localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := mail.NewSender(ctx, st.AWS, "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	to := "mail-test-" + time.Now().Format("150405.000000") + "@example.com"
	if err := s.Send(ctx, to, "pl", mail.RequestExtended, map[string]string{"reason": "Wiele wniosków", "dueAt": "1 maja 2026", "months": "2"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "not-an-address", "a@b.c\r\nBcc: x@y.z"} {
		if err := s.Send(ctx, bad, "en", mail.ErasureDone, nil); !errors.Is(err, mail.ErrNoRecipient) {
			t.Errorf("Send to %q: %v", bad, err)
		}
	}
	resp, err := http.Get(st.Endpoint + "/kumo/ses/v2/sent-emails")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		SentEmails []struct {
			FromEmailAddress string
			Destination      struct{ ToAddresses []string }
			Subject, Body    string
			HTMLBody         string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range out.SentEmails {
		if len(e.Destination.ToAddresses) == 1 && e.Destination.ToAddresses[0] == to {
			found = true
			if e.FromEmailAddress != "no-reply@example.com" || !strings.Contains(e.Subject, "więcej czasu") ||
				!strings.Contains(e.Body, "Wiele wniosków") || !strings.Contains(e.HTMLBody, "<strong>1 maja 2026</strong>") {
				t.Fatalf("captured email %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("the email was not captured (%d captured)", len(out.SentEmails))
	}
}

// TestSendErrorsWithholdAddresses: SES names refused addresses in its messages; Send keeps
// only the error's code, read from the X-Amzn-ErrorType header or the JSON document.
func TestSendErrorsWithholdAddresses(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, errorType string
		status          int
		body, code      string
	}{
		{"header", "MessageRejected:http://internal.amazon.com/coral/com.amazonaws.sesv2/", 400,
			`{"message":"Email address is not verified: secret.person@example.com"}`, "MessageRejected"},
		{"document", "", 429, `{"__type":"com.amazonaws.sesv2#TooManyRequestsException","message":"secret.person@example.com"}`, "TooManyRequestsException"},
		{"no document", "", 500, `<html>secret.person@example.com</html>`, "InternalServerError"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if c.errorType != "" {
					w.Header().Set("X-Amzn-ErrorType", c.errorType)
				}
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cfg := aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String(srv.URL), Retryer: func() aws.Retryer { return aws.NopRetryer{} },
				Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
			s, err := mail.NewSender(ctx, cfg, "no-reply@example.com")
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(ctx, "secret.person@example.com", "en", mail.ErasureDone, nil)
			var ae smithy.APIError
			if err == nil || strings.Contains(err.Error(), "secret.person") || !errors.As(err, &ae) || ae.ErrorCode() != c.code {
				t.Fatalf("error %v", err)
			}
		})
	}
}

// TestRequestConfirm: the confirmation email says what the request is, in the request's
// language, and carries the confirmation link and, under a cool-off, the cancel link.
func TestRequestConfirm(t *testing.T) {
	for _, tc := range []struct {
		locale, want, notWant string
		data                  map[string]string
	}{
		{"en", "to erase all your personal data", "Call the erasure off", map[string]string{"request": "erasure", "link": "https://p.example/c"}},
		{"pl-PL", "usunięcie wszystkich Twoich danych", "Sprawdź i potwierdź", map[string]string{"request": "erasure", "cancelLink": "https://p.example/x", "coolOffDays": "3"}},
		{"pl", "kopię Twoich danych", "odwołać", map[string]string{"request": "access", "link": "https://p.example/c"}},
	} {
		t.Run(tc.locale+"/"+tc.data["request"], func(t *testing.T) {
			m, err := mail.Render(mail.RequestConfirm, tc.locale, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Text, tc.want) || strings.Contains(m.HTML, tc.notWant) {
				t.Fatalf("text %q / html %q", m.Text, m.HTML)
			}
			for _, k := range []string{"link", "cancelLink"} {
				if v := tc.data[k]; v != "" && (!strings.Contains(m.Text, v) || !strings.Contains(m.HTML, `href="`+v+`"`)) {
					t.Errorf("%s missing: %s", k, m.HTML)
				}
			}
		})
	}
}

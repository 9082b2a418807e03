// Package mail sends the product's transactional emails through SES v2 (its own small
// SendEmail adapter, see Sender): sign-in links and
// notices about data-subject requests, in English or Polish, each as a subject, a plain-text
// body (plain Go) and a simple HTML body (templ components, compiled into the binary: nothing
// is parsed at run time). The emails carry
// no tracking (no pixels, no rewritten links), and nothing here logs an address.
//
// Locally the embedded emulator keeps every email SES v2 "sent" (GET /kumo/ses/v2/sent-emails;
// the local stack shows them on /_local/mail).
package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livingprofile/livingprofile/shared/awsapi"
)

// Kind is what an email is about. Each kind's doc comment lists the data keys Send needs
// (required) and uses when given (optional); every value is shown as given, escaped in HTML.
type Kind string

// The kinds of email.
const (
	// LoginLink is an emailed one-time sign-in link to the portal.
	// Required: "link". Optional: "minutes" (how long the link works).
	LoginLink Kind = "login_link"
	// ExportReady says an access or portability export can be downloaded.
	// Required: "link". Optional: "expiresAt" (see Date), "requestId".
	ExportReady Kind = "export_ready"
	// ErasureDone confirms that the person's data was erased (Art. 17, 19).
	// Optional: "requestId", "completedAt" (see Date).
	ErasureDone Kind = "erasure_done"
	// RequestExtended tells of an Art. 12(3) extension and its reasons.
	// Required: "reason", "dueAt" (see Date). Optional: "months", "requestId".
	RequestExtended Kind = "request_extended"
	// RequestDenied tells that a request was declined and why, with the right to complain.
	// Required: "reason". Optional: "requestId".
	RequestDenied Kind = "request_denied"
	// RequestConfirm asks the person to confirm a request made for them (access,
	// portability, erasure) by a single-use link, and, for an erasure under a cool-off,
	// gives the link to call it off. Required: "request" (the type). Optional: "link" (to
	// confirm), "expiresAt" (see Date), "cancelLink", "coolOffDays", "requestId".
	RequestConfirm Kind = "request_confirm"
)

// Kinds lists every kind.
var Kinds = []Kind{LoginLink, ExportReady, ErasureDone, RequestExtended, RequestDenied, RequestConfirm}

// required are the data keys each kind cannot do without.
var required = map[Kind][]string{
	LoginLink:       {"link"},
	ExportReady:     {"link"},
	ErasureDone:     {},
	RequestExtended: {"reason", "dueAt"},
	RequestDenied:   {"reason"},
	RequestConfirm:  {"request"},
}

// Required returns the data keys Send needs for kind.
func Required(kind Kind) []string { return slices.Clone(required[kind]) }

// Locales are the languages emails are written in; DefaultLocale serves every other one.
var Locales = []string{"en", "pl"}

// DefaultLocale is the language of emails for a locale not in Locales.
const DefaultLocale = "en"

// Message is a rendered email.
type Message struct {
	Locale  string // the language it was written in
	Subject string
	Text    string
	HTML    string // a complete, simple HTML document
}

// Locale returns the language emails for locale are written in: its language part
// ("pl-PL" is "pl") when it is one of Locales, else DefaultLocale.
func Locale(locale string) string {
	lang, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(locale)), "-")
	lang, _, _ = strings.Cut(lang, "_")
	if slices.Contains(Locales, lang) {
		return lang
	}
	return DefaultLocale
}

// Render renders kind in locale (see Locale) with data. It fails, naming the key, when a
// required key is missing or empty, and for an unknown kind.
func Render(kind Kind, locale string, data map[string]string) (Message, error) {
	req, ok := required[kind]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown kind %q", kind)
	}
	for _, k := range req {
		if strings.TrimSpace(data[k]) == "" {
			return Message{}, fmt.Errorf("mail: %s email needs data %q", kind, k)
		}
	}
	if data == nil {
		data = map[string]string{}
	}
	lang := Locale(locale)
	l, ok := letters[string(kind)+"."+lang]
	if !ok {
		return Message{}, fmt.Errorf("mail: no %s email in %q", kind, lang)
	}
	var body strings.Builder
	if err := l.html(data).Render(context.Background(), &body); err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	return Message{
		Locale:  lang,
		Subject: l.subject,
		Text:    l.text(data) + "\n",
		HTML: `<!DOCTYPE html>
<html lang="` + lang + `">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>` +
			html.EscapeString(l.subject) + `</title></head>
<body style="font-family: -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif; line-height: 1.5; color: #222; max-width: 36em; margin: 1em auto; padding: 0 1em;">
` + body.String() + `
</body>
</html>
`,
	}, nil
}

var months = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	// Genitive, as a date is written in Polish: "5 marca 2026".
	"pl": {"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia"},
}

// Date renders t (in UTC) as a date in locale's language, e.g. "5 March 2026" or
// "5 marca 2026", for the date data of an email.
func Date(t time.Time, locale string) string {
	t = t.UTC()
	return fmt.Sprintf("%d %s %d", t.Day(), months[Locale(locale)][t.Month()-1], t.Year())
}

// SESv2 is how the SES v2 API is reached and signed for.
var SESv2 = awsapi.Service{ID: "SESv2", SigningName: "ses"}

// Sender sends emails through SES v2 from one address (a verified SES identity). It calls
// SES v2's SendEmail itself (package awsapi signs and sends), not through the SDK's SES v2
// client, which would put a function over its size budget; the request is the one that
// client sends (the tests compare them). Its zero value is not usable: use NewSender.
type Sender struct {
	api  *awsapi.Client
	url  *url.URL
	from string
}

// NewSender returns the sender from address from, through cfg: at the endpoint cfg sets for
// SES v2 (AWS_ENDPOINT_URL_SESV2 or AWS_ENDPOINT_URL, see awsapi.Endpoint), else at
// https://email.<region>.amazonaws.com.
func NewSender(ctx context.Context, cfg aws.Config, from string) (Sender, error) {
	if from == "" {
		return Sender{}, errors.New("mail: no From address")
	}
	u, err := awsapi.BaseURL(ctx, cfg, SESv2, "email")
	if err != nil {
		return Sender{}, fmt.Errorf("mail: %w", err)
	}
	u.Path += "v2/email/outbound-emails"
	return Sender{api: awsapi.New(cfg, SESv2), url: u, from: from}, nil
}

// WithClock returns a copy of s that signs at the times now tells (for tests).
func (s Sender) WithClock(now func() time.Time) Sender {
	s.api = s.api.WithClock(now)
	return s
}

// ErrNoRecipient is returned by Send for an empty or malformed recipient address.
var ErrNoRecipient = errors.New("mail: no valid recipient address")

// The SendEmail request document, its fields in the order the SDK writes them.
type (
	sendEmail struct {
		Content          emailContent
		Destination      destination
		FromEmailAddress string
	}
	emailContent struct{ Simple simpleMessage }
	destination  struct{ ToAddresses []string }
	messageBody  struct {
		Html content
		Text content
	}
	simpleMessage struct {
		Body    messageBody
		Subject content
	}
	content struct{ Charset, Data string }
)

// Send renders kind in locale with data (see Render) and sends it to one address with one
// SendEmail call. Errors never contain the address: an SES error keeps only its code (a
// smithy.APIError, so throttling can be told apart).
func (s Sender) Send(ctx context.Context, to, locale string, kind Kind, data map[string]string) error {
	if s.api == nil || s.from == "" {
		return errors.New("mail: the sender has no SES client or From address")
	}
	if to = strings.TrimSpace(to); to == "" || !strings.Contains(to, "@") || strings.ContainsAny(to, "\r\n,;<>") {
		return ErrNoRecipient
	}
	m, err := Render(kind, locale, data)
	if err != nil {
		return err
	}
	// Written as the SDK writes it: HTML characters as they are, not as \u003c.
	var doc bytes.Buffer
	enc := json.NewEncoder(&doc)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sendEmail{
		Content: emailContent{Simple: simpleMessage{
			Body:    messageBody{Html: content{"UTF-8", m.HTML}, Text: content{"UTF-8", m.Text}},
			Subject: content{"UTF-8", m.Subject},
		}},
		Destination:      destination{ToAddresses: []string{to}},
		FromEmailAddress: s.from,
	}); err != nil {
		return fmt.Errorf("send %s email: %w", kind, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	body, size := awsapi.Bytes(bytes.TrimSuffix(doc.Bytes(), []byte("\n")))
	if _, err := s.api.Do(ctx, awsapi.Request{Operation: "SendEmail", Method: http.MethodPost, URL: s.url,
		Header: h, Body: body, Size: size}, awsapi.DecodeJSONError); err != nil {
		return fmt.Errorf("send %s email: %w", kind, redact(err))
	}
	return nil
}

// redact keeps an SES error's code and fault, which callers classify (throttling is
// retried), and drops its message: SES names the addresses it refuses in it. Other errors
// (transport, credentials) hold no part of the request and pass unchanged.
func redact(err error) error {
	var ae *awsapi.Error
	if errors.As(err, &ae) {
		r := *ae
		r.Message = "details withheld: they may name an address"
		return &r
	}
	return err
}

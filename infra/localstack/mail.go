package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Local pages the stack serves next to the API when it runs the embedded emulator, outside
// /v1 and /portal, so that no template route can shadow them. Both list the captured emails
// newest first; MailJSONPath as {"emails": [Email...]}.
const (
	MailPath     = "/_local/mail"
	MailJSONPath = "/_local/mail.json"
)

// sentEmailsPath is where the embedded emulator (kumo) lists what SES v2 sent.
const sentEmailsPath = "/kumo/ses/v2/sent-emails"

// ErrNoMailbox is returned by Mailbox when the stack does not run the embedded emulator:
// real AWS delivers emails, and other emulators keep them their own way.
var ErrNoMailbox = errors.New("captured emails are only kept by the embedded emulator")

// Email is one message the functions sent through SES v2, as the embedded emulator captured
// it: the developer's fake data, never real mail.
type Email struct {
	MessageID string    `json:"messageId"`
	From      string    `json:"from"`
	To        []string  `json:"to,omitempty"`
	Cc        []string  `json:"cc,omitempty"`
	Bcc       []string  `json:"bcc,omitempty"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text,omitempty"`
	HTML      string    `json:"html,omitempty"`
	SentAt    time.Time `json:"sentAt"`
}

// Recipients returns every recipient: To, then Cc, then Bcc.
func (e Email) Recipients() []string {
	return slices.Concat(e.To, e.Cc, e.Bcc)
}

// MailPage returns the URL of the captured-email page, or "" when the stack has no mailbox.
func (s *Stack) MailPage() string {
	if !s.AWS.Serves("SESv2") {
		return ""
	}
	return s.URL + MailPath
}

// Mailbox returns every email sent through SES v2 since the emulator's data began (with
// LP_DATA_DIR, across restarts), in the order sent, or ErrNoMailbox.
func (s *Stack) Mailbox(ctx context.Context) ([]Email, error) {
	if !s.AWS.Serves("SESv2") {
		return nil, ErrNoMailbox
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.AWS.Endpoint, "/")+sentEmailsPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read captured emails: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read captured emails: status %d", resp.StatusCode)
	}
	var sent struct {
		SentEmails []struct {
			MessageID        string `json:"MessageId"`
			FromEmailAddress string
			Destination      *struct{ ToAddresses, CcAddresses, BccAddresses []string }
			Subject          string
			Body             string
			HTMLBody         string
			SentAt           time.Time
		}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&sent); err != nil {
		return nil, fmt.Errorf("decode captured emails: %w", err)
	}
	out := make([]Email, 0, len(sent.SentEmails))
	for _, m := range sent.SentEmails {
		e := Email{MessageID: m.MessageID, From: m.FromEmailAddress, Subject: m.Subject, Text: m.Body, HTML: m.HTMLBody, SentAt: m.SentAt}
		if d := m.Destination; d != nil {
			e.To, e.Cc, e.Bcc = d.ToAddresses, d.CcAddresses, d.BccAddresses
		}
		out = append(out, e)
	}
	return out, nil
}

// localRoutes serves the local pages in front of api, when the stack has a mailbox.
func (s *Stack) localRoutes(api http.Handler) http.Handler {
	if !s.AWS.Serves("SESv2") {
		return api
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case MailPath, MailJSONPath:
			s.serveMail(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

func (s *Stack) serveMail(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	emails, err := s.Mailbox(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	slices.Reverse(emails) // newest first
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == MailJSONPath {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Emails []Email `json:"emails"`
		}{emails})
		return
	}
	// Email HTML is shown in a sandboxed frame: no scripts, links open in a new tab.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; frame-src 'self'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	views := make([]mailView, 0, len(emails))
	for _, e := range emails {
		views = append(views, mailView{Email: e, TextParts: linkify(e.Text), Links: htmlLinks(e.HTML),
			Frame: htmlFrameBase + e.HTML})
	}
	_ = mailPage.Execute(w, struct {
		Emails []mailView
		JSON   string
	}{views, MailJSONPath})
}

type mailView struct {
	Email
	TextParts []textPart
	Links     []string
	Frame     string
}

// textPart is plain text or a link of an email's text body.
type textPart struct {
	Text string
	URL  string
}

// urlPattern finds http(s) links in plain text; trailing punctuation is not part of them.
var urlPattern = regexp.MustCompile(`https?://[^\s<>"'()\[\]]+`)

// linkify splits text into plain parts and http(s) links.
func linkify(text string) []textPart {
	var parts []textPart
	rest := 0
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		start := m[0]
		end := start + len(strings.TrimRight(text[start:m[1]], ".,;:!?"))
		if start > rest {
			parts = append(parts, textPart{Text: text[rest:start]})
		}
		parts = append(parts, textPart{URL: text[start:end]})
		rest = end
	}
	if rest < len(text) {
		parts = append(parts, textPart{Text: text[rest:]})
	}
	return parts
}

// hrefPattern finds the http(s) targets of links in an HTML body.
var hrefPattern = regexp.MustCompile(`(?i)href\s*=\s*["']?(https?://[^"'\s>]+)`)

// htmlLinks returns the distinct http(s) link targets of an HTML body, in order.
func htmlLinks(html string) []string {
	var out []string
	for _, m := range hrefPattern.FindAllStringSubmatch(html, -1) {
		u := strings.ReplaceAll(m[1], "&amp;", "&")
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// htmlFrameBase makes the links of an email's HTML in its sandboxed frame open in a new tab.
const htmlFrameBase = `<base target="_blank">`

var mailPage = template.Must(template.New("mail").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Local mailbox ({{len .Emails}})</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
article { border: 1px solid #ccc; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
h2 { font-size: 1.1rem; margin: 0 0 .25rem; }
.meta { color: #555; font-size: .9rem; }
pre { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; padding: .5rem; }
iframe { width: 100%; height: 24rem; border: 1px solid #ddd; }
</style>
</head>
<body>
<h1>Local mailbox</h1>
<p>Emails the functions sent through SES v2, as the embedded emulator captured them; nothing
left this machine. Newest first. <a href="">Refresh</a> · <a href="{{.JSON}}">JSON</a></p>
{{range .Emails}}<article>
<h2>{{if .Subject}}{{.Subject}}{{else}}(no subject){{end}}</h2>
<div class="meta">To {{range $i, $r := .To}}{{if $i}}, {{end}}{{$r}}{{end}}{{with .Cc}} · Cc {{range $i, $r := .}}{{if $i}}, {{end}}{{$r}}{{end}}{{end}}{{with .Bcc}} · Bcc {{range $i, $r := .}}{{if $i}}, {{end}}{{$r}}{{end}}{{end}}
· from {{.From}} · {{.SentAt.Format "2006-01-02 15:04:05 MST"}}</div>
{{with .TextParts}}<pre>{{range .}}{{if .URL}}<a href="{{.URL}}" target="_blank" rel="noreferrer">{{.URL}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>{{end}}
{{with .Links}}<p>Links: {{range $i, $u := .}}{{if $i}} · {{end}}<a href="{{$u}}" target="_blank" rel="noreferrer">{{$u}}</a>{{end}}</p>{{end}}
{{if .HTML}}<details><summary>HTML</summary><iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{{.Frame}}" title="HTML body"></iframe></details>{{end}}
</article>
{{else}}<p>No emails yet.</p>
{{end}}</body>
</html>
`))

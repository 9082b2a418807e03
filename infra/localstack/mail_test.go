package localstack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
)

// sendEmail sends one email through the SES v2 API of the stack's emulator, as a function
// would, and returns its message id.
func sendEmail(t *testing.T, st *localstack.Stack, to, subject, text, html string) string {
	t.Helper()
	body := &sestypes.Body{}
	if text != "" {
		body.Text = &sestypes.Content{Data: aws.String(text)}
	}
	if html != "" {
		body.Html = &sestypes.Content{Data: aws.String(html)}
	}
	out, err := sesv2.NewFromConfig(st.AWS.AWS).SendEmail(context.Background(), &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("no-reply@example.com"),
		Destination:      &sestypes.Destination{ToAddresses: []string{to}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(subject)},
			Body:    body,
		}},
	})
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	return aws.ToString(out.MessageId)
}

// mailJSON reads /_local/mail.json.
func mailJSON(t *testing.T) []localstack.Email {
	t.Helper()
	r := must(t, do(t, call{method: "GET", path: localstack.MailJSONPath}), 200)
	if ct := r.headers.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("mail.json Content-Type %q", ct)
	}
	var page struct {
		Emails []localstack.Email `json:"emails"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatalf("mail.json: %v: %s", err, r.body)
	}
	return page.Emails
}

// TestLocalMailbox sends emails through the SES v2 SDK client against the stack's embedded
// emulator and reads them back from the stack: Mailbox, /_local/mail.json and the
// /_local/mail page (escaped, links clickable, newest first).
func TestLocalMailbox(t *testing.T) {
	st := env.stack
	if st.MailPage() != st.URL+localstack.MailPath {
		t.Fatalf("MailPage() = %q", st.MailPage())
	}
	tag := fmt.Sprint(time.Now().UnixNano())
	to := "person-" + tag + "@example.com"
	link := "http://127.0.0.1:4000/portal/login?token=abc&x=" + tag
	first := sendEmail(t, st, to, "Your sign-in link "+tag,
		"Hello,\nsign in here: "+link+".\nIgnore this email if you did not ask for it.", "")
	second := sendEmail(t, st, to, `<script>alert("x")</script> `+tag, "",
		`<p>Your export is ready: <a href="https://exports.example/e?sig=1&amp;b=`+tag+`">download</a></p><script>alert(1)</script>`)

	box, err := st.Mailbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range box {
		if e.MessageID == first || e.MessageID == second {
			order = append(order, e.MessageID)
		}
	}
	if len(order) != 2 || order[0] != first {
		t.Fatalf("Mailbox holds %v, want %s then %s (the order sent)", order, first, second)
	}

	emails := mailJSON(t)
	byID := map[string]localstack.Email{}
	pos := map[string]int{}
	for i, e := range emails {
		byID[e.MessageID], pos[e.MessageID] = e, i
	}
	got, ok := byID[first]
	if !ok {
		t.Fatalf("mail.json lacks message %s: %+v", first, emails)
	}
	if got.Subject != "Your sign-in link "+tag || got.From != "no-reply@example.com" ||
		len(got.To) != 1 || got.To[0] != to || !strings.Contains(got.Text, link) || got.SentAt.IsZero() {
		t.Errorf("mail.json entry = %+v", got)
	}
	if h := byID[second].HTML; !strings.Contains(h, "exports.example") {
		t.Errorf("HTML body not kept: %q", h)
	}
	if pos[second] > pos[first] {
		t.Errorf("mail.json is not newest first: %s at %d, %s at %d", second, pos[second], first, pos[first])
	}

	page := must(t, do(t, call{method: "GET", path: localstack.MailPath}), 200)
	html := string(page.body)
	if ct := page.headers.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("mail page Content-Type %q", ct)
	}
	for _, want := range []string{
		"Your sign-in link " + tag,
		to,
		// The link in the text body is clickable, the text around it is kept.
		`<a href="http://127.0.0.1:4000/portal/login?token=abc&amp;x=` + tag + `"`,
		"sign in here: ",
		// Links of an HTML body are listed, and the body is shown in a sandboxed frame.
		`<a href="https://exports.example/e?sig=1&amp;b=` + tag + `"`,
		`sandbox="allow-popups allow-popups-to-escape-sandbox"`,
		// What came from the email is escaped.
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; ` + tag,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("mail page lacks %q", want)
		}
	}
	if strings.Contains(html, `<script>`) {
		t.Error("mail page contains a live <script> element")
	}
	if strings.Index(html, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; `+tag) > strings.Index(html, "Your sign-in link "+tag) {
		t.Error("mail page is not newest first")
	}
	if csp := page.headers.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("mail page CSP %q", csp)
	}

	if r := do(t, call{method: "POST", path: localstack.MailPath, body: "{}"}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", localstack.MailPath, r.status)
	}
	// Nearby paths are still the API's: unknown routes answer 404.
	if r := do(t, call{method: "GET", path: "/_local/mail/x"}); r.status != http.StatusNotFound {
		t.Errorf("GET /_local/mail/x: %d, want 404", r.status)
	}
}

// TestLocalMailboxOnlyWithEmbeddedEmulator: a stack pointed at another endpoint (here the
// same emulator, reached as an external one) has no mailbox and serves no mail page.
func TestLocalMailboxOnlyWithEmbeddedEmulator(t *testing.T) {
	st, err := localstack.Start(context.Background(), localstack.Options{
		StackName: fmt.Sprintf("ext%d", time.Now().UnixNano()%1e6),
		Endpoint:  env.stack.AWS.Endpoint,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.AWS.Embedded || st.MailPage() != "" {
		t.Fatalf("external endpoint: embedded %v, mail page %q", st.AWS.Embedded, st.MailPage())
	}
	if _, err := st.Mailbox(context.Background()); !errors.Is(err, localstack.ErrNoMailbox) {
		t.Fatalf("Mailbox() error = %v, want ErrNoMailbox", err)
	}
	resp, err := http.Get(st.URL + localstack.MailJSONPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET %s on a stack without mailbox: %d, want 404", localstack.MailJSONPath, resp.StatusCode)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/localstack"
)

// syncBuffer is a log destination safe for the watcher's goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the JSON log records written so far.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// fakeMailbox returns what the test puts in it.
type fakeMailbox struct {
	emails []localstack.Email
	err    error
}

func (f *fakeMailbox) Mailbox(context.Context) ([]localstack.Email, error) { return f.emails, f.err }

func TestMailWatcher(t *testing.T) {
	ctx := context.Background()
	old := localstack.Email{MessageID: "m0", Subject: "from an earlier run", To: []string{"a@example.com"}}
	box := &fakeMailbox{emails: []localstack.Email{old}}
	logs := &syncBuffer{}
	w := newMailWatcher(ctx, box, slog.New(slog.NewJSONHandler(logs, nil)))

	box.emails = append(box.emails,
		localstack.Email{MessageID: "m1", Subject: "Sign in", From: "no-reply@example.com", To: []string{"b@example.com"}, Cc: []string{"c@example.com"}},
		localstack.Email{MessageID: "m2", Subject: "Export ready", To: []string{"d@example.com"}})
	w.poll(ctx)
	w.poll(ctx) // nothing new
	box.err = errors.New("emulator gone")
	w.poll(ctx)

	var got []string
	for _, r := range logs.records(t) {
		switch r["msg"] {
		case "email sent":
			got = append(got, fmt.Sprintf("%s|%s|%s", r["subject"], r["to"], r["from"]))
		case "emails captured by earlier runs are on the mail page":
			got = append(got, fmt.Sprintf("earlier:%v", r["count"]))
		case "read captured emails":
			got = append(got, "warn:"+r["level"].(string))
		default:
			t.Errorf("unexpected log record %v", r)
		}
	}
	want := []string{"earlier:1", "Sign in|b@example.com, c@example.com|no-reply@example.com", "Export ready|d@example.com|", "warn:WARN"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged %q\nwant   %q", got, want)
	}
}

// TestDevMailPage runs dev in-process against the embedded emulator: dev.json names the mail
// page, an email sent through SES v2 after start is logged with its subject and recipient,
// and shows on the page and in its JSON.
func TestDevMailPage(t *testing.T) {
	if os.Getenv("LP_DATA_DIR") != "" {
		t.Skip("needs the in-memory emulator")
	}
	prev := mailPoll
	mailPoll = 50 * time.Millisecond
	defer func() { mailPoll = prev }()

	out := filepath.Join(t.TempDir(), "dev.json")
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", localaws.Options{}, out, slog.New(slog.NewJSONHandler(logs, nil)))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var info Info
	for deadline := time.Now().Add(60 * time.Second); ; {
		if b, err := os.ReadFile(out); err == nil && json.Unmarshal(b, &info) == nil && info.APIKey != "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("dev.json was not written in time")
		}
	}
	if info.MailPage != info.APIBaseURL+localstack.MailPath {
		t.Fatalf("mailPage = %q, want %s%s", info.MailPage, info.APIBaseURL, localstack.MailPath)
	}

	ses := sesv2.NewFromConfig(aws.Config{
		Region: info.Region, BaseEndpoint: aws.String(info.EmulatorEndpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	subject := fmt.Sprintf("Your sign-in link %d", time.Now().UnixNano())
	if _, err := ses.SendEmail(context.Background(), &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("no-reply@example.com"),
		Destination:      &sestypes.Destination{ToAddresses: []string{"jan@example.com"}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(subject)},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("Sign in: " + info.PortalLink)}},
		}},
	}); err != nil {
		t.Fatal(err)
	}

	logged := func() bool {
		for _, r := range logs.records(t) {
			if r["msg"] == "email sent" && r["subject"] == subject && r["to"] == "jan@example.com" && r["mailPage"] == info.MailPage {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !logged(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the email was not logged:\n%s", logs.String())
		}
	}

	get := func(url string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
		}
		return string(b)
	}
	if page := get(info.MailPage); !strings.Contains(page, subject) || !strings.Contains(page, "jan@example.com") {
		t.Errorf("mail page lacks the email:\n%s", page)
	}
	var mails struct {
		Emails []localstack.Email `json:"emails"`
	}
	if err := json.Unmarshal([]byte(get(info.APIBaseURL+localstack.MailJSONPath)), &mails); err != nil {
		t.Fatal(err)
	}
	if len(mails.Emails) == 0 || mails.Emails[0].Subject != subject {
		t.Errorf("mail.json does not start with the new email: %+v", mails.Emails)
	}
}

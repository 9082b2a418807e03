package mail_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/livingprofile/livingprofile/shared/awsapi/awsapitest"
	"github.com/livingprofile/livingprofile/shared/mail"
)

// TestSendMatchesSDK: Send's SendEmail request is the one the SDK's SES v2 client sends for
// the same email (same method, URL, signed headers, body and credential scope, at the same
// signing time with the same credentials), on AWS and at an endpoint of its own.
func TestSendMatchesSDK(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 5, 10, 11, 12, 0, time.UTC)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret/key+", SessionToken: "session/token+=="}
	for _, c := range []struct{ name, region, endpoint, wantURL string }{
		{"AWS", "eu-central-1", "", "https://email.eu-central-1.amazonaws.com/v2/email/outbound-emails"},
		{"AWS China", "cn-north-1", "", "https://email.cn-north-1.amazonaws.com.cn/v2/email/outbound-emails"},
		{"own endpoint", "us-east-1", "http://127.0.0.1:4566", "http://127.0.0.1:4566/v2/email/outbound-emails"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &awsapitest.Recorder{Respond: func(*http.Request) (int, string) { return 200, `{"MessageId":"m-1"}` }}
			cfg := aws.Config{Region: c.region, HTTPClient: rec, Credentials: credentials.StaticCredentialsProvider{Value: creds},
				Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
			if c.endpoint != "" {
				cfg.BaseEndpoint = aws.String(c.endpoint)
			}
			s, err := mail.NewSender(ctx, cfg, "Brand <no-reply@example.com>")
			if err != nil {
				t.Fatal(err)
			}
			to, data := "person+tag@example.com", map[string]string{"reason": `Many requests <this> month & "more" – ünïcødé`, "dueAt": "1 May 2026", "months": "2"}
			if err := s.WithClock(func() time.Time { return at }).Send(ctx, to, "pl", mail.RequestExtended, data); err != nil {
				t.Fatal(err)
			}
			m, err := mail.Render(mail.RequestExtended, "pl", data)
			if err != nil {
				t.Fatal(err)
			}
			utf8 := aws.String("UTF-8")
			sdk := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.HTTPSignerV4 = awsapitest.Signer{Signer: v4.NewSigner(), At: at} })
			if _, err := sdk.SendEmail(ctx, &sesv2.SendEmailInput{
				FromEmailAddress: aws.String("Brand <no-reply@example.com>"),
				Destination:      &types.Destination{ToAddresses: []string{to}},
				Content: &types.EmailContent{Simple: &types.Message{
					Subject: &types.Content{Data: aws.String(m.Subject), Charset: utf8},
					Body: &types.Body{
						Text: &types.Content{Data: aws.String(m.Text), Charset: utf8},
						Html: &types.Content{Data: aws.String(m.HTML), Charset: utf8},
					},
				}},
			}); err != nil {
				t.Fatal(err)
			}
			reqs := rec.Take()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			if reqs[0].URL.String() != c.wantURL {
				t.Errorf("URL %s, want %s", reqs[0].URL, c.wantURL)
			}
			awsapitest.Compare(t, reqs[0], reqs[1], creds, false, true)
		})
	}
}

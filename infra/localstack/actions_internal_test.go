package localstack

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/livingprofile/livingprofile/shared/awsapi/awsapitest"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/mail"
)

// TestActionLogRecordsAdapterCalls: the calls of the S3 and SES v2 adapters, which no SDK
// middleware sees, reach the least-privilege check as the IAM actions that authorize them.
func TestActionLogRecordsAdapterCalls(t *testing.T) {
	ctx := context.Background()
	l := &actionLog{calls: map[string]map[string]bool{}}
	rec := &awsapitest.Recorder{Respond: func(r *http.Request) (int, string) {
		if r.URL.Query().Has("list-type") {
			return 200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
		}
		return 200, "{}"
	}}
	cfg := aws.Config{Region: "eu-central-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: l.httpClient("Fn", rec)}
	st, err := blob.New(ctx, cfg, "bucket", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, blob.PutInput{Key: "k", Body: bytes.NewReader([]byte("v")), Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.List(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	s, err := mail.NewSender(ctx, cfg, "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, "a@example.com", "en", mail.ErasureDone, nil); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range []string{"s3:PutObject", "s3:ListBucket", "ses:SendEmail"} {
		if !l.calls["Fn"][a] {
			t.Errorf("%s not recorded: %v", a, slices.Sorted(maps.Keys(l.calls["Fn"])))
		}
	}
	if len(rec.Take()) != 3 {
		t.Error("the calls did not reach the wrapped client")
	}
}

package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/livingprofile/livingprofile/shared/awsapi/awsapitest"
	"github.com/livingprofile/livingprofile/shared/blob"
)

// The adapter's requests are compared with the SDK's S3 client's for the same calls, at
// the same signing time, with the same credentials (a session token, as Lambda's have).

const region = "eu-central-1"

var (
	at    = time.Date(2026, 3, 5, 10, 11, 12, 0, time.UTC)
	creds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "session/token+=="}
	// keys S3 escapes in every way: spaces, "+", "=", "&", "%", "//", unicode, reserved marks.
	keys = []string{"t1/p_1/rq_1.zip", "t1/p 1/a+b=c&d.zip", "t1/ünïcødé/€ 2.json", "t1/a%2Fb//c~d", "t1/?#[]!$'()*,;:@.zip"}
)

// setup is where a bucket is reached: AWS (virtual-hosted, or path style for a dotted name)
// or an endpoint of its own (path style).
type setup struct {
	name, bucket, endpoint string
	creds                  aws.Credentials
}

var setups = []setup{
	{"AWS", "lp-dev-exportsbucket-1a2b", "", creds},
	{"AWS dotted bucket", "exports.example.com", "", creds},
	{"own endpoint", "lp-dev-exportsbucket-1a2b", "http://127.0.0.1:4566", creds},
	{"own endpoint with a path, no session token", "b-1", "https://s3.internal.example:8443/prefix", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}},
}

func (s setup) config(rec *awsapitest.Recorder, checksums aws.RequestChecksumCalculation) aws.Config {
	cfg := aws.Config{Region: region, HTTPClient: rec, RequestChecksumCalculation: checksums, Retryer: func() aws.Retryer { return aws.NopRetryer{} },
		Credentials: credentials.StaticCredentialsProvider{Value: s.creds}}
	if s.endpoint != "" {
		cfg.BaseEndpoint = aws.String(s.endpoint)
	}
	return cfg
}

func s3Signer() awsapitest.Signer {
	return awsapitest.Signer{Signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }), At: at}
}

func (s setup) sdk(rec *awsapitest.Recorder, checksums aws.RequestChecksumCalculation) *s3.Client {
	return s3.NewFromConfig(s.config(rec, checksums), func(o *s3.Options) {
		o.UsePathStyle = s.endpoint != ""
		o.HTTPSignerV4 = s3Signer()
	})
}

func (s setup) store(t *testing.T, rec *awsapitest.Recorder, kmsKey string) *blob.Store {
	t.Helper()
	st, err := blob.New(context.Background(), s.config(rec, aws.RequestChecksumCalculationWhenRequired), s.bucket, kmsKey)
	if err != nil {
		t.Fatal(err)
	}
	return st.WithClock(func() time.Time { return at })
}

// TestPresignMatchesSDK: a presigned link is, byte for byte, the one the SDK's presigner
// makes for the same bucket, key, expiry, time, credentials and download name.
func TestPresignMatchesSDK(t *testing.T) {
	ctx := context.Background()
	for _, s := range setups {
		for _, key := range keys {
			for _, filename := range []string{"", "export rq_1.zip", "eksport-żółć.zip"} {
				t.Run(fmt.Sprintf("%s/%s/%s", s.name, key, filename), func(t *testing.T) {
					expiry := 15 * time.Minute
					link, err := s.store(t, nil, "").Presign(ctx, key, expiry, filename)
					if err != nil {
						t.Fatal(err)
					}
					in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
					if filename != "" {
						in.ResponseContentDisposition = aws.String(mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
					}
					want, err := s3.NewPresignClient(s.sdk(nil, aws.RequestChecksumCalculationWhenSupported), func(o *s3.PresignOptions) {
						o.Presigner = s3Signer()
					}).PresignGetObject(ctx, in, s3.WithPresignExpires(expiry))
					if err != nil {
						t.Fatal(err)
					}
					if link.URL != want.URL {
						t.Errorf("presigned URL\n got  %s\n want %s", link.URL, want.URL)
					}
					if !link.ExpiresAt.Equal(at.Add(expiry)) {
						t.Errorf("expires at %v", link.ExpiresAt)
					}
				})
			}
		}
	}
}

// TestRequestsMatchSDK: PutObject, ListObjectsV2 (over two pages) and DeleteObjects send
// what the SDK's client sends.
func TestRequestsMatchSDK(t *testing.T) {
	ctx := context.Background()
	body := []byte("PK\x03\x04 an export")
	sum := sha256.Sum256(body)
	listing := func(truncated bool, next string, keys ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>%v</IsTruncated>`, truncated)
		for _, k := range keys {
			fmt.Fprintf(&b, "<Contents><Key>%s</Key><Size>3</Size><LastModified>2026-03-05T10:00:00.000Z</LastModified></Contents>", k)
		}
		if next != "" {
			fmt.Fprintf(&b, "<NextContinuationToken>%s</NextContinuationToken>", next)
		}
		return b.String() + "</ListBucketResult>"
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			rec := &awsapitest.Recorder{Respond: func(r *http.Request) (int, string) {
				switch q := r.URL.Query(); {
				case q.Has("list-type") && q.Get("continuation-token") == "":
					return 200, listing(true, "1/a b+c==", "t1/p 1/a.zip")
				case q.Has("list-type"):
					return 200, listing(false, "", "t1/p 1/b.zip")
				case q.Has("delete"):
					return 200, `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>`
				}
				return 200, ""
			}}
			for _, key := range keys {
				t.Run("PutObject "+key, func(t *testing.T) {
					err := s.store(t, rec, "alias/exports").Put(ctx, blob.PutInput{Key: key, Body: bytes.NewReader(body), Size: int64(len(body)),
						ContentType: "application/zip", SHA256Base64: base64.StdEncoding.EncodeToString(sum[:]),
						CacheControl: "private, no-store", ContentDisposition: `attachment; filename="rq_1.zip"`})
					if err != nil {
						t.Fatal(err)
					}
					_, err = s.sdk(rec, aws.RequestChecksumCalculationWhenSupported).PutObject(ctx, &s3.PutObjectInput{
						Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
						ContentType: aws.String("application/zip"), ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
						CacheControl: aws.String("private, no-store"), ContentDisposition: aws.String(`attachment; filename="rq_1.zip"`),
						ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("alias/exports"), BucketKeyEnabled: aws.Bool(true),
					})
					if err != nil {
						t.Fatal(err)
					}
					compare(t, rec.Take(), s.creds)
				})
			}
			t.Run("PutObject without options", func(t *testing.T) {
				if err := s.store(t, rec, "").Put(ctx, blob.PutInput{Key: keys[1], Body: bytes.NewReader(body), Size: int64(len(body)), ContentType: "text/plain"}); err != nil {
					t.Fatal(err)
				}
				// Without a checksum of the caller's, the SDK adds none only when asked to.
				if _, err := s.sdk(rec, aws.RequestChecksumCalculationWhenRequired).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket),
					Key: aws.String(keys[1]), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("text/plain")}); err != nil {
					t.Fatal(err)
				}
				compare(t, rec.Take(), s.creds)
			})
			for _, prefix := range []string{"t1/p 1/", "t1/ünï+=&/"} {
				t.Run("ListObjectsV2 "+prefix, func(t *testing.T) {
					objs, err := s.store(t, rec, "").List(ctx, prefix)
					if err != nil {
						t.Fatal(err)
					}
					if len(objs) != 2 || objs[0].Key != "t1/p 1/a.zip" || objs[1].Key != "t1/p 1/b.zip" || objs[0].Size != 3 ||
						!objs[0].LastModified.Equal(time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)) {
						t.Errorf("listed %+v", objs)
					}
					p := s3.NewListObjectsV2Paginator(s.sdk(rec, aws.RequestChecksumCalculationWhenSupported), &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
					for p.HasMorePages() {
						if _, err := p.NextPage(ctx); err != nil {
							t.Fatal(err)
						}
					}
					compare(t, rec.Take(), s.creds)
				})
			}
			t.Run("DeleteObjects", func(t *testing.T) {
				del := append(slices.Clone(keys), "t1/<&>\"'\r\n\t.zip")
				if err := s.store(t, rec, "").Delete(ctx, del...); err != nil {
					t.Fatal(err)
				}
				ids := make([]types.ObjectIdentifier, len(del))
				for i, k := range del {
					ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
				}
				if _, err := s.sdk(rec, aws.RequestChecksumCalculationWhenSupported).DeleteObjects(ctx, &s3.DeleteObjectsInput{
					Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
					t.Fatal(err)
				}
				compare(t, rec.Take(), s.creds)
			})
		})
	}
}

// compare checks recorded requests: the adapter's first, then the SDK's, one for one.
func compare(t *testing.T, reqs []awsapitest.Request, c aws.Credentials) {
	t.Helper()
	if len(reqs) == 0 || len(reqs)%2 != 0 {
		t.Fatalf("%d requests recorded, want the adapter's and as many of the SDK's", len(reqs))
	}
	n := len(reqs) / 2
	for i := range n {
		awsapitest.Compare(t, reqs[i], reqs[n+i], c, true, true)
	}
}

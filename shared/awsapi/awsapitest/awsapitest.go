// Package awsapitest records the HTTP requests AWS clients send and checks their SigV4
// signatures, so tests can compare the requests of package awsapi's adapters with the ones
// the SDK's service clients send for the same call. It is for tests only.
package awsapitest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Request is a sent request with its body.
type Request struct {
	*http.Request
	Body []byte
}

// Recorder is an aws.HTTPClient that records every request and answers with Respond.
type Recorder struct {
	Respond func(*http.Request) (status int, body string)

	mu   sync.Mutex
	reqs []Request
}

// Do records r and answers it.
func (c *Recorder) Do(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		var err error
		if b, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, Request{Request: r.Clone(context.Background()), Body: b})
	c.mu.Unlock()
	status, body := 200, ""
	if c.Respond != nil {
		status, body = c.Respond(r)
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// Take returns the requests recorded since the last Take.
func (c *Recorder) Take() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reqs
	c.reqs = nil
	return r
}

// Signer is the SDK's SigV4 signer at a fixed time, for the SDK clients' HTTPSignerV4 and
// the S3 presign client's Presigner, so that their signatures are reproducible.
type Signer struct {
	*v4.Signer
	At time.Time
}

// SignHTTP signs at s.At.
func (s Signer) SignHTTP(ctx context.Context, c aws.Credentials, r *http.Request, hash, service, region string, _ time.Time, o ...func(*v4.SignerOptions)) error {
	return s.Signer.SignHTTP(ctx, c, r, hash, service, region, s.At, o...)
}

// PresignHTTP presigns at s.At.
func (s Signer) PresignHTTP(ctx context.Context, c aws.Credentials, r *http.Request, hash, service, region string, _ time.Time, o ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return s.Signer.PresignHTTP(ctx, c, r, hash, service, region, s.At, o...)
}

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	Scope         string   // <date>/<region>/<service>/aws4_request
	SignedHeaders []string // lower case, sorted
	Signature     string
}

// ParseAuthorization parses r's Authorization header.
func ParseAuthorization(t testing.TB, r Request) Authorization {
	t.Helper()
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		t.Fatalf("%s %s: Authorization %q is not SigV4", r.Method, r.URL, r.Header.Get("Authorization"))
	}
	var a Authorization
	for _, part := range strings.Split(v, ", ") {
		k, val, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			_, a.Scope, _ = strings.Cut(val, "/")
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(val, ";")
		case "Signature":
			a.Signature = val
		}
	}
	if a.Scope == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		t.Fatalf("Authorization %q lacks a part", v)
	}
	return a
}

// VerifySignature re-derives r's signature from what r sends: its method, URL, the headers
// it names as signed, its X-Amz-Date, and its payload (the x-amz-content-sha256 it sends,
// else the SHA-256 of its body). escapedPath is true for S3, which signs the path as sent.
func VerifySignature(t testing.TB, r Request, creds aws.Credentials, escapedPath bool) {
	t.Helper()
	a := ParseAuthorization(t, r)
	parts := strings.Split(a.Scope, "/")
	if len(parts) != 4 {
		t.Fatalf("credential scope %q", a.Scope)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	u := *r.URL
	re, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	re.URL = &u
	for _, h := range a.SignedHeaders {
		switch h {
		case "host":
			re.Host = cmp.Or(r.Host, r.URL.Host)
		case "content-length":
			re.ContentLength = r.ContentLength
		default:
			if _, ok := r.Header[http.CanonicalHeaderKey(h)]; !ok {
				t.Fatalf("%s is signed but not sent", h)
			}
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		sum := sha256.Sum256(r.Body)
		hash = hex.EncodeToString(sum[:])
	}
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = escapedPath })
	if err := s.SignHTTP(context.Background(), creds, re, hash, parts[2], parts[1], at); err != nil {
		t.Fatal(err)
	}
	if got, want := re.Header.Get("Authorization"), r.Header.Get("Authorization"); got != want {
		t.Errorf("%s %s: the signature does not follow from the request:\n re-derived %s\n sent       %s", r.Method, r.URL, got, want)
	}
}

// SDKBookkeeping are headers the SDK's clients sign that describe the client (its retry
// attempt and invocation id), not the call; Compare ignores them.
var SDKBookkeeping = []string{"amz-sdk-invocation-id", "amz-sdk-request"}

// Compare checks that got (an adapter's request) is want (the SDK client's request for the
// same call): the same method and URL (byte for byte, so path and query escaping), the same
// credential scope (region and service) and signed headers (but SDKBookkeeping) with the
// same values, and the same body when sameBody; and that both signatures follow from what
// they send (VerifySignature).
func Compare(t testing.TB, got, want Request, creds aws.Credentials, escapedPath, sameBody bool) {
	t.Helper()
	if got.Method != want.Method || got.URL.String() != want.URL.String() {
		t.Errorf("request\n got  %s %s\n want %s %s", got.Method, got.URL, want.Method, want.URL)
	}
	ga, wa := ParseAuthorization(t, got), ParseAuthorization(t, want)
	if ga.Scope != wa.Scope {
		t.Errorf("credential scope %s, want %s", ga.Scope, wa.Scope)
	}
	ws := slices.DeleteFunc(slices.Clone(wa.SignedHeaders), func(h string) bool { return slices.Contains(SDKBookkeeping, h) })
	if !slices.Equal(ga.SignedHeaders, ws) {
		t.Errorf("signed headers\n got  %v\n want %v", ga.SignedHeaders, ws)
	}
	for _, h := range ws {
		var g, w string
		switch h {
		case "host":
			g, w = cmp.Or(got.Host, got.URL.Host), cmp.Or(want.Host, want.URL.Host)
		case "content-length":
			g, w = strconv.FormatInt(got.ContentLength, 10), strconv.FormatInt(want.ContentLength, 10)
		default:
			g, w = strings.Join(got.Header.Values(h), ","), strings.Join(want.Header.Values(h), ",")
		}
		if g != w {
			t.Errorf("header %s: %q, want %q", h, g, w)
		}
	}
	if sameBody && !bytes.Equal(got.Body, want.Body) {
		t.Errorf("body\n got  %s\n want %s", got.Body, want.Body)
	}
	VerifySignature(t, got, creds, escapedPath)
	VerifySignature(t, want, creds, escapedPath)
}

// Package blob stores objects in one S3 bucket: data-subject exports today. It puts objects
// encrypted with SSE-KMS (a configured key, or the bucket's default encryption), hands out
// short-lived presigned GET links, and lists and deletes objects by key prefix, which is how
// an erasure removes every export of a person ("<tenant>/<profileId>/").
//
// It speaks S3's REST API itself (package awsapi signs and sends), not through the SDK's S3
// client, which alone would put a function over its size budget; its requests are the ones
// the SDK's client sends for the same calls (the tests compare them).
package blob

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livingprofile/livingprofile/shared/awsapi"
)

// MaxLinkExpiry is the longest a SigV4 presigned URL may live (7 days).
const MaxLinkExpiry = 7 * 24 * time.Hour

// S3 is how the S3 API is reached and signed for.
var S3 = awsapi.Service{ID: "S3", SigningName: "s3", EscapedPath: true}

// Store is one bucket. It is safe for concurrent use.
type Store struct {
	api    *awsapi.Client
	base   url.URL // the bucket's root: https://<bucket>.s3.<region>.amazonaws.com/ or <endpoint>/<bucket>/
	bucket string
	kmsKey string
}

// New returns the store of bucket, reached through cfg (see BucketURL). With kmsKeyID set,
// every Put asks for SSE-KMS with that key; with it empty, Put sends no encryption header
// and the bucket's default encryption (SSE-KMS in template.yaml) applies.
func New(ctx context.Context, cfg aws.Config, bucket, kmsKeyID string) (*Store, error) {
	base, err := BucketURL(ctx, cfg, bucket)
	if err != nil {
		return nil, err
	}
	return &Store{api: awsapi.New(cfg, S3), base: *base, bucket: bucket, kmsKey: kmsKeyID}, nil
}

// BucketURL is where bucket's objects are addressed. On AWS it is the virtual-hosted
// https://<bucket>.s3.<region>.amazonaws.com/ (path style under https://s3.<region>... for
// a name that is no single DNS label, as the SDK does); at an endpoint of cfg's own
// (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, see awsapi.Endpoint) it is <endpoint>/<bucket>/,
// the path style emulators need.
func BucketURL(ctx context.Context, cfg aws.Config, bucket string) (*url.URL, error) {
	if bucket == "" {
		return nil, errors.New("blob: no bucket name")
	}
	endpoint, own, err := awsapi.Endpoint(ctx, cfg, S3)
	if err != nil {
		return nil, err
	}
	if !own {
		if cfg.Region == "" {
			return nil, errors.New("blob: no AWS region")
		}
		host := "s3." + cfg.Region + "." + awsapi.DNSSuffix(cfg.Region)
		if virtualHostable(bucket) {
			return &url.URL{Scheme: "https", Host: bucket + "." + host, Path: "/"}, nil
		}
		endpoint = "https://" + host
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("blob: S3 endpoint %q is not a URL", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + bucket + "/"
	u.RawPath, u.RawQuery = "", ""
	return u, nil
}

// virtualHostable reports whether bucket can be a host name label over TLS (no dots).
func virtualHostable(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 {
		return false
	}
	for i, c := range bucket {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(bucket)-1) {
			return false
		}
	}
	return true
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// WithClock returns a copy of s that signs at the times now tells (for tests).
func (s *Store) WithClock(now func() time.Time) *Store {
	d := *s
	d.api = s.api.WithClock(now)
	return &d
}

// objectURL is key's URL, with query; the key is escaped as S3 signs it (every byte but
// A-Z a-z 0-9 - . _ ~ and "/" percent-encoded).
func (s *Store) objectURL(key string, q url.Values) *url.URL {
	u := s.base
	u.Path += key
	u.RawPath = escapePath(u.Path)
	u.RawQuery = encodeQuery(q)
	return &u
}

// bucketURL is the URL of a request on the bucket itself: its root, without the trailing
// slash in path style ("<endpoint>/<bucket>?list-type=2"), as the SDK sends it.
func (s *Store) bucketURL(q url.Values) *url.URL {
	u := s.objectURL("", q)
	if u.Path != "/" {
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = escapePath(u.Path)
	}
	return u
}

func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// encodeQuery encodes q sorted, spaces as %20, as the SDK does.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// PutInput is one object to store.
type PutInput struct {
	Key string
	// Body is read from its start on every attempt, so a retry resends it; a file and a
	// bytes.Reader are io.ReaderAt.
	Body               io.ReaderAt
	Size               int64
	ContentType        string
	SHA256Base64       string // optional: S3 verifies the upload against it (x-amz-checksum-sha256)
	CacheControl       string // optional
	ContentDisposition string // optional Content-Disposition stored with the object
}

// Put stores an object, replacing any object with the same key. Over TLS the body is sent
// unsigned (as the SDK's client sends uploads), its integrity covered by SHA256Base64 when
// given; over plain HTTP (an emulator) its SHA-256 is signed.
func (s *Store) Put(ctx context.Context, in PutInput) error {
	if in.Key == "" {
		return errors.New("put object: empty key")
	}
	h := header()
	h.Set("Content-Type", in.ContentType)
	if s.kmsKey != "" {
		h.Set("X-Amz-Server-Side-Encryption", "aws:kms")
		h.Set("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", s.kmsKey)
		h.Set("X-Amz-Server-Side-Encryption-Bucket-Key-Enabled", "true")
	}
	if in.SHA256Base64 != "" {
		h.Set("X-Amz-Checksum-Sha256", in.SHA256Base64)
	}
	if in.CacheControl != "" {
		h.Set("Cache-Control", in.CacheControl)
	}
	if in.ContentDisposition != "" {
		h.Set("Content-Disposition", in.ContentDisposition)
	}
	req := awsapi.Request{Operation: "PutObject", Method: http.MethodPut, URL: s.objectURL(in.Key, url.Values{"x-id": {"PutObject"}}),
		Header: h, Body: in.Body, Size: in.Size, ContentSHA256: true}
	if req.URL.Scheme == "https" {
		req.PayloadHash = awsapi.UnsignedPayload
	}
	if _, err := s.api.Do(ctx, req, decodeError); err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	return nil
}

// Link is a presigned GET URL and when it stops working.
type Link struct {
	URL       string
	ExpiresAt time.Time
}

// Presign returns a GET URL for key that works for expiry (at most MaxLinkExpiry) without
// credentials. With filename set, the download is offered as an attachment of that name.
// It makes no request: the object's existence is not checked.
func (s *Store) Presign(ctx context.Context, key string, expiry time.Duration, filename string) (Link, error) {
	if expiry <= 0 {
		return Link{}, errors.New("presign: expiry must be positive")
	}
	expiry = min(expiry, MaxLinkExpiry).Truncate(time.Second)
	if expiry < time.Second {
		expiry = time.Second
	}
	q := url.Values{"x-id": {"GetObject"}}
	if filename != "" {
		q.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	signed, at, err := s.api.Presign(ctx, s.objectURL(key, q), expiry)
	if err != nil {
		return Link{}, fmt.Errorf("presign: %w", err)
	}
	return Link{URL: signed, ExpiresAt: at.Add(expiry)}, nil
}

// Object is one listed object.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
}

type listResult struct {
	IsTruncated           bool
	NextContinuationToken string
	Contents              []struct {
		Key          string
		Size         int64
		LastModified time.Time
	}
}

// List returns every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {prefix}}
		if token != "" {
			q.Set("continuation-token", token)
		}
		body, err := s.api.Do(ctx, awsapi.Request{Operation: "ListObjectsV2", Method: http.MethodGet,
			URL: s.bucketURL(q), Header: header(), ContentSHA256: true}, decodeError)
		if err != nil {
			return nil, fmt.Errorf("list objects: %w", err)
		}
		var page listResult
		if err := xml.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("list objects: decode the listing: %w", err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{Key: o.Key, Size: o.Size, LastModified: o.LastModified})
		}
		if !page.IsTruncated {
			return out, nil
		}
		if page.NextContinuationToken == "" || page.NextContinuationToken == token {
			return nil, errors.New("list objects: a truncated listing without a new continuation token")
		}
		token = page.NextContinuationToken
	}
}

type deleteResult struct {
	Errors []struct{ Key, Code, Message string } `xml:"Error"`
}

// Delete removes the objects with keys, 1,000 per request. A key with no object is not an
// error (S3 deletes are idempotent).
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for start := 0; start < len(keys); start += 1000 {
		chunk := keys[start:min(start+1000, len(keys))]
		doc := deleteDocument(chunk)
		// DeleteObjects requires a checksum of its document; CRC32 is what the SDK sends.
		h := header()
		h.Set("Content-Type", "application/xml")
		h.Set("X-Amz-Checksum-Crc32", crc32Base64(doc))
		body, size := awsapi.Bytes(doc)
		out, err := s.api.Do(ctx, awsapi.Request{Operation: "DeleteObjects", Method: http.MethodPost,
			URL: s.bucketURL(url.Values{"delete": {""}}), Header: h, Body: body, Size: size, ContentSHA256: true}, decodeError)
		if err != nil {
			return fmt.Errorf("delete objects: %w", err)
		}
		var res deleteResult
		if err := xml.Unmarshal(out, &res); err != nil {
			return fmt.Errorf("delete objects: decode the result: %w", err)
		}
		if len(res.Errors) > 0 {
			e := res.Errors[0]
			return fmt.Errorf("delete objects: %d of %d not deleted (%s: %s)", len(res.Errors), len(chunk), e.Code, e.Message)
		}
	}
	return nil
}

// deleteDocument is the quiet DeleteObjects request of keys.
func deleteDocument(keys []string) []byte {
	var b bytes.Buffer
	b.WriteString(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	for _, k := range keys {
		b.WriteString("<Object><Key>")
		_ = xml.EscapeText(&b, []byte(k))
		b.WriteString("</Key></Object>")
	}
	b.WriteString("<Quiet>true</Quiet></Delete>")
	return b.Bytes()
}

// DeletePrefix removes every object whose key starts with prefix and returns how many it
// removed. An empty prefix is refused: it would empty the bucket. Running it again after a
// failure is safe.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("delete prefix: refusing an empty prefix")
	}
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	if err := s.Delete(ctx, keys...); err != nil {
		return 0, err
	}
	return len(keys), nil
}

// header is a request's headers before its own. As the SDK's client does, it asks for
// bodies as stored: Go's transport would otherwise ask for gzip and unpack it.
func header() http.Header { return http.Header{"Accept-Encoding": {"identity"}} }

// decodeError reads S3's XML error document (<Error><Code>…</Code><Message>…</Message>).
func decodeError(_ *http.Response, body []byte) (code, message string) {
	var e struct{ Code, Message string }
	if xml.Unmarshal(body, &e) != nil {
		return "", ""
	}
	return e.Code, e.Message
}

// crc32Base64 is the x-amz-checksum-crc32 value of b: its IEEE CRC32, big-endian, base64.
func crc32Base64(b []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)))
}

// PresignPut returns a PUT URL for key that works for expiry (at most MaxLinkExpiry)
// without credentials: an upload link. The object is stored under the bucket's default
// encryption.
func (s *Store) PresignPut(ctx context.Context, key string, expiry time.Duration) (Link, error) {
	if expiry <= 0 {
		return Link{}, errors.New("presign put: expiry must be positive")
	}
	expiry = max(min(expiry, MaxLinkExpiry).Truncate(time.Second), time.Second)
	signed, at, err := s.api.PresignMethod(ctx, http.MethodPut, s.objectURL(key, url.Values{"x-id": {"PutObject"}}), expiry)
	if err != nil {
		return Link{}, fmt.Errorf("presign put: %w", err)
	}
	return Link{URL: signed, ExpiresAt: at.Add(expiry)}, nil
}

// ErrNoObject is wrapped by Size and Open when there is no object under the key.
var ErrNoObject = errors.New("no such object")

// Size returns the object's size in bytes (one HeadObject).
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	resp, err := s.api.Open(ctx, awsapi.Request{Operation: "HeadObject", Method: http.MethodHead, URL: s.objectURL(key, nil),
		Header: header(), ContentSHA256: true}, decodeError)
	if err != nil {
		return 0, fmt.Errorf("head object: %w", noObject(err))
	}
	resp.Body.Close()
	return resp.ContentLength, nil
}

// Open streams the object from byte offset on (one GetObject with a Range): the caller
// reads the body as it needs it and closes it. An offset at or past the end is an empty
// body.
func (s *Store) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	h := header()
	if offset > 0 {
		h.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := s.api.Open(ctx, awsapi.Request{Operation: "GetObject", Method: http.MethodGet,
		URL: s.objectURL(key, url.Values{"x-id": {"GetObject"}}), Header: h, ContentSHA256: true}, decodeError)
	var e *awsapi.Error
	if errors.As(err, &e) && e.Status == http.StatusRequestedRangeNotSatisfiable {
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err != nil {
		return nil, fmt.Errorf("get object: %w", noObject(err))
	}
	if offset > 0 && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		return nil, fmt.Errorf("get object: asked for bytes from %d, got status %d", offset, resp.StatusCode)
	}
	return resp.Body, nil
}

func noObject(err error) error {
	var e *awsapi.Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNoObject, err)
	}
	return err
}

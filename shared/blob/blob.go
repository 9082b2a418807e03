// Package blob stores objects in one S3 bucket: data-subject exports today. It puts objects
// encrypted with SSE-KMS (a configured key, or the bucket's default encryption), hands out
// short-lived presigned GET links, and lists and deletes objects by key prefix, which is how
// an erasure removes every export of a person ("<tenant>/<profileId>/").
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MaxLinkExpiry is the longest a SigV4 presigned URL may live (7 days).
const MaxLinkExpiry = 7 * 24 * time.Hour

// Store is one bucket. It is safe for concurrent use.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	kmsKey  string
	now     func() time.Time
}

// New returns the bucket's store. With kmsKeyID set, every Put asks for SSE-KMS with that
// key; with it empty, Put sends no encryption header and the bucket's default encryption
// (SSE-KMS in template.yaml) applies. Build client with path-style addressing when it
// talks to an emulator (NewClient does).
func New(client *s3.Client, bucket, kmsKeyID string) *Store {
	return &Store{client: client, presign: s3.NewPresignClient(client), bucket: bucket, kmsKey: kmsKeyID, now: time.Now}
}

// NewClient returns an S3 client for cfg that addresses buckets by path when it is pointed
// at an endpoint of its own (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3, as for an emulator),
// which emulators need; on AWS it uses virtual-hosted addressing.
func NewClient(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = o.UsePathStyle || o.BaseEndpoint != nil })
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// PutInput is one object to store.
type PutInput struct {
	Key string
	// Body must be seekable, so the SDK can sign and, on a retry, resend it; a file is.
	Body               io.ReadSeeker
	Size               int64
	ContentType        string
	SHA256Base64       string // optional: S3 verifies the upload against it (x-amz-checksum-sha256)
	CacheControl       string // optional
	ContentDisposition string // optional Content-Disposition stored with the object
}

// Put stores an object, replacing any object with the same key.
func (s *Store) Put(ctx context.Context, in PutInput) error {
	put := &s3.PutObjectInput{
		Bucket: &s.bucket, Key: aws.String(in.Key), Body: in.Body, ContentLength: aws.Int64(in.Size),
		ContentType: aws.String(in.ContentType),
	}
	if s.kmsKey != "" {
		put.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		put.SSEKMSKeyId = aws.String(s.kmsKey)
		put.BucketKeyEnabled = aws.Bool(true)
	}
	if in.SHA256Base64 != "" {
		put.ChecksumSHA256 = aws.String(in.SHA256Base64)
	}
	if in.CacheControl != "" {
		put.CacheControl = aws.String(in.CacheControl)
	}
	if in.ContentDisposition != "" {
		put.ContentDisposition = aws.String(in.ContentDisposition)
	}
	if _, err := s.client.PutObject(ctx, put); err != nil {
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
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(key)}
	if filename != "" {
		in.ResponseContentDisposition = aws.String(mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	now := s.now()
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(expiry))
	if err != nil {
		return Link{}, fmt.Errorf("presign: %w", err)
	}
	return Link{URL: req.URL, ExpiresAt: now.Add(expiry)}, nil
}

// Object is one listed object.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// List returns every object whose key starts with prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list objects: %w", err)
		}
		for _, o := range page.Contents {
			out = append(out, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Delete removes the objects with keys, 1,000 per request. A key with no object is not an
// error (S3 deletes are idempotent).
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for start := 0; start < len(keys); start += 1000 {
		chunk := keys[start:min(start+1000, len(keys))]
		ids := make([]types.ObjectIdentifier, len(chunk))
		for i, k := range chunk {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete objects: %w", err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete objects: %d of %d not deleted (%s: %s)", len(out.Errors), len(chunk), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
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

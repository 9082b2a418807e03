// Package imports builds the bulk import functions that work the imports bucket (S3) only:
// creating and reading an import. Package imports/queued builds those that also queue
// (SQS): starting an import and the worker.
package imports

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/awsapi"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// files adapts the imports bucket to app.ImportFiles.
type files struct{ b *blob.Store }

func (f files) UploadURL(ctx context.Context, key string, expiry time.Duration) (string, time.Time, error) {
	l, err := f.b.PresignPut(ctx, key, expiry)
	return l.URL, l.ExpiresAt, err
}

func (f files) DownloadURL(ctx context.Context, key string, expiry time.Duration, filename string) (string, time.Time, error) {
	l, err := f.b.Presign(ctx, key, expiry, filename)
	return l.URL, l.ExpiresAt, err
}

func (f files) Size(ctx context.Context, key string) (int64, error) {
	n, err := f.b.Size(ctx, key)
	if errors.Is(err, blob.ErrNoObject) {
		return 0, errs.E(errs.NotFound, "no uploaded file")
	}
	return n, err
}

func (f files) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	return f.b.Open(ctx, key, offset)
}

func (f files) Put(ctx context.Context, key string, body []byte, contentType string) error {
	r, size := awsapi.Bytes(body)
	sum := sha256.Sum256(body)
	return f.b.Put(ctx, blob.PutInput{Key: key, Body: r, Size: size, ContentType: contentType, SHA256Base64: base64.StdEncoding.EncodeToString(sum[:])})
}

// Importer builds the use case over the imports bucket (IMPORTS_BUCKET) and q, which may
// be nil for a function that queues nothing.
func Importer(ctx context.Context, d *wire.Deps, q app.ImportQueue) (*app.Importer, error) {
	bucket, err := d.Required("IMPORTS_BUCKET")
	if err != nil {
		return nil, err
	}
	b, err := blob.New(ctx, d.AWS, bucket, "")
	if err != nil {
		return nil, err
	}
	return app.NewImporter(d.Profiles(), d.Store, files{b}, q, httpapi.DecodeSyncChange), nil
}

// CreateImport builds POST /v1/imports; it presigns uploads to IMPORTS_BUCKET.
func CreateImport(ctx context.Context, d *wire.Deps) (any, error) {
	x, err := Importer(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(d.API(nil).CreateImport(x)), nil
}

// GetImport builds GET /v1/imports/{id}; it presigns the error report in IMPORTS_BUCKET.
func GetImport(ctx context.Context, d *wire.Deps) (any, error) {
	x, err := Importer(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(d.API(nil).GetImport(x)), nil
}

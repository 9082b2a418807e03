// Package imports builds the bulk import functions, which work the imports bucket (S3)
// and the import queue (SQS): the three routes and the worker.
package imports

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/awsapi"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/queue"
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

// importer builds the use case with the parts a function uses: the bucket
// (IMPORTS_BUCKET) when withFiles, the queue (IMPORT_QUEUE_URL) when withQueue.
func importer(ctx context.Context, d *wire.Deps, withFiles, withQueue bool) (*app.Importer, error) {
	var fs app.ImportFiles
	if withFiles {
		bucket, err := d.Required("IMPORTS_BUCKET")
		if err != nil {
			return nil, err
		}
		b, err := blob.New(ctx, d.AWS, bucket, "")
		if err != nil {
			return nil, err
		}
		fs = files{b}
	}
	var q app.ImportQueue
	if withQueue {
		url, err := d.Required("IMPORT_QUEUE_URL")
		if err != nil {
			return nil, err
		}
		q = queue.NewImports(sqs.NewFromConfig(d.AWS), url)
	}
	return app.NewImporter(d.Profiles(), d.Store, fs, q, httpapi.DecodeSyncChange), nil
}

// CreateImport builds POST /v1/imports; it presigns uploads to IMPORTS_BUCKET.
func CreateImport(ctx context.Context, d *wire.Deps) (any, error) {
	x, err := importer(ctx, d, true, false)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(d.API(nil).CreateImport(x)), nil
}

// StartImport builds POST /v1/imports/{id}/start; it reads the file's size and a CSV
// file's header from IMPORTS_BUCKET and queues the import on IMPORT_QUEUE_URL.
func StartImport(ctx context.Context, d *wire.Deps) (any, error) {
	x, err := importer(ctx, d, true, true)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(d.API(nil).StartImport(x)), nil
}

// GetImport builds GET /v1/imports/{id}; it presigns the error report in IMPORTS_BUCKET.
func GetImport(ctx context.Context, d *wire.Deps) (any, error) {
	x, err := importer(ctx, d, true, false)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(d.API(nil).GetImport(x)), nil
}

// ProcessImport builds the import worker (ImportQueue): it streams files from
// IMPORTS_BUCKET, writes error reports there, and queues the next message of a long import
// on IMPORT_QUEUE_URL. MAX_ATTEMPTS (required) is the queue's maxReceiveCount: the last
// failed attempt marks the import failed.
func ProcessImport(ctx context.Context, d *wire.Deps) (any, error) {
	attempts, err := d.Positive("MAX_ATTEMPTS")
	if err != nil {
		return nil, err
	}
	x, err := importer(ctx, d, true, true)
	if err != nil {
		return nil, err
	}
	w := queue.ImportWorker{Process: x.Process, Abandon: x.Abandon, MaxAttempts: attempts, Log: d.Log}
	return wire.QueueHandler(w.Handle), nil
}

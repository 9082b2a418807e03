// Package queued builds the bulk import functions that put work on the import queue (SQS):
// starting an import and the import worker.
package queued

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/queue"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/imports"
)

// importer is the use case over the imports bucket and IMPORT_QUEUE_URL (required).
func importer(ctx context.Context, d *wire.Deps) (*app.Importer, error) {
	url, err := d.Required("IMPORT_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	return imports.Importer(ctx, d, queue.NewImports(sqs.NewFromConfig(d.AWS), url))
}

// StartImport builds POST /v1/imports/{id}/start; it reads the file's size and a CSV
// file's header from IMPORTS_BUCKET and queues the import on IMPORT_QUEUE_URL.
func StartImport(ctx context.Context, d *wire.Deps) (any, error) {
	x, err := importer(ctx, d)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(d.API(nil).StartImport(x)), nil
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
	x, err := importer(ctx, d)
	if err != nil {
		return nil, err
	}
	w := queue.ImportWorker{Process: x.Process, Abandon: x.Abandon, MaxAttempts: attempts, Log: d.Log}
	return wire.QueueHandler(w.Handle), nil
}

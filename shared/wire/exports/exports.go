// Package exports builds the request route that links to ready exports in the exports
// bucket (S3).
package exports

import (
	"context"
	"time"

	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// GetRequest builds GET /v1/requests/{id}; it alone presigns links to ready exports, in
// EXPORTS_BUCKET (required), valid for EXPORT_LINK_SECONDS (required).
func GetRequest(ctx context.Context, d *wire.Deps) (any, error) {
	bucket, err := d.Required("EXPORTS_BUCKET")
	if err != nil {
		return nil, err
	}
	secs, err := d.Positive("EXPORT_LINK_SECONDS")
	if err != nil {
		return nil, err
	}
	b, err := blob.New(ctx, d.AWS, bucket, "")
	if err != nil {
		return nil, err
	}
	presign := func(ctx context.Context, key string, expiry time.Duration, filename string) (string, time.Time, error) {
		l, err := b.Presign(ctx, key, expiry, filename)
		return l.URL, l.ExpiresAt, err
	}
	return wire.HTTPHandler(d.API(nil).WithExportLinks(presign, time.Duration(secs)*time.Second).GetRequest()), nil
}

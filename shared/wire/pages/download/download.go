// Package download builds the portal's export download function, the one portal function
// that presigns links into the exports bucket (S3).
package download

import (
	"context"
	"time"

	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages"
)

// PortalExport builds GET /portal/{tenant}/exports/{id}, from EXPORTS_BUCKET (required),
// with links valid for EXPORT_LINK_SECONDS (default portal.DefaultExportLinkTTL).
func PortalExport(ctx context.Context, d *wire.Deps) (any, error) {
	return pages.Route(ctx, d, (*portal.Portal).Export, pages.WithRequests, withExports)
}

func withExports(d *wire.Deps, cfg *portal.Config) error {
	bucket, err := d.Required("EXPORTS_BUCKET")
	if err != nil {
		return err
	}
	secs, err := d.OptionalPositive("EXPORT_LINK_SECONDS", int(portal.DefaultExportLinkTTL/time.Second))
	if err != nil {
		return err
	}
	// Resolving the bucket's URL reads only the configuration: no request, nothing to cancel.
	b, err := blob.New(context.Background(), d.AWS, bucket, "")
	if err != nil {
		return err
	}
	cfg.Exports, cfg.ExportLinkTTL = exports{b}, time.Duration(secs)*time.Second
	return nil
}

// exports presigns export downloads.
type exports struct{ b *blob.Store }

func (x exports) ExportURL(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	l, err := x.b.Presign(ctx, key, ttl, filename)
	return l.URL, err
}

// Package reads is the portal's page reads over the table (portal.Pages), apart from the
// portal's signing secret, so that the public transparency page links no Secrets Manager
// client.
package reads

import (
	"context"
	"fmt"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/portal"
)

// Reader is the portal's Pages over the table: one BatchGetItem of what a page asks
// for.
type Reader struct{ Store *dynamo.Store }

// ReadPage implements portal.Pages.
func (p Reader) ReadPage(ctx context.Context, tenant string, q portal.PageQuery) (portal.PageRead, error) {
	var (
		out portal.PageRead
		t   *dynamo.Tenant
		k   *apikey.Key
	)
	r := p.Store.Reads()
	if q.Brand {
		r.Tenant(tenant, &t)
	}
	if q.Catalog {
		r.Catalog(tenant, &out.Catalog)
	}
	if q.SessionID != "" {
		r.PortalSessionRevoked(tenant, q.SessionID, &out.Revoked)
	}
	if q.KeyID != "" {
		r.Key(q.KeyID, &k)
	}
	if q.ProfileID != "" {
		r.Profile(tenant, q.ProfileID, &out.Profile)
	}
	if err := r.Do(ctx); err != nil {
		return out, fmt.Errorf("portal page: %w", err)
	}
	switch {
	case q.Brand && (t == nil || t.Disabled): // a disabled tenant has no portal
		return out, errs.E(errs.NotFound, "tenant not found")
	case q.Catalog && out.Catalog == nil:
		return out, errs.E(errs.NotFound, "catalog not found")
	}
	if t != nil {
		out.Brand = portal.Brand{Name: t.Name, LogoURL: t.Branding.LogoURL, PrimaryColor: t.Branding.PrimaryColor,
			BackgroundColor: t.Branding.BackgroundColor, TextColor: t.Branding.TextColor}
	}
	out.KeyActive = k != nil && k.Tenant == tenant && k.RevokedAt == nil
	return out, nil
}

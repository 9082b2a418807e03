// Package privacy builds the portal's public transparency page, which reads the tenant and
// its catalog and nothing else: no session, no signing secret.
package privacy

import (
	"context"

	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages/reads"
)

// PortalPrivacy builds GET /portal/{tenant}/privacy and GET /portal/{tenant}/privacy.json.
func PortalPrivacy(_ context.Context, d *wire.Deps) (any, error) {
	p, err := portal.NewPublic(portal.PublicConfig{Catalogs: d.Profiles(), Pages: reads.Reader{Store: d.Store}, Log: d.Log})
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(p.Privacy()), nil
}

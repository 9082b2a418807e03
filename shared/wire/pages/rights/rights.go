// Package rights builds the portal's rights function, which also emails (SES): an erasure
// made in the portal under the tenant's cool-off sends the person the link to call it off.
package rights

import (
	"context"

	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/notices"
	"github.com/livingprofile/livingprofile/shared/wire/pages"
)

// PortalRights builds GET|POST /portal/{tenant}/rights and /portal/{tenant}/rights/erase;
// it sends from SENDER_EMAIL (required).
func PortalRights(ctx context.Context, d *wire.Deps) (any, error) {
	n, err := notices.Requests(ctx, d)
	if err != nil {
		return nil, err
	}
	return pages.Route(ctx, d, (*portal.Portal).Rights, pages.WithNotifiedRequests(n))
}

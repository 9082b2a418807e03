// Package emails builds the request routes that email the person through SES (package
// notices): new requests (the confirmation link), extensions and denials.
package emails

import (
	"context"

	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/notices"
)

// mailingRoute builds a request route whose use case emails the person, from SENDER_EMAIL
// (required).
func mailingRoute(ctx context.Context, d *wire.Deps, pick func(*httpapi.API) httpapi.Handler) (any, error) {
	n, err := notices.Requests(ctx, d)
	if err != nil {
		return nil, err
	}
	api := httpapi.New(d.Profiles().WithNotifier(n), d.Log, nil, d.Env("PORTAL_BASE_URL"))
	return wire.HTTPHandler(pick(api)), nil
}

// CreateRequest builds POST /v1/requests; it emails the person the link to confirm a
// request made for them.
func CreateRequest(ctx context.Context, d *wire.Deps) (any, error) {
	return mailingRoute(ctx, d, (*httpapi.API).CreateRequest)
}

// ExtendRequest builds POST /v1/requests/{id}/extension; it tells the person by email.
func ExtendRequest(ctx context.Context, d *wire.Deps) (any, error) {
	return mailingRoute(ctx, d, (*httpapi.API).ExtendRequest)
}

// DenyRequest builds POST /v1/requests/{id}/denial; it tells the person by email.
func DenyRequest(ctx context.Context, d *wire.Deps) (any, error) {
	return mailingRoute(ctx, d, (*httpapi.API).DenyRequest)
}

// Package gpc builds the portal's Global Privacy Control statement, the one portal function
// that reads nothing: not the table, not the portal secret.
package gpc

import (
	"context"

	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// PortalGpc builds GET /.well-known/gpc.json.
func PortalGpc(context.Context, *wire.Deps) (any, error) {
	return wire.HTTPHandler(portal.GPCHandler()), nil
}

// Package registry maps every function's logical id in template.yaml to its builder, for
// the local stack, which runs all functions in one process. Deployed binaries do not import
// it, so each links only its own handler.
package registry

import (
	"maps"
	"slices"

	"github.com/livingprofile/livingprofile/shared/wire"
)

var builders = map[string]wire.Builder{
	"Authorizer":               wire.Authorizer,
	"CreateProfile":            wire.CreateProfile,
	"FindProfile":              wire.FindProfile,
	"GetProfile":               wire.GetProfile,
	"UpdateProfile":            wire.UpdateProfile,
	"PutConsent":               wire.PutConsent,
	"PutSubscription":          wire.PutSubscription,
	"CheckConsent":             wire.CheckConsent,
	"ListEvents":               wire.ListEvents,
	"GetCatalog":               wire.GetCatalog,
	"PutCatalog":               wire.PutCatalog,
	"CreatePortalLink":         wire.CreatePortalLink,
	"Sync":                     wire.Sync,
	"CreateWebhook":            wire.CreateWebhook,
	"ListWebhooks":             wire.ListWebhooks,
	"DeleteWebhook":            wire.DeleteWebhook,
	"RotateWebhookSecret":      wire.RotateWebhookSecret,
	"ListWebhookDeliveries":    wire.ListWebhookDeliveries,
	"RedriveWebhookDeliveries": wire.RedriveWebhookDeliveries,
	"DispatchEvents":           wire.DispatchEvents,
	"DeliverWebhooks":          wire.DeliverWebhooks,
	"CreateRequest":            wire.CreateRequest,
	"ListRequests":             wire.ListRequests,
	"GetRequest":               wire.GetRequest,
	"ExtendRequest":            wire.ExtendRequest,
	"CancelRequest":            wire.CancelRequest,
	"CompleteRequest":          wire.CompleteRequest,
	"DenyRequest":              wire.DenyRequest,
	"ProcessExport":            wire.ProcessExport,
	"ProcessErasure":           wire.ProcessErasure,
	"SweepDeadlines":           wire.SweepDeadlines,
	"PortalOpen":               wire.PortalOpen,
	"PortalLogin":              wire.PortalLogin,
	"PortalLogout":             wire.PortalLogout,
	"PortalOverview":           wire.PortalOverview,
	"PortalDetails":            wire.PortalDetails,
	"PortalSubscriptions":      wire.PortalSubscriptions,
	"PortalConsents":           wire.PortalConsents,
	"PortalRights":             wire.PortalRights,
	"PortalHistory":            wire.PortalHistory,
	"PortalExport":             wire.PortalExport,
	"PortalUnsubscribe":        wire.PortalUnsubscribe,
	"PortalGpc":                wire.PortalGpc,
}

// Functions lists every logical id with a builder, sorted.
func Functions() []string { return slices.Sorted(maps.Keys(builders)) }

// Builder returns the builder of a function.
func Builder(logicalID string) (wire.Builder, bool) {
	b, ok := builders[logicalID]
	return b, ok
}

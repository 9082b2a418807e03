// Package pages builds the hosted portal's functions and the portal-links route: the ones
// that sign with the portal secret (Secrets Manager). The portal's sign-in (SES) and export
// download (S3) are built in the sub-packages login and download, so that no other page
// links those clients. shared/portal/ROUTES.md lists the routes, environment and IAM actions.
package pages

import (
	"context"
	"errors"
	"fmt"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/secrets"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/pages/reads"
)

// Every portal function but PortalGpc reads the portal secret (PORTAL_SECRET_ARN) at init —
// AWSCURRENT, and AWSPREVIOUS when the secret has one, so that a rotation signs with the
// new key and still accepts sessions, form tokens and links of the old one.

// secret reads one version stage of the portal signing secret.
type secret func(stage string) (portallink.Key, error)

func secretOf(ctx context.Context, d *wire.Deps) (secret, error) {
	arn, err := d.Required("PORTAL_SECRET_ARN")
	if err != nil {
		return nil, err
	}
	sm, err := secrets.New(ctx, d.AWS)
	if err != nil {
		return nil, err
	}
	return func(stage string) (portallink.Key, error) {
		v, err := sm.Value(ctx, arn, stage)
		if err != nil {
			return portallink.Key{}, fmt.Errorf("read portal secret: %w", err)
		}
		return portallink.ParseSecret(v)
	}, nil
}

// portalKeys reads the portal signing secret's current version and, if it has one, its
// previous version. Both are read at once: this is on every portal function's cold start.
func portalKeys(ctx context.Context, d *wire.Deps) (portallink.Key, []portallink.Key, error) {
	read, err := secretOf(ctx, d)
	if err != nil {
		return portallink.Key{}, nil, err
	}
	var prev portallink.Key
	var prevErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		prev, prevErr = read("AWSPREVIOUS")
	}()
	cur, err := read("AWSCURRENT")
	<-done
	switch {
	case err != nil:
		return portallink.Key{}, nil, err
	case errors.Is(prevErr, secrets.ErrNotFound):
		return cur, nil, nil // never rotated
	case prevErr != nil:
		return portallink.Key{}, nil, prevErr
	case prev.Secret == cur.Secret:
		return cur, nil, nil
	}
	return cur, []portallink.Key{prev}, nil
}

// Option adds one optional part (mailer, requests, exports) to a portal's configuration.
type Option func(*wire.Deps, *portal.Config) error

// WithRequests gives the portal the data-subject requests use case, for the pages that
// show or make requests; it tells no one.
var WithRequests = WithNotifiedRequests(nil)

// WithNotifiedRequests is WithRequests whose use case emails the person through n: the
// link that calls off an erasure in the tenant's cool-off.
func WithNotifiedRequests(n app.Notifier) Option {
	return func(d *wire.Deps, cfg *portal.Config) error {
		cfg.Requests = requests{Service: d.Profiles().WithNotifier(n), st: d.Store}
		return nil
	}
}

// Route builds one portal route's handler with the options its function needs.
func Route(ctx context.Context, d *wire.Deps, pick func(*portal.Portal) portal.Handler, opts ...Option) (any, error) {
	cur, prev, err := portalKeys(ctx, d)
	if err != nil {
		return nil, err
	}
	keys, err := session.NewKeys(cur, prev...)
	if err != nil {
		return nil, err
	}
	links, err := portallink.NewSigner(append([]portallink.Key{cur}, prev...)...)
	if err != nil {
		return nil, err
	}
	cfg := portal.Config{
		Profiles: d.Profiles(), Store: d.Store, Pages: reads.Reader{Store: d.Store}, Keys: keys, Links: links,
		BaseURL: d.Env("PORTAL_BASE_URL"), Log: d.Log,
	}
	for _, opt := range opts {
		if err := opt(d, &cfg); err != nil {
			return nil, err
		}
	}
	p, err := portal.New(cfg)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(pick(p)), nil
}

// CreatePortalLink builds POST /v1/portal-links; of the brand routes it alone reads the
// signing secret (AWSCURRENT only: new links are signed with the current key).
func CreatePortalLink(ctx context.Context, d *wire.Deps) (any, error) {
	read, err := secretOf(ctx, d)
	if err != nil {
		return nil, err
	}
	cur, err := read("AWSCURRENT")
	if err != nil {
		return nil, err
	}
	signer, err := portallink.NewSigner(cur)
	if err != nil {
		return nil, err
	}
	return wire.HTTPHandler(d.API(signer).PortalLinks()), nil
}

// PortalOpen builds GET|POST /portal/{tenant}/t/{token}.
func PortalOpen(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Open)
}

// PortalLogout builds POST /portal/{tenant}/logout.
func PortalLogout(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Logout)
}

// PortalOverview builds GET /portal/{tenant}.
func PortalOverview(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Overview, WithRequests)
}

// PortalDetails builds GET|POST /portal/{tenant}/details and POST
// /portal/{tenant}/details/identities.
func PortalDetails(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Details)
}

// PortalSubscriptions builds GET|POST /portal/{tenant}/subscriptions.
func PortalSubscriptions(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Subscriptions)
}

// PortalConsents builds GET|POST /portal/{tenant}/consents.
func PortalConsents(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Consents)
}

// PortalHistory builds GET /portal/{tenant}/history and /portal/{tenant}/receipts/{purpose}.
func PortalHistory(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).History)
}

// PortalUnsubscribe builds GET|POST /portal/{tenant}/unsubscribe/{token}.
func PortalUnsubscribe(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Unsubscribe)
}

// PortalConfirm builds GET|POST /portal/{tenant}/confirm.
func PortalConfirm(ctx context.Context, d *wire.Deps) (any, error) {
	return Route(ctx, d, (*portal.Portal).Confirm, WithRequests)
}

// requests is the requests use case plus the store's listing of a person's requests.
type requests struct {
	*app.Service
	st *dynamo.Store
}

func (x requests) RequestsOfProfile(ctx context.Context, tenant, profileID string) ([]dsr.Request, error) {
	return x.st.RequestsOfProfile(ctx, tenant, profileID)
}

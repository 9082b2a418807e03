// Package portal is the hosted customer portal: server-rendered pages (templ components, one
// embedded style sheet, no JavaScript, no third-party assets) where a person sees and
// changes what a brand holds about them — details, subscriptions, consents, GDPR rights and
// the consent ledger — in English or Polish, under the brand's colours.
//
// Every route lives under /portal/{tenant}/…; the tenant in the path decides which brand's
// data can be reached, and a session, form token or link minted under another tenant opens
// nothing there. There are no passwords: a person signs in with a brand's signed link
// (POST /v1/portal-links) or with a one-time link emailed by the login page. Sessions are
// __Host- cookies sealed with AES-GCM (see package session); every state-changing form
// carries a CSRF token bound to the session; every page is sent with a strict
// Content-Security-Policy and no-store caching.
//
// Each Handler serves one Lambda function (payload format 2.0): GET and POST of a page share
// one. ROUTES.md in this directory lists the routes, functions, environment and IAM actions.
package portal

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/cache"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Handler is the Lambda handler of one portal function (HTTP API payload format 2.0). It
// never returns an error and never panics: every failure is a page.
type Handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Profiles is what the portal asks of the living-profile use cases; *app.Service has it.
type Profiles interface {
	// CachedCatalog and KeepCatalog are the use cases' warm catalog cache, which a page
	// consults before it reads (Pages) and fills after, so that a page and the write it
	// makes read the catalog once.
	CachedCatalog(tenant string) (*catalog.Catalog, bool)
	KeepCatalog(tenant string, c *catalog.Catalog)
	GetProfile(ctx context.Context, tenant, id string) (*profile.Profile, error)
	FindProfile(ctx context.Context, tenant, identity string) (*profile.Profile, error)
	UpdateProfile(ctx context.Context, tenant, id string, pt app.Patch, w app.Write) (app.Result, error)
	PutConsent(ctx context.Context, tenant, id, purpose string, in profile.ConsentInput, w app.Write) (app.Result, error)
	PutSubscription(ctx context.Context, tenant, id, topic string, in profile.SubscriptionInput, w app.Write) (app.Result, error)
	EventsOf(ctx context.Context, tenant string, p *profile.Profile, after int64, limit int) (app.EventsPage, error)
}

// Requests is what the portal asks of the data-subject request use cases: *app.Service
// creates and reads requests, the store lists a person's. Optional: without it the rights
// page still changes restriction, objections and the automated-decision opt-out on the
// profile directly, and offers no export or erasure.
type Requests interface {
	CreateRequest(ctx context.Context, tenant string, in app.RequestInput, w app.RequestWrite) (app.RequestResult, error)
	GetRequest(ctx context.Context, tenant, id string) (*dsr.Request, error)
	RequestsOfProfile(ctx context.Context, tenant, profileID string) ([]dsr.Request, error)
	// RequestByLink and UseLink read and carry out the single-use links emailed about a
	// request (app.LinkConfirm, app.LinkCancel); a link no longer good is dsr.ErrLinkUsed.
	RequestByLink(ctx context.Context, tenant, token string) (*dsr.Request, string, error)
	UseLink(ctx context.Context, tenant, token string, w app.RequestWrite) (*dsr.Request, error)
}

// Exports hands out short-lived download URLs of finished exports (an S3 presigner).
// Optional: without it, a ready export shows its status but no download link.
type Exports interface {
	// ExportURL returns a URL that downloads the object key as filename for about ttl.
	ExportURL(ctx context.Context, key string, ttl time.Duration, filename string) (string, error)
}

// Store is the portal's own state: single-use token nonces, rate-limit counters, revoked
// sessions and Global Privacy Control markers. *dynamo.Store has it.
type Store interface {
	// UsePortalNonce records nonce as used until until; it fails with an error wrapping
	// errs.ErrReplay if it was used before.
	UsePortalNonce(ctx context.Context, tenant, nonce string, until time.Time) error
	// PortalNonceUsed reports whether nonce was used.
	PortalNonceUsed(ctx context.Context, tenant, nonce string) (bool, error)
	// CountPortalHit adds one to the counter key in the fixed window of length window that
	// holds now, and returns the window's count including this hit.
	CountPortalHit(ctx context.Context, tenant, key string, window time.Duration, now time.Time) (int64, error)
	// RevokePortalSession ends session sid for good (until its absolute end, until).
	RevokePortalSession(ctx context.Context, tenant, sid string, until time.Time) error
	// PortalSessionRevoked reports whether sid was revoked.
	PortalSessionRevoked(ctx context.Context, tenant, sid string) (bool, error)
	// PortalGPC returns the purposes a Global Privacy Control signal was already honoured
	// for on the profile (nil: never).
	PortalGPC(ctx context.Context, tenant, profileID string) ([]string, error)
	// PutPortalGPC records that GPC was honoured for purposes on the profile.
	PutPortalGPC(ctx context.Context, tenant, profileID string, purposes []string, at time.Time) error
}

// Pages reads, in one round trip, what a page needs before its work runs: the tenant's
// brand and catalog, whether the session was revoked, whether the API key that minted the
// session's link still vouches for it, and the person's profile. A warm container has the
// brand, the catalog and the key cached and does not ask for them.
type Pages interface {
	ReadPage(ctx context.Context, tenant string, q PageQuery) (PageRead, error)
}

// PageQuery names the reads of one page; a false or empty field is not read.
type PageQuery struct {
	Brand, Catalog bool
	SessionID      string // whether this portal session was revoked
	KeyID          string // whether this API key belongs to the tenant and is not revoked
	ProfileID      string
}

// PageRead is what ReadPage read. It fails with errs.NotFound when the brand was asked for
// and the tenant does not exist or is disabled, or the catalog was asked for and the
// tenant has none.
type PageRead struct {
	Brand     Brand
	Catalog   *catalog.Catalog
	Revoked   bool
	KeyActive bool
	Profile   *profile.Profile // nil when there is no such profile
}

// Mailer sends the login email: link, which works once for ttl, to one address, in
// locale ("en", "pl"). The wire package adapts package mail (SES v2, mail.LoginLink).
type Mailer interface {
	SendLoginLink(ctx context.Context, to, locale, link string, ttl time.Duration) error
}

// Limits are the login page's rate limits (fixed windows). A zero field takes its default.
type Limits struct {
	PerAddress int           // login emails per address per Window; default 5
	PerIP      int           // login requests per client IP per Window; default 20
	Window     time.Duration // default 1 hour
}

// Defaults of the optional Config fields.
const (
	DefaultLoginFloor    = 700 * time.Millisecond
	DefaultExportLinkTTL = 5 * time.Minute
	maxBody              = 64 << 10
)

// CacheTTL is how long a warm portal container keeps a tenant's brand (and whether it is
// disabled) and whether a link's minting key is revoked: a disabled tenant's portal, and the
// links and sessions of a revoked key, are refused within CacheTTL (the reads are strongly
// consistent), inside the 10 s that the API's authorizer promises too.
const CacheTTL = 5 * time.Second

// Config is what New needs. Profiles, Store, Pages, Keys and Links are required.
type Config struct {
	Profiles Profiles
	Store    Store
	Pages    Pages
	// Keys seal sessions and make CSRF tokens (session.NewKeys over the portal secret).
	Keys *session.Keys
	// Links verifies portal links and signs login links (the portal secret, current key
	// first, then the previous one).
	Links *portallink.Signer
	// Mailer sends login links; Login needs it (without one it sends nothing and logs).
	Mailer Mailer
	// Requests and Exports are optional (see their docs).
	Requests Requests
	Exports  Exports
	// ExportLinkTTL is the lifetime of an export download URL; default DefaultExportLinkTTL.
	ExportLinkTTL time.Duration
	// BaseURL is where portal URLs in emails start (PORTAL_BASE_URL); empty derives
	// https://<API domain>/portal from each request.
	BaseURL string
	Limits  Limits
	// LoginFloor is the least time a login POST takes, whether or not the address is
	// known, so that timing tells nothing; default DefaultLoginFloor.
	LoginFloor time.Duration
	Log        *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Sleep waits (it pads login timing); default a context-aware timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration)
}

// Portal builds the portal's handlers. It is safe for concurrent use.
type Portal struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	brands *cache.TTL[Brand]
	keys   *cache.TTL[bool] // "<tenant>/<key id>" -> the minting key is active
}

// Actors the portal records in the ledger. None holds personal data.
var (
	// PersonActor is the signed-in person acting in the portal.
	PersonActor = ledger.Actor{Kind: ledger.ActorPortal}
	// GPCActor is the browser's Global Privacy Control signal, honoured in the portal.
	GPCActor = ledger.Actor{Kind: ledger.ActorPortal, ID: "gpc"}
	// OneClickActor is an RFC 8058 one-click unsubscribe from an email.
	OneClickActor = ledger.Actor{Kind: ledger.ActorPortal, ID: "list-unsubscribe"}
)

// New returns the portal over cfg.
func New(cfg Config) (*Portal, error) {
	switch {
	case cfg.Profiles == nil:
		return nil, errors.New("portal: Profiles is required")
	case cfg.Store == nil:
		return nil, errors.New("portal: Store is required")
	case cfg.Pages == nil:
		return nil, errors.New("portal: Pages is required")
	case cfg.Keys == nil:
		return nil, errors.New("portal: Keys is required")
	case cfg.Links == nil:
		return nil, errors.New("portal: Links is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	if cfg.LoginFloor == 0 {
		cfg.LoginFloor = DefaultLoginFloor
	}
	if cfg.ExportLinkTTL == 0 {
		cfg.ExportLinkTTL = DefaultExportLinkTTL
	}
	if cfg.Limits.PerAddress == 0 {
		cfg.Limits.PerAddress = 5
	}
	if cfg.Limits.PerIP == 0 {
		cfg.Limits.PerIP = 20
	}
	if cfg.Limits.Window == 0 {
		cfg.Limits.Window = time.Hour
	}
	return &Portal{cfg: cfg, log: cfg.Log, now: cfg.Now, brands: cache.New[Brand](CacheTTL, cfg.Now),
		keys: cache.New[bool](CacheTTL, cfg.Now)}, nil
}

// minterActive reports whether the API key that minted a link (or the session it opened)
// still vouches for it; "" is the portal's own login link, which no key minted.
func (p *Portal) minterActive(ctx context.Context, tenant, keyID string) (bool, error) {
	if keyID == "" {
		return true, nil
	}
	return p.keys.Get(ctx, tenant+"/"+keyID, func(ctx context.Context) (bool, error) {
		read, err := p.cfg.Pages.ReadPage(ctx, tenant, PageQuery{KeyID: keyID})
		return read.KeyActive, err
	})
}

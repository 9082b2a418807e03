// Package authorizer is the HTTP API Lambda authorizer: it accepts "Authorization: Bearer
// <api key>", checks the key's digest and that the key's tenant is not disabled, and passes
// tenant, key id and scopes to the routes. Scopes are enforced by each route, because API
// Gateway caches one answer per key for all routes.
//
// A revoked key or a disabled tenant is refused within Bound (10 s): a warm container
// keeps what it read for at most CacheTTL (5 s), and API Gateway keeps the authorizer's
// answer for at most GatewayCacheMax (template.yaml's AuthorizerCacheSeconds, at most 5).
// The reads are strongly consistent, so the bound starts at the write.
//
// Cost: a cache miss is one DynamoDB request, a BatchGetItem of the key and its tenant; only
// the first miss for a key in a container, before it knows the key's tenant, is two
// GetItems (key, then tenant).
package authorizer

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/cache"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// Store reads API keys and their tenants; *dynamo.Store has it.
type Store interface {
	// Key reads an API key by id; an unknown id is errs.NotFound.
	Key(ctx context.Context, id string) (*apikey.Key, error)
	// TenantActive reports whether a tenant exists and is not disabled.
	TenantActive(ctx context.Context, tenant string) (bool, error)
	// KeyAndTenant reads a key and whether tenant is active, with one request.
	KeyAndTenant(ctx context.Context, id, tenant string) (*apikey.Key, bool, error)
}

// The revocation bound and its parts (see the package doc).
const (
	CacheTTL        = 5 * time.Second
	GatewayCacheMax = 5 * time.Second
	Bound           = CacheTTL + GatewayCacheMax
)

// Context keys the routes read from requestContext.authorizer.lambda.
const (
	CtxTenant = "tenant"
	CtxKeyID  = "keyId"
	CtxScopes = "scopes"
)

// Authorizer is safe for concurrent use.
type Authorizer struct {
	store Store
	log   *slog.Logger
	cache *cache.TTL[grant]

	mu      sync.Mutex
	tenants map[string]string // key id -> its tenant, which never changes
}

// grant is what the authorizer read for one key.
type grant struct {
	key    *apikey.Key
	active bool // the key's tenant exists and is not disabled
}

// New returns an authorizer that keeps each key and its tenant's state for ttl (CacheTTL in
// production) by the clock now; a revoked key or disabled tenant is refused within ttl plus
// API Gateway's own authorizer cache time.
func New(store Store, log *slog.Logger, ttl time.Duration, now func() time.Time) *Authorizer {
	return &Authorizer{store: store, log: log, cache: cache.New[grant](ttl, now), tenants: map[string]string{}}
}

// Handle answers one authorization request. It only errors when the key store fails, which
// API Gateway turns into a 500; a bad or unknown key is a plain "not authorized".
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	deny := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	plain, ok := bearer(req.Headers["authorization"])
	if !ok {
		return deny, nil
	}
	id, ok := apikey.ParseID(plain)
	if !ok {
		return deny, nil
	}
	g, err := a.grant(ctx, id)
	k := g.key
	if errs.CodeOf(err) == errs.NotFound {
		a.log.InfoContext(ctx, "unknown api key", "keyId", id)
		return deny, nil
	}
	if err != nil {
		a.log.ErrorContext(ctx, "read api key", "keyId", id, "err", err)
		return deny, err
	}
	if !k.Matches(plain) || !apikey.ValidTenant(k.Tenant) {
		a.log.InfoContext(ctx, "api key refused", "keyId", id, "revoked", k.RevokedAt != nil)
		return deny, nil
	}
	if !g.active {
		a.log.InfoContext(ctx, "api key of a disabled or unknown tenant refused", "keyId", id, "tenant", k.Tenant)
		return deny, nil
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			CtxTenant: k.Tenant, CtxKeyID: k.ID, CtxScopes: apikey.FormatScopes(k.Scopes),
		},
	}, nil
}

// grant returns the key and its tenant's state, from the cache or with one request (two
// the first time a container sees the key).
func (a *Authorizer) grant(ctx context.Context, id string) (grant, error) {
	return a.cache.Get(ctx, id, func(ctx context.Context) (grant, error) {
		a.mu.Lock()
		tenant, known := a.tenants[id]
		a.mu.Unlock()
		if known {
			k, active, err := a.store.KeyAndTenant(ctx, id, tenant)
			if err != nil {
				return grant{}, err
			}
			return grant{key: k, active: active && k.Tenant == tenant}, nil
		}
		k, err := a.store.Key(ctx, id)
		if err != nil {
			return grant{}, err
		}
		if !apikey.ValidTenant(k.Tenant) {
			return grant{key: k}, nil
		}
		active, err := a.store.TenantActive(ctx, k.Tenant)
		if err != nil {
			return grant{}, err
		}
		a.mu.Lock()
		a.tenants[id] = k.Tenant
		a.mu.Unlock()
		return grant{key: k, active: active}, nil
	})
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Package authorizer is the HTTP API Lambda authorizer: it accepts "Authorization: Bearer
// <api key>", checks the key's digest, and passes tenant, key id and scopes to the routes.
// Scopes are enforced by each route, because API Gateway caches one answer per key for all
// routes.
package authorizer

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/cache"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// Keys finds stored API keys by id.
type Keys interface {
	Key(ctx context.Context, id string) (*apikey.Key, error)
}

// Context keys the routes read from requestContext.authorizer.lambda.
const (
	CtxTenant = "tenant"
	CtxKeyID  = "keyId"
	CtxScopes = "scopes"
)

// Authorizer is safe for concurrent use.
type Authorizer struct {
	keys  Keys
	log   *slog.Logger
	cache *cache.TTL[*apikey.Key]
}

// New returns an authorizer. Keys are cached in the warm container for ttl; a revoked key
// is refused within ttl plus API Gateway's own authorizer cache time.
func New(keys Keys, log *slog.Logger, ttl time.Duration) *Authorizer {
	return &Authorizer{keys: keys, log: log, cache: cache.New[*apikey.Key](ttl, time.Now)}
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
	k, err := a.key(ctx, id)
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
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			CtxTenant: k.Tenant, CtxKeyID: k.ID, CtxScopes: apikey.FormatScopes(k.Scopes),
		},
	}, nil
}

func (a *Authorizer) key(ctx context.Context, id string) (*apikey.Key, error) {
	return a.cache.Get(ctx, id, func(ctx context.Context) (*apikey.Key, error) { return a.keys.Key(ctx, id) })
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

package apigw

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/eventsource"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// authorizer is a Lambda authorizer with its result cache.
type authorizer struct {
	cfg     template.Authorizer
	fn      eventsource.Function
	handler wire.AuthorizerHandler
	ttl     time.Duration

	mu    sync.Mutex
	cache map[string]cachedDecision
}

type cachedDecision struct {
	resp    events.APIGatewayV2CustomAuthorizerSimpleResponse
	expires time.Time
}

// identity returns the identity-source header values in the order the authorizer declares
// them, and false when one is missing or empty: API Gateway then answers 401 without
// invoking the authorizer.
func (a *authorizer) identity(r *http.Request) ([]string, bool) {
	values := make([]string, 0, len(a.cfg.IdentityHeaders))
	for _, h := range a.cfg.IdentityHeaders {
		v := strings.Join(r.Header.Values(h), ",")
		if v == "" {
			return nil, false
		}
		values = append(values, v)
	}
	return values, true
}

// decide returns the authorizer's decision for the request, from the cache when a decision
// for the same identity-source values is younger than the TTL.
func (a *authorizer) decide(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (resp events.APIGatewayV2CustomAuthorizerSimpleResponse, err error) {
	// NUL cannot occur in header or query values, so the key is unambiguous.
	key := strings.Join(req.IdentitySource, "\x00")
	if a.ttl > 0 {
		a.mu.Lock()
		d, ok := a.cache[key]
		a.mu.Unlock()
		if ok && time.Now().Before(d.expires) {
			return d.resp, nil
		}
	}
	if resp, err = eventsource.Invoke(ctx, a.fn, a.handler, req); err != nil {
		return resp, err
	}
	// A deployed authorizer's response reaches API Gateway as JSON, so the route's function
	// sees the context's numbers as float64 and its slices as []any; so does the local one.
	if resp, err = eventsource.ViaJSON(resp); err != nil {
		return resp, fmt.Errorf("authorizer response: %w", err)
	}
	if a.ttl > 0 {
		a.mu.Lock()
		// Drop expired entries while here, so the cache stays as small as the live identities.
		now := time.Now()
		maps.DeleteFunc(a.cache, func(_ string, d cachedDecision) bool { return !now.Before(d.expires) })
		a.cache[key] = cachedDecision{resp: resp, expires: now.Add(a.ttl)}
		a.mu.Unlock()
	}
	return resp, nil
}

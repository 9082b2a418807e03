package authorizer_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

// The authorizer tests read keys from a table on the embedded emulator, provisioned from
// template.yaml, through a real SDK client.

var store *dynamo.Store

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "authz", func(ctx context.Context, e *testenv.Env) error {
		store = e.Store
		for _, t := range []string{"acme", "initech"} {
			if err := store.PutTenant(ctx, dynamo.Tenant{ID: t, Name: t}); err != nil {
				return err
			}
		}
		return nil
	}))
}

// countingStore is the store, counting the DynamoDB requests the authorizer makes.
type countingStore struct {
	*dynamo.Store
	reads atomic.Int32
}

func (c *countingStore) Key(ctx context.Context, id string) (*apikey.Key, error) {
	c.reads.Add(1)
	return c.Store.Key(ctx, id)
}

func (c *countingStore) TenantActive(ctx context.Context, tenant string) (bool, error) {
	c.reads.Add(1)
	return c.Store.TenantActive(ctx, tenant)
}

func (c *countingStore) KeyAndTenant(ctx context.Context, id, tenant string) (*apikey.Key, bool, error) {
	c.reads.Add(1)
	return c.Store.KeyAndTenant(ctx, id, tenant)
}

// clock is a settable clock for the authorizer's cache.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Now().UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func newKey(t *testing.T, tenant string, scopes ...apikey.Scope) (string, apikey.Key) {
	t.Helper()
	plain, k := apikey.New(tenant, "test", scopes, time.Now().UTC())
	if err := store.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return plain, k
}

func request(authorization string) events.APIGatewayV2CustomAuthorizerV2Request {
	return events.APIGatewayV2CustomAuthorizerV2Request{Type: "REQUEST", Headers: map[string]string{"authorization": authorization}}
}

// TestHandle: a valid key passes its tenant, id and scopes; every other credential is
// refused without an error.
func TestHandle(t *testing.T) {
	ctx := context.Background()
	a := authorizer.New(store, quiet, time.Minute, time.Now)
	plain, k := newKey(t, "acme", apikey.Read, apikey.Write)
	ghost, _ := newKey(t, "no-such-tenant", apikey.Admin)
	revoked, rk := newKey(t, "acme", apikey.Admin)
	if err := store.RevokeKey(ctx, "acme", rk.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	unknown, _ := apikey.New("acme", "never stored", []apikey.Scope{apikey.Admin}, time.Now())
	// The right id with another secret.
	forged := plain[:strings.LastIndex(plain, "_")+1] + strings.Repeat("A", len(plain)-strings.LastIndex(plain, "_")-1)
	t.Run("valid key", func(t *testing.T) {
		for _, h := range []string{"Bearer " + plain, "bearer " + plain, "  Bearer   " + plain + " "} {
			resp, err := a.Handle(ctx, request(h))
			if err != nil || !resp.IsAuthorized {
				t.Fatalf("%q: %+v, %v", h, resp, err)
			}
			c := resp.Context
			if c[authorizer.CtxTenant] != "acme" || c[authorizer.CtxKeyID] != k.ID || c[authorizer.CtxScopes] != apikey.FormatScopes(k.Scopes) {
				t.Fatalf("context %v, want tenant acme, key %s, scopes %s", c, k.ID, apikey.FormatScopes(k.Scopes))
			}
		}
	})
	deny := []struct{ name, header string }{
		{"revoked", "Bearer " + revoked},
		{"tenant unknown", "Bearer " + ghost},
		{"unknown", "Bearer " + unknown},
		{"wrong secret", "Bearer " + forged},
		{"malformed", "Bearer not-a-key"},
		{"other scheme", "Basic " + plain},
		{"no token", "Bearer "},
		{"empty", ""},
	}
	for _, tt := range deny {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := a.Handle(ctx, request(tt.header))
			if err != nil || resp.IsAuthorized || resp.Context != nil {
				t.Fatalf("%+v, %v; want a plain deny", resp, err)
			}
		})
	}
}

// TestCache: a warm container reads a key and its tenant once per TTL, with one request
// (two the first time), so a revocation or a tenant's disabling takes effect when the TTL
// has passed, and not before.
func TestCache(t *testing.T) {
	ctx := context.Background()
	const ttl = authorizer.CacheTTL
	if authorizer.Bound > 10*time.Second || authorizer.CacheTTL+authorizer.GatewayCacheMax != authorizer.Bound {
		t.Fatalf("Bound %v is not CacheTTL %v + GatewayCacheMax %v within 10 s", authorizer.Bound, authorizer.CacheTTL, authorizer.GatewayCacheMax)
	}
	type step struct {
		name    string
		before  func(k apikey.Key)
		allowed bool
		reads   int32
	}
	revoke := func(k apikey.Key) {
		if err := store.RevokeKey(ctx, k.Tenant, k.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	setDisabled := func(disabled bool) func(apikey.Key) {
		return func(k apikey.Key) {
			if err := store.SetTenantDisabled(ctx, k.Tenant, disabled); err != nil {
				t.Fatal(err)
			}
		}
	}
	var clk *clock
	wait := func(d time.Duration) func(apikey.Key) { return func(apikey.Key) { clk.advance(d) } }
	tests := []struct {
		name   string
		tenant string
		steps  []step
	}{
		{"revoked key", "acme", []step{
			{"first request reads key and tenant", nil, true, 2},
			{"second is answered from the cache", nil, true, 2},
			{"revoked, within the TTL", revoke, true, 2},
			{"just before the TTL", wait(ttl - time.Millisecond), true, 2},
			{"at the TTL: one request reads both", wait(time.Millisecond), false, 3},
		}},
		{"disabled tenant", "initech", []step{
			{"first request", nil, true, 2},
			{"disabled, within the TTL", setDisabled(true), true, 2},
			{"after the TTL", wait(ttl), false, 3},
			{"enabled again, after the TTL", func(k apikey.Key) { setDisabled(false)(k); clk.advance(ttl) }, true, 4},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk = newClock()
			keys := &countingStore{Store: store}
			a := authorizer.New(keys, quiet, ttl, clk.now)
			plain, k := newKey(t, tt.tenant, apikey.Read)
			for _, s := range tt.steps {
				t.Run(s.name, func(t *testing.T) {
					if s.before != nil {
						s.before(k)
					}
					resp, err := a.Handle(ctx, request("Bearer "+plain))
					if err != nil {
						t.Fatal(err)
					}
					if resp.IsAuthorized != s.allowed {
						t.Fatalf("authorized %v, want %v", resp.IsAuthorized, s.allowed)
					}
					if n := keys.reads.Load(); n != s.reads {
						t.Fatalf("%d requests, want %d", n, s.reads)
					}
				})
			}
		})
	}
}

package localstack_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/portal/session"
)

// TestRevocationWithinBound: through the local stack (API Gateway's authorizer cache from
// template.yaml, warm containers), a revoked key is refused by the API, the portal session
// its link opened ends, and a disabled tenant's keys and portal are refused, all within
// authorizer.Bound of the write. It sleeps: it polls until each refusal, at most the bound.
func TestRevocationWithinBound(t *testing.T) {
	ctx := context.Background()
	store := dynamo.New(env.db, env.stack.Table)
	const off = "umbrella"
	if err := seed.Tenant(ctx, store, off, "Umbrella"); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, app.New(store, time.Now, 0), off, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	newKey := func(role, tn string, scopes ...apikey.Scope) apikey.Key {
		plain, k, err := seed.Key(ctx, store, tn, role, scopes)
		if err != nil {
			t.Fatal(err)
		}
		env.keys[role] = plain
		return k
	}
	revoked := newKey("trust-revoked", tenant, apikey.Read, apikey.PortalLinks)
	newKey("trust-off", off, apikey.Read)

	// A portal session opened by a link the soon revoked key minted.
	id, _ := newProfile(t, nil)
	link := must(t, do(t, call{method: "POST", path: "/v1/portal-links", key: "trust-revoked", body: map[string]any{"profileId": id}}), 201).json(t)["url"].(string)
	unused := must(t, do(t, call{method: "POST", path: "/v1/portal-links", key: "trust-revoked", body: map[string]any{"profileId": id}}), 201).json(t)["url"].(string)
	b := &portalClient{t: t, cookies: map[string]string{}, headers: map[string]string{}}
	page := wantStatus(t, b.do("GET", link, nil), 200)
	wantStatus(t, b.do("POST", link, url.Values{"csrf": {b.csrf(page)}}), 303)
	offPortal := &portalClient{t: t, cookies: map[string]string{}, headers: map[string]string{}}

	checks := []struct {
		name    string
		refused func() bool
	}{
		{"the revoked key on the API", func() bool {
			return do(t, call{method: "GET", path: "/v1/catalog", key: "trust-revoked"}).status == 403
		}},
		{"the revoked key's portal session", func() bool {
			r := b.do("GET", "/portal/"+tenant, nil)
			return r.status == 303 && strings.Contains(r.header.Get("Location"), "/login") && b.cookies[session.CookieName(tenant)] == ""
		}},
		{"the revoked key's unused link", func() bool {
			return (&portalClient{t: t, cookies: map[string]string{}}).do("GET", unused, nil).status == 404
		}},
		{"the disabled tenant's key on the API", func() bool {
			return do(t, call{method: "GET", path: "/v1/catalog", key: "trust-off"}).status == 403
		}},
		{"the disabled tenant's portal", func() bool { return offPortal.do("GET", "/portal/"+off+"/login", nil).status == 404 }},
	}
	// Warm every cache with an allowed answer, then revoke and disable at once.
	for _, c := range checks {
		if c.refused() {
			t.Fatalf("%s is refused before the revocation", c.name)
		}
	}
	if err := store.RevokeKey(ctx, tenant, revoked.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := store.SetTenantDisabled(ctx, off, true); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	deadline := at.Add(authorizer.Bound)
	pending := map[string]func() bool{}
	for _, c := range checks {
		pending[c.name] = c.refused
	}
	for len(pending) > 0 && time.Now().Before(deadline) {
		for name, refused := range pending {
			if refused() {
				t.Logf("%s: refused %v after the write", name, time.Since(at).Round(100*time.Millisecond))
				delete(pending, name)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	for name := range pending {
		t.Errorf("%s is still allowed %v after the write (bound %v)", name, time.Since(at).Round(time.Millisecond), authorizer.Bound)
	}
}

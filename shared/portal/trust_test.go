package portal_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

// TestRevocationReachesThePortal: revoking the key that minted a portal link refuses the
// link and ends the sessions it opened, and disabling a tenant closes its portal, each
// once portal.CacheTTL has passed on the portal's clock, and not before.
func TestRevocationReachesThePortal(t *testing.T) {
	ctx := context.Background()
	const tn = "initech"
	if err := seed.Tenant(ctx, env.store, tn, "Initech"); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, env.svc, tn, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.store.SetTenantDisabled(ctx, tn, false) })
	if portal.CacheTTL > 10*time.Second {
		t.Fatalf("portal.CacheTTL %v exceeds the 10 s revocation bound", portal.CacheTTL)
	}
	outwait := func() { skew.Add(int64(portal.CacheTTL)) }
	mintedBy := func(keyID string) func(*portallink.Claims) { return func(c *portallink.Claims) { c.APIKey = keyID } }
	open := func(b *browser, token string) {
		t.Helper()
		path := "/portal/" + tn + "/t/" + token
		page := must(t, b.get(path), 200)
		must(t, b.post(path, url.Values{"csrf": {csrf(t, page)}}), 303)
		if b.jar[session.CookieName(tn)] == "" {
			t.Fatal("no session cookie after opening the link")
		}
	}

	t.Run("revoked key", func(t *testing.T) {
		_, k, err := seed.Key(ctx, env.store, tn, "mailer", []apikey.Scope{apikey.PortalLinks})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := newProfile(t, tn, app.Create{})
		b := newBrowser(t)
		open(b, openToken(t, tn, p.ID, mintedBy(k.ID)))
		unused := "/portal/" + tn + "/t/" + openToken(t, tn, p.ID, mintedBy(k.ID))
		must(t, b.get("/portal/"+tn), 200)
		if err := env.store.RevokeKey(ctx, tn, k.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		must(t, b.get("/portal/"+tn), 200) // within CacheTTL: still the cached answer
		outwait()
		r := must(t, b.get("/portal/"+tn), 303)
		if !strings.HasSuffix(r.headers["Location"], "/login?expired=1") {
			t.Fatalf("the session of a revoked key's link goes to %q, want the login page", r.headers["Location"])
		}
		if b.jar[session.CookieName(tn)] != "" {
			t.Fatal("the session cookie was kept")
		}
		must(t, newBrowser(t).get(unused), 404)
		// The person's own login link was minted by no key and still works.
		other := newBrowser(t)
		other.signIn(tn, p.ID)
		must(t, other.get("/portal/"+tn), 200)
	})

	t.Run("a key of another tenant vouches for nothing", func(t *testing.T) {
		_, k, err := seed.Key(ctx, env.store, tenant, "mailer", []apikey.Scope{apikey.PortalLinks})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := newProfile(t, tn, app.Create{})
		must(t, newBrowser(t).get("/portal/"+tn+"/t/"+openToken(t, tn, p.ID, mintedBy(k.ID))), 404)
	})

	t.Run("disabled tenant", func(t *testing.T) {
		_, k, err := seed.Key(ctx, env.store, tn, "mailer", []apikey.Scope{apikey.PortalLinks})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := newProfile(t, tn, app.Create{})
		b := newBrowser(t)
		open(b, openToken(t, tn, p.ID, mintedBy(k.ID)))
		if err := env.store.SetTenantDisabled(ctx, tn, true); err != nil {
			t.Fatal(err)
		}
		must(t, b.get("/portal/"+tn), 200)
		outwait()
		must(t, b.get("/portal/"+tn), 404)
		must(t, newBrowser(t).get("/portal/"+tn+"/login"), 404)
		if err := env.store.SetTenantDisabled(ctx, tn, false); err != nil {
			t.Fatal(err)
		}
		outwait()
		must(t, b.get("/portal/"+tn), 200)
	})
}

package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// TestReads: one Do fills every destination whose item exists, leaves the others as they
// were, answers a portal session's revocation as PortalSessionRevoked does, and reads a
// key asked for twice once.
func TestReads(t *testing.T) {
	ctx := context.Background()
	p := newPerson(t, tenant)
	key := apikey.Key{ID: testenv.Unique("k"), Tenant: tenant, Name: "reads", Hash: "h", Scopes: []apikey.Scope{apikey.Read}, CreatedAt: time.Now()}
	if err := env.store.PutKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	revoked, open := testenv.Unique("ps"), testenv.Unique("ps")
	if err := env.store.RevokePortalSession(ctx, tenant, revoked, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                    string
		tenant, profileID, sess string
		wantTenant, wantCatalog bool
		wantProfile, wantKey    bool
		wantRevoked             bool
	}{
		{name: "all there", tenant: tenant, profileID: p.ID, sess: revoked,
			wantTenant: true, wantCatalog: true, wantProfile: true, wantKey: true, wantRevoked: true},
		{name: "an open session and another tenant's profile id", tenant: otherTenant, profileID: p.ID, sess: open,
			wantTenant: true, wantCatalog: true, wantKey: true},
		{name: "nothing there", tenant: testenv.Unique("none"), profileID: "p_none", sess: open, wantKey: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var (
				tn    *dynamo.Tenant
				cat   *catalog.Catalog
				prof  *profile.Profile
				k, k2 *apikey.Key
				rev   bool
			)
			r := env.store.Reads()
			r.Tenant(c.tenant, &tn)
			r.Catalog(c.tenant, &cat)
			r.Profile(c.tenant, c.profileID, &prof)
			r.PortalSessionRevoked(c.tenant, c.sess, &rev)
			r.Key(key.ID, &k2)
			r.Key(key.ID, &k) // the same item again: read once, for the last destination
			if err := r.Do(ctx); err != nil {
				t.Fatal(err)
			}
			if (tn != nil) != c.wantTenant || tn != nil && tn.ID != c.tenant {
				t.Errorf("tenant = %+v, want read %v", tn, c.wantTenant)
			}
			if (cat != nil) != c.wantCatalog || cat != nil && len(cat.Purposes) == 0 {
				t.Errorf("catalog = %+v, want read %v", cat, c.wantCatalog)
			}
			if (prof != nil) != c.wantProfile || prof != nil && prof.ID != p.ID {
				t.Errorf("profile = %+v, want read %v", prof, c.wantProfile)
			}
			if (k != nil) != c.wantKey || k != nil && k.Tenant != tenant || k2 != nil {
				t.Errorf("key = %+v, first destination %+v; want only the last filled", k, k2)
			}
			if want, err := env.store.PortalSessionRevoked(ctx, c.tenant, c.sess); err != nil || rev != want || rev != c.wantRevoked {
				t.Errorf("revoked = %v, PortalSessionRevoked %v (%v), want %v", rev, want, err, c.wantRevoked)
			}
		})
	}
	t.Run("nothing asked", func(t *testing.T) {
		if err := env.store.Reads().Do(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

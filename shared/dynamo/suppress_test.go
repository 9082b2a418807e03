package dynamo_test

import (
	"context"
	"testing"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// TestSuppressUnheld: an identity a live profile holds is left to that profile, one nobody
// holds is suppressed; Suppress and Suppressions agree on what was written.
func TestSuppressUnheld(t *testing.T) {
	ctx := context.Background()
	held := newPerson(t, tenant).Identities[0]
	free := profile.Identity{Type: "customer_id", Value: testenv.Unique("free")}
	if err := env.store.SuppressUnheld(ctx, tenant, []profile.Identity{held, free}); err != nil {
		t.Fatal(err)
	}
	got, err := env.store.Suppressions(ctx, tenant, []profile.Identity{held, free})
	if err != nil || len(got) != 1 || got[0] != free {
		t.Fatalf("suppressions %v (%v), want only the identity nobody holds", got, err)
	}
	if again := env.store.SuppressUnheld(ctx, tenant, []profile.Identity{free}); again != nil {
		t.Fatalf("a second suppression: %v", again)
	}
	if got, err := env.store.Suppressions(ctx, otherTenant, []profile.Identity{free}); err != nil || len(got) != 0 {
		t.Fatalf("suppressed in another tenant: %v %v", got, err)
	}
}

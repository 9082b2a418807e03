package portal_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// TestLoginOfErasedAddress: signing in with the address of an erased person answers as for
// any unknown address, sends nothing and brings no profile back: the portal only finds
// people, and every write it makes goes through the use cases that refuse erased identities.
func TestLoginOfErasedAddress(t *testing.T) {
	ctx := context.Background()
	p, addr := newProfile(t, tenant, app.Create{})
	// The erasure job's effect on the table: suppressed, then deleted.
	if _, err := env.store.LockProfile(ctx, tenant, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := env.store.Suppress(ctx, tenant, p.Identities); err != nil {
		t.Fatal(err)
	}
	if _, err := env.store.DeleteProfileData(ctx, tenant, p.ID, p.Identities); err != nil {
		t.Fatal(err)
	}
	erased := login(t, newBrowser(t), url.Values{"email": {addr}})
	unknown := login(t, newBrowser(t), url.Values{"email": {"nobody-" + addr}})
	if erased.status != 200 || erased.body != unknown.body {
		t.Fatalf("the answer for an erased address (%d) differs from an unknown one's", erased.status)
	}
	if n := len(env.mail.to(addr)); n != 0 {
		t.Fatalf("%d emails to the erased address", n)
	}
	if _, err := env.svc.FindProfile(ctx, tenant, "email:"+addr); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("a profile holds the erased address after the sign-in: %v", err)
	}
	if got, err := env.store.Suppressions(ctx, tenant, p.Identities); err != nil || len(got) != len(p.Identities) {
		t.Fatalf("suppressions after the sign-in: %v %v", got, err)
	}
}

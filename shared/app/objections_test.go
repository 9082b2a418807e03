package app_test

import (
	"context"
	"testing"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// TestPatchObjections: a PATCH may object only where Art. 21 gives the right (legitimate
// interests, public task, direct marketing) or to a sale or sharing (the GPC opt-out); to a
// purpose based on consent or contract it is refused naming the purpose, and nothing changes.
func TestPatchObjections(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		purpose string
		object  bool
		ok      bool
	}{
		{"analytics", true, true},        // legitimate interests
		{"marketing", true, true},        // consent, direct marketing (Art. 21(2))
		{"partners", true, true},         // consent, sale or sharing (GPC)
		{"personalisation", true, false}, // consent: withdraw instead
		{"service", true, false},         // contract: no right to object
		{"service", false, true},         // lifting is always allowed
	} {
		t.Run(tt.purpose, func(t *testing.T) {
			p := newPerson(t, tenant)
			res, err := env.svc.UpdateProfile(ctx, tenant, p.ID,
				app.Patch{Rights: &profile.RightsInput{Objections: map[string]bool{tt.purpose: tt.object}}}, testenv.Operator)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if _, got := res.Profile.Rights.Objections[tt.purpose]; got != tt.object {
					t.Fatalf("objection to %s recorded %v, want %v", tt.purpose, got, tt.object)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Unprocessable || len(e.Fields) != 1 || e.Fields[0].Field != "rights.objections."+tt.purpose {
				t.Fatalf("err = %v, want unprocessable rights.objections.%s", err, tt.purpose)
			}
			got, err := env.store.Profile(ctx, tenant, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != p.Version || len(got.Rights.Objections) != 0 {
				t.Fatalf("the refused patch changed the profile: version %d, objections %v", got.Version, got.Rights.Objections)
			}
		})
	}
}

package app_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/opendsr"
)

// filed returns an OpenDSR request of type typ for the person with email, under a new id.
func filed(t *testing.T, typ, email string) *opendsr.Request {
	t.Helper()
	body := fmt.Sprintf(`{"regulation":"gdpr","subject_request_id":"%s","subject_request_type":"%s","submitted_time":"2026-01-02T15:00:00Z",
		"subject_identities":[{"identity_type":"email","identity_value":"%s","identity_format":"raw"}],
		"status_callback_urls":["https://controller.example/callbacks"]}`, newUUID(t), typ, email)
	r, err := opendsr.ParseRequest([]byte(body), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newUUID makes a lowercase UUID v4 from a unique test value.
func newUUID(t *testing.T) string {
	h := fmt.Sprintf("%032x", []byte(testenv.Unique("u"))[:16])
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

func emailOfPerson(t *testing.T) (string, string) {
	p := newPerson(t, tenant)
	for _, id := range p.Identities {
		if id.Type == "email" {
			return p.ID, id.Value
		}
	}
	t.Fatal("no email")
	return "", ""
}

func TestFileOpenDSR(t *testing.T) {
	ctx := context.Background()
	protos := app.NewProtocols(env.svc, env.store)
	w := app.RequestWrite{Actor: testenv.Operator.Actor}

	t.Run("unattested erasure waits for the person, and is cancelled", func(t *testing.T) {
		pid, email := emailOfPerson(t)
		r := filed(t, "erasure", email)
		res, err := protos.FileOpenDSR(ctx, tenant, r, dsr.Unverified, "", "https://portal.example", w)
		if err != nil {
			t.Fatal(err)
		}
		if res.Request.ProfileID != pid || res.Request.Status != dsr.AwaitingVerification || res.Duplicate {
			t.Fatalf("filed %+v", res.Request)
		}
		again, err := protos.FileOpenDSR(ctx, tenant, r, dsr.Unverified, "", "", w)
		if err != nil || !again.Duplicate || again.Request.ID != res.Request.ID {
			t.Fatalf("filed again: %+v, %v", again, err)
		}
		got, err := protos.OpenDSRRequest(ctx, tenant, r.SubjectRequestID)
		if err != nil || got.ID != res.Request.ID || opendsr.StatusOf(got.Status) != opendsr.StatusPending {
			t.Fatalf("status: %+v, %v", got, err)
		}
		c, err := protos.CancelOpenDSR(ctx, tenant, r.SubjectRequestID, w)
		if err != nil || c.Status != dsr.Cancelled {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		if _, err := protos.CancelOpenDSR(ctx, tenant, r.SubjectRequestID, w); errs.CodeOf(err) != errs.Conflict {
			t.Errorf("second cancel: %v", err)
		}
	})

	t.Run("attested access is not waiting", func(t *testing.T) {
		_, email := emailOfPerson(t)
		res, err := protos.FileOpenDSR(ctx, tenant, filed(t, "access", email), dsr.AttestedBrand, "checked at the support desk", "", w)
		if err != nil || res.Request.Status != dsr.Pending || res.Request.Verification != dsr.AttestedBrand {
			t.Fatalf("filed %+v, %v", res.Request, err)
		}
	})

	t.Run("unknown person names the identity, and frees the id", func(t *testing.T) {
		r := filed(t, "access", testenv.Unique("nobody")+"@example.com")
		_, err := protos.FileOpenDSR(ctx, tenant, r, dsr.Unverified, "", "", w)
		e, ok := errs.As(err)
		if !ok || e.Code != errs.NotFound || !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool { return f.Field == "subject_identities[0]" }) {
			t.Fatalf("got %v", err)
		}
		if _, err := env.store.Filing(ctx, tenant, app.ProtocolOpenDSR, r.SubjectRequestID); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("the filing was kept: %v", err)
		}
	})

	t.Run("unknown and malformed ids, and other tenants", func(t *testing.T) {
		_, email := emailOfPerson(t)
		r := filed(t, "portability", email)
		if _, err := protos.FileOpenDSR(ctx, tenant, r, dsr.Unverified, "", "", w); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ tenant, id string }{
			{tenant, newUUID(t)}, {tenant, "not-a-uuid"}, {otherTenant, r.SubjectRequestID},
		} {
			if _, err := protos.OpenDSRRequest(ctx, c.tenant, c.id); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("%s %s: %v", c.tenant, c.id, err)
			}
		}
	})
}

package app_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/drp"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// signed seals a DRP message from agent for the tenant with key.
func signed(key ed25519.PrivateKey, agent, extra string) []byte {
	now := time.Now().UTC()
	msg := fmt.Sprintf(`{"agent-id":%q,"business-id":%q,"issued-at":%q,"expires-at":%q,"drp.version":"0.9.4"%s}`,
		agent, tenant, now.Add(-time.Second).Format(time.RFC3339), now.Add(5*time.Minute).Format(time.RFC3339), extra)
	return drp.Seal(key, []byte(msg))
}

func TestDRPAgent(t *testing.T) {
	ctx := context.Background()
	protos := app.NewProtocols(env.svc, env.store)
	w := app.RequestWrite{Actor: testenv.Operator.Actor}
	pub, key, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	agent := "AA_" + testenv.Unique("a")[:8]
	vk := base64.StdEncoding.EncodeToString(pub)

	t.Run("registration refuses bad keys and purposes", func(t *testing.T) {
		cases := []struct{ id, key, purpose, field string }{
			{"bad id!", vk, "", "id"},
			{agent, "AAAA", "", "verifyKey"},
			{agent, vk, "nope", "salePurpose"},
			{agent, vk, "service", "salePurpose"},
		}
		for _, c := range cases {
			_, err := protos.RegisterAgent(ctx, tenant, c.id, c.key, c.purpose)
			if e, ok := errs.As(err); !ok || !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool { return f.Field == c.field }) {
				t.Errorf("%+v: %v", c, err)
			}
		}
	})
	if _, err := protos.RegisterAgent(ctx, tenant, agent, vk, "partners"); err != nil {
		t.Fatal(err)
	}

	t.Run("pairing refuses another key, agent or business", func(t *testing.T) {
		for name, body := range map[string][]byte{
			"another key":      signed(otherKey, agent, ""),
			"another agent id": signed(key, "OTHER", ""),
		} {
			if _, err := protos.PairAgent(ctx, tenant, agent, body); errs.CodeOf(err) != errs.Forbidden {
				t.Errorf("%s: %v, want forbidden", name, err)
			}
		}
		if _, err := protos.PairAgent(ctx, otherTenant, agent, signed(key, agent, "")); errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("another tenant: %v", err)
		}
	})

	pair, err := protos.PairAgent(ctx, tenant, agent, signed(key, agent, ""))
	if err != nil || pair.AgentID != agent || pair.Token == "" {
		t.Fatalf("pair: %+v, %v", pair, err)
	}
	_, email := emailOfPerson(t)
	forged := []byte(pair.Token)
	forged[len(forged)-1] ^= 1 // another character of the URL-safe alphabet

	t.Run("a deletion waits for the person, reads back, and is revoked", func(t *testing.T) {
		st, err := protos.Exercise(ctx, tenant, pair.Token, signed(key, agent, `,"exercise":"deletion","regime":"ccpa","agent-request-id":"r-1","email":"`+email+`","email_verified":true`), w)
		if err != nil || st.Status != drp.StatusOpen || st.AgentRequestID != "r-1" || st.ExpectedBy == nil {
			t.Fatalf("exercise: %+v, %v", st, err)
		}
		again, err := protos.DRPStatus(ctx, tenant, pair.Token, st.RequestID)
		if err != nil || again.Status != drp.StatusOpen || again.RequestID != st.RequestID {
			t.Fatalf("status: %+v, %v", again, err)
		}
		if _, err := protos.Revoke(ctx, tenant, pair.Token, st.RequestID, drp.Seal(otherKey, []byte(`{"reason":"x"}`)), w); errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("revoke signed by another key: %v", err)
		}
		rv, err := protos.Revoke(ctx, tenant, pair.Token, st.RequestID, drp.Seal(key, []byte(`{"reason":"I changed my mind"}`)), w)
		if err != nil || rv.Status != drp.StatusRevoked {
			t.Fatalf("revoke: %+v, %v", rv, err)
		}
	})

	t.Run("a sale opt-out objects to the brand's purpose at once", func(t *testing.T) {
		st, err := protos.Exercise(ctx, tenant, pair.Token, signed(key, agent, `,"exercise":"sale:opt-out","email":"`+email+`"`), w)
		if err != nil || st.Status != drp.StatusFulfilled {
			t.Fatalf("exercise: %+v, %v", st, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		cases := []struct {
			name  string
			token string
			body  []byte
			code  errs.Code
			field string
		}{
			{"no token", "", signed(key, agent, `,"exercise":"access","email":"`+email+`"`), errs.Forbidden, ""},
			{"forged token", string(forged), signed(key, agent, `,"exercise":"access","email":"`+email+`"`), errs.Forbidden, ""},
			{"another key", pair.Token, signed(otherKey, agent, `,"exercise":"access","email":"`+email+`"`), errs.Forbidden, ""},
			{"unknown person", pair.Token, signed(key, agent, `,"exercise":"access","email":"nobody-`+testenv.Unique("n")+`@example.com"`), errs.NotFound, "email"},
			{"categories", pair.Token, signed(key, agent, `,"exercise":"access:categories","email":"`+email+`"`), errs.Invalid, "exercise"},
			{"plain JSON", pair.Token, []byte(`{"exercise":"access"}`), errs.Invalid, "(body)"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := protos.Exercise(ctx, tenant, c.token, c.body, w)
				e, ok := errs.As(err)
				if !ok || e.Code != c.code || c.field != "" && !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool { return f.Field == c.field }) {
					t.Errorf("got %v, want %s naming %q", err, c.code, c.field)
				}
			})
		}
	})

	t.Run("another agent cannot read the request", func(t *testing.T) {
		opub, okey, _ := ed25519.GenerateKey(nil)
		other := "BB_" + testenv.Unique("b")[:8]
		if _, err := protos.RegisterAgent(ctx, tenant, other, base64.StdEncoding.EncodeToString(opub), ""); err != nil {
			t.Fatal(err)
		}
		op, err := protos.PairAgent(ctx, tenant, other, signed(okey, other, ""))
		if err != nil {
			t.Fatal(err)
		}
		st, err := protos.Exercise(ctx, tenant, pair.Token, signed(key, agent, `,"exercise":"correction","email":"`+email+`"`), w)
		if err != nil || st.Status != drp.StatusInProgress {
			t.Fatalf("exercise: %+v, %v", st, err)
		}
		if _, err := protos.DRPStatus(ctx, tenant, op.Token, st.RequestID); errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("other agent's status: %v", err)
		}
		if _, err := protos.Exercise(ctx, tenant, op.Token, signed(okey, other, `,"exercise":"sale:opt-out","email":"`+email+`"`), w); errs.CodeOf(err) != errs.Unprocessable {
			t.Errorf("opt-out without a sale purpose: %v", err)
		}
	})
}

package localstack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/erasure"
)

// TestErasedStayErased: after an erasure through the real job, the API refuses every
// identity the person ever had (held at the erasure or removed before) on create, PATCH and
// sync with the erased problem, naming the field and never the value; a new sign-up with
// fresh consent evidence is created and ledgered.
func TestErasedStayErased(t *testing.T) {
	ctx := context.Background()
	tag := letters(10)
	mail, removed := "gone-"+tag+"@example.com", "old-"+tag+"@example.com"
	phone := fmt.Sprintf("+4878%07d", time.Now().UnixNano()/1000%1e7)
	id := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: map[string]any{"identities": []map[string]string{
		{"type": "email", "value": mail}, {"type": "phone", "value": phone}, {"type": "email", "value": removed}}}}), 201).json(t)["id"].(string)
	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write", body: map[string]any{
		"removeIdentities": []map[string]string{{"type": "email", "value": removed}}}}), 200)
	if err := newJobRig(t, env.stack.HandlerAWS, erasure.Options{}).job.Run(ctx, quietRequest(t, id)); err != nil {
		t.Fatal(err)
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id, key: "read"}), 404)

	live := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: map[string]any{
		"identities": []map[string]string{{"type": "email", "value": "live-" + tag + "@example.com"}}}}), 201).json(t)["id"].(string)
	erasedProblem := func(t *testing.T, r reply, field, value string) {
		t.Helper()
		p := isProblem(t, r)
		if r.status != 409 || p["type"] != "/problems/erased" || !namesField(p, field) {
			t.Fatalf("status %d, want 409 /problems/erased naming %s: %s", r.status, field, r.body)
		}
		if strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(value)) {
			t.Fatalf("the problem echoes the identity: %s", r.body)
		}
	}
	for _, c := range []struct{ name, typ, value string }{{"email", "email", mail}, {"phone", "phone", phone}, {"removed before", "email", removed}} {
		t.Run(c.name, func(t *testing.T) {
			erasedProblem(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: map[string]any{"identities": []map[string]string{
				{"type": "customer_id", "value": "C-" + letters(8)}, {"type": c.typ, "value": strings.ToUpper(c.value)}}}}), "identities[1]", c.value)
			erasedProblem(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + live, key: "write", body: map[string]any{
				"addIdentities": []map[string]string{{"type": c.typ, "value": c.value}}}}), "addIdentities[0]", c.value)
			change := sc("se-"+letters(8), c.value, time.Now(), map[string]any{"attributes": map[string]any{"givenName": "Back"}})
			change["identity"] = map[string]string{"type": c.typ, "value": c.value}
			a, _ := postSync(t, batch("crm", change), nil)
			if r := a.Results[0]; r.Status != "rejected" || r.Code != "erased" || r.Field != "identity" || r.ProfileID != "" {
				t.Fatalf("sync result %+v, want rejected/erased", r)
			}
		})
	}

	fresh := map[string]any{"purpose": "marketing", "source": "web_signup", "method": "double_opt_in",
		"capturedAt": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), "noticeVersion": 2}
	r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: map[string]any{
		"identities":     []map[string]string{{"type": "email", "value": mail}},
		"consents":       map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
		"signupEvidence": fresh}}), 201).json(t)
	var lifted []map[string]any
	for _, e := range ledgerOf(t, r["id"].(string)) {
		if e["type"] == "suppression.lifted" {
			lifted = append(lifted, e)
		}
	}
	if len(lifted) != 1 || lifted[0]["subject"] != "email" || lifted[0]["actor"].(map[string]any)["kind"] != "api_key" ||
		lifted[0]["new"].(map[string]any)["evidence"].(map[string]any)["method"] != "double_opt_in" {
		t.Fatalf("suppression.lifted events: %v", lifted)
	}
	// The phone stays suppressed: the evidence re-admitted only what the sign-up attached.
	erasedProblem(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + r["id"].(string), key: "write", body: map[string]any{
		"addIdentities": []map[string]string{{"type": "phone", "value": phone}}}}), "addIdentities[0]", phone)
}

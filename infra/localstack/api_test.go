package localstack_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func check(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	return must(t, do(t, call{method: "POST", path: "/v1/consent-checks", key: "read", body: body}), 200).json(t)
}

func wantCheck(t *testing.T, body map[string]any, allowed bool, reason string) {
	t.Helper()
	got := check(t, body)
	if got["allowed"] != allowed || got["reason"] != reason {
		t.Fatalf("check %v = %v/%v, want %v/%v", body, got["allowed"], got["reason"], allowed, reason)
	}
}

// TestProfileLifecycle is the brand's main journey: create, look up, consent, subscribe,
// check, withdraw, and read the verified ledger.
func TestProfileLifecycle(t *testing.T) {
	id, email := newProfile(t, map[string]any{"attributes": map[string]any{"givenName": "Jan", "locale": "pl"}})
	byID := map[string]any{"profileId": id, "purpose": "marketing"}
	byEmail := map[string]any{"identity": map[string]string{"type": "email", "value": strings.ToUpper(email)}, "purpose": "marketing"}

	got := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id, key: "read"}), 200)
	if got.headers.Get("ETag") != `"1"` || got.json(t)["attributes"].(map[string]any)["givenName"] != "Jan" {
		t.Fatalf("profile read: etag %q body %s", got.headers.Get("ETag"), got.body)
	}
	found := must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+strings.ToUpper(email)), key: "read"}), 200)
	if found.json(t)["id"] != id {
		t.Fatalf("find by identity returned %s", found.body)
	}
	wantCheck(t, byID, false, "no_consent")
	wantCheck(t, map[string]any{"identity": map[string]string{"type": "email", "value": "nobody@example.com"}, "purpose": "marketing"}, false, "no_profile")

	must(t, do(t, call{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", key: "write",
		body: map[string]any{"status": "granted", "noticeVersion": 2, "locale": "pl"}}), 200)
	wantCheck(t, byID, true, "allowed")
	wantCheck(t, byEmail, true, "allowed")
	wantCheck(t, map[string]any{"profileId": id, "topic": "newsletter", "channel": "email"}, false, "not_subscribed")

	must(t, do(t, call{method: "PUT", path: "/v1/profiles/" + id + "/subscriptions/offers", key: "write",
		body: map[string]any{"status": "subscribed", "channels": []string{"email", "sms"}, "frequency": "weekly"}}), 200)
	wantCheck(t, map[string]any{"profileId": id, "topic": "offers", "channel": "sms"}, true, "allowed")
	wantCheck(t, map[string]any{"profileId": id, "topic": "offers", "channel": "push"}, false, "channel_not_subscribed")
	wantCheck(t, map[string]any{"profileId": id, "topic": "newsletter", "channel": "sms"}, false, "channel_not_allowed")
	wantCheck(t, map[string]any{"profileId": id, "purpose": "service"}, true, "allowed")
	wantCheck(t, map[string]any{"profileId": id, "purpose": "personalisation"}, false, "no_consent")

	must(t, do(t, call{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", key: "write",
		body: map[string]any{"status": "withdrawn", "noticeVersion": 2}}), 200)
	wantCheck(t, byEmail, false, "consent_withdrawn")
	wantCheck(t, map[string]any{"profileId": id, "topic": "offers", "channel": "sms"}, false, "consent_withdrawn")

	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write",
		body: map[string]any{"rights": map[string]any{"restricted": true}}}), 200)
	wantCheck(t, map[string]any{"profileId": id, "purpose": "service"}, false, "restricted")
	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write",
		body: map[string]any{"rights": map[string]any{"restricted": false, "objections": map[string]bool{"analytics": true}}}}), 200)
	wantCheck(t, map[string]any{"profileId": id, "purpose": "analytics"}, false, "objected")

	evs := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id + "/events?limit=3", key: "read"}), 200).json(t)
	var types []string
	next, _ := evs["next"].(string)
	for page := evs; ; {
		if page["chain"].(map[string]any)["verified"] != true {
			t.Fatalf("ledger page does not verify: %v", page["chain"])
		}
		for _, e := range page["events"].([]any) {
			types = append(types, e.(map[string]any)["type"].(string))
		}
		if next == "" {
			break
		}
		page = must(t, do(t, call{method: "GET", path: next, key: "read"}), 200).json(t)
		next, _ = page["next"].(string)
	}
	want := []string{"profile.created", "identity.added", "profile.updated", "consent.changed", "subscription.changed",
		"consent.changed", "restriction.changed", "restriction.changed", "objection.changed"}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("ledger types\n got %v\nwant %v", types, want)
	}
}

// TestBatchCheck answers 100 checks in one call, in order.
func TestBatchCheck(t *testing.T) {
	id, email := newProfile(t, map[string]any{"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}}})
	var checks []map[string]any
	for i := range 100 {
		switch i % 3 {
		case 0:
			checks = append(checks, map[string]any{"profileId": id, "purpose": "marketing"})
		case 1:
			checks = append(checks, map[string]any{"identity": map[string]string{"type": "email", "value": email}, "purpose": "partners"})
		default:
			checks = append(checks, map[string]any{"identity": map[string]string{"type": "phone", "value": fmt.Sprintf("+4860000%04d", i)}, "purpose": "marketing"})
		}
	}
	res := must(t, do(t, call{method: "POST", path: "/v1/consent-checks", key: "read", body: map[string]any{"checks": checks}}), 200).json(t)
	results := res["results"].([]any)
	if len(results) != 100 {
		t.Fatalf("%d results", len(results))
	}
	want := []string{"allowed", "no_consent", "no_profile"}
	for i, r := range results {
		if got := r.(map[string]any)["reason"]; got != want[i%3] {
			t.Fatalf("result %d reason %v, want %v", i, got, want[i%3])
		}
	}
	checks = append(checks, checks[0])
	r := must(t, do(t, call{method: "POST", path: "/v1/consent-checks", key: "read", body: map[string]any{"checks": checks}}), 400)
	if !strings.Contains(string(r.body), `"field":"checks"`) {
		t.Fatalf("101 checks: %s", r.body)
	}
}

// TestCreateMatchesByIdentity: a second create with a known identity returns the same
// profile and attaches the new identity; identities of two profiles link them by the merge
// policy: an email (not trusted to merge on) proposes a candidate, once, and stays put; a
// customer id (trusted) merges, after which the absorbed id answers for the survivor.
func TestCreateMatchesByIdentity(t *testing.T) {
	id, email := newProfile(t, nil)
	r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: map[string]any{
		"identities": []map[string]string{{"type": "email", "value": email}, {"type": "phone", "value": "+48 600 100 200"}}}}), 200)
	if r.json(t)["id"] != id {
		t.Fatalf("matched a different profile: %s", r.body)
	}
	found := must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=phone:%2B48600100200", key: "read"}), 200)
	if found.json(t)["id"] != id {
		t.Fatalf("phone lookup: %s", found.body)
	}
	other, otherEmail := newProfile(t, nil)
	candidate := func(r reply) string {
		t.Helper()
		var v struct {
			ID    string `json:"id"`
			Links []struct {
				ProfileID, Outcome, CandidateID string
			} `json:"links"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil || v.ID != id || len(v.Links) != 1 || v.Links[0].Outcome != "candidate" || v.Links[0].ProfileID != other {
			t.Fatalf("want %s matched and a candidate with %s: %s", id, other, r.body)
		}
		return v.Links[0].CandidateID
	}
	c1 := candidate(must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: map[string]any{
		"identities": []map[string]string{{"type": "email", "value": email}, {"type": "email", "value": otherEmail}}}}), 200))
	c2 := candidate(must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write", body: map[string]any{
		"addIdentities": []map[string]string{{"type": "email", "value": otherEmail}}}}), 200))
	if c1 != c2 {
		t.Fatalf("the same pair proposed twice: %s, %s", c1, c2)
	}
	if got := must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=email:" + url.QueryEscape(otherEmail), key: "read"}), 200); got.json(t)["id"] != other {
		t.Fatalf("the proposed email moved: %s", got.body)
	}
	cust := "cust-" + other
	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + other, key: "write", body: map[string]any{
		"addIdentities": []map[string]string{{"type": "customer_id", "value": cust}}}}), 200)
	merged := must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write", body: map[string]any{
		"addIdentities": []map[string]string{{"type": "customer_id", "value": cust}}}}), 200)
	if !strings.Contains(string(merged.body), `"outcome":"merged"`) {
		t.Fatalf("a trusted link did not merge: %s", merged.body)
	}
	alias := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + other, key: "read"}), 200).json(t)
	if alias["id"] != id || alias["mergedInto"] != id {
		t.Fatalf("the absorbed id reads as %v (mergedInto %v), want %s", alias["id"], alias["mergedInto"], id)
	}
	check := must(t, do(t, call{method: "POST", path: "/v1/consent-checks", key: "read", body: map[string]any{"profileId": other, "purpose": "marketing"}}), 200).json(t)
	if check["profileId"] != id || check["mergedInto"] != id {
		t.Fatalf("a check by the absorbed id: %v", check)
	}
	// Merging needs the merge scope; write is not enough.
	must(t, do(t, call{method: "POST", path: "/v1/profiles/" + id + "/merges", key: "write", body: map[string]any{"profileId": other}}), 403)
	conflict := must(t, do(t, call{method: "POST", path: "/v1/profiles/" + id + "/merges", key: "admin", body: map[string]any{"profileId": other}}), 409)
	if !strings.Contains(string(conflict.body), `"field":"profileId"`) {
		t.Fatalf("merging an alias again does not name profileId: %s", conflict.body)
	}
}

// TestConcurrentUpdates: 50 writers to one profile at once all land.
func TestConcurrentUpdates(t *testing.T) {
	id, _ := newProfile(t, nil)
	var wg sync.WaitGroup
	statuses := make([]int, 50)
	for i := range 50 {
		wg.Go(func() {
			r := do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write",
				body: map[string]any{"attributes": map[string]any{"shoe_size": 100 + i}}})
			statuses[i] = r.status
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Fatalf("writer %d got %d", i, s)
		}
	}
	p := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id, key: "read"}), 200).json(t)
	if v := p["version"].(float64); v != 51 {
		t.Fatalf("version %v after 50 updates of version 1, want 51 (a change was lost)", v)
	}
	if seq := p["ledgerSeq"].(float64); seq != 52 {
		t.Fatalf("ledger holds %v events, want 2 + 50", seq)
	}
}

// TestIfMatch: a stale ETag is refused with 412 and changes nothing.
func TestIfMatch(t *testing.T) {
	id, _ := newProfile(t, nil)
	body := map[string]any{"attributes": map[string]any{"givenName": "A"}}
	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write", body: body, headers: map[string]string{"If-Match": `"1"`}}), 200)
	before := tableDigest(t)
	body = map[string]any{"attributes": map[string]any{"givenName": "B"}}
	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write", body: body, headers: map[string]string{"If-Match": `"1"`}}), 412)
	if tableDigest(t) != before {
		t.Fatal("a refused If-Match write changed the table")
	}
}

// TestIdempotencyReplays: 50 concurrent requests with one Idempotency-Key write one event
// and all get the first response.
func TestIdempotencyReplays(t *testing.T) {
	id, _ := newProfile(t, nil)
	var wg sync.WaitGroup
	replies := make([]reply, 50)
	for i := range 50 {
		wg.Go(func() {
			replies[i] = do(t, call{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", key: "write",
				body: map[string]any{"status": "granted", "noticeVersion": 2}, headers: map[string]string{"Idempotency-Key": "grant-" + id}})
		})
	}
	wg.Wait()
	for i, r := range replies {
		if r.status != 200 || string(r.body) != string(replies[0].body) {
			t.Fatalf("replay %d: %d %s\nfirst: %s", i, r.status, r.body, replies[0].body)
		}
	}
	p := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id, key: "read"}), 200).json(t)
	if seq := p["ledgerSeq"].(float64); seq != 3 {
		t.Fatalf("ledger holds %v events, want 3 (created, identity, one consent)", seq)
	}
	r := must(t, do(t, call{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", key: "write",
		body: map[string]any{"status": "denied", "noticeVersion": 2}, headers: map[string]string{"Idempotency-Key": "grant-" + id}}), 422)
	if !strings.Contains(string(r.body), "Idempotency-Key") {
		t.Fatalf("reuse with another body: %s", r.body)
	}
}

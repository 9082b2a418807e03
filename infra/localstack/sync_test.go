package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// syncAnswer is the body of a 200 answer of POST /v1/sync.
type syncAnswer struct {
	Source  string         `json:"source"`
	Results []syncResult   `json:"results"`
	Summary map[string]int `json:"summary"`
}

type syncResult struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	ProfileID string `json:"profileId"`
	Created   bool   `json:"created"`
	Unchanged bool   `json:"unchanged"`
	Code      string `json:"code"`
	Reason    string `json:"reason"`
	Field     string `json:"field"`
	Skipped   []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"skipped"`
}

func (r syncResult) skipped() []string {
	var out []string
	for _, s := range r.Skipped {
		out = append(out, s.Field)
	}
	return out
}

// postSync sends a batch and decodes its 200 answer.
func postSync(t *testing.T, body any, headers map[string]string) (syncAnswer, reply) {
	t.Helper()
	r := must(t, do(t, call{method: "POST", path: "/v1/sync", key: "write", body: body, headers: headers}), 200)
	var a syncAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("sync answer: %v: %s", err, r.body)
	}
	return a, r
}

// sc builds one change; fields are merged in.
func sc(id, email string, at time.Time, fields map[string]any) map[string]any {
	c := map[string]any{"id": id, "identity": map[string]string{"type": "email", "value": email}, "occurredAt": at.UTC().Format(time.RFC3339Nano)}
	for k, v := range fields {
		c[k] = v
	}
	return c
}

func batch(source string, changes ...map[string]any) map[string]any {
	return map[string]any{"source": source, "changes": changes}
}

var syncSeq struct {
	sync.Mutex
	n int
}

// syncEmail returns an email address no other test uses.
func syncEmail(tag string) string {
	syncSeq.Lock()
	defer syncSeq.Unlock()
	syncSeq.n++
	return fmt.Sprintf("sync-%s-%d-%d@example.com", tag, time.Now().UnixNano(), syncSeq.n)
}

func getProfile(t *testing.T, id string) map[string]any {
	t.Helper()
	return must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id, key: "read"}), 200).json(t)
}

// ledgerOf returns every ledger event of a profile, checking that the chain verifies.
func ledgerOf(t *testing.T, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	path := "/v1/profiles/" + id + "/events?limit=100"
	for path != "" {
		page := must(t, do(t, call{method: "GET", path: path, key: "read"}), 200).json(t)
		if page["chain"].(map[string]any)["verified"] != true {
			t.Fatalf("ledger does not verify: %v", page["chain"])
		}
		for _, e := range page["events"].([]any) {
			out = append(out, e.(map[string]any))
		}
		path, _ = page["next"].(string)
	}
	return out
}

func eventTypes(evs []map[string]any) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e["type"].(string))
	}
	return out
}

// syncStore is the store the tests use to stand in for jobs that are not built yet
// (the erasure job writes suppressions).
func syncStore() *dynamo.Store { return dynamo.New(env.db, env.stack.Table) }

// TestSyncMixedBatch: one batch with creates, an update of an identity created earlier in
// the batch, and changes that are rejected each for its own reason; the others apply.
func TestSyncMixedBatch(t *testing.T) {
	now := time.Now()
	ada, bob, nobody := syncEmail("ada"), syncEmail("bob"), syncEmail("nobody")
	cases := []struct {
		name          string
		change        map[string]any
		status, field string
		code          string
	}{
		{"create with everything", sc("c-1", ada, now.Add(-time.Hour), map[string]any{
			"attributes":    map[string]any{"givenName": "Ada", "loyalty_tier": "gold"},
			"consents":      map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
			"subscriptions": map[string]any{"newsletter": map[string]any{"status": "subscribed", "frequency": "weekly"}},
		}), "applied", "", ""},
		{"later change of the same person sees the earlier one", sc("c-2", strings.ToUpper(ada), now.Add(-30*time.Minute), map[string]any{
			"attributes": map[string]any{"givenName": "Adelajda"},
		}), "applied", "", ""},
		{"identity only creates a bare profile", sc("c-3", bob, now, nil), "applied", "", ""},
		{"undeclared attribute", sc("c-4", ada, now, map[string]any{"attributes": map[string]any{"ssn": "1"}}), "rejected", "attributes.ssn", "invalid"},
		{"attribute of the wrong type", sc("c-5", ada, now, map[string]any{"attributes": map[string]any{"shoe_size": "big"}}), "rejected", "attributes.shoe_size", "invalid"},
		{"unknown purpose", sc("c-6", ada, now, map[string]any{"consents": map[string]any{"spam": map[string]any{"status": "granted", "noticeVersion": 1}}}), "rejected", "consents.spam", "invalid"},
		{"future notice version", sc("c-7", ada, now, map[string]any{"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 9}}}), "rejected", "consents.marketing.noticeVersion", "invalid"},
		{"channel of another topic", sc("c-8", ada, now, map[string]any{"subscriptions": map[string]any{"newsletter": map[string]any{"status": "subscribed", "channels": []string{"sms"}}}}), "rejected", "subscriptions.newsletter.channels[0]", "invalid"},
		{"bad email", sc("c-9", "not-an-email", now, nil), "rejected", "identity.value", "invalid"},
		{"unknown identity type", map[string]any{"id": "c-10", "identity": map[string]string{"type": "ssn", "value": "1"}, "occurredAt": now.Format(time.RFC3339)}, "rejected", "identity.type", "invalid"},
		{"time in the future", sc("c-12", ada, now.Add(time.Hour), nil), "rejected", "occurredAt", "invalid"},
		{"repeated id", sc("c-1", ada, now, nil), "rejected", "id", "repeated_id"},
		{"email event for nobody", sc("c-13", nobody, now, map[string]any{"emailEvent": map[string]any{"type": "unsubscribe"}}), "rejected", "identity", "no_profile"},
		{"email event with attributes", sc("c-14", ada, now, map[string]any{"emailEvent": map[string]any{"type": "complaint"}, "attributes": map[string]any{"givenName": "X"}}), "rejected", "emailEvent", "invalid"},
		{"bounce without type", sc("c-15", ada, now, map[string]any{"emailEvent": map[string]any{"type": "bounce"}}), "rejected", "emailEvent.bounceType", "invalid"},
		{"unsubscribe from an unknown topic", sc("c-17", ada, now, map[string]any{"emailEvent": map[string]any{"type": "unsubscribe", "topic": "nope"}}), "rejected", "emailEvent.topic", "invalid"},
		{"email event for a phone", map[string]any{"id": "c-18", "identity": map[string]string{"type": "phone", "value": "+48600100200"}, "occurredAt": now.Format(time.RFC3339), "emailEvent": map[string]any{"type": "complaint"}}, "rejected", "identity.type", "invalid"},
	}
	var changes []map[string]any
	for _, c := range cases {
		changes = append(changes, c.change)
	}
	a, _ := postSync(t, batch("crm", changes...), nil)
	if len(a.Results) != len(cases) || a.Source != "crm" {
		t.Fatalf("%d results for %d changes, source %q", len(a.Results), len(cases), a.Source)
	}
	wantSummary := map[string]int{"applied": 3, "rejected": len(cases) - 3, "skippedStale": 0, "duplicate": 0, "deferred": 0}
	if fmt.Sprint(a.Summary) != fmt.Sprint(wantSummary) {
		t.Errorf("summary %v, want %v", a.Summary, wantSummary)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.Results[i]
			if r.ID != c.change["id"] || r.Status != c.status || r.Field != c.field || r.Code != c.code {
				t.Fatalf("result %+v, want status %s field %q code %q", r, c.status, c.field, c.code)
			}
			if r.Status == "rejected" && (r.Reason == "" || r.ProfileID != "") {
				t.Fatalf("rejected without a reason or with a profile: %+v", r)
			}
		})
	}
	if !a.Results[0].Created || a.Results[1].Created || a.Results[0].ProfileID == "" || a.Results[1].ProfileID != a.Results[0].ProfileID {
		t.Fatalf("create then update: %+v / %+v", a.Results[0], a.Results[1])
	}
	p := getProfile(t, a.Results[0].ProfileID)
	attrs := p["attributes"].(map[string]any)
	if attrs["givenName"] != "Adelajda" || attrs["loyalty_tier"] != "gold" {
		t.Errorf("attributes %v", attrs)
	}
	cons := p["consents"].(map[string]any)["marketing"].(map[string]any)
	if cons["status"] != "granted" || cons["source"].(map[string]any)["kind"] != "sync" {
		t.Errorf("consent %v", cons)
	}
	// The consent's time is the source's, so later changes compare in its time frame.
	if at, _ := time.Parse(time.RFC3339Nano, cons["updatedAt"].(string)); !at.Equal(now.Add(-time.Hour).UTC()) {
		t.Errorf("consent updatedAt %v, want the change's occurredAt %v", cons["updatedAt"], now.Add(-time.Hour).UTC())
	}
	wantCheck(t, map[string]any{"identity": map[string]string{"type": "email", "value": ada}, "topic": "newsletter", "channel": "email"}, true, "allowed")
	if bobP := getProfile(t, a.Results[2].ProfileID); len(bobP["identities"].([]any)) != 1 {
		t.Errorf("bare profile %v", bobP)
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+nobody), key: "read"}), 404)
}

// TestSyncLedgerActor: every event a sync change writes names the sync source as actor
// (the webhook dispatcher relies on it not to echo a change back to its source), and the
// chain verifies across sync and API writes.
func TestSyncLedgerActor(t *testing.T) {
	email := syncEmail("actor")
	now := time.Now()
	a, _ := postSync(t, batch("shop", sc("a-1", email, now.Add(-time.Minute), map[string]any{
		"attributes": map[string]any{"givenName": "Ola"},
		"consents":   map[string]any{"partners": map[string]any{"status": "granted", "noticeVersion": 1}},
	})), nil)
	id := a.Results[0].ProfileID
	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write", body: map[string]any{"attributes": map[string]any{"familyName": "Nowak"}}}), 200)
	postSync(t, batch("crm", sc("a-2", email, now, map[string]any{"emailEvent": map[string]any{"type": "complaint"}})), nil)

	evs := ledgerOf(t, id)
	want := []struct{ typ, kind, actor string }{
		{"profile.created", "sync", "shop"},
		{"identity.added", "sync", "shop"},
		{"profile.updated", "sync", "shop"},
		{"consent.changed", "sync", "shop"},
		{"profile.updated", "api_key", ""},
		{"identity.complained", "sync", "crm"},
	}
	if len(evs) != len(want) {
		t.Fatalf("ledger %v, want %d events", eventTypes(evs), len(want))
	}
	for i, w := range want {
		e := evs[i]
		actor := e["actor"].(map[string]any)
		if e["type"] != w.typ || actor["kind"] != w.kind || (w.actor != "" && actor["id"] != w.actor) || e["requestId"] == "" {
			t.Errorf("event %d: %v by %v, want %s by %s/%s", i, e["type"], actor, w.typ, w.kind, w.actor)
		}
	}
}

// TestSyncStale: a change older than what is recorded never overwrites it; the fields are
// named, the newer value is kept, and fields without a newer record still apply.
func TestSyncStale(t *testing.T) {
	id, email := newProfile(t, map[string]any{
		"attributes": map[string]any{"givenName": "Api"},
		"consents":   map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
	})
	now := time.Now()
	steps := []struct {
		name      string
		at        time.Time
		fields    map[string]any
		status    string
		skipped   []string
		givenName string
		marketing string
	}{
		{"older than the API write: every field stale", now.Add(-time.Hour), map[string]any{
			"attributes": map[string]any{"givenName": "Old"},
			"consents":   map[string]any{"marketing": map[string]any{"status": "withdrawn", "noticeVersion": 2}},
		}, "skipped_stale", []string{"attributes.givenName", "consents.marketing"}, "Api", "granted"},
		{"partly stale: the new field applies", now.Add(-time.Hour), map[string]any{
			"attributes": map[string]any{"givenName": "Old", "loyalty_tier": "silver"},
		}, "applied", []string{"attributes.givenName"}, "Api", "granted"},
		{"newer than the API write applies", now.Add(time.Minute), map[string]any{
			"attributes": map[string]any{"givenName": "Newest"},
			"consents":   map[string]any{"marketing": map[string]any{"status": "withdrawn", "noticeVersion": 2}},
		}, "applied", nil, "Newest", "withdrawn"},
		{"arriving late, older than the last sync", now.Add(30 * time.Second), map[string]any{
			"attributes": map[string]any{"givenName": "Late"},
			"consents":   map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
		}, "skipped_stale", []string{"attributes.givenName", "consents.marketing"}, "Newest", "withdrawn"},
		{"removing an attribute is recorded too", now.Add(2 * time.Minute), map[string]any{
			"attributes": map[string]any{"givenName": nil},
		}, "applied", nil, "", "withdrawn"},
		{"an older set cannot revive a removed attribute", now.Add(90 * time.Second), map[string]any{
			"attributes": map[string]any{"givenName": "Zombie"},
		}, "skipped_stale", []string{"attributes.givenName"}, "", "withdrawn"},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := getProfile(t, id)
			a, _ := postSync(t, batch("crm", sc(fmt.Sprintf("stale-%d-%d", now.UnixNano(), i), email, s.at, s.fields)), nil)
			r := a.Results[0]
			if r.Status != s.status || !slices.Equal(r.skipped(), s.skipped) || r.ProfileID != id {
				t.Fatalf("result %+v, want %s skipping %v", r, s.status, s.skipped)
			}
			if s.status == "skipped_stale" {
				for _, f := range s.skipped {
					if !strings.Contains(r.Reason, f) || r.Code != "newer_recorded" {
						t.Fatalf("reason %q (code %q) does not name %s", r.Reason, r.Code, f)
					}
				}
			}
			p := getProfile(t, id)
			if name, _ := p["attributes"].(map[string]any)["givenName"].(string); name != s.givenName {
				t.Errorf("givenName %q, want %q", name, s.givenName)
			}
			if st := p["consents"].(map[string]any)["marketing"].(map[string]any)["status"]; st != s.marketing {
				t.Errorf("marketing %v, want %s", st, s.marketing)
			}
			if s.status == "skipped_stale" && (p["version"] != before["version"] || p["ledgerSeq"] != before["ledgerSeq"]) {
				t.Errorf("a stale change wrote: version %v -> %v", before["version"], p["version"])
			}
		})
	}
}

// TestSyncReplay: the same batch sent again applies nothing twice and writes nothing: every
// change answers duplicate with its profile. With an Idempotency-Key the first answer is
// replayed verbatim instead. Concurrent copies of one batch apply each change once.
func TestSyncReplay(t *testing.T) {
	now := time.Now()
	e1, e2 := syncEmail("replay1"), syncEmail("replay2")
	_, _ = newProfileWithEmail(t, e2, map[string]any{"attributes": map[string]any{"givenName": "Kept"}})
	b := batch("crm",
		sc("r-1", e1, now.Add(-time.Minute), map[string]any{"attributes": map[string]any{"givenName": "Ewa"},
			"subscriptions": map[string]any{"offers": map[string]any{"status": "subscribed", "channels": []string{"email", "sms"}}}}),
		sc("r-2", e1, now.Add(-50*time.Second), map[string]any{"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}}}),
		sc("r-3", e1, now.Add(-40*time.Second), map[string]any{"emailEvent": map[string]any{"type": "unsubscribe", "topic": "offers"}}),
		sc("r-4", e2, now.Add(-time.Hour), map[string]any{"attributes": map[string]any{"givenName": "Stale"}}),
		sc("r-5", e1, now, map[string]any{"emailEvent": map[string]any{"type": "bounce", "bounceType": "soft"}}),
		sc("r-6", e1, now, map[string]any{"attributes": map[string]any{"givenName": "Ewa"}}),
	)
	first, _ := postSync(t, b, nil)
	wantStatus := []string{"applied", "applied", "applied", "skipped_stale", "applied", "applied"}
	for i, r := range first.Results {
		if r.Status != wantStatus[i] {
			t.Fatalf("first run, change %s: %+v, want %s", r.ID, r, wantStatus[i])
		}
	}
	if !first.Results[4].Unchanged || !first.Results[5].Unchanged {
		t.Fatalf("soft bounce and a same-value set change nothing: %+v %+v", first.Results[4], first.Results[5])
	}
	id := first.Results[0].ProfileID
	seq := getProfile(t, id)["ledgerSeq"]
	digest := tableDigest(t)

	again, _ := postSync(t, b, nil)
	for i, r := range again.Results {
		if r.Status != "duplicate" || r.ID != first.Results[i].ID || r.ProfileID != first.Results[i].ProfileID {
			t.Errorf("replay of %s: %+v, want duplicate of %+v", r.ID, r, first.Results[i])
		}
	}
	if again.Summary["duplicate"] != len(first.Results) {
		t.Errorf("summary %v", again.Summary)
	}
	if tableDigest(t) != digest || getProfile(t, id)["ledgerSeq"] != seq {
		t.Fatal("a replayed batch wrote to the table")
	}

	t.Run("Idempotency-Key", func(t *testing.T) {
		b := batch("crm", sc("k-1", syncEmail("idem"), now, map[string]any{"attributes": map[string]any{"givenName": "Iza"}}))
		h := map[string]string{"Idempotency-Key": "sync-" + fmt.Sprint(now.UnixNano())}
		_, r1 := postSync(t, b, h)
		_, r2 := postSync(t, b, h)
		if string(r1.body) != string(r2.body) || r2.headers.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay with the same key:\n%s\n%s", r1.body, r2.body)
		}
	})

	t.Run("concurrent copies", func(t *testing.T) {
		email := syncEmail("race")
		b := batch("crm",
			sc("x-1", email, now.Add(-time.Minute), map[string]any{"attributes": map[string]any{"givenName": "Race"}}),
			sc("x-2", email, now, map[string]any{"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}}}),
		)
		answers := make([]syncAnswer, 6)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() {
				r := do(t, call{method: "POST", path: "/v1/sync", key: "write", body: b})
				if r.status != 200 {
					t.Errorf("copy %d: %d %s", i, r.status, r.body)
					return
				}
				_ = json.Unmarshal(r.body, &answers[i])
			})
		}
		wg.Wait()
		applied := map[string]int{}
		var pid string
		for _, a := range answers {
			for _, r := range a.Results {
				if r.Status == "applied" {
					applied[r.ID]++
				} else if r.Status != "duplicate" {
					t.Errorf("copy answered %+v", r)
				}
				if pid == "" {
					pid = r.ProfileID
				}
				if r.ProfileID != pid {
					t.Errorf("two profiles for one identity: %s and %s", pid, r.ProfileID)
				}
			}
		}
		if applied["x-1"] != 1 || applied["x-2"] != 1 {
			t.Fatalf("applied counts %v, want each change once", applied)
		}
		if got := eventTypes(ledgerOf(t, pid)); fmt.Sprint(got) != "[profile.created identity.added profile.updated consent.changed]" {
			t.Fatalf("ledger %v", got)
		}
	})
}

// newProfileWithEmail creates a profile through the API with a given email.
func newProfileWithEmail(t *testing.T, email string, extra map[string]any) (string, map[string]any) {
	t.Helper()
	body := map[string]any{"identities": []map[string]string{{"type": "email", "value": email}}}
	for k, v := range extra {
		body[k] = v
	}
	r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: body}), 201).json(t)
	return r["id"].(string), r
}

// TestSyncEmailEvents: unsubscribes, complaints and bounces from an email service turn
// email off where the person had it, and consent checks answer accordingly.
func TestSyncEmailEvents(t *testing.T) {
	email := syncEmail("esp")
	id, _ := newProfileWithEmail(t, email, map[string]any{
		"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
		"subscriptions": map[string]any{
			"newsletter": map[string]any{"status": "subscribed"},
			"offers":     map[string]any{"status": "subscribed", "channels": []string{"email", "sms"}},
			"orders":     map[string]any{"status": "subscribed", "channels": []string{"email"}},
		},
	})
	byEmail := func(topic, channel string) map[string]any {
		return map[string]any{"identity": map[string]string{"type": "email", "value": email}, "topic": topic, "channel": channel}
	}
	wantCheck(t, byEmail("offers", "email"), true, "allowed")
	now := time.Now()
	steps := []struct {
		name    string
		at      time.Time
		event   map[string]any
		status  string
		skipped []string
		checks  [][3]string // topic, channel, reason
		events  []string    // ledger event types the step adds
	}{
		{"unsubscribe from a topic removes email, keeps sms", now.Add(time.Second), map[string]any{"type": "unsubscribe", "topic": "offers"}, "applied", nil,
			[][3]string{{"offers", "email", "channel_not_subscribed"}, {"offers", "sms", "allowed"}, {"newsletter", "email", "allowed"}},
			[]string{"subscription.changed"}},
		{"an unsubscribe older than the subscription is stale", now.Add(-time.Hour), map[string]any{"type": "unsubscribe", "topic": "newsletter"}, "skipped_stale", []string{"subscriptions.newsletter"},
			[][3]string{{"newsletter", "email", "allowed"}}, nil},
		{"unsubscribe without topic turns email off everywhere", now.Add(2 * time.Second), map[string]any{"type": "unsubscribe"}, "applied", nil,
			[][3]string{{"newsletter", "email", "not_subscribed"}, {"orders", "email", "not_subscribed"}, {"offers", "sms", "allowed"}},
			[]string{"subscription.changed", "subscription.changed"}},
		{"unsubscribe from a topic never subscribed records the opt-out", now.Add(3 * time.Second), map[string]any{"type": "unsubscribe", "topic": "partner-offers"}, "applied", nil,
			[][3]string{{"partner-offers", "email", "no_consent"}}, []string{"subscription.changed"}},
		{"soft bounce changes nothing", now.Add(4 * time.Second), map[string]any{"type": "bounce", "bounceType": "soft"}, "applied", nil, nil, nil},
		{"hard bounce is recorded", now.Add(5 * time.Second), map[string]any{"type": "bounce", "bounceType": "hard"}, "applied", nil, nil, []string{"identity.bounced"}},
		{"complaint is recorded", now.Add(6 * time.Second), map[string]any{"type": "complaint"}, "applied", nil,
			[][3]string{{"offers", "sms", "allowed"}}, []string{"identity.complained"}},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := len(ledgerOf(t, id))
			a, _ := postSync(t, batch("esp", sc(fmt.Sprintf("esp-%d-%d", now.UnixNano(), i), email, s.at, map[string]any{"emailEvent": s.event})), nil)
			r := a.Results[0]
			if r.Status != s.status || !slices.Equal(r.skipped(), s.skipped) || r.ProfileID != id {
				t.Fatalf("result %+v, want %s skipping %v", r, s.status, s.skipped)
			}
			for _, c := range s.checks {
				wantCheck(t, byEmail(c[0], c[1]), c[2] == "allowed", c[2])
			}
			evs := ledgerOf(t, id)[before:]
			if fmt.Sprint(eventTypes(evs)) != fmt.Sprint(s.events) && !(len(evs) == 0 && len(s.events) == 0) {
				t.Fatalf("ledger added %v, want %v", eventTypes(evs), s.events)
			}
			for _, e := range evs {
				if a := e["actor"].(map[string]any); a["kind"] != "sync" || a["id"] != "esp" {
					t.Errorf("event %v by %v", e["type"], a)
				}
			}
		})
	}
	p := getProfile(t, id)
	if offers := p["subscriptions"].(map[string]any)["offers"].(map[string]any); fmt.Sprint(offers["channels"]) != "[sms]" || offers["frequency"] != "daily" {
		t.Errorf("offers after the unsubscribes: %v", offers)
	}
}

// TestSyncErased: an erased person's identity (suppressed by the erasure job, here written
// directly) is never re-created by sync, and nothing is written.
func TestSyncErased(t *testing.T) {
	ctx := context.Background()
	st := syncStore()
	email := syncEmail("erased")
	id, reason := profile.NormalizeIdentity(mustCatalog(t), "email", email)
	if reason != "" {
		t.Fatal(reason)
	}
	if err := st.Suppress(ctx, tenant, []profile.Identity{id}); err != nil {
		t.Fatal(err)
	}
	before := tableDigest(t)
	cases := []struct {
		name   string
		change map[string]any
	}{
		{"upsert", sc("e-1", email, time.Now(), map[string]any{"attributes": map[string]any{"givenName": "Gone"}})},
		{"identity only, other case", sc("e-2", strings.ToUpper(email), time.Now(), nil)},
		{"consent", sc("e-3", email, time.Now(), map[string]any{"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := postSync(t, batch("crm", c.change), nil)
			if r := a.Results[0]; r.Status != "rejected" || r.Code != "erased" || r.Field != "identity" || r.ProfileID != "" {
				t.Fatalf("result %+v, want rejected/erased", r)
			}
		})
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+email), key: "read"}), 404)
	if tableDigest(t) != before {
		t.Fatal("a sync of an erased person wrote to the table")
	}
	// Another tenant's erasure does not suppress the same address here, and vice versa.
	other, _ := postSync(t, batch("crm", sc("e-4", syncEmail("fine"), time.Now(), nil)), nil)
	if other.Results[0].Status != "applied" {
		t.Fatalf("unsuppressed identity: %+v", other.Results[0])
	}
	if got, err := st.Suppressed(ctx, otherTenant, []profile.Identity{id}); err != nil || got {
		t.Fatalf("suppressed in %s: %v %v", otherTenant, got, err)
	}

	t.Run("tenant without a salt gets one on first suppression", func(t *testing.T) {
		legacy := fmt.Sprintf("legacy-%d", time.Now().UnixNano()%1e9)
		if err := st.PutTenant(ctx, dynamo.Tenant{ID: legacy, Name: legacy, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Suppressed(ctx, legacy, []profile.Identity{id}); err != nil || got {
			t.Fatalf("before: %v %v", got, err)
		}
		if err := st.Suppress(ctx, legacy, []profile.Identity{id}); err != nil {
			t.Fatal(err)
		}
		fresh := syncStore() // a cold container reads the salt from the tenant item
		if got, err := fresh.Suppressed(ctx, legacy, []profile.Identity{id}); err != nil || !got {
			t.Fatalf("after: %v %v", got, err)
		}
		tn, err := fresh.Tenant(ctx, legacy)
		if err != nil || tn.SuppressionSalt == "" || tn.Name != legacy {
			t.Fatalf("tenant after: %+v %v", tn, err)
		}
	})
}

func mustCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := seed.ParseCatalog(seed.DemoCatalog)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSyncBadInput: a batch that cannot be read is a 400 problem naming the fields, and
// nothing of it is written.
func TestSyncBadInput(t *testing.T) {
	now := time.Now().UTC().Format(time.RFC3339)
	valid := func() map[string]any {
		return map[string]any{"id": "b-1", "identity": map[string]string{"type": "email", "value": "sync-bad@example.com"}, "occurredAt": now}
	}
	with := func(k string, v any) map[string]any {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	many := make([]map[string]any, app.MaxSyncChanges+1)
	for i := range many {
		many[i] = valid()
		many[i]["id"] = fmt.Sprint("m-", i)
	}
	before := tableDigest(t)
	cases := []struct {
		name   string
		body   any
		status int
		fields []string
	}{
		{"unknown top-level field", `{"source":"crm","changes":[],"sneaky":1}`, 400, []string{"sneaky"}},
		{"unknown field in a change", batch("crm", with("sneaky", 1)), 400, []string{"changes[0].sneaky"}},
		{"unknown field in a consent", batch("crm", with("consents", map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2, "why": "x"}})), 400, []string{"changes[0].consents.marketing.why"}},
		{"unknown field in an email event", batch("crm", with("emailEvent", map[string]any{"type": "bounce", "bounceType": "hard", "smtp": 550})), 400, []string{"changes[0].emailEvent.smtp"}},
		{"too many changes", map[string]any{"source": "crm", "changes": many}, 400, []string{"changes"}},
		{"no changes", batch("crm"), 400, []string{"changes"}},
		{"changes not an array", `{"source":"crm","changes":{"id":"x"}}`, 400, []string{"changes"}},
		{"missing source", map[string]any{"changes": []any{valid()}}, 400, []string{"source"}},
		{"bad source", batch("CRM system", valid()), 400, []string{"source"}},
		{"source too long", batch(strings.Repeat("s", 65), valid()), 400, []string{"source"}},
		{"malformed time", batch("crm", with("occurredAt", "yesterday")), 400, []string{"changes[0].occurredAt"}},
		{"time without zone", batch("crm", with("occurredAt", "2026-01-01T10:00:00")), 400, []string{"changes[0].occurredAt"}},
		// A change that breaks the document refuses the batch; the tenant's state rejects only it.
		{"change without identity", batch("crm", map[string]any{"id": "x-1", "occurredAt": "2026-01-01T10:00:00Z"}), 400, []string{"changes[0].identity"}},
		{"unknown email event", batch("crm", with("emailEvent", map[string]any{"type": "opened"})), 400, []string{"changes[0].emailEvent.type"}},
		{"missing time", batch("crm", valid(), with("occurredAt", nil)), 400, []string{"changes[1].occurredAt"}},
		{"time of the wrong type", batch("crm", with("occurredAt", 1700000000)), 400, []string{"changes[0].occurredAt"}},
		{"missing id", batch("crm", with("id", nil)), 400, []string{"changes[0].id"}},
		{"id with a space", batch("crm", with("id", "a b")), 400, []string{"changes[0].id"}},
		{"id too long", batch("crm", with("id", strings.Repeat("i", 129))), 400, []string{"changes[0].id"}},
		{"every problem at once", `{"source":"","changes":[{"id":"","occurredAt":"x"}]}`, 400, []string{"source", "changes[0].id", "changes[0].occurredAt"}},
		{"not JSON", `{"source":`, 400, nil},
		{"oversized", `{"source":"crm","changes":[{"id":"x","attributes":{"givenName":"` + strings.Repeat("a", 1100<<10) + `"}}]}`, 413, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := isProblem(t, do(t, call{method: "POST", path: "/v1/sync", key: "write", body: c.body}))
			if p["status"] != float64(c.status) {
				t.Fatalf("status %v, want %d: %v", p["status"], c.status, p)
			}
			for _, f := range c.fields {
				if !namesField(p, f) {
					t.Errorf("problem does not name %q: %v", f, p)
				}
			}
		})
	}
	t.Run("read key", func(t *testing.T) {
		p := isProblem(t, do(t, call{method: "POST", path: "/v1/sync", key: "read", body: batch("crm", valid())}))
		if p["status"] != float64(403) {
			t.Fatalf("read key: %v", p)
		}
	})
	if tableDigest(t) != before {
		t.Fatal("bad sync input changed the table")
	}
}

// TestSyncFullBatch: 500 changes (two per person) are answered within the time limit.
func TestSyncFullBatch(t *testing.T) {
	now := time.Now()
	var changes []map[string]any
	for i := range app.MaxSyncChanges / 2 {
		email := syncEmail("bulk")
		changes = append(changes,
			sc(fmt.Sprintf("f-%d-a", i), email, now.Add(-time.Minute), map[string]any{"attributes": map[string]any{"shoe_size": 40 + i%10}}),
			sc(fmt.Sprintf("f-%d-b", i), email, now, map[string]any{"subscriptions": map[string]any{"newsletter": map[string]any{"status": "subscribed"}}}))
	}
	start := time.Now()
	a, _ := postSync(t, batch("warehouse", changes...), nil)
	t.Logf("500 changes in %v", time.Since(start))
	if a.Summary["applied"] != len(changes) {
		t.Fatalf("summary %v", a.Summary)
	}
	for i := 0; i < len(a.Results); i += 2 {
		if !a.Results[i].Created || a.Results[i+1].Created || a.Results[i].ProfileID != a.Results[i+1].ProfileID {
			t.Fatalf("results %d, %d: %+v %+v", i, i+1, a.Results[i], a.Results[i+1])
		}
	}
}

// TestSyncDeadline: changes not reached before the batch's deadline are answered deferred
// and write nothing, so the source can send them again. (Through the service: the HTTP
// deadline is 25 s away.)
func TestSyncDeadline(t *testing.T) {
	svc := app.New(syncStore(), time.Now, 0)
	before := tableDigest(t)
	var changes []app.SyncChange
	for i := range 3 {
		changes = append(changes, app.SyncChange{ID: fmt.Sprint("d-", i), Identity: &app.IdentityInput{Type: "email", Value: syncEmail("late")}, OccurredAt: time.Now()})
	}
	res, err := svc.Sync(context.Background(), tenant, app.SyncBatch{Source: "crm", Changes: changes, Deadline: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != app.SyncDeferred || r.Code != app.SyncCodeTimeLimit {
			t.Fatalf("result %+v, want deferred", r)
		}
	}
	if tableDigest(t) != before {
		t.Fatal("deferred changes wrote to the table")
	}
}

// TestSyncUnsubscribeManyTopics: an unsubscribe from every email topic of a person with
// more subscriptions than one transaction holds is written in several transactions,
// completely, and recorded once.
func TestSyncUnsubscribeManyTopics(t *testing.T) {
	ctx := context.Background()
	store := syncStore()
	svc := app.New(store, time.Now, 0)
	tn := fmt.Sprintf("sync-many-%d", time.Now().UnixNano()%1e9)
	if err := seed.Tenant(ctx, store, tn, tn); err != nil {
		t.Fatal(err)
	}
	var cat map[string]any
	if err := json.Unmarshal(seed.DemoCatalog, &cat); err != nil {
		t.Fatal(err)
	}
	const n = 130
	topics := cat["topics"].([]any)
	for i := range n {
		topics = append(topics, map[string]any{"id": fmt.Sprintf("topic-%03d", i), "purpose": "marketing",
			"channels": []string{"email", "sms"}, "name": map[string]string{"en": fmt.Sprint("Topic ", i)}})
	}
	cat["topics"] = topics
	raw, _ := json.Marshal(cat)
	if _, err := seed.LoadCatalog(ctx, svc, tn, raw); err != nil {
		t.Fatal(err)
	}
	plain, _, err := seed.Key(ctx, store, tn, "many", []apikey.Scope{apikey.Read, apikey.Write})
	if err != nil {
		t.Fatal(err)
	}
	env.keys["many"] = plain
	email := syncEmail("many")
	now := time.Now()
	var changes []map[string]any
	for start := 0; start < n; start += app.MaxCreateItems {
		subs := map[string]any{}
		for i := start; i < min(n, start+app.MaxCreateItems); i++ {
			chans := []string{"email"}
			if i%2 == 1 {
				chans = append(chans, "sms")
			}
			subs[fmt.Sprintf("topic-%03d", i)] = map[string]any{"status": "subscribed", "channels": chans}
		}
		changes = append(changes, sc(fmt.Sprint("s-", start), email, now.Add(-time.Minute), map[string]any{"subscriptions": subs}))
	}
	unsub := sc("u-1", email, now, map[string]any{"emailEvent": map[string]any{"type": "complaint"}})
	send := func(changes ...map[string]any) syncAnswer {
		r := must(t, do(t, call{method: "POST", path: "/v1/sync", key: "many", body: batch("esp", changes...)}), 200)
		var a syncAnswer
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := send(append(changes, unsub)...)
	if a.Summary["applied"] != len(changes)+1 {
		t.Fatalf("summary %v: %+v", a.Summary, a.Results)
	}
	id := a.Results[0].ProfileID
	p := must(t, do(t, call{method: "GET", path: "/v1/profiles/" + id, key: "many"}), 200).json(t)
	subs := p["subscriptions"].(map[string]any)
	for i := range n {
		s := subs[fmt.Sprintf("topic-%03d", i)].(map[string]any)
		want := "unsubscribed []"
		if i%2 == 1 {
			want = "subscribed [sms]"
		}
		if got := fmt.Sprint(s["status"], " ", s["channels"]); got != want {
			t.Fatalf("topic %d: %s, want %s", i, got, want)
		}
	}
	count := map[string]int{}
	path := "/v1/profiles/" + id + "/events?limit=100"
	for path != "" {
		page := must(t, do(t, call{method: "GET", path: path, key: "many"}), 200).json(t)
		for _, e := range page["events"].([]any) {
			count[e.(map[string]any)["type"].(string)]++
		}
		path, _ = page["next"].(string)
	}
	if count["subscription.changed"] != 2*n || count["identity.complained"] != 1 {
		t.Fatalf("ledger counts %v", count)
	}
	if again := send(unsub); again.Results[0].Status != "duplicate" {
		t.Fatalf("replay: %+v", again.Results[0])
	}
}

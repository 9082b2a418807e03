package localstack_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

var requestsKeyOnce sync.Once

// requestsKey returns the role of a key of the test tenant with only the requests scope.
func requestsKey() string {
	requestsKeyOnce.Do(func() {
		plain, _, err := seed.Key(context.Background(), syncStore(), tenant, "requests", []apikey.Scope{apikey.Requests, apikey.Attest})
		if err != nil {
			panic(err)
		}
		env.keys["requests"] = plain
	})
	return "requests"
}

var fixedRequests sync.Map // profile id -> request id

// requestOf returns a pending rectification request of a profile of the test tenant,
// created (through the use case, so no test is needed) on first use.
func requestOf(profileID string) string {
	if id, ok := fixedRequests.Load(profileID); ok {
		return id.(string)
	}
	svc := app.New(syncStore(), time.Now, 0)
	res, err := svc.CreateRequest(context.Background(), tenant, app.RequestInput{ProfileID: profileID, Type: dsr.Rectification, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}})
	if err != nil {
		panic(err)
	}
	fixedRequests.Store(profileID, res.Request.ID)
	return res.Request.ID
}

const extensionReason = "We need to collect your records from two archived systems."

func postRequest(t *testing.T, body map[string]any) reply {
	t.Helper()
	return do(t, call{method: "POST", path: "/v1/requests", key: requestsKey(), body: body})
}

func timeOf(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("not a time: %v", v)
	}
	return at
}

// TestRequestCreateEachType creates every type of request: job and rectification
// requests are pending, due one month after receipt; restriction, its lifting, objection
// and the automated-decision opt-out are completed at once, with their ledger events.
func TestRequestCreateEachType(t *testing.T) {
	tests := []struct {
		typ      dsr.Type
		purpose  string
		restrict bool // restrict the profile first (to lift it)
		status   string
		ledger   []string // the ledger's last events, for types no job touches
	}{
		{dsr.Access, "", false, "pending", nil},
		{dsr.Portability, "", false, "pending", nil},
		{dsr.Erasure, "", false, "pending", nil},
		{dsr.Rectification, "", false, "pending", []string{"request.created"}},
		{dsr.Restriction, "", false, "completed", []string{"request.created", "restriction.changed", "request.completed"}},
		{dsr.RestrictionLift, "", true, "completed", []string{"restriction.changed", "request.created", "restriction.changed", "request.completed"}},
		{dsr.Objection, "analytics", false, "completed", []string{"request.created", "objection.changed", "request.completed"}},
		{dsr.AutomatedDecisionOptOut, "", false, "completed", []string{"request.created", "automated_decision.changed", "request.completed"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			id, _ := newProfile(t, map[string]any{"attributes": map[string]any{"locale": "pl"}})
			if tt.restrict {
				must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + id, key: "write", body: map[string]any{"rights": map[string]any{"restricted": true}}}), 200)
			}
			body := map[string]any{"profileId": id, "type": tt.typ, "attested": true, "attestationReason": "identity checked by the support desk"}
			if tt.purpose != "" {
				body["purpose"] = tt.purpose
			}
			r := must(t, postRequest(t, body), 201)
			got := r.json(t)
			rid, _ := got["id"].(string)
			if !app.ValidRequestID(rid) || r.headers.Get("Location") != "/v1/requests/"+rid {
				t.Fatalf("id %q location %q", rid, r.headers.Get("Location"))
			}
			if got["type"] != string(tt.typ) || got["status"] != tt.status || got["profileId"] != id || got["tenant"] != tenant ||
				got["verification"] != "attested_brand" || got["locale"] != "pl" || got["version"] != float64(1) {
				t.Fatalf("request %s", r.body)
			}
			if _, ok := got["notifyEmail"]; ok {
				t.Fatalf("the response shows the notification address: %s", r.body)
			}
			if _, ok := got["duplicate"]; ok {
				t.Fatalf("a new request says duplicate: %s", r.body)
			}
			if src := got["source"].(map[string]any); src["kind"] != ledger.ActorAPIKey || src["id"] == "" {
				t.Fatalf("source %v", src)
			}
			received, due := timeOf(t, got["receivedAt"]), timeOf(t, got["dueAt"])
			if !due.Equal(dsr.AddMonths(received, 1)) || time.Since(received) > time.Minute {
				t.Fatalf("received %s due %s", received, due)
			}
			if tt.status == "completed" && got["completedAt"] == nil {
				t.Fatalf("completed without completedAt: %s", r.body)
			}
			read := must(t, do(t, call{method: "GET", path: "/v1/requests/" + rid, key: requestsKey()}), 200).json(t)
			if read["id"] != rid || read["type"] != string(tt.typ) {
				t.Fatalf("read back %v", read)
			}
			if tt.typ.Job() {
				// Let the job finish, so that no test after this one sees the table change.
				var final map[string]any
				eventually(t, 20*time.Second, "the "+string(tt.typ)+" job", func() bool {
					final = must(t, do(t, call{method: "GET", path: "/v1/requests/" + rid, key: requestsKey()}), 200).json(t)
					return final["status"] != "pending" && final["status"] != "in_progress"
				})
				t.Logf("the job left the request %v (download link: %v)", final["status"], final["download"] != nil)
				if x, ok := final["export"].(map[string]any); ok {
					if final["download"] != nil {
						t.Fatalf("a requests-only key got the export's download link: %v", final)
					}
					// The link needs read as well (admin implies both).
					final = must(t, do(t, call{method: "GET", path: "/v1/requests/" + rid, key: "admin"}), 200).json(t)
					dl, _ := final["download"].(map[string]any)
					if link, _ := dl["url"].(string); !strings.HasPrefix(link, "http") || x["key"] != nil || dl["expiresAt"] == nil {
						t.Fatalf("a ready export without a download link, or with its key: %v", final)
					}
				}
			}
			if tt.ledger == nil {
				return
			}
			evs := ledgerOf(t, id)
			types := eventTypes(evs)
			if tail := types[max(0, len(types)-len(tt.ledger)):]; !slices.Equal(tail, tt.ledger) {
				t.Fatalf("ledger ends %v, want %v", types, tt.ledger)
			}
			for _, e := range evs {
				if e["type"] != "request.created" {
					continue
				}
				data, _ := e["new"].(map[string]any)
				if e["subject"] != string(tt.typ) || data["id"] != rid || data["type"] != string(tt.typ) ||
					data["verification"] != "attested_brand" || data["attestationReason"] == nil || len(data) != 4 {
					t.Fatalf("request.created event %v", e)
				}
			}
		})
	}
}

// TestRequestDuplicate: a second open request of the same type for the same person,
// however the person is named, returns the first (200, duplicate) and writes nothing; once
// the first is closed, a new one is created. Concurrent creates make exactly one.
func TestRequestDuplicate(t *testing.T) {
	id, email := newProfile(t, nil)
	first := must(t, postRequest(t, map[string]any{"profileId": id, "type": "rectification", "attested": true, "attestationReason": "identity checked by the support desk"}), 201).json(t)
	before := tableDigest(t)
	for _, body := range []map[string]any{
		{"profileId": id, "type": "rectification", "attested": true, "attestationReason": "identity checked by the support desk"},
		{"identity": map[string]string{"type": "email", "value": strings.ToUpper(email)}, "type": "rectification", "verification": "unverified"},
	} {
		r := must(t, postRequest(t, body), 200)
		got := r.json(t)
		if got["id"] != first["id"] || got["duplicate"] != true || r.headers.Get("Location") != "/v1/requests/"+first["id"].(string) {
			t.Fatalf("duplicate answer %s", r.body)
		}
	}
	if tableDigest(t) != before {
		t.Fatal("a duplicate request wrote to the table")
	}
	must(t, do(t, call{method: "POST", path: "/v1/requests/" + first["id"].(string) + "/cancel", key: requestsKey()}), 200)
	again := must(t, postRequest(t, map[string]any{"profileId": id, "type": "rectification"}), 201).json(t)
	if again["id"] == first["id"] || again["verification"] != "unverified" {
		t.Fatalf("after the first closed: %v", again)
	}

	other, _ := newProfile(t, nil)
	var wg sync.WaitGroup
	replies := make([]reply, 10)
	for i := range replies {
		wg.Go(func() {
			replies[i] = postRequest(t, map[string]any{"profileId": other, "type": "rectification", "attested": true, "attestationReason": "identity checked by the support desk"})
		})
	}
	wg.Wait()
	created, ids := 0, map[string]bool{}
	for _, r := range replies {
		switch r.status {
		case 201:
			created++
		case 200:
		default:
			t.Fatalf("concurrent create: %d %s", r.status, r.body)
		}
		ids[r.json(t)["id"].(string)] = true
	}
	if created != 1 || len(ids) != 1 {
		t.Fatalf("%d created, %d distinct ids", created, len(ids))
	}
	var n int
	for _, e := range ledgerOf(t, other) {
		if e["type"] == "request.created" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d request.created events", n)
	}
}

// TestRequestBadInput: invalid requests are refused naming the field, and write nothing.
func TestRequestBadInput(t *testing.T) {
	id, _ := newProfile(t, nil)
	rq := requestOf(fixedProfile(t))
	requestsKey() // made on first use: before the digest
	before := tableDigest(t)
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"objection to an unknown purpose", `{"profileId":"` + id + `","type":"objection","purpose":"spam"}`, 422, "purpose"},
		{"objection without a purpose", `{"profileId":"` + id + `","type":"objection"}`, 422, "purpose"},
		{"objection to a consent purpose", `{"profileId":"` + id + `","type":"objection","purpose":"personalisation"}`, 422, "purpose"},
		{"objection to a contract purpose", `{"profileId":"` + id + `","type":"objection","purpose":"service"}`, 422, "purpose"},
		{"attested without a reason", `{"profileId":"` + id + `","type":"access","attested":true}`, 422, "attestationReason"},
		{"reason without attestation", `{"profileId":"` + id + `","type":"rectification","attestationReason":"identity checked by the support desk"}`, 422, "attestationReason"},
		{"purpose on access", `{"profileId":"` + id + `","type":"access","purpose":"marketing"}`, 422, "purpose"},
		{"unknown type", `{"profileId":"` + id + `","type":"forget_me"}`, 400, "type"},
		{"no type", `{"profileId":"` + id + `"}`, 400, "type"},
		{"type wrong JSON type", `{"profileId":"` + id + `","type":3}`, 400, "type"},
		{"portal verification from a brand", `{"profileId":"` + id + `","type":"access","verification":"verified_portal"}`, 400, "verification"},
		{"unknown verification", `{"profileId":"` + id + `","type":"access","verification":"trust_me"}`, 400, "verification"},
		{"attested contradicts", `{"profileId":"` + id + `","type":"access","verification":"unverified","attested":true}`, 422, "attested"},
		{"unknown locale", `{"profileId":"` + id + `","type":"access","locale":"de"}`, 422, "locale"},
		{"no person", `{"type":"access"}`, 400, "profileId"},
		{"both profileId and identity", `{"profileId":"` + id + `","identity":{"type":"email","value":"a@example.com"},"type":"access"}`, 400, "identity"},
		{"malformed profile id", `{"profileId":"p_nope","type":"access"}`, 400, "profileId"},
		{"bad identity", `{"identity":{"type":"email","value":"nope"},"type":"access"}`, 422, "identity.value"},
		{"unknown identity type", `{"identity":{"type":"ssn","value":"1"},"type":"access"}`, 422, "identity.type"},
		{"unknown profile", `{"profileId":"p_aaaaaaaaaaaaaaaaaaaaaaaaaa","type":"access"}`, 404, "profileId"},
		{"unknown identity", `{"identity":{"type":"email","value":"nobody-here@example.com"},"type":"access"}`, 404, "identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := isProblem(t, do(t, call{method: "POST", path: "/v1/requests", key: requestsKey(), body: tt.body}))
			if p["status"] != float64(tt.status) || !namesField(p, tt.field) {
				t.Fatalf("want %d naming %s: %v", tt.status, tt.field, p)
			}
		})
	}
	params := []struct {
		query, field string
		status       int
	}{
		{"status=bogus", "status", 400}, {"limit=0", "limit", 400}, {"limit=101", "limit", 400}, {"limit=x", "limit", 400},
		{"overdue=yes", "overdue", 400}, {"status=closed&overdue=true", "overdue", 422}, {"cursor=%21%21", "cursor", 422},
		{"cursor=" + url.QueryEscape("MjAyNi0wMS0wMVQwMDowMDowMC4wMDAwMDAwMDBaI3JxX3g"), "cursor", 422}, {"sort=due", "sort", 400},
	}
	for _, p := range params {
		t.Run("list "+p.query, func(t *testing.T) {
			pr := isProblem(t, do(t, call{method: "GET", path: "/v1/requests?" + p.query, key: requestsKey()}))
			if pr["status"] != float64(p.status) || !namesField(pr, p.field) {
				t.Fatalf("want %d naming %s: %v", p.status, p.field, pr)
			}
		})
	}
	changes := []struct {
		name, path, body, field string
	}{
		{"extension of three months", "/extension", `{"months":3,"reason":"` + extensionReason + `"}`, "months"},
		{"extension without reason", "/extension", `{"months":1}`, "reason"},
		{"extension months as text", "/extension", `{"months":"1","reason":"` + extensionReason + `"}`, "months"},
		{"denial with a short reason", "/denial", `{"reason":"no"}`, "reason"},
		{"denial without body field", "/denial", `{}`, "reason"},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			pr := isProblem(t, do(t, call{method: "POST", path: "/v1/requests/" + rq + c.path, key: requestsKey(), body: c.body}))
			if pr["status"] != float64(400) || !namesField(pr, c.field) {
				t.Fatalf("want 400 naming %s: %v", c.field, pr)
			}
		})
	}
	if tableDigest(t) != before {
		t.Fatal("bad input changed the table")
	}
}

// TestRequestImmediateTypes: restriction, objection and the automated-decision opt-out
// change the consent check's answer at once (with the reason codes); lifting the
// restriction restores it.
func TestRequestImmediateTypes(t *testing.T) {
	granted := map[string]any{"status": "granted", "noticeVersion": 2}
	id, _ := newProfile(t, map[string]any{"consents": map[string]any{"marketing": granted, "personalisation": granted}})
	checkOf := func(purpose string) map[string]any { return map[string]any{"profileId": id, "purpose": purpose} }
	wantCheck(t, checkOf("marketing"), true, "allowed")
	wantCheck(t, checkOf("personalisation"), true, "allowed")
	wantCheck(t, checkOf("service"), true, "allowed")
	steps := []struct {
		typ, purpose string
		checks       map[string]string // purpose -> reason afterwards
	}{
		{"objection", "marketing", map[string]string{"marketing": "objected", "personalisation": "allowed", "service": "allowed"}},
		{"automated_decision_opt_out", "", map[string]string{"marketing": "objected", "personalisation": "automated_decision_opt_out", "service": "allowed"}},
		{"restriction", "", map[string]string{"marketing": "restricted", "personalisation": "restricted", "service": "restricted"}},
		{"restriction_lift", "", map[string]string{"marketing": "objected", "personalisation": "automated_decision_opt_out", "service": "allowed"}},
	}
	for _, s := range steps {
		t.Run(s.typ, func(t *testing.T) {
			body := map[string]any{"profileId": id, "type": s.typ, "verification": "attested_brand", "attestationReason": "identity checked by the support desk"}
			if s.purpose != "" {
				body["purpose"] = s.purpose
			}
			if got := must(t, postRequest(t, body), 201).json(t); got["status"] != "completed" {
				t.Fatalf("immediate request %v", got)
			}
			for purpose, reason := range s.checks {
				wantCheck(t, checkOf(purpose), reason == "allowed", reason)
			}
		})
	}
	types := eventTypes(ledgerOf(t, id))
	want := []string{"request.created", "objection.changed", "request.completed",
		"request.created", "automated_decision.changed", "request.completed",
		"request.created", "restriction.changed", "request.completed",
		"request.created", "restriction.changed", "request.completed"}
	if tail := types[max(0, len(types)-len(want)):]; !slices.Equal(tail, want) {
		t.Fatalf("ledger %v\nwant it to end %v", types, want)
	}
}

// TestRequestLifecycle: extension (once, 1–2 months, due date moves, person not yet told),
// denial with a reason, cancellation, each recorded in the ledger; closed requests refuse
// further changes; Idempotency-Key replays.
func TestRequestLifecycle(t *testing.T) {
	id, email := newProfile(t, nil)
	rq := must(t, postRequest(t, map[string]any{"profileId": id, "type": "rectification", "attested": true, "attestationReason": "identity checked by the support desk"}), 201).json(t)
	path := "/v1/requests/" + rq["id"].(string)
	ext := must(t, do(t, call{method: "POST", path: path + "/extension", key: requestsKey(), body: map[string]any{"months": 2, "reason": extensionReason}}), 200).json(t)
	x, _ := ext["extension"].(map[string]any)
	if x["months"] != float64(2) || x["reason"] != extensionReason || x["notified"] != true || x["notifyError"] != nil || ext["status"] != "pending" {
		t.Fatalf("extended %v", ext)
	}
	mailTo(t, email, extensionReason)
	if due := timeOf(t, ext["dueAt"]); !due.Equal(dsr.AddMonths(timeOf(t, rq["receivedAt"]), 3)) {
		t.Fatalf("due %s after a two-month extension of a request received %s", due, rq["receivedAt"])
	}
	if got := must(t, do(t, call{method: "GET", path: path, key: requestsKey()}), 200).json(t); got["dueAt"] != ext["dueAt"] {
		t.Fatalf("read back %v", got)
	}
	must(t, do(t, call{method: "POST", path: path + "/extension", key: requestsKey(), body: map[string]any{"months": 1, "reason": extensionReason}}), 409)

	denial := "The request is manifestly unfounded (Art. 12(5))."
	headers := map[string]string{"Idempotency-Key": "deny-" + path}
	denied := must(t, do(t, call{method: "POST", path: path + "/denial", key: requestsKey(), body: map[string]any{"reason": denial}, headers: headers}), 200)
	d := denied.json(t)
	if d["status"] != "denied" || d["denialReason"] != denial || d["completedAt"] == nil {
		t.Fatalf("denied %v", d)
	}
	mailTo(t, email, denial)
	replay := must(t, do(t, call{method: "POST", path: path + "/denial", key: requestsKey(), body: map[string]any{"reason": denial}, headers: headers}), 200)
	if string(replay.body) != string(denied.body) || replay.headers.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %s", replay.body)
	}
	must(t, do(t, call{method: "POST", path: path + "/denial", key: requestsKey(), body: map[string]any{"reason": denial}}), 409)
	must(t, do(t, call{method: "POST", path: path + "/cancel", key: requestsKey()}), 409)
	must(t, do(t, call{method: "POST", path: path + "/extension", key: requestsKey(), body: map[string]any{"months": 1, "reason": extensionReason}}), 409)

	other := must(t, postRequest(t, map[string]any{"profileId": id, "type": "rectification"}), 201).json(t)
	cancelled := must(t, do(t, call{method: "POST", path: "/v1/requests/" + other["id"].(string) + "/cancel", key: requestsKey()}), 200).json(t)
	if cancelled["status"] != "cancelled" || cancelled["denialReason"] != nil {
		t.Fatalf("cancelled %v", cancelled)
	}

	evs := ledgerOf(t, id)
	var got []string
	for _, e := range evs {
		if strings.HasPrefix(e["type"].(string), "request.") {
			n, _ := e["new"].(map[string]any)
			got = append(got, fmt.Sprintf("%s:%v", e["type"], n["status"]))
		}
	}
	want := []string{"request.created:<nil>", "request.updated:pending", "request.completed:denied", "request.created:<nil>", "request.completed:cancelled"}
	if !slices.Equal(got, want) {
		t.Fatalf("request events %v, want %v", got, want)
	}

	t.Run("idempotent create", func(t *testing.T) {
		p, _ := newProfile(t, nil)
		h := map[string]string{"Idempotency-Key": "create-" + p}
		body := map[string]any{"profileId": p, "type": "rectification"}
		first := must(t, do(t, call{method: "POST", path: "/v1/requests", key: requestsKey(), body: body, headers: h}), 201)
		again := must(t, do(t, call{method: "POST", path: "/v1/requests", key: requestsKey(), body: body, headers: h}), 201)
		if string(first.body) != string(again.body) || again.headers.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %s\nfirst %s", again.body, first.body)
		}
		body["verification"] = "attested_brand"
		must(t, do(t, call{method: "POST", path: "/v1/requests", key: requestsKey(), body: body, headers: h}), 422)
	})
}

// TestRequestCompletion: a rectification request is marked completed, with or without a
// note, recorded in the ledger and replayed under its Idempotency-Key; a closed one and
// every other type refuse (409); a bad note is a 400 that changes nothing.
func TestRequestCompletion(t *testing.T) {
	id, _ := newProfile(t, nil)
	rq := must(t, postRequest(t, map[string]any{"profileId": id, "type": "rectification", "attested": true, "attestationReason": "identity checked by the support desk"}), 201).json(t)
	path := "/v1/requests/" + rq["id"].(string) + "/completion"

	for _, bad := range []string{`{"note":"line one\nline two"}`, `{"note":"` + strings.Repeat("a", 1001) + `"}`, `{"note":1}`} {
		p := isProblem(t, do(t, call{method: "POST", path: path, key: requestsKey(), body: bad}))
		if p["status"] != float64(400) || !namesField(p, "note") {
			t.Fatalf("note %.40s: want 400 naming note: %v", bad, p)
		}
	}
	if got := must(t, do(t, call{method: "GET", path: "/v1/requests/" + rq["id"].(string), key: requestsKey()}), 200).json(t); got["status"] != "pending" {
		t.Fatalf("a refused completion changed the request: %v", got)
	}

	note := "Corrected the postal address and the family name."
	headers := map[string]string{"Idempotency-Key": "complete-" + path}
	done := must(t, do(t, call{method: "POST", path: path, key: requestsKey(), body: map[string]any{"note": note}, headers: headers}), 200)
	d := done.json(t)
	if d["status"] != "completed" || d["completionNote"] != note || d["completedAt"] == nil || d["denialReason"] != nil || d["version"] != float64(2) {
		t.Fatalf("completed %v", d)
	}
	replay := must(t, do(t, call{method: "POST", path: path, key: requestsKey(), body: map[string]any{"note": note}, headers: headers}), 200)
	if string(replay.body) != string(done.body) || replay.headers.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %s", replay.body)
	}
	must(t, do(t, call{method: "POST", path: path, key: requestsKey(), body: map[string]any{"note": note}}), 409)
	must(t, do(t, call{method: "POST", path: path, key: requestsKey()}), 409)
	must(t, do(t, call{method: "POST", path: "/v1/requests/" + rq["id"].(string) + "/cancel", key: requestsKey()}), 409)

	// Without a body: completed, without a note.
	again := must(t, postRequest(t, map[string]any{"profileId": id, "type": "rectification"}), 201).json(t)
	plain := must(t, do(t, call{method: "POST", path: "/v1/requests/" + again["id"].(string) + "/completion", key: requestsKey()}), 200).json(t)
	if plain["status"] != "completed" || plain["completionNote"] != nil {
		t.Fatalf("completed without a body %v", plain)
	}

	var got []string
	for _, e := range ledgerOf(t, id) {
		if strings.HasPrefix(e["type"].(string), "request.") {
			n, _ := e["new"].(map[string]any)
			got = append(got, fmt.Sprintf("%s:%v", e["type"], n["status"]))
			if _, ok := n["completionNote"]; ok {
				t.Fatalf("the ledger holds the note: %v", e)
			}
		}
	}
	want := []string{"request.created:<nil>", "request.completed:completed", "request.created:<nil>", "request.completed:completed"}
	if !slices.Equal(got, want) {
		t.Fatalf("request events %v, want %v", got, want)
	}

	// Other types: jobs complete themselves, immediate types are completed when recorded.
	for _, typ := range []string{"erasure", "access", "objection"} {
		t.Run(typ, func(t *testing.T) {
			pid, _ := newProfile(t, nil)
			body := map[string]any{"profileId": pid, "type": typ, "attested": true, "attestationReason": "identity checked by the support desk"}
			if typ == "objection" {
				body["purpose"] = "marketing"
			}
			other := must(t, postRequest(t, body), 201).json(t)
			opath := "/v1/requests/" + other["id"].(string)
			p := isProblem(t, do(t, call{method: "POST", path: opath + "/completion", key: requestsKey(), body: `{"note":"Done."}`}))
			if detail, _ := p["detail"].(string); p["status"] != float64(409) || !strings.Contains(detail, "rectification") {
				t.Fatalf("completing a %s request: %v", typ, p)
			}
			// Let the job finish, so that no test after this one sees the table change.
			var final map[string]any
			eventually(t, 20*time.Second, "the "+typ+" request", func() bool {
				final = must(t, do(t, call{method: "GET", path: opath, key: requestsKey()}), 200).json(t)
				return final["status"] != "pending" && final["status"] != "in_progress"
			})
			if final["completionNote"] != nil {
				t.Fatalf("a refused completion left a note: %v", final)
			}
		})
	}
}

// TestRequestAccessControl: only keys with the requests scope reach the routes, and only
// their own tenant's requests.
func TestRequestAccessControl(t *testing.T) {
	id, _ := newProfile(t, nil)
	rq := requestOf(id)
	theirs := func() string {
		r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "other", body: map[string]any{
			"identities": []map[string]string{{"type": "email", "value": fmt.Sprintf("theirs-%d@example.com", time.Now().UnixNano())}}}}), 201)
		return must(t, do(t, call{method: "POST", path: "/v1/requests", key: "other", body: map[string]any{
			"profileId": r.json(t)["id"], "type": "rectification", "attested": true, "attestationReason": "identity checked by the support desk"}}), 201).json(t)["id"].(string)
	}()
	body := `{"months":1,"reason":"` + extensionReason + `"}`
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/requests", `{"profileId":"` + id + `","type":"rectification"}`},
		{"GET", "/v1/requests", ""},
		{"GET", "/v1/requests/" + rq, ""},
		{"POST", "/v1/requests/" + rq + "/extension", body},
		{"POST", "/v1/requests/" + rq + "/cancel", ""},
		{"POST", "/v1/requests/" + rq + "/completion", `{"note":"Corrected the postal address."}`},
		{"POST", "/v1/requests/" + rq + "/denial", `{"reason":"` + extensionReason + `"}`},
	}
	requestsKey() // made on first use: before the digest, so that running this test alone finds no change
	before := tableDigest(t)
	for _, r := range routes {
		for _, key := range []string{"read", "write", "rw"} {
			t.Run(key+" "+r.method+" "+r.path, func(t *testing.T) {
				if p := isProblem(t, do(t, call{method: r.method, path: r.path, key: key, body: nilIfEmpty(r.body)})); p["status"] != float64(403) {
					t.Fatalf("want 403: %v", p)
				}
			})
		}
		if strings.Contains(r.path, rq) {
			t.Run("other tenant "+r.method+" "+r.path, func(t *testing.T) {
				p := isProblem(t, do(t, call{method: r.method, path: strings.ReplaceAll(r.path, rq, theirs), key: requestsKey(), body: nilIfEmpty(r.body)}))
				if p["status"] != float64(404) {
					t.Fatalf("another tenant's request: %v", p)
				}
			})
		}
	}
	for _, bad := range []string{"rq_x", "p_aaaaaaaaaaaaaaaaaaaaaaaaaa", "rq_aaaaaaaaaaaaaaaaaaaaaaaaaa", "RQ_AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		must(t, do(t, call{method: "GET", path: "/v1/requests/" + url.PathEscape(bad), key: requestsKey()}), 404)
	}
	if tableDigest(t) != before {
		t.Fatal("refused requests changed the table")
	}
	for _, r := range listAll(t, "status=open") {
		if r["id"] == theirs || r["tenant"] != tenant {
			t.Fatalf("the tenant list shows %v", r)
		}
	}
	must(t, do(t, call{method: "GET", path: "/v1/requests/" + rq, key: "admin"}), 200)
}

// mailTo waits for an email to addr whose text holds want, and returns it.
func mailTo(t *testing.T, addr, want string) {
	t.Helper()
	eventually(t, 5*time.Second, "an email to the person", func() bool {
		for _, e := range mailJSON(t) {
			if slices.Contains(e.Recipients(), addr) && strings.Contains(e.Text, want) {
				return true
			}
		}
		return false
	})
}

// listAll follows a listing's next links to the end, 7 per page.
func listAll(t *testing.T, query string) []map[string]any {
	t.Helper()
	var out []map[string]any
	path := "/v1/requests?limit=7"
	if query != "" {
		path += "&" + query
	}
	for pages := 0; path != ""; pages++ {
		if pages > 500 {
			t.Fatal("the listing does not end")
		}
		page := must(t, do(t, call{method: "GET", path: path, key: requestsKey()}), 200).json(t)
		for _, r := range page["requests"].([]any) {
			out = append(out, r.(map[string]any))
		}
		path, _ = page["next"].(string)
	}
	return out
}

// TestRequestList: the tenant's requests by status, in due-date order across pages.
func TestRequestList(t *testing.T) {
	var mine []string
	for range 3 {
		id, _ := newProfile(t, nil)
		mine = append(mine, must(t, postRequest(t, map[string]any{"profileId": id, "type": "rectification", "attested": true, "attestationReason": "identity checked by the support desk"}), 201).json(t)["id"].(string))
	}
	id, _ := newProfile(t, nil)
	done := must(t, postRequest(t, map[string]any{"profileId": id, "type": "restriction", "attested": true, "attestationReason": "identity checked by the support desk"}), 201).json(t)["id"].(string)
	tests := []struct {
		query    string
		statuses []string
		has      []string
		hasNot   []string
	}{
		{"", []string{"pending", "in_progress", "failed"}, mine, []string{done}},
		{"status=open", []string{"pending", "in_progress", "failed"}, mine, []string{done}},
		{"status=pending", []string{"pending"}, mine, []string{done}},
		{"status=closed", []string{"completed", "cancelled", "denied"}, []string{done}, mine},
		{"status=completed", []string{"completed"}, []string{done}, mine},
		{"status=denied", []string{"denied"}, nil, append([]string{done}, mine...)},
		{"overdue=true", []string{"pending", "in_progress", "failed"}, nil, mine},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			all := listAll(t, tt.query)
			seen := map[string]bool{}
			var prev time.Time
			for _, r := range all {
				if !slices.Contains(tt.statuses, r["status"].(string)) {
					t.Fatalf("status %v in %q", r["status"], tt.query)
				}
				if _, ok := r["notifyEmail"]; ok {
					t.Fatalf("the listing shows a notification address")
				}
				due := timeOf(t, r["dueAt"])
				if due.Before(prev) {
					t.Fatalf("not in due order: %s after %s", due, prev)
				}
				if tt.query == "overdue=true" && r["overdue"] != true {
					t.Fatalf("overdue listing holds %v", r)
				}
				prev, seen[r["id"].(string)] = due, true
			}
			for _, id := range tt.has {
				if !seen[id] {
					t.Fatalf("%s is missing from %q", id, tt.query)
				}
			}
			for _, id := range tt.hasNot {
				if seen[id] {
					t.Fatalf("%s is listed in %q", id, tt.query)
				}
			}
		})
	}
}

// clock is a controllable app.Clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = day(s)
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// notices records what the service asks to tell people, failing for the ids in fail.
type notices struct {
	mu   sync.Mutex
	sent []string // "<kind> <request id> <address>"
	fail map[string]bool
}

func (n *notices) NotifyConfirmation(_ context.Context, r *dsr.Request, to string, _ app.RequestLinks) error {
	return n.note("confirmation", r, to)
}

func (n *notices) note(kind string, r *dsr.Request, to string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, kind+" "+r.ID+" "+to)
	if n.fail[r.ID] {
		return errors.New("mail is down")
	}
	return nil
}

func (n *notices) NotifyExtension(_ context.Context, r *dsr.Request, to string) error {
	if r.Extension == nil || r.Extension.Notified {
		return errors.New("asked to tell of no pending extension")
	}
	return n.note("extension", r, to)
}

func (n *notices) NotifyDenial(_ context.Context, r *dsr.Request, to string) error {
	if r.Status != dsr.Denied || r.DenialReason == "" {
		return errors.New("asked to tell of no denial")
	}
	return n.note("denial", r, to)
}

// newTenant seeds a tenant of its own with the demo catalog, so its listings are exact.
func newTenant(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("rq-%d", time.Now().UnixNano())
	if err := seed.Tenant(ctx, syncStore(), id, id); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, app.New(syncStore(), time.Now, 0), id, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	return id
}

var operator = app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}}

// TestRequestDeadlines drives the deadline rules with a controllable clock, at the use-case
// level against the emulator: due dates across month ends, due-soon and overdue flags, the
// overdue listing, extensions only within the first month, and the order of the index.
func TestRequestDeadlines(t *testing.T) {
	ctx := context.Background()
	tn := newTenant(t)
	clk := &clock{}
	told := &notices{fail: map[string]bool{}}
	svc := app.New(syncStore(), clk.now, 0).WithNotifier(told)
	create := func(at, name string) *dsr.Request {
		t.Helper()
		clk.set(at)
		p, err := svc.CreateProfile(ctx, tn, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: name + "@example.com"}}}, app.Write{Actor: operator.Actor})
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: p.Profile.ID, Type: dsr.Rectification, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"}, operator)
		if err != nil {
			t.Fatal(err)
		}
		if res.Request.NotifyEmail != name+"@example.com" || res.Request.Locale != "en" {
			t.Fatalf("created %+v", res.Request)
		}
		return res.Request
	}
	r1 := create("2026-01-31T10:00:00Z", "one")   // due 28 Feb 10:00, not 3 March
	r2 := create("2026-01-15T09:00:00Z", "two")   // due 15 Feb
	r3 := create("2026-01-30T08:00:00Z", "three") // due 28 Feb 08:00
	r4 := create("2025-12-31T12:00:00Z", "four")  // due 31 Jan
	told.fail[r2.ID] = true
	for r, want := range map[*dsr.Request]string{r1: "2026-02-28T10:00:00Z", r2: "2026-02-15T09:00:00Z", r3: "2026-02-28T08:00:00Z", r4: "2026-01-31T12:00:00Z"} {
		if !r.DueAt.Equal(day(want)) {
			t.Fatalf("received %s, due %s, want %s", r.ReceivedAt, r.DueAt, want)
		}
	}
	ids := func(rs []dsr.Request) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	list := func(q app.RequestQuery) []string {
		t.Helper()
		var out []string
		for {
			page, err := svc.ListRequests(ctx, tn, q)
			if err != nil {
				t.Fatal(err)
			}
			if q.Overdue {
				for _, r := range page.Requests {
					if !r.Overdue {
						t.Fatalf("overdue listing holds %+v", r)
					}
				}
			}
			out = append(out, ids(page.Requests)...)
			if q.Cursor = page.Cursor; q.Cursor == "" {
				return out
			}
		}
	}
	expect := func(what string, got []string, want ...*dsr.Request) {
		t.Helper()
		var w []string
		for _, r := range want {
			w = append(w, r.ID)
		}
		if !slices.Equal(got, w) {
			t.Fatalf("%s: %v, want %v", what, got, w)
		}
	}
	expect("open by due date", list(app.RequestQuery{}), r4, r2, r3, r1)
	expect("open by due date, a page at a time", list(app.RequestQuery{Limit: 1}), r4, r2, r3, r1)

	clk.set("2026-02-10T00:00:00Z")
	flags := map[*dsr.Request][2]bool{r1: {false, false}, r2: {true, false}, r3: {false, false}, r4: {false, true}}
	for r, want := range flags {
		got, err := svc.GetRequest(ctx, tn, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.DueSoon != want[0] || got.Overdue != want[1] {
			t.Fatalf("%s due %s on 10 Feb: soon %v overdue %v, want %v", r.ID, r.DueAt, got.DueSoon, got.Overdue, want)
		}
	}
	expect("overdue on 10 Feb", list(app.RequestQuery{Overdue: true}), r4)

	extensions := []struct {
		name   string
		r      *dsr.Request
		months int
		due    string // "" when refused
		told   bool   // the notice went out
	}{
		{"one month from a month's end", r1, 1, "2026-03-31T10:00:00Z", true},
		{"two months, the notice fails", r2, 2, "2026-04-15T09:00:00Z", false},
		{"a second extension", r2, 1, "", false},
		{"after the first month", r4, 1, "", false},
	}
	for _, x := range extensions {
		t.Run(x.name, func(t *testing.T) {
			got, err := svc.ExtendRequest(ctx, tn, x.r.ID, x.months, extensionReason, operator)
			if x.due == "" {
				if errs.CodeOf(err) != errs.Conflict {
					t.Fatalf("err = %v, want conflict", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stored, err := svc.GetRequest(ctx, tn, x.r.ID)
			if err != nil {
				t.Fatal(err)
			}
			x2 := stored.Extension
			if !got.DueAt.Equal(day(x.due)) || !stored.DueAt.Equal(day(x.due)) || x2 == nil || !x2.At.Equal(clk.now()) ||
				x2.Notified != x.told || (x2.NotifyErr == "") != x.told || got.Extension.Notified != x.told || stored.Version != 3 {
				t.Fatalf("extended: %+v %+v", stored, stored.Extension)
			}
		})
	}
	if want := []string{"extension " + r1.ID + " one@example.com", "extension " + r2.ID + " two@example.com"}; !slices.Equal(told.sent, want) {
		t.Fatalf("the notifier was asked %v, want %v", told.sent, want)
	}
	expect("open by due date after extensions", list(app.RequestQuery{}), r4, r3, r1, r2)

	clk.set("2026-03-01T00:00:00Z")
	expect("overdue on 1 March", list(app.RequestQuery{Overdue: true}), r4, r3)
	if _, err := svc.DenyRequest(ctx, tn, r4.ID, "The identity of the requester could not be verified.", operator); err != nil {
		t.Fatal(err)
	}
	expect("overdue after a denial", list(app.RequestQuery{Overdue: true}), r3)
	expect("closed", list(app.RequestQuery{Status: "closed"}), r4)
	expect("pending", list(app.RequestQuery{Status: "pending"}), r3, r1, r2)

	st := syncStore()
	open, err := st.OpenRequests(ctx, tn, day("2026-03-01T00:00:00Z"), 0)
	if err != nil {
		t.Fatal(err)
	}
	expect("OpenRequests due before 1 March", ids(open), r3)
	if open, err = st.OpenRequests(ctx, tn, time.Time{}, 2); err != nil {
		t.Fatal(err)
	}
	expect("OpenRequests, 2", ids(open), r3, r1)
	if open, err = st.OpenRequests(ctx, tn, time.Time{}, 0); err != nil {
		t.Fatal(err)
	}
	expect("OpenRequests", ids(open), r3, r1, r2)
	denied, err := st.Request(ctx, tn, r4.ID)
	if err != nil || denied.Status != dsr.Denied || denied.NotifyEmail != "" || denied.Version != 2 {
		t.Fatalf("denied request %+v %v", denied, err)
	}
	if last := told.sent[len(told.sent)-1]; last != "denial "+r4.ID+" four@example.com" {
		t.Fatalf("last notice %q", last)
	}
}

// TestRequestStore checks the storage contract the jobs use: optimistic concurrency,
// duplicate markers, the export key, the per-person list, the tenant list, and changes
// after the person's partition was erased.
func TestRequestStore(t *testing.T) {
	ctx := context.Background()
	tn := newTenant(t)
	st := syncStore()
	svc := app.New(st, time.Now, 0)
	p, err := svc.CreateProfile(ctx, tn, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: "store@example.com"}}}, app.Write{Actor: operator.Actor})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Profile.ID
	res, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: pid, Type: dsr.Rectification, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"}, operator)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID

	t.Run("optimistic concurrency", func(t *testing.T) {
		r, err := st.Request(ctx, tn, id)
		if err != nil {
			t.Fatal(err)
		}
		prior := r.Prior()
		r.Version, r.Status = prior.Version+1, dsr.InProgress
		if err := st.SaveRequest(ctx, r, prior); err != nil {
			t.Fatal(err)
		}
		err = st.SaveRequest(ctx, r, prior)
		if e, ok := errs.As(err); !ok || !errors.Is(err, errs.ErrStale) || e.Code != errs.Conflict {
			t.Fatalf("a stale save: %v", err)
		}
	})
	t.Run("export key survives storage", func(t *testing.T) {
		r, err := st.Request(ctx, tn, id)
		if err != nil {
			t.Fatal(err)
		}
		prior := r.Prior()
		r.Export = &dsr.Export{Key: tn + "/" + pid + "/" + id + ".zip", Bytes: 42, SHA256: "ab", ExpiresAt: time.Now().Add(time.Hour).UTC()}
		r.Version++
		if err := st.SaveRequest(ctx, r, prior); err != nil {
			t.Fatal(err)
		}
		got, err := st.Request(ctx, tn, id)
		if err != nil || got.Export == nil || got.Export.Key != r.Export.Key || got.Export.Bytes != 42 || got.Recipients != nil {
			t.Fatalf("export %+v %v", got.Export, err)
		}
		prior = got.Prior()
		got.Recipients = []dsr.Recipient{} // told no one: not the same as not yet known
		got.Version++
		if err := st.SaveRequest(ctx, got, prior); err != nil {
			t.Fatal(err)
		}
		if again, err := st.Request(ctx, tn, id); err != nil || again.Recipients == nil || len(again.Recipients) != 0 {
			t.Fatalf("empty recipients came back as %#v %v", again.Recipients, err)
		}
	})
	t.Run("a second open request of the kind is refused", func(t *testing.T) {
		dup := dsr.New(app.NewID("rq_"), tn, pid, dsr.Rectification, "", dsr.AttestedBrand, operator.Actor, time.Now())
		dup.Version = 1
		if err := st.SaveRequest(ctx, dup, dsr.Prior{}); !errors.Is(err, app.ErrDuplicateRequest) {
			t.Fatalf("err = %v, want a duplicate", err)
		}
		if _, err := st.Request(ctx, tn, dup.ID); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("the refused request was stored: %v", err)
		}
	})
	t.Run("closing releases the kind", func(t *testing.T) {
		r, err := st.Request(ctx, tn, id)
		if err != nil {
			t.Fatal(err)
		}
		prior := r.Prior()
		if err := r.Close(dsr.Completed, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		r.Version++
		if err := st.SaveRequest(ctx, r, prior); err != nil {
			t.Fatal(err)
		}
		// A later save of the closed request must not release another request's marker.
		next, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: pid, Type: dsr.Rectification, Verification: dsr.Unverified}, operator)
		if err != nil || next.Duplicate {
			t.Fatalf("a new request after closing: %+v %v", next, err)
		}
		prior = r.Prior()
		r.Version++
		r.Recipients = []dsr.Recipient{{EndpointID: "wh_x", DeliveryID: "d", Status: "delivered"}}
		if err := st.SaveRequest(ctx, r, prior); err != nil {
			t.Fatal(err)
		}
		again, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: pid, Type: dsr.Rectification, Verification: dsr.Unverified}, operator)
		if err != nil || !again.Duplicate || again.Request.ID != next.Request.ID {
			t.Fatalf("after re-saving the closed request: %+v %v", again, err)
		}
	})
	t.Run("requests of a profile", func(t *testing.T) {
		rs, err := st.RequestsOfProfile(ctx, tn, pid)
		if err != nil || len(rs) != 2 || rs[0].ID != id || rs[1].ProfileID != pid || rs[0].Export == nil || rs[0].Export.Key == "" {
			t.Fatalf("requests of the profile: %+v %v", rs, err)
		}
	})
	t.Run("tenants", func(t *testing.T) {
		ts, err := st.Tenants(ctx)
		if err != nil || !slices.Contains(ts, tenant) || !slices.Contains(ts, otherTenant) || !slices.Contains(ts, tn) || !slices.IsSorted(ts) {
			t.Fatalf("tenants %v %v", ts, err)
		}
	})
	t.Run("changes after an erasure", func(t *testing.T) {
		rs, err := st.RequestsOfProfile(ctx, tn, pid)
		if err != nil {
			t.Fatal(err)
		}
		open := rs[1]
		// Stand in for the erasure job: the person's partition and identity items go.
		pk := "T#" + tn + "#P#" + pid
		for _, k := range append(partitionKeys(t, pk), map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#" + tn + "#I#" + profile.Identity{Type: "email", Value: "store@example.com"}.Hash()},
			"SK": &types.AttributeValueMemberS{Value: "I"},
		}) {
			if _, err := env.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &env.stack.Table, Key: k}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := svc.CancelRequest(ctx, tn, open.ID, operator)
		if err != nil || got.Status != dsr.Cancelled {
			t.Fatalf("cancel after erasure: %+v %v", got, err)
		}
		if left := partitionKeys(t, pk); len(left) != 0 {
			t.Fatalf("the erased partition holds %d items again", len(left))
		}
		if _, err := st.Request(ctx, tn, id); err != nil {
			t.Fatalf("the pseudonymous record is gone: %v", err)
		}
		if _, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: pid, Type: dsr.Rectification, Verification: dsr.Unverified}, operator); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("a request for an erased person: %v", err)
		}
	})
}

// partitionKeys returns the keys of every item under pk.
func partitionKeys(t *testing.T, pk string) []map[string]types.AttributeValue {
	t.Helper()
	out, err := env.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &env.stack.Table, KeyConditionExpression: aws.String("PK = :pk"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ProjectionExpression:      aws.String("PK, SK"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// TestRequestEventsReachWebhooks: request events go out like every other ledger event, and
// request.created carries exactly the request's id and type.
func TestRequestEventsReachWebhooks(t *testing.T) {
	rc := newReceiver(t)
	rc.register([]string{"request.created", "request.completed"}, "")
	id, _ := newProfile(t, nil)
	rq := must(t, postRequest(t, map[string]any{"profileId": id, "type": "objection", "purpose": "marketing", "attested": true, "attestationReason": "identity checked by the support desk"}), 201).json(t)
	eventually(t, 10*time.Second, "the request events", func() bool {
		n := 0
		for _, e := range rc.events() {
			if e.ProfileID == id {
				n++
			}
		}
		return n >= 2
	})
	var got []string
	for _, e := range rc.events() {
		if e.ProfileID != id {
			continue
		}
		got = append(got, e.Type)
		if e.Type == "request.created" && (e.Data.Subject != "objection" || string(e.Data.New) != `{"id":"`+rq["id"].(string)+`","type":"objection","verification":"attested_brand","attestationReason":"identity checked by the support desk"}`) {
			t.Fatalf("request.created %+v new %s", e, e.Data.New)
		}
	}
	slices.Sort(got) // deliveries may arrive in any order
	if !slices.Equal(got, []string{"request.completed", "request.created"}) {
		t.Fatalf("events %v", got)
	}
}

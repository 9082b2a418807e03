package localstack_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/jsonin"
)

// route is one API route with a valid body, used as the base for hostile variants.
type routeCase struct {
	name, method, path, scope string
	valid                     string // a valid JSON body, "" for routes without one
}

func routes(id string) []routeCase {
	return []routeCase{
		{"create", "POST", "/v1/profiles", "write", `{"identities":[{"type":"email","value":"new-person@example.com"}]}`},
		{"find", "GET", "/v1/profiles?identity=email:x@example.com", "read", ""},
		{"get", "GET", "/v1/profiles/" + id, "read", ""},
		{"patch", "PATCH", "/v1/profiles/" + id, "write", `{"attributes":{"givenName":"Ola"}}`},
		{"consent", "PUT", "/v1/profiles/" + id + "/consents/marketing", "write", `{"status":"granted","noticeVersion":2}`},
		{"subscription", "PUT", "/v1/profiles/" + id + "/subscriptions/newsletter", "write", `{"status":"subscribed"}`},
		{"check", "POST", "/v1/consent-checks", "read", `{"profileId":"` + id + `","purpose":"marketing"}`},
		{"events", "GET", "/v1/profiles/" + id + "/events", "read", ""},
		{"catalog-get", "GET", "/v1/catalog", "read", ""},
		{"records", "GET", "/v1/records-of-processing", "read", ""},
		{"catalog-put", "PUT", "/v1/catalog", "admin", `{"defaultLocale":"en","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[]}`},
		{"portal-link", "POST", "/v1/portal-links", "links", `{"profileId":"` + id + `"}`},
		{"sync", "POST", "/v1/sync", "write", `{"source":"crm","changes":[{"id":"c1","identity":{"type":"email","value":"sync-bad-input@example.com"},"occurredAt":"2026-01-01T00:00:00Z","attributes":{"givenName":"Ola"}}]}`},
		{"request-create", "POST", "/v1/requests", "requests", `{"profileId":"` + id + `","type":"rectification","attested":true,"attestationReason":"identity checked by the support desk"}`},
		{"request-list", "GET", "/v1/requests?status=open", "requests", ""},
		{"request-get", "GET", "/v1/requests/" + requestOf(id), "requests", ""},
		{"request-extend", "POST", "/v1/requests/" + requestOf(id) + "/extension", "requests", `{"months":1,"reason":"` + extensionReason + `"}`},
		{"request-cancel", "POST", "/v1/requests/" + requestOf(id) + "/cancel", "requests", ""},
		{"request-complete", "POST", "/v1/requests/" + requestOf(id) + "/completion", "requests", `{"note":"Corrected the postal address."}`},
		{"request-deny", "POST", "/v1/requests/" + requestOf(id) + "/denial", "requests", `{"reason":"The request is manifestly unfounded."}`},
		{"webhook-create", "POST", "/v1/webhooks", "admin", `{"url":"https://hooks.example.com/lp","eventTypes":["profile.updated"]}`},
		{"webhook-list", "GET", "/v1/webhooks", "admin", ""},
		{"merge", "POST", "/v1/profiles/" + id + "/merges", "merge", `{"profileId":"p_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`},
		{"split", "POST", "/v1/profiles/" + id + "/splits", "merge", `{"mergeId":"mg_aaaaaaaaaaaaaaaaaaaaaaaaaa"}`},
		{"candidates", "GET", "/v1/merge-candidates?status=open", "merge", ""},
		{"candidate-decide", "POST", "/v1/merge-candidates/mc_000000000000000000000000/decision", "merge", `{"decision":"reject"}`},
		{"import-create", "POST", "/v1/imports", "write", `{"format":"ndjson","source":"crm","name":"bad input"}`},
		{"import-start", "POST", "/v1/imports/" + noImport + "/start", "write", ""},
		{"import-get", "GET", "/v1/imports/" + noImport, "write", ""},
		{"retention-runs", "GET", "/v1/retention-runs?limit=5", "admin", ""},
	}
}

// isProblem checks a 4xx problem response and returns its body.
func isProblem(t *testing.T, r reply) map[string]any {
	t.Helper()
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("status %d, want 4xx: %s", r.status, r.body)
	}
	// 401/403 from the gateway itself are API Gateway's plain JSON, as in AWS.
	if r.headers.Get("Content-Type") != "application/problem+json" {
		if r.status == 401 || r.status == 403 {
			return nil
		}
		t.Fatalf("content type %q: %s", r.headers.Get("Content-Type"), r.body)
	}
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil || p["status"] != float64(r.status) || p["title"] == "" {
		t.Fatalf("not an RFC 9457 problem: %s", r.body)
	}
	return p
}

func namesField(p map[string]any, field string) bool {
	_, ok := fieldReason(p, field)
	return ok
}

// fieldReason returns the reason the problem gives for field.
func fieldReason(p map[string]any, field string) (string, bool) {
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		if e := e.(map[string]any); e["field"] == field {
			r, _ := e["reason"].(string)
			return r, true
		}
	}
	return "", false
}

// sneak puts a member "sneaky" with the raw JSON value v first into the object body.
func sneak(body, v string) string { return strings.Replace(body, "{", `{"sneaky":`+v+`,`, 1) }

// nullFirst gives the first member of the object body the value null.
func nullFirst(body, first string) string {
	var v map[string]json.RawMessage
	_ = json.Unmarshal([]byte(body), &v)
	v[first] = json.RawMessage("null")
	b, _ := json.Marshal(v)
	return string(b)
}

// twice repeats every top-level member of the object body, and returns the first key,
// which is then the first duplicate.
func twice(t *testing.T, body string) (string, string) {
	dec := json.NewDecoder(strings.NewReader(body))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	k, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	return body[:len(body)-1] + "," + body[1:], k.(string)
}

// TestBadInput sends every route malformed, unknown-field, wrong-type, oversized and
// hostile input, and bad or missing keys: each gets a 4xx problem naming the field where
// there is one, and the table is unchanged.
func TestBadInput(t *testing.T) {
	id, _ := newProfile(t, nil)
	otherID := func() string {
		r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "other", body: map[string]any{
			"identities": []map[string]string{{"type": "email", "value": "theirs@example.com"}}}}), 201)
		return r.json(t)["id"].(string)
	}()
	all := routes(id) // before the digest: it may create the request the request routes use
	before := tableDigest(t)
	big := `{"attributes":{"givenName":"` + strings.Repeat("a", 1100<<10) + `"}}` // over every route's limit (sync: 1 MiB)
	for _, rt := range all {
		t.Run(rt.name, func(t *testing.T) {
			send := func(key, body string, headers map[string]string) reply {
				c := call{method: rt.method, path: rt.path, key: key, headers: headers}
				if body != "" {
					c.body = body
				}
				return do(t, c)
			}
			// Authentication and authorization.
			isProblem(t, send("", rt.valid, nil))
			isProblem(t, send("revoked", rt.valid, nil))
			must(t, send("", rt.valid, map[string]string{"Authorization": "Bearer lp_knotakey_x"}), 403)
			if rt.scope != "read" {
				p := isProblem(t, send("read", rt.valid, nil))
				if p["status"] != float64(403) {
					t.Fatalf("read key on %s: %v", rt.name, p)
				}
			}
			sep := "?"
			if strings.Contains(rt.path, "?") {
				sep = "&"
			}
			p := isProblem(t, do(t, call{method: rt.method, path: rt.path + sep + "sneaky=1", key: "all", body: nilIfEmpty(rt.valid)}))
			if r, _ := fieldReason(p, "sneaky"); p["status"] != float64(400) || r != "is not a known query parameter" {
				t.Fatalf("unknown query parameter: %v", p)
			}
			if strings.Contains(rt.path, id) {
				r := do(t, call{method: rt.method, path: strings.ReplaceAll(rt.path, id, otherID), key: "all", body: nilIfEmpty(rt.valid)})
				if p := isProblem(t, r); p["status"] != float64(404) {
					t.Fatalf("other tenant's profile: %v", p)
				}
			}
			if rt.valid == "" {
				p := isProblem(t, send("all", `{"x":1}`, nil))
				if p["status"] != float64(400) {
					t.Fatalf("body on a GET: %v", p)
				}
				return
			}
			dup, first := twice(t, rt.valid)
			cases := []struct {
				name, body, field string
				status            float64
				headers           map[string]string
				reason            string // the reason given for field, when it is checked
			}{
				{"duplicate key", dup, first, 400, nil, "appears more than once"},
				{"invalid UTF-8", sneak(rt.valid, "\"a\xffb\""), "sneaky", 400, nil, "is not valid UTF-8"},
				{"lone surrogate", sneak(rt.valid, `"\ud800"`), "sneaky", 400, nil, "holds a lone surrogate escape"},
				{"reversed surrogates", sneak(rt.valid, `"\udc00\ud800"`), "sneaky", 400, nil, "holds a lone surrogate escape"},
				{"null member", nullFirst(rt.valid, first), first, 400, nil, "must not be null"},
				{"null body", `null`, "(body)", 400, nil, "must not be null"},
				{"empty Idempotency-Key", rt.valid, "Idempotency-Key", 400, map[string]string{"Idempotency-Key": ""}, ""},
				{"malformed", `{"status":`, "", 400, nil, ""},
				{"not an object", `[1,2,3]`, "", 400, nil, ""},
				{"trailing data", rt.valid + `{}`, "", 400, nil, ""},
				{"unknown field", strings.Replace(rt.valid, "{", `{"sneaky":1,`, 1), "sneaky", 400, nil, ""},
				{"oversized", big, "", 413, nil, ""},
				{"wrong content type", rt.valid, "", 415, map[string]string{"Content-Type": "text/plain"}, ""},
				{"bad If-Match", rt.valid, "If-Match", 400, map[string]string{"If-Match": "yesterday"}, ""},
				{"bad Idempotency-Key", rt.valid, "Idempotency-Key", 400, map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, ""},
			}
			for _, c := range cases {
				if (c.field == "If-Match" || c.field == "Idempotency-Key") && rt.name == "check" ||
					c.field == "If-Match" && rt.method == "POST" {
					continue // reads take neither
				}
				t.Run(c.name, func(t *testing.T) {
					p := isProblem(t, send("all", c.body, c.headers))
					if p["status"] != c.status {
						t.Fatalf("status %v, want %v: %v", p["status"], c.status, p)
					}
					if c.field != "" && !namesField(p, c.field) {
						t.Fatalf("problem does not name %q: %v", c.field, p)
					}
					if r, _ := fieldReason(p, c.field); c.reason != "" && r != c.reason {
						t.Fatalf("reason for %s is %q, want %q", c.field, r, c.reason)
					}
				})
			}
		})
	}
	syncChange := `{"id":"c%d","identity":{"type":"email","value":"sync-bad-input@example.com"},"occurredAt":"2026-01-01T00:00:00Z"%s}`
	fresh := time.Now().UTC().Format(time.RFC3339) // signup evidence captured just now
	hostile := []struct {
		name, method, path, body, field string
		reason                          string // checked when given
	}{
		{"identity type of a wrong type", "POST", "/v1/profiles", `{"identities":[{"type":1,"value":"x@example.com"}]}`, "identities[0].type", "must be a string"},
		{"duplicate key in an identity", "POST", "/v1/profiles", `{"identities":[{"type":"email","type":"phone","value":"x@example.com"}]}`, "identities[0].type", "appears more than once"},
		{"sync consent of a wrong type", "POST", "/v1/sync", `{"source":"crm","changes":[` + fmt.Sprintf(syncChange, 1, "") + `,` +
			fmt.Sprintf(syncChange, 2, `,"consents":{"marketing":{"status":"granted","noticeVersion":"2"}}`) + `]}`,
			"changes[1].consents.marketing.noticeVersion", "must be a whole number"},
		{"sync attribute with NUL", "POST", "/v1/sync", `{"source":"crm","changes":[` + fmt.Sprintf(syncChange, 1, `,"attributes":{"givenName":"O\u0000la"}`) + `]}`,
			"changes[0].attributes.givenName", "must not hold control characters"},
		{"check channel of a wrong type", "POST", "/v1/consent-checks", `{"profileId":"` + id + `","purpose":"marketing","channel":5}`, "channel", "must be a string"},
		{"consent time of a wrong type", "PUT", "/v1/profiles/" + id + "/consents/marketing", `{"status":"granted","noticeVersion":2,"expiresAt":5}`,
			"expiresAt", "must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z"},
		{"fractional notice version", "PUT", "/v1/profiles/" + id + "/consents/marketing", `{"status":"granted","noticeVersion":2.5}`, "noticeVersion", "must be a whole number"},
		{"huge notice version", "PUT", "/v1/profiles/" + id + "/consents/marketing", `{"status":"granted","noticeVersion":1e400}`, "noticeVersion", "is out of range"},
		{"null completion", "POST", "/v1/requests/" + requestOf(id) + "/completion", `null`, "(body)", "must not be null"},
		{"null note", "POST", "/v1/requests/" + requestOf(id) + "/completion", `{"note":null}`, "note", "must not be null"},
		{"NUL in an attribute", "PATCH", "/v1/profiles/" + id, `{"attributes":{"givenName":"O\u0000la"}}`, "attributes.givenName", "must not hold control characters"},
		{"C1 control in a consent locale", "PUT", "/v1/profiles/" + id + "/consents/marketing", `{"status":"granted","noticeVersion":2,"locale":"pl\u009b"}`, "locale", "must not hold control characters"},
		{"NUL in a subscription channel", "PUT", "/v1/profiles/" + id + "/subscriptions/newsletter", `{"status":"subscribed","channels":["email\u0000"]}`, "channels[0]", "must not hold control characters"},
		{"NUL in a check purpose", "POST", "/v1/consent-checks", `{"profileId":"` + id + `","purpose":"marketing\u0000"}`, "purpose", "must not hold control characters"},
		{"NUL in a catalog locale", "PUT", "/v1/catalog", `{"defaultLocale":"en","locales":["en\u0000"],"purposes":[],"channels":[],"topics":[],"notices":[]}`, "locales[0]", "must not hold control characters"},
		{"newline in a link topic", "POST", "/v1/portal-links", `{"profileId":"` + id + `","topic":"news\nletter"}`, "topic", "must not hold control characters"},
		{"NUL in a request purpose", "POST", "/v1/requests", `{"profileId":"` + id + `","type":"objection","purpose":"marketing\u0000"}`, "purpose", "must not hold control characters"},
		{"null identity in a request", "POST", "/v1/requests", `{"identity":null,"type":"access"}`, "identity", "must not be null"},
		{"null attested", "POST", "/v1/requests", `{"profileId":"` + id + `","type":"access","attested":null}`, "attested", "must not be null"},
		{"NUL in a denial reason", "POST", "/v1/requests/" + requestOf(id) + "/denial", `{"reason":"Unfounded.\u0000"}`, "reason", "must not hold control characters"},
		{"escape in an extension reason", "POST", "/v1/requests/" + requestOf(id) + "/extension", `{"months":1,"reason":"\u001b[2J` + extensionReason + `"}`, "reason", "must not hold control characters"},
		{"lone surrogate in a webhook URL", "POST", "/v1/webhooks", `{"url":"https://hooks.example.com/\ud800","eventTypes":["profile.updated"]}`, "url", "holds a lone surrogate escape"},
		{"invalid UTF-8 in a webhook URL", "POST", "/v1/webhooks", "{\"url\":\"https://hooks.example.com/\xff\xfe\",\"eventTypes\":[\"profile.updated\"]}", "url", "is not valid UTF-8"},
		{"newline in a webhook URL", "POST", "/v1/webhooks", `{"url":"https://hooks.example.com/\nx","eventTypes":["profile.updated"]}`, "url", "must not hold control characters"},
		{"duplicate catalog key", "PUT", "/v1/catalog", `{"defaultLocale":"en","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[],"locales":["pl"]}`, "locales", "appears more than once"},
		{"unknown records format", "GET", "/v1/records-of-processing?format=xlsx", "", "format", "must be one of json, csv, html"},
		{"records language not in the catalog", "GET", "/v1/records-of-processing?lang=de", "", "lang", "must be one of the catalog's locales"},
		{"newline in the records format", "GET", "/v1/records-of-processing?format=csv%0A", "", "format", "must not hold control characters"},
		{"controller email without at", "PUT", "/v1/catalog", `{"defaultLocale":"en","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[],"controller":{"name":"Shop","address":"Street 1","email":"privacy"}}`, "controller.email", "must be an email address"},
		{"controller of a wrong type", "PUT", "/v1/catalog", `{"defaultLocale":"en","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[],"controller":"Shop"}`, "controller", ""},
		{"unknown field in the dpo", "PUT", "/v1/catalog", `{"defaultLocale":"en","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[],"dpo":{"name":"D","email":"d@example.com","fax":"1"}}`, "dpo.fax", ""},
		{"recipient of an unknown kind", "PUT", "/v1/catalog", `{"defaultLocale":"en","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[],"recipients":[{"id":"esp","kind":"friend","country":"US","name":{"en":"ESP"}}]}`, "recipients[0].kind", "must be one of processor, controller, public_authority"},
		{"NUL in a recipient country", "PUT", "/v1/catalog", `{"defaultLocale":"en","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[],"recipients":[{"id":"esp","kind":"processor","country":"U\u0000","name":{"en":"ESP"}}]}`, "recipients[0].country", ""},
		{"unknown query parameter on a list", "GET", "/v1/requests?status=open&sneaky=1", "", "sneaky", "is not a known query parameter"},
		{"query value with a control character", "GET", "/v1/profiles?identity=email:a%00@example.com", "", "identity", "must not hold control characters"},
		{"retention runs limit out of range", "GET", "/v1/retention-runs?limit=101", "", "limit", "must be a whole number from 1 to 100"},
		{"retention runs limit not a number", "GET", "/v1/retention-runs?limit=ten", "", "limit", "must be a whole number from 1 to 100"},
		{"email without at", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"not-an-email"}]}`, "identities[0].value", ""},
		{"local phone", "POST", "/v1/profiles", `{"identities":[{"type":"phone","value":"600100200"}]}`, "identities[0].value", ""},
		{"unknown identity type", "POST", "/v1/profiles", `{"identities":[{"type":"ssn","value":"1"}]}`, "identities[0].type", ""},
		{"no identities", "POST", "/v1/profiles", `{"identities":[]}`, "identities", ""},
		{"identities wrong type", "POST", "/v1/profiles", `{"identities":"a@b.co"}`, "identities", ""},
		{"control chars", "POST", "/v1/profiles", `{"identities":[{"type":"customer_id","value":"a\u0000b"}]}`, "identities[0].value", ""},
		{"script in name", "PATCH", "/v1/profiles/" + id, `{"attributes":{"givenName":"` + strings.Repeat("<script>", 20) + `"}}`, "attributes.givenName", ""},
		{"undeclared attribute", "PATCH", "/v1/profiles/" + id, `{"attributes":{"ssn":"123"}}`, "attributes.ssn", ""},
		{"attribute wrong type", "PATCH", "/v1/profiles/" + id, `{"attributes":{"shoe_size":"big"}}`, "attributes.shoe_size", ""},
		{"nested object attribute", "PATCH", "/v1/profiles/" + id, `{"attributes":{"givenName":{"$ne":1}}}`, "attributes.givenName", ""},
		{"bad status", "PUT", "/v1/profiles/" + id + "/consents/marketing", `{"status":"maybe","noticeVersion":2}`, "status", ""},
		{"future notice", "PUT", "/v1/profiles/" + id + "/consents/marketing", `{"status":"granted","noticeVersion":9}`, "noticeVersion", ""},
		{"notice wrong type", "PUT", "/v1/profiles/" + id + "/consents/marketing", `{"status":"granted","noticeVersion":"2"}`, "noticeVersion", ""},
		{"consent for contract purpose", "PUT", "/v1/profiles/" + id + "/consents/service", `{"status":"granted","noticeVersion":2}`, "purpose", ""},
		{"unknown purpose", "PUT", "/v1/profiles/" + id + "/consents/spam", `{"status":"granted","noticeVersion":1}`, "purpose", ""},
		{"channel of another topic", "PUT", "/v1/profiles/" + id + "/subscriptions/newsletter", `{"status":"subscribed","channels":["sms"]}`, "channels[0]", ""},
		{"unknown frequency", "PUT", "/v1/profiles/" + id + "/subscriptions/newsletter", `{"status":"subscribed","frequency":"hourly"}`, "frequency", ""},
		{"check bad identity", "POST", "/v1/consent-checks", `{"identity":{"type":"email","value":"@@"},"purpose":"marketing"}`, "identity.value", ""},
		{"check unknown purpose", "POST", "/v1/consent-checks", `{"profileId":"` + id + `","purpose":"spam"}`, "purpose", ""},
		{"batch bad item", "POST", "/v1/consent-checks", `{"checks":[{"profileId":"` + id + `","purpose":"marketing"},{"purpose":"marketing"}]}`, "checks[1].profileId", ""},
		{"invalid catalog", "PUT", "/v1/catalog", `{"defaultLocale":"english","locales":["en"],"purposes":[],"channels":[],"topics":[],"notices":[]}`, "defaultLocale", ""},
		{"link ttl", "POST", "/v1/portal-links", `{"profileId":"` + id + `","expiresIn":5}`, "expiresIn", ""},
		{"find bad identity", "GET", "/v1/profiles?identity=email:nope", "", "identity", ""},
		{"events bad limit", "GET", "/v1/profiles/" + id + "/events?limit=1000", "", "limit", ""},
		{"events bad cursor", "GET", "/v1/profiles/" + id + "/events?after=abc", "", "after", ""},
		{"stale signup evidence", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"double_opt_in","capturedAt":"2020-01-01T00:00:00Z","noticeVersion":2}}`, "signupEvidence.capturedAt", ""},
		{"future signup evidence", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"double_opt_in","capturedAt":"2099-01-01T00:00:00Z","noticeVersion":2}}`, "signupEvidence.capturedAt", ""},
		{"malformed capturedAt", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"double_opt_in","capturedAt":"yesterday","noticeVersion":2}}`, "signupEvidence.capturedAt", ""},
		{"capturedAt wrong type", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"double_opt_in","capturedAt":1700000000,"noticeVersion":2}}`, "signupEvidence.capturedAt", ""},
		{"unknown evidence method", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"assumed","capturedAt":"` + fresh + `","noticeVersion":2}}`, "signupEvidence.method", ""},
		{"evidence source with spaces", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web signup","method":"double_opt_in","capturedAt":"` + fresh + `","noticeVersion":2}}`, "signupEvidence.source", ""},
		{"evidence notice wrong type", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"double_opt_in","capturedAt":"` + fresh + `","noticeVersion":"2"}}`, "signupEvidence.noticeVersion", ""},
		{"evidence of an old notice", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"double_opt_in","capturedAt":"` + fresh + `","noticeVersion":1}}`, "signupEvidence.noticeVersion", ""},
		{"evidence without the consent", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{},"signupEvidence":{"purpose":"marketing","source":"web_signup","method":"double_opt_in","capturedAt":"` + fresh + `","noticeVersion":2}}`, "signupEvidence.purpose", ""},
		{"evidence for a contract purpose", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":{"purpose":"service","source":"web_signup","method":"double_opt_in","capturedAt":"` + fresh + `","noticeVersion":2}}`, "signupEvidence.purpose", ""},
		{"import format", "POST", "/v1/imports", `{"format":"xlsx","source":"crm"}`, "format", "must be ndjson or csv"},
		{"import source", "POST", "/v1/imports", `{"format":"csv","source":"CRM system"}`, "source", ""},
		{"import webhooks of a wrong type", "POST", "/v1/imports", `{"format":"csv","source":"crm","webhooks":"yes"}`, "webhooks", ""},
		{"import name with a control character", "POST", "/v1/imports", `{"format":"csv","source":"crm","name":"a\u0007b"}`, "name", ""},
		{"evidence wrong type", "POST", "/v1/profiles", `{"identities":[{"type":"email","value":"re-signup@example.com"}],"consents":{"marketing":{"status":"granted","noticeVersion":2}},"signupEvidence":"yes"}`, "signupEvidence", ""},
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			p := isProblem(t, do(t, call{method: h.method, path: h.path, key: "all", body: nilIfEmpty(h.body)}))
			if h.field != "" && !namesField(p, h.field) {
				t.Fatalf("problem does not name %q: %v", h.field, p)
			}
			if r, _ := fieldReason(p, h.field); h.reason != "" && r != h.reason {
				t.Fatalf("reason for %s is %q, want %q", h.field, r, h.reason)
			}
		})
	}
	if tableDigest(t) != before {
		t.Fatal("bad input changed the table")
	}
}

// noImport is an import id that is well-formed and exists nowhere.
const noImport = "imp_aaaaaaaaaaaaaaaaaaaaaaaaaa"

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FuzzRoutes throws arbitrary bodies at every write route: never a 5xx, and whenever the
// answer is 4xx, the table is unchanged.
func FuzzRoutes(f *testing.F) {
	seeds := []string{`{}`, `null`, `[]`, `"x"`, `{"identities":null}`, `{"status":"granted","noticeVersion":1e400}`,
		`{"attributes":{"givenName":"\ud800"}}`, `{"checks":[{}]}`, `{"a":` + strings.Repeat("[", 5000), "\x00\xff",
		`{"identities":[{"type":"email","value":"A@B.CO"}],"consents":{"marketing":{"status":"granted","noticeVersion":-1}}}`,
		`{"status":"granted","noticeVersion":2,"status":"withdrawn"}`, `{"reason":"\udc00\ud800"}`, "{\"note\":\"\xed\xa0\x80\"}",
		`{"reason":"a\u0085"}`, `{"months":1.0,"reason":"x"}`, `{"months":2.5}`, `{"url":null}`}
	for _, s := range seeds {
		for i := range 5 {
			f.Add(i, s)
		}
	}
	f.Fuzz(func(t *testing.T, which int, body string) {
		id := fixedProfile(t)
		rs := []routeCase{}
		for _, r := range routes(id) {
			if r.valid != "" {
				rs = append(rs, r)
			}
		}
		rt := rs[(which%len(rs)+len(rs))%len(rs)]
		before := tableDigest(t)
		r := do(t, call{method: rt.method, path: rt.path, key: "all", body: body})
		if r.status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, r.status, r.body)
		}
		// A body that breaks a rule of jsonin (duplicate key, invalid UTF-8, lone surrogate,
		// control character, malformed) is refused whatever the route.
		if strings.TrimSpace(body) != "" && jsonin.Valid([]byte(body)) != nil && r.status != 400 && r.status != 413 {
			t.Fatalf("%s with %q answered %d, want 400: %s", rt.name, body, r.status, r.body)
		}
		if r.status >= 400 && tableDigest(t) != before {
			t.Fatalf("%s with %q answered %d but changed the table", rt.name, body, r.status)
		}
	})
}

// TestBadInputIntegerSpellings: an integer in any JSON spelling is an integer (2.0 is, as
// JSON Schema says); a fraction is not, and changes nothing.
func TestBadInputIntegerSpellings(t *testing.T) {
	id, _ := newProfile(t, nil)
	path := "/v1/profiles/" + id + "/consents/marketing"
	for _, n := range []string{"2.0", "2e0", "20e-1", "0.2e1"} {
		t.Run(n, func(t *testing.T) {
			r := must(t, do(t, call{method: "PUT", path: path, key: "admin", body: `{"status":"granted","noticeVersion":` + n + `}`}), 200)
			c := r.json(t)["consents"].(map[string]any)["marketing"].(map[string]any)
			if c["noticeVersion"] != float64(2) || c["status"] != "granted" {
				t.Fatalf("consent %v, want granted at notice version 2", c)
			}
		})
	}
	before := tableDigest(t)
	p := isProblem(t, do(t, call{method: "PUT", path: path, key: "admin", body: `{"status":"withdrawn","noticeVersion":2.5}`}))
	if r, _ := fieldReason(p, "noticeVersion"); r != "must be a whole number" {
		t.Fatalf("2.5: %v", p)
	}
	if tableDigest(t) != before {
		t.Fatal("a refused consent changed the table")
	}
}

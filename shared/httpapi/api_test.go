package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/infra/testenv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/httpapi"
)

func api() *httpapi.API {
	return httpapi.New(env.svc, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil, "")
}

// req is one invocation: the authorizer's context (tenant and scopes; none when tenant is
// empty), path parameters, headers and body.
type req struct {
	tenant  string
	scopes  []apikey.Scope
	params  map[string]string
	query   map[string]string
	headers map[string]string
	body    string
}

func invoke(t *testing.T, h httpapi.Handler, r req) events.APIGatewayV2HTTPResponse {
	t.Helper()
	hd := map[string]string{"content-type": "application/json"}
	for k, v := range r.headers {
		hd[strings.ToLower(k)] = v
	}
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", Headers: hd, PathParameters: r.params, QueryStringParameters: r.query, Body: r.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: testenv.Unique("req")}}
	if r.tenant != "" {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{
			authorizer.CtxTenant: r.tenant, authorizer.CtxKeyID: "key1", authorizer.CtxScopes: apikey.FormatScopes(r.scopes)}}
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

var admin = []apikey.Scope{apikey.Admin}

// createdProfile creates a person through the API and returns its id.
func createdProfile(t *testing.T) string {
	t.Helper()
	resp := invoke(t, api().CreateProfile(), req{tenant: tenant, scopes: admin,
		body: `{"identities":[{"type":"email","value":"` + testenv.Unique("p") + `@example.com"}]}`})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, resp.Body)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &m)
	return m["id"].(string)
}

// TestProblems: every refusal is an RFC 9457 problem with the status of its error code.
func TestProblems(t *testing.T) {
	a := api()
	id := createdProfile(t)
	tests := []struct {
		name   string
		h      httpapi.Handler
		r      req
		status int
		in     string // in the problem's body
	}{
		{"no authorizer context", a.GetProfile(), req{params: map[string]string{"id": id}}, 401, ""},
		{"scope missing", a.PutConsent(), req{tenant: tenant, scopes: []apikey.Scope{apikey.Read}, params: map[string]string{"id": id, "purpose": "marketing"},
			body: `{"status":"granted","noticeVersion":2}`}, 403, "write"},
		{"other tenant", a.GetProfile(), req{tenant: otherTenant, scopes: admin, params: map[string]string{"id": id}}, 404, ""},
		{"unknown field", a.UpdateProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id}, body: `{"atributes":{}}`}, 400, "atributes"},
		{"malformed JSON", a.UpdateProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id}, body: `{"attributes":`}, 400, ""},
		{"not JSON", a.UpdateProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id}, body: `a=b`,
			headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}}, 415, ""},
		{"too large", a.UpdateProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id},
			body: `{"attributes":{"givenName":"` + strings.Repeat("x", 1<<20) + `"}}`}, 413, ""},
		{"stale If-Match", a.UpdateProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id},
			headers: map[string]string{"If-Match": `"99"`}, body: `{"attributes":{"givenName":"A"}}`}, 412, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, tt.h, tt.r)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tt.status, resp.Body)
			}
			if ct := resp.Headers["Content-Type"]; ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json", ct)
			}
			var p struct {
				Status int    `json:"status"`
				Title  string `json:"title"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || p.Status != tt.status || p.Title == "" {
				t.Fatalf("problem body %s (%v)", resp.Body, err)
			}
			if !strings.Contains(resp.Body, tt.in) {
				t.Fatalf("problem %s does not mention %q", resp.Body, tt.in)
			}
		})
	}
}

// TestETag: a read answers the version as ETag, and a write with it as If-Match lands.
func TestETag(t *testing.T) {
	a := api()
	id := createdProfile(t)
	got := invoke(t, a.GetProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id}})
	etag := got.Headers["ETag"]
	if got.StatusCode != 200 || etag != `"1"` {
		t.Fatalf("read: %d, ETag %q", got.StatusCode, etag)
	}
	w := invoke(t, a.UpdateProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id},
		headers: map[string]string{"If-Match": etag}, body: `{"attributes":{"givenName":"B"}}`})
	if w.StatusCode != 200 || w.Headers["ETag"] != `"2"` {
		t.Fatalf("write with If-Match %s: %d, ETag %q: %s", etag, w.StatusCode, w.Headers["ETag"], w.Body)
	}
}

// TestIdempotencyKey: a replay with the same key and body gets the first answer and writes
// nothing; the same key with another body is refused.
func TestIdempotencyKey(t *testing.T) {
	a := api()
	id := createdProfile(t)
	key := map[string]string{"Idempotency-Key": testenv.Unique("k")}
	put := func(body string) events.APIGatewayV2HTTPResponse {
		return invoke(t, a.PutConsent(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id, "purpose": "marketing"}, headers: key, body: body})
	}
	first := put(`{"status":"granted","noticeVersion":2}`)
	if first.StatusCode != 200 {
		t.Fatalf("first: %d %s", first.StatusCode, first.Body)
	}
	steps := []struct {
		name   string
		body   string
		status int
	}{
		{"replay", `{"status":"granted","noticeVersion":2}`, 200},
		{"replay, keys reordered", `{"noticeVersion":2,"status":"granted"}`, 0}, // either a replay or a refusal, never a second write
		{"other body", `{"status":"denied","noticeVersion":2}`, 422},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := put(s.body)
			if s.status != 0 && r.StatusCode != s.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, s.status, r.Body)
			}
			if r.StatusCode == 200 && r.Body != first.Body {
				t.Fatalf("replay answered\n%s\nnot the first answer\n%s", r.Body, first.Body)
			}
			p := invoke(t, a.GetProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id}})
			if p.Headers["ETag"] != `"2"` {
				t.Fatalf("after a replay the profile is at %s, want \"2\"", p.Headers["ETag"])
			}
		})
	}
	t.Run("same key, other tenant", func(t *testing.T) {
		r := invoke(t, a.PutConsent(), req{tenant: otherTenant, scopes: admin, params: map[string]string{"id": id, "purpose": "marketing"}, headers: key,
			body: `{"status":"granted","noticeVersion":2}`})
		if r.StatusCode != 404 {
			t.Fatalf("another tenant replaying the key: %d %s", r.StatusCode, r.Body)
		}
	})
}

// TestStrictInput: the edge names the exact field of a body, header or query parameter it
// refuses, in errors[].field, with the reason in words.
func TestStrictInput(t *testing.T) {
	a := api()
	id := createdProfile(t)
	profile := map[string]string{"id": id}
	tests := []struct {
		name          string
		h             httpapi.Handler
		r             req
		field, reason string
	}{
		{"array index kept", a.CreateProfile(), req{body: `{"identities":[{"type":1,"value":"x@example.com"}]}`}, "identities[0].type", "must be a string"},
		{"embedded field without its Go type", a.CheckConsent(), req{body: `{"profileId":"` + id + `","purpose":"marketing","channel":5}`}, "channel", "must be a string"},
		{"wrong-typed time", a.PutConsent(), req{params: profile, body: `{"status":"granted","noticeVersion":2,"expiresAt":true}`},
			"expiresAt", "must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z"},
		{"duplicate key", a.PutConsent(), req{params: profile, body: `{"status":"granted","status":"denied","noticeVersion":2}`}, "status", "appears more than once"},
		{"null body", a.UpdateProfile(), req{params: profile, body: `null`}, "(body)", "must not be null"},
		{"empty Idempotency-Key", a.UpdateProfile(), req{params: profile, body: `{}`, headers: map[string]string{"Idempotency-Key": ""}}, "Idempotency-Key", "must be 1 to 255 visible ASCII characters"},
		{"unknown query parameter", a.GetProfile(), req{params: profile, query: map[string]string{"fields": "all"}}, "fields", "is not a known query parameter"},
		{"unknown query parameter on a write", a.UpdateProfile(), req{params: profile, body: `{}`, query: map[string]string{"dryRun": "1"}}, "dryRun", "is not a known query parameter"},
		{"query value not UTF-8", a.FindProfile(), req{query: map[string]string{"identity": "email:\xff@example.com"}}, "identity", "is not valid UTF-8"},
		{"query value with a control character", a.ListEvents(), req{params: profile, query: map[string]string{"limit": "5\x00"}}, "limit", "must not hold control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.tenant, tt.r.scopes = tenant, admin
			resp := invoke(t, tt.h, tt.r)
			var p struct {
				Errors []struct{ Field, Reason string } `json:"errors"`
			}
			_ = json.Unmarshal([]byte(resp.Body), &p)
			if resp.StatusCode != 400 || len(p.Errors) != 1 || p.Errors[0].Field != tt.field || p.Errors[0].Reason != tt.reason {
				t.Fatalf("%d %s, want 400 naming %s: %s", resp.StatusCode, resp.Body, tt.field, tt.reason)
			}
		})
	}
}

// TestCatalogRoundTrip: a catalog read back can be sent again as it is, though it was put
// without its optional lists (null is refused on input; they are shown as []).
func TestCatalogRoundTrip(t *testing.T) {
	a := api()
	ten := testenv.Unique("t")
	put := invoke(t, a.PutCatalog(), req{tenant: ten, scopes: admin, body: `{"defaultLocale":"en","locales":["en"]}`})
	if put.StatusCode != 200 || strings.Contains(put.Body, "null") {
		t.Fatalf("put: %d %s", put.StatusCode, put.Body)
	}
	got := invoke(t, a.GetCatalog(), req{tenant: ten, scopes: admin})
	var c map[string]any
	if err := json.Unmarshal([]byte(got.Body), &c); err != nil || got.StatusCode != 200 {
		t.Fatalf("get: %d %s", got.StatusCode, got.Body)
	}
	delete(c, "version")
	delete(c, "updatedAt")
	body, _ := json.Marshal(c)
	if again := invoke(t, a.PutCatalog(), req{tenant: ten, scopes: admin, body: string(body)}); again.StatusCode != 200 {
		t.Fatalf("put back %s: %d %s", body, again.StatusCode, again.Body)
	}
}

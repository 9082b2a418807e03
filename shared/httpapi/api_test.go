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
	other := createdProfile(t)
	var otherEmail string
	{
		resp := invoke(t, a.GetProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": other}})
		var m struct {
			Identities []struct{ Value string } `json:"identities"`
		}
		_ = json.Unmarshal([]byte(resp.Body), &m)
		otherEmail = m.Identities[0].Value
	}
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
		{"identity of another person", a.UpdateProfile(), req{tenant: tenant, scopes: admin, params: map[string]string{"id": id},
			body: `{"addIdentities":[{"type":"email","value":"` + otherEmail + `"}]}`}, 409, ""},
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
		{"other body", `{"status":"denied","noticeVersion":2}`, 409},
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

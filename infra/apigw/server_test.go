package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire"
)

const testTemplate = `
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Keys
        Authorizers:
          Keys:
            FunctionArn: !GetAtt Auth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
              ReauthorizeEvery: 300
          Uncached:
            FunctionArn: !GetAtt Auth.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
  Auth:
    Type: AWS::Serverless::Function
  Profiles:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 7
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/v1/profiles/{id}"}}
        Me: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /v1/profiles/me}}
        Consent: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: PUT, Path: "/v1/profiles/{id}/consents/{purpose}"}}
        Uncached: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /v1/uncached, Auth: {Authorizer: Uncached}}}
  Files:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Any: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: ANY, Path: "/files/{name}/{part}", Auth: {Authorizer: NONE}}}
        Exact: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/files/{name}", Auth: {Authorizer: NONE}}}
        Upload: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: POST, Path: /upload, Auth: {Authorizer: NONE}}}
`

// fakeLambda records the events a handler receives and answers with respond.
type fakeLambda struct {
	mu      sync.Mutex
	events  []events.APIGatewayV2HTTPRequest
	ctxs    []context.Context
	respond func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

func (f *fakeLambda) handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	if f.respond != nil {
		return f.respond(ev)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: ev.RouteKey}, nil
}

func (f *fakeLambda) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		t.Fatal("handler was not invoked")
	}
	return f.events[len(f.events)-1]
}

func (f *fakeLambda) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

// fakeAuthorizer allows "Bearer good" (with a context), denies "Bearer bad", fails on
// "Bearer error" and panics on "Bearer panic". It counts its invocations.
type fakeAuthorizer struct {
	mu    sync.Mutex
	calls int
	last  events.APIGatewayV2CustomAuthorizerV2Request
}

func (a *fakeAuthorizer) handle(_ context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	a.mu.Lock()
	a.calls++
	a.last = req
	a.mu.Unlock()
	switch req.IdentitySource[0] {
	case "Bearer good":
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true,
			Context: map[string]any{"tenant": "acme", "scopes": []string{"read"}, "n": 1}}, nil
	case "Bearer error":
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, errors.New("table unavailable")
	case "Bearer panic":
		panic("authorizer bug")
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
}

func (a *fakeAuthorizer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

type fixture struct {
	srv      *Server
	url      string
	profiles *fakeLambda
	files    *fakeLambda
	auth     *fakeAuthorizer
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func parseTemplate(t *testing.T, yaml string) *template.Template {
	t.Helper()
	tpl, err := template.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("parse template: %v", err)
	}
	return tpl
}

// newFixture builds the server for testTemplate; with listen it also serves it over HTTP.
func newFixture(t *testing.T, listen bool) *fixture {
	t.Helper()
	tpl := parseTemplate(t, testTemplate)
	f := &fixture{profiles: &fakeLambda{}, files: &fakeLambda{}, auth: &fakeAuthorizer{}, logs: &syncBuffer{}}
	srv, err := New(Config{
		API:         tpl.HTTPAPI,
		Functions:   tpl.Functions,
		Handlers:    map[string]wire.HTTPHandler{"Profiles": f.profiles.handle, "Files": f.files.handle},
		Authorizers: map[string]wire.AuthorizerHandler{"Auth": f.auth.handle},
		Logger:      slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.srv = srv
	if listen {
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		f.url = ts.URL
	}
	return f
}

type result struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(t *testing.T, method, path string, header http.Header, body io.Reader) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var authorized = http.Header{"Authorization": {"Bearer good"}}

func TestRouting(t *testing.T) {
	f := newFixture(t, true)
	tests := []struct {
		method, path string
		wantStatus   int
		wantRoute    string
		wantParams   map[string]string
	}{
		{"GET", "/v1/profiles/abc", 200, "GET /v1/profiles/{id}", map[string]string{"id": "abc"}},
		{"GET", "/v1/profiles/me", 200, "GET /v1/profiles/me", nil},
		{"GET", "/v1/profiles/a%20b%2Fc", 200, "GET /v1/profiles/{id}", map[string]string{"id": "a b/c"}},
		{"PUT", "/v1/profiles/p-1/consents/marketing", 200, "PUT /v1/profiles/{id}/consents/{purpose}", map[string]string{"id": "p-1", "purpose": "marketing"}},
		{"GET", "/files/report.csv", 200, "GET /files/{name}", map[string]string{"name": "report.csv"}},
		{"POST", "/files/report.csv", 404, "", nil},
		{"DELETE", "/files/a/b", 200, "ANY /files/{name}/{part}", map[string]string{"name": "a", "part": "b"}},
		{"GET", "/files/a/b", 200, "ANY /files/{name}/{part}", map[string]string{"name": "a", "part": "b"}},
		{"GET", "/files/a/b/c", 404, "", nil},
		{"GET", "/v1//profiles/abc", 404, "", nil},
		{"GET", "/files", 404, "", nil},
		{"GET", "/files/", 404, "", nil},
		{"DELETE", "/v1/profiles/abc", 404, "", nil},
		{"GET", "/v1/profiles/", 404, "", nil},
		{"GET", "/V1/profiles/abc", 404, "", nil},
		{"GET", "/nowhere", 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := f.do(t, tt.method, tt.path, authorized, nil)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", res.status, res.body, tt.wantStatus)
			}
			if tt.wantStatus == 404 {
				if res.body != `{"message":"Not Found"}` || res.header.Get("Content-Type") != "application/json" {
					t.Errorf("404 body = %s (%s)", res.body, res.header.Get("Content-Type"))
				}
				return
			}
			if res.body != tt.wantRoute {
				t.Errorf("route = %q, want %q", res.body, tt.wantRoute)
			}
			var ev events.APIGatewayV2HTTPRequest
			if strings.HasPrefix(tt.wantRoute, "GET /files") || strings.HasPrefix(tt.wantRoute, "ANY") {
				ev = f.files.last(t)
			} else {
				ev = f.profiles.last(t)
			}
			if !reflect.DeepEqual(ev.PathParameters, tt.wantParams) {
				t.Errorf("pathParameters = %v, want %v", ev.PathParameters, tt.wantParams)
			}
		})
	}
}

func TestEvent(t *testing.T) {
	f := newFixture(t, true)
	header := http.Header{
		"Authorization": {"Bearer good"},
		"X-Multi":       {"one", "two"},
		"Cookie":        {"session=s1; theme=dark", "extra=1"},
		"User-Agent":    {"test-agent/1.0"},
	}
	before := time.Now()
	res := f.do(t, "GET", "/v1/profiles/abc?x=1&x=2&name=J%C3%B3zef&empty=", header, nil)
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	ev := f.profiles.last(t)
	rc := ev.RequestContext
	host := strings.TrimPrefix(f.url, "http://")
	tests := []struct {
		name      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "GET /v1/profiles/{id}"},
		{"rawPath", ev.RawPath, "/v1/profiles/abc"},
		{"rawQueryString", ev.RawQueryString, "x=1&x=2&name=J%C3%B3zef&empty="},
		{"cookies", ev.Cookies, []string{"session=s1", "theme=dark", "extra=1"}},
		{"multi-value header", ev.Headers["x-multi"], "one,two"},
		{"no cookie header", ev.Headers["cookie"], ""},
		{"host header", ev.Headers["host"], host},
		{"user agent header", ev.Headers["user-agent"], "test-agent/1.0"},
		{"x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1"},
		{"x-forwarded-proto", ev.Headers["x-forwarded-proto"], "http"},
		{"x-forwarded-port", ev.Headers["x-forwarded-port"], host[strings.LastIndex(host, ":")+1:]},
		{"query", ev.QueryStringParameters, map[string]string{"x": "1,2", "name": "Józef", "empty": ""}},
		{"body", ev.Body, ""},
		{"not base64", ev.IsBase64Encoded, false},
		{"accountId", rc.AccountID, "000000000000"},
		{"apiId", rc.APIID, "local"},
		{"domainName", rc.DomainName, host},
		{"domainPrefix", rc.DomainPrefix, "127"},
		{"http.method", rc.HTTP.Method, "GET"},
		{"http.path", rc.HTTP.Path, "/v1/profiles/abc"},
		{"http.protocol", rc.HTTP.Protocol, "HTTP/1.1"},
		{"http.sourceIp", rc.HTTP.SourceIP, "127.0.0.1"},
		{"http.userAgent", rc.HTTP.UserAgent, "test-agent/1.0"},
		{"context routeKey", rc.RouteKey, "GET /v1/profiles/{id}"},
		{"stage", rc.Stage, "$default"},
		{"request id returned", res.header.Get("Apigw-Requestid"), rc.RequestID},
		{"authorizer context has JSON types", rc.Authorizer.Lambda, map[string]any{"tenant": "acme", "scopes": []any{"read"}, "n": float64(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	t.Run("time", func(t *testing.T) {
		at := time.UnixMilli(rc.TimeEpoch)
		if at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("timeEpoch %v is not now", at)
		}
		parsed, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time)
		if err != nil || parsed.Unix() != at.Unix() {
			t.Errorf("time %q does not match timeEpoch (%v)", rc.Time, err)
		}
	})
	t.Run("request ids are unique", func(t *testing.T) {
		f.do(t, "GET", "/v1/profiles/abc", authorized, nil)
		if second := f.profiles.last(t).RequestContext.RequestID; second == rc.RequestID || rc.RequestID == "" {
			t.Errorf("request ids %q and %q", rc.RequestID, second)
		}
	})
	t.Run("authorizer request", func(t *testing.T) {
		f.auth.mu.Lock()
		req := f.auth.last
		f.auth.mu.Unlock()
		if req.Type != "REQUEST" || req.Version != "2.0" || !reflect.DeepEqual(req.IdentitySource, []string{"Bearer good"}) ||
			req.RouteArn != "arn:aws:execute-api:eu-central-1:000000000000:local/$default/GET/v1/profiles/abc" ||
			req.RouteKey != "GET /v1/profiles/{id}" || req.PathParameters["id"] != "abc" || req.Headers["x-multi"] != "one,two" {
			t.Errorf("authorizer request = %+v", req)
		}
	})
	t.Run("lambda context", func(t *testing.T) {
		f.profiles.mu.Lock()
		ctx := f.profiles.ctxs[0]
		f.profiles.mu.Unlock()
		lc, ok := lambdacontext.FromContext(ctx)
		deadline, hasDeadline := ctx.Deadline()
		if !ok || lc.AwsRequestID == "" || !hasDeadline || deadline.Sub(before) > 8*time.Second || deadline.Sub(before) < 6*time.Second {
			t.Errorf("lambda context %+v, deadline %v after the request (want the 7 s timeout)", lc, deadline.Sub(before))
		}
	})
}

func TestBodyEncoding(t *testing.T) {
	f := newFixture(t, true)
	binary := []byte{0x89, 'P', 'N', 'G', 0x00, 0xff}
	tests := []struct {
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"application/json", []byte(`{"a":1}`), false},
		{"application/json; charset=utf-8", []byte(`{"a":1}`), false},
		{"text/plain", []byte("hello"), false},
		{"text/csv", []byte("a,b"), false},
		{"application/problem+json", []byte(`{}`), false},
		{"application/xml", []byte("<a/>"), false},
		{"application/x-www-form-urlencoded", []byte("a=1&b=2"), false},
		{"application/javascript", []byte("x()"), false},
		{"application/octet-stream", binary, true},
		{"image/png", binary, true},
		{"application/pdf", []byte("%PDF"), true},
		{"", []byte("no type"), true},
	}
	for _, tt := range tests {
		t.Run(cmpName(tt.contentType), func(t *testing.T) {
			h := http.Header{}
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			if res := f.do(t, "POST", "/upload", h, bytes.NewReader(tt.body)); res.status != 200 {
				t.Fatalf("status %d", res.status)
			}
			ev := f.files.last(t)
			if ev.IsBase64Encoded != tt.wantBase64 {
				t.Fatalf("isBase64Encoded = %v, want %v", ev.IsBase64Encoded, tt.wantBase64)
			}
			got := []byte(ev.Body)
			if ev.IsBase64Encoded {
				var err error
				if got, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
		})
	}
	t.Run("empty body", func(t *testing.T) {
		f.do(t, "POST", "/upload", nil, nil)
		if ev := f.files.last(t); ev.Body != "" || ev.IsBase64Encoded {
			t.Errorf("body %q base64 %v, want empty and not encoded", ev.Body, ev.IsBase64Encoded)
		}
	})
}

func cmpName(s string) string {
	if s == "" {
		return "no content type"
	}
	return strings.ReplaceAll(s, "/", "_")
}

// unsized hides a reader's length, so the client streams it chunked.
type unsized struct{ io.Reader }

func TestPayloadLimit(t *testing.T) {
	f := newFixture(t, true)
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
	}{
		{"at the limit", bytes.NewReader(make([]byte, MaxBodyBytes)), 200},
		{"one byte over", bytes.NewReader(make([]byte, MaxBodyBytes+1)), 413},
		{"over without content length", unsized{bytes.NewReader(make([]byte, MaxBodyBytes+1))}, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.files.count()
			res := f.do(t, "POST", "/upload", http.Header{"Content-Type": {"application/octet-stream"}}, tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.status, tt.wantStatus)
			}
			invoked := f.files.count() > before
			if tt.wantStatus == 413 && (invoked || res.body != `{"message":"Request Entity Too Large"}`) {
				t.Errorf("invoked %v, body %s; want no invocation and API Gateway's message", invoked, res.body)
			}
		})
	}
}

func TestAuthorizer(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
		wantBody   string
		wantCalls  int
	}{
		{"allowed", "/v1/profiles/1", authorized, 200, "GET /v1/profiles/{id}", 1},
		{"missing identity header", "/v1/profiles/1", nil, 401, `{"message":"Unauthorized"}`, 0},
		{"empty identity header", "/v1/profiles/1", http.Header{"Authorization": {""}}, 401, `{"message":"Unauthorized"}`, 0},
		{"denied", "/v1/profiles/1", http.Header{"Authorization": {"Bearer bad"}}, 403, `{"message":"Forbidden"}`, 1},
		{"authorizer error", "/v1/profiles/1", http.Header{"Authorization": {"Bearer error"}}, 500, `{"message":"Internal Server Error"}`, 1},
		{"authorizer panic", "/v1/profiles/1", http.Header{"Authorization": {"Bearer panic"}}, 500, `{"message":"Internal Server Error"}`, 1},
		{"route without authorizer", "/files/x", nil, 200, "GET /files/{name}", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			res := f.do(t, "GET", tt.path, tt.header, nil)
			if res.status != tt.wantStatus || res.body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", res.status, res.body, tt.wantStatus, tt.wantBody)
			}
			if got := f.auth.count(); got != tt.wantCalls {
				t.Errorf("authorizer invoked %d times, want %d", got, tt.wantCalls)
			}
			if tt.wantStatus != 200 && f.profiles.count() != 0 {
				t.Error("route handler invoked although the request was refused")
			}
		})
	}
}

func TestAuthorizerCache(t *testing.T) {
	type step struct {
		path      string
		token     string
		wait      time.Duration
		wantCode  int
		wantCalls int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"same identity is served from the cache", []step{
			{"/v1/profiles/1", "Bearer good", 0, 200, 1},
			{"/v1/profiles/2", "Bearer good", 0, 200, 1},
			{"/v1/profiles/me", "Bearer good", time.Minute, 200, 1},
		}},
		{"a denial is cached too", []step{
			{"/v1/profiles/1", "Bearer bad", 0, 403, 1},
			{"/v1/profiles/1", "Bearer bad", 0, 403, 1},
		}},
		{"another identity is not", []step{
			{"/v1/profiles/1", "Bearer good", 0, 200, 1},
			{"/v1/profiles/1", "Bearer bad", 0, 403, 2},
		}},
		{"the entry expires after the TTL", []step{
			{"/v1/profiles/1", "Bearer good", 0, 200, 1},
			{"/v1/profiles/1", "Bearer good", 301 * time.Second, 200, 2},
		}},
		{"TTL 0 does not cache", []step{
			{"/v1/uncached", "Bearer good", 0, 200, 1},
			{"/v1/uncached", "Bearer good", 0, 200, 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The bubble's fake clock lets the TTL pass at once.
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, false)
				for i, s := range tt.steps {
					time.Sleep(s.wait)
					req := httptest.NewRequest("GET", s.path, nil)
					req.Header.Set("Authorization", s.token)
					rec := httptest.NewRecorder()
					f.srv.ServeHTTP(rec, req)
					if rec.Code != s.wantCode || f.auth.count() != s.wantCalls {
						t.Fatalf("step %d: status %d with %d authorizer calls, want %d with %d",
							i, rec.Code, f.auth.count(), s.wantCode, s.wantCalls)
					}
				}
			})
		})
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name       string
		respond    func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
		wantStatus int
		wantBody   string
		check      func(t *testing.T, h http.Header)
	}{
		{"headers, cookies and status", func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{
				StatusCode:        201,
				Headers:           map[string]string{"content-type": "application/json", "ETag": `"2"`},
				MultiValueHeaders: map[string][]string{"Link": {"<a>", "<b>"}},
				Cookies:           []string{"session=s2; HttpOnly", "theme=light"},
				Body:              `{"ok":true}`,
			}, nil
		}, 201, `{"ok":true}`, func(t *testing.T, h http.Header) {
			if h.Get("Content-Type") != "application/json" || h.Get("Etag") != `"2"` ||
				!reflect.DeepEqual(h.Values("Link"), []string{"<a>", "<b>"}) ||
				!reflect.DeepEqual(h.Values("Set-Cookie"), []string{"session=s2; HttpOnly", "theme=light"}) {
				t.Errorf("headers = %v", h)
			}
		}},
		{"base64 body is decoded", func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, IsBase64Encoded: true,
				Body: base64.StdEncoding.EncodeToString([]byte("binary\x00data"))}, nil
		}, 200, "binary\x00data", nil},
		{"no sniffed content type", func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "<html></html>"}, nil
		}, 200, "<html></html>", func(t *testing.T, h http.Header) {
			if ct, ok := h["Content-Type"]; ok {
				t.Errorf("Content-Type = %v, want none", ct)
			}
		}},
		{"handler error", func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{}, errors.New("boom")
		}, 500, `{"message":"Internal Server Error"}`, nil},
		{"handler panic", func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			panic("nil map")
		}, 500, `{"message":"Internal Server Error"}`, nil},
		{"missing status code", func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{Body: "x"}, nil
		}, 500, `{"message":"Internal Server Error"}`, nil},
		{"invalid base64", func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, IsBase64Encoded: true, Body: "%%%"}, nil
		}, 500, `{"message":"Internal Server Error"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true)
			f.files.respond = tt.respond
			res := f.do(t, "GET", "/files/x", nil, nil)
			if res.status != tt.wantStatus || res.body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", res.status, res.body, tt.wantStatus, tt.wantBody)
			}
			if tt.check != nil {
				tt.check(t, res.header)
			}
			if tt.wantStatus == 500 && !strings.Contains(f.logs.String(), `"msg":"function invocation failed"`) {
				t.Errorf("failure not logged: %s", f.logs.String())
			}
		})
	}
}

func TestAccessLogHasNoPersonalData(t *testing.T) {
	f := newFixture(t, true)
	f.do(t, "GET", "/v1/profiles/jan.kowalski%40example.com?email=jan%40example.com",
		http.Header{"Authorization": {"Bearer good"}, "X-Note": {"private"}}, nil)
	f.do(t, "POST", "/upload", http.Header{"Content-Type": {"text/plain"}}, strings.NewReader("secret body"))

	logs := f.logs.String()
	for _, leak := range []string{"kowalski", "jan", "example.com", "Bearer", "private", "secret body"} {
		if strings.Contains(logs, leak) {
			t.Errorf("access log contains %q: %s", leak, logs)
		}
	}
	var line struct {
		Msg       string  `json:"msg"`
		RequestID string  `json:"request_id"`
		Method    string  `json:"method"`
		RouteKey  string  `json:"route_key"`
		Status    int     `json:"status"`
		Latency   float64 `json:"latency_ms"`
	}
	first, _, _ := strings.Cut(logs, "\n")
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatal(err)
	}
	if line.Msg != "http api request" || line.RequestID == "" || line.Method != "GET" ||
		line.RouteKey != "GET /v1/profiles/{id}" || line.Status != 200 {
		t.Errorf("access log line = %+v", line)
	}
}

func TestNewRejects(t *testing.T) {
	ok := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, nil
	}
	allow := func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, nil
	}
	base := parseTemplate(t, testTemplate)
	tests := []struct {
		name    string
		mutate  func(cfg *Config)
		wantErr string
	}{
		{"missing route handler", func(c *Config) { delete(c.Handlers, "Files") }, "function Files has routes but no handler"},
		{"handler without routes", func(c *Config) { c.Handlers["Auth"] = ok }, "handler for Auth, which has no routes"},
		{"missing authorizer handler", func(c *Config) { delete(c.Authorizers, "Auth") }, "no handler for function Auth"},
		{"unused authorizer handler", func(c *Config) { c.Authorizers["Files"] = allow }, "authorizer handler for Files, which no route uses"},
		{"policy authorizer", func(c *Config) {
			a := c.API.Authorizers["Keys"]
			a.SimpleResponses = false
			c.API.Authorizers["Keys"] = a
		}, "only payload 2.0 with simple responses"},
		{"payload 1.0 route", func(c *Config) { c.Functions[2].Routes[0].PayloadFormatVersion = "1.0" }, "only 2.0 is emulated"},
		{"unknown authorizer", func(c *Config) { c.Functions[2].Routes[0].Authorizer = "Nope" }, `unknown authorizer "Nope"`},
		{"duplicate route", func(c *Config) { c.Functions[2].Routes[2].Path = c.Functions[2].Routes[1].Path }, "is declared by"},
		{"greedy variable", func(c *Config) { c.Functions[1].Routes[0].Path = "/files/{proxy+}" }, "greedy variables are not emulated"},
		{"routes ServeMux cannot rank", func(c *Config) { c.Functions[2].Routes[3].Path = "/{x}/profiles/me" }, "conflicts with"},
		{"named stage", func(c *Config) { c.API.StageName = "prod" }, "only the $default stage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{
				API:         cloneAPI(base.HTTPAPI),
				Functions:   cloneFunctions(base.Functions),
				Handlers:    map[string]wire.HTTPHandler{"Profiles": ok, "Files": ok},
				Authorizers: map[string]wire.AuthorizerHandler{"Auth": allow},
			}
			if cfg.Functions[1].LogicalID != "Files" || cfg.Functions[2].LogicalID != "Profiles" {
				t.Fatalf("fixture order changed: %s %s", cfg.Functions[1].LogicalID, cfg.Functions[2].LogicalID)
			}
			if _, err := New(cfg); err != nil {
				t.Fatalf("unmodified config: %v", err)
			}
			tt.mutate(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func cloneAPI(a *template.HTTPAPI) *template.HTTPAPI {
	c := *a
	c.Authorizers = map[string]template.Authorizer{}
	for k, v := range a.Authorizers {
		c.Authorizers[k] = v
	}
	return &c
}

func cloneFunctions(fns []template.Function) []template.Function {
	out := make([]template.Function, len(fns))
	for i, f := range fns {
		f.Routes = append([]template.Route(nil), f.Routes...)
		out[i] = f
	}
	return out
}

// TestDefaultRoute: with a $default route, every request no route matches (an unknown
// path, a known path under another method, HEAD on a GET route, an unclean path) invokes
// its function with routeKey $default, and matched requests do not; without one,
// TestRouting's requests get API Gateway's own 404.
func TestDefaultRoute(t *testing.T) {
	tpl := parseTemplate(t, testTemplate+`  Fallback:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Default: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: ANY, Path: $default, Auth: {Authorizer: NONE}}}
`)
	files, fallback := &fakeLambda{}, &fakeLambda{respond: func(events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 405, Headers: map[string]string{"Allow": "GET"}, Body: "fallback"}, nil
	}}
	srv, err := New(Config{API: tpl.HTTPAPI, Functions: tpl.Functions,
		Handlers:    map[string]wire.HTTPHandler{"Profiles": (&fakeLambda{}).handle, "Files": files.handle, "Fallback": fallback.handle},
		Authorizers: map[string]wire.AuthorizerHandler{"Auth": (&fakeAuthorizer{}).handle}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	f := &fixture{url: ts.URL}
	for _, tt := range []struct {
		method, path string
		toFallback   bool
	}{
		{"GET", "/nowhere", true},
		{"POST", "/files/report.csv", true},
		{"HEAD", "/files/report.csv", true},
		{"GET", "/files/", true},
		{"GET", "/v1//profiles/abc", true},
		{"TRACE", "/upload", true},
		{"GET", "/files/report.csv", false},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			before := fallback.count()
			res := f.do(t, tt.method, tt.path, nil, nil)
			if got := fallback.count() > before; got != tt.toFallback {
				t.Fatalf("fallback invoked = %v, want %v (status %d %s)", got, tt.toFallback, res.status, res.body)
			}
			if !tt.toFallback {
				return
			}
			ev := fallback.last(t)
			if res.status != 405 || res.header.Get("Allow") != "GET" || ev.RouteKey != "$default" ||
				ev.RequestContext.RouteKey != "$default" || ev.PathParameters != nil ||
				ev.RequestContext.HTTP.Method != tt.method || ev.RawPath != tt.path {
				t.Errorf("status %d Allow %q, event %s %s %s params %v", res.status, res.header.Get("Allow"),
					ev.RouteKey, ev.RequestContext.HTTP.Method, ev.RawPath, ev.PathParameters)
			}
		})
	}
	if !slices.Contains(srv.RouteKeys(), "$default") {
		t.Errorf("RouteKeys() = %v, want $default among them", srv.RouteKeys())
	}
}

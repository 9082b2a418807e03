package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/httpapi"
)

// TestRouteNotFound runs the $default route over the route table generated from
// template.yaml: a known path under another method is 405 with exactly the path's methods
// in Allow, anything else a 404 problem, and neither reads or logs the path.
func TestRouteNotFound(t *testing.T) {
	var logs bytes.Buffer
	h := httpapi.RouteNotFound(slog.New(slog.NewJSONHandler(&logs, nil)))
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"TRACE", "/v1/catalog", 405, "GET, PUT"},
		{"DELETE", "/v1/profiles", 405, "GET, POST"},
		{"HEAD", "/v1/profiles/p-1", 405, "GET, PATCH"},
		{"DELETE", "/v1/profiles/a%2Fb", 405, "GET, PATCH"},
		{"POST", "/v1/profiles/p-1/consents/marketing", 405, "PUT"},
		{"GET", "/v1/webhooks/w-1", 405, "DELETE"},
		{"GET", "/v1/requests/r-1/cancel", 405, "POST"},
		{"DELETE", "/portal/acme/t/some-token", 405, "GET, POST"},
		{"PUT", "/portal/acme", 405, "GET"},
		{"HEAD", "/portal/no-such-tenant/history", 405, "GET"},
		{"POST", "/.well-known/gpc.json", 405, "GET"},
		{"GET", "/nope", 404, ""},
		{"GET", "/", 404, ""},
		{"GET", "/v1/profiles/", 404, ""},
		{"GET", "/v1//profiles", 404, ""},
		{"GET", "/v1/catalog/", 404, ""},
		{"GET", "/V1/catalog", 404, ""},
		{"GET", "/v1/profiles/a/b/c/d", 404, ""},
		{"GET", "/portal", 404, ""},
		// A method the path has never reaches $default; if it does, no route answered it.
		{"GET", "/v1/catalog", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			ev := events.APIGatewayV2HTTPRequest{RouteKey: "$default", RawPath: tt.path,
				RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1", RouteKey: "$default",
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: tt.method, Path: tt.path}}}
			resp, err := h(t.Context(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || resp.Headers["Allow"] != tt.allow {
				t.Fatalf("status %d Allow %q, want %d %q (%s)", resp.StatusCode, resp.Headers["Allow"], tt.status, tt.allow, resp.Body)
			}
			var p struct {
				Type, Title, Instance, RequestID string
				Status                           int
			}
			if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
				t.Fatal(err)
			}
			wantType, wantTitle := "/problems/not_found", "Not Found"
			if tt.status == 405 {
				wantType, wantTitle = "/problems/method_not_allowed", "Method Not Allowed"
			}
			if resp.Headers["Content-Type"] != "application/problem+json" || p.Type != wantType || p.Title != wantTitle ||
				p.Status != tt.status || p.Instance != tt.path || p.RequestID != "req-1" {
				t.Errorf("problem %+v (%s), want %s %q status %d", p, resp.Headers["Content-Type"], wantType, wantTitle, tt.status)
			}
		})
	}
	if strings.Contains(logs.String(), "acme") || strings.Contains(logs.String(), "/v1/") {
		t.Errorf("the log holds a path:\n%s", logs.String())
	}
}

package localstack_test

import (
	"testing"
)

// TestRouteNotFound: through the local stack, a request that matches no route reaches the
// $default route and gets a problem, with or without a key (it never calls the
// authorizer): 405 with the path's methods in Allow for a known path, 404 otherwise. The
// real routes are unaffected: without a key they still answer 401.
func TestRouteNotFound(t *testing.T) {
	tests := []struct {
		name   string
		call   call
		status int
		allow  string
		typ    string
	}{
		{"TRACE catalog", call{method: "TRACE", path: "/v1/catalog"}, 405, "GET, PUT", "/problems/method_not_allowed"},
		{"HEAD catalog", call{method: "HEAD", path: "/v1/catalog", key: "admin"}, 405, "GET, PUT", ""},
		{"DELETE profiles", call{method: "DELETE", path: "/v1/profiles"}, 405, "GET, POST", "/problems/method_not_allowed"},
		{"DELETE profiles with a key", call{method: "DELETE", path: "/v1/profiles", key: "admin"}, 405, "GET, POST", "/problems/method_not_allowed"},
		{"PATCH portal page", call{method: "PATCH", path: "/portal/" + tenant + "/details"}, 405, "GET, POST", "/problems/method_not_allowed"},
		{"unknown path", call{method: "GET", path: "/nope"}, 404, "", "/problems/not_found"},
		{"unknown path with a key", call{method: "GET", path: "/v1/nothing-here", key: "admin"}, 404, "", "/problems/not_found"},
		{"real route without a key", call{method: "POST", path: "/v1/profiles", body: map[string]any{}}, 401, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, tt.call)
			if got.status != tt.status || got.headers.Get("Allow") != tt.allow {
				t.Fatalf("status %d Allow %q, want %d %q: %s", got.status, got.headers.Get("Allow"), tt.status, tt.allow, got.body)
			}
			if tt.typ == "" {
				return
			}
			p := got.json(t)
			if got.headers.Get("Content-Type") != "application/problem+json" || p["type"] != tt.typ || p["status"] != float64(tt.status) {
				t.Errorf("problem %s (%s), want type %s", got.body, got.headers.Get("Content-Type"), tt.typ)
			}
		})
	}
}

package apigw

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// TestMostSpecificRouteWins follows the example of API Gateway's routing documentation,
// declared in an order that differs from the matching order: literal segments beat
// variables, and a route with a method beats ANY. Where API Gateway ranks the path before
// the method and ServeMux cannot rank the two (ANY /pets/dog/1 and GET /pets/{kind}/{id}),
// New fails instead of picking differently.
func TestMostSpecificRouteWins(t *testing.T) {
	routes := []template.Route{
		{Method: "ANY", Path: "/{a}/{b}/{c}"},
		{Method: "GET", Path: "/pets/{kind}/{id}"},
		{Method: "GET", Path: "/pets/dog/{id}"},
		{Method: "GET", Path: "/pets/dog/1"},
		{Method: "GET", Path: "/"},
	}
	fn := template.Function{LogicalID: "Fn", Timeout: 3}
	for i := range routes {
		routes[i].Authorizer, routes[i].PayloadFormatVersion = template.NoAuthorizer, "2.0"
	}
	fn.Routes = routes
	echo := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: ev.RouteKey}, nil
	}
	cfg := Config{Functions: []template.Function{fn}, Handlers: map[string]wire.HTTPHandler{"Fn": echo}, Logger: slog.New(slog.DiscardHandler)}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	unranked := fn
	unranked.Routes = append(slices.Clone(fn.Routes), template.Route{Method: "ANY", Path: "/pets/dog/1", Authorizer: template.NoAuthorizer, PayloadFormatVersion: "2.0"})
	cfg.Functions = []template.Function{unranked}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "conflicts with") {
		t.Errorf("New with ANY /pets/dog/1 error = %v, want a conflict", err)
	}
	wantKeys := []string{"ANY /{a}/{b}/{c}", "GET /", "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{kind}/{id}"}
	if got := srv.RouteKeys(); !reflect.DeepEqual(got, wantKeys) {
		t.Errorf("RouteKeys() = %v, want %v", got, wantKeys)
	}
	tests := []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/pets/dog/1", 200, "GET /pets/dog/1"},
		{"POST", "/pets/dog/1", 200, "ANY /{a}/{b}/{c}"},
		{"GET", "/pets/dog/2", 200, "GET /pets/dog/{id}"},
		{"GET", "/pets/cat/1", 200, "GET /pets/{kind}/{id}"},
		{"POST", "/pets/cat/1", 200, "ANY /{a}/{b}/{c}"},
		{"GET", "/", 200, "GET /"},
		{"HEAD", "/pets/dog/2", 404, `{"message":"Not Found"}`},
		{"GET", "/pets", 404, `{"message":"Not Found"}`},
		{"GET", "/pets//1", 404, `{"message":"Not Found"}`},
		{"GET", "/pets/dog/../cat/1", 404, `{"message":"Not Found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, "/", nil)
			req.URL.Path = tt.path
			srv.ServeHTTP(rec, req)
			if rec.Code != tt.status || (tt.method != "HEAD" && rec.Body.String() != tt.want) {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.status, tt.want)
			}
		})
	}
}

func TestPattern(t *testing.T) {
	tests := []struct {
		method, path string
		want         string
		wantParams   []string
		wantErr      string
	}{
		{"GET", "/", "GET /{$}", nil, ""},
		{"GET", "/v1/profiles/{id}", "GET /v1/profiles/{id}", []string{"id"}, ""},
		{"ANY", "/v1/{a}/{b}", "/v1/{a}/{b}", []string{"a", "b"}, ""},
		{"ANY", "/files/{proxy+}", "", nil, "greedy variables are not emulated"},
		{"GET", "/x{id}", "", nil, "whole segment"},
		{"GET", "/{}", "", nil, "malformed variable"},
		{"GET", "v1", "", nil, "must start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rt := &route{method: tt.method}
			got, err := rt.pattern(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("pattern(%q) = %q, %v; want error %q", tt.path, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || !reflect.DeepEqual(rt.params, tt.wantParams) {
				t.Errorf("pattern(%q) = %q %v, %v; want %q %v", tt.path, got, rt.params, err, tt.want, tt.wantParams)
			}
		})
	}
}

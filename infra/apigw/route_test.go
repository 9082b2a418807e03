package apigw

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// TestMostSpecificRouteWins uses the example of API Gateway's routing documentation plus a
// $default route, declared in an order that differs from the matching order.
func TestMostSpecificRouteWins(t *testing.T) {
	routes := []template.Route{
		{Method: "ANY", Path: template.DefaultRoute},
		{Method: "ANY", Path: "/{proxy+}"},
		{Method: "GET", Path: "/pets/{proxy+}"},
		{Method: "GET", Path: "/pets/dog/{id}"},
		{Method: "GET", Path: "/pets/dog/1"},
		{Method: "ANY", Path: "/pets/dog/1"},
	}
	fn := template.Function{LogicalID: "Fn", Timeout: 3}
	for i := range routes {
		routes[i].Authorizer, routes[i].PayloadFormatVersion = template.NoAuthorizer, "2.0"
	}
	fn.Routes = routes
	echo := func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: ev.RouteKey}, nil
	}
	srv, err := New(Config{Functions: []template.Function{fn}, Handlers: map[string]wire.HTTPHandler{"Fn": echo}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"GET /pets/dog/1", "ANY /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"}
	if got := srv.RouteKeys(); !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("RouteKeys() = %v, want %v", got, wantOrder)
	}
	tests := []struct{ method, path, want string }{
		{"GET", "/pets/dog/1", "GET /pets/dog/1"},
		{"POST", "/pets/dog/1", "ANY /pets/dog/1"},
		{"GET", "/pets/dog/2", "GET /pets/dog/{id}"},
		{"GET", "/pets/cat/1", "GET /pets/{proxy+}"},
		{"POST", "/pets/cat/1", "ANY /{proxy+}"},
		{"GET", "/", "$default"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
				t.Errorf("got %d %q, want %q", rec.Code, rec.Body, tt.want)
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path    string
		want    []segment
		wantErr bool
	}{
		{"/", []segment{{literal: ""}}, false},
		{"/v1/profiles/{id}", []segment{{literal: "v1"}, {literal: "profiles"}, {param: "id"}}, false},
		{"/files/{proxy+}", []segment{{literal: "files"}, {param: "proxy", greedy: true}}, false},
		{"/{a}/{a}", nil, true},
		{"/x{id}", nil, true},
		{"/{}", nil, true},
		{"/{p+}/x", nil, true},
		{"v1", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := parsePath(tt.path)
			if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePath(%q) = %+v, %v", tt.path, got, err)
			}
		})
	}
}

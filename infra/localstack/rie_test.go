package localstack_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/rie"
)

// TestBootstrapUnderRIE builds the real GetProfile binary with the production flags and
// invokes it through aws-lambda-rie, reading a profile from the local stack's emulator:
// the deployed artifact, not just its handler, works.
func TestBootstrapUnderRIE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	id, _ := newProfile(t, nil)
	riePath, err := rie.Build(ctx, filepath.Join(localstack.RepoRoot(), ".build", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if err := rie.BuildFunction(ctx, "./functions/get-profile", bootstrap, runtime.GOARCH); err != nil {
		t.Fatal(err)
	}
	in, err := rie.Start(ctx, riePath, bootstrap, []string{
		"TABLE_NAME=" + env.stack.Table, "AWS_ENDPOINT_URL=" + env.stack.AWS.Endpoint,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=" + env.stack.AWS.AWS.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET /v1/profiles/{id}", RawPath: "/v1/profiles/" + id,
		PathParameters: map[string]string{"id": id},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "rie-test", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/profiles/" + id},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"tenant": tenant, "keyId": "ktest", "scopes": "read"}},
		},
	}
	payload, _ := json.Marshal(ev)
	out, err := in.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, in.Logs())
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer is not an API Gateway response: %s", out)
	}
	var p struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &p) != nil || p.ID != id {
		t.Fatalf("bootstrap answered %d %s\n%s", resp.StatusCode, resp.Body, in.Logs())
	}
}

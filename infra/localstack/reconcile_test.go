package localstack_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// TestReconcilerDispatchesWhatTheStreamLeft runs the reconciler's production path: events
// whose dispatch kept failing (DispatchEvents refuses every batch) stay in the outbox; the
// stack restarted on the same data runs ReconcileEvents, which dispatches them itself, and
// the webhook receives every one, while DispatchEvents still refuses. The policy check then
// covers what the reconciler called.
func TestReconcilerDispatchesWhatTheStreamLeft(t *testing.T) {
	t.Setenv(localaws.DataDirEnv, t.TempDir())
	var posts atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	refuseDispatch := func(id string, h any) any {
		if id != "DispatchEvents" {
			return h
		}
		return wire.StreamHandler(func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, errors.New("dispatch refused by the test")
		})
	}
	name := fmt.Sprintf("rec%d", time.Now().UnixNano()%1e6)
	st, err := localstack.Start(context.Background(), localstack.Options{StackName: name, Wrap: refuseDispatch})
	if err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	if err := seed.Tenant(context.Background(), store, tenant, tenant); err != nil {
		t.Fatal(err)
	}
	key, _, err := seed.Key(context.Background(), store, tenant, "reconcile", []apikey.Scope{apikey.Admin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(context.Background(), app.New(store, time.Now, 0), tenant, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	c := &countClient{t: t, base: st.URL, key: key}
	c.send(routeRequest{method: "POST", path: "/v1/webhooks", status: 201,
		body: map[string]any{"url": hook.URL, "eventTypes": []string{"consent.changed"}}})
	id := c.send(routeRequest{method: "POST", path: "/v1/profiles", status: 201,
		body: map[string]any{"identities": []map[string]string{{"type": "customer_id", "value": "reconcile-1"}}}})["id"].(string)
	const writes = 5
	for i := range writes {
		c.send(routeRequest{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", status: 200,
			body: map[string]any{"status": []string{"granted", "withdrawn"}[i%2], "noticeVersion": 2}})
	}
	time.Sleep(300 * time.Millisecond) // the outbox source's dispatch attempts, all refused
	st.Close()
	if n := posts.Load(); n != 0 {
		t.Fatalf("%d deliveries while dispatch was refused", n)
	}

	again, err := localstack.Start(context.Background(), localstack.Options{StackName: name, Wrap: refuseDispatch})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for deadline := time.Now().Add(20 * time.Second); posts.Load() < writes; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered after the restart", posts.Load(), writes)
		}
	}
	if err := again.CheckPolicies(); err != nil {
		t.Error(err)
	}
}

package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// ddbCounter counts the DynamoDB requests each function makes, by the function named in the
// invocation's lambdacontext (the local stack gives every invocation one, as Lambda does),
// so that the authorizer's and the background workers' calls are never a route's.
type ddbCounter struct {
	mu     sync.Mutex
	counts map[string]map[string]int // function logical id -> operation -> requests
}

func (c *ddbCounter) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("CountDynamoDBRequests",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID {
				fn := "(no function)"
				if lc, ok := lambdacontext.FromContext(ctx); ok {
					fn = lc.InvokedFunctionArn[strings.LastIndex(lc.InvokedFunctionArn, ":")+1:]
				}
				c.mu.Lock()
				if c.counts[fn] == nil {
					c.counts[fn] = map[string]int{}
				}
				c.counts[fn][awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// take returns fn's counts since the last take and resets them.
func (c *ddbCounter) take(fn string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.counts[fn]
	delete(c.counts, fn)
	if got == nil {
		got = map[string]int{}
	}
	return got
}

// routeRequest is one realistic valid request of a route; setup runs first (outside the
// count) and may create what the request needs.
type routeRequest struct {
	method, path string
	body         any
	headers      map[string]string
	status       int
}

// requestBudget is, per brand route, the DynamoDB requests one warm invocation makes, by
// operation. A warm container has its tenant's catalog cached, so no row reads it; the cold
// invocation before each measured one pays that single GetItem.
var requestBudget = map[string]map[string]int{
	// Create-or-match looks the identities up in one BatchGetItem, then commits.
	"POST /v1/profiles":       {"BatchGetItem": 1, "TransactWriteItems": 1},
	"GET /v1/profiles":        {"GetItem": 1},
	"GET /v1/profiles/{id}":   {"GetItem": 1},
	"PATCH /v1/profiles/{id}": {"GetItem": 1, "TransactWriteItems": 1},
	// A consent or subscription write reads the profile and commits the change with its
	// ledger event and outbox item in one transaction.
	"PUT /v1/profiles/{id}/consents/{purpose}":    {"GetItem": 1, "TransactWriteItems": 1},
	"PUT /v1/profiles/{id}/subscriptions/{topic}": {"GetItem": 1, "TransactWriteItems": 1},
	// Three checks, by id and by identity: one strongly consistent BatchGetItem.
	"POST /v1/consent-checks":      {"BatchGetItem": 1},
	"GET /v1/profiles/{id}/events": {"GetItem": 1, "Query": 1},
	"GET /v1/catalog":              {},
	// The records are rendered from the cached catalog alone.
	"GET /v1/records-of-processing": {},
	// The stored version is read, then the catalog written conditioned on it.
	"PUT /v1/catalog":       {"GetItem": 1, "TransactWriteItems": 1},
	"POST /v1/portal-links": {"GetItem": 1},
	// The tenant's endpoints are listed to enforce the per-tenant limit. Every endpoint write
	// bumps the tenant's webhook version in the same transaction (the dispatcher's cache key).
	"POST /v1/webhooks":                {"GetItem": 1, "Query": 1, "TransactWriteItems": 1},
	"GET /v1/webhooks":                 {"Query": 1},
	"DELETE /v1/webhooks/{id}":         {"TransactWriteItems": 1},
	"POST /v1/webhooks/{id}/secret":    {"GetItem": 1, "TransactWriteItems": 1},
	"GET /v1/webhooks/{id}/deliveries": {"GetItem": 1, "Query": 1},
	"POST /v1/webhooks/{id}/redrive":   {"GetItem": 1},
	// One BatchGetItem for the batch's sync marks (replays), one for its profiles; one
	// transaction per change applied.
	"POST /v1/sync":         {"BatchGetItem": 2, "TransactWriteItems": 1},
	"POST /v1/requests":     {"GetItem": 1, "TransactWriteItems": 1},
	"GET /v1/requests":      {"Query": 1},
	"GET /v1/requests/{id}": {"GetItem": 1},
	// A change of a request reads the request and its profile, then writes both in one
	// transaction conditioned on the versions read: the store reads nothing more, since the
	// request it replaces is the one read whenever the condition holds.
	"POST /v1/requests/{id}/cancel":     {"GetItem": 2, "TransactWriteItems": 1},
	"POST /v1/requests/{id}/completion": {"GetItem": 2, "TransactWriteItems": 1},
	"POST /v1/requests/{id}/denial":     {"GetItem": 2, "TransactWriteItems": 1},
	// An extension then records whether the person was told with a second save of the
	// request it just saved: one PutItem, no read.
	"POST /v1/requests/{id}/extension": {"GetItem": 2, "TransactWriteItems": 1, "PutItem": 1},
	// A merge reads both profiles in one BatchGetItem and lists the absorbed one's requests
	// (to move the open ones), then writes everything in one transaction, however long
	// either history is: the absorbed chain is linked, not copied.
	"POST /v1/profiles/{id}/merges": {"BatchGetItem": 1, "Query": 1, "TransactWriteItems": 1},
	// A split reads the profile and the merge's record.
	"POST /v1/profiles/{id}/splits": {"GetItem": 2, "TransactWriteItems": 1},
	"GET /v1/merge-candidates":      {"Query": 1},
	// An acceptance reads the candidate, then merges as POST .../merges does, with the
	// candidate's decision in the same transaction.
	"POST /v1/merge-candidates/{id}/decision": {"GetItem": 1, "BatchGetItem": 1, "Query": 1, "TransactWriteItems": 1},
	// Imports: the record is one item, read with one GetItem and written with one PutItem
	// (a start conditioned on the version read). A start also reads the file's size and
	// header from S3; GET reads the record and presigns without a request.
	"POST /v1/imports":            {"PutItem": 1},
	"POST /v1/imports/{id}/start": {"GetItem": 1, "PutItem": 1},
	"GET /v1/imports/{id}":        {"GetItem": 1},
	// Retention reports: one Query of the tenant's run items, newest first.
	"GET /v1/retention-runs": {"Query": 1},
}

// authorizerBudget is what the authorizer function reads for a key it has not seen: the key,
// then its tenant (is it disabled?). API Gateway's cache and the warm container's answer
// later requests with the key for a few seconds; after that, each miss is one BatchGetItem
// of key and tenant (refreshBudget).
var (
	authorizerBudget = map[string]int{"GetItem": 2}
	refreshBudget    = "BatchGetItem"
)

// countedStack starts a stack of its own whose handlers' DynamoDB requests counter counts,
// with the test tenant and its catalog; wrap, if not nil, is the stack's Options.Wrap.
func countedStack(t *testing.T, prefix string, wrap func(string, any) any) (*localstack.Stack, *ddbCounter, *dynamo.Store, *app.Service) {
	t.Helper()
	ctx := context.Background()
	counter := &ddbCounter{counts: map[string]map[string]int{}}
	st, err := localstack.Start(ctx, localstack.Options{
		StackName:  fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e6),
		APIOptions: []func(*middleware.Stack) error{counter.option},
		Wrap:       wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	svc := app.New(store, time.Now, 0)
	if err := seed.Tenant(ctx, store, tenant, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, svc, tenant, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	return st, counter, store, svc
}

// TestRequestCounts calls every brand route of template.yaml (under /v1, behind the
// authorizer) with a realistic valid request on a warm function and asserts the DynamoDB
// requests the function made, by operation: these are the per-request costs the design
// promises, and a change that adds a read fails here.
func TestRequestCounts(t *testing.T) {
	ctx := context.Background()
	st, counter, store, svc := countedStack(t, "rc", nil)
	key, _, err := seed.Key(ctx, store, tenant, "counts", []apikey.Scope{apikey.Admin, apikey.PortalLinks, apikey.Attest})
	if err != nil {
		t.Fatal(err)
	}

	// Deliveries of the events these requests cause stay on this machine.
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hooks.Close()

	c := &countClient{t: t, base: st.URL, key: key}
	// The first request with the key is the one the authorizer reads it for.
	c.send(routeRequest{method: "GET", path: "/v1/catalog", status: 200})
	if got := counter.take("Authorizer"); !maps.Equal(got, authorizerBudget) {
		t.Errorf("authorizer, first request with a key: %v, want %v", got, authorizerBudget)
	}

	var seq int
	email := func() string {
		seq++
		return fmt.Sprintf("count-%d-%d@example.com", time.Now().UnixNano(), seq)
	}
	newProfile := func() (id, addr string) {
		addr = email()
		r := c.send(routeRequest{method: "POST", path: "/v1/profiles", status: 201,
			body: map[string]any{"identities": []map[string]string{{"type": "email", "value": addr}}}})
		return r["id"].(string), addr
	}
	newRequest := func() string {
		id, _ := newProfile()
		res, err := svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: id, Type: dsr.Rectification, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
			app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Request.ID
	}
	newWebhook := func() string {
		r := c.send(routeRequest{method: "POST", path: "/v1/webhooks", status: 201,
			body: map[string]any{"url": hooks.URL + "/lp", "eventTypes": []string{"consent.changed"}}})
		return r["id"].(string)
	}
	reasonText := "We need to collect your records from two archived systems."
	merged := func() (survivor, mergeID string) {
		a, _ := newProfile()
		b, _ := newProfile()
		r := c.send(routeRequest{method: "POST", path: "/v1/profiles/" + a + "/merges", status: 200, body: map[string]any{"profileId": b}})
		return a, r["mergeId"].(string)
	}
	newImport := func() string {
		r := c.send(routeRequest{method: "POST", path: "/v1/imports", status: 201, body: map[string]any{"format": "ndjson", "source": "crm"}})
		up := r["upload"].(map[string]any)["url"].(string)
		req, err := http.NewRequest("PUT", up, strings.NewReader(`{"identity":{"type":"email","value":"count-import@example.com"},"occurredAt":"2026-01-01T00:00:00Z"}`+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return r["import"].(map[string]any)["id"].(string)
	}

	// requests builds, per route key, a fresh valid request (called twice: warm-up, measured).
	requests := map[string]func() routeRequest{
		"POST /v1/profiles": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/profiles", status: 201, body: map[string]any{
				"identities": []map[string]string{{"type": "email", "value": email()}},
				"attributes": map[string]any{"givenName": "Ada"},
				"consents":   map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}}}}
		},
		"GET /v1/profiles": func() routeRequest {
			_, addr := newProfile()
			return routeRequest{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+addr), status: 200}
		},
		"GET /v1/profiles/{id}": func() routeRequest {
			id, _ := newProfile()
			return routeRequest{method: "GET", path: "/v1/profiles/" + id, status: 200}
		},
		"PATCH /v1/profiles/{id}": func() routeRequest {
			id, _ := newProfile()
			return routeRequest{method: "PATCH", path: "/v1/profiles/" + id, status: 200,
				body: map[string]any{"attributes": map[string]any{"givenName": "Jan"}}}
		},
		"PUT /v1/profiles/{id}/consents/{purpose}": func() routeRequest {
			id, _ := newProfile()
			return routeRequest{method: "PUT", path: "/v1/profiles/" + id + "/consents/marketing", status: 200,
				body: map[string]any{"status": "granted", "noticeVersion": 2}}
		},
		"PUT /v1/profiles/{id}/subscriptions/{topic}": func() routeRequest {
			id, _ := newProfile()
			return routeRequest{method: "PUT", path: "/v1/profiles/" + id + "/subscriptions/newsletter", status: 200,
				body: map[string]any{"status": "subscribed", "channels": []string{"email"}, "frequency": "weekly"}}
		},
		"POST /v1/consent-checks": func() routeRequest {
			id, addr := newProfile()
			// A check by an absorbed id costs no more: its item carries the survivor.
			a, _ := newProfile()
			b, _ := newProfile()
			c.send(routeRequest{method: "POST", path: "/v1/profiles/" + a + "/merges", status: 200, body: map[string]any{"profileId": b}})
			return routeRequest{method: "POST", path: "/v1/consent-checks", status: 200, body: map[string]any{"checks": []map[string]any{
				{"profileId": id, "purpose": "marketing"},
				{"profileId": b, "purpose": "marketing"},
				{"identity": map[string]string{"type": "email", "value": addr}, "topic": "newsletter", "channel": "email"},
				{"identity": map[string]string{"type": "email", "value": email()}, "purpose": "marketing"}}}}
		},
		"GET /v1/profiles/{id}/events": func() routeRequest {
			id, _ := newProfile()
			return routeRequest{method: "GET", path: "/v1/profiles/" + id + "/events", status: 200}
		},
		"GET /v1/catalog": func() routeRequest { return routeRequest{method: "GET", path: "/v1/catalog", status: 200} },
		"GET /v1/records-of-processing": func() routeRequest {
			return routeRequest{method: "GET", path: "/v1/records-of-processing?format=csv", status: 200}
		},
		"PUT /v1/catalog": func() routeRequest {
			return routeRequest{method: "PUT", path: "/v1/catalog", status: 200, body: json.RawMessage(seed.DemoCatalog)}
		},
		"POST /v1/portal-links": func() routeRequest {
			id, _ := newProfile()
			return routeRequest{method: "POST", path: "/v1/portal-links", status: 201, body: map[string]any{"profileId": id, "topic": "newsletter"}}
		},
		"POST /v1/webhooks": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/webhooks", status: 201,
				body: map[string]any{"url": hooks.URL + "/lp", "eventTypes": []string{"consent.changed"}}}
		},
		"GET /v1/webhooks": func() routeRequest { return routeRequest{method: "GET", path: "/v1/webhooks", status: 200} },
		"DELETE /v1/webhooks/{id}": func() routeRequest {
			return routeRequest{method: "DELETE", path: "/v1/webhooks/" + newWebhook(), status: 204}
		},
		"POST /v1/webhooks/{id}/secret": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/webhooks/" + newWebhook() + "/secret", status: 200}
		},
		"GET /v1/webhooks/{id}/deliveries": func() routeRequest {
			return routeRequest{method: "GET", path: "/v1/webhooks/" + newWebhook() + "/deliveries", status: 200}
		},
		"POST /v1/webhooks/{id}/redrive": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/webhooks/" + newWebhook() + "/redrive", status: 200}
		},
		"POST /v1/sync": func() routeRequest {
			at := time.Now().UTC().Format(time.RFC3339Nano)
			return routeRequest{method: "POST", path: "/v1/sync", status: 200, body: map[string]any{"source": "crm", "changes": []map[string]any{
				{"id": fmt.Sprintf("c-%d", time.Now().UnixNano()), "identity": map[string]string{"type": "email", "value": email()}, "occurredAt": at,
					"attributes": map[string]any{"givenName": "Ola"}}}}}
		},
		"POST /v1/requests": func() routeRequest {
			id, _ := newProfile()
			return routeRequest{method: "POST", path: "/v1/requests", status: 201, body: map[string]any{
				"profileId": id, "type": "rectification", "verification": "attested_brand", "attestationReason": "identity checked by the support desk"}}
		},
		"GET /v1/requests": func() routeRequest { return routeRequest{method: "GET", path: "/v1/requests", status: 200} },
		"GET /v1/requests/{id}": func() routeRequest {
			return routeRequest{method: "GET", path: "/v1/requests/" + newRequest(), status: 200}
		},
		"POST /v1/requests/{id}/extension": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/requests/" + newRequest() + "/extension", status: 200,
				body: map[string]any{"months": 2, "reason": reasonText}}
		},
		"POST /v1/requests/{id}/cancel": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/requests/" + newRequest() + "/cancel", status: 200}
		},
		"POST /v1/requests/{id}/completion": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/requests/" + newRequest() + "/completion", status: 200}
		},
		"POST /v1/profiles/{id}/merges": func() routeRequest {
			a, _ := newProfile()
			b, _ := newProfile()
			return routeRequest{method: "POST", path: "/v1/profiles/" + a + "/merges", status: 200, body: map[string]any{"profileId": b}}
		},
		"POST /v1/profiles/{id}/splits": func() routeRequest {
			a, m := merged()
			return routeRequest{method: "POST", path: "/v1/profiles/" + a + "/splits", status: 200, body: map[string]any{"mergeId": m}}
		},
		"GET /v1/merge-candidates": func() routeRequest {
			return routeRequest{method: "GET", path: "/v1/merge-candidates?limit=5", status: 200}
		},
		"POST /v1/merge-candidates/{id}/decision": func() routeRequest {
			a, _ := newProfile()
			_, addr := newProfile()
			r := c.send(routeRequest{method: "PATCH", path: "/v1/profiles/" + a, status: 200,
				body: map[string]any{"addIdentities": []map[string]string{{"type": "email", "value": addr}}}})
			cand := r["links"].([]any)[0].(map[string]any)["candidateId"].(string)
			return routeRequest{method: "POST", path: "/v1/merge-candidates/" + cand + "/decision", status: 200, body: map[string]any{"decision": "accept"}}
		},
		"POST /v1/imports": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/imports", status: 201, body: map[string]any{"format": "ndjson", "source": "crm"}}
		},
		"POST /v1/imports/{id}/start": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/imports/" + newImport() + "/start", status: 202}
		},
		"GET /v1/imports/{id}": func() routeRequest {
			return routeRequest{method: "GET", path: "/v1/imports/" + newImport(), status: 200}
		},
		"GET /v1/retention-runs": func() routeRequest {
			return routeRequest{method: "GET", path: "/v1/retention-runs?limit=5", status: 200}
		},
		"POST /v1/requests/{id}/denial": func() routeRequest {
			return routeRequest{method: "POST", path: "/v1/requests/" + newRequest() + "/denial", status: 200,
				body: map[string]any{"reason": "The request is manifestly unfounded: the person asked for this data yesterday."}}
		},
	}

	var brand []string
	fnOf := map[string]string{}
	for _, fn := range st.Template.Functions {
		for _, r := range fn.Routes {
			if r.Authorizer == "NONE" || !strings.HasPrefix(r.Path, "/v1/") {
				continue
			}
			brand = append(brand, r.Key())
			fnOf[r.Key()] = fn.LogicalID
		}
	}
	slices.Sort(brand)
	if len(brand) == 0 {
		t.Fatal("template.yaml has no brand routes")
	}
	for _, k := range slices.Sorted(maps.Keys(requestBudget)) {
		if fnOf[k] == "" {
			t.Errorf("requestBudget has a row for %s, which is not a brand route of template.yaml", k)
		}
	}
	for _, route := range brand {
		t.Run(route, func(t *testing.T) {
			want, ok := requestBudget[route]
			build := requests[route]
			if !ok || build == nil {
				t.Fatalf("no request budget (or no request) for brand route %s: add one", route)
			}
			c.t = t
			fn := fnOf[route]
			c.send(build()) // warm the function: its first invocation reads the catalog
			req := build()
			counter.take(fn)
			c.send(req)
			got := counter.take(fn)
			if !maps.Equal(got, want) {
				t.Errorf("%s (%s) made DynamoDB requests %v, want %v", route, fn, got, want)
			}
		})
	}
	c.t = t
	// The $default route reads nothing, whatever it is asked.
	c.send(routeRequest{method: "TRACE", path: "/v1/catalog", status: 405})
	c.send(routeRequest{method: "GET", path: "/nope", status: 404})
	if got := counter.take("RouteNotFound"); len(got) != 0 {
		t.Errorf("RouteNotFound made DynamoDB requests %v, want none", got)
	}
	// The run outlasts the caches (authorizer.Bound): the authorizer read the key again, but
	// only ever as one BatchGetItem of key and tenant per miss.
	for op := range counter.take("Authorizer") {
		if op != refreshBudget {
			t.Errorf("authorizer refreshed a key it had answered with %s, want only %s", op, refreshBudget)
		}
	}
	if err := st.CheckPolicies(); err != nil {
		t.Error(err)
	}
}

// countClient sends requests to the counting stack with its admin key.
type countClient struct {
	t         *testing.T
	base, key string
}

// send makes the request, checks its status and returns the JSON object answered (if any).
func (c *countClient) send(r routeRequest) map[string]any {
	c.t.Helper()
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			c.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(r.method, c.base+r.path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != r.status {
		c.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, resp.StatusCode, r.status, b)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

package localstack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// env is the one local stack every test in this package talks to, through HTTP only.
var env struct {
	stack *localstack.Stack
	db    *dynamodb.Client
	keys  map[string]string // role -> plain API key
}

const tenant, otherTenant = "acme", "globex"

// guard fails the suite if a function logs a classified value (see logGuard).
var guard *logGuard

func TestMain(m *testing.M) {
	ctx := context.Background()
	demo, err := catalog.Parse(seed.DemoCatalog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo catalog:", err)
		os.Exit(1)
	}
	guard = newLogGuard(demo)
	st, err := localstack.Start(ctx, localstack.Options{
		// Every function's line, from debug up, goes to the guard; warnings and errors also
		// to stderr, as without it.
		Log: slog.New(slog.NewMultiHandler(slog.NewJSONHandler(guard, &slog.HandlerOptions{Level: slog.LevelDebug}),
			slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		APIOptions: []func(*middleware.Stack) error{guard.option},
		StackName:  fmt.Sprintf("it%d", time.Now().UnixNano()%1e6),
		// Fast retries so the webhook tests see every attempt within seconds.
		Parameters: map[string]string{"WebhookRetryBaseSeconds": "1", "WebhookMaxAttempts": "4",
			// Short import invocations, so that a file is worked in several, and a killed
			// chunk comes back within seconds.
			"ImportTimeoutSeconds": "12", "ImportQueueVisibilitySeconds": "15"},
		Wrap: injectFaults,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local stack:", err)
		os.Exit(1)
	}
	env.stack, env.db = st, dynamodb.NewFromConfig(st.AWS.AWS)
	env.keys = map[string]string{}
	store := dynamo.New(env.db, st.Table)
	svc := app.New(store, time.Now, 0)
	for _, t := range []string{tenant, otherTenant} {
		if err := seed.Tenant(ctx, store, t, t); err != nil {
			panic(err)
		}
		if _, err := seed.LoadCatalog(ctx, svc, t, seed.DemoCatalog); err != nil {
			panic(err)
		}
	}
	for role, spec := range map[string]struct {
		tenant string
		scopes []apikey.Scope
	}{
		"admin": {tenant, []apikey.Scope{apikey.Admin, apikey.Attest}}, "read": {tenant, []apikey.Scope{apikey.Read}},
		"write": {tenant, []apikey.Scope{apikey.Write}}, "other": {otherTenant, []apikey.Scope{apikey.Admin, apikey.Attest}},
		"rw": {tenant, []apikey.Scope{apikey.Read, apikey.Write}}, "links": {tenant, []apikey.Scope{apikey.PortalLinks}},
		"all": {tenant, []apikey.Scope{apikey.Admin, apikey.PortalLinks, apikey.Attest}},
	} {
		plain, _, err := seed.Key(ctx, store, spec.tenant, role, spec.scopes)
		if err != nil {
			panic(err)
		}
		env.keys[role] = plain
	}
	revoked, k, err := seed.Key(ctx, store, tenant, "revoked", []apikey.Scope{apikey.Admin})
	if err != nil {
		panic(err)
	}
	if err := store.RevokeKey(ctx, tenant, k.ID, time.Now()); err != nil {
		panic(err)
	}
	env.keys["revoked"] = revoked
	code := m.Run()
	if code == 0 {
		if err := st.CheckPolicies(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: least privilege:", err)
			code = 1
		}
	}
	// A leak is reported whatever else failed.
	if testing.Verbose() {
		fmt.Println(guard)
	}
	if err := guard.verdict(code == 0 && flag.Lookup("test.run").Value.String() == ""); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: personal data in logs:", err)
		code = 1
	}
	st.Close()
	os.Exit(code)
}

// call is one HTTP request to the local API.
type call struct {
	method, path, key string
	body              any // string/[]byte sent verbatim, anything else as JSON
	headers           map[string]string
}

type reply struct {
	status  int
	headers http.Header
	body    []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func do(t testing.TB, c call) reply {
	t.Helper()
	var body io.Reader
	switch b := c.body.(type) {
	case nil:
	case string:
		body = bytes.NewReader([]byte(b))
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(c.method, env.stack.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+env.keys[c.key])
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, headers: resp.Header, body: b}
}

// must fails the test unless the reply has the status.
func must(t testing.TB, r reply, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// tableDigest hashes every item in the table, so a test can prove a request changed nothing.
func tableDigest(t testing.TB) string {
	t.Helper()
	var items []string
	p := dynamodb.NewScanPaginator(env.db, &dynamodb.ScanInput{TableName: &env.stack.Table})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			// Outbox items and delivery logs change in the background as earlier writes are
			// dispatched; they are not state a request could have changed.
			sk := it["SK"].(*types.AttributeValueMemberS).Value
			if sk == "O" || strings.HasPrefix(sk, "D#") {
				continue
			}
			b, _ := json.Marshal(it)
			items = append(items, string(b))
		}
	}
	slices.Sort(items)
	h := sha256.New()
	for _, s := range items {
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newProfile creates a profile with a fresh email and returns its id.
func newProfile(t testing.TB, extra map[string]any) (id, email string) {
	t.Helper()
	email = fmt.Sprintf("person-%d@example.com", time.Now().UnixNano())
	body := map[string]any{"identities": []map[string]string{{"type": "email", "value": email}}}
	for k, v := range extra {
		body[k] = v
	}
	r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "admin", body: body}), 201)
	return r.json(t)["id"].(string), email
}

var fixed struct {
	once sync.Once
	id   string
}

// fixedProfile is one profile shared by fuzz iterations, created on first use.
func fixedProfile(t testing.TB) string {
	fixed.once.Do(func() { fixed.id, _ = newProfile(t, nil) })
	return fixed.id
}

// faults are failures the crash tests switch on: the next n dispatcher invocations fail
// before doing anything, and the next n worker invocations die after doing their work.
var faults struct {
	dispatchFailures atomic.Int32
	workerCrashes    atomic.Int32
	// importCancels: the next n import worker invocations have their context cancelled
	// after a moment (short: a warm worker applies a few thousand rows a second);
	// importCrashed records that one failed so, mid-file.
	importCancels atomic.Int32
	importCrashed atomic.Bool
}

func injectFaults(logicalID string, h any) any {
	switch logicalID {
	case "DispatchEvents":
		next := h.(wire.StreamHandler)
		return wire.StreamHandler(func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if faults.dispatchFailures.Load() > 0 {
				faults.dispatchFailures.Add(-1)
				return events.DynamoDBEventResponse{}, errors.New("injected dispatcher crash")
			}
			return next(ctx, ev)
		})
	case "ProcessImport":
		next := h.(wire.QueueHandler)
		return wire.QueueHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			if faults.importCancels.Load() <= 0 {
				return next(ctx, ev)
			}
			faults.importCancels.Add(-1)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			time.AfterFunc(250*time.Millisecond, cancel)
			resp, err := next(ctx, ev)
			if err != nil || len(resp.BatchItemFailures) > 0 {
				faults.importCrashed.Store(true)
			}
			return resp, err
		})
	case "DeliverWebhooks":
		next := h.(wire.QueueHandler)
		return wire.QueueHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			resp, err := next(ctx, ev)
			if faults.workerCrashes.Load() > 0 {
				faults.workerCrashes.Add(-1)
				panic("injected worker crash after delivering")
			}
			return resp, err
		})
	}
	return h
}

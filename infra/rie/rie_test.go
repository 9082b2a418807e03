package rie

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The emulator and the two test functions are built once per test binary
// into a temporary directory; Go's build cache makes rebuilding cheap.
var (
	fixturesOnce sync.Once
	fixturesDir  string
	fix          struct {
		rie, hello, echo string
		err              error
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixturesDir != "" {
		os.RemoveAll(fixturesDir)
	}
	os.Exit(code)
}

// fixtures returns the paths of the emulator and the hello and echohttp
// bootstraps, building them on first use.
func fixtures(t *testing.T) (riePath, hello, echo string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the emulator and Lambda bootstraps need Linux")
	}
	if testing.Short() {
		t.Skip("builds the emulator and runs processes; skipped in -short mode")
	}
	fixturesOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "rie-test-")
		if err != nil {
			fix.err = err
			return
		}
		fixturesDir = dir
		start := time.Now()
		if fix.rie, fix.err = Build(ctx, filepath.Join(dir, "bin")); fix.err != nil {
			return
		}
		t.Logf("built %s@%s in %v", MainPackage, Version, time.Since(start).Round(time.Millisecond))
		fix.hello = filepath.Join(dir, "hello", "bootstrap")
		if fix.err = BuildFunction(ctx, "./infra/rie/testdata/hello", fix.hello, runtime.GOARCH); fix.err != nil {
			return
		}
		fix.echo = filepath.Join(dir, "echohttp", "bootstrap")
		fix.err = BuildFunction(ctx, "./infra/rie/testdata/echohttp", fix.echo, "")
	})
	if fix.err != nil {
		t.Fatalf("building fixtures: %v", fix.err)
	}
	return fix.rie, fix.hello, fix.echo
}

func start(t *testing.T, riePath, bootstrap string, env []string) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := Start(ctx, riePath, bootstrap, env)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		inst.Close()
		if t.Failed() {
			t.Logf("emulator output:\n%s", inst.Logs())
		}
	})
	return inst
}

func invoke(t *testing.T, inst *Instance, payload []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := inst.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	return out
}

func TestHelloInvoke(t *testing.T) {
	riePath, hello, _ := fixtures(t)
	inst := start(t, riePath, hello, nil)

	type greeting struct {
		Message string `json:"message"`
		Name    string `json:"name"`
	}
	for _, tc := range []struct {
		payload string
		want    greeting
	}{
		{`{"name":"rie"}`, greeting{"hello, rie", "rie"}}, // cold: the emulator starts the bootstrap
		{`{}`, greeting{"hello, world", "world"}},         // warm: same bootstrap process
	} {
		out := invoke(t, inst, []byte(tc.payload))
		var got greeting
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("answer to %s is not JSON: %v: %q", tc.payload, err, out)
		}
		if got != tc.want {
			t.Errorf("answer to %s = %+v, want %+v", tc.payload, got, tc.want)
		}
	}
}

func TestColdStart(t *testing.T) {
	riePath, hello, _ := fixtures(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		d, err := ColdStart(ctx, riePath, hello, nil, []byte(`{"name":"cold"}`))
		if err != nil {
			t.Fatalf("ColdStart: %v", err)
		}
		if d <= 0 {
			t.Fatalf("ColdStart = %v, want > 0", d)
		}
		t.Logf("hello-world cold start #%d: %v", i+1, d)
	}
}

func TestAPIGatewayV2RoundTrip(t *testing.T) {
	riePath, _, echo := fixtures(t)
	inst := start(t, riePath, echo, []string{"AWS_LAMBDA_FUNCTION_NAME=echo-http"})

	req := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "GET /v1/profiles/{id}",
		RawPath:        "/v1/profiles/p-123",
		RawQueryString: "fields=email",
		Headers:        map[string]string{"accept": "application/json"},
		PathParameters: map[string]string{"id": "p-123"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  "GET /v1/profiles/{id}",
			Stage:     "$default",
			RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:   "GET",
				Path:     "/v1/profiles/p-123",
				Protocol: "HTTP/1.1",
				SourceIP: "192.0.2.1",
			},
		},
	}
	payload, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(invoke(t, inst, payload), &resp); err != nil {
		t.Fatalf("answer is not an APIGatewayV2HTTPResponse: %v", err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("statusCode = %d, want 200 (body %q)", resp.StatusCode, resp.Body)
	}
	if ct := resp.Headers["content-type"]; ct != "application/json" {
		t.Errorf("content-type = %q", ct)
	}
	var body struct {
		RawPath      string `json:"rawPath"`
		Method       string `json:"method"`
		RouteKey     string `json:"routeKey"`
		FunctionName string `json:"functionName"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, resp.Body)
	}
	if body.RawPath != req.RawPath || body.Method != "GET" || body.RouteKey != req.RouteKey {
		t.Errorf("echo = %+v, want rawPath %q, method GET, routeKey %q", body, req.RawPath, req.RouteKey)
	}
	if body.FunctionName != "echo-http" {
		t.Errorf("function name = %q, want the env given to Start (echo-http)", body.FunctionName)
	}
}

func TestBuildIsCached(t *testing.T) {
	riePath, _, _ := fixtures(t)
	before, err := os.Stat(riePath)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(context.Background(), filepath.Dir(riePath))
	if err != nil {
		t.Fatalf("Build again: %v", err)
	}
	if again != riePath {
		t.Errorf("Build again = %q, want %q", again, riePath)
	}
	after, err := os.Stat(again)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Errorf("Build rebuilt an up-to-date emulator")
	}
	if upToDate(filepath.Join(t.TempDir(), BinaryName)) {
		t.Errorf("a missing binary is reported up to date")
	}
}

func TestCloseStopsRuntime(t *testing.T) {
	riePath, hello, _ := fixtures(t)
	inst := start(t, riePath, hello, nil)
	invoke(t, inst, []byte(`{}`))
	children := childPIDs(inst.cmd.Process.Pid)
	if len(children) == 0 {
		t.Fatalf("no runtime process under the emulator after an invoke")
	}
	inst.Close()
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range children {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("runtime process %d still alive after Close", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := inst.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Invoke after Close = %v, want connection refused", err)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z'
		}
	}
	return true
}

func TestStartFailsForBadBootstrap(t *testing.T) {
	riePath, _, _ := fixtures(t)
	if _, err := Start(context.Background(), riePath, filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Fatal("Start with a missing bootstrap succeeded")
	}
}

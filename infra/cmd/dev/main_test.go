package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// devRun is one run of the built dev command.
type devRun struct {
	cmd  *exec.Cmd
	info Info
	logs *bytes.Buffer
}

func startDev(t *testing.T, bin, dataDir, out string, env ...string) *devRun {
	t.Helper()
	// A restart reuses the key in the file it finds, then rewrites the file: wait for new content.
	prev, _ := os.ReadFile(out)
	logs := &bytes.Buffer{}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-out", out)
	cmd.Env = append(append(os.Environ(), "LP_DATA_DIR="+dataDir, "LP_ENDPOINT="), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &devRun{cmd: cmd, logs: logs}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(out); err == nil && !bytes.Equal(b, prev) && json.Unmarshal(b, &r.info) == nil && r.info.APIKey != "" {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	t.Fatalf("dev did not write %s in time:\n%s", out, logs)
	return nil
}

func (r *devRun) stop(t *testing.T) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = r.cmd.Process.Kill()
		t.Fatalf("dev did not stop on SIGINT:\n%s", r.logs)
	}
}

func (r *devRun) call(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, r.info.APIBaseURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+r.info.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// buildDev builds the dev command into a temporary directory.
func buildDev(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "dev")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build dev: %v\n%s", err, out)
	}
	return dir, bin
}

// checkIs asserts the answer of the README's consent check for quick@example.com.
func (r *devRun) checkIs(t *testing.T, allowed bool, reason string) {
	t.Helper()
	st, c := r.call(t, "POST", "/v1/consent-checks", map[string]any{
		"identity": map[string]string{"type": "email", "value": "quick@example.com"}, "topic": "newsletter", "channel": "email"})
	if st != 200 || c["allowed"] != allowed || c["reason"] != reason {
		t.Fatalf("check: %d %v, want %v %s", st, c, allowed, reason)
	}
}

// readmeJourney is the README's quick start: create a profile, grant, subscribe, check,
// withdraw, check again, read the ledger, and link a trusted identity that merges. It
// returns the profile's id.
func readmeJourney(t *testing.T, run *devRun) string {
	t.Helper()
	info := run.info
	if info.EmulatorEndpoint == "" || info.Table == "" || info.PortalLink == "" || info.DemoProfileID == "" {
		t.Fatalf("dev.json lacks fields: %+v", info)
	}
	st, p := run.call(t, "POST", "/v1/profiles", map[string]any{"identities": []map[string]string{{"type": "email", "value": "quick@example.com"}}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, p)
	}
	id := p["id"].(string)
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{"PUT", "/v1/profiles/" + id + "/consents/marketing", map[string]any{"status": "granted", "noticeVersion": 2}, 200},
		{"PUT", "/v1/profiles/" + id + "/subscriptions/newsletter", map[string]any{"status": "subscribed"}, 200},
	}
	for _, s := range steps {
		if st, body := run.call(t, s.method, s.path, s.body); st != s.want {
			t.Fatalf("%s %s: %d %v", s.method, s.path, st, body)
		}
	}
	run.checkIs(t, true, "allowed")
	if st, body := run.call(t, "PUT", "/v1/profiles/"+id+"/consents/marketing", map[string]any{"status": "withdrawn", "noticeVersion": 2}); st != 200 {
		t.Fatalf("withdraw: %d %v", st, body)
	}
	run.checkIs(t, false, "consent_withdrawn")
	_, evs := run.call(t, "GET", "/v1/profiles/"+id+"/events", nil)
	var types []string
	for _, e := range evs["events"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	if fmt.Sprint(types) != "[profile.created identity.added consent.changed subscription.changed consent.changed]" ||
		evs["chain"].(map[string]any)["verified"] != true {
		t.Fatalf("ledger: %v %v", types, evs["chain"])
	}
	// One person across systems, as the README shows: linking a trusted identity merges.
	st, shop := run.call(t, "POST", "/v1/profiles", map[string]any{"identities": []map[string]string{{"type": "customer_id", "value": "C-2001"}}})
	if st != 201 {
		t.Fatalf("create the shop's profile: %d %v", st, shop)
	}
	if st, body := run.call(t, "PATCH", "/v1/profiles/"+id, map[string]any{"addIdentities": []map[string]string{{"type": "customer_id", "value": "C-2001"}}}); st != 200 || fmt.Sprint(body["links"]) == "<nil>" {
		t.Fatalf("link: %d %v", st, body)
	}
	if st, body := run.call(t, "GET", "/v1/profiles/"+shop["id"].(string), nil); st != 200 || body["mergedInto"] != id {
		t.Fatalf("the absorbed id: %d %v, want mergedInto %s", st, body, id)
	}
	return id
}

// TestDevQuickStart runs the built `make dev` command as the README does: with the key from
// .local/dev.json a client creates a profile, grants and withdraws a consent, subscribes,
// gets the right check answers and finds every change in the ledger; after a restart the
// data and the key are still there.
func TestDevQuickStart(t *testing.T) {
	dir, bin := buildDev(t)
	data, out := filepath.Join(dir, "kumo"), filepath.Join(dir, "dev.json")
	run := startDev(t, bin, data, out)
	info := run.info
	id := readmeJourney(t, run)
	// The env-vars file for SAM CLI: every function of the template, with the stack's
	// physical names and the emulator's endpoint.
	var sam map[string]map[string]string
	if b, err := os.ReadFile(filepath.Join(dir, SAMEnvFile)); err != nil || json.Unmarshal(b, &sam) != nil {
		t.Fatalf("%s: %v", SAMEnvFile, err)
	}
	if fn := sam["CreateProfile"]; fn["TABLE_NAME"] != info.Table || fn["AWS_ENDPOINT_URL"] != info.EmulatorEndpoint {
		t.Errorf("%s for CreateProfile: %v", SAMEnvFile, fn)
	}
	if fn := sam["ProcessErasure"]; fn["EXPORTS_BUCKET"] == "" {
		t.Errorf("%s for ProcessErasure lacks its bucket: %v", SAMEnvFile, fn)
	}
	run.stop(t)

	again := startDev(t, bin, data, out)
	defer again.stop(t)
	if again.info.APIKey != info.APIKey || again.info.DemoProfileID != info.DemoProfileID {
		t.Fatalf("restart changed the demo key or customer: %+v vs %+v", again.info, info)
	}
	again.checkIs(t, false, "consent_withdrawn")
	if st, p := again.call(t, "GET", "/v1/profiles/"+id, nil); st != 200 || p["version"] != float64(5) { // 4 changes and the merge
		t.Fatalf("after restart: %d %v", st, p)
	}
}

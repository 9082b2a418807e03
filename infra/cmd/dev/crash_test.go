package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/webhook"
)

// TestDevSurvivesKill runs the built dev command with persistence, streams concurrent consent
// writes at it and kills it with SIGKILL mid-stream. After a restart on the same data
// directory every acknowledged write is there (by profile version and ledger), and every
// event in the ledgers reaches the registered webhook endpoint at least once: the journal
// kept the writes and the outbox, the reconciler queued again what the lost queue held.
func TestDevSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "dev")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build dev: %v\n%s", err, out)
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{} // event id -> POSTs
		slow atomic.Bool
	)
	// Slow until the kill, so that deliveries are still queued when the queue is lost.
	slow.Store(true)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(100 * time.Millisecond)
		}
		mu.Lock()
		seen[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
	}))
	defer hook.Close()
	data, out := filepath.Join(dir, "data"), filepath.Join(dir, "dev.json")
	run := startDev(t, bin, data, out)
	if st, b := run.call(t, "POST", "/v1/webhooks", map[string]any{"url": hook.URL, "eventTypes": []string{"*"}}); st != 201 {
		t.Fatalf("register webhook: %d %v", st, b)
	}
	const writers = 8
	ids := make([]string, writers)
	for i := range ids {
		st, p := run.call(t, "POST", "/v1/profiles", map[string]any{"identities": []map[string]string{{"type": "customer_id", "value": fmt.Sprintf("crash-%d", i)}}})
		if st != 201 {
			t.Fatalf("create: %d %v", st, p)
		}
		ids[i] = p["id"].(string)
	}

	// Each writer flips its profile's consent; a write is acknowledged when it answered 200.
	acked := make([]int, writers)   // acknowledged consent writes per profile
	version := make([]int, writers) // the highest acknowledged version per profile
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range writers {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				status := []string{"granted", "withdrawn"}[n%2]
				req, _ := http.NewRequest("PUT", run.info.APIBaseURL+"/v1/profiles/"+ids[i]+"/consents/marketing",
					strings.NewReader(`{"status":"`+status+`","noticeVersion":1}`))
				req.Header.Set("Authorization", "Bearer "+run.info.APIKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				if resp.StatusCode == 200 {
					acked[i]++
					version[i] = max(version[i], etag(resp))
				}
				resp.Body.Close()
			}
		})
	}
	time.Sleep(3 * time.Second)
	if err := run.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = run.cmd.Wait()
	stop.Store(true)
	wg.Wait()
	slow.Store(false)

	again := startDev(t, bin, data, out)
	defer again.stop(t)
	total, found, events := 0, 0, map[string]bool{}
	for i, id := range ids {
		total += acked[i]
		st, p := again.call(t, "GET", "/v1/profiles/"+id, nil)
		if st != 200 || int(p["version"].(float64)) < version[i] {
			t.Errorf("profile %d after the kill: %d, version %v, want at least %d", i, st, p["version"], version[i])
		}
		consents := 0
		for path := "/v1/profiles/" + id + "/events?limit=100"; path != ""; {
			_, page := again.call(t, "GET", path, nil)
			for _, e := range page["events"].([]any) {
				e := e.(map[string]any)
				events[e["id"].(string)] = true
				if e["type"] == "consent.changed" {
					consents++
				}
			}
			path, _ = page["next"].(string)
		}
		if consents < acked[i] {
			t.Errorf("profile %d: %d consent events in the ledger, %d writes acknowledged", i, consents, acked[i])
		}
		found += min(consents, acked[i])
	}
	missing := func() (n, posts int) {
		mu.Lock()
		defer mu.Unlock()
		for id := range events {
			if seen[id] == 0 {
				n++
			}
		}
		for _, c := range seen {
			posts += c
		}
		return n, posts
	}
	deadline := time.Now().Add(30 * time.Second)
	n, posts := missing()
	for ; n > 0 && time.Now().Before(deadline); n, posts = missing() {
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("writes acknowledged %d, found %d; events %d, delivered %d, POSTs %d (duplicates %d)",
		total, found, len(events), len(events)-n, posts, posts-(len(events)-n))
	if total == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	if n > 0 {
		t.Errorf("%d of %d events were never delivered; the restarted stack's warnings and errors:\n%s",
			n, len(events), problems(again.logs.String()))
	}
}

// problems are the WARN and ERROR lines of a stack's log.
func problems(log string) string {
	var out strings.Builder
	for line := range strings.Lines(log) {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) ||
			strings.Contains(line, " WARN ") || strings.Contains(line, " ERROR ") {
			out.WriteString(line)
		}
	}
	return out.String()
}

// etag returns the version of a profile response.
func etag(resp *http.Response) int {
	var v int
	_, _ = fmt.Sscanf(strings.Trim(strings.TrimPrefix(resp.Header.Get("ETag"), "W/"), `"`), "%d", &v)
	return v
}

package eventsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livingprofile/livingprofile/infra/localaws"
)

// emulator is the embedded emulator all tests share: kumo keeps its state in package-level
// services anyway, and starting servers concurrently races inside kumo. Tests keep apart by
// naming their resources with unique.
var emulator *localaws.Stack

func TestMain(m *testing.M) {
	s, err := localaws.Start(context.Background(), localaws.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start emulator:", err)
		os.Exit(1)
	}
	emulator = s
	code := m.Run()
	_ = s.Close()
	os.Exit(code)
}

// startAWS returns the configuration of the shared emulator.
func startAWS(t *testing.T) aws.Config {
	t.Helper()
	return emulator.AWS
}

// unique returns a resource name no other test uses.
func unique(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// testLog is the sources' log: silent unless EVENTSOURCE_TEST_LOG is set.
func testLog() *slog.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("EVENTSOURCE_TEST_LOG") != "" {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// background runs fn until the test ends, then cancels it and checks that it returned nil.
func background(t *testing.T, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancellation, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of cancellation")
		}
	})
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder collects what a handler was called with, safely across goroutines.
type recorder[E any] struct {
	mu    sync.Mutex
	calls []E
}

func (r *recorder[E]) add(e E) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, e)
	return len(r.calls)
}

func (r *recorder[E]) all() []E {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]E(nil), r.calls...)
}

// Package moto runs moto's server, an AWS emulator independent of the embedded one, for
// tests that show the product works on another implementation of the same APIs. The
// Makefile installs it into its own virtualenv (make tools); MOTO_SERVER names another.
package moto

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Binary is the moto_server to run: MOTO_SERVER, else the Makefile's.
func Binary() string {
	if p := os.Getenv("MOTO_SERVER"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", ".tools", "moto", "bin", "moto_server")
}

// Start runs a fresh moto server on a free loopback port for the rest of the test and returns
// its URL. Without moto the test is skipped on a developer's machine and fails in CI (CI set)
// or when MOTO_SERVER names something that is not there.
func Start(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		switch {
		case os.Getenv("MOTO_SERVER") != "":
			t.Fatalf("MOTO_SERVER=%s: %v", bin, err)
		case os.Getenv("CI") != "":
			t.Fatalf("no moto server in CI: %v (make tools installs it)", err)
		default:
			t.Skipf("no moto server (%v): run make tools, or set MOTO_SERVER", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	logs := filepath.Join(t.TempDir(), "moto.log")
	f, err := os.Create(logs)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
	}
	b, _ := os.ReadFile(logs)
	t.Fatalf("moto did not start at %s:\n%s", url, b)
	return ""
}

package portal

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeIsCurrent: the committed *_templ.go are what the pinned generator (go
// tool templ, see go.mod) makes of the .templ files, so no one edits them by hand or forgets
// to regenerate.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	sources, err := filepath.Glob("*.templ")
	if err != nil || len(sources) == 0 {
		t.Fatalf("no .templ files: %v", err)
	}
	dir := t.TempDir()
	for _, s := range sources {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "tool", "templ", "generate", "-path", dir, "-log-level", "warn")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("templ generate: %v\n%s", err, out)
	}
	committed, _ := filepath.Glob("*_templ.go")
	if len(committed) != len(sources) {
		t.Errorf("%d *_templ.go files for %d .templ files: delete the stale ones", len(committed), len(sources))
	}
	for _, s := range sources {
		name := strings.TrimSuffix(s, ".templ") + "_templ.go"
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go tool templ generate", name)
		}
	}
}

package localstack_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/infra/localstack"
)

// TestGeneratedTemplCodeIsCurrent: in every package with .templ files, the committed
// *_templ.go are what the pinned generator (go tool templ, see go.mod) makes of them, so no
// one edits them by hand or forgets to regenerate, and no generated file outlives its source.
func TestGeneratedTemplCodeIsCurrent(t *testing.T) {
	root := localstack.RepoRoot()
	for _, pkg := range []string{"shared/portal", "shared/mail", "shared/export"} {
		t.Run(pkg, func(t *testing.T) {
			src := filepath.Join(root, pkg)
			sources, err := filepath.Glob(filepath.Join(src, "*.templ"))
			if err != nil || len(sources) == 0 {
				t.Fatalf("no .templ files: %v", err)
			}
			dir := t.TempDir()
			for _, s := range sources {
				b, err := os.ReadFile(s)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(s)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("go", "tool", "templ", "generate", "-path", dir, "-log-level", "warn")
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("templ generate: %v\n%s", err, out)
			}
			committed, _ := filepath.Glob(filepath.Join(src, "*_templ.go"))
			if len(committed) != len(sources) {
				t.Errorf("%d *_templ.go files for %d .templ files: delete the stale ones", len(committed), len(sources))
			}
			for _, s := range sources {
				name := strings.TrimSuffix(filepath.Base(s), ".templ") + "_templ.go"
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got, err := os.ReadFile(filepath.Join(src, name)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s/%s is stale: run go tool templ generate", pkg, name)
				}
			}
		})
	}
}

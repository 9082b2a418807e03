package gen_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/livingprofile/livingprofile/shared/wire/registry/gen"
)

var update = flag.Bool("update", false, "rewrite registry_gen.go from functions/*/main.go")

// TestGeneratedTableIsCurrent fails when registry_gen.go is not what functions/*/main.go
// say, so the table cannot drift from the binaries that are deployed.
func TestGeneratedTableIsCurrent(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..")
	want, err := gen.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "registry_gen.go"), want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join("..", "registry_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("registry_gen.go is stale: run go test ./shared/wire/registry/gen -update\n--- want ---\n%s", want)
	}
}

// TestGenerateRefusesOtherMains checks that a main.go that does more than wire its own
// builder, or names another function's builder, is refused.
func TestGenerateRefusesOtherMains(t *testing.T) {
	for name, main := range map[string]string{
		"other builder":           "package main\n\nimport \"github.com/livingprofile/livingprofile/shared/wire\"\n\nfunc main() { wire.Main(\"GetProfile\", wire.PutConsent) }\n",
		"more than one statement": "package main\n\nimport (\n\t\"os\"\n\n\t\"github.com/livingprofile/livingprofile/shared/wire\"\n)\n\nfunc main() {\n\tos.Setenv(\"A\", \"b\")\n\twire.Main(\"GetProfile\", wire.GetProfile)\n}\n",
		"id not a literal":        "package main\n\nimport \"github.com/livingprofile/livingprofile/shared/wire\"\n\nvar id = \"GetProfile\"\n\nfunc main() { wire.Main(id, wire.GetProfile) }\n",
		"builder not imported":    "package main\n\nimport \"github.com/livingprofile/livingprofile/shared/wire\"\n\nfunc main() { wire.Main(\"PortalOpen\", pages.PortalOpen) }\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "functions", "get-profile")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
				t.Fatal(err)
			}
			if src, err := gen.Generate(root); err == nil {
				t.Fatalf("accepted:\n%s", src)
			}
		})
	}
}

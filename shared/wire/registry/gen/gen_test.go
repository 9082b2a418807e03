package gen_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/livingprofile/livingprofile/shared/wire/registry/gen"
)

var update = flag.Bool("update", false, "rewrite the generated files from functions/*/main.go and template.yaml")

// TestGeneratedTableIsCurrent fails when registry_gen.go is not what functions/*/main.go
// say, or shared/httpapi's routes_gen.go not what template.yaml routes, so neither table can
// drift from what is deployed.
func TestGeneratedTableIsCurrent(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..")
	for file, generate := range map[string]func(string) ([]byte, error){
		filepath.Join("..", "registry_gen.go"):                    gen.Generate,
		filepath.Join(root, "shared", "httpapi", "routes_gen.go"): gen.Routes,
	} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, err := generate(root)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(file, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s is stale: run go test ./shared/wire/registry/gen -update\n--- want ---\n%s", filepath.Base(file), want)
			}
		})
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

// Package contract_test checks the server against docs/openapi.yaml with property-based tests
// generated from the document (schemathesis, from the tool virtualenv): schema-valid requests
// must be accepted, schema-invalid ones refused, every status and body must be documented,
// and the stateful phase follows the document's links. It runs against a local stack of its
// own, so the cases it creates cannot disturb other tests. Every check runs (the run names
// none on the command line, so schemathesis.toml's settings hold): what a schema-valid and a
// schema-invalid request may be answered, and the one per-operation exception, with why,
// are there.
package contract_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

// The run's bounds: examples per operation and a time limit for the phases that repeat
// until their budget is spent. A fixed seed makes a failure reproducible.
const (
	examplesPerOperation = 25
	maxSeconds           = 150
	randomSeed           = 20261203
)

func TestContract(t *testing.T) {
	st := schemathesis(t)
	ctx := context.Background()
	stack, err := localstack.Start(ctx, localstack.Options{StackName: fmt.Sprintf("ct%d", time.Now().UnixNano()%1e6),
		// The document's generated webhook URLs must not send deliveries off this machine.
		LoopbackOnly: true})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(stack.Close)
	store := dynamo.New(dynamodb.NewFromConfig(stack.AWS.AWS), stack.Table)
	svc := app.New(store, time.Now, 0)
	const tenant = "demo"
	if err := seed.Tenant(ctx, store, tenant, "Demo Shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, svc, tenant, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.DemoCustomer(ctx, svc, tenant); err != nil {
		t.Fatal(err)
	}
	key, _, err := seed.Key(ctx, store, tenant, "contract", apikey.AllScopes)
	if err != nil {
		t.Fatal(err)
	}

	reports := t.TempDir()
	run := func(doc string, args ...string) ([]byte, error) {
		cmd := exec.Command(st, append([]string{"--config-file", filepath.Join(localstack.RepoRoot(), "infra", "contract", "schemathesis.toml"),
			"run", doc,
			"--url", stack.URL,
			"--header", "Authorization: Bearer " + key,
			"--seed", strconv.Itoa(randomSeed),
			"--workers", "1",
			"--generation-database", "none",
			"--no-color",
		}, args...)...)
		cmd.Dir = reports
		cmd.Env = append(os.Environ(), "SCHEMATHESIS_TELEMETRY=false", "PYTHONHASHSEED=0")
		return cmd.CombinedOutput()
	}

	// The run can fail: a document that promises what the server does not send is caught.
	t.Run("a broken document fails", func(t *testing.T) {
		doc, err := os.ReadFile(filepath.Join(localstack.RepoRoot(), "docs", "openapi.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		const required = "required: [defaultLocale, locales]"
		if bytes.Count(doc, []byte(required)) != 1 {
			t.Fatalf("the catalog schema no longer says %q", required)
		}
		broken := filepath.Join(reports, "broken.yaml")
		doc = bytes.Replace(doc, []byte(required), []byte("required: [defaultLocale, locales, neverSent]"), 1)
		if err := os.WriteFile(broken, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := run(broken, "--include-path", "/v1/catalog", "--include-method", "GET", "--phases", "examples,fuzzing", "--max-examples", "2")
		if err == nil || !bytes.Contains(out, []byte("Response violates schema")) {
			t.Fatalf("a catalog without the required neverSent passed (%v):\n%s", err, tail(out, 4000))
		}
	})

	out, err := run(filepath.Join(localstack.RepoRoot(), "docs", "openapi.yaml"),
		"--phases", "examples,coverage,fuzzing,stateful",
		"--max-examples", strconv.Itoa(examplesPerOperation),
		"--max-time", strconv.Itoa(maxSeconds))
	if err != nil {
		t.Fatalf("schemathesis found failures (%v):\n%s", err, tail(out, 40000))
	}
	m := generatedCases.FindSubmatch(out)
	if m == nil || string(m[1]) == "0" {
		t.Fatalf("schemathesis ran no cases:\n%s", tail(out, 4000))
	}
	t.Logf("contract test: %s generated cases, 0 failures (seed %d)", m[1], randomSeed)
}

// schemathesis returns the tool virtualenv's schemathesis. Without it the test fails in CI
// and is skipped elsewhere, saying how to get it (`make tools`).
func schemathesis(t *testing.T) string {
	p := filepath.Join(localstack.RepoRoot(), ".tools", "venv", "bin", "schemathesis")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("schemathesis is missing from the tool virtualenv (make tools): %v", err)
		}
		t.Skip("schemathesis is not installed; run make tools")
	}
	return p
}

// generatedCases is the case count of schemathesis's summary line ("4392 generated, ...").
var generatedCases = regexp.MustCompile(`(?m)^\s*(\d+) generated\b`)

func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	i := bytes.IndexByte(b[len(b)-n:], '\n')
	return b[len(b)-n+i+1:]
}

package localstack_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/template"
)

// linked are the client packages whose presence in a binary must match its policy: a
// function links a service's client exactly when template.yaml lets it call that service.
// S3, SES v2 and Secrets Manager are reached through the project's own adapters (packages
// blob, mail and secrets over awsapi), SQS through the SDK's client.
var linked = map[string]string{
	"github.com/livingprofile/livingprofile/shared/mail":    "ses:",
	"github.com/livingprofile/livingprofile/shared/blob":    "s3:",
	"github.com/livingprofile/livingprofile/shared/secrets": "secretsmanager:",
	"github.com/aws/aws-sdk-go-v2/service/sqs":              "sqs:",
}

// neverLinked are packages no deployed function may link: the shared-config/SSO credential
// chain, since functions take their configuration from the runtime, and the SDK's S3, SES v2
// and Secrets Manager clients, which the adapters replace to keep the binaries within their
// size budget and their start-up short.
var neverLinked = []string{
	"github.com/aws/aws-sdk-go-v2/config",
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds",
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
	"github.com/aws/aws-sdk-go-v2/service/s3",
	"github.com/aws/aws-sdk-go-v2/service/sesv2",
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager",
}

// TestFunctionsLinkOnlyWhatTheyUse checks the import graph of every function's main, as
// built for Lambda: it links the client of an AWS service if and only if its policy allows
// an action of that service, and never the packages in neverLinked. Binary size and cold
// start follow from the import graph, so this keeps them from creeping back.
func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	root := localstack.RepoRoot()
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	allowed, ids := map[string][]string{}, map[string]string{} // by logical id; logical id by directory
	for _, fn := range tpl.Functions {
		allowed[fn.LogicalID], ids[dirOf(fn.LogicalID)] = fn.Actions, fn.LogicalID
	}
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-f", "{{.Dir}}|{{join .Deps \" \"}}", "./functions/...")
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, deps, _ := strings.Cut(line, "|")
		id, ok := ids[filepath.Base(dir)]
		actions := allowed[id]
		if !ok {
			t.Errorf("functions/%s: no function of template.yaml has this directory", filepath.Base(dir))
			continue
		}
		seen++
		imports := strings.Fields(deps)
		for pkg, prefix := range linked {
			links := slices.Contains(imports, pkg)
			may := false
			for _, a := range actions {
				may = may || strings.HasPrefix(a, prefix)
			}
			switch {
			case links && !may:
				t.Errorf("%s links %s but its policy allows no %s action", id, pkg, prefix)
			case may && !links:
				t.Errorf("%s may call %s* but does not link %s: its policy allows more than it uses", id, prefix, pkg)
			}
		}
		for _, pkg := range neverLinked {
			if slices.Contains(imports, pkg) {
				t.Errorf("%s links %s", id, pkg)
			}
		}
	}
	if seen != len(allowed) {
		t.Errorf("go list found %d functions, template.yaml has %d", seen, len(allowed))
	}
}

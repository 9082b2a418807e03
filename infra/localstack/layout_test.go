package localstack_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire/registry"
)

// dirOf is the naming rule from LogicalId to directory: CreatePortalLink -> create-portal-link.
func dirOf(id string) string {
	return strings.ToLower(regexp.MustCompile(`([a-z0-9])([A-Z])`).ReplaceAllString(id, "$1-$2"))
}

// TestLayoutMatches cross-checks that every function in template.yaml has its directory
// under functions/ whose main wires that same function's builder, a row in the generated
// registry, and its routes served locally (the Makefile builds any function by the same
// naming rule) — and that nothing else exists.
func TestLayoutMatches(t *testing.T) {
	root := localstack.RepoRoot()
	tpl := env.stack.Template
	authorizers := map[string]bool{}
	for _, a := range tpl.HTTPAPI.Authorizers {
		authorizers[a.FunctionLogicalID] = true
	}
	var inTemplate []string
	for _, fn := range tpl.Functions {
		inTemplate = append(inTemplate, fn.LogicalID)
		if fn.BuildMethod != "makefile" || fn.Handler != "bootstrap" {
			t.Errorf("%s: build method %q handler %q", fn.LogicalID, fn.BuildMethod, fn.Handler)
		}
		if len(fn.Routes)+len(fn.Queues)+len(fn.Streams)+len(fn.Schedules) == 0 && !authorizers[fn.LogicalID] {
			t.Errorf("%s has no route, queue, stream or schedule and is not the authorizer", fn.LogicalID)
		}
		main, err := os.ReadFile(filepath.Join(root, "functions", dirOf(fn.LogicalID), "main.go"))
		if err != nil {
			t.Errorf("%s: %v", fn.LogicalID, err)
		} else if !regexp.MustCompile(`wire\.Main\("` + fn.LogicalID + `", \w+\.` + fn.LogicalID + `\)`).Match(main) {
			t.Errorf("functions/%s/main.go does not wire %s", dirOf(fn.LogicalID), fn.LogicalID)
		}
	}
	slices.Sort(inTemplate)
	if !slices.Equal(inTemplate, registry.Functions()) {
		t.Errorf("template functions %v\nwire functions     %v", inTemplate, registry.Functions())
	}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs, want []string
	for _, e := range entries {
		dirs = append(dirs, e.Name())
	}
	for _, id := range inTemplate {
		want = append(want, dirOf(id))
	}
	slices.Sort(dirs)
	slices.Sort(want)
	if !slices.Equal(dirs, want) {
		t.Errorf("functions/ holds %v, template wants %v", dirs, want)
	}
	// Every template route is served locally: without a key the authorizer answers 401,
	// where an unknown route would answer 404. Only the hosted portal (and its GPC
	// statement) is public: those routes, and no others, are declared without the
	// authorizer, and reach their function (the $default route's problems are the only
	// problem+json a public request can get). The $default route exists, without the
	// authorizer, and answers what matches no route.
	defaults := 0
	for _, fn := range tpl.Functions {
		for _, r := range fn.Routes {
			if r.Path == template.DefaultRoute {
				defaults++
				if r.Authorizer != template.NoAuthorizer {
					t.Errorf("the $default route is behind authorizer %s; it must answer without a key", r.Authorizer)
				}
				continue
			}
			path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "x")
			got := do(t, call{method: r.Method, path: path})
			public := strings.HasPrefix(r.Path, "/portal/") || r.Path == "/.well-known/gpc.json"
			switch {
			case public && r.Authorizer != template.NoAuthorizer:
				t.Errorf("%s %s: a portal route behind authorizer %s; people have no API key", r.Method, r.Path, r.Authorizer)
			case !public && r.Authorizer == template.NoAuthorizer:
				t.Errorf("%s %s: a brand API route without the authorizer", r.Method, r.Path)
			case public && (got.status == 401 || got.status == 403 || got.headers.Get("Content-Type") == "application/problem+json"):
				t.Errorf("%s %s: local status %d %s, want the function's own answer", r.Method, r.Path, got.status, got.body)
			case !public && got.status != 401:
				t.Errorf("%s %s: local status %d, want 401 from the authorizer", r.Method, r.Path, got.status)
			}
		}
	}
	if defaults != 1 {
		t.Errorf("template.yaml has %d $default routes, want 1", defaults)
	}
	if got := do(t, call{method: "GET", path: "/v1/nothing-here"}); got.status != 404 || got.headers.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unknown route answered %d %s", got.status, got.body)
	}
}

// TestOpenAPIMatchesTemplate: docs/openapi.yaml documents exactly the template's routes but
// $default, which is no operation: it answers the requests that match none.
func TestOpenAPIMatchesTemplate(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(localstack.RepoRoot(), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi version %q, want 3.1.x", doc.OpenAPI)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "put", "post", "patch", "delete":
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	for _, fn := range env.stack.Template.Functions {
		for _, r := range fn.Routes {
			if r.Path != template.DefaultRoute {
				routed = append(routed, r.Method+" "+r.Path)
			}
		}
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Errorf("openapi documents %v\ntemplate routes     %v", documented, routed)
	}
}

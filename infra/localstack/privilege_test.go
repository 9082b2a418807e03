package localstack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/livingprofile/livingprofile/infra/localstack"
)

// policyActions reads, per function, the actions its inline policies in template.yaml allow.
func policyActions() (map[string]map[string]bool, error) {
	raw, err := os.ReadFile(filepath.Join(localstack.RepoRoot(), "template.yaml"))
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	get := func(n *yaml.Node, key string) *yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	out := map[string]map[string]bool{}
	res := get(doc.Content[0], "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if t := get(r, "Type"); t == nil || t.Value != "AWS::Serverless::Function" {
			continue
		}
		out[id] = map[string]bool{}
		pols := get(get(r, "Properties"), "Policies")
		if pols == nil {
			continue
		}
		for _, p := range pols.Content {
			st := get(p, "Statement")
			if st == nil {
				continue
			}
			for _, s := range st.Content {
				if e := get(s, "Effect"); e == nil || e.Value != "Allow" {
					continue
				}
				a := get(s, "Action")
				if a == nil {
					continue
				}
				if a.Kind == yaml.ScalarNode {
					out[id][a.Value] = true
				}
				for _, x := range a.Content {
					out[id][x.Value] = true
				}
			}
		}
	}
	return out, nil
}

// checkLeastPrivilege compares every AWS call the functions made during the tests with
// their policies: a call the policy does not allow would be refused in AWS.
func checkLeastPrivilege(st *localstack.Stack) error {
	allowed, err := policyActions()
	if err != nil {
		return err
	}
	var missing []string
	for fn, actions := range st.Actions() {
		for _, a := range actions {
			if !allowed[fn][a] {
				missing = append(missing, fmt.Sprintf("%s needs %s", fn, a))
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return fmt.Errorf("template.yaml policies lack actions the code uses:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

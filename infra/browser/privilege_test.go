package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/livingprofile/livingprofile/infra/localstack"
)

// The emulator enforces no IAM. After the tests, every AWS call the portal's functions made
// through the local stack (Stack.Actions) is checked against the function's inline policies
// in template.yaml: a call the policy does not allow would be refused in AWS. The browser
// journeys reach more of the portal than any other test (logins that send email, export
// downloads, erasures), so this is where the portal's policies are proven sufficient.

// actionList is a policy statement's Action: one action or a list.
type actionList []string

func (a *actionList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*a = []string{n.Value}
		return nil
	}
	var l []string
	err := n.Decode(&l)
	*a = l
	return err
}

// policyActions returns, per function of template.yaml, the actions its policies allow.
func policyActions() (map[string][]string, error) {
	raw, err := os.ReadFile(filepath.Join(localstack.RepoRoot(), "template.yaml"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Policies []struct {
					Statement []struct {
						Effect string     `yaml:"Effect"`
						Action actionList `yaml:"Action"`
					} `yaml:"Statement"`
				} `yaml:"Policies"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("template.yaml: %w", err)
	}
	out := map[string][]string{}
	for id, r := range doc.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		out[id] = []string{}
		for _, p := range r.Properties.Policies {
			for _, s := range p.Statement {
				if s.Effect == "Allow" {
					out[id] = append(out[id], s.Action...)
				}
			}
		}
	}
	return out, nil
}

// checkLeastPrivilege fails when a function called AWS in a way its policies do not allow.
func checkLeastPrivilege(st *localstack.Stack) error {
	allowed, err := policyActions()
	if err != nil {
		return err
	}
	var missing []string
	for fn, used := range st.Actions() {
		for _, a := range used {
			if !slices.Contains(allowed[fn], a) {
				missing = append(missing, fn+" needs "+a)
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return fmt.Errorf("template.yaml policies lack actions the code uses:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

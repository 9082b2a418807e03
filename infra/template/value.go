package template

import (
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseValue parses YAML text into nil, a string, a []any or a map[string]any. Scalars are
// kept as written, numbers and booleans included, as CloudFormation treats them as strings
// too; short-form intrinsic tags become their long form (`!GetAtt Queue.Arn` is
// `{"Fn::GetAtt": [Queue, Arn]}`). Unknown tags and duplicate keys are errors, as in
// CloudFormation, so that a typo cannot silently change what the local stack builds.
func parseValue(data []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return fromNode(&doc)
}

// shortForms maps the short-form intrinsic tags the local stack resolves to their long form.
var shortForms = map[string]string{
	"!Ref":    "Ref",
	"!GetAtt": "Fn::GetAtt",
	"!Sub":    "Fn::Sub",
	"!If":     "Fn::If",
	"!Equals": "Fn::Equals",
	"!Not":    "Fn::Not",
}

func fromNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	case yaml.ScalarNode:
		if n.Tag != "!!null" {
			v = n.Value
		}
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			var err error
			if l[i], err = fromNode(c); err != nil {
				return nil, err
			}
		}
		v = l
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			e, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = e
		}
		v = m
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
	}

	// Standard tags (!!str, !!int, ...) and untagged nodes are plain values.
	if n.Tag == "" || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	long, ok := shortForms[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: tag %s is unknown or not supported by the local stack", n.Line, n.Tag)
	}
	// !GetAtt accepts "Resource.Attribute"; the long form is a two-element list.
	if s, isScalar := v.(string); long == "Fn::GetAtt" && isScalar {
		id, attr, found := strings.Cut(s, ".")
		if !found {
			return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
		}
		v = []any{id, attr}
	}
	return map[string]any{long: v}, nil
}

// intrinsic reports whether v is an intrinsic function call, and returns its long-form name
// ("Ref", "Condition" or "Fn::...") and its argument.
func intrinsic(v any) (name string, arg any, ok bool) {
	m, _ := v.(map[string]any)
	if len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

// asMap returns the entries of a map that is not an intrinsic function.
func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if _, _, fn := intrinsic(v); fn {
		return nil, false
	}
	return m, ok
}

// target returns the logical id a Ref or Fn::GetAtt points at, and the GetAtt attribute.
func target(v any) (id, attr string, ok bool) {
	name, arg, _ := intrinsic(v)
	switch name {
	case "Ref":
		id, ok = arg.(string)
		return id, "", ok
	case "Fn::GetAtt":
		l, _ := arg.([]any)
		if len(l) != 2 {
			return "", "", false
		}
		id, ok1 := l[0].(string)
		attr, ok2 := l[1].(string)
		return id, attr, ok1 && ok2
	}
	return "", "", false
}

// show renders v as compact JSON, for error messages. A template value always marshals.
func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

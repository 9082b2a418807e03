package template

import (
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Value is one value of the template: a scalar, a list, a map, or an intrinsic function.
//
// Scalars are kept as the text the template wrote (numbers and booleans included), because
// CloudFormation treats them as strings too. Short-form intrinsic tags are normalized to their
// long form while parsing, so `!GetAtt Queue.Arn` and `{"Fn::GetAtt": ["Queue", "Arn"]}` are
// the same Value. The zero Value is YAML null.
type Value struct {
	// v is nil, a string, a []Value or a map[string]Value.
	v any
}

// String returns a literal Value holding s.
func String(s string) Value { return Value{v: s} }

// IsNull reports whether v is YAML null or absent.
func (v Value) IsNull() bool { return v.v == nil }

// Literal returns the text of a scalar; ok is false for null, lists, maps and intrinsics.
func (v Value) Literal() (s string, ok bool) {
	s, ok = v.v.(string)
	return s, ok
}

// List returns the elements of a list; ok is false for anything else.
func (v Value) List() (l []Value, ok bool) {
	l, ok = v.v.([]Value)
	return l, ok
}

// Map returns the entries of a map that is not an intrinsic function; ok is false otherwise.
// The returned map must not be modified.
func (v Value) Map() (m map[string]Value, ok bool) {
	if _, _, isFn := v.Intrinsic(); isFn {
		return nil, false
	}
	m, ok = v.v.(map[string]Value)
	return m, ok
}

// Intrinsic reports whether v is an intrinsic function call, and returns its long-form
// name ("Ref", "Condition" or "Fn::...") and its argument.
func (v Value) Intrinsic() (name string, arg Value, ok bool) {
	m, isMap := v.v.(map[string]Value)
	if !isMap || len(m) != 1 {
		return "", Value{}, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", Value{}, false
}

// String renders v as compact JSON, for error messages.
func (v Value) String() string {
	b, err := json.Marshal(v.plain())
	if err != nil {
		return fmt.Sprintf("%v", v.v)
	}
	return string(b)
}

// plain converts v to the types encoding/json understands.
func (v Value) plain() any {
	switch x := v.v.(type) {
	case []Value:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e.plain()
		}
		return out
	case map[string]Value:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e.plain()
		}
		return out
	default:
		return x
	}
}

// shortForms maps the short-form intrinsic tags the local stack resolves to their long-form
// keys; any other tag is an error at parse time.
var shortForms = map[string]string{
	"!Ref":    "Ref",
	"!GetAtt": "Fn::GetAtt",
	"!Sub":    "Fn::Sub",
	"!If":     "Fn::If",
	"!Equals": "Fn::Equals",
	"!Not":    "Fn::Not",
}

// fromNode converts a YAML node to a Value, normalizing short-form intrinsic tags.
// It rejects unknown local tags and duplicate map keys, as CloudFormation does, so that a
// typo cannot silently change what the local stack builds.
func fromNode(n *yaml.Node) (Value, error) {
	var inner Value
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return Value{}, nil
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	case yaml.ScalarNode:
		if n.Tag != "!!null" {
			inner = Value{v: n.Value}
		}
	case yaml.SequenceNode:
		l := make([]Value, 0, len(n.Content))
		for _, c := range n.Content {
			e, err := fromNode(c)
			if err != nil {
				return Value{}, err
			}
			l = append(l, e)
		}
		inner = Value{v: l}
	case yaml.MappingNode:
		m := make(map[string]Value, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := m[k.Value]; dup {
				return Value{}, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			e, err := fromNode(n.Content[i+1])
			if err != nil {
				return Value{}, err
			}
			m[k.Value] = e
		}
		inner = Value{v: m}
	default:
		return Value{}, fmt.Errorf("line %d: unsupported YAML node kind %d", n.Line, n.Kind)
	}

	// Standard tags (!!str, !!int, ...) and untagged nodes are plain values.
	if n.Tag == "" || strings.HasPrefix(n.Tag, "!!") {
		return inner, nil
	}
	long, ok := shortForms[n.Tag]
	if !ok {
		return Value{}, fmt.Errorf("line %d: tag %s is unknown or not supported by the local stack", n.Line, n.Tag)
	}
	// !GetAtt accepts "Resource.Attribute"; the long form is a two-element list.
	if s, isScalar := inner.Literal(); long == "Fn::GetAtt" && isScalar {
		id, attr, found := strings.Cut(s, ".")
		if !found {
			return Value{}, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
		}
		inner = Value{v: []Value{String(id), String(attr)}}
	}
	return Value{v: map[string]Value{long: inner}}, nil
}

// parseValue parses YAML text into a Value.
func parseValue(data []byte) (Value, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Value{}, err
	}
	return fromNode(&doc)
}

package eventsource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Filter is a compiled Lambda event filter (an event source mapping's FilterCriteria): an
// event passes when any of its patterns matches the event's JSON. A pattern is an object whose
// keys name fields: an object value matches the field's object, an array matches a field
// whose value (or one of whose array elements) matches one of its rules. A rule is a string,
// number, boolean or null that equals the value, or one of {"prefix": "s"},
// {"exists": bool} and {"anything-but": value or [values]}. Other operators are rejected when
// the filter is compiled, rather than silently passing or dropping records.
type Filter struct {
	patterns []map[string]any
}

// CompileFilter compiles the patterns (JSON). No patterns make a filter that passes everything.
func CompileFilter(patterns []string) (*Filter, error) {
	f := &Filter{}
	for _, p := range patterns {
		d := json.NewDecoder(strings.NewReader(p))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			return nil, fmt.Errorf("filter pattern %s: %w", p, err)
		}
		if err := checkPattern(m); err != nil {
			return nil, fmt.Errorf("filter pattern %s: %w", p, err)
		}
		f.patterns = append(f.patterns, m)
	}
	return f, nil
}

func checkPattern(m map[string]any) error {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(v); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		case []any:
			for _, r := range v {
				if err := checkRule(r); err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
			}
		default:
			return fmt.Errorf("%s: want an object or an array of rules, got %v", k, v)
		}
	}
	return nil
}

func checkRule(r any) error {
	op, ok := r.(map[string]any)
	if !ok {
		return nil
	}
	if len(op) != 1 {
		return fmt.Errorf("a rule object has one operator, got %v", op)
	}
	for name, arg := range op {
		switch name {
		case "prefix":
			if _, ok := arg.(string); !ok {
				return fmt.Errorf("prefix wants a string, got %v", arg)
			}
		case "exists":
			if _, ok := arg.(bool); !ok {
				return fmt.Errorf("exists wants a boolean, got %v", arg)
			}
		case "anything-but":
			if _, ok := arg.(map[string]any); ok {
				return fmt.Errorf("anything-but with an operator is not emulated")
			}
		default:
			return fmt.Errorf("operator %q is not emulated", name)
		}
	}
	return nil
}

// Match reports whether event, marshalled to JSON, matches one of the patterns.
func (f *Filter) Match(event any) (bool, error) {
	if len(f.patterns) == 0 {
		return true, nil
	}
	b, err := json.Marshal(event)
	if err != nil {
		return false, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return false, err
	}
	for _, p := range f.patterns {
		if matchObject(p, v) {
			return true, nil
		}
	}
	return false, nil
}

func matchObject(pattern, v map[string]any) bool {
	for k, p := range pattern {
		field, present := v[k]
		switch p := p.(type) {
		case map[string]any:
			sub, ok := field.(map[string]any)
			if !ok || !matchObject(p, sub) {
				return false
			}
		case []any:
			if !matchRules(p, field, present) {
				return false
			}
		}
	}
	return true
}

func matchRules(rules []any, field any, present bool) bool {
	values := []any{field}
	if l, ok := field.([]any); ok {
		values = l
	}
	for _, r := range rules {
		if op, ok := r.(map[string]any); ok {
			if exists, ok := op["exists"].(bool); ok {
				// exists looks at a leaf: an object is no value.
				_, isObject := field.(map[string]any)
				if exists == (present && !isObject) {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchRule(r, v) {
				return true
			}
		}
	}
	return false
}

func matchRule(r, v any) bool {
	op, ok := r.(map[string]any)
	if !ok {
		return equal(r, v)
	}
	if p, ok := op["prefix"].(string); ok {
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, p)
	}
	if but, ok := op["anything-but"]; ok {
		if l, ok := but.([]any); ok {
			for _, b := range l {
				if equal(b, v) {
					return false
				}
			}
			return true
		}
		return !equal(but, v)
	}
	return false
}

// equal compares JSON scalars; numbers by value, as Lambda does ("1.0" matches 1).
func equal(a, b any) bool {
	na, aNum := a.(json.Number)
	nb, bNum := b.(json.Number)
	if aNum || bNum {
		if !aNum || !bNum {
			return false
		}
		fa, errA := na.Float64()
		fb, errB := nb.Float64()
		return errA == nil && errB == nil && fa == fb
	}
	return a == b
}

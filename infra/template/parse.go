package template

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Parse parses a SAM template. See the package documentation for what it rejects.
func Parse(data []byte) (*Template, error) { return ParseWith(data, nil) }

// ParseWith is Parse with parameter values that override the defaults wherever the
// template's settings refer to parameters, as `sam deploy --parameter-overrides` does.
// An override of an undeclared parameter is an error.
func ParseWith(data []byte, overrides map[string]string) (*Template, error) {
	root, err := parseValue(data)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	top, ok := root.Map()
	if !ok {
		return nil, errors.New("parse template: not a mapping")
	}

	t := &Template{
		Parameters: map[string]Parameter{},
		Conditions: map[string]Value{},
		Mappings:   map[string]Value{},
	}
	if err := t.parseParameters(top["Parameters"]); err != nil {
		return nil, err
	}
	if m, ok := top["Conditions"].Map(); ok {
		maps.Copy(t.Conditions, m)
	}
	if m, ok := top["Mappings"].Map(); ok {
		maps.Copy(t.Mappings, m)
	}

	p := &parser{t: t, defaults: map[string]string{}}
	for name, prm := range t.Parameters {
		if prm.HasDefault {
			p.defaults[name] = prm.Default
		}
	}
	for name, v := range overrides {
		if _, ok := t.Parameters[name]; !ok {
			return nil, fmt.Errorf("parse template: override of unknown parameter %s", name)
		}
		p.defaults[name] = v
	}
	globals, _ := top["Globals"].Map()
	p.globalFn, _ = globals["Function"].Map()
	p.globalAPI, _ = globals["HttpApi"].Map()

	resources, ok := top["Resources"].Map()
	if !ok {
		return nil, errors.New("parse template: no Resources")
	}
	if err := p.resources(resources); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Template) parseParameters(v Value) error {
	params, _ := v.Map()
	for name, pv := range params {
		pm, ok := pv.Map()
		if !ok {
			return fmt.Errorf("parameter %s: not a mapping", name)
		}
		p := Parameter{}
		p.Type, _ = pm["Type"].Literal()
		if d, ok := pm["Default"].Literal(); ok {
			p.Default, p.HasDefault = d, true
		}
		allowed, _ := pm["AllowedValues"].List()
		for _, a := range allowed {
			s, ok := a.Literal()
			if !ok {
				return fmt.Errorf("parameter %s: AllowedValues: not a scalar: %s", name, a)
			}
			p.AllowedValues = append(p.AllowedValues, s)
		}
		t.Parameters[name] = p
	}
	return nil
}

// parser carries what resource parsing needs besides the template itself.
type parser struct {
	t *Template
	// defaults are the parameter defaults scalar properties are resolved with.
	defaults  map[string]string
	globalFn  map[string]Value
	globalAPI map[string]Value
	// apis are the AWS::Serverless::HttpApi resources' properties by logical id.
	apis map[string]map[string]Value
	// routeAPIs maps "function/event" to the API logical id the route belongs to.
	routeAPIs map[string]string
}

func (p *parser) resources(resources map[string]Value) error {
	p.apis = map[string]map[string]Value{}
	p.routeAPIs = map[string]string{}
	var errs []error
	for _, id := range sortedKeys(resources) {
		r, ok := resources[id].Map()
		if !ok {
			errs = append(errs, fmt.Errorf("resource %s: not a mapping", id))
			continue
		}
		typ, _ := r["Type"].Literal()
		props, _ := r["Properties"].Map()
		cond, _ := r["Condition"].Literal()
		var err error
		switch typ {
		case "AWS::Serverless::Function":
			err = p.function(id, cond, props, r["Metadata"])
		case "AWS::Serverless::HttpApi":
			p.apis[id] = props
		case "AWS::DynamoDB::Table":
			err = p.table(id, cond, props)
		case "AWS::Serverless::SimpleTable":
			err = p.simpleTable(id, cond, props)
		case "AWS::SQS::Queue":
			err = p.queue(id, cond, props)
		case "AWS::S3::Bucket":
			err = p.bucket(id, cond, props)
		case "AWS::SecretsManager::Secret":
			err = p.secret(id, cond, props)
		default:
			p.t.Other = append(p.t.Other, Resource{LogicalID: id, Type: typ})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("resource %s: %w", id, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return p.httpAPI()
}

// scalar resolves a scalar property: a literal, or an intrinsic over parameter defaults
// (a Ref to a parameter, an !If on a condition, a !FindInMap, ...). ok is false when v is null.
func (p *parser) scalar(v Value, what string) (s string, ok bool, err error) {
	if v.IsNull() {
		return "", false, nil
	}
	s, err = p.t.Resolve(v, nil, p.defaults)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", what, err)
	}
	return s, true, nil
}

func (p *parser) str(v Value, what string) (string, error) {
	s, _, err := p.scalar(v, what)
	return s, err
}

func (p *parser) integer(v Value, what string, def int) (int, error) {
	s, ok, err := p.scalar(v, what)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", what, s)
	}
	return n, nil
}

func (p *parser) number(v Value, what string) (float64, error) {
	s, ok, err := p.scalar(v, what)
	if err != nil || !ok {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", what, s)
	}
	return f, nil
}

func (p *parser) boolean(v Value, what string, def bool) (bool, error) {
	s, ok, err := p.scalar(v, what)
	if err != nil || !ok {
		return def, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a boolean", what, s)
	}
	return b, nil
}

func (p *parser) stringList(v Value, what string) ([]string, error) {
	if v.IsNull() {
		return nil, nil
	}
	l, ok := v.List()
	if !ok {
		return nil, fmt.Errorf("%s: not a list", what)
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, err := p.str(e, fmt.Sprintf("%s[%d]", what, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// target returns the logical id a Ref or Fn::GetAtt points at, and the GetAtt attribute.
func target(v Value) (id, attr string, ok bool) {
	name, arg, isFn := v.Intrinsic()
	if !isFn {
		return "", "", false
	}
	switch name {
	case "Ref":
		id, ok = arg.Literal()
		return id, "", ok
	case "Fn::GetAtt":
		if s, isStr := arg.Literal(); isStr {
			id, attr, ok = strings.Cut(s, ".")
			return id, attr, ok
		}
		l, isList := arg.List()
		if !isList || len(l) != 2 {
			return "", "", false
		}
		id, ok1 := l[0].Literal()
		attr, ok2 := l[1].Literal()
		return id, attr, ok1 && ok2
	}
	return "", "", false
}

// checkKeys fails on keys that are not in known, so that a typo in an event is an error
// instead of a silently missing feature.
func checkKeys(m map[string]Value, what string, known ...string) error {
	var bad []string
	for k := range m {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%s: unknown properties %s", what, strings.Join(bad, ", "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

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
	t := &Template{Parameters: map[string]Parameter{}, Conditions: map[string]Value{}}
	if err := t.parseParameters(top["Parameters"]); err != nil {
		return nil, err
	}
	if m, ok := top["Conditions"].Map(); ok {
		maps.Copy(t.Conditions, m)
	}
	p := &parser{t: t, defaults: map[string]string{}, managed: map[string]Value{}}
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
	// managed are the AWS::IAM::ManagedPolicy resources' policy documents by logical id.
	managed map[string]Value
	// logGroups are the logical ids of the AWS::Logs::LogGroup resources.
	logGroups map[string]bool
	// apis are the AWS::Serverless::HttpApi resources' properties by logical id.
	apis map[string]map[string]Value
	// routeAPIs are the logical ids the routes' ApiId refer to.
	routeAPIs map[string]bool
}

func (p *parser) resources(resources map[string]Value) error {
	p.apis = map[string]map[string]Value{}
	p.logGroups = map[string]bool{}
	p.routeAPIs = map[string]bool{}
	// Functions refer to managed policies and log groups wherever they stand in the file.
	for id, rv := range resources {
		r, _ := rv.Map()
		props, _ := r["Properties"].Map()
		switch typ, _ := r["Type"].Literal(); typ {
		case "AWS::IAM::ManagedPolicy":
			p.managed[id] = props["PolicyDocument"]
		case "AWS::Logs::LogGroup":
			p.logGroups[id] = true
		}
	}
	var errs []error
	for _, id := range sortedKeys(resources) {
		r, ok := resources[id].Map()
		if !ok {
			errs = append(errs, fmt.Errorf("resource %s: not a mapping", id))
			continue
		}
		typ, _ := r["Type"].Literal()
		props, _ := r["Properties"].Map()
		var err error
		switch typ {
		case "AWS::Serverless::Function":
			err = p.function(id, props, r["Metadata"])
		case "AWS::Serverless::HttpApi":
			p.apis[id] = props
		case "AWS::DynamoDB::Table":
			err = p.table(id, props)
		case "AWS::SQS::Queue":
			err = p.queue(id, props)
		case "AWS::S3::Bucket":
			err = p.bucket(id, props)
		case "AWS::SecretsManager::Secret":
			err = p.secret(id, props)
		case "AWS::Serverless::SimpleTable", "AWS::Serverless::Api", "AWS::Serverless::StateMachine":
			err = fmt.Errorf("%s is not supported by the local stack", typ)
		default:
			// Roles, keys, alarms, log groups, ...: nothing the local stack creates.
			continue
		}
		if _, set := r["Condition"]; set && err == nil {
			err = errors.New("a Condition on a resource the local stack creates is not supported")
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
// (a Ref to a parameter, an !If on a condition). ok is false when v is null.
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
	name, arg, _ := v.Intrinsic()
	switch name {
	case "Ref":
		id, ok = arg.Literal()
		return id, "", ok
	case "Fn::GetAtt":
		l, _ := arg.List()
		if len(l) != 2 {
			return "", "", false
		}
		id, ok1 := l[0].Literal()
		attr, ok2 := l[1].Literal()
		return id, attr, ok1 && ok2
	}
	return "", "", false
}

// checkKeys fails on keys that are not in known, so that a typo or a property the local
// stack does not emulate is an error instead of a silently missing feature.
func checkKeys(m map[string]Value, what string, known ...string) error {
	var bad []string
	for k := range m {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%s: unknown or unsupported properties %s", what, strings.Join(bad, ", "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

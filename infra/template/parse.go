package template

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Parse parses a SAM template. See the package documentation for what it rejects.
func Parse(data []byte) (*Template, error) { return parse(data, nil) }

func parse(data []byte, overrides map[string]string) (*Template, error) {
	root, err := parseValue(data)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	m, ok := asMap(root)
	if !ok {
		return nil, errors.New("parse template: not a mapping")
	}
	if _, ok := asMap(m["Resources"]); !ok {
		return nil, errors.New("parse template: no Resources")
	}
	t := &Template{params: map[string]parameter{}}
	p := &parser{t: t, params: map[string]string{}, types: map[string]string{},
		managed: map[string]object{}, apis: map[string]object{}, routeAPIs: map[string]bool{}}
	top := object{m: m}
	t.conditions = p.object(top, "Conditions").m
	p.parameters(p.object(top, "Parameters"), overrides)
	globals := p.object(top, "Globals")
	p.globalFn, p.globalAPI = p.object(globals, "Function"), p.object(globals, "HttpApi")
	p.resources(p.object(top, "Resources"))
	if len(p.problems) == 0 {
		p.httpAPI()
	}
	if len(p.problems) > 0 {
		slices.Sort(p.problems)
		return nil, fmt.Errorf("parse template: %s", strings.Join(slices.Compact(p.problems), "; "))
	}
	return t, nil
}

type parameter struct {
	def        string // meaningful only when hasDefault
	hasDefault bool
	allowed    []string
}

// parameters reads the template's parameters into p.t, and the values scalar properties are
// resolved with into p.params: overrides first, then defaults.
func (p *parser) parameters(o object, overrides map[string]string) {
	for name := range o.m {
		prm := p.object(o, name)
		def, hasDefault := p.scalar(prm, "Default")
		p.t.params[name] = parameter{def: def, hasDefault: hasDefault, allowed: p.strings(prm, "AllowedValues")}
		if hasDefault {
			p.params[name] = def
		}
	}
	for name, v := range overrides {
		if _, ok := p.t.params[name]; !ok {
			p.fail("Parameters", "override of unknown parameter %s", name)
		}
		p.params[name] = v
	}
}

// parser carries what resource parsing needs besides the template itself. It records every
// problem it finds rather than stopping at the first, so that one run names them all.
type parser struct {
	t         *Template
	params    map[string]string // the values scalar properties are resolved with
	globalFn  object
	globalAPI object
	types     map[string]string // the resources' types by logical id
	managed   map[string]object // the AWS::IAM::ManagedPolicy documents by logical id
	apis      map[string]object // the AWS::Serverless::HttpApi properties by logical id
	routeAPIs map[string]bool   // the logical ids the routes' ApiId refer to
	problems  []string
}

// object is one mapping of the template with its path in the template
// ("Resources.Queue.Properties"), so that every problem names where it is.
type object struct {
	at   string
	m    map[string]any
	from map[string]string // the path of the mapping each key was merged from, if any
}

func (o object) path(key string) string {
	if o.at == "" {
		return key
	}
	return cmp.Or(o.from[key], o.at) + "." + key
}

// merged returns own's keys over globals', as SAM applies Globals property by property.
func merged(globals, own object) object {
	o := object{at: own.at, m: map[string]any{}, from: map[string]string{}}
	for _, src := range []object{globals, own} {
		for k, v := range src.m {
			o.m[k], o.from[k] = v, src.at
		}
	}
	return o
}

func (p *parser) fail(path, format string, args ...any) {
	p.problems = append(p.problems, path+": "+fmt.Sprintf(format, args...))
}

// mapping returns v, found at path, as a mapping; it is empty when v is null.
func (p *parser) mapping(path string, v any) object {
	m, ok := asMap(v)
	if !ok && v != nil {
		p.fail(path, "want a mapping, got %s", show(v))
	}
	return object{at: path, m: m}
}

// object returns the mapping at o's key; it is empty when the key is absent.
func (p *parser) object(o object, key string) object { return p.mapping(o.path(key), o.m[key]) }

func (p *parser) list(o object, key string) []any {
	v := o.m[key]
	l, ok := v.([]any)
	if !ok && v != nil {
		p.fail(o.path(key), "want a list, got %s", show(v))
	}
	return l
}

func (p *parser) objects(o object, key string) []object {
	var out []object
	for i, v := range p.list(o, key) {
		out = append(out, p.mapping(fmt.Sprintf("%s[%d]", o.path(key), i), v))
	}
	return out
}

// strings resolves the elements of the list at o's key.
func (p *parser) strings(o object, key string) []string {
	var out []string
	for i, v := range p.list(o, key) {
		if s, ok := p.resolve(fmt.Sprintf("%s[%d]", o.path(key), i), v); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) resolve(path string, v any) (string, bool) {
	s, err := p.t.resolve(v, nil, p.params)
	if err != nil {
		p.fail(path, "%v", err)
		return "", false
	}
	return s, true
}

// scalar resolves o's key; ok is false when it is absent or null, or does not resolve.
func (p *parser) scalar(o object, key string) (s string, ok bool) {
	if o.m[key] == nil {
		return "", false
	}
	return p.resolve(o.path(key), o.m[key])
}

func (p *parser) str(o object, key string) string {
	s, _ := p.scalar(o, key)
	return s
}

func (p *parser) integer(o object, key string, def int) int {
	return convert(p, o, key, def, strconv.Atoi, "an integer")
}

func (p *parser) boolean(o object, key string, def bool) bool {
	return convert(p, o, key, def, strconv.ParseBool, "a boolean")
}

func convert[T any](p *parser, o object, key string, def T, conv func(string) (T, error), kind string) T {
	s, ok := p.scalar(o, key)
	if !ok {
		return def
	}
	v, err := conv(s)
	if err != nil {
		p.fail(o.path(key), "%q is not %s", s, kind)
		return def
	}
	return v
}

// ref returns the logical id o's key refers to: with !Ref when attr is "", else with
// !GetAtt <id>.<attr>. When typ is not "", the resource must be one of that type.
func (p *parser) ref(o object, key, attr, typ string) string {
	id, a, ok := target(o.m[key])
	want := "a !Ref to an " + typ
	if attr != "" {
		want = "!GetAtt <id>." + attr
	}
	switch {
	case !ok || a != attr:
		p.fail(o.path(key), "must be %s, got %s", want, show(o.m[key]))
	case typ != "" && p.types[id] != typ:
		p.fail(o.path(key), "%s is not an %s of the template", id, typ)
	default:
		return id
	}
	return ""
}

// known records a problem for the keys of o that are not in keys: a typo or a property the
// local stack does not emulate is an error, not a silently missing feature.
func (p *parser) known(o object, keys ...string) {
	bad := slices.DeleteFunc(sortedKeys(o.m), func(k string) bool { return slices.Contains(keys, k) })
	if len(bad) > 0 {
		p.fail(o.at, "unknown or unsupported properties %s", strings.Join(bad, ", "))
	}
}

func (p *parser) resources(resources object) {
	// Functions refer to managed policies, log groups and APIs wherever they stand in the file.
	for id, v := range resources.m {
		r, _ := asMap(v)
		p.types[id], _ = r["Type"].(string)
		props, _ := asMap(r["Properties"])
		if p.types[id] == "AWS::IAM::ManagedPolicy" {
			doc, _ := asMap(props["PolicyDocument"])
			p.managed[id] = object{at: resources.path(id) + ".Properties.PolicyDocument", m: doc}
		}
	}
	for _, id := range sortedKeys(resources.m) {
		r := p.object(resources, id)
		props := p.object(r, "Properties")
		switch typ := p.types[id]; typ {
		case "AWS::Serverless::Function":
			p.t.Functions = append(p.t.Functions, p.function(id, props, p.object(r, "Metadata")))
		case "AWS::Serverless::HttpApi":
			p.apis[id] = props
		case "AWS::DynamoDB::Table":
			p.t.Tables = append(p.t.Tables, p.table(id, props))
		case "AWS::SQS::Queue":
			p.t.Queues = append(p.t.Queues, p.queue(id, props))
		case "AWS::S3::Bucket":
			p.t.Buckets = append(p.t.Buckets, p.bucket(id, props))
		case "AWS::SecretsManager::Secret":
			p.t.Secrets = append(p.t.Secrets, p.secret(id, props))
		case "AWS::Events::EventBus":
			if _, partner := props.m["EventSourceName"]; partner {
				p.fail(props.at, "a partner event bus is not supported by the local stack")
			}
			p.t.Buses = append(p.t.Buses, EventBus{LogicalID: id})
		case "AWS::Serverless::SimpleTable", "AWS::Serverless::Api", "AWS::Serverless::StateMachine":
			p.fail(r.at, "%s is not supported by the local stack", typ)
			continue
		default:
			// Roles, keys, alarms, log groups, ...: nothing the local stack creates.
			continue
		}
		if _, set := r.m["Condition"]; set {
			p.fail(r.at, "a Condition on a resource the local stack creates is not supported")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

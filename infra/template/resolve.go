package template

import (
	"errors"
	"fmt"
	"strings"
)

// errNoValue is wrapped by resolve for AWS::NoValue: leave the property out.
var errNoValue = errors.New("AWS::NoValue")

// resolve turns v into the string CloudFormation would give it, with physical and params as
// [Template.Environment] takes them. An intrinsic it does not handle or a reference missing
// from both maps is an error that names it.
func (t *Template) resolve(v any, physical, params map[string]string) (string, error) {
	r := &resolver{t: t, physical: physical, params: params}
	return r.scalar(v)
}

// Environment resolves fn's environment variables to what CloudFormation would give them.
// physical maps a logical id to what !Ref returns for that resource (a queue's URL, ...) and
// "LogicalID.Attribute" to what !GetAtt returns ("Jobs.Arn"). params maps parameters and
// pseudo parameters ([PseudoParameters]) to their values; they win over resources, as in
// CloudFormation. Variables that resolve to AWS::NoValue are left out; every other failure
// is reported, naming the variable.
func (t *Template) Environment(fn Function, physical, params map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(fn.env))
	var errs []error
	for _, k := range sortedKeys(fn.env) {
		s, err := t.resolve(fn.env[k], physical, params)
		switch {
		case errors.Is(err, errNoValue):
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		default:
			out[k] = s
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("environment of %s: %w", fn.LogicalID, err)
	}
	return out, nil
}

type resolver struct {
	t        *Template
	physical map[string]string
	params   map[string]string
}

func (r *resolver) scalar(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	name, arg, ok := intrinsic(v)
	if !ok {
		return "", fmt.Errorf("%s is not a string", show(v))
	}
	switch name {
	case "Ref":
		id, ok := arg.(string)
		if !ok {
			return "", fmt.Errorf("Ref: want a name, got %s", show(arg))
		}
		return r.ref(id)
	case "Fn::GetAtt":
		id, attr, ok := target(v)
		if !ok {
			return "", fmt.Errorf("Fn::GetAtt: want [Resource, Attribute], got %s", show(arg))
		}
		return r.getAtt(id, attr)
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::If":
		l, _ := arg.([]any)
		if len(l) != 3 {
			return "", fmt.Errorf("Fn::If: want [condition, then, else], got %s", show(arg))
		}
		cond, ok := l[0].(string)
		if !ok {
			return "", fmt.Errorf("Fn::If: condition must be a name, got %s", show(l[0]))
		}
		yes, err := r.condition(cond)
		if err != nil {
			return "", fmt.Errorf("Fn::If: %w", err)
		}
		if yes {
			return r.scalar(l[1])
		}
		return r.scalar(l[2])
	default:
		return "", fmt.Errorf("%s is not supported by the local stack", name)
	}
}

// ref resolves !Ref name: AWS::NoValue, then a parameter, then a resource.
func (r *resolver) ref(name string) (string, error) {
	if name == "AWS::NoValue" {
		return "", fmt.Errorf("Ref %s: %w", name, errNoValue)
	}
	if s, ok := r.params[name]; ok {
		return s, nil
	}
	if _, isParam := r.t.params[name]; isParam {
		return "", fmt.Errorf("Ref %s: parameter has no value", name)
	}
	if s, ok := r.physical[name]; ok {
		return s, nil
	}
	return "", fmt.Errorf("Ref %s: unknown parameter or resource", name)
}

func (r *resolver) getAtt(id, attr string) (string, error) {
	if s, ok := r.physical[id+"."+attr]; ok {
		return s, nil
	}
	return "", fmt.Errorf("Fn::GetAtt %s.%s: unknown resource attribute", id, attr)
}

// sub expands Fn::Sub: "${Name}" is a Ref, "${Id.Attr}" a GetAtt, and "${!Text}" the literal
// "${Text}". The [string, variables] form is not supported.
func (r *resolver) sub(arg any) (string, error) {
	tmpl, ok := arg.(string)
	if !ok {
		return "", fmt.Errorf("Fn::Sub: want a string (variables are not supported), got %s", show(arg))
	}
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		b.WriteString(tmpl[:i])
		rest := tmpl[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return "", fmt.Errorf("Fn::Sub: unterminated ${ in %q", arg)
		}
		name := strings.TrimSpace(rest[:j])
		tmpl = rest[j+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		var s string
		var err error
		if id, attr, isAtt := strings.Cut(name, "."); isAtt {
			s, err = r.getAtt(id, attr)
		} else {
			s, err = r.ref(name)
		}
		if err != nil {
			return "", fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		b.WriteString(s)
	}
}

func (r *resolver) condition(name string) (bool, error) {
	expr, ok := r.t.conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	ok, err := r.boolean(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	return ok, nil
}

// boolean evaluates a condition expression of Fn::Equals and Fn::Not.
func (r *resolver) boolean(v any) (bool, error) {
	name, arg, _ := intrinsic(v)
	l, _ := arg.([]any)
	switch {
	case name == "Fn::Equals" && len(l) == 2:
		a, err := r.scalar(l[0])
		if err != nil {
			return false, err
		}
		b, err := r.scalar(l[1])
		if err != nil {
			return false, err
		}
		return a == b, nil
	case name == "Fn::Not" && len(l) == 1:
		b, err := r.boolean(l[0])
		return !b, err
	}
	return false, fmt.Errorf("%s is not a condition the local stack supports (Fn::Equals [a, b] or Fn::Not [condition])", show(v))
}

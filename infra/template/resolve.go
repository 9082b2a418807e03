package template

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoValue is returned (wrapped) by [Template.Resolve] when a value resolves to
// AWS::NoValue, meaning the property or environment variable is to be left out.
var ErrNoValue = errors.New("AWS::NoValue")

// Resolve turns v into the string CloudFormation would give it.
//
// physical maps a logical id to what !Ref returns for that resource (a table's name, a
// queue's URL, ...) and "LogicalID.Attribute" to what !GetAtt returns ("Jobs.Arn",
// "Table.StreamArn", "Jobs.QueueName", ...). params maps parameter names and pseudo
// parameters ("AWS::Region", see [PseudoParameters]) to their values; parameters win over
// resources, as in CloudFormation.
//
// It handles Ref, Fn::GetAtt, Fn::Sub, Fn::If (on the template's conditions, evaluated with
// params), Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap, Fn::GetAZs and Fn::Base64. Anything
// it cannot resolve, such as Fn::ImportValue or a reference missing from both maps, is an
// error that names it; a value that is AWS::NoValue is an error wrapping [ErrNoValue].
func (t *Template) Resolve(v Value, physical, params map[string]string) (string, error) {
	r := &resolver{t: t, physical: physical, params: params}
	return r.scalar(v)
}

// Condition evaluates the named condition (Fn::Equals, Fn::Not, Fn::And, Fn::Or and
// Condition references) against params.
func (t *Template) Condition(name string, params map[string]string) (bool, error) {
	r := &resolver{t: t, params: params}
	return r.condition(name)
}

// Environment resolves fn's environment variables with [Template.Resolve]. Variables that
// resolve to AWS::NoValue are left out; every other failure is reported, naming the variable.
func (t *Template) Environment(fn Function, physical, params map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(fn.Environment))
	var errs []error
	for _, k := range sortedKeys(fn.Environment) {
		s, err := t.Resolve(fn.Environment[k], physical, params)
		switch {
		case errors.Is(err, ErrNoValue):
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

// resolver carries the lookups of one resolution.
type resolver struct {
	t        *Template
	physical map[string]string
	params   map[string]string
	// evaluating holds the conditions being evaluated, to reject cycles.
	evaluating map[string]bool
}

func (r *resolver) scalar(v Value) (string, error) {
	if s, ok := v.Literal(); ok {
		return s, nil
	}
	name, arg, ok := v.Intrinsic()
	if !ok {
		if v.IsNull() {
			return "", errors.New("null is not a string")
		}
		return "", fmt.Errorf("%s is not a string", v)
	}
	switch name {
	case "Ref":
		id, ok := arg.Literal()
		if !ok {
			return "", fmt.Errorf("Ref: want a name, got %s", arg)
		}
		return r.ref(id)
	case "Fn::GetAtt":
		id, attr, ok := target(v)
		if !ok {
			return "", fmt.Errorf("Fn::GetAtt: want [Resource, Attribute], got %s", arg)
		}
		return r.getAtt(id, attr)
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::If":
		branch, err := r.ifBranch(arg)
		if err != nil {
			return "", err
		}
		return r.scalar(branch)
	case "Fn::Join":
		l, ok := arg.List()
		if !ok || len(l) != 2 {
			return "", fmt.Errorf("Fn::Join: want [delimiter, list], got %s", arg)
		}
		delim, err := r.scalar(l[0])
		if err != nil {
			return "", fmt.Errorf("Fn::Join delimiter: %w", err)
		}
		parts, err := r.list(l[1])
		if err != nil {
			return "", fmt.Errorf("Fn::Join: %w", err)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		l, ok := arg.List()
		if !ok || len(l) != 2 {
			return "", fmt.Errorf("Fn::Select: want [index, list], got %s", arg)
		}
		is, err := r.scalar(l[0])
		if err != nil {
			return "", fmt.Errorf("Fn::Select index: %w", err)
		}
		parts, err := r.list(l[1])
		if err != nil {
			return "", fmt.Errorf("Fn::Select: %w", err)
		}
		i, err := strconv.Atoi(is)
		if err != nil || i < 0 || i >= len(parts) {
			return "", fmt.Errorf("Fn::Select: index %q out of range for %d elements", is, len(parts))
		}
		return parts[i], nil
	case "Fn::FindInMap":
		found, err := r.findInMap(arg)
		if err != nil {
			return "", err
		}
		return r.scalar(found)
	case "Fn::Base64":
		s, err := r.scalar(arg)
		if err != nil {
			return "", fmt.Errorf("Fn::Base64: %w", err)
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	default:
		return "", fmt.Errorf("%s cannot be resolved by the local stack", name)
	}
}

// ref resolves !Ref name: AWS::NoValue, then a parameter, then a resource.
func (r *resolver) ref(name string) (string, error) {
	if name == "AWS::NoValue" {
		return "", fmt.Errorf("Ref %s: %w", name, ErrNoValue)
	}
	if s, ok := r.params[name]; ok {
		return s, nil
	}
	if _, isParam := r.t.Parameters[name]; isParam {
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

// sub expands Fn::Sub: "${Name}" is a Ref (or a variable), "${Id.Attr}" a GetAtt, and
// "${!Text}" the literal "${Text}".
func (r *resolver) sub(arg Value) (string, error) {
	tmpl, ok := arg.Literal()
	var vars map[string]Value
	if !ok {
		l, isList := arg.List()
		if !isList || len(l) != 2 {
			return "", fmt.Errorf("Fn::Sub: want a string or [string, variables], got %s", arg)
		}
		tmpl, ok = l[0].Literal()
		vars, _ = l[1].Map()
		if !ok {
			return "", fmt.Errorf("Fn::Sub: template must be a string, got %s", l[0])
		}
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
		if v, ok := vars[name]; ok {
			s, err = r.scalar(v)
		} else if id, attr, isAtt := strings.Cut(name, "."); isAtt {
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

// list resolves a value used as a list: a literal list, Fn::Split, Fn::GetAZs, Fn::If,
// Fn::FindInMap, or a Ref to a list parameter. AWS::NoValue elements are dropped, as in
// CloudFormation.
func (r *resolver) list(v Value) ([]string, error) {
	if l, ok := v.List(); ok {
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, err := r.scalar(e)
			if errors.Is(err, ErrNoValue) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	name, arg, ok := v.Intrinsic()
	if !ok {
		return nil, fmt.Errorf("%s is not a list", v)
	}
	switch name {
	case "Fn::Split":
		l, ok := arg.List()
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Split: want [delimiter, string], got %s", arg)
		}
		delim, err := r.scalar(l[0])
		if err != nil {
			return nil, err
		}
		s, err := r.scalar(l[1])
		if err != nil {
			return nil, err
		}
		return strings.Split(s, delim), nil
	case "Fn::GetAZs":
		region, err := r.scalar(arg)
		if err != nil {
			return nil, err
		}
		if region == "" {
			region = r.params["AWS::Region"]
		}
		return []string{region + "a", region + "b", region + "c"}, nil
	case "Fn::If":
		branch, err := r.ifBranch(arg)
		if err != nil {
			return nil, err
		}
		return r.list(branch)
	case "Fn::FindInMap":
		found, err := r.findInMap(arg)
		if err != nil {
			return nil, err
		}
		return r.list(found)
	case "Ref":
		// A CommaDelimitedList or List<...> parameter.
		s, err := r.scalar(v)
		if err != nil {
			return nil, err
		}
		return strings.Split(s, ","), nil
	}
	return nil, fmt.Errorf("%s is not a list", name)
}

func (r *resolver) ifBranch(arg Value) (Value, error) {
	l, ok := arg.List()
	if !ok || len(l) != 3 {
		return Value{}, fmt.Errorf("Fn::If: want [condition, then, else], got %s", arg)
	}
	cond, ok := l[0].Literal()
	if !ok {
		return Value{}, fmt.Errorf("Fn::If: condition must be a name, got %s", l[0])
	}
	yes, err := r.condition(cond)
	if err != nil {
		return Value{}, fmt.Errorf("Fn::If: %w", err)
	}
	if yes {
		return l[1], nil
	}
	return l[2], nil
}

func (r *resolver) findInMap(arg Value) (Value, error) {
	l, ok := arg.List()
	if !ok || len(l) != 3 {
		return Value{}, fmt.Errorf("Fn::FindInMap: want [map, key, key], got %s", arg)
	}
	keys := make([]string, 3)
	for i, e := range l {
		s, err := r.scalar(e)
		if err != nil {
			return Value{}, fmt.Errorf("Fn::FindInMap: %w", err)
		}
		keys[i] = s
	}
	top, _ := r.t.Mappings[keys[0]].Map()
	second, _ := top[keys[1]].Map()
	v, ok := second[keys[2]]
	if !ok {
		return Value{}, fmt.Errorf("Fn::FindInMap: %s/%s/%s not found", keys[0], keys[1], keys[2])
	}
	return v, nil
}

func (r *resolver) condition(name string) (bool, error) {
	expr, ok := r.t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	if r.evaluating[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	if r.evaluating == nil {
		r.evaluating = map[string]bool{}
	}
	r.evaluating[name] = true
	defer delete(r.evaluating, name)
	ok, err := r.boolean(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	return ok, nil
}

// boolean evaluates a condition expression.
func (r *resolver) boolean(v Value) (bool, error) {
	name, arg, ok := v.Intrinsic()
	if !ok {
		return false, fmt.Errorf("%s is not a condition function", v)
	}
	if name == "Condition" {
		cond, ok := arg.Literal()
		if !ok {
			return false, fmt.Errorf("Condition: want a name, got %s", arg)
		}
		return r.condition(cond)
	}
	l, ok := arg.List()
	if !ok {
		return false, fmt.Errorf("%s: want a list, got %s", name, arg)
	}
	switch name {
	case "Fn::Equals":
		if len(l) != 2 {
			return false, fmt.Errorf("Fn::Equals: want 2 values, got %d", len(l))
		}
		a, err := r.scalar(l[0])
		if err != nil {
			return false, err
		}
		b, err := r.scalar(l[1])
		if err != nil {
			return false, err
		}
		return a == b, nil
	case "Fn::Not":
		if len(l) != 1 {
			return false, fmt.Errorf("Fn::Not: want 1 condition, got %d", len(l))
		}
		b, err := r.boolean(l[0])
		return !b, err
	case "Fn::And", "Fn::Or":
		if len(l) < 2 || len(l) > 10 {
			return false, fmt.Errorf("%s: want 2 to 10 conditions, got %d", name, len(l))
		}
		and := name == "Fn::And"
		for _, e := range l {
			b, err := r.boolean(e)
			if err != nil {
				return false, err
			}
			if b != and {
				// The first false (And) or true (Or) decides.
				return b, nil
			}
		}
		return and, nil
	}
	return false, fmt.Errorf("%s is not a condition function", name)
}

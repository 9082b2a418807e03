package template

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// function parses an AWS::Serverless::Function merged with Globals.Function.
func (p *parser) function(id string, props map[string]Value, metadata Value) error {
	// Globals apply property by property; a function's own value wins. Maps (Environment
	// variables, LoggingConfig) merge key by key, as SAM does.
	merged := maps.Clone(p.globalFn)
	if merged == nil {
		merged = map[string]Value{}
	}
	maps.Copy(merged, props)

	f := Function{LogicalID: id, Environment: map[string]Value{}}
	var err error
	if f.Handler, err = p.str(merged["Handler"], "Handler"); err != nil {
		return err
	}
	if md, ok := metadata.Map(); ok {
		f.BuildMethod, _ = md["BuildMethod"].Literal()
	}
	if f.Timeout, err = p.integer(merged["Timeout"], "Timeout", 3); err != nil {
		return err
	}
	logging := map[string]Value{}
	for _, src := range []map[string]Value{p.globalFn, props} {
		env, _ := src["Environment"].Map()
		vars, _ := env["Variables"].Map()
		maps.Copy(f.Environment, vars)
		lc, _ := src["LoggingConfig"].Map()
		maps.Copy(logging, lc)
	}
	if lg := logging["LogGroup"]; !lg.IsNull() {
		group, attr, ok := target(lg)
		if !ok || attr != "" || !p.logGroups[group] {
			return fmt.Errorf("LoggingConfig.LogGroup must be a !Ref to an AWS::Logs::LogGroup, got %s", lg)
		}
		f.LogGroup = group
	}
	if f.Actions, err = p.policyActions(props["Policies"]); err != nil {
		return err
	}
	events, _ := props["Events"].Map()
	for _, name := range sortedKeys(events) {
		if err := p.event(&f, name, events[name]); err != nil {
			return fmt.Errorf("event %s: %w", name, err)
		}
	}
	p.t.Functions = append(p.t.Functions, f)
	return nil
}

// policyActions returns the actions the Allow statements of Policies grant. Each entry must
// be an inline policy document or a !Ref to an AWS::IAM::ManagedPolicy of the template, so
// that every permission a function has can be read here (SAM policy templates and AWS
// managed policies cannot).
func (p *parser) policyActions(v Value) ([]string, error) {
	policies, ok := v.List()
	if !ok && !v.IsNull() {
		return nil, fmt.Errorf("Policies: want a list, got %s", v)
	}
	set := map[string]bool{}
	for i, pol := range policies {
		doc := pol
		if id, attr, isRef := target(pol); isRef && attr == "" {
			if doc, ok = p.managed[id]; !ok {
				return nil, fmt.Errorf("Policies[%d]: %s is not an AWS::IAM::ManagedPolicy of the template", i, id)
			}
		}
		m, _ := doc.Map()
		statements, _ := m["Statement"].List()
		if len(statements) == 0 {
			return nil, fmt.Errorf("Policies[%d]: want a policy document with a Statement list, or a !Ref to an AWS::IAM::ManagedPolicy, got %s", i, pol)
		}
		for _, s := range statements {
			sm, _ := s.Map()
			if effect, _ := sm["Effect"].Literal(); effect != "Allow" {
				continue
			}
			if a, ok := sm["Action"].Literal(); ok {
				set[a] = true
				continue
			}
			actions, err := p.stringList(sm["Action"], fmt.Sprintf("Policies[%d] Action", i))
			if err != nil {
				return nil, err
			}
			for _, a := range actions {
				set[a] = true
			}
		}
	}
	return sortedKeys(set), nil
}

// event adds one entry of a function's Events to f.
func (p *parser) event(f *Function, name string, v Value) error {
	ev, ok := v.Map()
	if !ok {
		return fmt.Errorf("not a mapping")
	}
	typ, _ := ev["Type"].Literal()
	props, _ := ev["Properties"].Map()
	switch typ {
	case "HttpApi":
		r, err := p.route(name, props)
		if err != nil {
			return err
		}
		f.Routes = append(f.Routes, r)
	case "SQS":
		q, err := p.sqsEvent(name, props)
		if err != nil {
			return err
		}
		f.Queues = append(f.Queues, q)
	case "DynamoDB":
		s, err := p.streamEvent(name, props)
		if err != nil {
			return err
		}
		f.Streams = append(f.Streams, s)
	case "Schedule":
		s, err := p.schedule(name, props)
		if err != nil {
			return err
		}
		f.Schedules = append(f.Schedules, s)
	default:
		return fmt.Errorf("events of type %q are not emulated by the local stack", typ)
	}
	return nil
}

func (p *parser) route(name string, props map[string]Value) (Route, error) {
	if err := checkKeys(props, "HttpApi", "ApiId", "Auth", "Method", "Path", "PayloadFormatVersion"); err != nil {
		return Route{}, err
	}
	r := Route{Event: name, PayloadFormatVersion: "2.0"}
	var err error
	if r.Method, err = p.str(props["Method"], "Method"); err != nil {
		return Route{}, err
	}
	if r.Path, err = p.str(props["Path"], "Path"); err != nil {
		return Route{}, err
	}
	if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
		return Route{}, fmt.Errorf("HttpApi: want a Method and a Path starting with / (the $default route is not supported), got %q %q", r.Method, r.Path)
	}
	r.Method = strings.ToUpper(r.Method)
	if v, ok, err := p.scalar(props["PayloadFormatVersion"], "PayloadFormatVersion"); err != nil {
		return Route{}, err
	} else if ok {
		r.PayloadFormatVersion = v
	}
	if auth, ok := props["Auth"].Map(); ok {
		if err := checkKeys(auth, "HttpApi Auth", "Authorizer"); err != nil {
			return Route{}, err
		}
		if r.Authorizer, err = p.str(auth["Authorizer"], "Auth.Authorizer"); err != nil {
			return Route{}, err
		}
	}
	api, attr, ok := target(props["ApiId"])
	if !ok || attr != "" {
		return Route{}, fmt.Errorf("HttpApi: ApiId must be a !Ref to an AWS::Serverless::HttpApi, got %s", props["ApiId"])
	}
	p.routeAPIs[api] = true
	return r, nil
}

func (p *parser) sqsEvent(name string, props map[string]Value) (QueueEvent, error) {
	if err := checkKeys(props, "SQS", "Queue", "BatchSize", "Enabled", "FunctionResponseTypes",
		"MaximumBatchingWindowInSeconds"); err != nil {
		return QueueEvent{}, err
	}
	id, attr, ok := target(props["Queue"])
	if !ok || attr != "Arn" {
		return QueueEvent{}, fmt.Errorf("SQS: Queue must be !GetAtt <queue>.Arn, got %s", props["Queue"])
	}
	q := QueueEvent{Event: name, QueueLogicalID: id}
	var err error
	if q.BatchSize, err = p.integer(props["BatchSize"], "BatchSize", 10); err != nil {
		return QueueEvent{}, err
	}
	if q.MaxBatchingWindowSeconds, err = p.integer(props["MaximumBatchingWindowInSeconds"], "MaximumBatchingWindowInSeconds", 0); err != nil {
		return QueueEvent{}, err
	}
	if q.FunctionResponseTypes, err = p.stringList(props["FunctionResponseTypes"], "FunctionResponseTypes"); err != nil {
		return QueueEvent{}, err
	}
	if q.Enabled, err = p.boolean(props["Enabled"], "Enabled", true); err != nil {
		return QueueEvent{}, err
	}
	return q, nil
}

// streamEvent parses a DynamoDB event. The local stack's outbox poller stands in for the
// stream (see package eventsource): it offers only outbox items, which is what the
// template's FilterCriteria selects, and retries what the handler did not delete, so the
// retry settings need no emulation of their own.
func (p *parser) streamEvent(name string, props map[string]Value) (StreamEvent, error) {
	if err := checkKeys(props, "DynamoDB", "BatchSize", "BisectBatchOnFunctionError",
		"FilterCriteria", "FunctionResponseTypes", "MaximumBatchingWindowInSeconds",
		"MaximumRetryAttempts", "StartingPosition", "Stream", "DestinationConfig"); err != nil {
		return StreamEvent{}, err
	}
	id, attr, ok := target(props["Stream"])
	if !ok || attr != "StreamArn" {
		return StreamEvent{}, fmt.Errorf("DynamoDB: Stream must be !GetAtt <table>.StreamArn, got %s", props["Stream"])
	}
	s := StreamEvent{Event: name, TableLogicalID: id}
	var err error
	if s.BatchSize, err = p.integer(props["BatchSize"], "BatchSize", 100); err != nil {
		return StreamEvent{}, err
	}
	return s, nil
}

func (p *parser) schedule(name string, props map[string]Value) (Schedule, error) {
	if err := checkKeys(props, "Schedule", "Schedule", "Description", "Enabled", "Input", "Name"); err != nil {
		return Schedule{}, err
	}
	s := Schedule{Event: name}
	var err error
	if s.Expression, err = p.str(props["Schedule"], "Schedule"); err != nil {
		return Schedule{}, err
	}
	if s.Expression == "" {
		return Schedule{}, fmt.Errorf("Schedule: Schedule is required")
	}
	if s.Input, err = p.str(props["Input"], "Input"); err != nil {
		return Schedule{}, err
	}
	if s.Enabled, err = p.boolean(props["Enabled"], "Enabled", true); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// httpAPI builds t.HTTPAPI from the API the routes belong to and fills in each route's
// effective authorizer.
func (p *parser) httpAPI() error {
	ids := slices.Sorted(maps.Keys(p.routeAPIs))
	switch len(ids) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("routes belong to %d HTTP APIs %v; the local stack serves one", len(ids), ids)
	}
	props, ok := p.apis[ids[0]]
	if !ok {
		return fmt.Errorf("HttpApi events refer to %s, which is not an AWS::Serverless::HttpApi", ids[0])
	}
	merged := maps.Clone(p.globalAPI)
	if merged == nil {
		merged = map[string]Value{}
	}
	maps.Copy(merged, props)
	api, err := p.api(ids[0], merged)
	if err != nil {
		return fmt.Errorf("HTTP API %s: %w", ids[0], err)
	}
	p.t.HTTPAPI = api

	for _, name := range sortedKeys(api.Authorizers) {
		if fn := api.Authorizers[name].FunctionLogicalID; !p.hasFunction(fn) {
			return fmt.Errorf("authorizer %s: function %s is not an AWS::Serverless::Function", name, fn)
		}
	}
	for i := range p.t.Functions {
		f := &p.t.Functions[i]
		for j := range f.Routes {
			r := &f.Routes[j]
			r.Authorizer = cmp.Or(r.Authorizer, api.DefaultAuthorizer, NoAuthorizer)
			if _, ok := api.Authorizers[r.Authorizer]; !ok && r.Authorizer != NoAuthorizer {
				return fmt.Errorf("function %s route %s: unknown authorizer %q", f.LogicalID, r.Key(), r.Authorizer)
			}
		}
	}
	return nil
}

func (p *parser) api(id string, props map[string]Value) (*HTTPAPI, error) {
	for _, k := range []string{"DefinitionBody", "DefinitionUri"} {
		if _, set := props[k]; set {
			return nil, fmt.Errorf("%s is not supported: the local stack takes routes from HttpApi events", k)
		}
	}
	api := &HTTPAPI{LogicalID: id, StageName: "$default", Authorizers: map[string]Authorizer{}}
	var err error
	if s, ok, err := p.scalar(props["StageName"], "StageName"); err != nil {
		return nil, err
	} else if ok {
		api.StageName = s
	}
	auth, _ := props["Auth"].Map()
	if err := checkKeys(auth, "Auth", "DefaultAuthorizer", "Authorizers"); err != nil {
		return nil, err
	}
	if api.DefaultAuthorizer, err = p.str(auth["DefaultAuthorizer"], "DefaultAuthorizer"); err != nil {
		return nil, err
	}
	authorizers, _ := auth["Authorizers"].Map()
	for _, name := range sortedKeys(authorizers) {
		a, err := p.authorizer(name, authorizers[name])
		if err != nil {
			return nil, fmt.Errorf("authorizer %s: %w", name, err)
		}
		api.Authorizers[name] = a
	}
	if d := api.DefaultAuthorizer; d != "" && d != NoAuthorizer {
		if _, ok := api.Authorizers[d]; !ok {
			return nil, fmt.Errorf("DefaultAuthorizer %q is not declared", d)
		}
	}
	if api.DefaultAuthorizer == NoAuthorizer {
		api.DefaultAuthorizer = ""
	}
	return api, nil
}

func (p *parser) authorizer(name string, v Value) (Authorizer, error) {
	m, ok := v.Map()
	if !ok {
		return Authorizer{}, fmt.Errorf("not a mapping")
	}
	// JWT authorizers, invoke roles and identity sources other than headers are not emulated.
	if err := checkKeys(m, "authorizer", "FunctionArn", "Identity", "AuthorizerPayloadFormatVersion",
		"EnableSimpleResponses", "EnableFunctionDefaultPermissions"); err != nil {
		return Authorizer{}, err
	}
	fn, attr, ok := target(m["FunctionArn"])
	if !ok || attr != "Arn" {
		return Authorizer{}, fmt.Errorf("FunctionArn must be !GetAtt <function>.Arn, got %s", m["FunctionArn"])
	}
	a := Authorizer{Name: name, FunctionLogicalID: fn}
	var err error
	if a.PayloadVersion, err = p.str(m["AuthorizerPayloadFormatVersion"], "AuthorizerPayloadFormatVersion"); err != nil {
		return Authorizer{}, err
	}
	if a.SimpleResponses, err = p.boolean(m["EnableSimpleResponses"], "EnableSimpleResponses", false); err != nil {
		return Authorizer{}, err
	}
	id, _ := m["Identity"].Map()
	if err := checkKeys(id, "Identity", "Headers", "ReauthorizeEvery"); err != nil {
		return Authorizer{}, err
	}
	if a.IdentityHeaders, err = p.stringList(id["Headers"], "Identity.Headers"); err != nil {
		return Authorizer{}, err
	}
	// Without ReauthorizeEvery the CloudFormation authorizer has no result TTL, which
	// API Gateway treats as caching disabled.
	if a.CacheTTLSeconds, err = p.integer(id["ReauthorizeEvery"], "Identity.ReauthorizeEvery", 0); err != nil {
		return Authorizer{}, err
	}
	if a.CacheTTLSeconds < 0 || a.CacheTTLSeconds > 3600 {
		return Authorizer{}, fmt.Errorf("Identity.ReauthorizeEvery %d is outside 0..3600", a.CacheTTLSeconds)
	}
	if a.CacheTTLSeconds > 0 && len(a.IdentityHeaders) == 0 {
		return Authorizer{}, fmt.Errorf("caching (ReauthorizeEvery) needs identity headers")
	}
	return a, nil
}

func (p *parser) hasFunction(id string) bool {
	_, ok := p.t.Function(id)
	return ok
}

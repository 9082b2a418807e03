package template

import (
	"fmt"
	"maps"
	"strings"
)

// function parses an AWS::Serverless::Function merged with Globals.Function.
func (p *parser) function(id, cond string, props map[string]Value, metadata Value) error {
	// Globals apply property by property; a function's own value wins. Environment
	// variables merge key by key, as SAM does.
	merged := maps.Clone(p.globalFn)
	if merged == nil {
		merged = map[string]Value{}
	}
	maps.Copy(merged, props)

	f := Function{LogicalID: id, Condition: cond, Environment: map[string]Value{}}
	var err error
	if f.CodeURI, err = p.str(merged["CodeUri"], "CodeUri"); err != nil {
		// CodeUri may also be {Bucket, Key}; the local stack builds from a directory only.
		return err
	}
	if f.Handler, err = p.str(merged["Handler"], "Handler"); err != nil {
		return err
	}
	if f.Runtime, err = p.str(merged["Runtime"], "Runtime"); err != nil {
		return err
	}
	if f.Architectures, err = p.stringList(merged["Architectures"], "Architectures"); err != nil {
		return err
	}
	if f.Timeout, err = p.integer(merged["Timeout"], "Timeout", 3); err != nil {
		return err
	}
	if f.MemorySize, err = p.integer(merged["MemorySize"], "MemorySize", 128); err != nil {
		return err
	}
	for _, src := range []map[string]Value{p.globalFn, props} {
		env, _ := src["Environment"].Map()
		vars, _ := env["Variables"].Map()
		maps.Copy(f.Environment, vars)
	}
	if md, ok := metadata.Map(); ok {
		f.BuildMethod, _ = md["BuildMethod"].Literal()
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

// event adds one entry of a function's Events to f.
func (p *parser) event(f *Function, name string, v Value) error {
	ev, ok := v.Map()
	if !ok {
		return fmt.Errorf("not a mapping")
	}
	typ, _ := ev["Type"].Literal()
	props, _ := ev["Properties"].Map()
	// note records a valid property that the local stack does not emulate.
	note := func(keys ...string) {
		for _, k := range keys {
			if _, set := props[k]; set {
				f.Unknown = append(f.Unknown, "Events."+name+"."+k)
			}
		}
	}
	switch typ {
	case "HttpApi":
		r, err := p.route(f.LogicalID, name, props)
		if err != nil {
			return err
		}
		note("RouteSettings", "TimeoutInMillis")
		if auth, ok := props["Auth"].Map(); ok {
			if _, set := auth["AuthorizationScopes"]; set {
				f.Unknown = append(f.Unknown, "Events."+name+".Auth.AuthorizationScopes")
			}
		}
		f.Routes = append(f.Routes, r)
	case "SQS":
		q, err := p.sqsEvent(name, props)
		if err != nil {
			return err
		}
		note("FilterCriteria", "KmsKeyArn", "MetricsConfig", "ScalingConfig", "ProvisionedPollerConfig")
		f.Queues = append(f.Queues, q)
	case "DynamoDB":
		s, err := p.streamEvent(name, props)
		if err != nil {
			return err
		}
		note("DestinationConfig", "FilterCriteria", "KmsKeyArn", "MaximumBatchingWindowInSeconds",
			"MaximumRecordAgeInSeconds", "MetricsConfig", "ParallelizationFactor",
			"StartingPositionTimestamp", "TumblingWindowInSeconds")
		f.Streams = append(f.Streams, s)
	case "Schedule", "ScheduleV2":
		s, err := p.schedule(name, typ, props)
		if err != nil {
			return err
		}
		note("DeadLetterConfig", "RetryPolicy", "FlexibleTimeWindow", "StartDate", "EndDate")
		f.Schedules = append(f.Schedules, s)
	default:
		f.Unknown = append(f.Unknown, fmt.Sprintf("Events.%s (%s)", name, typ))
	}
	return nil
}

func (p *parser) route(fn, name string, props map[string]Value) (Route, error) {
	if err := checkKeys(props, "HttpApi", "ApiId", "Auth", "Method", "Path",
		"PayloadFormatVersion", "RouteSettings", "TimeoutInMillis"); err != nil {
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
	switch {
	case r.Method == "" && r.Path == "":
		// An HttpApi event without Method and Path is the API's catch-all route.
		r.Method, r.Path = "ANY", DefaultRoute
	case r.Method == "" || r.Path == "":
		return Route{}, fmt.Errorf("HttpApi: Method and Path must be set together")
	case !strings.HasPrefix(r.Path, "/"):
		return Route{}, fmt.Errorf("HttpApi: Path %q must start with /", r.Path)
	}
	r.Method = strings.ToUpper(r.Method)
	if v, ok, err := p.scalar(props["PayloadFormatVersion"], "PayloadFormatVersion"); err != nil {
		return Route{}, err
	} else if ok {
		r.PayloadFormatVersion = v
	}
	if auth, ok := props["Auth"].Map(); ok {
		if err := checkKeys(auth, "HttpApi Auth", "Authorizer", "AuthorizationScopes"); err != nil {
			return Route{}, err
		}
		if r.Authorizer, err = p.str(auth["Authorizer"], "Auth.Authorizer"); err != nil {
			return Route{}, err
		}
	}
	api := ImplicitHTTPAPI
	if v := props["ApiId"]; !v.IsNull() {
		id, attr, ok := target(v)
		if !ok || attr != "" {
			return Route{}, fmt.Errorf("HttpApi: ApiId must be a !Ref to an AWS::Serverless::HttpApi, got %s", v)
		}
		api = id
	}
	p.routeAPIs[fn+"/"+name] = api
	return r, nil
}

func (p *parser) sqsEvent(name string, props map[string]Value) (QueueEvent, error) {
	if err := checkKeys(props, "SQS", "Queue", "BatchSize", "Enabled", "FilterCriteria",
		"FunctionResponseTypes", "KmsKeyArn", "MaximumBatchingWindowInSeconds", "MetricsConfig",
		"ScalingConfig", "ProvisionedPollerConfig"); err != nil {
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

func (p *parser) streamEvent(name string, props map[string]Value) (StreamEvent, error) {
	if err := checkKeys(props, "DynamoDB", "BatchSize", "BisectBatchOnFunctionError",
		"DestinationConfig", "Enabled", "FilterCriteria", "FunctionResponseTypes", "KmsKeyArn",
		"MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts",
		"MetricsConfig", "ParallelizationFactor", "StartingPosition", "StartingPositionTimestamp",
		"Stream", "TumblingWindowInSeconds"); err != nil {
		return StreamEvent{}, err
	}
	id, attr, ok := target(props["Stream"])
	if !ok || attr != "StreamArn" {
		return StreamEvent{}, fmt.Errorf("DynamoDB: Stream must be !GetAtt <table>.StreamArn, got %s", props["Stream"])
	}
	s := StreamEvent{Event: name, TableLogicalID: id}
	var err error
	if s.StartingPosition, err = p.str(props["StartingPosition"], "StartingPosition"); err != nil {
		return StreamEvent{}, err
	}
	if s.BatchSize, err = p.integer(props["BatchSize"], "BatchSize", 100); err != nil {
		return StreamEvent{}, err
	}
	if s.FunctionResponseTypes, err = p.stringList(props["FunctionResponseTypes"], "FunctionResponseTypes"); err != nil {
		return StreamEvent{}, err
	}
	if s.MaximumRetryAttempts, err = p.integer(props["MaximumRetryAttempts"], "MaximumRetryAttempts", -1); err != nil {
		return StreamEvent{}, err
	}
	if s.BisectBatchOnFunctionError, err = p.boolean(props["BisectBatchOnFunctionError"], "BisectBatchOnFunctionError", false); err != nil {
		return StreamEvent{}, err
	}
	if s.Enabled, err = p.boolean(props["Enabled"], "Enabled", true); err != nil {
		return StreamEvent{}, err
	}
	return s, nil
}

func (p *parser) schedule(name, typ string, props map[string]Value) (Schedule, error) {
	exprKey := "Schedule"
	known := []string{"Schedule", "DeadLetterConfig", "Description", "Enabled", "Input", "Name",
		"RetryPolicy", "State", "Target"}
	if typ == "ScheduleV2" {
		exprKey = "ScheduleExpression"
		known = []string{"ScheduleExpression", "ScheduleExpressionTimezone", "DeadLetterConfig",
			"Description", "EndDate", "FlexibleTimeWindow", "GroupName", "Input", "KmsKeyArn", "Name",
			"OmitName", "PermissionsBoundary", "RetryPolicy", "RoleArn", "StartDate", "State"}
	}
	if err := checkKeys(props, typ, known...); err != nil {
		return Schedule{}, err
	}
	s := Schedule{Event: name}
	var err error
	if s.Expression, err = p.str(props[exprKey], exprKey); err != nil {
		return Schedule{}, err
	}
	if s.Expression == "" {
		return Schedule{}, fmt.Errorf("%s: %s is required", typ, exprKey)
	}
	if s.Timezone, err = p.str(props["ScheduleExpressionTimezone"], "ScheduleExpressionTimezone"); err != nil {
		return Schedule{}, err
	}
	if s.Input, err = p.str(props["Input"], "Input"); err != nil {
		return Schedule{}, err
	}
	if s.Enabled, err = p.boolean(props["Enabled"], "Enabled", true); err != nil {
		return Schedule{}, err
	}
	state, err := p.str(props["State"], "State")
	if err != nil {
		return Schedule{}, err
	}
	if state != "" {
		s.Enabled = state == "ENABLED"
	}
	return s, nil
}

// httpAPI builds t.HTTPAPI from the API the routes belong to and fills in each route's
// effective authorizer.
func (p *parser) httpAPI() error {
	ids := map[string]bool{}
	for _, api := range p.routeAPIs {
		ids[api] = true
	}
	if len(ids) == 0 {
		// An API without routes still matters to the local stack when it is the only one.
		for id := range p.apis {
			ids[id] = true
		}
	}
	switch len(ids) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("routes belong to %d HTTP APIs %v; the local stack serves one", len(ids), sortedKeys(ids))
	}
	id := sortedKeys(ids)[0]
	props, explicit := p.apis[id]
	if !explicit && id != ImplicitHTTPAPI {
		return fmt.Errorf("HttpApi events refer to %s, which is not an AWS::Serverless::HttpApi", id)
	}
	merged := maps.Clone(p.globalAPI)
	if merged == nil {
		merged = map[string]Value{}
	}
	maps.Copy(merged, props)

	api, err := p.api(id, merged)
	if err != nil {
		return fmt.Errorf("HTTP API %s: %w", id, err)
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
			if r.Authorizer == "" {
				r.Authorizer = api.DefaultAuthorizer
			}
			if r.Authorizer == "" {
				r.Authorizer = NoAuthorizer
			}
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
	if rs, ok := props["DefaultRouteSettings"].Map(); ok {
		if api.Throttling.BurstLimit, err = p.integer(rs["ThrottlingBurstLimit"], "ThrottlingBurstLimit", 0); err != nil {
			return nil, err
		}
		if api.Throttling.RateLimit, err = p.number(rs["ThrottlingRateLimit"], "ThrottlingRateLimit"); err != nil {
			return nil, err
		}
	}
	auth, _ := props["Auth"].Map()
	if on, err := p.boolean(auth["EnableIamAuthorizer"], "EnableIamAuthorizer", false); err != nil {
		return nil, err
	} else if on {
		return nil, fmt.Errorf("EnableIamAuthorizer is not supported by the local stack")
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
	if _, jwt := m["JwtConfiguration"]; jwt {
		return Authorizer{}, fmt.Errorf("JWT authorizers are not supported by the local stack")
	}
	if err := checkKeys(m, "authorizer", "FunctionArn", "FunctionInvokeRole", "Identity",
		"AuthorizerPayloadFormatVersion", "EnableSimpleResponses", "EnableFunctionDefaultPermissions"); err != nil {
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
	if err := checkKeys(id, "Identity", "Headers", "QueryStrings", "Context", "StageVariables", "ReauthorizeEvery"); err != nil {
		return Authorizer{}, err
	}
	if a.IdentityHeaders, err = p.stringList(id["Headers"], "Identity.Headers"); err != nil {
		return Authorizer{}, err
	}
	if a.IdentityQueryStrings, err = p.stringList(id["QueryStrings"], "Identity.QueryStrings"); err != nil {
		return Authorizer{}, err
	}
	for _, k := range []string{"Context", "StageVariables"} {
		if _, set := id[k]; set {
			return Authorizer{}, fmt.Errorf("Identity.%s is not supported by the local stack", k)
		}
	}
	// Without ReauthorizeEvery the CloudFormation authorizer has no result TTL, which
	// API Gateway treats as caching disabled.
	if a.CacheTTLSeconds, err = p.integer(id["ReauthorizeEvery"], "Identity.ReauthorizeEvery", 0); err != nil {
		return Authorizer{}, err
	}
	if a.CacheTTLSeconds < 0 || a.CacheTTLSeconds > 3600 {
		return Authorizer{}, fmt.Errorf("Identity.ReauthorizeEvery %d is outside 0..3600", a.CacheTTLSeconds)
	}
	if a.CacheTTLSeconds > 0 && len(a.IdentityHeaders)+len(a.IdentityQueryStrings) == 0 {
		return Authorizer{}, fmt.Errorf("caching (ReauthorizeEvery) needs identity sources")
	}
	return a, nil
}

func (p *parser) hasFunction(id string) bool {
	_, ok := p.t.Function(id)
	return ok
}

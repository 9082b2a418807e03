package template

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// function parses an AWS::Serverless::Function merged with Globals.Function.
func (p *parser) function(id string, props, metadata object) Function {
	// Globals apply property by property; a function's own value wins. Environment variables
	// and LoggingConfig merge key by key, as SAM does.
	withGlobals := func(keys ...string) object {
		global, own := p.globalFn, props
		for _, k := range keys {
			global, own = p.object(global, k), p.object(own, k)
		}
		return merged(global, own)
	}
	all := withGlobals()
	f := Function{
		LogicalID:   id,
		Handler:     p.str(all, "Handler"),
		BuildMethod: p.str(metadata, "BuildMethod"),
		Timeout:     p.integer(all, "Timeout", 3),
		env:         withGlobals("Environment", "Variables").m,
		Actions:     p.policyActions(props),
	}
	if logging := withGlobals("LoggingConfig"); logging.m["LogGroup"] != nil {
		f.LogGroup = p.ref(logging, "LogGroup", "", "AWS::Logs::LogGroup")
	}
	events := p.object(props, "Events")
	for _, name := range sortedKeys(events.m) {
		p.event(&f, name, p.object(events, name))
	}
	return f
}

// policyActions returns the actions the Allow statements of Policies grant. Each entry must
// be an inline policy document or a !Ref to an AWS::IAM::ManagedPolicy of the template, so
// that every permission can be read here (SAM policy templates cannot).
func (p *parser) policyActions(props object) []string {
	var actions []string
	for i, pol := range p.list(props, "Policies") {
		at := fmt.Sprintf("%s[%d]", props.path("Policies"), i)
		m, _ := asMap(pol)
		doc := object{at: at, m: m}
		if id, attr, ok := target(pol); ok && attr == "" {
			if doc, ok = p.managed[id]; !ok {
				p.fail(at, "%s is not an AWS::IAM::ManagedPolicy of the template", id)
				continue
			}
		}
		if _, ok := doc.m["Statement"].([]any); !ok {
			p.fail(at, "want a policy document with a Statement list, or a !Ref to an AWS::IAM::ManagedPolicy, got %s", show(pol))
			continue
		}
		for _, st := range p.objects(doc, "Statement") {
			if p.str(st, "Effect") != "Allow" {
				continue
			}
			if a, ok := st.m["Action"].(string); ok {
				actions = append(actions, a)
			} else {
				actions = append(actions, p.strings(st, "Action")...)
			}
		}
	}
	slices.Sort(actions)
	return slices.Compact(actions)
}

func (p *parser) event(f *Function, name string, ev object) {
	props := p.object(ev, "Properties")
	switch typ := p.str(ev, "Type"); typ {
	case "HttpApi":
		p.known(props, "ApiId", "Auth", "Method", "Path", "PayloadFormatVersion")
		r := Route{Method: strings.ToUpper(p.str(props, "Method")), Path: p.str(props, "Path"),
			PayloadFormatVersion: cmp.Or(p.str(props, "PayloadFormatVersion"), "2.0")}
		if r.Method == "" || !strings.HasPrefix(r.Path, "/") && r.Path != DefaultRoute {
			p.fail(props.at, "want a Method and a Path starting with / or %s, got %q %q", DefaultRoute, r.Method, r.Path)
		}
		auth := p.object(props, "Auth")
		p.known(auth, "Authorizer")
		r.Authorizer = p.str(auth, "Authorizer")
		p.routeAPIs[p.ref(props, "ApiId", "", "AWS::Serverless::HttpApi")] = true
		f.Routes = append(f.Routes, r)
	case "SQS":
		p.known(props, "Queue", "BatchSize", "Enabled", "FunctionResponseTypes", "MaximumBatchingWindowInSeconds")
		if !p.boolean(props, "Enabled", true) {
			p.fail(props.path("Enabled"), "disabled SQS events are not emulated by the local stack")
		}
		f.Queues = append(f.Queues, QueueEvent{
			Event:                    name,
			QueueLogicalID:           p.ref(props, "Queue", "Arn", "AWS::SQS::Queue"),
			BatchSize:                p.integer(props, "BatchSize", 10),
			MaxBatchingWindowSeconds: p.integer(props, "MaximumBatchingWindowInSeconds", 0),
			FunctionResponseTypes:    p.strings(props, "FunctionResponseTypes"),
		})
	case "DynamoDB":
		// The local stack's outbox poller stands in for the stream on the embedded emulator
		// and ignores the mapping's retry and filter settings (see package eventsource); the
		// stream source on another emulator applies all of them.
		p.known(props, "BatchSize", "BisectBatchOnFunctionError", "FilterCriteria", "FunctionResponseTypes",
			"MaximumBatchingWindowInSeconds", "MaximumRetryAttempts", "StartingPosition", "Stream", "DestinationConfig")
		s := StreamEvent{
			Event:                      name,
			TableLogicalID:             p.ref(props, "Stream", "StreamArn", "AWS::DynamoDB::Table"),
			BatchSize:                  p.integer(props, "BatchSize", 100),
			StartingPosition:           p.str(props, "StartingPosition"),
			MaxBatchingWindowSeconds:   p.integer(props, "MaximumBatchingWindowInSeconds", 0),
			FunctionResponseTypes:      p.strings(props, "FunctionResponseTypes"),
			BisectBatchOnFunctionError: p.boolean(props, "BisectBatchOnFunctionError", false),
			MaximumRetryAttempts:       p.integer(props, "MaximumRetryAttempts", -1),
		}
		if props.m["FilterCriteria"] != nil {
			filters := p.object(props, "FilterCriteria")
			p.known(filters, "Filters")
			for _, f := range p.objects(filters, "Filters") {
				p.known(f, "Pattern")
				s.FilterPatterns = append(s.FilterPatterns, p.str(f, "Pattern"))
			}
		}
		if props.m["DestinationConfig"] != nil {
			dest := p.object(props, "DestinationConfig")
			p.known(dest, "OnFailure")
			onFailure := p.object(dest, "OnFailure")
			p.known(onFailure, "Destination", "Type")
			s.OnFailureQueueLogicalID = p.ref(onFailure, "Destination", "Arn", "AWS::SQS::Queue")
		}
		f.Streams = append(f.Streams, s)
	case "Schedule":
		p.known(props, "Schedule", "Description", "Enabled", "Input", "Name")
		s := Schedule{Event: name, Expression: p.str(props, "Schedule"), Input: p.str(props, "Input"),
			Enabled: p.boolean(props, "Enabled", true)}
		if s.Expression == "" {
			p.fail(props.at, "Schedule is required")
		}
		f.Schedules = append(f.Schedules, s)
	default:
		p.fail(ev.at, "events of type %q are not emulated by the local stack", typ)
	}
}

// httpAPI builds t.HTTPAPI from the API the routes belong to, merged with Globals.HttpApi,
// and fills in each route's effective authorizer.
func (p *parser) httpAPI() {
	ids := sortedKeys(p.routeAPIs)
	switch {
	case len(ids) == 0:
		return
	case len(ids) > 1:
		p.fail("Resources", "routes belong to %d HTTP APIs %v; the local stack serves one", len(ids), ids)
		return
	}
	props := merged(p.globalAPI, p.apis[ids[0]])
	for _, k := range []string{"DefinitionBody", "DefinitionUri"} {
		if _, set := props.m[k]; set {
			p.fail(props.path(k), "not supported: the local stack takes routes from HttpApi events")
		}
	}
	api := &HTTPAPI{StageName: cmp.Or(p.str(props, "StageName"), "$default"), Authorizers: map[string]Authorizer{}}
	auth := p.object(props, "Auth")
	p.known(auth, "DefaultAuthorizer", "Authorizers")
	authorizers := p.object(auth, "Authorizers")
	for _, name := range sortedKeys(authorizers.m) {
		api.Authorizers[name] = p.authorizer(p.object(authorizers, name))
	}
	def := p.str(auth, "DefaultAuthorizer")
	if _, ok := api.Authorizers[def]; !ok && def != "" && def != NoAuthorizer {
		p.fail(auth.path("DefaultAuthorizer"), "%q is not declared", def)
	}
	p.t.HTTPAPI = api
	for _, f := range p.t.Functions {
		for i := range f.Routes {
			r := &f.Routes[i]
			r.Authorizer = cmp.Or(r.Authorizer, def, NoAuthorizer)
			if _, ok := api.Authorizers[r.Authorizer]; !ok && r.Authorizer != NoAuthorizer {
				p.fail("Resources."+f.LogicalID, "route %s: unknown authorizer %q", r.Key(), r.Authorizer)
			}
		}
	}
}

func (p *parser) authorizer(o object) Authorizer {
	// JWT authorizers, invoke roles and identity sources other than headers are not emulated.
	p.known(o, "FunctionArn", "Identity", "AuthorizerPayloadFormatVersion", "EnableSimpleResponses",
		"EnableFunctionDefaultPermissions")
	id := p.object(o, "Identity")
	p.known(id, "Headers", "ReauthorizeEvery")
	a := Authorizer{
		FunctionLogicalID: p.ref(o, "FunctionArn", "Arn", "AWS::Serverless::Function"),
		IdentityHeaders:   p.strings(id, "Headers"),
		// Without ReauthorizeEvery the CloudFormation authorizer has no result TTL, which
		// API Gateway treats as caching disabled.
		CacheTTLSeconds: p.integer(id, "ReauthorizeEvery", 0),
		SimpleResponses: p.boolean(o, "EnableSimpleResponses", false),
		PayloadVersion:  p.str(o, "AuthorizerPayloadFormatVersion"),
	}
	switch {
	case a.CacheTTLSeconds < 0 || a.CacheTTLSeconds > 3600:
		p.fail(id.path("ReauthorizeEvery"), "%d is outside 0..3600", a.CacheTTLSeconds)
	case a.CacheTTLSeconds > 0 && len(a.IdentityHeaders) == 0:
		p.fail(id.at, "caching (ReauthorizeEvery) needs identity headers")
	}
	return a
}

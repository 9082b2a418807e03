// Package apigw serves a SAM template's HTTP API routes on a local address the way API
// Gateway HTTP APIs (payload format 2.0) do: the same route matching, the same Lambda event,
// the same Lambda authorizer flow and the same error responses, calling Go handlers in
// process instead of Lambda functions.
//
// Not emulated: throttling (DefaultRouteSettings), CORS preflight handling, custom domains,
// the 30-second integration timeout, Lambda's 6 MB invocation payload limit and mTLS.
package apigw

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/eventsource"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// MaxBodyBytes is API Gateway's HTTP API payload limit: larger requests get 413.
const MaxBodyBytes = 10 << 20

// Config describes the API to serve.
type Config struct {
	// API is the template's HTTP API; nil means the "$default" stage and no authorizers.
	API *template.HTTPAPI
	// Functions are the template's functions; those with routes are served.
	Functions []template.Function
	// Handlers and Authorizers map the logical id of every function with routes and of every
	// authorizer function the routes use to its handler.
	Handlers    map[string]wire.HTTPHandler
	Authorizers map[string]wire.AuthorizerHandler

	Region string       // of the events and ARNs; default "eu-central-1"
	Logger *slog.Logger // the access log and invocation failures; default slog.Default()
}

// Server is an http.Handler serving the API. It is safe for concurrent use.
type Server struct {
	mux      *http.ServeMux
	fallback *route   // the $default route, which serves what no route matches; nil: a 404 of our own
	keys     []string // the route keys, sorted
	region   string
	log      *slog.Logger
}

// The stage, account and API id in the events and ARNs.
const (
	stage   = "$default"
	account = eventsource.DefaultAccount
	apiID   = "local"
)

// New checks cfg and builds the server. It fails, naming every problem, when a route or
// authorizer has no handler or a handler serves none, an authorizer is unknown or not
// payload 2.0 with simple responses, a route is not payload 2.0, a path template is
// malformed or two routes have the same key. A request no route matches goes to the
// $default route when there is one, as in API Gateway, else gets API Gateway's 404.
func New(cfg Config) (*Server, error) {
	s := &Server{region: cmp.Or(cfg.Region, "eu-central-1"), log: cmp.Or(cfg.Logger, slog.Default())}
	authConfigs := map[string]template.Authorizer{}
	var errs []error
	if cfg.API != nil {
		authConfigs = cfg.API.Authorizers
		if st := cmp.Or(cfg.API.StageName, stage); st != stage {
			errs = append(errs, fmt.Errorf("stage %q: only the $default stage is emulated", st))
		}
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/", s.unmatched)
	fns := map[string]template.Function{}
	for _, f := range cfg.Functions {
		fns[f.LogicalID] = f
	}
	auths := map[string]*authorizer{} // by name
	usedAuthorizers := map[string]bool{}
	authorizerFor := func(name string) (*authorizer, error) {
		if a, ok := auths[name]; ok {
			return a, nil
		}
		ac, ok := authConfigs[name]
		if !ok {
			return nil, fmt.Errorf("unknown authorizer %q", name)
		}
		if ac.PayloadVersion != "2.0" || !ac.SimpleResponses {
			return nil, fmt.Errorf("authorizer %s: only payload 2.0 with simple responses is emulated", name)
		}
		h, ok := cfg.Authorizers[ac.FunctionLogicalID]
		if !ok {
			return nil, fmt.Errorf("authorizer %s: no handler for function %s", name, ac.FunctionLogicalID)
		}
		// A function the template does not declare has the default timeout.
		fn := s.function(template.Function{LogicalID: ac.FunctionLogicalID, Timeout: fns[ac.FunctionLogicalID].Timeout})
		auths[name] = &authorizer{cfg: ac, fn: fn, handler: h, ttl: time.Duration(ac.CacheTTLSeconds) * time.Second,
			cache: map[string]cachedDecision{}}
		usedAuthorizers[ac.FunctionLogicalID] = true
		return auths[name], nil
	}
	keys := map[string]string{}
	for _, f := range cfg.Functions {
		if len(f.Routes) == 0 {
			continue
		}
		h, ok := cfg.Handlers[f.LogicalID]
		if !ok {
			errs = append(errs, fmt.Errorf("function %s has routes but no handler", f.LogicalID))
			continue
		}
		for _, r := range f.Routes {
			rt := &route{key: r.Key(), method: strings.ToUpper(r.Method), fn: s.function(f), handler: h}
			if other, dup := keys[rt.key]; dup {
				errs = append(errs, fmt.Errorf("route %s is declared by %s and %s", rt.key, other, f.LogicalID))
				continue
			}
			var err error
			if r.PayloadFormatVersion != "2.0" {
				err = fmt.Errorf("payload format %q: only 2.0 is emulated", r.PayloadFormatVersion)
			} else if r.Authorizer != template.NoAuthorizer {
				rt.auth, err = authorizerFor(r.Authorizer)
			}
			if err == nil && r.Path == template.DefaultRoute {
				s.fallback = rt
			} else if err == nil {
				err = register(s.mux, rt, r.Path, func(w http.ResponseWriter, req *http.Request) { s.serve(w, req, rt) })
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("function %s route %s: %w", f.LogicalID, r.Key(), err))
				continue
			}
			keys[rt.key] = f.LogicalID
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Handlers)) {
		if len(fns[id].Routes) == 0 {
			errs = append(errs, fmt.Errorf("handler for %s, which has no routes", id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Authorizers)) {
		if !usedAuthorizers[id] {
			errs = append(errs, fmt.Errorf("authorizer handler for %s, which no route uses", id))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("apigw: %w", err)
	}
	s.keys = slices.Sorted(maps.Keys(keys))
	return s, nil
}

// RouteKeys returns the served route keys, sorted.
func (s *Server) RouteKeys() []string { return slices.Clone(s.keys) }

// ServeHTTP serves one request as API Gateway would. Its access log line has the request id,
// method, route key, status and latency; never a path, query, header or body, which may
// hold personal data.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	// API Gateway returns its request id on every response.
	w.Header().Set("Apigw-Requestid", reqID)
	rec := &statusWriter{ResponseWriter: w, requestID: reqID, start: start, routeKey: "-"}
	defer func() {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http api request",
			slog.String("request_id", reqID),
			slog.String("method", r.Method),
			slog.String("route_key", rec.routeKey),
			slog.Int("status", rec.status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
		)
	}()

	if r.ContentLength > MaxBodyBytes {
		writeMessage(rec, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	// ServeMux would redirect to the cleaned path; API Gateway matches no route.
	if raw := r.URL.EscapedPath(); path.Clean(raw) != raw && path.Clean(raw)+"/" != raw {
		s.unmatched(rec, r)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt *route) {
	rec := w.(*statusWriter)
	// ServeMux lets HEAD match a GET route; API Gateway does not.
	if rt.method != "ANY" && rt.method != r.Method {
		s.unmatched(rec, r)
		return
	}
	rec.routeKey = rt.key
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	switch {
	case err != nil:
		writeMessage(rec, http.StatusBadRequest, "Bad Request")
		return
	case len(body) > MaxBodyBytes:
		writeMessage(rec, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := s.event(r, rt, body, rec.requestID, rec.start)

	if rt.auth != nil {
		lambdaCtx, ok := s.authorize(r, rec, rt, ev)
		if !ok {
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambdaCtx}
	}

	resp, err := eventsource.Invoke(r.Context(), rt.fn, rt.handler, ev)
	if err == nil {
		err = writeResponse(rec, resp)
	}
	if err != nil {
		s.logFailure(r.Context(), rec.requestID, rt.fn.Name, err)
		writeMessage(rec, http.StatusInternalServerError, "Internal Server Error")
	}
}

func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	if s.fallback == nil {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	s.serve(w, r, s.fallback)
}

// authorize runs the route's authorizer. It writes the error response and returns false
// when the request may not proceed; otherwise it returns the authorizer's context.
func (s *Server) authorize(r *http.Request, w http.ResponseWriter, rt *route, ev events.APIGatewayV2HTTPRequest) (map[string]any, bool) {
	values, ok := rt.auth.identity(r)
	if !ok {
		writeMessage(w, http.StatusUnauthorized, "Unauthorized")
		return nil, false
	}
	req := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", s.region, account, apiID, stage, r.Method, ev.RawPath),
		IdentitySource:        values,
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        ev.RequestContext,
		PathParameters:        ev.PathParameters,
	}
	resp, err := rt.auth.decide(r.Context(), req)
	if err != nil {
		s.logFailure(r.Context(), ev.RequestContext.RequestID, rt.auth.fn.Name, err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return nil, false
	}
	if !resp.IsAuthorized {
		writeMessage(w, http.StatusForbidden, "Forbidden")
		return nil, false
	}
	return resp.Context, true
}

// function is what the Lambda runtime tells f's handler about f. A handler that returns
// after its deadline is still served: the integration timeout is not emulated.
func (s *Server) function(f template.Function) eventsource.Function {
	return eventsource.NewFunction(f.LogicalID, s.region, account, time.Duration(f.Timeout)*time.Second)
}

// logFailure logs a failed invocation the way the function's CloudWatch log would show it.
func (s *Server) logFailure(ctx context.Context, reqID, fn string, err error) {
	s.log.ErrorContext(ctx, "function invocation failed",
		append([]any{"request_id", reqID, "function", fn}, eventsource.ErrorAttrs(err)...)...)
}

// writeResponse writes a handler's response, checked before anything is written so that a
// malformed one can still be answered with a 500.
func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("malformed Lambda proxy response: status code %d", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("malformed Lambda proxy response: body is not base64: %w", err)
		}
	}
	h := w.Header()
	// Without this, net/http would sniff and add a Content-Type that API Gateway does not send.
	h["Content-Type"] = nil
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}

// writeMessage writes one of API Gateway's own JSON error responses.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// statusWriter carries a request's id, start and route key to the route's handler and
// remembers the status, for the access log.
type statusWriter struct {
	http.ResponseWriter
	requestID string
	start     time.Time
	routeKey  string
	status    int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// RouteNotFound serves the HTTP API's $default route, which API Gateway invokes for every
// request no other route matches. When the path matches a route template of the API
// (routes, generated from template.yaml) under other methods, it answers 405 with Allow
// listing those methods; otherwise 404. Both are problems like every other error of the
// API. It needs no key and reads nothing: its answer depends on the method and path only,
// so it cannot tell whether a tenant or a resource exists.
func RouteNotFound(log *slog.Logger) Handler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		start := time.Now()
		r := &request{ev: ev, requestID: ev.RequestContext.RequestID}
		method := ev.RequestContext.HTTP.Method
		allow := allowedMethods(ev.RawPath)
		var out events.APIGatewayV2HTTPResponse
		if len(allow) == 0 || slices.Contains(allow, method) {
			out = problemResponse(r, errs.E(errs.NotFound, "no route matches this path"))
		} else {
			out = problemResponse(r, errs.E(errs.MethodNotAllowed,
				fmt.Sprintf("this path does not accept %s; Allow lists the methods it accepts", method)))
			out.Headers["Allow"] = strings.Join(allow, ", ")
		}
		// The method and status only: an unmatched path is whatever the caller sent.
		log.InfoContext(ctx, "request", "requestId", r.requestID, "route", ev.RouteKey, "method", method,
			"status", out.StatusCode, "ms", time.Since(start).Milliseconds())
		return out, nil
	}
}

// allowedMethods returns, sorted, the methods of the routes whose path template matches
// rawPath (see matches).
func allowedMethods(rawPath string) []string {
	var allow []string
	for _, key := range routes {
		method, tmpl, _ := strings.Cut(key, " ")
		if matches(tmpl, rawPath) && !slices.Contains(allow, method) {
			allow = append(allow, method)
		}
	}
	slices.Sort(allow)
	return allow
}

// matches reports whether the path template matches rawPath as API Gateway matches it:
// segment by segment on the escaped path (so %2F stays inside its segment), literals exactly,
// {name} one non-empty segment, {name+} all the rest if it is not empty.
func matches(tmpl, path string) bool {
	want, got := strings.Split(tmpl, "/"), strings.Split(path, "/")
	for i, seg := range want {
		if i >= len(got) {
			return false
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "+}") {
			return strings.Join(got[i:], "/") != ""
		}
		if strings.HasPrefix(seg, "{") {
			if got[i] == "" {
				return false
			}
		} else if seg != got[i] {
			return false
		}
	}
	return len(want) == len(got)
}

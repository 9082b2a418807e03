package apigw

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/livingprofile/livingprofile/infra/eventsource"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// route is one route of the API with what serves it.
type route struct {
	key     string
	method  string
	params  []string // the path's variable names
	fn      eventsource.Function
	handler wire.HTTPHandler
	auth    *authorizer // nil when the route is not authorized
}

// pattern turns a route into the ServeMux pattern that matches the same requests. ServeMux
// ranks the patterns it accepts as HTTP APIs rank routes (a literal segment beats a variable,
// a method beats ANY), matches %-escaped segments and unescapes variables, as API Gateway
// does. Greedy variables ({proxy+}) are not emulated: the template has none, and ServeMux's
// {name...} would also match an empty remainder.
func (rt *route) pattern(path string) (string, error) {
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("path %q must start with /", path)
	}
	for _, seg := range strings.Split(path[1:], "/") {
		name, isVar := strings.CutPrefix(seg, "{")
		if !isVar {
			if strings.ContainsAny(seg, "{}") {
				return "", fmt.Errorf("path %q: a variable must be a whole segment", path)
			}
			continue
		}
		name, closed := strings.CutSuffix(name, "}")
		switch {
		case !closed || name == "":
			return "", fmt.Errorf("path %q: malformed variable %q", path, seg)
		case strings.HasSuffix(name, "+"):
			return "", fmt.Errorf("path %q: greedy variables are not emulated", path)
		}
		rt.params = append(rt.params, name)
	}
	if path == "/" {
		path = "/{$}" // a bare "/" pattern would match every path
	}
	if rt.method == "ANY" {
		return path, nil
	}
	return rt.method + " " + path, nil
}

// register adds rt to mux, reporting as an error what ServeMux panics on: a pattern it cannot
// parse, a repeated variable name, or two it cannot rank (/a/{x} and /{y}/b, which API
// Gateway ranks left to right).
func register(mux *http.ServeMux, rt *route, path string, h http.HandlerFunc) (err error) {
	pat, err := rt.pattern(path)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	mux.Handle(pat, h)
	return nil
}

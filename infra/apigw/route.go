package apigw

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// segment is one part of a route's path template.
type segment struct {
	literal string // when param is ""
	param   string // variable name of {param} or {param+}
	greedy  bool   // {param+}: one or more whole segments, slashes included
}

// Ranks of segment kinds: API Gateway prefers literal segments over variables, and variables
// over greedy variables.
const (
	rankLiteral = iota
	rankParam
	rankGreedy
)

func (s segment) rank() int {
	switch {
	case s.greedy:
		return rankGreedy
	case s.param != "":
		return rankParam
	}
	return rankLiteral
}

// route is one route of the API with what serves it.
type route struct {
	key      string
	method   string    // upper case; "ANY" matches every method
	segments []segment // nil for $default
	fn       template.Function
	handler  wire.HTTPHandler
	auth     *authorizer // nil when the route is not authorized
}

// parsePath splits a path template such as "/v1/profiles/{id}" or "/files/{proxy+}".
func parsePath(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q must start with /", path)
	}
	parts := strings.Split(path[1:], "/")
	segs := make([]segment, 0, len(parts))
	seen := map[string]bool{}
	for i, p := range parts {
		if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") {
			if strings.ContainsAny(p, "{}") {
				return nil, fmt.Errorf("path %q: a variable must be a whole segment", path)
			}
			segs = append(segs, segment{literal: p})
			continue
		}
		name := p[1 : len(p)-1]
		s := segment{param: name}
		if n, ok := strings.CutSuffix(name, "+"); ok {
			if i != len(parts)-1 {
				return nil, fmt.Errorf("path %q: a greedy variable must be the last segment", path)
			}
			s = segment{param: n, greedy: true}
		}
		if s.param == "" || seen[s.param] {
			return nil, fmt.Errorf("path %q: empty or repeated variable name", path)
		}
		seen[s.param] = true
		segs = append(segs, s)
	}
	return segs, nil
}

// match reports whether the request path segments (still percent-encoded) fit the route,
// and returns the URL-decoded path parameters.
func (r *route) match(method string, parts []string) (map[string]string, bool) {
	if r.method != "ANY" && r.method != method {
		return nil, false
	}
	var params map[string]string
	for i, s := range r.segments {
		if i >= len(parts) {
			return nil, false
		}
		if s.greedy {
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			params = setParam(params, s.param, rest)
			return params, true
		}
		if s.param == "" {
			if unescape(parts[i]) != s.literal {
				return nil, false
			}
			continue
		}
		if parts[i] == "" {
			return nil, false
		}
		params = setParam(params, s.param, parts[i])
	}
	if len(parts) != len(r.segments) {
		return nil, false
	}
	return params, true
}

func setParam(params map[string]string, name, raw string) map[string]string {
	if params == nil {
		params = map[string]string{}
	}
	params[name] = unescape(raw)
	return params
}

// unescape decodes a path segment; an invalid escape is kept as it came.
func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// sortRoutes orders routes so that the first one matching a request is the one API Gateway
// picks: segment by segment literal before variable before greedy variable, then a specific
// method before ANY, with $default last.
func sortRoutes(routes []*route) {
	slices.SortStableFunc(routes, func(a, b *route) int {
		if (a.segments == nil) != (b.segments == nil) {
			if a.segments == nil {
				return 1
			}
			return -1
		}
		for i := 0; i < len(a.segments) && i < len(b.segments); i++ {
			if c := cmp.Compare(a.segments[i].rank(), b.segments[i].rank()); c != 0 {
				return c
			}
		}
		// Routes of different lengths that tie on their shared prefix never match the same
		// request; the length only makes the order deterministic.
		if c := cmp.Compare(len(a.segments), len(b.segments)); c != 0 {
			return c
		}
		if (a.method == "ANY") != (b.method == "ANY") {
			if a.method == "ANY" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.key, b.key)
	})
}

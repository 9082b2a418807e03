package apigw

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// event builds the payload format 2.0 event API Gateway sends for the request.
func (s *Server) event(r *http.Request, rt *route, body []byte, reqID string, now time.Time) events.APIGatewayV2HTTPRequest {
	var params map[string]string // nil without variables, so the field is absent
	for _, name := range rt.params {
		if params == nil {
			params = map[string]string{}
		}
		params[name] = r.PathValue(name)
	}
	rawPath := r.URL.EscapedPath()
	sourceIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	headers, cookies := s.headers(r, sourceIP)
	host := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.key,
		RawPath:               rawPath,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query(r.URL.RawQuery),
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.key,
			AccountID:    account,
			Stage:        stage,
			RequestID:    reqID,
			APIID:        apiID,
			DomainName:   r.Host,
			DomainPrefix: prefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      rawPath,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// headers returns the event's headers (lower-case names, repeated headers joined by commas,
// the Cookie header moved to cookies) and adds the forwarding headers API Gateway adds.
func (s *Server) headers(r *http.Request, sourceIP string) (map[string]string, []string) {
	h := make(map[string]string, len(r.Header)+5)
	var cookies []string
	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if name == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		h[name] = strings.Join(vs, ",")
	}
	// net/http moves Host out of the header map; API Gateway passes it on.
	h["host"] = r.Host
	h["x-forwarded-for"] = strings.TrimPrefix(h["x-forwarded-for"]+", "+sourceIP, ", ")
	h["x-forwarded-proto"] = "http"
	if r.TLS != nil {
		h["x-forwarded-proto"] = "https"
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			h["x-forwarded-port"] = port
		}
	}
	h["x-amzn-trace-id"] = traceID()
	return h, cookies
}

// query decodes the query string; repeated parameters are joined by commas, as API Gateway
// does. It returns nil for an empty query, so the field is absent from the event.
func query(raw string) map[string]string {
	// ParseQuery keeps what it could decode when part of the query is malformed, as API
	// Gateway passes on what it can.
	values, _ := url.ParseQuery(raw)
	if len(values) == 0 {
		return nil
	}
	out := make(map[string]string, len(values))
	for k, vs := range values {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

// isText reports whether API Gateway passes a body of this content type as text; any other
// body, including one without a content type, is base64-encoded.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil:
		return false
	case mt == "application/json", mt == "application/xml", mt == "application/x-www-form-urlencoded", mt == "application/javascript":
		return true
	}
	return strings.HasPrefix(mt, "text/") || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// newRequestID returns an id shaped like API Gateway's (base64 of 10 random bytes).
func newRequestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// traceID returns an X-Ray trace header value: Root=1-<epoch seconds hex>-<96 random bits hex>.
func traceID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("Root=1-%08x-%s", time.Now().Unix(), hex.EncodeToString(b))
}

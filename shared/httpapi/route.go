// Package httpapi is the brand API's edge: it turns API Gateway v2 events into use-case
// calls and results or errors into JSON and RFC 9457 problem responses. It is the one
// place where error codes become HTTP statuses. A handler never returns an error and never
// panics: every failure becomes a problem response, 5xx only for our own faults.
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/jsonin"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// Handler is the Lambda handler of one HTTP API route (payload format 2.0).
type Handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Body size limits. API Gateway itself stops at 10 MB; ours are far smaller.
const (
	smallBody    = 64 << 10
	catalogBody  = 512 << 10
	checkBodyMax = 256 << 10
)

// route is one endpoint's policy and its work.
type route struct {
	api        *API
	key        string // the route key in Scopes, which says what scopes a key needs
	maxBody    int
	hasBody    bool
	optional   bool // with hasBody: an empty body is allowed (r.body stays nil)
	idempotent bool
	query      []string // the query parameters it takes; any other is refused
	// replayed rebuilds the response from the outcome a use case stored for an
	// Idempotency-Key (see app.Record). Without it the outcome is a stored answer (record).
	replayed func(outcome json.RawMessage) (*response, error)
	serve    func(context.Context, *request) (*response, error)
}

// request is what a route's work sees.
type request struct {
	ev        events.APIGatewayV2HTTPRequest
	tenant    string
	keyID     string
	scopes    []apikey.Scope // what the key carries
	requestID string
	body      []byte
	idemKey   string // digest of the scoped Idempotency-Key, "" without one
	idemPrint string
}

// response is what a route's work returns.
type response struct {
	status  int
	body    any
	headers map[string]string
	// raw, when set, is sent as it is with contentType instead of body as JSON.
	raw         []byte
	contentType string
}

type problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
	RequestID string            `json:"requestId,omitempty"`
}

// status maps the error vocabulary to HTTP, in this one place.
func status(c errs.Code) int {
	switch c {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unprocessable:
		return http.StatusUnprocessableEntity
	case errs.NotFound:
		return http.StatusNotFound
	case errs.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case errs.Conflict, errs.Erased:
		return http.StatusConflict
	case errs.PreconditionFailed:
		return http.StatusPreconditionFailed
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.UnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case errs.TooManyRequests:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// handler wraps a route with authentication context, scope, body and idempotency handling,
// logging and panic recovery.
func (rt route) handler() Handler {
	log := rt.api.log
	need := scopesOf(rt.key)
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (out events.APIGatewayV2HTTPResponse, _ error) {
		start := time.Now()
		r := &request{ev: ev, requestID: ev.RequestContext.RequestID}
		log := log.With("requestId", r.requestID, "route", ev.RouteKey)
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(ctx, "panic in handler", "panic", fmt.Sprint(p))
				out = problemResponse(r, errs.E(errs.Internal, "internal error"))
			}
			log.InfoContext(ctx, "request", "tenant", r.tenant, "keyId", r.keyID, "status", out.StatusCode,
				"ms", time.Since(start).Milliseconds())
		}()
		resp, err := rt.run(ctx, r, need)
		if err != nil {
			if errs.CodeOf(err) == errs.Internal {
				log.ErrorContext(ctx, "request failed", "tenant", r.tenant, "err", err)
			}
			return problemResponse(r, err), nil
		}
		return encode(r, resp), nil
	}
}

func (rt route) run(ctx context.Context, r *request, need []apikey.Scope) (*response, error) {
	lambdaCtx := r.ev.RequestContext.Authorizer
	if lambdaCtx == nil || lambdaCtx.Lambda == nil {
		return nil, errs.E(errs.Unauthorized, "an API key is required")
	}
	r.tenant, _ = lambdaCtx.Lambda[authorizer.CtxTenant].(string)
	r.keyID, _ = lambdaCtx.Lambda[authorizer.CtxKeyID].(string)
	scopes, _ := lambdaCtx.Lambda[authorizer.CtxScopes].(string)
	granted, ok := apikey.ParseScopes(scopes)
	if strings.TrimSpace(scopes) == "" {
		ok = true // a key with no scopes is a key: it may do nothing (403, not 401)
	}
	if !apikey.ValidTenant(r.tenant) || r.keyID == "" || !ok {
		return nil, errs.E(errs.Unauthorized, "an API key is required")
	}
	r.scopes = granted
	if !apikey.AllowsAll(granted, need) {
		return nil, errs.E(errs.Forbidden, fmt.Sprintf("this API key lacks the %s scope", apikey.FormatScopes(need)))
	}
	if err := rt.readQuery(r); err != nil {
		return nil, err
	}
	if err := rt.readBody(r); err != nil {
		return nil, err
	}
	if rt.idempotent {
		// A malformed If-Match is refused before a replay could answer for it: "" and no
		// header would otherwise share the stored answer's fingerprint.
		if _, err := r.ifMatch(); err != nil {
			return nil, err
		}
		if resp, err := rt.replay(ctx, r); resp != nil || err != nil {
			return resp, err
		}
	}
	resp, err := rt.serve(ctx, r)
	if errors.Is(err, errs.ErrReplay) && r.idemKey != "" {
		// A concurrent request with the same key committed first: answer as it did.
		return rt.replay(ctx, r)
	}
	return resp, err
}

// readQuery refuses a query parameter the route does not take, and a value that is not
// valid UTF-8 or holds a control character (API Gateway has already percent-decoded it).
func (rt route) readQuery(r *request) error {
	for _, k := range slices.Sorted(maps.Keys(r.ev.QueryStringParameters)) {
		v := r.ev.QueryStringParameters[k]
		switch {
		case !slices.Contains(rt.query, k):
			return errs.Field(k, "is not a known query parameter")
		case !utf8.ValidString(v):
			return errs.Field(k, "is not valid UTF-8")
		case strings.IndexFunc(v, func(c rune) bool { return c < 0x20 || 0x7f <= c && c <= 0x9f }) >= 0:
			return errs.Field(k, "must not hold control characters")
		}
	}
	return nil
}

func (rt route) readBody(r *request) error {
	body := []byte(r.ev.Body)
	if r.ev.IsBase64Encoded && rt.hasBody {
		if base64.StdEncoding.DecodedLen(len(r.ev.Body)) > rt.maxBody+3 {
			return errs.E(errs.TooLarge, fmt.Sprintf("the body must be at most %d bytes", rt.maxBody))
		}
		var err error
		if body, err = base64.StdEncoding.DecodeString(r.ev.Body); err != nil {
			return errs.E(errs.Invalid, "the body is not valid base64")
		}
	}
	if !rt.hasBody {
		if len(bytes.TrimSpace(body)) > 0 {
			return errs.E(errs.Invalid, "this endpoint takes no body")
		}
		return nil
	}
	if len(body) > rt.maxBody {
		return errs.E(errs.TooLarge, fmt.Sprintf("the body must be at most %d bytes", rt.maxBody))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if rt.optional {
			return nil
		}
		return errs.E(errs.Invalid, "a JSON body is required")
	}
	mt, _, err := mime.ParseMediaType(r.header("content-type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errs.E(errs.UnsupportedMedia, "the body must be application/json")
	}
	r.body = body
	return nil
}

// replay answers from a stored idempotency record, if one exists for this request's key.
func (rt route) replay(ctx context.Context, r *request) (*response, error) {
	key, sent := r.ev.Headers["idempotency-key"]
	if !sent {
		return nil, nil
	}
	if key == "" || len(key) > 255 || strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return nil, errs.Field("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
	}
	r.idemKey = digest(r.keyID, r.ev.RequestContext.HTTP.Method, r.ev.RawPath, key)
	r.idemPrint = digest(string(r.body), r.header("if-match"))
	rec, err := rt.api.app.Record(ctx, r.tenant, r.idemKey)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.Fingerprint != r.idemPrint {
		// A key reused with another payload is the client's error, not a clash of state
		// (422, as the IETF Idempotency-Key draft answers it).
		return nil, errs.E(errs.Unprocessable, "this Idempotency-Key was used with a different request")
	}
	replayed := rt.replayed
	if replayed == nil {
		replayed = storedAnswer
	}
	resp, err := replayed(rec.Outcome)
	if err != nil {
		return nil, fmt.Errorf("replay idempotency record: %w", err)
	}
	if resp.headers == nil {
		resp.headers = map[string]string{}
	}
	resp.headers["Idempotent-Replayed"] = "true"
	return resp, nil
}

// replayAs returns a replayed for routes whose use case stores a T (app.Result,
// app.RequestResult, a catalog): the replay renders it as the first answer was rendered.
func replayAs[T any](render func(T) *response) func(json.RawMessage) (*response, error) {
	return func(outcome json.RawMessage) (*response, error) {
		var v T
		if err := json.Unmarshal(outcome, &v); err != nil {
			return nil, err
		}
		return render(v), nil
	}
}

// answer is the outcome the edge stores itself, for writes that no use case records.
type answer struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body"`
}

func storedAnswer(outcome json.RawMessage) (*response, error) {
	var a answer
	if err := json.Unmarshal(outcome, &a); err != nil {
		return nil, err
	}
	return &response{status: a.Status, body: a.Body, headers: a.Headers}, nil
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// record turns a response into an idempotency record of the edge's own (see answer).
func (r *request) record(resp *response) (*app.Record, error) {
	b, err := json.Marshal(resp.body)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	outcome, err := json.Marshal(answer{Status: resp.status, Headers: resp.headers, Body: b})
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return &app.Record{Key: r.idemKey, Fingerprint: r.idemPrint, Outcome: outcome, CreatedAt: time.Now().UTC(),
		ProfileID: answerProfile(b)}, nil
}

// answerProfile names the profile an answer shows: an object with a top-level
// "profileId" (a portal link). Records are tagged with it, so that the erasure job can
// delete the stored answers of an erased person.
func answerProfile(encoded []byte) string {
	var v struct {
		ProfileID string `json:"profileId"`
	}
	if json.Unmarshal(encoded, &v) != nil {
		return ""
	}
	return v.ProfileID
}

// remember stores the response of a write that changes no profile as its idempotency
// record, when the request carried an Idempotency-Key.
func (r *request) remember(ctx context.Context, a *API, resp *response) error {
	if r.idemKey == "" {
		return nil
	}
	rec, err := r.record(resp)
	if err != nil {
		return err
	}
	return a.app.PutRecord(ctx, r.tenant, rec)
}

// idempotency is the app.Idempotency of this request, nil without an Idempotency-Key.
func (r *request) idempotency() *app.Idempotency {
	if r.idemKey == "" {
		return nil
	}
	return &app.Idempotency{Key: r.idemKey, Fingerprint: r.idemPrint}
}

// write returns the app.Write for this request: the API key is the actor, and with an
// Idempotency-Key the use case stores its result with the change.
func (r *request) write(ifMatch *int64) app.Write {
	return app.Write{Actor: ledger.Actor{Kind: ledger.ActorAPIKey, ID: r.keyID}, RequestID: r.requestID, IfMatch: ifMatch,
		Idempotency: r.idempotency()}
}

func (r *request) header(name string) string { return r.ev.Headers[name] }

// etagValue is an If-Match value other than "*", as docs/openapi.yaml's IfMatch pattern says:
// an ETag of ours, strong or weak, or its bare version number (as clients that drop the
// quotes send it).
var etagValue = regexp.MustCompile(`^(?:(?:W/)?"([1-9][0-9]{0,17})"|([1-9][0-9]{0,17}))$`)

// ifMatch parses If-Match: a strong ETag "<n>" (as we send it), W/"<n>" or "*".
func (r *request) ifMatch() (*int64, error) {
	h, sent := r.ev.Headers["if-match"]
	h = strings.TrimSpace(h)
	if !sent || h == "*" {
		return nil, nil
	}
	m := etagValue.FindStringSubmatch(h)
	if m == nil {
		return nil, errs.Field("If-Match", `must be an ETag from this API, such as "3"`)
	}
	v, err := strconv.ParseInt(m[1]+m[2], 10, 64)
	if err != nil {
		return nil, errs.Field("If-Match", `must be an ETag from this API, such as "3"`)
	}
	return &v, nil
}

// decode reads the JSON body by the rules of jsonin: any breach is Invalid, naming the
// field path.
func (r *request) decode(v any) error {
	err := jsonin.Decode(r.body, v)
	if e, ok := err.(*jsonin.Error); ok {
		return errs.Field(e.Path, e.Reason)
	}
	return err
}

func encode(r *request, resp *response) events.APIGatewayV2HTTPResponse {
	if resp.status == http.StatusNoContent {
		return events.APIGatewayV2HTTPResponse{StatusCode: resp.status, Headers: map[string]string{"Cache-Control": "no-store"}}
	}
	b, ct := resp.raw, resp.contentType
	if b == nil {
		var err error
		if b, err = json.Marshal(resp.body); err != nil {
			return problemResponse(r, fmt.Errorf("encode response: %w", err))
		}
		ct = "application/json"
	}
	h := map[string]string{"Content-Type": ct, "Cache-Control": "no-store"}
	for k, v := range resp.headers {
		h[k] = v
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: resp.status, Headers: h, Body: string(b)}
}

func problemResponse(r *request, err error) events.APIGatewayV2HTTPResponse {
	e, ok := errs.As(err)
	if !ok || e.Code == errs.Internal {
		e = errs.E(errs.Internal, "an internal error occurred; retry later or quote the requestId")
	}
	st := status(e.Code)
	p := problem{
		Type: "/problems/" + string(e.Code), Title: http.StatusText(st), Status: st, Detail: e.Message,
		Instance: r.ev.RawPath, Errors: e.Fields, RequestID: r.requestID,
	}
	b, _ := json.Marshal(p)
	h := map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"}
	if st == http.StatusUnauthorized {
		h["WWW-Authenticate"] = `Bearer realm="living-profile"`
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: st, Headers: h, Body: string(b)}
}

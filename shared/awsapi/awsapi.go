// Package awsapi calls AWS service APIs over HTTP without the SDK's service clients: it
// resolves a service's endpoint from an aws.Config, signs requests with the SDK's SigV4
// signer, retries throttled, failed (5xx) and broken calls with the SDK's standard backoff,
// and reads bounded responses. The S3, SES v2 and Secrets Manager adapters (packages blob,
// mail and secrets) build on it, which keeps the generated clients (about 2 MB together, and
// their package initialisation) out of the functions' binaries, each held to a 9 MiB budget.
package awsapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// MaxResponseBytes bounds every response body a Client reads: S3 listings of 1,000 keys
// and error documents are far smaller.
const MaxResponseBytes = 8 << 20

// UnsignedPayload is the payload hash S3 accepts for a body that is not signed (presigned
// URLs; uploads over TLS, whose integrity a checksum header covers).
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// Service is how one AWS service is reached and signed for.
type Service struct {
	// ID is the SDK's service id, which names its endpoint variable AWS_ENDPOINT_URL_<ID>
	// (upper case): "S3", "SESv2".
	ID string
	// SigningName is the service in the SigV4 credential scope: "s3", "ses".
	SigningName string
	// EscapedPath says the request path is signed as sent: S3 signs its keys' escaping
	// once, the other services escape the path a second time.
	EscapedPath bool
}

// EnvEndpoints answers the SDK clients' per-service endpoint lookup (each client asks its
// configuration's ConfigSources for GetServiceBaseEndpoint) from the variables the SDK
// itself defines, AWS_ENDPOINT_URL_<SERVICE>, as the function looks them up. Put it in
// aws.Config.ConfigSources.
type EnvEndpoints func(name string) string

// GetServiceBaseEndpoint implements the SDK's service base endpoint provider.
func (e EnvEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := e(EndpointVar(sdkID))
	return v, v != "", nil
}

// EndpointVar names the variable of sdkID's endpoint: AWS_ENDPOINT_URL_ and the service id
// upper-cased, spaces as underscores ("DynamoDB Streams": AWS_ENDPOINT_URL_DYNAMODB_STREAMS).
func EndpointVar(sdkID string) string {
	return "AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_"))
}

// Endpoint returns the base endpoint cfg sets for service and whether it set one: the
// per-service one its ConfigSources answer (AWS_ENDPOINT_URL_<ID> in the functions), else
// cfg.BaseEndpoint (AWS_ENDPOINT_URL). Without one the caller uses AWS's own host names.
func Endpoint(ctx context.Context, cfg aws.Config, service Service) (string, bool, error) {
	for _, src := range cfg.ConfigSources {
		p, ok := src.(interface {
			GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
		})
		if !ok {
			continue
		}
		v, found, err := p.GetServiceBaseEndpoint(ctx, service.ID)
		if err != nil {
			return "", false, fmt.Errorf("%s endpoint: %w", service.ID, err)
		}
		if found && v != "" {
			return v, true, nil
		}
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return *cfg.BaseEndpoint, true, nil
	}
	return "", false, nil
}

// BaseURL is the base URL of service: the endpoint cfg sets for it (see Endpoint), else
// AWS's https://<host>.<region>.<DNS suffix>/, host being the service's endpoint prefix
// ("email", "secretsmanager").
func BaseURL(ctx context.Context, cfg aws.Config, service Service, host string) (*url.URL, error) {
	endpoint, own, err := Endpoint(ctx, cfg, service)
	if err != nil {
		return nil, err
	}
	if !own {
		if cfg.Region == "" {
			return nil, fmt.Errorf("%s: no AWS region", service.ID)
		}
		endpoint = "https://" + host + "." + cfg.Region + "." + DNSSuffix(cfg.Region)
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s endpoint %q is not a URL", service.ID, endpoint)
	}
	u.Path, u.RawPath, u.RawQuery = strings.TrimSuffix(u.Path, "/")+"/", "", ""
	return u, nil
}

// DNSSuffix is the domain of AWS's endpoints in region's partition.
func DNSSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// Client signs and sends requests to one service in the region of the aws.Config it was
// made from. It is safe for concurrent use.
type Client struct {
	service Service
	region  string
	creds   aws.CredentialsProvider
	http    aws.HTTPClient
	retryer aws.Retryer
	signer  *v4.Signer
	now     func() time.Time
}

// New returns a client for service using cfg's Region, Credentials, HTTPClient (the SDK's
// default transport when nil) and Retryer (the SDK's standard retryer when nil).
func New(cfg aws.Config, service Service) *Client {
	c := &Client{service: service, region: cfg.Region, creds: cfg.Credentials, http: cfg.HTTPClient, now: time.Now,
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service.EscapedPath })}
	if c.http == nil {
		c.http = awshttp.NewBuildableClient()
	}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer()
	} else {
		c.retryer = retry.NewStandard()
	}
	return c
}

// WithClock returns a copy of c that signs at the times now tells (for tests).
func (c *Client) WithClock(now func() time.Time) *Client {
	d := *c
	d.now = now
	return &d
}

// Credentials returns the current credentials (for presigning).
func (c *Client) Credentials(ctx context.Context) (aws.Credentials, error) {
	if c.creds == nil {
		return aws.Credentials{}, errors.New("no AWS credentials configured")
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("retrieve AWS credentials: %w", err)
	}
	return creds, nil
}

// Presign returns u signed into its query (X-Amz-*) for a GET that works for expiry,
// signed at Now, with the payload unsigned: an S3 presigned download link.
func (c *Client) Presign(ctx context.Context, u *url.URL, expiry time.Duration) (string, time.Time, error) {
	return c.PresignMethod(ctx, http.MethodGet, u, expiry)
}

// PresignMethod is Presign for a request of another method: a PUT is an S3 presigned
// upload link.
func (c *Client) PresignMethod(ctx context.Context, method string, u *url.URL, expiry time.Duration) (string, time.Time, error) {
	creds, err := c.Credentials(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	q := u.Query()
	q.Set("X-Amz-Expires", strconv.FormatInt(int64(expiry/time.Second), 10))
	signed := *u
	signed.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, signed.String(), nil)
	if err != nil {
		return "", time.Time{}, err
	}
	req.URL = &signed // keeps the caller's escaping (RawPath), which S3 signs as sent
	now := c.now()
	s, _, err := c.signer.PresignHTTP(ctx, creds, req, UnsignedPayload, c.service.SigningName, c.region, now)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("presign: %w", err)
	}
	return s, now, nil
}

// Request is one call. Body is read from offset 0 on every attempt, so a retry resends it.
type Request struct {
	Operation string // the API's operation name, for errors and the local stack's policy check
	Method    string
	URL       *url.URL
	Header    http.Header
	Body      io.ReaderAt // nil for none
	Size      int64       // Body's length
	// PayloadHash is the hex SHA-256 of Body, or UnsignedPayload; empty has Do compute it.
	PayloadHash string
	// ContentSHA256 sends the payload hash as x-amz-content-sha256, as S3 requires.
	ContentSHA256 bool
}

// ErrorDecoder reads a service's error document into an Error's Code and Message.
type ErrorDecoder func(resp *http.Response, body []byte) (code, message string)

// Do sends req, signed, retrying what the retryer deems retryable within ctx, and returns
// the successful (2xx) response's body. An unsuccessful response is an *Error whose Code
// and Message decode reads from its document.
func (c *Client) Do(ctx context.Context, req Request, decode ErrorDecoder) ([]byte, error) {
	if req.PayloadHash == "" {
		h := sha256.New()
		if req.Body != nil {
			if _, err := io.Copy(h, io.NewSectionReader(req.Body, 0, req.Size)); err != nil {
				return nil, fmt.Errorf("%s %s: hash body: %w", c.service.ID, req.Operation, err)
			}
		}
		req.PayloadHash = hex.EncodeToString(h.Sum(nil))
	}
	var release func(error) error
	for attempt := 1; ; attempt++ {
		body, err := c.send(ctx, req, decode)
		if err == nil {
			if release != nil {
				_ = release(nil)
			}
			return body, nil
		}
		if ctx.Err() != nil || attempt >= c.retryer.MaxAttempts() || !c.retryable(err) {
			return nil, err
		}
		rel, qerr := c.retryer.GetRetryToken(ctx, err)
		if qerr != nil {
			return nil, err // the retry quota is spent: the service is struggling
		}
		release = rel
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return nil, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (retrying after: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// retryable is the retryer's verdict, and a 429 whatever its code: the SDK retries the 429s
// of errors it has no model of, which all of these are, but cannot tell them from modeled
// ones.
func (c *Client) retryable(err error) bool {
	var e *Error
	return c.retryer.IsErrorRetryable(err) || errors.As(err, &e) && e.Status == http.StatusTooManyRequests
}

// Open sends req, signed, once, and returns the successful (2xx) response with its body
// unread, for the caller to stream and close: a download too large to hold. An
// unsuccessful response is an *Error as Do's.
func (c *Client) Open(ctx context.Context, req Request, decode ErrorDecoder) (*http.Response, error) {
	if req.PayloadHash == "" {
		req.PayloadHash = hex.EncodeToString(sha256.New().Sum(nil))
	}
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	return nil, c.failure(req, resp, b, decode)
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, req Request, decode ErrorDecoder) ([]byte, error) {
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, c.wrap(req, fmt.Errorf("read response: %w", err))
	}
	if len(b) > MaxResponseBytes {
		return nil, c.wrap(req, fmt.Errorf("response larger than %d bytes", MaxResponseBytes))
	}
	if resp.StatusCode/100 == 2 {
		return b, nil
	}
	return nil, c.failure(req, resp, b, decode)
}

// failure is the *Error of an unsuccessful response with body b.
func (c *Client) failure(req Request, resp *http.Response, b []byte, decode ErrorDecoder) error {
	e := &Error{Service: c.service.ID, Operation: req.Operation, Status: resp.StatusCode,
		RequestID: firstHeader(resp.Header, "X-Amz-Request-Id", "X-Amzn-Requestid")}
	if decode != nil {
		e.Code, e.Message = decode(resp, b)
	}
	if e.Code == "" {
		e.Code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
	}
	return e
}

// roundTrip signs and sends req once.
func (c *Client) roundTrip(ctx context.Context, req Request) (*http.Response, error) {
	var body io.Reader = http.NoBody
	if req.Body != nil && req.Size > 0 {
		body = io.NewSectionReader(req.Body, 0, req.Size)
	}
	hr, err := http.NewRequestWithContext(withOperation(ctx, c.service.ID, req.Operation), req.Method, req.URL.String(), body)
	if err != nil {
		return nil, c.wrap(req, err)
	}
	u := *req.URL
	hr.URL = &u // keeps the caller's escaping (RawPath), which S3 signs as sent
	hr.ContentLength = req.Size
	for k, v := range req.Header {
		hr.Header[k] = append([]string(nil), v...)
	}
	if req.ContentSHA256 {
		hr.Header.Set("X-Amz-Content-Sha256", req.PayloadHash)
	}
	creds, err := c.Credentials(ctx)
	if err != nil {
		return nil, c.wrap(req, err)
	}
	if err := c.signer.SignHTTP(ctx, creds, hr, req.PayloadHash, c.service.SigningName, c.region, c.now()); err != nil {
		return nil, c.wrap(req, fmt.Errorf("sign: %w", err))
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, c.wrap(req, err)
	}
	return resp, nil
}

// wrap names the call in a transport error (which holds no request content).
func (c *Client) wrap(req Request, err error) error {
	return fmt.Errorf("%s %s: %w", c.service.ID, req.Operation, err)
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// Error is a service's unsuccessful answer. It is a smithy.APIError, as the SDK clients'
// errors are, so that package awserr and the SDK's retryer classify it by its code, and it
// reports its HTTP status (HTTPStatusCode), by which 5xx answers are retried.
type Error struct {
	Service, Operation string
	Status             int
	Code, Message      string
	RequestID          string
}

var _ smithy.APIError = (*Error)(nil)

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d %s", e.Service, e.Operation, e.Status, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// ErrorCode is the service's error code, e.g. "SlowDown", "MessageRejected".
func (e *Error) ErrorCode() string { return e.Code }

// ErrorMessage is the service's message.
func (e *Error) ErrorMessage() string { return e.Message }

// ErrorFault is the server for 5xx answers, else the client.
func (e *Error) ErrorFault() smithy.ErrorFault {
	if e.Status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// HTTPStatusCode is the answer's HTTP status.
func (e *Error) HTTPStatusCode() int { return e.Status }

type operationKey struct{}

// Operation is the service id and operation name of the call a request sent by a Client
// belongs to (ok false for other requests), for an HTTPClient that records calls, as the
// local stack does to check them against the functions' policies.
func Operation(r *http.Request) (service, operation string, ok bool) {
	v, ok := r.Context().Value(operationKey{}).([2]string)
	return v[0], v[1], ok
}

func withOperation(ctx context.Context, service, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, [2]string{service, op})
}

// DecodeJSONError reads the error of a service that answers in JSON (SES v2, Secrets
// Manager): its code from the X-Amzn-ErrorType header or the document's "code" or
// "__type" (without a namespace or a ":" suffix), its message from "message" or "Message".
func DecodeJSONError(resp *http.Response, body []byte) (code, message string) {
	var doc struct {
		Code    string `json:"code"`
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	_ = json.Unmarshal(body, &doc)
	code = resp.Header.Get("X-Amzn-Errortype")
	if code == "" {
		code = cmp.Or(doc.Code, doc.Type)
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code, cmp.Or(doc.Message, doc.Msg)
}

// Bytes is a Request body from memory.
func Bytes(b []byte) (io.ReaderAt, int64) { return bytes.NewReader(b), int64(len(b)) }

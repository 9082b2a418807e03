package httpapi

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
)

// requestView is a data-subject request as the API shows it: never the notification
// address (nor the export's object key, which the model never encodes).
type requestView struct {
	dsr.Request
	// Duplicate says the request was not created: this open one of the same type for the
	// same person already existed.
	Duplicate bool `json:"duplicate,omitempty"`
	// Download is a short-lived link to a ready export (GET /v1/requests/{id} only).
	Download *downloadView `json:"download,omitempty"`
}

type downloadView struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Presigner makes a GET link to an object of the exports bucket that works for expiry.
type Presigner func(ctx context.Context, key string, expiry time.Duration, filename string) (url string, expiresAt time.Time, err error)

type exportLinks struct {
	presign Presigner
	ttl     time.Duration
}

// WithExportLinks makes GetRequest show a link to a ready export, valid for ttl (never
// beyond the export's own expiry).
func (a *API) WithExportLinks(p Presigner, ttl time.Duration) *API {
	a.exports = &exportLinks{presign: p, ttl: ttl}
	return a
}

// download presigns the link to r's export, if it is ready and not yet expired.
func (a *API) download(ctx context.Context, r *dsr.Request) (*downloadView, error) {
	x := r.Export
	if a.exports == nil || x == nil || x.Key == "" {
		return nil, nil
	}
	left := x.ExpiresAt.Sub(a.now())
	if left < time.Second {
		return nil, nil
	}
	link, exp, err := a.exports.presign(ctx, x.Key, min(a.exports.ttl, left), path.Base(x.Key))
	if err != nil {
		return nil, fmt.Errorf("export link: %w", err)
	}
	return &downloadView{URL: link, ExpiresAt: exp}, nil
}

func viewOfRequest(r *dsr.Request, dup bool) requestView {
	v := requestView{Request: *r, Duplicate: dup}
	v.NotifyEmail, v.ConfirmHash, v.CancelHash = "", "", ""
	return v
}

// requestResponse renders a request: 201 with Location when created, 200 otherwise (a
// duplicate also gets Location, of the request it duplicates).
func requestResponse(res app.RequestResult, created bool) *response {
	h := map[string]string{"Location": "/v1/requests/" + res.Request.ID}
	st := 200
	if created && !res.Duplicate {
		st = 201
	}
	return &response{status: st, body: viewOfRequest(res.Request, res.Duplicate), headers: h}
}

// requestID reads and checks the {id} path parameter; a malformed id cannot exist.
func requestID(r *request) (string, error) {
	id := r.ev.PathParameters["id"]
	if !app.ValidRequestID(id) {
		return "", errs.E(errs.NotFound, "request not found")
	}
	return id, nil
}

// requestWrite is the app.RequestWrite of this HTTP request: the API key is the actor, and
// with an Idempotency-Key the use case stores its result with the change.
func (r *request) requestWrite() app.RequestWrite {
	return app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorAPIKey, ID: r.keyID}, RequestID: r.requestID, Idempotency: r.idempotency()}
}

// createdRequest and changedRequest render the answer to a new request and to a change of
// one (see requestResponse).
func createdRequest(res app.RequestResult) *response { return requestResponse(res, true) }
func changedRequest(res app.RequestResult) *response { return requestResponse(res, false) }

type requestBody struct {
	ProfileID string             `json:"profileId"`
	Identity  *app.IdentityInput `json:"identity"`
	Type      dsr.Type           `json:"type"`
	Purpose   string             `json:"purpose"`
	// Verification is attested_brand or unverified; without it, attested decides.
	Verification      dsr.Verification `json:"verification"`
	Attested          *bool            `json:"attested"`
	AttestationReason string           `json:"attestationReason"`
	Locale            string           `json:"locale"`
}

// errAttestScope refuses an attestation by a key without the attest scope.
var errAttestScope = errs.E(errs.Forbidden, "attesting that the brand verified the person needs an API key with the attest scope; without it, leave verification out and the person confirms by an emailed link",
	errs.FieldError{Field: "verification", Reason: "attested_brand needs the attest scope"})

// verification resolves how a brand says it verified the person. Only a key of the attest
// scope may attest (403 otherwise); every value the portal records is the portal's alone.
func (b requestBody) verification(scopes []apikey.Scope) (dsr.Verification, error) {
	v := b.Verification
	switch {
	case v == "" && b.Attested != nil && *b.Attested:
		v = dsr.AttestedBrand
	case v == "":
		v = dsr.Unverified
	case v != dsr.AttestedBrand && v != dsr.Unverified:
		return "", errs.Field("verification", "must be attested_brand or unverified: the other values are recorded by the portal and by the person's confirmation")
	case b.Attested != nil && *b.Attested != (v == dsr.AttestedBrand):
		return "", errs.Unmet("attested", "contradicts verification")
	}
	if v == dsr.AttestedBrand && !apikey.Allows(scopes, apikey.Attest) {
		return "", errAttestScope
	}
	return v, nil
}

// CreateRequest serves POST /v1/requests (requests scope): records a data-subject request
// for a person given by profileId or identity. 201 when created; 200 with duplicate: true
// and the existing request when an open one of the same type exists for the person.
func (a *API) CreateRequest() Handler {
	return route{api: a, key: "POST /v1/requests", hasBody: true, maxBody: smallBody, idempotent: true, replayed: replayAs(createdRequest),
		serve: func(ctx context.Context, r *request) (*response, error) {
			var b requestBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			v, err := b.verification(r.scopes)
			if err != nil {
				return nil, err
			}
			in := app.RequestInput{ProfileID: b.ProfileID, Identity: b.Identity, Type: b.Type, Purpose: b.Purpose, Verification: v,
				AttestationReason: b.AttestationReason, Locale: b.Locale, LinkBase: linktoken.BaseURL(a.portalBase, r.ev.RequestContext.DomainName)}
			res, err := a.app.CreateRequest(ctx, r.tenant, in, r.requestWrite())
			if err != nil {
				return nil, err
			}
			return createdRequest(res), nil
		}}.handler()
}

// ListRequests serves GET /v1/requests?status=&overdue=&limit=&cursor= (requests scope):
// the tenant's requests by due date, open ones unless status says otherwise.
func (a *API) ListRequests() Handler {
	return route{api: a, key: "GET /v1/requests", query: []string{"status", "overdue", "limit", "cursor"}, serve: func(ctx context.Context, r *request) (*response, error) {
		var q app.RequestQuery
		for k, v := range r.ev.QueryStringParameters {
			switch k {
			case "status":
				q.Status = v
			case "overdue":
				b, err := strconv.ParseBool(v)
				if err != nil || v != "true" && v != "false" {
					return nil, errs.Field("overdue", "must be true or false")
				}
				q.Overdue = b
			case "limit":
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, errs.Field("limit", "must be a whole number")
				}
				if n == 0 {
					n = -1 // 0 means the default in the use case, but not when asked for
				}
				q.Limit = n
			case "cursor":
				if v == "" {
					return nil, errs.Unmet("cursor", "is not a cursor from this API")
				}
				q.Cursor = v
			}
		}
		page, err := a.app.ListRequests(ctx, r.tenant, q)
		if err != nil {
			return nil, err
		}
		views := make([]requestView, len(page.Requests))
		for i := range page.Requests {
			views[i] = viewOfRequest(&page.Requests[i], false)
		}
		body := map[string]any{"requests": views}
		if page.Cursor != "" {
			next := url.Values{"cursor": {page.Cursor}}
			for _, k := range []string{"status", "overdue", "limit"} {
				if v, ok := r.ev.QueryStringParameters[k]; ok {
					next.Set(k, v)
				}
			}
			body["next"] = "/v1/requests?" + next.Encode()
		}
		return &response{status: 200, body: body}, nil
	}}.handler()
}

// GetRequest serves GET /v1/requests/{id} (requests scope). The download link of a ready
// export is shown only to a key that may also read profiles (ExportLinkScopes).
func (a *API) GetRequest() Handler {
	return route{api: a, key: "GET /v1/requests/{id}", serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := requestID(r)
		if err != nil {
			return nil, err
		}
		req, err := a.app.GetRequest(ctx, r.tenant, id)
		if err != nil {
			return nil, err
		}
		resp := requestResponse(app.RequestResult{Request: req}, false)
		v := resp.body.(requestView)
		if !apikey.AllowsAll(r.scopes, ExportLinkScopes) {
			return resp, nil
		}
		if v.Download, err = a.download(ctx, req); err != nil {
			return nil, err
		}
		resp.body = v
		return resp, nil
	}}.handler()
}

// bodyUse says whether a change of a request takes a JSON body.
type bodyUse int

const (
	noBody       bodyUse = iota // none may be sent
	needsBody                   // one is required
	optionalBody                // one may be sent; without it, the body type's zero value
)

// requestChange is the shape of every change of a request: the {id} path parameter, a
// strict JSON body of type B (none when B is struct{}), and the request as answer.
func requestChange[B any](a *API, key string, body bodyUse, call func(ctx context.Context, r *request, id string, b B, w app.RequestWrite) (*dsr.Request, error)) Handler {
	return route{api: a, key: key, hasBody: body != noBody, optional: body == optionalBody, maxBody: smallBody, idempotent: true,
		replayed: replayAs(changedRequest),
		serve: func(ctx context.Context, r *request) (*response, error) {
			id, err := requestID(r)
			if err != nil {
				return nil, err
			}
			var b B
			if body != noBody && len(r.body) > 0 {
				if err := r.decode(&b); err != nil {
					return nil, err
				}
			}
			req, err := call(ctx, r, id, b, r.requestWrite())
			if err != nil {
				return nil, err
			}
			return changedRequest(app.RequestResult{Request: req}), nil
		}}.handler()
}

type extensionBody struct {
	Months int    `json:"months"`
	Reason string `json:"reason" jsonin:"text"`
}

// ExtendRequest serves POST /v1/requests/{id}/extension {months, reason} (requests
// scope): extends the deadline by 1 or 2 months, once, within the first month; the person
// is told the reason.
func (a *API) ExtendRequest() Handler {
	return requestChange(a, "POST /v1/requests/{id}/extension", needsBody, func(ctx context.Context, r *request, id string, b extensionBody, w app.RequestWrite) (*dsr.Request, error) {
		return a.app.ExtendRequest(ctx, r.tenant, id, b.Months, b.Reason, w)
	})
}

// CancelRequest serves POST /v1/requests/{id}/cancel (requests scope, no body): the person
// withdrew the request.
func (a *API) CancelRequest() Handler {
	return requestChange(a, "POST /v1/requests/{id}/cancel", noBody, func(ctx context.Context, r *request, id string, _ struct{}, w app.RequestWrite) (*dsr.Request, error) {
		return a.app.CancelRequest(ctx, r.tenant, id, w)
	})
}

type denialBody struct {
	Reason string `json:"reason" jsonin:"text"`
}

// DenyRequest serves POST /v1/requests/{id}/denial {reason} (requests scope): refuses the
// request for a reason the person is told.
func (a *API) DenyRequest() Handler {
	return requestChange(a, "POST /v1/requests/{id}/denial", needsBody, func(ctx context.Context, r *request, id string, b denialBody, w app.RequestWrite) (*dsr.Request, error) {
		return a.app.DenyRequest(ctx, r.tenant, id, b.Reason, w)
	})
}

type completionBody struct {
	Note string `json:"note" jsonin:"text"`
}

// CompleteRequest serves POST /v1/requests/{id}/completion {note?} (requests scope, body
// optional): marks an open rectification request completed once the data is corrected.
func (a *API) CompleteRequest() Handler {
	return requestChange(a, "POST /v1/requests/{id}/completion", optionalBody, func(ctx context.Context, r *request, id string, b completionBody, w app.RequestWrite) (*dsr.Request, error) {
		return a.app.CompleteRequest(ctx, r.tenant, id, b.Note, w)
	})
}

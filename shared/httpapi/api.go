package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// API builds the brand API's route handlers over the use cases.
type API struct {
	app        *app.Service
	log        *slog.Logger
	links      *portallink.Signer
	portalBase string
	now        func() time.Time
	webhooks   *app.Webhooks
	redriver   Redriver
	exports    *exportLinks // download links of ready exports (GetRequest); nil: none
}

// New returns the API. links and portalBase are only needed by PortalLinks; an empty
// portalBase makes links point at the API's own domain under /portal.
func New(svc *app.Service, log *slog.Logger, links *portallink.Signer, portalBase string) *API {
	return &API{app: svc, log: log, links: links, portalBase: strings.TrimSuffix(portalBase, "/"), now: time.Now}
}

// profileID reads and checks the {id} path parameter; a malformed id cannot exist.
func profileID(r *request) (string, error) {
	id := r.ev.PathParameters["id"]
	if !app.ValidProfileID(id) {
		return "", errs.E(errs.NotFound, "profile not found")
	}
	return id, nil
}

// profileView is a profile as the API shows it.
type profileView struct {
	*profile.Profile
	// MergedInto is set when the profile was asked for by the id of a profile merged into it.
	MergedInto string     `json:"mergedInto,omitempty"`
	Links      []app.Link `json:"links,omitempty"`
}

// profileResponse renders a profile with its ETag: 200, or 201 with Location when created.
func profileResponse(res app.Result) *response {
	st := 200
	h := map[string]string{"ETag": etag(res.Profile.Version)}
	if res.Created {
		st = 201
		h["Location"] = "/v1/profiles/" + res.Profile.ID
	}
	return &response{status: st, body: profileView{Profile: res.Profile, Links: res.Links}, headers: h}
}

// askedBy marks a profile response asked for by id as merged into the profile it shows.
func askedBy(resp *response, id string) *response {
	if v, ok := resp.body.(profileView); ok && v.ID != id {
		v.MergedInto = v.ID
		resp.body = v
	}
	return resp
}

func etag(v int64) string { return strconv.Quote(strconv.FormatInt(v, 10)) }

// GetProfile serves GET /v1/profiles/{id}.
func (a *API) GetProfile() Handler {
	return route{api: a, key: "GET /v1/profiles/{id}", serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := profileID(r)
		if err != nil {
			return nil, err
		}
		p, err := a.app.GetProfile(ctx, r.tenant, id)
		if err != nil {
			return nil, err
		}
		return askedBy(profileResponse(app.Result{Profile: p}), id), nil
	}}.handler()
}

// FindProfile serves GET /v1/profiles?identity=type:value.
func (a *API) FindProfile() Handler {
	return route{api: a, key: "GET /v1/profiles", query: []string{"identity"}, serve: func(ctx context.Context, r *request) (*response, error) {
		q := r.ev.QueryStringParameters["identity"]
		if q == "" {
			return nil, errs.Field("identity", "identity=type:value is required")
		}
		p, err := a.app.FindProfile(ctx, r.tenant, q)
		if err != nil {
			return nil, err
		}
		return profileResponse(app.Result{Profile: p}), nil
	}}.handler()
}

type createBody struct {
	Identities     []app.IdentityInput         `json:"identities"`
	Attributes     map[string]any              `json:"attributes"`
	Consents       map[string]consentBody      `json:"consents"`
	Subscriptions  map[string]subscriptionBody `json:"subscriptions"`
	SignupEvidence *evidenceBody               `json:"signupEvidence"`
}

// evidenceBody is a request's signupEvidence, which re-admits an erased person (see
// app.Evidence).
type evidenceBody struct {
	Purpose       string `json:"purpose"`
	Source        string `json:"source"`
	Method        string `json:"method"`
	CapturedAt    string `json:"capturedAt"`
	NoticeVersion int    `json:"noticeVersion"`
}

// input converts the body; a missing or malformed capturedAt stays zero, which the use
// case reports as the field signupEvidence.capturedAt.
func (e *evidenceBody) input() *app.Evidence {
	if e == nil {
		return nil
	}
	at, _ := time.Parse(time.RFC3339, e.CapturedAt)
	return &app.Evidence{Purpose: e.Purpose, Source: e.Source, Method: e.Method, CapturedAt: at, NoticeVersion: e.NoticeVersion}
}

// CreateProfile serves POST /v1/profiles: create, or match by identity.
func (a *API) CreateProfile() Handler {
	return route{api: a, key: "POST /v1/profiles", hasBody: true, maxBody: smallBody, idempotent: true, replayed: replayAs(profileResponse),
		serve: func(ctx context.Context, r *request) (*response, error) {
			var b createBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			in := app.Create{Identities: b.Identities, Patch: app.Patch{Attributes: b.Attributes},
				Consents: map[string]profile.ConsentInput{}, Subscriptions: map[string]profile.SubscriptionInput{}, SignupEvidence: b.SignupEvidence.input()}
			for k, c := range b.Consents {
				in.Consents[k] = c.input()
			}
			for k, s := range b.Subscriptions {
				in.Subscriptions[k] = s.input()
			}
			res, err := a.app.CreateProfile(ctx, r.tenant, in, r.write(nil))
			if err != nil {
				return nil, err
			}
			return profileResponse(res), nil
		}}.handler()
}

type rightsBody struct {
	Restricted              *bool           `json:"restricted"`
	AutomatedDecisionOptOut *bool           `json:"automatedDecisionOptOut"`
	Objections              map[string]bool `json:"objections"`
}

type patchBody struct {
	Attributes       map[string]any      `json:"attributes"`
	AddIdentities    []app.IdentityInput `json:"addIdentities"`
	RemoveIdentities []app.IdentityInput `json:"removeIdentities"`
	Rights           *rightsBody         `json:"rights"`
}

// UpdateProfile serves PATCH /v1/profiles/{id}.
func (a *API) UpdateProfile() Handler {
	return profileWrite(a, "PATCH /v1/profiles/{id}", func(ctx context.Context, r *request, id string, b patchBody, w app.Write) (app.Result, error) {
		pt := app.Patch{Attributes: b.Attributes, AddIdentities: b.AddIdentities, RemoveIdentities: b.RemoveIdentities}
		if b.Rights != nil {
			pt.Rights = &profile.RightsInput{Restricted: b.Rights.Restricted, AutomatedDecisionOptOut: b.Rights.AutomatedDecisionOptOut, Objections: b.Rights.Objections}
		}
		return a.app.UpdateProfile(ctx, r.tenant, id, pt, w)
	})
}

// profileWrite is the shape of every write to an existing profile: the {id} path
// parameter, optional If-Match, a strict JSON body of type B, and the profile as answer.
func profileWrite[B any](a *API, key string, call func(ctx context.Context, r *request, id string, b B, w app.Write) (app.Result, error)) Handler {
	return route{api: a, key: key, hasBody: true, maxBody: smallBody, idempotent: true, replayed: replayAs(profileResponse),
		serve: func(ctx context.Context, r *request) (*response, error) {
			id, err := profileID(r)
			if err != nil {
				return nil, err
			}
			// A purpose or topic that is no catalog id names nothing, whatever the version.
			for _, p := range []string{"purpose", "topic"} {
				if v, ok := r.ev.PathParameters[p]; ok && !catalog.ValidID(v) {
					return nil, errs.E(errs.NotFound, "no such "+p+" in the catalog")
				}
			}
			ifMatch, err := r.ifMatch()
			if err != nil {
				return nil, err
			}
			var b B
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			res, err := call(ctx, r, id, b, r.write(ifMatch))
			if err != nil {
				return nil, err
			}
			return askedBy(profileResponse(res), id), nil
		}}.handler()
}

type consentBody struct {
	Status        profile.ConsentStatus `json:"status"`
	NoticeVersion int                   `json:"noticeVersion"`
	Locale        string                `json:"locale"`
	ExpiresAt     *time.Time            `json:"expiresAt"`
	Method        string                `json:"method"`
}

func (c consentBody) input() profile.ConsentInput {
	return profile.ConsentInput{Status: c.Status, NoticeVersion: c.NoticeVersion, Locale: c.Locale, ExpiresAt: c.ExpiresAt, Method: c.Method}
}

// PutConsent serves PUT /v1/profiles/{id}/consents/{purpose}.
func (a *API) PutConsent() Handler {
	return profileWrite(a, "PUT /v1/profiles/{id}/consents/{purpose}", func(ctx context.Context, r *request, id string, b consentBody, w app.Write) (app.Result, error) {
		// The body's shape is refused before the stored version is compared (400, not 412).
		if err := b.input().Check(); err != nil {
			return app.Result{}, err
		}
		return a.app.PutConsent(ctx, r.tenant, id, r.ev.PathParameters["purpose"], b.input(), w)
	})
}

type subscriptionBody struct {
	Status    profile.SubscriptionStatus `json:"status"`
	Channels  []string                   `json:"channels"`
	Frequency string                     `json:"frequency"`
}

func (s subscriptionBody) input() profile.SubscriptionInput {
	return profile.SubscriptionInput{Status: s.Status, Channels: s.Channels, Frequency: s.Frequency}
}

// PutSubscription serves PUT /v1/profiles/{id}/subscriptions/{topic}.
func (a *API) PutSubscription() Handler {
	return profileWrite(a, "PUT /v1/profiles/{id}/subscriptions/{topic}", func(ctx context.Context, r *request, id string, b subscriptionBody, w app.Write) (app.Result, error) {
		// The body's shape is refused before the stored version is compared (400, not 412).
		if err := b.input().Check(); err != nil {
			return app.Result{}, err
		}
		return a.app.PutSubscription(ctx, r.tenant, id, r.ev.PathParameters["topic"], b.input(), w)
	})
}

type checksBody struct {
	app.CheckInput
	Checks []app.CheckInput `json:"checks"`
}

// CheckConsent serves POST /v1/consent-checks: one check, or {"checks": [...]} of up to 100.
func (a *API) CheckConsent() Handler {
	return route{api: a, key: "POST /v1/consent-checks", hasBody: true, maxBody: checkBodyMax,
		serve: func(ctx context.Context, r *request) (*response, error) {
			var b checksBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			single := b.CheckInput != (app.CheckInput{})
			if single && b.Checks != nil {
				return nil, errs.Field("checks", "give one check or a checks array, not both")
			}
			in := b.Checks
			if single || b.Checks == nil {
				in = []app.CheckInput{b.CheckInput}
			}
			res, err := a.app.Check(ctx, r.tenant, in, !single && b.Checks != nil)
			if err != nil {
				return nil, err
			}
			if single || b.Checks == nil {
				return &response{status: 200, body: res[0]}, nil
			}
			return &response{status: 200, body: map[string]any{"results": res}}, nil
		}}.handler()
}

// ListEvents serves GET /v1/profiles/{id}/events?after=&limit=.
func (a *API) ListEvents() Handler {
	return route{api: a, key: "GET /v1/profiles/{id}/events", query: []string{"after", "limit"}, serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := profileID(r)
		if err != nil {
			return nil, err
		}
		after, limit := int64(0), 50
		for k, v := range r.ev.QueryStringParameters {
			var perr error
			switch k {
			case "after":
				after, perr = strconv.ParseInt(v, 10, 64)
			case "limit":
				limit, perr = strconv.Atoi(v)
			}
			if perr != nil {
				return nil, errs.Field(k, "must be a whole number")
			}
		}
		page, err := a.app.Events(ctx, r.tenant, id, after, limit)
		if err != nil {
			return nil, err
		}
		body := map[string]any{
			"events": page.Events,
			"chain":  map[string]any{"verified": page.Verified, "brokenAt": page.BrokenAt},
		}
		if page.Next > 0 {
			body["next"] = fmt.Sprintf("/v1/profiles/%s/events?after=%d&limit=%d", id, page.Next, limit)
		}
		return &response{status: 200, body: body}, nil
	}}.handler()
}

// GetCatalog serves GET /v1/catalog.
func (a *API) GetCatalog() Handler {
	return route{api: a, key: "GET /v1/catalog", serve: func(ctx context.Context, r *request) (*response, error) {
		c, err := a.app.Catalog(ctx, r.tenant)
		if err != nil {
			return nil, err
		}
		return catalogResponse(c), nil
	}}.handler()
}

// PutCatalog serves PUT /v1/catalog (admin scope).
func (a *API) PutCatalog() Handler {
	return route{api: a, key: "PUT /v1/catalog", hasBody: true, maxBody: catalogBody, idempotent: true, replayed: replayAs(catalogResponse),
		serve: func(ctx context.Context, r *request) (*response, error) {
			ifMatch, err := r.ifMatch()
			if err != nil {
				return nil, err
			}
			var c catalog.Catalog
			if err := r.decode(&c); err != nil {
				return nil, err
			}
			var im *int
			if ifMatch != nil {
				v := int(*ifMatch)
				im = &v
			}
			out, err := a.app.PutCatalog(ctx, r.tenant, &c, im, r.idempotency())
			if err != nil {
				return nil, err
			}
			return catalogResponse(out), nil
		}}.handler()
}

// catalogResponse renders a catalog with its ETag. Lists a catalog was stored without are
// shown as [], not null, so that the catalog read back can be sent again as it is: input
// refuses null.
func catalogResponse(c *catalog.Catalog) *response {
	v := *c
	if v.Purposes == nil {
		v.Purposes = []catalog.Purpose{}
	}
	if v.Channels == nil {
		v.Channels = []catalog.Channel{}
	}
	if v.Topics == nil {
		v.Topics = []catalog.Topic{}
	}
	if v.Notices == nil {
		v.Notices = []catalog.Notice{}
	}
	return &response{status: 200, body: &v, headers: map[string]string{"ETag": etag(int64(v.Version))}}
}

type linkBody struct {
	ProfileID string             `json:"profileId"`
	Identity  *app.IdentityInput `json:"identity"`
	Topic     string             `json:"topic"`
	Locale    string             `json:"locale"`
	ExpiresIn int                `json:"expiresIn"` // seconds
}

// Link lifetimes: long enough for an email to be read days later, short enough to limit a
// forwarded link's reach.
const (
	defaultLinkTTL = 7 * 24 * time.Hour
	maxLinkTTL     = 30 * 24 * time.Hour
	minLinkTTL     = 5 * time.Minute
)

// PortalLinks serves POST /v1/portal-links (portal_links scope only): a signed, expiring
// link to the portal for one person, which stops working, with every session it opened,
// when the key that minted it is revoked.
func (a *API) PortalLinks() Handler {
	return route{api: a, key: "POST /v1/portal-links", hasBody: true, maxBody: smallBody, idempotent: true,
		serve: func(ctx context.Context, r *request) (*response, error) {
			var b linkBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			cat, err := a.app.Catalog(ctx, r.tenant)
			if err != nil {
				return nil, err
			}
			var f errs.Fields
			var ref app.Ref
			switch {
			case b.ProfileID != "" && b.Identity != nil:
				f.Add("identity", "give either profileId or identity, not both")
			case b.ProfileID != "":
				if !app.ValidProfileID(b.ProfileID) {
					f.Add("profileId", "is not a profile id")
				}
				ref.ID = b.ProfileID
			case b.Identity != nil:
				ids := app.Normalize(cat, "identity", []app.IdentityInput{*b.Identity}, &f)
				if len(ids) == 1 {
					ref.Identity = ids[0]
				}
			default:
				f.Add("profileId", "profileId or identity is required")
			}
			if _, ok := cat.Topic(b.Topic); b.Topic != "" && !ok {
				f.Unmet("topic", "unknown topic")
			}
			if b.Locale != "" && !cat.SupportsLocale(b.Locale) {
				f.Unmet("locale", "must be one of the catalog's locales")
			}
			ttl := defaultLinkTTL
			if b.ExpiresIn != 0 {
				ttl = time.Duration(b.ExpiresIn) * time.Second
				if ttl < minLinkTTL || ttl > maxLinkTTL {
					f.Add("expiresIn", fmt.Sprintf("must be between %d and %d seconds", int(minLinkTTL.Seconds()), int(maxLinkTTL.Seconds())))
				}
			}
			if err := f.Err(); err != nil {
				return nil, err
			}
			p, err := a.app.Resolve(ctx, r.tenant, ref)
			if err != nil {
				return nil, err
			}
			now := a.now().UTC()
			exp := now.Add(ttl).Truncate(time.Second)
			// The minting key travels in the link and in the session it opens, so that
			// revoking the key ends both.
			claims := portallink.Claims{Tenant: r.tenant, ProfileID: p.ID, Topic: b.Topic, Locale: b.Locale,
				IssuedAt: now.Unix(), ExpiresAt: exp.Unix(), APIKey: r.keyID}
			token, _, err := linktoken.Mint(a.links, linktoken.Open, claims)
			if err != nil {
				return nil, err
			}
			base := linktoken.BaseURL(a.portalBase, r.ev.RequestContext.DomainName)
			body := map[string]any{"url": linktoken.OpenURL(base, r.tenant, token), "expiresAt": exp, "profileId": p.ID}
			if b.Topic != "" {
				// RFC 8058 one-click unsubscribe from the topic's email, for the email's headers.
				claims.ExpiresAt = now.Add(linktoken.UnsubscribeTTL).Unix()
				unsub, _, err := linktoken.Mint(a.links, linktoken.Unsubscribe, claims)
				if err != nil {
					return nil, err
				}
				body["listUnsubscribe"], body["listUnsubscribePost"] = linktoken.ListUnsubscribe(base, r.tenant, unsub)
			}
			resp := &response{status: 201, body: body}
			return resp, r.remember(ctx, a, resp)
		}}.handler()
}

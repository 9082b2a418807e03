package wire

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/portal"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

// The hosted portal's functions (shared/portal/ROUTES.md lists their routes, environment
// and IAM actions). Every one but PortalGpc reads the portal secret (PORTAL_SECRET_ARN) at
// init — AWSCURRENT, and AWSPREVIOUS when the secret has one, so that a rotation signs
// with the new key and still accepts sessions, form tokens and links of the old one.

// portalSecrets reads the portal signing secret's current version and, if it has one, its
// previous version.
func (d *Deps) portalSecrets(ctx context.Context) (portallink.Key, []portallink.Key, error) {
	arn, err := d.required("PORTAL_SECRET_ARN")
	if err != nil {
		return portallink.Key{}, nil, err
	}
	sm := secretsmanager.NewFromConfig(d.aws)
	read := func(stage string) (portallink.Key, error) {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn, VersionStage: aws.String(stage)})
		if err != nil {
			return portallink.Key{}, err
		}
		return portallink.ParseSecret(aws.ToString(out.SecretString))
	}
	cur, err := read("AWSCURRENT")
	if err != nil {
		return portallink.Key{}, nil, fmt.Errorf("read portal secret: %w", err)
	}
	prev, err := read("AWSPREVIOUS")
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return cur, nil, nil // never rotated
	case err != nil:
		return portallink.Key{}, nil, fmt.Errorf("read previous portal secret: %w", err)
	case prev.Secret == cur.Secret:
		return cur, nil, nil
	}
	return cur, []portallink.Key{prev}, nil
}

// portalNeeds are the optional parts of one portal function.
type portalNeeds struct {
	mailer   bool // PortalLogin: SENDER_EMAIL
	requests bool // pages that show or make data-subject requests
	exports  bool // PortalExport: EXPORTS_BUCKET, EXPORT_LINK_SECONDS
}

// portal builds the portal with what one function needs.
func (d *Deps) portal(ctx context.Context, need portalNeeds) (*portal.Portal, error) {
	cur, prev, err := d.portalSecrets(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := session.NewKeys(cur, prev...)
	if err != nil {
		return nil, err
	}
	links, err := portallink.NewSigner(append([]portallink.Key{cur}, prev...)...)
	if err != nil {
		return nil, err
	}
	svc := app.New(d.store, time.Now, catalogCacheTTL)
	cfg := portal.Config{
		Profiles: svc, Store: d.store, Brands: portalBrands{d.store}, Keys: keys, Links: links,
		BaseURL: d.env("PORTAL_BASE_URL"), Log: d.log,
	}
	if need.mailer {
		from, err := d.required("SENDER_EMAIL")
		if err != nil {
			return nil, err
		}
		cfg.Mailer = portalMail{mail.Sender{Client: sesv2.NewFromConfig(d.aws), From: from}}
	}
	if need.requests {
		cfg.Requests = portalRequests{Service: svc, st: d.store}
	}
	if need.exports {
		bucket, err := d.required("EXPORTS_BUCKET")
		if err != nil {
			return nil, err
		}
		secs, err := d.optionalPositive("EXPORT_LINK_SECONDS", int(portal.DefaultExportLinkTTL/time.Second))
		if err != nil {
			return nil, err
		}
		cfg.Exports, cfg.ExportLinkTTL = portalExports{blob.New(d.s3Client(), bucket, "")}, time.Duration(secs)*time.Second
	}
	return portal.New(cfg)
}

func portalRoute(ctx context.Context, d *Deps, need portalNeeds, pick func(*portal.Portal) portal.Handler) (any, error) {
	p, err := d.portal(ctx, need)
	if err != nil {
		return nil, err
	}
	return HTTPHandler(pick(p)), nil
}

// PortalOpen builds GET|POST /portal/{tenant}/t/{token}.
func PortalOpen(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{}, (*portal.Portal).Open)
}

// PortalLogin builds GET|POST /portal/{tenant}/login; it alone sends email (SENDER_EMAIL).
func PortalLogin(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{mailer: true}, (*portal.Portal).Login)
}

// PortalLogout builds POST /portal/{tenant}/logout.
func PortalLogout(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{}, (*portal.Portal).Logout)
}

// PortalOverview builds GET /portal/{tenant}.
func PortalOverview(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{requests: true}, (*portal.Portal).Overview)
}

// PortalDetails builds GET|POST /portal/{tenant}/details.
func PortalDetails(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{}, (*portal.Portal).Details)
}

// PortalSubscriptions builds GET|POST /portal/{tenant}/subscriptions.
func PortalSubscriptions(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{}, (*portal.Portal).Subscriptions)
}

// PortalConsents builds GET|POST /portal/{tenant}/consents.
func PortalConsents(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{}, (*portal.Portal).Consents)
}

// PortalRights builds GET|POST /portal/{tenant}/rights and /portal/{tenant}/rights/erase.
func PortalRights(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{requests: true}, (*portal.Portal).Rights)
}

// PortalHistory builds GET /portal/{tenant}/history and /portal/{tenant}/receipts/{purpose}.
func PortalHistory(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{}, (*portal.Portal).History)
}

// PortalExport builds GET /portal/{tenant}/exports/{id}; it alone presigns S3 downloads.
func PortalExport(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{requests: true, exports: true}, (*portal.Portal).Export)
}

// PortalUnsubscribe builds GET|POST /portal/{tenant}/unsubscribe/{token}.
func PortalUnsubscribe(ctx context.Context, d *Deps) (any, error) {
	return portalRoute(ctx, d, portalNeeds{}, (*portal.Portal).Unsubscribe)
}

// PortalGpc builds GET /.well-known/gpc.json; it reads nothing.
func PortalGpc(_ context.Context, _ *Deps) (any, error) {
	return HTTPHandler(portal.GPCHandler()), nil
}

// portalBrands reads a tenant's name and branding; a disabled tenant has no portal.
type portalBrands struct{ st *dynamo.Store }

func (b portalBrands) Brand(ctx context.Context, tenant string) (portal.Brand, error) {
	t, err := b.st.Tenant(ctx, tenant)
	if err != nil {
		return portal.Brand{}, err
	}
	if t.Disabled {
		return portal.Brand{}, errs.E(errs.NotFound, "tenant not found")
	}
	return portal.Brand{Name: t.Name, LogoURL: t.Branding.LogoURL, PrimaryColor: t.Branding.PrimaryColor,
		BackgroundColor: t.Branding.BackgroundColor, TextColor: t.Branding.TextColor}, nil
}

// portalRequests is the requests use case plus the store's listing of a person's requests.
type portalRequests struct {
	*app.Service
	st *dynamo.Store
}

func (x portalRequests) RequestsOfProfile(ctx context.Context, tenant, profileID string) ([]dsr.Request, error) {
	return x.st.RequestsOfProfile(ctx, tenant, profileID)
}

// portalExports presigns export downloads.
type portalExports struct{ b *blob.Store }

func (x portalExports) ExportURL(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	l, err := x.b.Presign(ctx, key, ttl, filename)
	return l.URL, err
}

// portalMail sends the login email (mail.LoginLink).
type portalMail struct{ s mail.Sender }

func (m portalMail) SendLoginLink(ctx context.Context, to, locale, link string, ttl time.Duration) error {
	return m.s.Send(ctx, to, locale, mail.LoginLink, map[string]string{"link": link, "minutes": strconv.Itoa(int(ttl / time.Minute))})
}

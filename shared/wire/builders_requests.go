package wire

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/mail"
)

// The data-subject request routes (requests scope).

// CreateRequest builds POST /v1/requests.
func CreateRequest(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).CreateRequest)
}

// ListRequests builds GET /v1/requests.
func ListRequests(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).ListRequests)
}

// GetRequest builds GET /v1/requests/{id}; it alone presigns links to ready exports, in
// EXPORTS_BUCKET (required), valid for EXPORT_LINK_SECONDS (required).
func GetRequest(_ context.Context, d *Deps) (any, error) {
	bucket, err := d.required("EXPORTS_BUCKET")
	if err != nil {
		return nil, err
	}
	secs, err := d.positive("EXPORT_LINK_SECONDS")
	if err != nil {
		return nil, err
	}
	b := blob.New(d.s3Client(), bucket, "")
	presign := func(ctx context.Context, key string, expiry time.Duration, filename string) (string, time.Time, error) {
		l, err := b.Presign(ctx, key, expiry, filename)
		return l.URL, l.ExpiresAt, err
	}
	return HTTPHandler(d.api(nil).WithExportLinks(presign, time.Duration(secs)*time.Second).GetRequest()), nil
}

// mailingRoute builds a request route whose use case emails the person, from SENDER_EMAIL
// (required).
func mailingRoute(d *Deps, pick func(*httpapi.API) httpapi.Handler) (any, error) {
	from, err := d.required("SENDER_EMAIL")
	if err != nil {
		return nil, err
	}
	n := requestMail{sender: mail.Sender{Client: sesv2.NewFromConfig(d.aws), From: from}, log: d.log}
	svc := app.New(d.store, time.Now, catalogCacheTTL).WithNotifier(n)
	return HTTPHandler(pick(httpapi.New(svc, d.log, nil, d.env("PORTAL_BASE_URL")))), nil
}

// ExtendRequest builds POST /v1/requests/{id}/extension; it tells the person by email.
func ExtendRequest(_ context.Context, d *Deps) (any, error) {
	return mailingRoute(d, (*httpapi.API).ExtendRequest)
}

// CancelRequest builds POST /v1/requests/{id}/cancel.
func CancelRequest(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).CancelRequest)
}

// CompleteRequest builds POST /v1/requests/{id}/completion.
func CompleteRequest(_ context.Context, d *Deps) (any, error) {
	return route(d, (*httpapi.API).CompleteRequest)
}

// DenyRequest builds POST /v1/requests/{id}/denial; it tells the person by email.
func DenyRequest(_ context.Context, d *Deps) (any, error) {
	return mailingRoute(d, (*httpapi.API).DenyRequest)
}

// requestMail is the app.Notifier that emails people about their requests (package mail),
// in the request's locale. Failures are logged without personal data.
type requestMail struct {
	sender mail.Sender
	log    *slog.Logger
}

func (m requestMail) NotifyExtension(ctx context.Context, r *dsr.Request, to string) error {
	data := map[string]string{"dueAt": mail.Date(r.DueAt, r.Locale), "requestId": r.ID}
	if x := r.Extension; x != nil {
		data["reason"], data["months"] = x.Reason, strconv.Itoa(x.Months)
	}
	return m.logged(ctx, r, "extension", m.sender.Send(ctx, to, r.Locale, mail.RequestExtended, data))
}

func (m requestMail) NotifyDenial(ctx context.Context, r *dsr.Request, to string) error {
	data := map[string]string{"reason": r.DenialReason, "requestId": r.ID}
	return m.logged(ctx, r, "denial", m.sender.Send(ctx, to, r.Locale, mail.RequestDenied, data))
}

func (m requestMail) logged(ctx context.Context, r *dsr.Request, what string, err error) error {
	if err != nil {
		m.log.ErrorContext(ctx, "request notice not sent", "notice", what, "tenant", r.Tenant, "requestId", r.ID, "err", err)
	}
	return err
}

// Package jobs builds the data-subject request jobs that work the exports bucket (S3) and
// email the person (SES): the export job and the erasure job.
package jobs

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/awserr"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/erasure"
	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/webhook"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// ProcessExport builds the export job worker (ExportQueue). Environment:
//   - EXPORTS_BUCKET (required): where exports are stored, under "<tenant>/<profileId>/".
//   - EXPORTS_KMS_KEY_ID (optional): asks for SSE-KMS with this key on every upload;
//     without it the bucket's default encryption (SSE-KMS with ExportsKey) applies.
//   - EXPORT_RETENTION_DAYS (optional, default 7): how long an export is kept; set it to
//     the bucket's lifecycle expiry (ExportRetentionDays).
//   - MAX_ATTEMPTS (optional, default 5): the queue's maxReceiveCount (JobMaxAttempts); the
//     last attempt marks the request failed.
//   - SENDER_EMAIL and PORTAL_BASE_URL: the "your export is ready" email, from SENDER_EMAIL,
//     linking to the portal. Without either, nobody is emailed (logged at init).
func ProcessExport(ctx context.Context, d *wire.Deps) (any, error) {
	bucket, err := d.Required("EXPORTS_BUCKET")
	if err != nil {
		return nil, err
	}
	retention, err := d.OptionalPositive("EXPORT_RETENTION_DAYS", int(export.DefaultRetention/(24*time.Hour)))
	if err != nil {
		return nil, err
	}
	attempts, err := d.OptionalPositive("MAX_ATTEMPTS", export.DefaultMaxAttempts)
	if err != nil {
		return nil, err
	}
	var notify export.Notifier
	from, portal := d.Env("SENDER_EMAIL"), strings.TrimSuffix(d.Env("PORTAL_BASE_URL"), "/")
	if from != "" && portal != "" {
		sender, err := mail.NewSender(ctx, d.AWS, from)
		if err != nil {
			return nil, err
		}
		notify = exportMail{sender: sender, portal: portal + "/"}
	} else {
		d.Log.Warn("export-ready emails are off: SENDER_EMAIL and PORTAL_BASE_URL must both be set")
	}
	objects, err := blob.New(ctx, d.AWS, bucket, d.Env("EXPORTS_KMS_KEY_ID"))
	if err != nil {
		return nil, err
	}
	job := export.NewJob(d.Store, d.Profiles(), d.Store, exportDirectory{d.Store}, objects, notify, d.Log,
		export.Options{Retention: time.Duration(retention) * 24 * time.Hour, MaxAttempts: attempts})
	return wire.QueueHandler(job.Handle), nil
}

// ProcessErasure builds the erasure job worker (ErasureQueue). Environment:
//   - EXPORTS_BUCKET (required): the person's exports are deleted from it;
//   - SENDER_EMAIL (required): the confirmation email's From address;
//   - MAX_ATTEMPTS (optional, default erasure.DefaultMaxAttempts): the queue's
//     maxReceiveCount (JobMaxAttempts); the last attempt marks the request failed.
func ProcessErasure(ctx context.Context, d *wire.Deps) (any, error) {
	bucket, err := d.Required("EXPORTS_BUCKET")
	if err != nil {
		return nil, err
	}
	from, err := d.Required("SENDER_EMAIL")
	if err != nil {
		return nil, err
	}
	attempts, err := d.OptionalPositive("MAX_ATTEMPTS", erasure.DefaultMaxAttempts)
	if err != nil {
		return nil, err
	}
	exports, err := blob.New(ctx, d.AWS, bucket, "")
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(ctx, d.AWS, from)
	if err != nil {
		return nil, err
	}
	job := erasure.New(d.Store, exports, sender, d.Log, erasure.Options{MaxAttempts: attempts, Transient: awserr.Transient})
	return wire.QueueHandler(job.Handle), nil
}

// exportDirectory answers the export's questions about the controller from the table.
type exportDirectory struct{ st *dynamo.Store }

func (x exportDirectory) TenantName(ctx context.Context, tenant string) (string, error) {
	t, err := x.st.Tenant(ctx, tenant)
	if err != nil {
		return "", err
	}
	return cmp.Or(t.Name, t.ID), nil
}

func (x exportDirectory) Endpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error) {
	return x.st.Endpoints(ctx, tenant)
}

func (x exportDirectory) KeyName(ctx context.Context, tenant, keyID string) string {
	k, err := x.st.Key(ctx, keyID)
	if err != nil || k.Tenant != tenant {
		return ""
	}
	return k.Name
}

// exportMail sends the "your export is ready" email, linking to the portal (where the
// person signs in and downloads), never to the object itself.
type exportMail struct {
	sender mail.Sender
	portal string
}

func (m exportMail) ExportReady(ctx context.Context, n export.Ready) error {
	return m.sender.Send(ctx, n.To, n.Locale, mail.ExportReady, map[string]string{
		"link": linktoken.PageURL(m.portal, n.Tenant, "/rights"), "requestId": n.RequestID, "expiresAt": mail.Date(n.ExpiresAt, n.Locale),
	})
}

package export

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Requests keeps data-subject requests (dynamo.Store implements it).
type Requests interface {
	Request(ctx context.Context, tenant, id string) (*dsr.Request, error)
	// SaveRequest stores r in place of prior (dsr.Request.Prior of the request as read;
	// r.Version is prior.Version+1), without reading it; it fails with errs.ErrStale when
	// the stored request is not at prior.Version (or is gone).
	SaveRequest(ctx context.Context, r *dsr.Request, prior dsr.Prior) error
	RequestsOfProfile(ctx context.Context, tenant, profileID string) ([]dsr.Request, error)
}

// Profiles reads a person's profile and the tenant's catalog (app.Service implements it).
type Profiles interface {
	GetProfile(ctx context.Context, tenant, id string) (*profile.Profile, error)
	Catalog(ctx context.Context, tenant string) (*catalog.Catalog, error)
}

// Directory reads what the export says about the controller: its name, its webhook
// endpoints (the recipients) and the names of its API keys (sources).
type Directory interface {
	TenantName(ctx context.Context, tenant string) (string, error)
	Endpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error)
	// KeyName returns an API key's name, "" when unknown.
	KeyName(ctx context.Context, tenant, keyID string) string
}

// Objects stores exports (blob.Store implements it).
type Objects interface {
	Put(ctx context.Context, in blob.PutInput) error
}

// Notifier tells the person their export is ready. Implementations send an email that
// links to the portal, never to the presigned object URL.
type Notifier interface {
	ExportReady(ctx context.Context, n Ready) error
}

// Ready is what the "your export is ready" email needs. It holds the person's address
// only for the send.
type Ready struct {
	To         string
	Locale     string
	Tenant     string
	TenantName string
	RequestID  string
	Type       dsr.Type
	// ExpiresAt is when the export is deleted.
	ExpiresAt time.Time
}

// Options tune the job.
type Options struct {
	// Retention is how long an export is kept (Export.ExpiresAt); 7 days when zero. The
	// bucket's lifecycle rule deletes objects after the same number of days.
	Retention time.Duration
	// MaxAttempts equals the export queue's maxReceiveCount: the attempt that reaches it
	// marks the request failed before the message moves to the dead-letter queue.
	// DefaultMaxAttempts when zero.
	MaxAttempts int
	// TempDir holds the ZIP and spool files while building; "" means os.TempDir() (/tmp in Lambda).
	TempDir string
}

// Defaults of Options: template.yaml's ExportRetentionDays and JobMaxAttempts defaults.
const (
	DefaultRetention   = 7 * 24 * time.Hour
	DefaultMaxAttempts = 5
)

// Job is the export queue's handler. It is safe for concurrent use.
type Job struct {
	requests Requests
	profiles Profiles
	ledger   EventReader
	dir      Directory
	objects  Objects
	notify   Notifier
	log      *slog.Logger
	opts     Options
	now      func() time.Time
}

// NewJob returns the job; notify may be nil (no email is sent).
func NewJob(requests Requests, profiles Profiles, events EventReader, dir Directory, objects Objects, notify Notifier, log *slog.Logger, opts Options) *Job {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Job{requests: requests, profiles: profiles, ledger: events, dir: dir, objects: objects, notify: notify,
		log: log, opts: opts, now: time.Now}
}

// SetClock replaces the job's clock (tests).
func (j *Job) SetClock(now func() time.Time) { j.now = now }

// Handle carries out a batch of export jobs one after another and reports the ones to
// retry. A redelivered job is harmless: a request that is no longer open is skipped, and
// a rebuilt export replaces the object under the same key.
func (j *Job) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if err := j.handle(ctx, m); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func (j *Job) handle(ctx context.Context, m events.SQSMessage) error {
	var msg dsr.JobMessage
	if err := json.Unmarshal([]byte(m.Body), &msg); err != nil || msg.Tenant == "" || msg.RequestID == "" {
		j.log.ErrorContext(ctx, "malformed export job dropped", "messageId", m.MessageId)
		return nil
	}
	attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	attempt = max(attempt, 1)
	log := j.log.With("tenant", msg.Tenant, "requestId", msg.RequestID, "attempt", attempt)
	err := j.run(ctx, msg.Tenant, msg.RequestID, attempt >= j.opts.MaxAttempts)
	if err == nil {
		return nil
	}
	if attempt < j.opts.MaxAttempts {
		log.WarnContext(ctx, "export failed; the queue will retry", "err", err)
		return err
	}
	log.ErrorContext(ctx, "export failed on its last attempt; the request is marked failed and the job moves to the dead-letter queue", "err", err)
	// Mark it even when the attempt ran out of time: the invocation has a moment left.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if ferr := j.fail(fctx, msg.Tenant, msg.RequestID); ferr != nil {
		log.ErrorContext(ctx, "could not mark the request failed", "err", ferr)
	}
	return err
}

// errSkip ends a job that has nothing (more) to do.
var errSkip = errors.New("nothing to do")

// errUnverified refuses an export of a request the person has not confirmed.
var errUnverified = errors.New("the request awaits verification")

// run carries out one request's export: it marks the request in progress, builds the ZIP,
// stores it, tells the person and completes the request. A request that is not open, or
// not an access or portability request, is left alone. When the email cannot be sent, run
// fails without completing the request, so that a retry tells the person, unless this is
// the last attempt: the export then stays available to the brand and in the portal.
func (j *Job) run(ctx context.Context, tenant, requestID string, last bool) error {
	log := j.log.With("tenant", tenant, "requestId", requestID)
	start := j.now()
	r, err := j.update(ctx, tenant, requestID, nil, func(r *dsr.Request) error {
		if !r.Status.Open() || (r.Type != dsr.Access && r.Type != dsr.Portability) {
			return errSkip
		}
		if r.Waiting() {
			return errUnverified
		}
		if r.Status == dsr.InProgress {
			return errSkip // nothing to save; carry on below
		}
		r.Status, r.Failure, r.UpdatedAt = dsr.InProgress, "", j.now().UTC()
		return nil
	})
	switch {
	case errors.Is(err, errSkip) && r != nil && r.Status == dsr.InProgress:
	case errors.Is(err, errSkip):
		log.InfoContext(ctx, "export job skipped: the request is not an open export")
		return nil
	case errors.Is(err, errUnverified):
		// Whoever queued it, no export is made before the person confirmed; the release
		// queues the job again.
		log.WarnContext(ctx, "export job refused: the request awaits the person's confirmation")
		return nil
	case errs.CodeOf(err) == errs.NotFound:
		log.WarnContext(ctx, "export job dropped: no such request")
		return nil
	case err != nil:
		return fmt.Errorf("mark in progress: %w", err)
	}

	in, err := j.read(ctx, r)
	if err != nil {
		return err
	}
	p := in.profile
	if p == nil {
		// Erased before the export ran: nothing is held, so there is nothing to export.
		_, err := j.update(ctx, tenant, requestID, r, func(r *dsr.Request) error {
			if !r.Status.Open() {
				return errSkip
			}
			return r.Close(dsr.Completed, "", j.now().UTC())
		})
		if err != nil && !errors.Is(err, errSkip) {
			return fmt.Errorf("complete (no profile): %w", err)
		}
		log.InfoContext(ctx, "export completed without data: the profile no longer exists")
		return nil
	}
	art, err := j.build(ctx, r, in)
	if err != nil {
		return err
	}
	defer art.close()
	key := Key(tenant, p.ID, r.ID)
	if err := j.objects.Put(ctx, blob.PutInput{
		Key: key, Body: art.f, Size: art.size, ContentType: "application/zip",
		SHA256Base64:       base64.StdEncoding.EncodeToString(art.sha256),
		ContentDisposition: `attachment; filename="` + FileName(r.ID) + `"`,
		CacheControl:       "private, no-store",
	}); err != nil {
		return fmt.Errorf("store export: %w", err)
	}
	now := j.now().UTC()
	exp := &dsr.Export{Key: key, Bytes: art.size, SHA256: hex.EncodeToString(art.sha256), ExpiresAt: now.Add(j.opts.Retention)}

	// Tell the person before closing: closing forgets the address, and a redelivery after a
	// crash in between sends a second email rather than none.
	if err := j.tell(ctx, r, p, in.tenantName, exp); err != nil {
		if !last {
			return err
		}
		log.ErrorContext(ctx, "the person could not be told that the export is ready; completing it anyway on the last attempt", "err", err)
	}
	_, err = j.update(ctx, tenant, requestID, r, func(r *dsr.Request) error {
		if !r.Status.Open() {
			return errSkip
		}
		r.Export = exp
		return r.Close(dsr.Completed, "", now)
	})
	if err != nil && !errors.Is(err, errSkip) {
		return fmt.Errorf("complete: %w", err)
	}
	log.InfoContext(ctx, "export completed", "bytes", art.size, "events", art.summary.Ledger.Count,
		"ledgerVerified", art.summary.Ledger.Verified, "ms", j.now().Sub(start).Milliseconds())
	return nil
}

// tell emails the person that the export is ready. Without an address on the request it
// uses the profile's first email identity.
func (j *Job) tell(ctx context.Context, r *dsr.Request, p *profile.Profile, tenantName string, exp *dsr.Export) error {
	if j.notify == nil {
		return nil
	}
	to := r.NotifyEmail
	for _, id := range p.Identities {
		if to == "" && id.Type == "email" {
			to = id.Value
		}
	}
	if to == "" {
		j.log.WarnContext(ctx, "export ready but the person has no email address to tell", "tenant", r.Tenant, "requestId", r.ID)
		return nil
	}
	locale := r.Locale
	if locale == "" {
		locale, _ = p.Attributes[profile.AttrLocale].(string)
	}
	n := Ready{To: to, Locale: locale, Tenant: r.Tenant, TenantName: tenantName, RequestID: r.ID, Type: r.Type, ExpiresAt: exp.ExpiresAt}
	if err := j.notify.ExportReady(ctx, n); err != nil {
		return fmt.Errorf("email export ready: %w", err)
	}
	return nil
}

// builtExport is a built ZIP in a temporary file, rewound for upload.
type builtExport struct {
	f       *os.File
	size    int64
	sha256  []byte
	summary Summary
}

func (b *builtExport) close() {
	_ = b.f.Close()
	_ = os.Remove(b.f.Name())
}

// countingWriter counts and hashes what passes through to a file.
type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// sources is what an export is built from besides the ledger.
type sources struct {
	profile    *profile.Profile // nil when the person was erased
	catalog    *catalog.Catalog
	tenantName string
	recipients []webhook.Endpoint
	requests   []dsr.Request
}

// read reads the export's sources. They are independent, so they are read at once: this is
// on every export's path, and on a cold start each read waits for a connection of its own.
func (j *Job) read(ctx context.Context, r *dsr.Request) (sources, error) {
	var in sources
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		in.profile, err = j.profiles.GetProfile(ctx, r.Tenant, r.ProfileID)
		if errs.CodeOf(err) == errs.NotFound {
			in.profile, err = nil, nil
		}
		return wrap("read profile", err)
	})
	g.Go(func() (err error) {
		in.catalog, err = j.profiles.Catalog(ctx, r.Tenant)
		return wrap("read catalog", err)
	})
	g.Go(func() (err error) {
		in.tenantName, err = j.dir.TenantName(ctx, r.Tenant)
		return wrap("read tenant", err)
	})
	g.Go(func() (err error) {
		in.recipients, err = j.dir.Endpoints(ctx, r.Tenant)
		return wrap("read recipients", err)
	})
	g.Go(func() (err error) {
		in.requests, err = j.requests.RequestsOfProfile(ctx, r.Tenant, r.ProfileID)
		return wrap("read requests", err)
	})
	return in, g.Wait()
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// build builds the ZIP into a temporary file.
func (j *Job) build(ctx context.Context, r *dsr.Request, in sources) (*builtExport, error) {
	tenant, p := r.Tenant, in.profile
	f, err := os.CreateTemp(j.opts.TempDir, "export-*.zip")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	out := &builtExport{f: f}
	cw := &countingWriter{w: f, h: sha256.New()}
	keyNames := map[string]string{}
	out.summary, err = Build(ctx, cw, Input{
		GeneratedAt: j.now(), Controller: Controller{ID: tenant, Name: in.tenantName}, Request: *r, Profile: p, Catalog: in.catalog,
		Requests: in.requests, Recipients: RecipientsOf(in.recipients), Ledger: j.ledger, TempDir: j.opts.TempDir,
		SourceName: func(ctx context.Context, a ledger.Actor) string {
			if n, ok := keyNames[a.ID]; ok {
				return n
			}
			keyNames[a.ID] = j.dir.KeyName(ctx, tenant, a.ID)
			return keyNames[a.ID]
		},
	})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		out.close()
		return nil, fmt.Errorf("build export: %w", err)
	}
	out.size, out.sha256 = cw.n, cw.h.Sum(nil)
	return out, nil
}

// update applies change to a request and saves it, re-reading and re-applying when a
// concurrent writer got there first. It starts from a copy of last, the request as this job
// last read or saved it, when given (the save is conditioned on its version, so a change
// meanwhile only costs the re-read), and reads it otherwise. It returns the request as
// saved, or as read when change returns an error (which update returns too); last is never
// changed.
func (j *Job) update(ctx context.Context, tenant, id string, last *dsr.Request, change func(*dsr.Request) error) (*dsr.Request, error) {
	for attempt := 0; ; attempt++ {
		var r *dsr.Request
		if last != nil && attempt == 0 {
			c := *last
			r = &c
		} else {
			var err error
			if r, err = j.requests.Request(ctx, tenant, id); err != nil {
				return nil, err
			}
		}
		prior := r.Prior()
		if err := change(r); err != nil {
			return r, err
		}
		r.Version = prior.Version + 1
		err := j.requests.SaveRequest(ctx, r, prior)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, errs.ErrStale) || attempt >= maxSaveAttempts {
			return nil, err
		}
		wait := time.Duration(5<<min(attempt, 6))*time.Millisecond + rand.N(10*time.Millisecond)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// maxSaveAttempts bounds the retries of a request update that keeps meeting concurrent writes.
const maxSaveAttempts = 8

// fail marks an open request failed after the job's last attempt.
func (j *Job) fail(ctx context.Context, tenant, id string) error {
	_, err := j.update(ctx, tenant, id, nil, func(r *dsr.Request) error {
		if !r.Status.Open() || r.Status == dsr.Failed {
			return errSkip
		}
		r.Status, r.Failure, r.UpdatedAt = dsr.Failed, "the export job gave up after repeated errors; an operator must look", j.now().UTC()
		return nil
	})
	if errors.Is(err, errSkip) || errs.CodeOf(err) == errs.NotFound {
		return nil
	}
	return err
}

// Package erasure carries out erasure requests (GDPR Art. 17 and 19): the job taken off the
// erasure queue removes the person's personal data everywhere the product holds it, keeps
// only a pseudonymous tombstone and salted hashes of their identities (so that no sync can
// re-create them), tells every webhook recipient, completes the request and confirms it by
// email when an address was known.
//
// The job is a sequence of steps (see Step), each idempotent, so a redelivered or
// half-done job finishes the work without errors or residue:
//
//  1. start: the request is marked in_progress, and the address and language of the
//     confirmation are captured on it (it outlives the profile until it closes);
//  2. lock: the profile is frozen, so no write can add to it from then on;
//  3. tombstone: the pseudonymous record of the erasure (time, request, identity count) is
//     written in the profile's partition; it also holds the job's progress;
//  4. suppress: a salted hash of every identity the person ever had is recorded
//     (dynamo.Store.Suppress): the current ones, and those removed from the profile before,
//     which the ledger's identity.removed events name, unless another profile holds one now;
//  5. outbox: the job waits until the dispatcher has handed on every outbox item of the
//     person's changes (they hold personal data), and retries later if it does not;
//  6. requests: the person's other requests forget their email address (an open one keeps
//     it to confirm its outcome, and the request items outlive the erasure);
//  7. delete: identity items, the partition (ledger, request pointers, markers), and the
//     profile item last;
//  8. exports: every export object under "<tenant>/<profileId>/" in S3;
//  9. records: idempotency records whose stored answers show the profile;
//  10. notify: one outbox item with profile.erased and request.completed, written in one
//     transaction with the recipients on the request and the progress on the tombstone, so
//     they are emitted exactly once;
//  11. complete: the confirmation email, then the request is completed (which forgets the
//     address).
//
// Throttling is retried with backoff inside the job; an error that persists fails the
// message, which the queue delivers again; the last attempt (MaxAttempts, the queue's
// maxReceiveCount) marks the request failed with a reason before failing, so that it is
// visibly failed while the message waits in the dead-letter queue. A redrive resumes it.
package erasure

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/retention"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// EventErased is the webhook event type that tells recipients to erase the person (Art. 19).
const EventErased = "profile.erased"

// Actor is who the erasure's events name as their source.
var Actor = ledger.Actor{Kind: ledger.ActorSystem, ID: "erasure"}

// Store is what the job reads and writes; *dynamo.Store implements it.
type Store interface {
	Request(ctx context.Context, tenant, id string) (*dsr.Request, error)
	// SaveRequest and SaveRequestWithEvents store r in place of prior (dsr.Request.Prior of
	// the request as read, taken before changing it), failing with errs.ErrStale when the
	// stored request is not at prior.Version.
	SaveRequest(ctx context.Context, r *dsr.Request, prior dsr.Prior) error
	Profile(ctx context.Context, tenant, id string) (*profile.Profile, error)
	// Events and Lookup find the identities removed from the profile before (see removed).
	Events(ctx context.Context, tenant, profileID string, from int64, limit int) ([]ledger.Event, error)
	Lookup(ctx context.Context, tenant string, refs []app.Ref) (map[app.Ref]*profile.Profile, error)
	LockProfile(ctx context.Context, tenant, id string) (*profile.Profile, error)
	PutTombstone(ctx context.Context, t *dsr.Tombstone, create bool) (*dsr.Tombstone, error)
	Suppress(ctx context.Context, tenant string, ids []profile.Identity) error
	// SuppressUnheld suppresses those of ids no profile holds, each atomically with that check.
	SuppressUnheld(ctx context.Context, tenant string, ids []profile.Identity) error
	RequestsOfProfile(ctx context.Context, tenant, profileID string) ([]dsr.Request, error)
	PendingOutbox(ctx context.Context, tenant, profileID string) (int, error)
	DeleteProfileData(ctx context.Context, tenant, profileID string, ids []profile.Identity) (int, error)
	DeleteProfileRecords(ctx context.Context, tenant, profileID string) (int, error)
	SaveRequestWithEvents(ctx context.Context, r *dsr.Request, prior dsr.Prior, evs []ledger.Event, t *dsr.Tombstone) error
	Endpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error)
	Deliveries
}

// Deliveries reads the webhook delivery log.
type Deliveries interface {
	Delivery(ctx context.Context, tenant, endpointID, id string) (*webhook.Delivery, error)
}

// Exports deletes export objects by key prefix; *blob.Store implements it.
type Exports interface {
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// Mailer sends an email; mail.Sender implements it.
type Mailer interface {
	Send(ctx context.Context, to, locale string, kind mail.Kind, data map[string]string) error
}

// ExportPrefix is the key prefix of every export object of a person, as package export
// writes them ("<tenant>/<profileId>/").
func ExportPrefix(tenant, profileID string) string { return tenant + "/" + profileID + "/" }

// DefaultMaxAttempts is the template's default JobMaxAttempts.
const DefaultMaxAttempts = 5

// Options tune the job.
type Options struct {
	// MaxAttempts is the erasure queue's maxReceiveCount: the attempt that reaches it marks
	// the request failed before failing the message into the dead-letter queue. Zero never
	// marks it failed.
	MaxAttempts int
	// OutboxWait is how long one attempt waits for the person's pending outbox items to be
	// dispatched before failing the message for a later retry (default 20 s; never longer
	// than leaves 15 s of the invocation).
	OutboxWait time.Duration
	// Retries is how often a step is tried while storage throttles it (default 8), with
	// exponential backoff from RetryBase (default 100 ms) up to 5 s.
	Retries   int
	RetryBase time.Duration
	// Parallel bounds the jobs of one batch run at once (default 5).
	Parallel int
	// Transient reports whether an error of the store, the bucket or the mailer is the
	// service saying "slow down" or another passing condition worth a retry; the
	// composition root passes the AWS classifier. Default: errs.TooManyRequests only.
	Transient func(error) bool
}

// Job is the erasure worker. It is safe for concurrent use.
type Job struct {
	store   Store
	exports Exports
	mailer  Mailer
	log     *slog.Logger
	opts    Options
	now     func() time.Time
}

// New returns the job. exports and mailer may be nil: then no export is deleted (there is
// no bucket) or no confirmation sent.
func New(store Store, exports Exports, mailer Mailer, log *slog.Logger, opts Options) *Job {
	if opts.OutboxWait <= 0 {
		opts.OutboxWait = 20 * time.Second
	}
	if opts.Retries <= 0 {
		opts.Retries = 8
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 100 * time.Millisecond
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 5
	}
	if opts.Transient == nil {
		opts.Transient = func(err error) bool { return errs.CodeOf(err) == errs.TooManyRequests }
	}
	return &Job{store: store, exports: exports, mailer: mailer, log: log, opts: opts, now: time.Now}
}

// Step is one step of the job, in order.
type Step int

// The steps (see the package documentation).
const (
	StepStart Step = iota
	StepLock
	StepTombstone
	StepSuppress
	StepOutbox
	StepRequests
	StepDelete
	StepExports
	StepRecords
	StepNotify
	StepComplete
	stepEnd
)

var stepNames = [...]string{"start", "lock", "tombstone", "suppress", "outbox", "requests", "delete", "exports", "records", "notify", "complete"}

func (s Step) String() string {
	if s >= 0 && s < stepEnd {
		return stepNames[s]
	}
	return "step(" + strconv.Itoa(int(s)) + ")"
}

// Steps lists every step in order.
func Steps() []Step {
	out := make([]Step, stepEnd)
	for i := range out {
		out[i] = Step(i)
	}
	return out
}

// ErrInterrupted is returned by RunUntil when it stopped before the step it was given.
var ErrInterrupted = errors.New("erasure interrupted before a step")

// errOutboxPending fails an attempt while the person's changes wait for dispatch.
var errOutboxPending = errors.New("outbox items of the person are still waiting for dispatch")

// run is one attempt at one job.
type run struct {
	msg     dsr.JobMessage
	last    bool // the last attempt the queue makes
	req     *dsr.Request
	prof    *profile.Profile   // as locked; nil when it is gone
	removed []profile.Identity // identities removed from prof before, held by no other profile
	tomb    *dsr.Tombstone
	done    bool // nothing (more) to do
	emailed bool
}

// Run carries out one job to the end; it returns nil when the request is completed (or
// needs nothing more: unknown, closed, not an erasure).
func (j *Job) Run(ctx context.Context, m dsr.JobMessage) error {
	return j.attempt(ctx, m, false, stepEnd)
}

// RunUntil runs the job's steps before stop and returns ErrInterrupted: a worker that dies
// between two steps, for tests of resumption.
func (j *Job) RunUntil(ctx context.Context, m dsr.JobMessage, stop Step) error {
	return j.attempt(ctx, m, false, stop)
}

func (j *Job) attempt(ctx context.Context, m dsr.JobMessage, last bool, stop Step) error {
	r := &run{msg: m, last: last}
	log := j.log.With("tenant", m.Tenant, "requestId", m.RequestID)
	steps := [...]func(context.Context, *run) error{
		j.start, j.lock, j.tombstone, j.suppress, j.outbox, j.forget, j.delete, j.deleteExports, j.deleteRecords, j.notify, j.complete,
	}
	for i, fn := range steps {
		step := Step(i)
		if step == stop {
			return ErrInterrupted
		}
		if err := j.retry(ctx, log, step, func() error { return fn(ctx, r) }); err != nil {
			return fmt.Errorf("erasure %s: %w", step, err)
		}
		if r.done {
			return nil
		}
	}
	log.InfoContext(ctx, "erasure completed", "profileId", r.req.ProfileID, "recipients", len(r.req.Recipients))
	return nil
}

// retry runs fn until it succeeds, fails for a reason other than throttling or a
// concurrent change, or has been tried Options.Retries times.
func (j *Job) retry(ctx context.Context, log *slog.Logger, step Step, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !j.retryable(err) || attempt >= j.opts.Retries {
			return err
		}
		wait := min(j.opts.RetryBase<<(attempt-1), 5*time.Second)
		wait += time.Duration(rand.Int64N(int64(wait)/2 + 1))
		log.WarnContext(ctx, "erasure step retried", "step", step.String(), "attempt", attempt, "wait", wait.String(), "err", err.Error())
		if !sleep(ctx, wait) {
			return err
		}
	}
}

// retryable reports whether a step that failed with err may be tried again: the service
// said slow down (Options.Transient), or a concurrent change made the write stale.
func (j *Job) retryable(err error) bool {
	return j.opts.Transient(err) || errors.Is(err, errs.ErrStale)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// save writes r, changed from the stored state prior (taken when it was read), as its next
// version.
func (j *Job) save(ctx context.Context, r *dsr.Request, prior dsr.Prior) error {
	r.Version, r.UpdatedAt = prior.Version+1, j.now().UTC()
	if err := j.store.SaveRequest(ctx, r, prior); err != nil {
		r.Version = prior.Version
		return err
	}
	return nil
}

// start loads the request and marks it in progress, capturing where to confirm it.
func (j *Job) start(ctx context.Context, r *run) error {
	req, err := j.store.Request(ctx, r.msg.Tenant, r.msg.RequestID)
	if errs.CodeOf(err) == errs.NotFound {
		j.log.WarnContext(ctx, "erasure job of an unknown request dropped", "tenant", r.msg.Tenant, "requestId", r.msg.RequestID)
		r.done = true
		return nil
	}
	if err != nil {
		return err
	}
	if req.Type != dsr.Erasure {
		j.log.ErrorContext(ctx, "erasure job of a request of another type dropped", "tenant", r.msg.Tenant, "requestId", req.ID, "type", string(req.Type))
		r.done = true
		return nil
	}
	if !req.Status.Open() {
		r.done = true // completed by an earlier delivery, or cancelled/denied before the job ran
		return nil
	}
	if req.Waiting() {
		// Not confirmed by the person, or within its cool-off: the job never acts on such a
		// request, whoever queued it. Its release queues the job again.
		j.log.WarnContext(ctx, "erasure job of a request not yet released refused", "tenant", r.msg.Tenant, "requestId", req.ID, "status", string(req.Status))
		r.done = true
		return nil
	}
	changed, prior := false, req.Prior()
	if req.Status != dsr.InProgress || req.Failure != "" {
		req.Status, req.Failure, changed = dsr.InProgress, "", true
	}
	if req.NotifyEmail == "" || req.Locale == "" {
		p, err := j.store.Profile(ctx, req.Tenant, req.ProfileID)
		if err != nil && errs.CodeOf(err) != errs.NotFound {
			return err
		}
		if p != nil {
			if email := emailOf(p); req.NotifyEmail == "" && email != "" {
				req.NotifyEmail, changed = email, true
			}
			if l, ok := p.Attributes[profile.AttrLocale].(string); ok && req.Locale == "" && l != "" {
				req.Locale, changed = l, true
			}
		}
	}
	if changed {
		if err := j.save(ctx, req, prior); err != nil {
			return err
		}
	}
	r.req = req
	return nil
}

func emailOf(p *profile.Profile) string {
	for _, id := range p.Identities {
		if id.Type == "email" {
			return id.Value
		}
	}
	return ""
}

// lock freezes the profile, if it still exists.
func (j *Job) lock(ctx context.Context, r *run) error {
	p, err := j.store.LockProfile(ctx, r.req.Tenant, r.req.ProfileID)
	if errs.CodeOf(err) == errs.NotFound {
		r.prof = nil
		return nil
	}
	if err != nil {
		return err
	}
	r.prof = p
	r.removed, err = j.removedIdentities(ctx, r.req.Tenant, p)
	return err
}

// eventsPage is how many ledger events one read of the removed identities takes.
const eventsPage = 1000

// removedIdentities returns the identities the ledger says were removed from p and p does
// not hold now, leaving out any that another profile holds now (it is that person's, say
// a phone number given to someone else). It reads the whole ledger, after the lock, so no
// removal can be added meanwhile.
func (j *Job) removedIdentities(ctx context.Context, tenant string, p *profile.Profile) ([]profile.Identity, error) {
	var removed []profile.Identity
	for from := int64(1); ; {
		evs, err := j.store.Events(ctx, tenant, p.ID, from, eventsPage)
		if err != nil {
			return nil, fmt.Errorf("read ledger: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Type != profile.EventIdentityRemoved {
				continue
			}
			var id profile.Identity
			if err := json.Unmarshal(e.Old, &id); err != nil || id.Type == "" || id.Value == "" {
				return nil, fmt.Errorf("ledger event %d of the profile names no removed identity", e.Seq)
			}
			if !p.HasIdentity(id) && !slices.Contains(removed, id) {
				removed = append(removed, id)
			}
		}
		from = evs[len(evs)-1].Seq + 1
	}
	if len(removed) == 0 {
		return nil, nil
	}
	refs := make([]app.Ref, len(removed))
	for i, id := range removed {
		refs[i] = app.Ref{Identity: id}
	}
	held, err := j.store.Lookup(ctx, tenant, refs)
	if err != nil {
		return nil, fmt.Errorf("look up removed identities: %w", err)
	}
	return slices.DeleteFunc(removed, func(id profile.Identity) bool {
		other, ok := held[app.Ref{Identity: id}]
		return ok && other.ID != p.ID
	}), nil
}

// identities are every identity of the person to suppress: the current ones and the
// removed ones.
func (r *run) identities() []profile.Identity {
	if r.prof == nil {
		return nil
	}
	return append(slices.Clone(r.prof.Identities), r.removed...)
}

// aliases are the ids of the profiles merged into the erased one.
func (r *run) aliases() []string {
	if r.prof == nil {
		return nil
	}
	return r.prof.Aliases
}

// tombstone writes (or finds) the record of the erasure.
func (j *Job) tombstone(ctx context.Context, r *run) error {
	t, err := j.store.PutTombstone(ctx, &dsr.Tombstone{
		Tenant: r.req.Tenant, ProfileID: r.req.ProfileID, RequestID: r.req.ID,
		ErasedAt: j.now().UTC().Truncate(time.Millisecond), IdentitiesSuppressed: len(r.identities()),
	}, true)
	if err != nil {
		return err
	}
	r.tomb = t
	return nil
}

// suppress records the identities of the person. The current ones belong to the frozen
// profile until step delete, so no other write can take them; a removed one may be taken by
// a create at any moment, so its suppression is written under the check that nobody holds it.
// An erasure by retention suppresses nobody: the person did not ask to be forgotten, and may
// come back.
func (j *Job) suppress(ctx context.Context, r *run) error {
	if r.prof == nil || r.req.Source == retention.Actor {
		return nil
	}
	if err := j.store.Suppress(ctx, r.req.Tenant, r.prof.Identities); err != nil {
		return err
	}
	return j.store.SuppressUnheld(ctx, r.req.Tenant, r.removed)
}

// outboxPoll is how often the job looks again at the person's pending outbox items.
const outboxPoll = 250 * time.Millisecond

// outbox waits until no outbox item of the person's changes is left.
func (j *Job) outbox(ctx context.Context, r *run) error {
	if r.prof == nil {
		return nil // deleted in an earlier attempt, after its outbox was empty
	}
	wait := j.opts.OutboxWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-15*time.Second)
	}
	end := time.Now().Add(wait)
	for {
		n, err := j.store.PendingOutbox(ctx, r.req.Tenant, r.req.ProfileID)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().Add(outboxPoll).After(end) || !sleep(ctx, outboxPoll) {
			j.log.WarnContext(ctx, "erasure waits for the dispatch of the person's events", "tenant", r.req.Tenant,
				"requestId", r.req.ID, "pending", n)
			return errOutboxPending
		}
	}
}

// forget clears the email address on the person's other requests. It runs while the
// profile's partition, which points at them, still exists.
func (j *Job) forget(ctx context.Context, r *run) error {
	if r.prof == nil {
		return nil // the partition went in an earlier attempt, after this step
	}
	reqs, err := j.store.RequestsOfProfile(ctx, r.req.Tenant, r.req.ProfileID)
	if err != nil {
		return err
	}
	for i := range reqs {
		o := &reqs[i]
		if o.ID == r.req.ID || o.NotifyEmail == "" {
			continue
		}
		prior := o.Prior()
		o.NotifyEmail = ""
		if err := j.save(ctx, o, prior); err != nil {
			return err // stale: the step runs again and reads them afresh
		}
	}
	return nil
}

func (j *Job) delete(ctx context.Context, r *run) error {
	// The profiles merged into this one keep their own chains and records under their ids;
	// they go first, so a run cut short finds the profile, and with it the aliases, again.
	n := 0
	for _, alias := range r.aliases() {
		a, err := j.store.DeleteProfileData(ctx, r.req.Tenant, alias, nil)
		if err != nil {
			return err
		}
		if _, err := j.store.DeleteProfileRecords(ctx, r.req.Tenant, alias); err != nil {
			return err
		}
		n += a
	}
	own, err := j.store.DeleteProfileData(ctx, r.req.Tenant, r.req.ProfileID, r.identities())
	if err != nil {
		return err
	}
	n += own
	if n > 0 {
		j.log.InfoContext(ctx, "erasure deleted items", "tenant", r.req.Tenant, "requestId", r.req.ID, "items", n)
	}
	return nil
}

func (j *Job) deleteExports(ctx context.Context, r *run) error {
	if j.exports == nil {
		return nil
	}
	n, err := j.exports.DeletePrefix(ctx, ExportPrefix(r.req.Tenant, r.req.ProfileID))
	if err != nil {
		return err
	}
	if n > 0 {
		j.log.InfoContext(ctx, "erasure deleted exports", "tenant", r.req.Tenant, "requestId", r.req.ID, "objects", n)
	}
	return nil
}

func (j *Job) deleteRecords(ctx context.Context, r *run) error {
	_, err := j.store.DeleteProfileRecords(ctx, r.req.Tenant, r.req.ProfileID)
	return err
}

// notify emits the erasure's events and records their recipients on the request, once.
func (j *Job) notify(ctx context.Context, r *run) error {
	if r.tomb.Notified || r.tomb.RequestID != r.req.ID {
		return nil // done by an earlier attempt, or by the request that erased the profile first
	}
	req, err := j.store.Request(ctx, r.req.Tenant, r.req.ID)
	if err != nil {
		return err
	}
	if !req.Status.Open() {
		r.done = true // cancelled or denied meanwhile: the data is gone, but nobody asked to tell
		return nil
	}
	evs := Events(req, r.tomb)
	eps, err := j.store.Endpoints(ctx, req.Tenant)
	if err != nil {
		return err
	}
	prior := req.Prior()
	req.Recipients = Recipients(evs[0], eps)
	t := *r.tomb
	t.Notified = true
	req.Version, req.UpdatedAt = prior.Version+1, j.now().UTC()
	// One transaction: the recipients, the events and the progress mark, so the events are
	// emitted exactly once whenever the job dies.
	if err := j.store.SaveRequestWithEvents(ctx, req, prior, evs, &t); err != nil {
		return err
	}
	r.tomb, r.req = &t, req
	return nil
}

// complete confirms by email, then completes the request.
func (j *Job) complete(ctx context.Context, r *run) error {
	req, err := j.store.Request(ctx, r.req.Tenant, r.req.ID)
	if err != nil {
		return err
	}
	if !req.Status.Open() {
		r.done = true
		return nil
	}
	prior := req.Prior()
	if _, err := RefreshRecipients(ctx, j.store, req); err != nil {
		return err
	}
	now := j.now().UTC()
	if !r.emailed && req.NotifyEmail != "" && j.mailer != nil {
		err := j.mailer.Send(ctx, req.NotifyEmail, req.Locale, mail.ErasureDone,
			map[string]string{"requestId": req.ID, "completedAt": mail.Date(now, req.Locale)})
		if err != nil {
			if !r.last {
				return fmt.Errorf("confirmation email: %w", err)
			}
			// The erasure is done; a lost confirmation must not make it look failed.
			j.log.ErrorContext(ctx, "erasure confirmation not sent; completing without it", "tenant", req.Tenant,
				"requestId", req.ID, "err", err.Error())
		}
		r.emailed = true
	}
	if err := req.Close(dsr.Completed, "", now); err != nil {
		return err
	}
	if err := j.save(ctx, req, prior); err != nil {
		return err
	}
	r.req = req
	return nil
}

// stableID derives an event id from parts, in the form of app.NewID("ev_"), so a
// redelivered job emits the same events.
func stableID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "ev_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil)[:16]))
}

// Events returns the events an erasure emits, the same for every attempt: profile.erased
// (Subject: the request id; New: the request id and how many identities were suppressed)
// and request.completed (as the requests API emits it), both at the tombstone's time.
func Events(r *dsr.Request, t *dsr.Tombstone) []ledger.Event {
	erased := ledger.Event{
		ID: stableID("erasure", r.Tenant, r.ID, EventErased), Tenant: r.Tenant, ProfileID: r.ProfileID,
		Type: EventErased, At: t.ErasedAt, Actor: Actor, Subject: r.ID,
		New: mustJSON(map[string]any{"requestId": r.ID, "identitiesSuppressed": t.IdentitiesSuppressed}),
	}
	ledger.Seal("", &erased)
	state := app.RequestState{ID: r.ID, Type: r.Type, Purpose: r.Purpose, Status: dsr.InProgress, DueAt: r.DueAt}
	if r.Extension != nil {
		state.ExtensionMonths = r.Extension.Months
	}
	done := state
	done.Status = dsr.Completed
	completed := ledger.Event{
		ID: stableID("erasure", r.Tenant, r.ID, app.EventRequestCompleted), Tenant: r.Tenant, ProfileID: r.ProfileID,
		Type: app.EventRequestCompleted, At: t.ErasedAt, Actor: Actor, Subject: string(r.Type),
		Old: mustJSON(state), New: mustJSON(done),
	}
	ledger.Seal(erased.Hash, &completed)
	return []ledger.Event{erased, completed}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("erasure: event value does not marshal: " + err.Error()) // plain structs and maps always do
	}
	return b
}

// Recipients are the endpoints that receive the erasure event, each with the id its
// delivery gets in the webhook delivery log, pending until RefreshRecipients sees more.
func Recipients(erased ledger.Event, eps []webhook.Endpoint) []dsr.Recipient {
	e := webhook.FromLedger(erased)
	out := []dsr.Recipient{}
	for i := range eps {
		if eps[i].Wants(e) {
			out = append(out, dsr.Recipient{EndpointID: eps[i].ID, DeliveryID: webhook.DeliveryID(e, eps[i].ID), Status: webhook.Pending})
		}
	}
	return out
}

// RefreshRecipients updates the status of each of an erasure request's recipients from the
// webhook delivery log ("delivered" is the recipient's acknowledgement) and reports whether
// any changed. It reads one log entry per recipient not yet delivered; an entry not (yet)
// written leaves the status as it was. The requests API may call it when it shows a request.
func RefreshRecipients(ctx context.Context, d Deliveries, r *dsr.Request) (bool, error) {
	changed := false
	for i := range r.Recipients {
		rc := &r.Recipients[i]
		if rc.Status == webhook.Delivered {
			continue
		}
		del, err := d.Delivery(ctx, r.Tenant, rc.EndpointID, rc.DeliveryID)
		if errs.CodeOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return changed, err
		}
		if del.Status != rc.Status {
			rc.Status, changed = del.Status, true
		}
	}
	return changed, nil
}

// Handle carries out a batch of jobs and reports the messages to retry. The same job
// delivered twice in one batch runs once. A failed job's messages are returned for a
// retry; on the last attempt the request is first marked failed.
func (j *Job) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	type job struct {
		msg     dsr.JobMessage
		ids     []string
		attempt int
	}
	byMsg := map[dsr.JobMessage]*job{}
	var jobs []*job
	for _, m := range ev.Records {
		var msg dsr.JobMessage
		if err := json.Unmarshal([]byte(m.Body), &msg); err != nil || msg.Tenant == "" || msg.RequestID == "" {
			j.log.ErrorContext(ctx, "malformed erasure job dropped", "messageId", m.MessageId)
			continue
		}
		attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		jb, ok := byMsg[msg]
		if !ok {
			jb = &job{msg: msg}
			byMsg[msg] = jb
			jobs = append(jobs, jb)
		}
		jb.ids = append(jb.ids, m.MessageId)
		jb.attempt = max(jb.attempt, attempt, 1)
	}
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
		sem  = make(chan struct{}, j.opts.Parallel)
	)
	for _, jb := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			last := j.opts.MaxAttempts > 0 && jb.attempt >= j.opts.MaxAttempts
			err := j.attempt(ctx, jb.msg, last, stepEnd)
			if err == nil {
				return
			}
			log := j.log.With("tenant", jb.msg.Tenant, "requestId", jb.msg.RequestID, "attempt", jb.attempt)
			if last {
				log.ErrorContext(ctx, "erasure gave up; the job moves to the dead-letter queue", "err", err.Error())
				j.markFailed(ctx, jb.msg, jb.attempt, err)
			} else {
				log.WarnContext(ctx, "erasure attempt failed; the queue will retry it", "err", err.Error())
			}
			mu.Lock()
			for _, id := range jb.ids {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return resp, nil
}

// markFailed records on the request that the job gave up, and why (without personal data).
func (j *Job) markFailed(ctx context.Context, m dsr.JobMessage, attempts int, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	reason := fmt.Sprintf("the erasure gave up after %d attempts: %s; an operator must redrive the job from the erasure dead-letter queue", attempts, j.failureClass(cause))
	log := j.log.With("tenant", m.Tenant, "requestId", m.RequestID)
	err := j.retry(ctx, log, StepComplete, func() error {
		req, err := j.store.Request(ctx, m.Tenant, m.RequestID)
		if err != nil || !req.Status.Open() {
			return err
		}
		prior := req.Prior()
		req.Status, req.Failure = dsr.Failed, reason
		return j.save(ctx, req, prior)
	})
	if err != nil {
		log.ErrorContext(ctx, "could not mark the request failed", "err", err.Error())
	}
}

// failureClass says in a few words, without personal data, why the job failed.
func (j *Job) failureClass(err error) string {
	switch {
	case errors.Is(err, errOutboxPending):
		return "events of the person were still waiting for dispatch"
	case j.opts.Transient(err):
		return "the database kept throttling"
	case errors.Is(err, context.DeadlineExceeded):
		return "it ran out of time"
	}
	for i := StepStart; i < stepEnd; i++ {
		if strings.HasPrefix(err.Error(), "erasure "+i.String()+":") {
			return "an internal error in step " + i.String()
		}
	}
	return "an internal error"
}

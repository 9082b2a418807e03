// Package sweep watches the Art. 12(3) deadlines of data-subject requests. Run on a
// schedule (hourly), it reads every tenant's open requests that are due within
// dsr.DueSoonWindow or overdue, updates their DueSoon and Overdue flags, and saves each that
// changed under optimistic concurrency together with a request.updated event about it (one
// transaction: transactional outbox), so a brand's systems hear of a deadline before it
// passes. Running it again changes nothing.
//
// It also acts on the requests' timers (dsr.Request.Timer, listed on an index): a request
// nobody confirmed by its VerifyBy is cancelled with dsr.ExpiredReason (request.completed),
// and an erasure whose cool-off ended is released (request.released, from which the
// dispatcher queues its job).
package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// Store is what the sweeper reads and writes; *dynamo.Store implements it.
type Store interface {
	Tenants(ctx context.Context) ([]string, error)
	OpenRequests(ctx context.Context, tenant string, dueBefore time.Time, limit int) ([]dsr.Request, error)
	// DueTimers lists the ids of requests whose timer is at or before now.
	DueTimers(ctx context.Context, tenant string, now time.Time, limit int) ([]string, error)
	Request(ctx context.Context, tenant, id string) (*dsr.Request, error)
	// SaveRequestWithEvents saves r and writes an outbox item for evs in one transaction;
	// a concurrent change fails it with errs.ErrStale (t is always nil here).
	SaveRequestWithEvents(ctx context.Context, r *dsr.Request, prior dsr.Prior, evs []ledger.Event, t *dsr.Tombstone) error
}

// Actor is who the sweeper's events name as their source.
var Actor = ledger.Actor{Kind: ledger.ActorSystem, ID: "deadline-sweeper"}

// MaxPerTenant bounds the requests one run reads per tenant; the rest wait for the next run
// (a tenant with more requests due within a week than this has a bigger problem, logged).
const MaxPerTenant = 5000

// saveAttempts bounds the retries of one request's save under concurrent changes.
const saveAttempts = 5

// Sweeper is the scheduled handler. It is safe for concurrent use.
type Sweeper struct {
	store Store
	log   *slog.Logger
	now   app.Clock
}

// New returns a sweeper; now nil means time.Now.
func New(store Store, log *slog.Logger, now app.Clock) *Sweeper {
	if now == nil {
		now = time.Now
	}
	return &Sweeper{store: store, log: log, now: now}
}

// Result counts what one sweep did.
type Result struct {
	Tenants int // tenants swept
	Checked int // open requests due within the window or overdue
	Marked  int // requests whose flags changed and were saved (and announced)
	Failed  int // requests that could not be saved or announced this time
	// Expired counts requests cancelled unconfirmed; Released, erasures whose cool-off ended.
	Expired  int
	Released int
}

// Handle is the Schedule handler: one sweep at the event's time. It fails (and so is
// retried by EventBridge) when any tenant or request could not be handled.
func (s *Sweeper) Handle(ctx context.Context, _ events.EventBridgeEvent) error {
	res, err := s.Sweep(ctx)
	s.log.InfoContext(ctx, "deadline sweep", "tenants", res.Tenants, "checked", res.Checked, "marked", res.Marked, "failed", res.Failed,
		"expired", res.Expired, "released", res.Released)
	return err
}

// Sweep marks every tenant's requests as of now. A failure with one tenant or request does
// not stop the others; the errors are joined.
func (s *Sweeper) Sweep(ctx context.Context) (Result, error) {
	var res Result
	tenants, err := s.store.Tenants(ctx)
	if err != nil {
		return res, fmt.Errorf("list tenants: %w", err)
	}
	now := s.now().UTC()
	var failures []error
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return res, errors.Join(append(failures, err)...)
		}
		reqs, err := s.store.OpenRequests(ctx, t, now.Add(dsr.DueSoonWindow), MaxPerTenant)
		if err != nil {
			failures = append(failures, fmt.Errorf("tenant %s: %w", t, err))
			continue
		}
		res.Tenants++
		if len(reqs) == MaxPerTenant {
			s.log.WarnContext(ctx, "more requests due within the window than one sweep reads", "tenant", t, "read", len(reqs))
		}
		for i := range reqs {
			res.Checked++
			marked, err := s.mark(ctx, &reqs[i], now)
			if err != nil {
				res.Failed++
				failures = append(failures, fmt.Errorf("tenant %s request %s: %w", t, reqs[i].ID, err))
				s.log.ErrorContext(ctx, "deadline sweep of a request failed", "tenant", t, "requestId", reqs[i].ID, "err", err.Error())
				continue
			}
			if marked {
				res.Marked++
			}
		}
		ids, err := s.store.DueTimers(ctx, t, now, MaxPerTenant)
		if err != nil {
			failures = append(failures, fmt.Errorf("tenant %s timers: %w", t, err))
			continue
		}
		for _, id := range ids {
			what, err := s.timer(ctx, t, id, now)
			switch {
			case err != nil:
				res.Failed++
				failures = append(failures, fmt.Errorf("tenant %s request %s timer: %w", t, id, err))
				s.log.ErrorContext(ctx, "request timer failed", "tenant", t, "requestId", id, "err", err.Error())
			case what == app.EventRequestCompleted:
				res.Expired++
			case what == app.EventRequestReleased:
				res.Released++
			}
		}
	}
	return res, errors.Join(failures...)
}

// timer acts on one request whose timer is due: it cancels an unconfirmed one (expired)
// or releases an erasure whose cool-off ended, saving the request with its event in one
// transaction, and reports the event type written ("" when nothing was due any more).
func (s *Sweeper) timer(ctx context.Context, tenant, id string, now time.Time) (string, error) {
	for attempt := 1; ; attempt++ {
		r, err := s.store.Request(ctx, tenant, id)
		if errs.CodeOf(err) == errs.NotFound {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		at := r.Timer()
		if at.IsZero() || now.Before(at) {
			return "", nil
		}
		old, prior := stateOf(r), r.Prior()
		evType := app.EventRequestReleased
		if r.Status == dsr.AwaitingVerification {
			if err := r.Close(dsr.Cancelled, "", now); err != nil {
				return "", err
			}
			r.CancelReason, evType = dsr.ExpiredReason, app.EventRequestCompleted
		} else {
			r.ReleasedAt = &now
		}
		r.Version, r.UpdatedAt = prior.Version+1, now
		r.MarkDeadlines(now)
		ev := updatedEvent(r, old, now)
		ev.Type = evType
		err = s.store.SaveRequestWithEvents(ctx, r, prior, []ledger.Event{ev}, nil)
		if err == nil {
			s.log.InfoContext(ctx, "request timer acted on", "tenant", tenant, "requestId", id, "event", evType)
			return evType, nil
		}
		if !errors.Is(err, errs.ErrStale) || attempt >= saveAttempts {
			return "", err
		}
	}
}

// mark updates one request's flags as of now; when they change it saves the request and a
// request.updated event about it in one transaction, re-reading and judging afresh when the
// request changed meanwhile.
func (s *Sweeper) mark(ctx context.Context, r *dsr.Request, now time.Time) (bool, error) {
	for attempt := 1; ; attempt++ {
		old, prior := stateOf(r), r.Prior()
		if !r.MarkDeadlines(now) {
			return false, nil
		}
		r.Version = prior.Version + 1
		err := s.store.SaveRequestWithEvents(ctx, r, prior, []ledger.Event{updatedEvent(r, old, now)}, nil)
		if err == nil {
			s.log.InfoContext(ctx, "request deadline flagged", "tenant", r.Tenant, "requestId", r.ID, "dueSoon", r.DueSoon, "overdue", r.Overdue)
			return true, nil
		}
		if !errors.Is(err, errs.ErrStale) || attempt >= saveAttempts {
			return false, err
		}
		// Changed meanwhile (a job, an extension): read it again and judge afresh.
		fresh, err := s.store.Request(ctx, r.Tenant, r.ID)
		if err != nil {
			return false, err
		}
		if !fresh.Status.Open() {
			return false, nil
		}
		*r = *fresh
	}
}

// State is the Old and New value of the sweeper's request.updated events: the request's
// state as the requests API announces it, with the deadline flags.
type State struct {
	app.RequestState
	DueSoon bool `json:"dueSoon"`
	Overdue bool `json:"overdue"`
}

func stateOf(r *dsr.Request) State {
	st := State{RequestState: app.RequestState{ID: r.ID, Type: r.Type, Purpose: r.Purpose, Status: r.Status, DueAt: r.DueAt},
		DueSoon: r.DueSoon, Overdue: r.Overdue}
	if r.Extension != nil {
		st.ExtensionMonths = r.Extension.Months
	}
	return st
}

// updatedEvent is the request.updated event about r's new flags (Subject: the request type,
// as the requests API's events have).
func updatedEvent(r *dsr.Request, old State, now time.Time) ledger.Event {
	oldJSON, _ := json.Marshal(old) // plain struct: cannot fail
	newJSON, _ := json.Marshal(stateOf(r))
	e := ledger.Event{
		ID: eventID(r.Tenant, r.ID, r.Version), Tenant: r.Tenant, ProfileID: r.ProfileID, Type: app.EventRequestUpdated,
		At: now, Actor: Actor, Subject: string(r.Type), Old: oldJSON, New: newJSON,
	}
	ledger.Seal("", &e)
	return e
}

// eventID is stable for a request's version, in the form of app.NewID("ev_").
func eventID(tenant, requestID string, version int64) string {
	sum := sha256.Sum256([]byte("deadline\x00" + tenant + "\x00" + requestID + "\x00" + strconv.FormatInt(version, 10)))
	return "ev_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

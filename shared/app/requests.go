package app

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Ledger event types of data-subject requests, recorded on the person's profile while it
// exists. request.created has Subject = the request type and New = dsr.CreatedEvent (the
// dispatcher starts erasure and export jobs from it); the others have Old and New =
// RequestState.
const (
	EventRequestCreated   = "request.created"
	EventRequestUpdated   = "request.updated"   // the deadline was extended
	EventRequestCompleted = "request.completed" // the request reached a final status
)

// ErrDuplicateRequest means an open request with the same dsr.Request.DedupKey exists for
// the person; a Commit or SaveRequest that would create a second one fails with it.
var ErrDuplicateRequest = errors.New("an open request of this type exists for the person")

// RequestStore keeps data-subject requests.
type RequestStore interface {
	// Delivery reads a webhook delivery's log entry; an erasure's recipients are told by one.
	Delivery(ctx context.Context, tenant, endpointID, id string) (*webhook.Delivery, error)
	// Request reads one request; NotFound when absent.
	Request(ctx context.Context, tenant, id string) (*dsr.Request, error)
	// SaveRequest writes r (r.Version = prior.Version+1; the zero prior creates), conditioned
	// on the stored version being prior's, without reading it: prior must be the state read
	// (dsr.Request.Prior, taken before changing r). A mismatch, or a request no longer
	// stored, fails with errs.ErrStale.
	SaveRequest(ctx context.Context, r *dsr.Request, prior dsr.Prior) error
	// ListRequests reads one page of a tenant's requests in due-date order.
	ListRequests(ctx context.Context, tenant string, f RequestFilter) (RequestPage, error)
	// DuplicateOf returns the id of the open request holding dedupKey for the profile;
	// NotFound when none does.
	DuplicateOf(ctx context.Context, tenant, profileID, dedupKey string) (string, error)
	// ClearDuplicate removes the profile's dedupKey marker if it still names requestID.
	ClearDuplicate(ctx context.Context, tenant, profileID, dedupKey, requestID string) error
}

// RequestSave is a request to store and the stored state it replaces: dsr.Request.Prior
// taken when it was read, or the zero Prior when it is new.
type RequestSave struct {
	Request *dsr.Request
	Prior   dsr.Prior
}

// RequestFilter selects requests for ListRequests.
type RequestFilter struct {
	Open      bool       // open requests (pending, in_progress, failed) or closed ones
	Status    dsr.Status // only this status (which must fit Open); "" for all
	DueBefore time.Time  // only requests due before this instant; zero for all
	Limit     int        // 1 to MaxRequestPage
	Cursor    string     // from a previous page's Cursor; "" for the first page
}

// RequestPage is one page of requests.
type RequestPage struct {
	Requests []dsr.Request
	Cursor   string // where the next page starts; "" on the last page
}

// MaxRequestPage is the largest page of requests.
const MaxRequestPage = 100

// Notifier tells a person about their request at the address to (the request's
// NotifyEmail). Its errors must hold no personal data.
type Notifier interface {
	// NotifyExtension tells of r's extension: its months, reason and new due date
	// (Art. 12(3)).
	NotifyExtension(ctx context.Context, r *dsr.Request, to string) error
	// NotifyDenial tells that r was denied, and why (r.DenialReason).
	NotifyDenial(ctx context.Context, r *dsr.Request, to string) error
	// NotifyConfirmation sends the person the single-use links of r, in r.Locale.
	NotifyConfirmation(ctx context.Context, r *dsr.Request, to string, l RequestLinks) error
}

// RequestLinks are the single-use link tokens of a new request, for the portal's confirm
// page (PortalConfirm) under Base.
type RequestLinks struct {
	Base    string // where the portal's URLs start (see RequestInput.LinkBase)
	Confirm string // the token that confirms the request; "" when it needs no confirmation
	Cancel  string // the token that calls an erasure off in its cool-off; "" without one
	// CoolOff is the tenant's erasure cool-off.
	CoolOff time.Duration
}

// WithNotifier makes the service tell people of extensions and denials through n. Without
// one it tells no one, and an extension stays Notified=false for whoever sends notices.
func (s *Service) WithNotifier(n Notifier) *Service {
	s.notifier = n
	return s
}

// Reasons an extension notice was not sent, recorded as Extension.NotifyErr for the brand.
const (
	NoticeNoAddress = "the person has no email address: tell them of the extension another way"
	NoticeFailed    = "the extension notice could not be sent: tell the person another way"
)

// RequestInput is a new data-subject request as a caller gave it: the person by profile id
// or by identity, what they ask for, and how their identity was verified.
type RequestInput struct {
	ProfileID    string
	Identity     *IdentityInput
	Type         dsr.Type
	Purpose      string // objection only
	Verification dsr.Verification
	// AttestationReason is required with dsr.AttestedBrand: why the brand is sure.
	AttestationReason string
	Locale            string // "" for the profile's locale attribute, else the catalog's default
	// LinkBase is where the hosted portal's URLs start, for the links emailed to the person.
	LinkBase string
}

// MaxAttestationReason bounds an attestation's reason, in characters.
const MaxAttestationReason = 1000

// EventRequestConfirmed is written when the person confirms a request that then waits for
// its cool-off; EventRequestReleased when a job may start (New: id and type, as
// dsr.CreatedEvent), from which the dispatcher queues it.
const (
	EventRequestConfirmed = "request.confirmed"
	EventRequestReleased  = "request.released"
)

// RequestWrite describes who changes a request.
type RequestWrite struct {
	Actor     ledger.Actor
	RequestID string
	// Idempotency, when set, stores the write's RequestResult with the change (see Record).
	Idempotency *Idempotency
}

// RequestResult is the outcome of creating or changing a request.
type RequestResult struct {
	Request *dsr.Request `json:"request"`
	// Duplicate says an open request of the same type for the same person existed, and
	// Request is that one: nothing was created.
	Duplicate bool `json:"duplicate"`
}

// RequestState is the Old and New value of request.updated and request.completed ledger
// events: the request's state without free text (reasons are kept on the request).
type RequestState struct {
	ID              string     `json:"id"`
	Type            dsr.Type   `json:"type"`
	Purpose         string     `json:"purpose,omitempty"`
	Status          dsr.Status `json:"status"`
	DueAt           time.Time  `json:"dueAt"`
	ExtensionMonths int        `json:"extensionMonths,omitempty"`
	// Verification is how the person proved who they are, as recorded by then.
	Verification dsr.Verification `json:"verification,omitempty"`
}

func stateOf(r *dsr.Request) RequestState {
	st := RequestState{ID: r.ID, Type: r.Type, Purpose: r.Purpose, Status: r.Status, DueAt: r.DueAt, Verification: r.Verification}
	if r.Extension != nil {
		st.ExtensionMonths = r.Extension.Months
	}
	return st
}

// ValidRequestID reports whether s has the shape of an id made by NewID("rq_").
func ValidRequestID(s string) bool {
	if len(s) != 29 || s[:3] != "rq_" {
		return false
	}
	for _, r := range s[3:] {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// CreateRequest records a data-subject request in one transaction with a request.created
// ledger event on the person's profile (and so an outbox item). A second open request with
// the same dsr.Request.DedupKey for the same person creates nothing and returns the first
// (Duplicate). Restriction, its lifting, objection and automated-decision opt-out take
// effect on the profile in the same transaction, with their usual ledger events, and are
// stored completed (request.completed).
func (s *Service) CreateRequest(ctx context.Context, tenant string, in RequestInput, w RequestWrite) (RequestResult, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return RequestResult{}, err
	}
	var f errs.Fields
	ref := checkRef(cat, CheckInput{ProfileID: in.ProfileID, Identity: in.Identity}, func(s string) string { return s }, &f)
	probe := dsr.Request{Type: in.Type, Purpose: in.Purpose, Verification: in.Verification}
	f.Join(probe.Validate())
	if pur, ok := cat.Purpose(in.Purpose); in.Type == dsr.Objection && in.Purpose != "" && !ok {
		f.Unmet("purpose", "unknown purpose")
	} else if in.Type == dsr.Objection && ok && !pur.Objectable() {
		f.Unmet("purpose", objectionRefusal(pur.LegalBasis))
	}
	if in.Verification == dsr.AttestedBrand {
		if n := utf8.RuneCountInString(in.AttestationReason); n < 10 || n > MaxAttestationReason || !utf8.ValidString(in.AttestationReason) {
			f.Unmet("attestationReason", fmt.Sprintf("is required with an attestation: 10 to %d characters saying how the brand verified the person (no personal data)", MaxAttestationReason))
		}
	} else if in.AttestationReason != "" {
		f.Unmet("attestationReason", "is only for an attested verification")
	}
	if in.Locale != "" && !cat.SupportsLocale(in.Locale) {
		f.Unmet("locale", "must be one of the catalog's locales")
	}
	if err := f.Err(); err != nil {
		return RequestResult{}, err
	}
	for attempt := 1; ; attempt++ {
		p, err := s.Resolve(ctx, tenant, ref)
		if errs.CodeOf(err) == errs.NotFound {
			if ref.ID != "" {
				return RequestResult{}, errs.E(errs.NotFound, "profile not found", errs.FieldError{Field: "profileId", Reason: "no profile has this id"})
			}
			return RequestResult{}, errs.E(errs.NotFound, "profile not found", errs.FieldError{Field: "identity", Reason: "no profile has this identity"})
		}
		if err != nil {
			return RequestResult{}, err
		}
		res, ln, err := s.createRequestLinks(ctx, tenant, p, cat, in, w)
		switch {
		case errors.Is(err, ErrDuplicateRequest):
			dup, derr := s.openDuplicate(ctx, tenant, p.ID, res.Request.DedupKey())
			if derr != nil {
				return RequestResult{}, derr
			}
			if dup != nil {
				out := RequestResult{Request: dup, Duplicate: true}
				dup.MarkDeadlines(s.now())
				return out, s.putRecord(ctx, tenant, w, out)
			}
			// The marker named a request that is no longer open; it was cleared: try again.
		case errors.Is(err, errs.ErrStale):
			// The profile changed meanwhile: load it again.
		case err != nil:
			return res, err
		default:
			s.sendLinks(ctx, res.Request, ln)
			return res, nil
		}
		if attempt >= maxAttempts {
			return RequestResult{}, errs.E(errs.TooManyRequests, "the profile is changing too often; retry")
		}
		backoff(attempt)
	}
}

// objectionRefusal says why a purpose takes no objection under Art. 21.
func objectionRefusal(b catalog.LegalBasis) string {
	if b == catalog.Consent {
		return "the purpose is based on consent: the person withdraws the consent (Art. 7(3)) instead of objecting; Art. 21 covers purposes based on legitimate interests or a public task, and direct marketing"
	}
	return fmt.Sprintf("the purpose's legal basis is %s: Art. 21 gives a right to object only to purposes based on legitimate interests or a public task, and to direct marketing", b)
}

// createRequestLinks is one attempt of CreateRequest on the profile as read; it also
// returns the links to email. An access,
// portability or erasure request nobody verified waits for the person's confirmation
// (dsr.AwaitingVerification) by a link emailed to the address on the profile; an erasure
// under the tenant's cool-off also gets a link to call it off. A job waits (the
// request.created event holds it) until the request is released.
func (s *Service) createRequestLinks(ctx context.Context, tenant string, p *profile.Profile, cat *catalog.Catalog, in RequestInput, w RequestWrite) (RequestResult, RequestLinks, error) {
	now := s.now().UTC()
	r := dsr.New(NewID("rq_"), tenant, p.ID, in.Type, in.Purpose, in.Verification, w.Actor, now)
	r.Version = 1
	r.Locale = requestLocale(cat, in.Locale, p)
	r.NotifyEmail = emailOf(p)
	r.AttestationReason = in.AttestationReason
	ln := RequestLinks{Base: in.LinkBase, CoolOff: cat.ErasureCoolOff()}
	if r.Type.Job() && r.Verification == dsr.Unverified {
		if r.NotifyEmail == "" {
			return RequestResult{}, ln, errs.Unmet("verification", "the person has no email address to confirm the request by: verify them yourself and attest it with an API key of the attest scope")
		}
		by := now.Add(cat.VerificationWindow())
		r.Status, r.VerifyBy = dsr.AwaitingVerification, &by
		ln.Confirm, r.ConfirmHash = dsr.NewToken(dsr.TokenConfirm, r.ID)
	}
	if r.Type == dsr.Erasure && cat.ErasureCoolOff() > 0 {
		if r.Status == dsr.Pending {
			until := now.Add(cat.ErasureCoolOff())
			r.CoolOffUntil = &until
		}
		if r.NotifyEmail != "" {
			ln.Cancel, r.CancelHash = dsr.NewToken(dsr.TokenCancel, r.ID)
		}
	}
	next := p.Clone()
	created := dsr.CreatedEvent{ID: r.ID, Type: r.Type, Hold: r.Waiting(), Verification: r.Verification, AttestationReason: r.AttestationReason}
	changes := []profile.Change{{Type: EventRequestCreated, Subject: string(r.Type), New: created}}
	if r.Type.Immediate() {
		c, err := next.SetRights(cat, rightsOf(r), now) // the purpose was checked above
		if err != nil {
			return RequestResult{}, ln, err
		}
		changes = append(changes, c...)
		old := stateOf(r)
		if err := r.Close(dsr.Completed, "", now); err != nil {
			return RequestResult{}, ln, err
		}
		changes = append(changes, profile.Change{Type: EventRequestCompleted, Subject: string(r.Type), Old: old, New: stateOf(r)})
	}
	r.MarkDeadlines(now)
	res := RequestResult{Request: r}
	rec, err := s.record(w, res)
	if err != nil {
		return RequestResult{}, ln, err
	}
	return res, ln, s.commitRequests(ctx, tenant, p, next, changes, []RequestSave{{Request: r}}, w, rec, now)
}

// sendLinks emails a new request's links. A request whose email fails stays as it is: it
// expires unconfirmed (the brand sees verifyBy pass), and nothing was done to the person.
func (s *Service) sendLinks(ctx context.Context, r *dsr.Request, ln RequestLinks) {
	if ln.Confirm == "" && ln.Cancel == "" || r.NotifyEmail == "" || s.notifier == nil {
		return
	}
	_ = s.notifier.NotifyConfirmation(ctx, r, r.NotifyEmail, ln) // logged by the notifier
}

// rightsOf is the change of the profile's rights an immediate request makes.
func rightsOf(r *dsr.Request) profile.RightsInput {
	yes, no := true, false
	switch r.Type {
	case dsr.Restriction:
		return profile.RightsInput{Restricted: &yes}
	case dsr.RestrictionLift:
		return profile.RightsInput{Restricted: &no}
	case dsr.Objection:
		return profile.RightsInput{Objections: map[string]bool{r.Purpose: true}}
	case dsr.AutomatedDecisionOptOut:
		return profile.RightsInput{AutomatedDecisionOptOut: &yes}
	}
	return profile.RightsInput{}
}

// requestLocale is the language of emails about a request: as asked, else the person's,
// else the catalog's default.
func requestLocale(cat *catalog.Catalog, asked string, p *profile.Profile) string {
	if asked != "" {
		return asked
	}
	if l, ok := p.Attributes[profile.AttrLocale].(string); ok && cat.SupportsLocale(l) {
		return l
	}
	return cat.DefaultLocale
}

// emailOf is the person's email address, where a request's outcome is confirmed.
func emailOf(p *profile.Profile) string {
	for _, id := range p.Identities {
		if id.Type == email {
			return id.Value
		}
	}
	return ""
}

// openDuplicate returns the open request holding the profile's dedupKey marker, or nil
// after clearing a marker that names a request no longer open.
func (s *Service) openDuplicate(ctx context.Context, tenant, profileID, dedupKey string) (*dsr.Request, error) {
	id, err := s.store.DuplicateOf(ctx, tenant, profileID, dedupKey)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil // released meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("read duplicate marker: %w", err)
	}
	r, err := s.store.Request(ctx, tenant, id)
	if err == nil && r.Status.Open() {
		return r, nil
	}
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return nil, err
	}
	return nil, s.store.ClearDuplicate(ctx, tenant, profileID, dedupKey, id)
}

// record is the idempotency record of res, nil for a write without Idempotency. It never
// holds the address the person is notified at: no answer shows it.
func (s *Service) record(w RequestWrite, res RequestResult) (*Record, error) {
	r := *res.Request
	r.NotifyEmail, r.ConfirmHash, r.CancelHash = "", "", ""
	return w.Idempotency.record(RequestResult{Request: &r, Duplicate: res.Duplicate}, r.ProfileID, s.now())
}

// putRecord stores the idempotency record of an answer that changed nothing.
func (s *Service) putRecord(ctx context.Context, tenant string, w RequestWrite, res RequestResult) error {
	rec, err := s.record(w, res)
	if err != nil || rec == nil {
		return err
	}
	return s.store.PutRecord(ctx, tenant, rec)
}

// commitRequests commits changes to the profile cur (next is its changed copy) with the
// requests, the sealed ledger events and the idempotency record, in one transaction.
func (s *Service) commitRequests(ctx context.Context, tenant string, cur, next *profile.Profile, changes []profile.Change, reqs []RequestSave, w RequestWrite, rec *Record, now time.Time) error {
	events := sealChanges(tenant, next, changes, now, w.Actor, w.RequestID)
	return s.store.Commit(ctx, tenant, Commit{Profile: next, PrevVersion: cur.Version, Events: events, Record: rec, Requests: reqs})
}

// GetRequest returns one request, with DueSoon and Overdue as of now.
func (s *Service) GetRequest(ctx context.Context, tenant, id string) (*dsr.Request, error) {
	r, err := s.store.Request(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	r.MarkDeadlines(s.now())
	// An erasure's recipients acknowledge by a 2xx answer to the erasure event, which may
	// come after the request completed: show each one's current delivery status.
	for i := range r.Recipients {
		rc := &r.Recipients[i]
		if rc.Status == webhook.Delivered {
			continue
		}
		d, err := s.store.Delivery(ctx, tenant, rc.EndpointID, rc.DeliveryID)
		switch {
		case err == nil:
			rc.Status = d.Status
		case errs.CodeOf(err) != errs.NotFound:
			return nil, err
		}
	}
	return r, nil
}

// RequestQuery is a listing of a tenant's requests as a caller asked for it.
type RequestQuery struct {
	// Status is "open" (the default), "closed" or one dsr.Status.
	Status string
	// Overdue keeps only open requests past their deadline.
	Overdue bool
	Limit   int // 1 to MaxRequestPage; 0 for DefaultRequestPage
	Cursor  string
}

// DefaultRequestPage is the page size of a listing that does not say.
const DefaultRequestPage = 50

// ListRequests returns a page of the tenant's requests in due-date order, each with
// DueSoon and Overdue as of now.
func (s *Service) ListRequests(ctx context.Context, tenant string, q RequestQuery) (RequestPage, error) {
	var f errs.Fields
	flt := RequestFilter{Limit: q.Limit, Cursor: q.Cursor}
	switch st := dsr.Status(q.Status); {
	case q.Status == "" || q.Status == "open":
		flt.Open = true
	case q.Status == "closed":
	case st == dsr.Pending || st == dsr.InProgress || st == dsr.Failed || st == dsr.AwaitingVerification:
		flt.Open, flt.Status = true, st
	case st == dsr.Completed || st == dsr.Cancelled || st == dsr.Denied:
		flt.Status = st
	default:
		f.Add("status", "must be open, closed, awaiting_verification, pending, in_progress, failed, completed, cancelled or denied")
	}
	if flt.Limit == 0 {
		flt.Limit = DefaultRequestPage
	}
	if flt.Limit < 1 || flt.Limit > MaxRequestPage {
		f.Add("limit", fmt.Sprintf("must be between 1 and %d", MaxRequestPage))
	}
	now := s.now()
	if q.Overdue {
		if !flt.Open && len(f) == 0 {
			f.Unmet("overdue", "only open requests can be overdue")
		}
		flt.DueBefore = now
	}
	if err := f.Err(); err != nil {
		return RequestPage{}, err
	}
	page, err := s.store.ListRequests(ctx, tenant, flt)
	if err != nil {
		return RequestPage{}, err
	}
	for i := range page.Requests {
		page.Requests[i].MarkDeadlines(now)
	}
	return page, nil
}

// ExtendRequest extends an open request's deadline by months (1 or 2) for reason, once,
// within the first month (Art. 12(3)), and tells the person through the Notifier,
// recording on the request whether that worked (Extension.Notified, NotifyErr). A notice
// that fails does not undo the extension.
func (s *Service) ExtendRequest(ctx context.Context, tenant, id string, months int, reason string, w RequestWrite) (*dsr.Request, error) {
	r, err := s.changeRequest(ctx, tenant, id, w, func(r *dsr.Request, now time.Time) (string, error) {
		return EventRequestUpdated, r.Extend(months, reason, now)
	})
	if err != nil || s.notifier == nil {
		return r, err
	}
	problem := NoticeNoAddress
	if r.NotifyEmail != "" {
		problem = ""
		if s.notifier.NotifyExtension(ctx, r, r.NotifyEmail) != nil {
			problem = NoticeFailed
		}
	}
	return s.recordNotice(ctx, r, problem), nil
}

// recordNotice records on r's extension whether the person was told, retrying when r
// changed meanwhile. It returns the request as stored; if recording fails, r as it was.
func (s *Service) recordNotice(ctx context.Context, r *dsr.Request, problem string) *dsr.Request {
	cur := *r
	for attempt := 1; attempt <= 5; attempt++ {
		next := cur
		if next.Extension == nil {
			return &cur
		}
		x := *next.Extension
		x.Notified, x.NotifyErr = problem == "", problem
		next.Extension, next.Version = &x, cur.Version+1
		err := s.store.SaveRequest(ctx, &next, cur.Prior())
		if err == nil {
			return &next
		}
		if !errors.Is(err, errs.ErrStale) {
			return r
		}
		fresh, err := s.store.Request(ctx, r.Tenant, r.ID)
		if err != nil {
			return r
		}
		fresh.MarkDeadlines(s.now())
		cur = *fresh
	}
	return r
}

// CancelRequest closes an open request as cancelled (the person withdrew it).
func (s *Service) CancelRequest(ctx context.Context, tenant, id string, w RequestWrite) (*dsr.Request, error) {
	return s.changeRequest(ctx, tenant, id, w, func(r *dsr.Request, now time.Time) (string, error) {
		return EventRequestCompleted, r.Close(dsr.Cancelled, "", now)
	})
}

// CompleteRequest closes an open rectification request as completed, once the brand has
// corrected the data (Art. 16), keeping the optional note on the request (not in the
// ledger). Other types refuse with Conflict: jobs complete themselves, and the immediate
// types complete when they are recorded.
func (s *Service) CompleteRequest(ctx context.Context, tenant, id, note string, w RequestWrite) (*dsr.Request, error) {
	return s.changeRequest(ctx, tenant, id, w, func(r *dsr.Request, now time.Time) (string, error) {
		return EventRequestCompleted, r.Complete(note, now)
	})
}

// DenyRequest closes an open request as denied for reason, and tells the person why
// through the Notifier (best effort: the denial stands if the notice fails).
func (s *Service) DenyRequest(ctx context.Context, tenant, id, reason string, w RequestWrite) (*dsr.Request, error) {
	to := ""
	r, err := s.changeRequest(ctx, tenant, id, w, func(r *dsr.Request, now time.Time) (string, error) {
		to = r.NotifyEmail // closing forgets it
		return EventRequestCompleted, r.Close(dsr.Denied, reason, now)
	})
	if err == nil && s.notifier != nil && to != "" {
		_ = s.notifier.NotifyDenial(ctx, r, to)
	}
	return r, err
}

// changeRequest loads a request, applies change and saves it under optimistic concurrency
// (retrying when it changed meanwhile), with a ledger event of the returned type on the
// profile in the same transaction, or without one when the profile is gone (erased).
func (s *Service) changeRequest(ctx context.Context, tenant, id string, w RequestWrite, change func(*dsr.Request, time.Time) (string, error)) (*dsr.Request, error) {
	for attempt := 1; ; attempt++ {
		r, err := s.store.Request(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC()
		old, prior := stateOf(r), r.Prior()
		evType, err := change(r, now)
		if err != nil {
			return nil, err
		}
		r.Version, r.UpdatedAt = prior.Version+1, now
		r.MarkDeadlines(now)
		rec, err := s.record(w, RequestResult{Request: r})
		if err != nil {
			return nil, err
		}
		p, err := s.store.Profile(ctx, tenant, r.ProfileID)
		switch {
		case errs.CodeOf(err) == errs.NotFound:
			if err = s.store.SaveRequest(ctx, r, prior); err == nil && rec != nil {
				err = s.store.PutRecord(ctx, tenant, rec)
			}
		case err != nil:
			return nil, err
		default:
			c := profile.Change{Type: evType, Subject: string(r.Type), Old: old, New: stateOf(r)}
			err = s.commitRequests(ctx, tenant, p, p.Clone(), []profile.Change{c}, []RequestSave{{Request: r, Prior: prior}}, w, rec, now)
		}
		if errors.Is(err, errs.ErrStale) && attempt < maxAttempts {
			backoff(attempt)
			continue
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// Link actions the person takes from their email.
const (
	LinkConfirm = dsr.TokenConfirm
	LinkCancel  = dsr.TokenCancel
)

// RequestByLink returns the request a single-use link of the person is for, and the
// link's kind (LinkConfirm, LinkCancel), while the link is still good. A link that is
// malformed, for another tenant's or no request, used, or expired is dsr.ErrLinkUsed, so
// the answer never tells which.
func (s *Service) RequestByLink(ctx context.Context, tenant, token string) (*dsr.Request, string, error) {
	kind, id, ok := dsr.ParseToken(token)
	if !ok || !ValidRequestID(id) {
		return nil, "", dsr.ErrLinkUsed
	}
	r, err := s.store.Request(ctx, tenant, id)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, "", dsr.ErrLinkUsed
	}
	if err != nil {
		return nil, "", err
	}
	probe := *r
	now := s.now().UTC()
	if kind == LinkConfirm {
		err = probe.Confirm(token, 0, now)
	} else {
		err = probe.CallOff(token, now)
	}
	if err != nil {
		return nil, "", dsr.ErrLinkUsed
	}
	r.MarkDeadlines(now)
	return r, kind, nil
}

// UseLink carries out a single-use link of the person: LinkConfirm confirms the request
// (verification email_confirmed; the job is released at once, or after the tenant's
// erasure cool-off), LinkCancel calls it off. The link works once: the stored hash is
// cleared in the same write, under optimistic concurrency, so a second use is
// dsr.ErrLinkUsed.
func (s *Service) UseLink(ctx context.Context, tenant, token string, w RequestWrite) (*dsr.Request, error) {
	_, kind, err := s.RequestByLink(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return nil, err
	}
	_, id, _ := dsr.ParseToken(token)
	return s.changeRequest(ctx, tenant, id, w, func(r *dsr.Request, now time.Time) (string, error) {
		if kind == LinkCancel {
			return EventRequestCompleted, r.CallOff(token, now)
		}
		if err := r.Confirm(token, cat.ErasureCoolOff(), now); err != nil {
			return "", err
		}
		if r.Waiting() {
			return EventRequestConfirmed, nil
		}
		return EventRequestReleased, nil
	})
}

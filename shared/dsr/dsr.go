// Package dsr models data-subject requests: what a person asked for under the GDPR, its
// legal deadline, its verification and its state, in the spirit of OpenDSR. It imports no
// AWS package.
package dsr

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// Type is what the person asks for.
type Type string

// The request types.
const (
	Access                  Type = "access"                     // Art. 15: a copy of the data and the Art. 15 facts
	Portability             Type = "portability"                // Art. 20: machine-readable export
	Erasure                 Type = "erasure"                    // Art. 17
	Rectification           Type = "rectification"              // Art. 16
	Restriction             Type = "restriction"                // Art. 18: restrict processing
	RestrictionLift         Type = "restriction_lift"           // Art. 18(3): lift the restriction
	Objection               Type = "objection"                  // Art. 21, per purpose
	AutomatedDecisionOptOut Type = "automated_decision_opt_out" // Art. 22
)

// Types lists every request type.
var Types = []Type{Access, Portability, Erasure, Rectification, Restriction, RestrictionLift, Objection, AutomatedDecisionOptOut}

// Immediate reports whether the request takes effect on the profile as soon as it is
// recorded (restriction, its lifting, objection, automated-decision opt-out).
func (t Type) Immediate() bool {
	switch t {
	case Restriction, RestrictionLift, Objection, AutomatedDecisionOptOut:
		return true
	}
	return false
}

// Job reports whether a worker carries the request out (export or erasure).
func (t Type) Job() bool { return t == Access || t == Portability || t == Erasure }

// Status is where a request stands (OpenDSR's request_status).
type Status string

// The statuses.
const (
	Pending    Status = "pending"
	InProgress Status = "in_progress"
	Completed  Status = "completed"
	Cancelled  Status = "cancelled"
	Denied     Status = "denied"
	Failed     Status = "failed" // a job gave up; an operator must look (the message is in a DLQ)
)

// Open reports whether the request still needs work.
func (s Status) Open() bool { return s == Pending || s == InProgress || s == Failed }

// Verification says how the requester's identity was established.
type Verification string

// The verification states.
const (
	VerifiedPortal Verification = "verified_portal" // the person was signed in to the portal
	AttestedBrand  Verification = "attested_brand"  // the brand attests it verified the person
	Unverified     Verification = "unverified"
)

// Extension is an Art. 12(3) extension of the deadline.
type Extension struct {
	Months    int       `json:"months"` // 1 or 2
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
	Notified  bool      `json:"notified"` // the person was told (by email)
	NotifyErr string    `json:"notifyError,omitempty"`
}

// Export is the result of an access or portability request.
type Export struct {
	Key       string    `json:"-"` // the object's key in the exports bucket
	Bytes     int64     `json:"bytes"`
	SHA256    string    `json:"sha256"`
	ExpiresAt time.Time `json:"expiresAt"` // when the object is deleted
}

// Recipient is one webhook endpoint told of an erasure (Art. 19) and whether it acknowledged.
type Recipient struct {
	EndpointID string `json:"endpointId"`
	DeliveryID string `json:"deliveryId"`
	Status     string `json:"status"` // the delivery's status; "delivered" is the acknowledgement
}

// Request is one data-subject request. It holds no personal data beyond the profile id:
// it outlives an erasure as the pseudonymous record that the erasure happened.
type Request struct {
	ID             string       `json:"id"`
	Tenant         string       `json:"tenant"`
	ProfileID      string       `json:"profileId"`
	Type           Type         `json:"type"`
	Purpose        string       `json:"purpose,omitempty"` // objection only
	Status         Status       `json:"status"`
	DenialReason   string       `json:"denialReason,omitempty"`
	CompletionNote string       `json:"completionNote,omitempty"` // rectification only: what the brand corrected
	Verification   Verification `json:"verification"`
	Source         ledger.Actor `json:"source"`
	ReceivedAt     time.Time    `json:"receivedAt"`
	DueAt          time.Time    `json:"dueAt"`
	Extension      *Extension   `json:"extension,omitempty"`
	UpdatedAt      time.Time    `json:"updatedAt"`
	CompletedAt    *time.Time   `json:"completedAt,omitempty"`
	// DueSoon and Overdue are set by the deadline sweeper.
	DueSoon bool `json:"dueSoon,omitempty"`
	Overdue bool `json:"overdue,omitempty"`
	// Export is set when an access or portability export is ready.
	Export *Export `json:"export,omitempty"`
	// Recipients are the webhook endpoints told of an erasure.
	Recipients []Recipient `json:"recipients,omitempty"`
	// Locale is the language of emails about the request.
	Locale string `json:"locale,omitempty"`
	// NotifyEmail is where to confirm the outcome; kept only until the request closes, so
	// that an erasure can still confirm after the profile is gone.
	NotifyEmail string `json:"notifyEmail,omitempty"`
	// Failure says why a job gave up (no personal data).
	Failure string `json:"failure,omitempty"`
	Version int64  `json:"version"`
}

// Deadline is one month after receipt (Art. 12(3)), plus any extension.
func (r *Request) Deadline() time.Time {
	months := 1
	if r.Extension != nil {
		months += r.Extension.Months
	}
	return AddMonths(r.ReceivedAt, months)
}

// AddMonths returns t plus n calendar months, ending on the same day of the month or, where
// the later month has no such day, on its last day (as EU Regulation 1182/71 counts a period
// of months): 31 January plus one month is 28 (or 29) February, never 3 March.
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	last := time.Date(y, m+time.Month(n)+1, 0, 0, 0, 0, 0, t.Location()).Day()
	return time.Date(y, m+time.Month(n), min(d, last), hh, mm, ss, t.Nanosecond(), t.Location())
}

// DueSoonWindow is how far ahead of the deadline a request counts as due soon.
const DueSoonWindow = 7 * 24 * time.Hour

// MarkDeadlines updates DueSoon and Overdue for now, and reports whether they changed.
func (r *Request) MarkDeadlines(now time.Time) bool {
	soon := r.Status.Open() && !now.After(r.DueAt) && r.DueAt.Sub(now) <= DueSoonWindow
	over := r.Status.Open() && now.After(r.DueAt)
	changed := soon != r.DueSoon || over != r.Overdue
	r.DueSoon, r.Overdue = soon, over
	return changed
}

// Extend extends the deadline by months (1 or 2) for reason. It is allowed once, while the
// request is open and within the first month (Art. 12(3)).
func (r *Request) Extend(months int, reason string, now time.Time) error {
	var f errs.Fields
	if months < 1 || months > 2 {
		f.Add("months", "must be 1 or 2")
	}
	if len(reason) < 10 || len(reason) > 1000 {
		f.Add("reason", "must be 10 to 1000 characters: the person is told it")
	}
	if err := f.Err(); err != nil {
		return err
	}
	switch {
	case !r.Status.Open():
		return errs.E(errs.Conflict, "only an open request can be extended")
	case r.Extension != nil:
		return errs.E(errs.Conflict, "the request was already extended")
	case now.After(AddMonths(r.ReceivedAt, 1)):
		return errs.E(errs.Conflict, "an extension must be decided within one month of receipt")
	}
	r.Extension = &Extension{Months: months, Reason: reason, At: now}
	r.DueAt = r.Deadline()
	r.MarkDeadlines(now)
	return nil
}

// Close moves an open request to a final status.
func (r *Request) Close(s Status, reason string, now time.Time) error {
	if !r.Status.Open() {
		return errs.E(errs.Conflict, fmt.Sprintf("the request is already %s", r.Status))
	}
	// A started erasure has locked the profile; only finishing it unlocks it, so it cannot
	// be called off (a failed one is re-driven, not cancelled).
	if r.Type == Erasure && r.Status != Pending && s != Completed {
		return errs.E(errs.Conflict, "an erasure that has started can only be completed; re-drive it if it failed")
	}
	if s == Denied && (len(reason) < 10 || len(reason) > 1000) {
		return errs.Field("reason", "must be 10 to 1000 characters: the person is told it")
	}
	r.Status, r.DenialReason, r.UpdatedAt, r.CompletedAt = s, reason, now, &now
	r.DueSoon, r.Overdue, r.NotifyEmail = false, false, ""
	return nil
}

// MaxCompletionNote bounds the note of a completed rectification, in characters.
const MaxCompletionNote = 1000

// Complete closes an open rectification request as completed once the brand has corrected
// the data (Art. 16), with an optional note of what was done. No other type is completed by
// hand: jobs (access, portability, erasure) complete themselves, and the immediate types
// complete as soon as they are recorded.
func (r *Request) Complete(note string, now time.Time) error {
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > MaxCompletionNote || strings.ContainsFunc(note, unicode.IsControl) {
		return errs.Field("note", fmt.Sprintf("must be at most %d printable characters", MaxCompletionNote))
	}
	switch {
	case r.Type.Job():
		return errs.E(errs.Conflict, fmt.Sprintf("only rectification requests are marked completed: %s requests complete themselves when their job finishes", r.Type))
	case r.Type != Rectification:
		return errs.E(errs.Conflict, fmt.Sprintf("only rectification requests are marked completed: %s requests complete at once when they are recorded", r.Type))
	}
	if err := r.Close(Completed, "", now); err != nil {
		return err
	}
	r.CompletionNote = note
	return nil
}

// DedupKey identifies requests that are duplicates of each other while open: the same
// type for the same person (and, for objections, the same purpose).
func (r *Request) DedupKey() string {
	if r.Type == Objection {
		return string(r.Type) + "#" + r.Purpose
	}
	return string(r.Type)
}

// Validate checks a new request's type and verification.
func (r *Request) Validate() error {
	var f errs.Fields
	known := false
	for _, t := range Types {
		known = known || t == r.Type
	}
	if !known {
		f.Add("type", "must be one of access, portability, erasure, rectification, restriction, restriction_lift, objection, automated_decision_opt_out")
	}
	if (r.Type == Objection) != (r.Purpose != "") {
		f.Add("purpose", "is required for an objection, and only for one")
	}
	switch r.Verification {
	case VerifiedPortal, AttestedBrand, Unverified:
	default:
		f.Add("verification", "must be verified_portal, attested_brand or unverified")
	}
	return f.Err()
}

// New returns a pending request received at now, due one month later.
func New(id, tenant, profileID string, t Type, purpose string, v Verification, source ledger.Actor, now time.Time) *Request {
	r := &Request{ID: id, Tenant: tenant, ProfileID: profileID, Type: t, Purpose: purpose, Status: Pending,
		Verification: v, Source: source, ReceivedAt: now, UpdatedAt: now}
	r.DueAt = r.Deadline()
	return r
}

// JobMessage is what the erasure and export queues carry: which request to carry out.
type JobMessage struct {
	Tenant    string `json:"tenant"`
	RequestID string `json:"requestId"`
}

// CreatedEvent is the New value of a "request.created" ledger event; the dispatcher reads
// it to start the request's job.
type CreatedEvent struct {
	ID   string `json:"id"`
	Type Type   `json:"type"`
}

// Tombstone records that a profile was erased. It holds no personal data: ids, a time and a
// count. The erasure job also keeps its progress in it. The store keeps it for as long as
// the erasure must be provable.
type Tombstone struct {
	Tenant    string    `json:"tenant"`
	ProfileID string    `json:"profileId"`
	RequestID string    `json:"requestId"` // the erasure request
	ErasedAt  time.Time `json:"erasedAt"`  // when the erasure began; its events carry this time
	// IdentitiesSuppressed is how many identities were recorded by Suppress.
	IdentitiesSuppressed int `json:"identitiesSuppressed"`
	// Notified says the erasure's events are in the outbox and its recipients are recorded
	// on the request.
	Notified bool `json:"notified"`
}

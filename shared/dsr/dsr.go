// Package dsr models data-subject requests: what a person asked for under the GDPR, its
// legal deadline, its verification and its state, in the spirit of OpenDSR. It imports no
// AWS package.
package dsr

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
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
	// AwaitingVerification is an access, portability or erasure request from the brand API
	// that waits for the person to confirm it by the link emailed to them. Its deadline runs
	// from receipt all the same; unconfirmed by VerifyBy, the sweeper cancels it.
	AwaitingVerification Status = "awaiting_verification"
)

// Open reports whether the request still needs work.
func (s Status) Open() bool {
	return s == Pending || s == InProgress || s == Failed || s == AwaitingVerification
}

// Verification says how the requester's identity was established.
type Verification string

// The verification states: how the person proved who they are.
const (
	// EmailConfirmed: the person confirmed the request by the single-use link emailed to
	// the address on their profile.
	EmailConfirmed Verification = "email_confirmed"
	// PortalEmailSignIn: made in the portal, in a session opened by an emailed sign-in link.
	PortalEmailSignIn Verification = "portal_email_sign_in"
	// PortalBrandLink: made in the portal, in a session opened by a portal link the brand
	// minted (whoever holds the brand's email holds the session).
	PortalBrandLink Verification = "portal_brand_link"
	// AttestedBrand: the brand attests, with an API key of the attest scope and a reason,
	// that it verified the person.
	AttestedBrand Verification = "attested_brand"
	// Unverified: nobody proved anything (yet). An access, portability or erasure request
	// stays AwaitingVerification until the person confirms; other types do not wait.
	Unverified Verification = "unverified"
	// VerifiedPortal is the value of portal requests recorded before the sign-in method
	// was recorded; no new request gets it.
	VerifiedPortal Verification = "verified_portal"
)

// Verifications lists every value a new request may record.
var Verifications = []Verification{EmailConfirmed, PortalEmailSignIn, PortalBrandLink, AttestedBrand, Unverified}

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
	// AttestationReason is the brand's reason for attesting (AttestedBrand only), as the
	// brand wrote it: write it without personal data.
	AttestationReason string `json:"attestationReason,omitempty"`
	// VerifyBy is when an AwaitingVerification request expires unconfirmed.
	VerifyBy *time.Time `json:"verifyBy,omitempty"`
	// CoolOffUntil is when a confirmed erasure may start, after the tenant's cool-off in
	// which the person can still call it off; ReleasedAt is when its job was released.
	CoolOffUntil *time.Time `json:"coolOffUntil,omitempty"`
	ReleasedAt   *time.Time `json:"releasedAt,omitempty"`
	// CancelReason says why the system cancelled the request (expiry, the person called
	// it off by the emailed link).
	CancelReason string `json:"cancelReason,omitempty"`
	// ConfirmHash and CancelHash are the SHA-256 of the single-use links emailed to the
	// person (see NewToken); never shown, cleared when used or the request closes.
	ConfirmHash string       `json:"confirmHash,omitempty"`
	CancelHash  string       `json:"cancelHash,omitempty"`
	Source      ledger.Actor `json:"source"`
	ReceivedAt  time.Time    `json:"receivedAt"`
	DueAt       time.Time    `json:"dueAt"`
	Extension   *Extension   `json:"extension,omitempty"`
	UpdatedAt   time.Time    `json:"updatedAt"`
	CompletedAt *time.Time   `json:"completedAt,omitempty"`
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
	if utf8.RuneCountInString(reason) < 10 || utf8.RuneCountInString(reason) > 1000 {
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
	// The reason is the request's own shape, refused whatever the state (400 before 409).
	if s == Denied && (utf8.RuneCountInString(reason) < 10 || utf8.RuneCountInString(reason) > 1000) {
		return errs.Field("reason", "must be 10 to 1000 characters: the person is told it")
	}
	if !r.Status.Open() {
		return errs.E(errs.Conflict, fmt.Sprintf("the request is already %s", r.Status))
	}
	// A started erasure has locked the profile; only finishing it unlocks it, so it cannot
	// be called off (a failed one is re-driven, not cancelled).
	if r.Type == Erasure && r.Status != Pending && r.Status != AwaitingVerification && s != Completed {
		return errs.E(errs.Conflict, "an erasure that has started can only be completed; re-drive it if it failed")
	}
	r.Status, r.DenialReason, r.UpdatedAt, r.CompletedAt = s, reason, now, &now
	r.DueSoon, r.Overdue, r.NotifyEmail = false, false, ""
	r.ConfirmHash, r.CancelHash, r.VerifyBy = "", "", nil
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
		f.Unmet("purpose", "is required for an objection, and only for one")
	}
	if !slices.Contains(Verifications, r.Verification) {
		f.Add("verification", "must be email_confirmed, portal_email_sign_in, portal_brand_link, attested_brand or unverified")
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
//
// Hold says the job must not start yet (the request awaits the person's confirmation, or
// a cool-off): a "request.released" event starts it later. Its New has the same id and
// type fields.
//
// Verification and AttestationReason put how the person was verified into the ledger.
type CreatedEvent struct {
	ID                string       `json:"id"`
	Type              Type         `json:"type"`
	Hold              bool         `json:"hold,omitempty"`
	Verification      Verification `json:"verification,omitempty"`
	AttestationReason string       `json:"attestationReason,omitempty"`
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

// Waiting reports whether the request's job must not run: it awaits the person's
// confirmation, or it is confirmed but its cool-off was not yet released (by the sweeper,
// once it ended). Jobs refuse such requests; the dispatcher never queues them.
func (r *Request) Waiting() bool {
	return r.Status == AwaitingVerification || r.CoolOffUntil != nil && r.ReleasedAt == nil
}

// Timer is when the sweeper must look at the request next: its confirmation expiry while
// awaiting verification, the end of its cool-off until released; zero for none.
func (r *Request) Timer() time.Time {
	switch {
	case !r.Status.Open():
		return time.Time{}
	case r.Status == AwaitingVerification && r.VerifyBy != nil:
		return *r.VerifyBy
	case r.CoolOffUntil != nil && r.ReleasedAt == nil:
		return *r.CoolOffUntil
	}
	return time.Time{}
}

// Prior is what a save of a request must know of the stored state it replaces: the version
// the write is conditioned on, and the status and timer that decide whether the write also
// releases the duplicate marker and moves the timer item. Because the write is conditioned
// on Version, a save that succeeds replaced exactly this state. The zero Prior is no stored
// request: the save creates it.
type Prior struct {
	Version int64
	Status  Status
	Timer   time.Time
}

// Prior is r's state as the Prior of its next save. Take it before changing r: the save
// trusts it to describe what is stored.
func (r *Request) Prior() Prior {
	return Prior{Version: r.Version, Status: r.Status, Timer: r.Timer()}
}

// Token purposes: the kind is part of the token, so a confirmation link never cancels.
const (
	TokenConfirm = "c"
	TokenCancel  = "x"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a single-use link token of kind for request id, and the hash to store
// on the request. The token is "<kind>.<requestId>.<130 random bits>": the portal finds
// the request with one read, and only the hash of the random part's whole token is kept,
// so the stored request cannot be turned back into a working link.
func NewToken(kind, id string) (token, hash string) {
	var b [17]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	token = kind + "." + id + "." + strings.ToLower(b32.EncodeToString(b[:]))
	return token, TokenHash(token)
}

// TokenHash is the stored form of a token.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte("lp-request-token/1\x00" + token))
	return hex.EncodeToString(sum[:])
}

// ParseToken returns a token's kind and request id, without checking it against anything.
func ParseToken(token string) (kind, id string, ok bool) {
	parts := strings.Split(token, ".")
	if len(token) > 100 || len(parts) != 3 || (parts[0] != TokenConfirm && parts[0] != TokenCancel) || len(parts[2]) != 28 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// TokenMatches reports whether token is the one whose hash is stored (constant time).
func TokenMatches(stored, token string) bool {
	got := TokenHash(token)
	return stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(got)) == 1
}

// ErrLinkUsed means a request link is no longer good: used, expired, or the request moved on.
var ErrLinkUsed = errs.E(errs.Conflict, "this link was already used or has expired")

// Confirm records that the person confirmed the request by the emailed link at now. With
// a cool-off (erasure only) the request becomes pending but its job waits until it ends.
func (r *Request) Confirm(token string, coolOff time.Duration, now time.Time) error {
	if r.Status != AwaitingVerification || !TokenMatches(r.ConfirmHash, token) || r.VerifyBy == nil || !now.Before(*r.VerifyBy) {
		return ErrLinkUsed
	}
	r.Status, r.Verification, r.ConfirmHash, r.VerifyBy = Pending, EmailConfirmed, "", nil
	if r.Type == Erasure && coolOff > 0 {
		until := now.Add(coolOff)
		r.CoolOffUntil = &until
	}
	return nil
}

// CallOff cancels the request by the person's emailed cancel link: while it awaits
// confirmation or is in its cool-off.
func (r *Request) CallOff(token string, now time.Time) error {
	inCoolOff := r.Status == Pending && r.CoolOffUntil != nil && r.ReleasedAt == nil
	if !(r.Status == AwaitingVerification || inCoolOff) || !TokenMatches(r.CancelHash, token) {
		return ErrLinkUsed
	}
	if err := r.Close(Cancelled, "", now); err != nil {
		return err
	}
	r.CancelReason = "the person called the request off by the link emailed to them"
	return nil
}

// ExpiredReason is why the sweeper cancels a request nobody confirmed.
const ExpiredReason = "the person did not confirm the request by the emailed link in time"

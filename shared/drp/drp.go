// Package drp reads and writes the documents of the Data Rights Protocol (DRP 0.9.4, the
// text of the protocol's 1.0 line) by which an authorized agent exercises a person's data
// rights with a covered business, and maps them onto the requests model of package dsr. It
// opens the agent's Ed25519-signed messages (libsodium's crypto_sign combined mode). It
// imports no AWS package.
//
// An authorized agent's claims are not the person's own proof of identity: nothing here
// makes a request verified. What has no equivalent in the model is refused with an Invalid
// error naming the field.
package drp

import (
	"fmt"
	"net/url"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/jsonin"
)

// Versions are the drp.version values accepted: the specification's current text and the
// 1.0 it is released as.
var Versions = []string{"0.9.4", "1.0"}

// Actions (section 3.01).
const (
	SaleOptOut       = "sale:opt-out"
	SaleOptIn        = "sale:opt-in"
	Deletion         = "deletion"
	Access           = "access"
	AccessCategories = "access:categories"
	AccessSpecific   = "access:specific"
	Correction       = "correction"
)

// SupportedActions are the actions the model carries out, for the business document.
var SupportedActions = []string{Access, AccessSpecific, Deletion, Correction, SaleOptOut}

// Regimes (section 3.01): a request without one is voluntary.
const (
	RegimeCCPA      = "ccpa"
	RegimeVoluntary = "voluntary"
)

// Statuses and reasons (section 3.02).
const (
	StatusOpen       = "open"
	StatusInProgress = "in_progress"
	StatusFulfilled  = "fulfilled"
	StatusRevoked    = "revoked"
	StatusDenied     = "denied"
	StatusExpired    = "expired"

	ReasonInsufVerification = "insuf_verification"
	ReasonOther             = "other"
)

// MaxWindow bounds expires-at after issued-at. The specification recommends at most ten
// minutes; an hour allows for slow pipelines while keeping a captured message short-lived.
const MaxWindow = time.Hour

// ClockSkew is how far ahead of our clock issued-at may be.
const ClockSkew = time.Minute

// agentID is the shape of agent and business ids ([A-Z_]+ in the service directory; digits
// and hyphens allowed too, bounded).
var agentID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether s has the shape of an agent or business id.
func ValidID(s string) bool { return agentID.MatchString(s) }

// Envelope are the fields every signed message carries (sections 2.01 and 2.05).
type Envelope struct {
	AgentID    string
	BusinessID string
	IssuedAt   time.Time
	ExpiresAt  time.Time
	Version    string
}

// Exercise is a data rights exercise (section 2.01) with the schema.org/Person claims the
// model can use (section 3.04). Other claims are allowed and ignored.
type Exercise struct {
	Envelope
	AgentRequestID string
	Action         string
	Regime         string
	Relationships  []string
	StatusCallback string
	Name           string
	Email          string
	EmailVerified  bool
	PhoneNumber    string
}

// doc reads fields of a JSON object by name, collecting refusals by path.
type doc struct {
	m map[string]any
	f *errs.Fields
}

func (d doc) str(k string, required bool, max int) string {
	v, ok := d.m[k]
	if !ok {
		if required {
			d.f.Add(k, "is required")
		}
		return ""
	}
	s, ok := v.(string)
	switch {
	case !ok:
		d.f.Add(k, "must be a string")
	case utf8.RuneCountInString(s) > max:
		d.f.Add(k, fmt.Sprintf("must be at most %d characters", max))
	case required && s == "":
		d.f.Add(k, "must not be empty")
	}
	return s
}

func (d doc) time(k string) time.Time {
	s := d.str(k, true, 64)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d.f.Add(k, "must be an ISO 8601 (RFC 3339) time with its offset")
	}
	return t
}

func (d doc) bool(k string) bool {
	v, ok := d.m[k]
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		d.f.Add(k, "must be true or false")
	}
	return b
}

func (d doc) strings(k string, maxN, max int) []string {
	v, ok := d.m[k]
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok || len(a) > maxN {
		d.f.Add(k, fmt.Sprintf("must be an array of at most %d strings", maxN))
		return nil
	}
	out := make([]string, 0, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok || utf8.RuneCountInString(s) > max {
			d.f.Add(fmt.Sprintf("%s[%d]", k, i), fmt.Sprintf("must be a string of at most %d characters", max))
			continue
		}
		out = append(out, s)
	}
	return out
}

// object reads msg as one JSON object by the rules of jsonin (no duplicate key, valid
// UTF-8, no control character), keys unknown to us allowed.
func object(msg []byte) (map[string]any, error) {
	var m map[string]any
	if err := jsonin.Decode(msg, &m); err != nil {
		if e, ok := err.(*jsonin.Error); ok {
			return nil, errs.Field(e.Path, e.Reason)
		}
		return nil, errs.Field(jsonin.Body, "must be a JSON object")
	}
	return m, nil
}

// envelope reads and checks the envelope against the agent the caller authenticated, the
// business the message is for and now, in the order of section 3.07.
func (d doc) envelope(agent, business string, now time.Time) Envelope {
	e := Envelope{AgentID: d.str("agent-id", true, 64), BusinessID: d.str("business-id", true, 64),
		IssuedAt: d.time("issued-at"), ExpiresAt: d.time("expires-at"), Version: d.str("drp.version", true, 16)}
	if e.AgentID != "" && e.AgentID != agent {
		d.f.Unmet("agent-id", "must be the agent the request is authenticated as")
	}
	if e.BusinessID != "" && e.BusinessID != business {
		d.f.Unmet("business-id", "must be this business's id")
	}
	if !e.IssuedAt.IsZero() && e.IssuedAt.After(now.Add(ClockSkew)) {
		d.f.Unmet("issued-at", "is in the future")
	}
	if !e.ExpiresAt.IsZero() && !e.ExpiresAt.After(now) {
		d.f.Unmet("expires-at", "has passed: the message expired")
	}
	if !e.IssuedAt.IsZero() && !e.ExpiresAt.IsZero() && e.ExpiresAt.Sub(e.IssuedAt) > MaxWindow {
		d.f.Unmet("expires-at", fmt.Sprintf("must be at most %s after issued-at", MaxWindow))
	}
	if e.Version != "" && e.Version != Versions[0] && e.Version != Versions[1] {
		d.f.Add("drp.version", "must be 0.9.4 or 1.0")
	}
	return e
}

// ParseExercise reads and checks the signed message of an exercise (already opened by
// Open) from agent, for business, at now.
func ParseExercise(msg []byte, agent, business string, now time.Time) (*Exercise, error) {
	m, err := object(msg)
	if err != nil {
		return nil, err
	}
	var f errs.Fields
	d := doc{m: m, f: &f}
	x := &Exercise{Envelope: d.envelope(agent, business, now),
		AgentRequestID: d.str("agent-request-id", false, 128), Action: d.str("exercise", true, 32),
		Regime: d.str("regime", false, 32), Relationships: d.strings("relationships", 20, 64),
		StatusCallback: d.str("status_callback", false, 2048),
		Name:           d.str("name", false, 200), Email: d.str("email", false, 320),
		EmailVerified: d.bool("email_verified"), PhoneNumber: d.str("phone_number", false, 32)}
	if x.Action != "" {
		if _, err := TypeOf(x.Action); err != nil {
			f.Join(err)
		}
	}
	switch x.Regime {
	case "", RegimeVoluntary, RegimeCCPA:
	default:
		f.Add("regime", "must be ccpa or voluntary (or left out)")
	}
	if x.StatusCallback != "" {
		if u, err := url.Parse(x.StatusCallback); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			f.Add("status_callback", "must be an absolute https URL without credentials")
		}
	}
	if x.Email == "" && x.PhoneNumber == "" {
		f.Unmet("email", "is required to find the person (or phone_number)")
	}
	return x, f.Err()
}

// RegimeOrVoluntary returns the request's regime, voluntary when none was given.
func (x *Exercise) RegimeOrVoluntary() string {
	if x.Regime == "" {
		return RegimeVoluntary
	}
	return x.Regime
}

// Identity returns the product's identity by which the person is looked up: the email,
// else the phone number.
func (x *Exercise) Identity() (typ, value string) {
	if x.Email != "" {
		return "email", x.Email
	}
	return "phone", x.PhoneNumber
}

// Pairing is the signed message of a pair-wise key setup (section 2.05).
type Pairing struct{ Envelope }

// ParsePairing reads and checks the signed message of a key setup by agent (the agent-id
// of the URL) for business at now.
func ParsePairing(msg []byte, agent, business string, now time.Time) (*Pairing, error) {
	m, err := object(msg)
	if err != nil {
		return nil, err
	}
	var f errs.Fields
	d := doc{m: m, f: &f}
	p := &Pairing{Envelope: d.envelope(agent, business, now)}
	return p, f.Err()
}

// Revoke is the signed message of a revocation (section 2.04).
type Revoke struct{ Reason string }

// ParseRevoke reads the signed message of a revocation; its reason is optional.
func ParseRevoke(msg []byte) (*Revoke, error) {
	m, err := object(msg)
	if err != nil {
		return nil, err
	}
	var f errs.Fields
	r := &Revoke{Reason: doc{m: m, f: &f}.str("reason", false, 1000)}
	return r, f.Err()
}

// TypeOf maps an action onto the model's request type. A sale opt-out is an objection (Art.
// 21) to the purpose the brand names as its sale of data (the caller supplies it).
// access:categories asks for less than the model's access export gives (the specific
// data), and sale:opt-in has no request type: both are refused.
func TypeOf(action string) (t dsr.Type, err error) {
	switch action {
	case Access, AccessSpecific:
		return dsr.Access, nil
	case Deletion:
		return dsr.Erasure, nil
	case Correction:
		return dsr.Rectification, nil
	case SaleOptOut, "sale:opt_out":
		return dsr.Objection, nil
	case AccessCategories:
		return "", errs.Field("exercise", "access:categories is not supported: an access request answers with the specific data; ask for access")
	case SaleOptIn, "sale:opt_in":
		return "", errs.Field("exercise", "sale:opt-in is not supported: the person gives consent in the brand's own channels")
	}
	return "", errs.Field("exercise", "must be one of access, access:specific, deletion, correction, sale:opt-out")
}

// Status is the Exercise Status document (section 3.03).
type Status struct {
	RequestID         string     `json:"request_id"`
	ReceivedAt        time.Time  `json:"received_at"`
	ExpectedBy        *time.Time `json:"expected_by,omitempty"`
	AgentRequestID    string     `json:"agent_request_id,omitempty"`
	ProcessingDetails string     `json:"processing_details,omitempty"`
	Status            string     `json:"status"`
	Reason            string     `json:"reason,omitempty"`
}

// StatusOf maps a request's status onto DRP's, with the reason where one applies. A request
// waiting for the person's emailed confirmation is still open: the business has not acted
// on it. Cancelled is revoked, except when the confirmation never came (denied,
// insuf_verification). Denial carries no DRP reason the model can tell: other.
func StatusOf(r *dsr.Request) (status, reason string) {
	switch r.Status {
	case dsr.AwaitingVerification:
		return StatusOpen, ""
	case dsr.Pending, dsr.InProgress, dsr.Failed:
		return StatusInProgress, ""
	case dsr.Completed:
		return StatusFulfilled, ""
	case dsr.Denied:
		return StatusDenied, ReasonOther
	case dsr.Cancelled:
		if r.CancelReason == dsr.ExpiredReason {
			return StatusDenied, ReasonInsufVerification
		}
		return StatusRevoked, ""
	}
	return StatusOpen, ""
}

// StatusOfRequest returns the status document of r, filed with agentRequestID.
func StatusOfRequest(r *dsr.Request, agentRequestID string) Status {
	st, reason := StatusOf(r)
	s := Status{RequestID: r.ID, ReceivedAt: r.ReceivedAt.UTC(), AgentRequestID: agentRequestID, Status: st, Reason: reason}
	if st == StatusInProgress || st == StatusOpen {
		by := r.DueAt.UTC()
		s.ExpectedBy = &by
	}
	switch {
	case r.Status == dsr.AwaitingVerification:
		s.ProcessingDetails = "waiting for the person to confirm the request by the link emailed to them"
	case r.Status == dsr.Denied:
		s.ProcessingDetails = r.DenialReason
	case r.Extension != nil && s.ExpectedBy != nil:
		s.ProcessingDetails = r.Extension.Reason
	}
	return s
}

// PairingResult answers a key setup (section 2.05.1).
type PairingResult struct {
	AgentID string `json:"agent-id"`
	Token   string `json:"token"`
}

// Business is the business's entry for the service directory (section 3.05.2).
type Business struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	APIBase                string   `json:"api_base"`
	SupportedActions       []string `json:"supported_actions"`
	SupportedVerifications []string `json:"supported_verifications"`
}

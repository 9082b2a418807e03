// Package webhook describes the endpoints a tenant registers to learn of every change, the
// events they receive, and how deliveries are signed. Signatures follow the Standard
// Webhooks scheme: HMAC-SHA256 over "<id>.<timestamp>.<body>", so receivers can use any
// Standard Webhooks library or the snippet in docs/webhooks.md.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// Event types a receiver can subscribe to. The profile ones mirror the ledger.
var EventTypes = []string{
	"profile.created", "profile.updated", "profile.erased",
	"profile.merged", "profile.split", "merge_candidate.rejected",
	"identity.added", "identity.removed", "identity.bounced", "identity.complained", "suppression.lifted",
	"consent.changed", "subscription.changed",
	"restriction.changed", "objection.changed", "automated_decision.changed",
	"request.created", "request.updated", "request.completed",
	"retention.erased", "profile.anonymised",
}

// AllEvents subscribes an endpoint to every type, including ones added later.
const AllEvents = "*"

// Event is what a receiver gets: the ids to act on and de-duplicate by, who made the change,
// and only the changed data.
type Event struct {
	ID         string       `json:"id"`
	Type       string       `json:"type"`
	Tenant     string       `json:"tenant"`
	ProfileID  string       `json:"profileId"`
	OccurredAt time.Time    `json:"occurredAt"`
	Source     ledger.Actor `json:"source"`
	Data       EventData    `json:"data"`
}

// EventData is the change itself.
type EventData struct {
	Subject       string          `json:"subject,omitempty"`
	NoticeVersion int             `json:"noticeVersion,omitempty"`
	LegalBasis    string          `json:"legalBasis,omitempty"`
	Old           json.RawMessage `json:"old,omitempty"`
	New           json.RawMessage `json:"new,omitempty"`
}

// FromLedger turns a ledger event into the event receivers get; its id is the ledger
// event's id, stable across redeliveries.
func FromLedger(e ledger.Event) Event {
	return Event{
		ID: e.ID, Type: e.Type, Tenant: e.Tenant, ProfileID: e.ProfileID, OccurredAt: e.At, Source: e.Actor,
		Data: EventData{Subject: e.Subject, NoticeVersion: e.NoticeVersion, LegalBasis: e.LegalBasis, Old: e.Old, New: e.New},
	}
}

// Secret is one signing secret. During rotation an endpoint has two, and deliveries carry
// a signature by each, so receivers can switch without missing a delivery.
type Secret struct {
	Value     string     `json:"value"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Endpoint is a registered receiver.
type Endpoint struct {
	ID          string   `json:"id"`
	Tenant      string   `json:"tenant"`
	URL         string   `json:"url"`
	EventTypes  []string `json:"eventTypes"`
	Description string   `json:"description,omitempty"`
	// Source names the system behind the endpoint; changes that came in from that same
	// source through sync are not echoed back to it.
	Source    string    `json:"source,omitempty"`
	Secrets   []Secret  `json:"secrets"`
	CreatedAt time.Time `json:"createdAt"`
}

// Wants reports whether the endpoint receives e: it subscribes to e's type and e did not
// come from the endpoint's own system.
func (ep *Endpoint) Wants(e Event) bool {
	if ep.Source != "" && e.Source.Kind == ledger.ActorSync && e.Source.ID == ep.Source {
		return false
	}
	return slices.Contains(ep.EventTypes, AllEvents) || slices.Contains(ep.EventTypes, e.Type)
}

// ActiveSecrets returns the secrets valid at now, newest first.
func (ep *Endpoint) ActiveSecrets(now time.Time) []Secret {
	var out []Secret
	for i := len(ep.Secrets) - 1; i >= 0; i-- {
		s := ep.Secrets[i]
		if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
			out = append(out, s)
		}
	}
	return out
}

// NewSecret returns a fresh secret in the Standard Webhooks form "whsec_<base64>".
func NewSecret(now time.Time) Secret {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return Secret{Value: "whsec_" + base64.StdEncoding.EncodeToString(b), CreatedAt: now}
}

// RotationOverlap is how long a replaced secret keeps signing deliveries.
const RotationOverlap = 24 * time.Hour

// Rotate adds a new secret and lets the current ones expire after RotationOverlap.
func (ep *Endpoint) Rotate(now time.Time) Secret {
	exp := now.Add(RotationOverlap)
	var kept []Secret
	for _, s := range ep.ActiveSecrets(now) {
		if s.ExpiresAt == nil || s.ExpiresAt.After(exp) {
			s.ExpiresAt = &exp
		}
		kept = append([]Secret{s}, kept...)
	}
	s := NewSecret(now)
	ep.Secrets = append(kept, s)
	return s
}

// Limits on registrations.
const (
	MaxEndpoints   = 20
	MaxURLLength   = 2048
	MaxDescription = 500
)

// Validate checks a registration. allowLoopbackHTTP admits http:// URLs to loopback hosts,
// which only the local stack sets; everywhere else endpoints must be https.
func (ep *Endpoint) Validate(allowLoopbackHTTP bool) error {
	var f errs.Fields
	if reason := checkURL(ep.URL, allowLoopbackHTTP); reason != "" {
		f.Add("url", reason)
	}
	if len(ep.EventTypes) == 0 {
		f.Add("eventTypes", `must list event types, or "*" for all`)
	}
	for i, t := range ep.EventTypes {
		if t != AllEvents && !slices.Contains(EventTypes, t) {
			f.Add(fmt.Sprintf("eventTypes[%d]", i), "unknown event type")
		}
	}
	if len(ep.Description) > MaxDescription || strings.ContainsFunc(ep.Description, func(r rune) bool { return r < 0x20 }) {
		f.Add("description", fmt.Sprintf("must be at most %d printable characters", MaxDescription))
	}
	if ep.Source != "" && !validSource(ep.Source) {
		f.Add("source", "must match ^[a-z][a-z0-9_-]{0,63}$")
	}
	return f.Err()
}

func validSource(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	})
}

func checkURL(raw string, allowLoopbackHTTP bool) string {
	if len(raw) > MaxURLLength {
		return "is too long"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "must be an absolute URL without credentials or fragment"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowLoopbackHTTP && IsLoopback(u.Hostname()):
	default:
		return "must be an https URL"
	}
	return ""
}

// IsLoopback reports whether host names this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Signature headers, as in Standard Webhooks.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

func mac(secret string, id string, ts int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("secret is not base64: %w", err)
	}
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "%s.%d.", id, ts)
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// Sign returns the Webhook-Signature value for a delivery: one "v1,<base64>" per secret,
// space-separated.
func Sign(secrets []Secret, id string, at time.Time, body []byte) (string, error) {
	var parts []string
	for _, s := range secrets {
		sig, err := mac(s.Value, id, at.Unix(), body)
		if err != nil {
			return "", err
		}
		parts = append(parts, "v1,"+sig)
	}
	return strings.Join(parts, " "), nil
}

// ErrSignature means a delivery's signature or timestamp does not verify.
var ErrSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery as a receiver would: the timestamp is within tolerance of now
// and one of the signatures was made with secret over id, timestamp and body.
func Verify(secret, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrSignature
	}
	want, err := mac(secret, id, ts, body)
	if err != nil {
		return ErrSignature
	}
	for _, part := range strings.Fields(signature) {
		if v, sig, ok := strings.Cut(part, ","); ok && v == "v1" && hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrSignature
}

// Delivery states.
const (
	Pending   = "pending"   // queued, not tried yet
	Retrying  = "retrying"  // failed, will be tried again
	Delivered = "delivered" // the receiver answered 2xx
	Parked    = "parked"    // failed every attempt; in the dead-letter queue until re-driven
	Dropped   = "dropped"   // the endpoint was deleted before delivery
)

// Delivery is the log entry of one event to one endpoint.
type Delivery struct {
	ID          string     `json:"id"`
	EndpointID  string     `json:"endpointId"`
	EventID     string     `json:"eventId"`
	EventType   string     `json:"eventType"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"lastStatusCode,omitempty"`
	LastError   string     `json:"lastError,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
	// Message is what is queued for the delivery. The store keeps it beside a pending or
	// retrying entry, so that a delivery whose queue message was lost can be queued again;
	// it is never part of the log's JSON.
	Message *Message `json:"-"`
}

// DeliveryID is stable for an event and an endpoint, and sorts by the event's time, so a
// redelivered event maps to the same log entry.
func DeliveryID(e Event, endpointID string) string {
	sum := sha256.Sum256([]byte(e.ID + "\x00" + endpointID))
	return fmt.Sprintf("d_%013d_%s", e.OccurredAt.UnixMilli(), hex.EncodeToString(sum[:10]))
}

// Message is what travels on the delivery queue.
type Message struct {
	Tenant     string `json:"tenant"`
	EndpointID string `json:"endpointId"`
	DeliveryID string `json:"deliveryId"`
	Event      Event  `json:"event"`
}

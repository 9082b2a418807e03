// Package ledger is the append-only, per-person consent ledger. Events are chained by
// SHA-256: each event's hash covers its content and its predecessor's hash, so changing,
// removing or reordering any stored event breaks verification from that point on.
package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Actor kinds: who made a change.
const (
	ActorAPIKey   = "api_key"  // a brand system, ID is the API key id
	ActorPortal   = "portal"   // the person in the hosted portal
	ActorSync     = "sync"     // an inbound sync, ID is the source system
	ActorOperator = "operator" // an operator command
	ActorSystem   = "system"   // the product itself (expiry, jobs)
)

// Actor says who or what made a change. It never holds personal data.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// Event is one immutable ledger entry.
type Event struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	ProfileID string    `json:"profileId"`
	Seq       int64     `json:"seq"`
	Type      string    `json:"type"`
	At        time.Time `json:"at"`
	Actor     Actor     `json:"actor"`
	RequestID string    `json:"requestId,omitempty"`
	// Subject names what changed within the profile: a purpose, a topic, an identity type.
	Subject       string          `json:"subject,omitempty"`
	NoticeVersion int             `json:"noticeVersion,omitempty"`
	LegalBasis    string          `json:"legalBasis,omitempty"`
	Old           json.RawMessage `json:"old,omitempty"`
	New           json.RawMessage `json:"new,omitempty"`
	// OldSum and NewSum are the SHA-256 (hex) of Old and New once Redact removed them.
	OldSum   string `json:"oldSum,omitempty"`
	NewSum   string `json:"newSum,omitempty"`
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
}

// digest hashes the event's content with Hash cleared and Old and New replaced by their
// own SHA-256, so that an event keeps its hash when Redact removes its values. json.Marshal
// of a struct is deterministic (field order, sorted map keys), and Old/New are stored
// byte-for-byte.
func digest(e Event) string {
	e.Hash = ""
	e.At = e.At.UTC()
	redact(&e)
	b, err := json.Marshal(e)
	if err != nil {
		// Only Old/New can fail to marshal, and they are valid JSON by construction.
		panic("ledger: event does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Seal links e after prevHash and sets its hash. Strings are made valid UTF-8 first: JSON
// would otherwise store them differently from how they were hashed.
func Seal(prevHash string, e *Event) {
	for _, f := range []*string{&e.ID, &e.Tenant, &e.ProfileID, &e.Type, &e.Actor.Kind, &e.Actor.ID, &e.RequestID, &e.Subject, &e.LegalBasis} {
		*f = strings.ToValidUTF8(*f, "\uFFFD")
	}
	e.PrevHash = prevHash
	e.Hash = digest(*e)
}

// Redact removes e's Old and New values and keeps their SHA-256 in OldSum and NewSum: the
// event, and every event after it, still verifies, and whoever holds a value can show it
// was the one recorded, but the ledger no longer holds it (storage limitation, Art.
// 5(1)(e)). Redacting a redacted event changes nothing.
func Redact(e *Event) { redact(e) }

func redact(e *Event) {
	if len(e.Old) > 0 {
		e.OldSum, e.Old = sumOf(e.Old), nil
	}
	if len(e.New) > 0 {
		e.NewSum, e.New = sumOf(e.New), nil
	}
}

// sumOf hashes a value as the stored event holds it: as json.Marshal writes a RawMessage
// (compacted, HTML characters escaped).
func sumOf(b []byte) string {
	if stored, err := json.Marshal(json.RawMessage(b)); err == nil {
		b = stored
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Redacted reports whether Redact removed the event's values.
func (e *Event) Redacted() bool { return e.OldSum != "" || e.NewSum != "" }

// Verify checks that events, in order, chain from prevHash with consecutive sequence
// numbers. It reports whether all do and, if not, the position (0-based) of the first
// event that does not.
func Verify(prevHash string, events []Event) (ok bool, brokenAt int) {
	for i, e := range events {
		// A value beside a sum would let a forged value ride on the sum of the real one.
		forged := len(e.Old) > 0 && e.OldSum != "" || len(e.New) > 0 && e.NewSum != ""
		if forged || e.PrevHash != prevHash || digest(e) != e.Hash || e.Seq < 1 || (i > 0 && e.Seq != events[i-1].Seq+1) {
			return false, i
		}
		prevHash = e.Hash
	}
	return true, -1
}

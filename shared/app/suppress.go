package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// EventSuppressionLifted records that an erased person's identity was admitted again by a
// new sign-up with fresh consent evidence (Subject: the identity type; New: the evidence).
// The actor of the event is whoever presented the evidence.
const EventSuppressionLifted = "suppression.lifted"

// Limits of signup evidence.
const (
	// MaxEvidenceAge is how long before the request the person may have given the consent
	// that re-admits them: a sign-up is fresh, not a replay of an old one.
	MaxEvidenceAge = 15 * time.Minute
	// MaxEvidenceSkew is how far after our clock capturedAt may lie (the caller's clock may
	// run a little ahead); a later time is refused, as is anything older than MaxEvidenceAge.
	MaxEvidenceSkew = time.Minute
)

// EvidenceMethods are the ways a consent can have been captured.
var EvidenceMethods = profile.ConsentMethods

// ErrErased means a change would attach an identity of an erased person: it is on the
// tenant's suppression list, which the erasure job writes before it deletes. The store
// wraps an *ErasedError in an errs.Erased error; the use cases name the field.
var ErrErased = errors.New("the person was erased")

// ErasedError names the suppressed identity a commit found. Its message holds no value.
type ErasedError struct{ Identity profile.Identity }

func (e *ErasedError) Error() string {
	return "an identity of type " + e.Identity.Type + " belongs to an erased person"
}
func (e *ErasedError) Is(target error) bool { return target == ErrErased }

// erasedMessage is the caller-safe detail of an erased problem.
const erasedMessage = "the identity belongs to a person who was erased; only a new sign-up with fresh consent evidence (signupEvidence) may attach it again"

// Erased returns the errs.Erased error of id, as a Store reports it.
func Erased(id profile.Identity) error {
	return &errs.Error{Code: errs.Erased, Message: erasedMessage, Err: &ErasedError{Identity: id}}
}

// nameErased names the field of the erased identity in err, if err is one: field(id)
// returns its path in the request ("identities[0]"). Other errors are returned as they are.
func nameErased(err error, field func(profile.Identity) string) error {
	var ee *ErasedError
	if !errors.As(err, &ee) {
		return err
	}
	return &errs.Error{Code: errs.Erased, Message: erasedMessage, Err: ee,
		Fields: []errs.FieldError{{Field: field(ee.Identity), Reason: "belongs to an erased person"}}}
}

// indexField returns a field namer for identities listed as field[i] in ids.
func indexField(field string, ids []profile.Identity) func(profile.Identity) string {
	return func(id profile.Identity) string {
		if i := slices.Index(ids, id); i >= 0 {
			return fmt.Sprintf("%s[%d]", field, i)
		}
		return field
	}
}

// Evidence is the proof of a fresh sign-up that re-admits an erased person: the consent
// to Purpose, granted in the same request at the notice version in force, captured by
// Method at Source within MaxEvidenceAge before the request. It lifts the suppression of
// every identity the request attaches, and is recorded in the ledger (EventSuppressionLifted).
type Evidence struct {
	Purpose       string    `json:"purpose"`
	Source        string    `json:"source"` // where it was captured, e.g. "web_signup"
	Method        string    `json:"method"` // one of EvidenceMethods
	CapturedAt    time.Time `json:"capturedAt"`
	NoticeVersion int       `json:"noticeVersion"`
}

// validate checks the evidence against the catalog, the request's consents and now,
// naming fields under field.
func (e *Evidence) validate(cat *catalog.Catalog, consents map[string]profile.ConsentInput, now time.Time, field string, f *errs.Fields) {
	if e.NoticeVersion < 1 {
		f.Add(field+".noticeVersion", "must be at least 1")
	}
	pur, ok := cat.Purpose(e.Purpose)
	switch {
	case e.Purpose == "":
		f.Add(field+".purpose", "is required: the purpose whose consent the request grants")
	case !ok:
		f.Unmet(field+".purpose", "unknown purpose")
	case pur.LegalBasis != catalog.Consent:
		f.Unmet(field+".purpose", "must be a purpose whose legal basis is consent")
	default:
		c, granted := consents[e.Purpose]
		if !granted || c.Status != profile.Granted {
			f.Unmet(field+".purpose", "the same request must grant consent to this purpose")
		}
		if e.NoticeVersion >= 1 && e.NoticeVersion != pur.NoticeVersion {
			f.Unmet(field+".noticeVersion", fmt.Sprintf("must be the notice version in force, %d", pur.NoticeVersion))
		} else if granted && c.NoticeVersion != e.NoticeVersion {
			f.Unmet(field+".noticeVersion", "must match the consent granted in this request")
		}
	}
	if !catalog.ValidID(e.Source) {
		f.Add(field+".source", "must match ^[a-z][a-z0-9_-]{0,63}$")
	}
	if !slices.Contains(EvidenceMethods, e.Method) {
		f.Add(field+".method", "must be double_opt_in, single_opt_in, written or verbal")
	}
	switch {
	case e.CapturedAt.IsZero():
		f.Add(field+".capturedAt", "is required: an RFC 3339 time such as 2026-05-31T12:00:00Z")
	case e.CapturedAt.After(now.Add(MaxEvidenceSkew)):
		f.Unmet(field+".capturedAt", "must not be in the future")
	case e.CapturedAt.Before(now.Add(-MaxEvidenceAge)):
		f.Unmet(field+".capturedAt", fmt.Sprintf("must be at most %d minutes old: re-admitting an erased person needs a fresh sign-up", int(MaxEvidenceAge.Minutes())))
	}
}

// added returns the identities next holds that cur (nil: none) did not.
func added(cur, next *profile.Profile) []profile.Identity {
	var out []profile.Identity
	for _, id := range next.Identities {
		if cur == nil || !cur.HasIdentity(id) {
			out = append(out, id)
		}
	}
	return out
}

// guard decides how a commit treats the identities it attaches: each must not be
// suppressed (Commit.NotErased), unless the write carries evidence, when the suppressed
// ones are lifted (Commit.Lift) with a ledger change each. Without evidence it costs no
// request: the check is a condition of the commit's own transaction.
func (s *Service) guard(ctx context.Context, tenant string, ids []profile.Identity, ev *Evidence) (notErased, lift []profile.Identity, changes []profile.Change, err error) {
	if ev == nil || len(ids) == 0 {
		return ids, nil, nil, nil
	}
	lift, err = s.store.Suppressions(ctx, tenant, ids)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read suppressions: %w", err)
	}
	for _, id := range ids {
		if slices.Contains(lift, id) {
			changes = append(changes, profile.Change{Type: EventSuppressionLifted, Subject: id.Type, New: map[string]any{"evidence": ev}})
		} else {
			notErased = append(notErased, id)
		}
	}
	return notErased, lift, changes, nil
}

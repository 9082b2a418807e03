package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// MergeWrite is the absorbed side of a merge, committed with the survivor: the absorbed
// profile's item becomes an alias carrying the survivor, its chain is closed by Events, and
// Record keeps both profiles as they were so that a split can undo the merge.
type MergeWrite struct {
	Absorbed    *profile.Profile // closed: its chain ends with the closing event
	PrevVersion int64            // its version as read; the commit is conditioned on it
	Events      []ledger.Event   // the closing event, sealed in the absorbed chain
	Record      MergeRecord
}

// MergeRecord is one merge as a split needs it: both profiles just before it, the absorbed
// one with its chain closed. It is stored in the survivor's partition.
type MergeRecord struct {
	ID       string           `json:"id"`
	At       time.Time        `json:"at"`
	Survivor *profile.Profile `json:"survivor"`
	Absorbed *profile.Profile `json:"absorbed"`
}

// SplitWrite restores the profile a merge absorbed, committed with the survivor: the
// restored profile's item, its identity items and its own aliases get its document back,
// Events continue its chain, and the merge's record is deleted.
type SplitWrite struct {
	Restored *profile.Profile
	Events   []ledger.Event
	MergeID  string
}

// CandidateStatus is where a merge candidate stands.
type CandidateStatus string

// The candidate states.
const (
	CandidateOpen     CandidateStatus = "open"
	CandidateAccepted CandidateStatus = "accepted"
	CandidateRejected CandidateStatus = "rejected"
)

// Candidate is a merge proposed for review: an identity linked to ProfileID belongs to
// OtherProfileID, and its type is not trusted to merge on. There is one per pair of
// profiles: linking the same pair again finds it, so a rejected pair is not proposed again.
type Candidate struct {
	ID             string          `json:"id"`
	Status         CandidateStatus `json:"status"`
	ProfileID      string          `json:"profileId"`      // survives if accepted
	OtherProfileID string          `json:"otherProfileId"` // is absorbed if accepted
	IdentityType   string          `json:"identityType"`   // of the identity that linked them
	ProposedBy     ledger.Actor    `json:"proposedBy"`
	CreatedAt      time.Time       `json:"createdAt"`
	DecidedBy      *ledger.Actor   `json:"decidedBy,omitempty"`
	DecidedAt      *time.Time      `json:"decidedAt,omitempty"`
	Reason         string          `json:"reason,omitempty"`
	MergeID        string          `json:"mergeId,omitempty"`
	Version        int64           `json:"version"`
}

// candidateID is the same for a pair of profiles whichever was linked to which.
func candidateID(a, b string) string {
	lo, hi := min(a, b), max(a, b)
	sum := sha256.Sum256([]byte(lo + "\x00" + hi))
	return "mc_" + hex.EncodeToString(sum[:12])
}

// MergeStore keeps merge candidates and records.
type MergeStore interface {
	// ProposeCandidate stores c unless its pair has one already, and returns the stored one.
	ProposeCandidate(ctx context.Context, tenant string, c Candidate) (*Candidate, error)
	Candidate(ctx context.Context, tenant, id string) (*Candidate, error)
	// Candidates lists a tenant's candidates in one status, oldest first, one page.
	Candidates(ctx context.Context, tenant string, status CandidateStatus, cursor string, limit int) ([]Candidate, string, error)
	// MergeRecord reads a merge of survivor; NotFound when it was split or never happened.
	MergeRecord(ctx context.Context, tenant, survivor, mergeID string) (*MergeRecord, error)
	// RequestsOfProfile returns every request of the profile.
	RequestsOfProfile(ctx context.Context, tenant, profileID string) ([]dsr.Request, error)
}

// Link is what became of an identity a write linked that another profile held.
type Link struct {
	IdentityType string `json:"identityType"`
	ProfileID    string `json:"profileId"` // the profile that held it
	// Outcome is "merged" (that profile was merged into this one) or "candidate" (a merge
	// was proposed for review and the identity stays where it was).
	Outcome     string `json:"outcome"`
	MergeID     string `json:"mergeId,omitempty"`
	CandidateID string `json:"candidateId,omitempty"`
}

// The link outcomes.
const (
	LinkMerged    = "merged"
	LinkCandidate = "candidate"
)

// MergeResult is the outcome of a merge or a split.
type MergeResult struct {
	Profile *profile.Profile `json:"profile"`
	MergeID string           `json:"mergeId,omitempty"`
	// Restored is the profile a split gave back.
	Restored *profile.Profile `json:"restored,omitempty"`
}

// MergeProfiles absorbs the profile other into the profile id by the merge rules of
// profile.Merge, in one transaction however long either history is (the absorbed chain is
// closed and linked, not copied): other's id becomes an alias that answers for id, its
// identities move over, its open requests move over, and a profile.merged event carrying
// both ids goes to the ledger and the outbox. A concurrent write to either profile makes
// the attempt stale and it is retried on fresh reads, so nothing written meanwhile is lost.
func (s *Service) MergeProfiles(ctx context.Context, tenant, id, other string, w Write) (MergeResult, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return MergeResult{}, err
	}
	return s.merge(ctx, tenant, cat, id, other, nil, w)
}

// merge runs MergeProfiles; cand, when set, is the candidate the merge accepts.
func (s *Service) merge(ctx context.Context, tenant string, cat *catalog.Catalog, id, other string, cand *Candidate, w Write) (MergeResult, error) {
	if id == other {
		return MergeResult{}, errs.Unmet("profileId", "is the profile itself")
	}
	for attempt := 1; ; attempt++ {
		found, err := s.store.Lookup(ctx, tenant, []Ref{{ID: id}, {ID: other}})
		if err != nil {
			return MergeResult{}, fmt.Errorf("read profiles to merge: %w", err)
		}
		a, b := found[Ref{ID: id}], found[Ref{ID: other}]
		switch {
		case a == nil:
			return MergeResult{}, notFoundProfile()
		case b == nil:
			return MergeResult{}, errs.E(errs.Unprocessable, "profile not found", errs.FieldError{Field: "profileId", Reason: "no such profile"})
		case a.ID == b.ID:
			return MergeResult{}, &errs.Error{Code: errs.Conflict, Message: "the profiles are merged already",
				Fields: []errs.FieldError{{Field: "profileId", Reason: "is merged into " + a.ID}}, Err: errMergedAlready}
		case b.ID != other:
			return MergeResult{}, errs.E(errs.Conflict, "the profile was merged into another", errs.FieldError{Field: "profileId", Reason: "is merged into " + b.ID})
		}
		res, err := s.commitMerge(ctx, tenant, cat, a, b, cand, w)
		if errors.Is(err, errs.ErrStale) && w.IfMatch == nil && attempt < maxAttempts {
			backoff(attempt)
			continue
		}
		return res, err
	}
}

// errMergedAlready marks a merge of two ids that already answer for one profile.
var errMergedAlready = errors.New("merged already")

func notFoundProfile() error { return errs.E(errs.NotFound, "profile not found") }

func (s *Service) commitMerge(ctx context.Context, tenant string, cat *catalog.Catalog, a, b *profile.Profile, cand *Candidate, w Write) (MergeResult, error) {
	now := s.now().UTC()
	if w.IfMatch != nil && a.Version != *w.IfMatch {
		return MergeResult{}, errs.E(errs.PreconditionFailed, "the profile has changed since the version in If-Match")
	}
	reqs, err := s.store.RequestsOfProfile(ctx, tenant, b.ID)
	if err != nil {
		return MergeResult{}, fmt.Errorf("requests of the absorbed profile: %w", err)
	}
	mergeID := NewID("mg_")
	closed := b.Clone()
	closing := sealChanges(tenant, closed, []profile.Change{profile.Close(a.ID, mergeID)}, now, w.Actor, w.RequestID)
	next := a.Clone()
	change, err := next.Merge(cat, closed, mergeID, now)
	if err != nil {
		return MergeResult{}, err
	}
	changes := []profile.Change{change}
	var saves []RequestSave
	for _, r := range reqs {
		if !r.Status.Open() {
			continue
		}
		prior := r.Prior()
		moved := r
		moved.ProfileID, moved.Version = a.ID, r.Version+1
		saves = append(saves, RequestSave{Request: &moved, Prior: prior})
	}
	events := sealChanges(tenant, next, changes, now, w.Actor, w.RequestID)
	c := Commit{Profile: next, PrevVersion: a.Version, Events: events, Requests: saves, Candidate: decided(cand, CandidateAccepted, w.Actor, now, mergeID),
		Merge: &MergeWrite{Absorbed: closed, PrevVersion: b.Version, Events: closing,
			Record: MergeRecord{ID: mergeID, At: now, Survivor: a, Absorbed: closed}}}
	res := MergeResult{Profile: next, MergeID: mergeID}
	if c.Record, err = w.Idempotency.record(res, next.ID, now); err != nil {
		return MergeResult{}, err
	}
	if len(next.Identities)+len(next.Aliases)+len(events)+len(closing)+3*len(saves) > maxCommitItems {
		return MergeResult{}, errs.E(errs.Conflict, "the merge is too large for one transaction; close some of the absorbed profile's requests first")
	}
	if err := s.store.Commit(ctx, tenant, c); err != nil {
		return MergeResult{}, err
	}
	return res, nil
}

// decided returns cand decided as status, or nil.
func decided(cand *Candidate, status CandidateStatus, by ledger.Actor, at time.Time, mergeID string) *Candidate {
	if cand == nil {
		return nil
	}
	d := *cand
	d.Status, d.DecidedBy, d.DecidedAt, d.MergeID, d.Version = status, &by, &at, mergeID, cand.Version+1
	return &d
}

// SplitProfile undoes merge mergeID of profile id (profile.Split says how each value is
// divided), in one transaction: the absorbed profile gets its own document, identities and
// aliases back, both chains record the split, and a profile.split event goes out.
func (s *Service) SplitProfile(ctx context.Context, tenant, id, mergeID string, w Write) (MergeResult, error) {
	for attempt := 1; ; attempt++ {
		p, err := s.store.Profile(ctx, tenant, id)
		if err != nil {
			return MergeResult{}, err
		}
		i := slices.IndexFunc(p.Merges, func(m profile.MergeRef) bool { return m.ID == mergeID })
		if i < 0 {
			return MergeResult{}, errs.E(errs.Unprocessable, "the profile has no such merge", errs.FieldError{Field: "mergeId", Reason: "names no merge this profile absorbed, or one split already"})
		}
		if w.IfMatch != nil && p.Version != *w.IfMatch {
			return MergeResult{}, errs.E(errs.PreconditionFailed, "the profile has changed since the version in If-Match")
		}
		rec, err := s.store.MergeRecord(ctx, tenant, p.ID, mergeID)
		if err != nil {
			return MergeResult{}, fmt.Errorf("read the merge: %w", err)
		}
		now := s.now().UTC()
		next := p.Clone()
		restored, mine, theirs, err := next.Split(p.Merges[i], rec.Survivor, rec.Absorbed, now)
		if err != nil {
			return MergeResult{}, err
		}
		restoredEvents := sealChanges(tenant, restored, []profile.Change{theirs}, now, w.Actor, w.RequestID)
		events := sealChanges(tenant, next, []profile.Change{mine}, now, w.Actor, w.RequestID)
		c := Commit{Profile: next, PrevVersion: p.Version, Events: events,
			Split: &SplitWrite{Restored: restored, Events: restoredEvents, MergeID: mergeID}}
		res := MergeResult{Profile: next, MergeID: mergeID, Restored: restored}
		if c.Record, err = w.Idempotency.record(res, next.ID, now); err != nil {
			return MergeResult{}, err
		}
		err = s.store.Commit(ctx, tenant, c)
		if errors.Is(err, errs.ErrStale) && w.IfMatch == nil && attempt < maxAttempts {
			backoff(attempt)
			continue
		}
		if err != nil {
			return MergeResult{}, err
		}
		return res, nil
	}
}

package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// link applies the tenant's merge policy to the identities ids that a write attaches to
// the profile target, given held (each identity's profile as just read; absent: nobody's).
// Another profile holding one of them is merged into target at once when any identity that
// links them has a type the catalog trusts to merge on; otherwise a merge candidate is
// proposed for review and those identities stay where they are: they are returned in
// keep, for the write to leave out. The merges are committed before the write.
func (s *Service) link(ctx context.Context, tenant string, cat *catalog.Catalog, target string, held map[profile.Identity]*profile.Profile, ids []profile.Identity, w Write) (links []Link, keep []profile.Identity, err error) {
	var order []string
	by := map[string][]profile.Identity{}
	for _, id := range ids {
		p := held[id]
		if p == nil || p.ID == target {
			continue
		}
		if _, ok := by[p.ID]; !ok {
			order = append(order, p.ID)
		}
		by[p.ID] = append(by[p.ID], id)
	}
	for _, other := range order {
		linked := by[other]
		l := Link{IdentityType: linked[0].Type, ProfileID: other}
		if i := slices.IndexFunc(linked, func(id profile.Identity) bool { return cat.Resolution.Trusted(id.Type) }); i >= 0 {
			l.IdentityType = linked[i].Type
			res, err := s.merge(ctx, tenant, cat, target, other, nil, Write{Actor: w.Actor, RequestID: w.RequestID})
			switch {
			case errors.Is(err, errMergedAlready):
			case err != nil:
				return nil, nil, fmt.Errorf("merge a linked profile: %w", err)
			}
			l.Outcome, l.MergeID = LinkMerged, res.MergeID
		} else {
			c, err := s.store.ProposeCandidate(ctx, tenant, Candidate{
				ID: candidateID(target, other), Status: CandidateOpen, ProfileID: target, OtherProfileID: other,
				IdentityType: l.IdentityType, ProposedBy: w.Actor, CreatedAt: s.now().UTC(), Version: 1,
			})
			if err != nil {
				return nil, nil, fmt.Errorf("propose a merge: %w", err)
			}
			l.Outcome, l.CandidateID = LinkCandidate, c.ID
			keep = append(keep, linked...)
		}
		links = append(links, l)
	}
	return links, keep, nil
}

// linkRefs returns the references that read id's profile and the profiles of ids.
func linkRefs(id string, ids []profile.Identity) []Ref {
	refs := []Ref{{ID: id}}
	for _, i := range ids {
		refs = append(refs, Ref{Identity: i})
	}
	return refs
}

// held maps each identity to its profile in found, leaving out those nobody holds.
func held(found map[Ref]*profile.Profile, ids []profile.Identity) map[profile.Identity]*profile.Profile {
	out := map[profile.Identity]*profile.Profile{}
	for _, id := range ids {
		if p := found[Ref{Identity: id}]; p != nil {
			out[id] = p
		}
	}
	return out
}

// without returns ids less those in drop.
func without(ids, drop []profile.Identity) []profile.Identity {
	return slices.DeleteFunc(slices.Clone(ids), func(id profile.Identity) bool { return slices.Contains(drop, id) })
}

// MaxCandidatePage is the largest page of GET /v1/merge-candidates.
const MaxCandidatePage = 100

// ListCandidates returns one page of the tenant's merge candidates in a status (open when
// empty), oldest first.
func (s *Service) ListCandidates(ctx context.Context, tenant string, status CandidateStatus, cursor string, limit int) ([]Candidate, string, error) {
	var f errs.Fields
	switch status {
	case "":
		status = CandidateOpen
	case CandidateOpen, CandidateAccepted, CandidateRejected:
	default:
		f.Add("status", "must be open, accepted or rejected")
	}
	if limit < 0 || limit > MaxCandidatePage {
		f.Add("limit", fmt.Sprintf("must be 1 to %d", MaxCandidatePage))
	}
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	if limit == 0 {
		limit = 50
	}
	return s.store.Candidates(ctx, tenant, status, cursor, limit)
}

// MaxDecisionReason bounds the reason recorded with a candidate decision, in characters.
const MaxDecisionReason = 500

// DecideCandidate accepts (merging the other profile into the candidate's profile) or
// rejects an open merge candidate. The decision is committed with a ledger event in the
// profile's chain (the merge itself, or a merge_candidate.rejected event); a candidate
// decided already is a Conflict.
func (s *Service) DecideCandidate(ctx context.Context, tenant, id string, accept bool, reason string, w Write) (*Candidate, MergeResult, error) {
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxDecisionReason || strings.ContainsFunc(reason, unicode.IsControl) {
		return nil, MergeResult{}, errs.Field("reason", fmt.Sprintf("must be at most %d printable characters", MaxDecisionReason))
	}
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return nil, MergeResult{}, err
	}
	for attempt := 1; ; attempt++ {
		c, err := s.store.Candidate(ctx, tenant, id)
		if err != nil {
			return nil, MergeResult{}, err
		}
		if c.Status != CandidateOpen {
			return nil, MergeResult{}, errs.E(errs.Conflict, "the merge candidate was decided already: "+string(c.Status))
		}
		c.Reason = reason
		if accept {
			res, err := s.merge(ctx, tenant, cat, c.ProfileID, c.OtherProfileID, c, w)
			if errors.Is(err, errs.ErrStale) && attempt < maxAttempts {
				continue
			}
			if err != nil {
				return nil, MergeResult{}, err
			}
			return decided(c, CandidateAccepted, w.Actor, s.now().UTC(), res.MergeID), res, nil
		}
		now := s.now().UTC()
		d := decided(c, CandidateRejected, w.Actor, now, "")
		res, err := s.update(ctx, tenant, c.ProfileID, cat, Write{Actor: w.Actor, RequestID: w.RequestID, candidate: d},
			func(p *profile.Profile, _ time.Time) ([]profile.Change, []profile.Identity, error) {
				return []profile.Change{{Type: profile.EventCandidateRejected, Subject: c.OtherProfileID,
					New: map[string]string{"candidateId": c.ID, "otherProfileId": c.OtherProfileID, "reason": reason}}}, nil, nil
			})
		if errors.Is(err, errs.ErrStale) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, MergeResult{}, err
		}
		return d, MergeResult{Profile: res.Profile}, nil
	}
}

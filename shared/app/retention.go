package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/retention"
)

// Redactor removes values from a profile's ledger; *dynamo.Store implements it.
type Redactor interface {
	// RedactEvents redacts the events of the profile's chain that match selects and
	// returns how many it changed.
	RedactEvents(ctx context.Context, tenant, profileID string, match func(ledger.Event) bool) (int, error)
}

// RetentionOutcome is what ApplyRetention found and did.
type RetentionOutcome struct {
	// ProfileID is the profile the plan is of: a merged id resolves to its survivor.
	ProfileID string
	Plan      retention.Plan
	// Redacted counts the ledger events whose values were removed.
	Redacted int
	// Request is the erasure request of an inactive profile to erase, and Duplicate says
	// it was open already.
	Request   string
	Duplicate bool
}

// ApplyRetention ends what of the profile is past retention now (retention.Due): a
// purpose's data is erased from the profile and from its ledger's values (the ledger's
// values first, so that a run cut short leaves nothing behind that the next run would
// not find), then committed with a retention.erased event per purpose; an inactive profile
// is anonymised the same way, or erased by an erasure request the erasure job carries out.
func (s *Service) ApplyRetention(ctx context.Context, tenant, profileID string, red Redactor) (RetentionOutcome, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return RetentionOutcome{}, err
	}
	for attempt := 1; ; attempt++ {
		p, err := s.store.Profile(ctx, tenant, profileID)
		if err != nil {
			return RetentionOutcome{}, err
		}
		now := s.now().UTC()
		out := RetentionOutcome{ProfileID: p.ID, Plan: retention.Due(cat, p, now)}
		switch {
		case out.Plan.Empty():
			return out, nil
		case out.Plan.Inactive && out.Plan.Action == catalog.Erase:
			res, err := s.CreateRequest(ctx, tenant, RequestInput{
				ProfileID: p.ID, Type: dsr.Erasure, Verification: dsr.AttestedBrand,
				AttestationReason: fmt.Sprintf("retention: the profile was inactive for the tenant's limit of %d days", cat.Retention.InactiveDays),
			}, RequestWrite{Actor: retention.Actor})
			if err != nil {
				return out, fmt.Errorf("request erasure: %w", err)
			}
			out.Request, out.Duplicate = res.Request.ID, res.Duplicate
			return out, nil
		}
		for _, id := range append([]string{p.ID}, p.Aliases...) {
			n, err := red.RedactEvents(ctx, tenant, id, out.Plan.Redacts)
			out.Redacted += n
			if err != nil {
				return out, err
			}
		}
		next := p.Clone()
		changes, removed := out.Plan.Apply(next, cat.Retention.InactiveDays, now)
		events := sealChanges(tenant, next, changes, now, retention.Actor, "")
		err = s.store.Commit(ctx, tenant, Commit{Profile: next, PrevVersion: p.Version, Removed: removed, Events: events})
		if errors.Is(err, errs.ErrStale) && attempt < maxAttempts {
			backoff(attempt)
			continue
		}
		return out, err
	}
}

package app

import (
	"context"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// EventsPage is one page of a profile's ledger.
type EventsPage struct {
	Events []ledger.Event
	// Next is the cursor of the following page, 0 on the last page.
	Next int64
	// Verified says the page's events hash-chain to their predecessor and, on the last page,
	// to the head recorded on the profile. When not, BrokenAt is the sequence number (as
	// stored) of the first event that does not verify.
	Verified bool
	BrokenAt int64
}

// MaxPage is the largest ledger page.
const MaxPage = 100

// Events returns the events after sequence number after (0 = from the start).
func (s *Service) Events(ctx context.Context, tenant, id string, after int64, limit int) (EventsPage, error) {
	if err := checkPage(after, limit); err != nil {
		return EventsPage{}, err
	}
	p, err := s.store.Profile(ctx, tenant, id)
	if err != nil {
		return EventsPage{}, err
	}
	if head, ok := p.ClosedChains[id]; ok && p.ID != id {
		// A merged id's own history: its chain, which ends where the merge closed it.
		p = &profile.Profile{ID: id, LedgerSeq: head.Seq, LedgerHead: head.Hash}
	}
	return s.EventsOf(ctx, tenant, p, after, limit)
}

func checkPage(after int64, limit int) error {
	if limit < 1 || limit > MaxPage {
		return errs.Field("limit", "must be between 1 and 100")
	}
	if after < 0 {
		return errs.Field("after", "must not be negative")
	}
	return nil
}

// EventsOf is Events of a profile the caller has just read (the portal has, for its
// session), without reading it again: p's ledger head tells where the history ends.
func (s *Service) EventsOf(ctx context.Context, tenant string, p *profile.Profile, after int64, limit int) (EventsPage, error) {
	if err := checkPage(after, limit); err != nil {
		return EventsPage{}, err
	}
	id := p.ID
	from, n := after, limit+1 // read the predecessor too: it anchors the chain
	if after == 0 {
		from, n = 1, limit
	}
	evs, err := s.store.Events(ctx, tenant, id, from, n)
	if err != nil {
		return EventsPage{}, err
	}
	prev := ""
	if after > 0 {
		if len(evs) == 0 || evs[0].Seq != after {
			return EventsPage{}, errs.Unmet("after", "is not an event of this profile")
		}
		prev, evs = evs[0].Hash, evs[1:]
	}
	page := EventsPage{Events: evs}
	ok, broken := ledger.Verify(prev, evs)
	if !ok {
		page.BrokenAt = evs[broken].Seq
	}
	last := after
	if len(evs) > 0 {
		last = evs[len(evs)-1].Seq
	}
	if last < p.LedgerSeq {
		page.Next = last
	} else if ok && len(evs) > 0 && evs[len(evs)-1].Hash != p.LedgerHead {
		// The last page must end at the head the profile records, or events were cut off.
		ok, page.BrokenAt = false, last
	}
	page.Verified = ok
	return page, nil
}

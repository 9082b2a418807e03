package profile

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// Ledger event types of identity resolution.
const (
	// EventProfileMerged is recorded in the survivor's chain; its New is a MergeDetail.
	EventProfileMerged = "profile.merged"
	// EventProfileClosed is the last event of an absorbed profile's own chain.
	EventProfileClosed = "profile.merged_into"
	// EventProfileSplit is recorded in both chains when a merge is undone.
	EventProfileSplit = "profile.split"
	// EventCandidateRejected records a reviewed merge candidate that was turned down.
	EventCandidateRejected = "merge_candidate.rejected"
)

// MaxAliases bounds the absorbed ids one profile answers for: each is an item every commit
// of the profile writes.
const MaxAliases = 20

// MergeRef is one merge a profile absorbed, kept so that a split can find and undo it.
type MergeRef struct {
	ID       string    `json:"id"`
	Absorbed string    `json:"absorbed"`
	At       time.Time `json:"at"`
}

// MergeDetail is what a merge recorded in the survivor's chain: the absorbed profile and the
// head of its closed chain (so both chains verify and each points at the other), and every
// value of the survivor the merge changed, before (Old) and after (New).
type MergeDetail struct {
	MergeID            string                  `json:"mergeId"`
	Absorbed           string                  `json:"absorbed"`
	AbsorbedLedgerSeq  int64                   `json:"absorbedLedgerSeq"`
	AbsorbedLedgerHead string                  `json:"absorbedLedgerHead"`
	Consents           map[string]Consent      `json:"consents,omitempty"`
	Subscriptions      map[string]Subscription `json:"subscriptions,omitempty"`
	Attributes         map[string]any          `json:"attributes,omitempty"`
	Identities         []Identity              `json:"identities,omitempty"`
	Rights             *Rights                 `json:"rights,omitempty"`
}

// Close is the last change of an absorbed profile's own chain: it was merged into survivor.
// The caller seals it in that chain before Merge reads the chain's head.
func Close(survivor, mergeID string) Change {
	return Change{Type: EventProfileClosed, Subject: survivor, New: map[string]string{"mergedInto": survivor, "mergeId": mergeID}}
}

// Merge folds b into p by the merge rules, so that the result never allows what the person
// did not allow:
//   - consents per purpose and subscriptions per topic: the later decision wins, and at the
//     same instant the one that allows less (two grants or subscriptions at the same
//     instant allow only what both allow, see mergeConsent and mergeSubscription);
//   - objections (the earlier time), restriction and the automated-decision opt-out are kept
//     from either side;
//   - attributes: the value of the source the catalog trusts more for the attribute, then
//     the more recent; a removal is a value too;
//   - identities, their provenance and aliases are the union; b's id becomes an alias.
//
// It reports one change for p's chain, whose New is the MergeDetail. b's chain must be
// closed already (see Close). Too many identities or aliases is a Conflict.
func (p *Profile) Merge(cat *catalog.Catalog, b *Profile, mergeID string, at time.Time) (Change, error) {
	ids := slices.Clone(p.Identities)
	for _, id := range b.Identities {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > MaxIdentities {
		return Change{}, errs.E(errs.Conflict, fmt.Sprintf("the merged profile would hold more than %d identities; remove some from either profile first", MaxIdentities))
	}
	aliases := append(slices.Clone(p.Aliases), b.ID)
	aliases = append(aliases, b.Aliases...)
	if len(aliases) > MaxAliases {
		return Change{}, errs.E(errs.Conflict, fmt.Sprintf("a profile answers for at most %d merged profiles", MaxAliases))
	}
	d := MergeDetail{MergeID: mergeID, Absorbed: b.ID, AbsorbedLedgerSeq: b.LedgerSeq, AbsorbedLedgerHead: b.LedgerHead,
		Consents: map[string]Consent{}, Subscriptions: map[string]Subscription{}, Attributes: map[string]any{}}
	old := MergeDetail{Consents: map[string]Consent{}, Subscriptions: map[string]Subscription{}, Attributes: map[string]any{}}
	for k, theirs := range b.Consents {
		mine, ok := p.Consents[k]
		if !ok {
			p.Consents[k], d.Consents[k] = theirs, theirs
		} else if c, changed := mergeConsent(mine, theirs); changed {
			old.Consents[k] = mine
			p.Consents[k], d.Consents[k] = c, c
		}
	}
	for k, theirs := range b.Subscriptions {
		mine, ok := p.Subscriptions[k]
		if !ok {
			p.Subscriptions[k], d.Subscriptions[k] = theirs, theirs
		} else if s, changed := mergeSubscription(mine, theirs); changed {
			old.Subscriptions[k] = mine
			p.Subscriptions[k], d.Subscriptions[k] = s, s
		}
	}
	for _, name := range attributeNames(b) {
		if !b.attributeWins(p, cat.Resolution, name) {
			continue
		}
		old.Attributes[name] = p.Attributes[name]
		d.Attributes[name] = b.Attributes[name]
		p.copyAttribute(b, name)
	}
	rights := p.Rights
	rights.Objections = maps.Clone(p.Rights.Objections)
	if b.Rights.Restricted && !rights.Restricted {
		rights.Restricted, rights.RestrictedAt = true, b.Rights.RestrictedAt
	}
	if b.Rights.AutomatedDecisionOptOut && !rights.AutomatedDecisionOptOut {
		rights.AutomatedDecisionOptOut, rights.OptOutAt = true, b.Rights.OptOutAt
	}
	for k, t := range b.Rights.Objections {
		if mine, ok := rights.Objections[k]; !ok || t.Before(mine) {
			if rights.Objections == nil {
				rights.Objections = map[string]time.Time{}
			}
			rights.Objections[k] = t
		}
	}
	if !rightsEqual(rights, p.Rights) {
		old.Rights, d.Rights = &Rights{Restricted: p.Rights.Restricted, Objections: p.Rights.Objections, AutomatedDecisionOptOut: p.Rights.AutomatedDecisionOptOut}, &rights
		p.Rights = rights
	}
	d.Identities = ids[len(p.Identities):]
	p.Identities = ids
	for k, v := range b.IdentitySources {
		if p.IdentitySources == nil {
			p.IdentitySources = map[string]Provenance{}
		}
		if _, ok := p.IdentitySources[k]; !ok {
			p.IdentitySources[k] = v
		}
	}
	p.Aliases = aliases
	if p.ClosedChains == nil {
		p.ClosedChains = map[string]ChainHead{}
	}
	p.ClosedChains[b.ID] = ChainHead{Seq: b.LedgerSeq, Hash: b.LedgerHead}
	maps.Copy(p.ClosedChains, b.ClosedChains)
	p.Merges = append(p.Merges, MergeRef{ID: mergeID, Absorbed: b.ID, At: at})
	if b.CreatedAt.Before(p.CreatedAt) {
		p.CreatedAt = b.CreatedAt
	}
	return Change{Type: EventProfileMerged, Subject: b.ID, Old: old, New: d}, nil
}

// mergeConsent is the merged answer for one purpose and whether it differs from mine: the
// later decision, and at the same instant the one that allows less. Two grants at the same
// instant allow only what both allow: the older notice version and the earlier expiry.
func mergeConsent(mine, theirs Consent) (Consent, bool) {
	switch {
	case theirs.UpdatedAt.After(mine.UpdatedAt):
		return theirs, true
	case theirs.UpdatedAt.Before(mine.UpdatedAt) || mine.Status != Granted:
		return mine, false
	case theirs.Status != Granted:
		return theirs, true
	}
	out, changed := mine, false
	if theirs.NoticeVersion < out.NoticeVersion {
		out.NoticeVersion, changed = theirs.NoticeVersion, true
	}
	if theirs.ExpiresAt != nil && (out.ExpiresAt == nil || theirs.ExpiresAt.Before(*out.ExpiresAt)) {
		out.ExpiresAt, changed = theirs.ExpiresAt, true
	}
	return out, changed
}

// mergeSubscription is the merged choice for one topic and whether it differs from mine:
// the later choice, and at the same instant the one that allows less. Two subscriptions at
// the same instant keep only the channels both chose, and none in common is an unsubscribe.
func mergeSubscription(mine, theirs Subscription) (Subscription, bool) {
	switch {
	case theirs.UpdatedAt.After(mine.UpdatedAt):
		return theirs, true
	case theirs.UpdatedAt.Before(mine.UpdatedAt) || mine.Status != Subscribed:
		return mine, false
	case theirs.Status != Subscribed:
		return theirs, true
	}
	both := slices.DeleteFunc(slices.Clone(mine.Channels), func(ch string) bool { return !slices.Contains(theirs.Channels, ch) })
	if len(both) == len(mine.Channels) {
		return mine, false
	}
	out := mine
	out.Channels = both
	if len(both) == 0 {
		out.Status, out.Frequency = Unsubscribed, ""
	}
	return out, true
}

// attributeNames lists the attributes p holds a value or a removal of, sorted.
func attributeNames(p *Profile) []string {
	names := slices.Collect(maps.Keys(p.Attributes))
	for k := range p.AttributeTimes {
		if _, ok := p.Attributes[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// attributeWins reports whether b's value of attribute name beats p's: the more trusted
// source, then the more recent; p keeps a tie.
func (b *Profile) attributeWins(p *Profile, r catalog.Resolution, name string) bool {
	_, mine := p.Attributes[name]
	if !mine && p.AttributeTimes[name].IsZero() {
		return true
	}
	rb, rp := r.Rank(name, SourceName(b.AttributeSources[name])), r.Rank(name, SourceName(p.AttributeSources[name]))
	if rb != rp {
		return rb < rp
	}
	return b.AttributeTimes[name].After(p.AttributeTimes[name])
}

// copyAttribute makes p's attribute name what it is in from: value (or its absence), time
// and source.
func (p *Profile) copyAttribute(from *Profile, name string) {
	if v, ok := from.Attributes[name]; ok {
		p.Attributes[name] = v
	} else {
		delete(p.Attributes, name)
	}
	setOrDelete(&p.AttributeTimes, name, from.AttributeTimes)
	setOrDelete(&p.AttributeSources, name, from.AttributeSources)
}

func setOrDelete[V any](dst *map[string]V, k string, src map[string]V) {
	v, ok := src[k]
	if !ok {
		delete(*dst, k)
		return
	}
	if *dst == nil {
		*dst = map[string]V{}
	}
	(*dst)[k] = v
}

func rightsEqual(a, b Rights) bool {
	return a.Restricted == b.Restricted && a.AutomatedDecisionOptOut == b.AutomatedDecisionOptOut && maps.Equal(a.Objections, b.Objections)
}

// Split undoes the merge ref of p: given the survivor and the absorbed profile as they
// were just before it (s0 and b0, b0's chain closed), it makes p the survivor as it would be
// had the merge not happened plus the changes made since, and returns the absorbed profile
// restored the same way. A change made since the merge cannot be told to be one person's or
// the other's, so it stays with the survivor, and where it allows less (a withdrawal, an
// unsubscribe, an objection, a restriction) it applies to the restored profile too: a split
// never allows what either person did not allow. Identities attached since stay with the
// survivor; identities removed since stay removed. Neither side may be left without an
// identity (Conflict). It reports one change for each chain.
func (p *Profile) Split(ref MergeRef, s0, b0 *Profile, at time.Time) (*Profile, Change, Change, error) {
	b := b0.Clone()
	// Past every version the alias answered with, so an ETag read through it never matches;
	// sealing the split counts one more.
	b.Version = max(b0.Version, p.Version)
	b.UpdatedAt = at
	later := func(t time.Time) bool { return t.After(ref.At) }
	splitDecisions(p.Consents, s0.Consents, b.Consents, later, func(c Consent) (time.Time, bool) { return c.UpdatedAt, c.Status == Granted })
	splitDecisions(p.Subscriptions, s0.Subscriptions, b.Subscriptions, later, func(s Subscription) (time.Time, bool) { return s.UpdatedAt, s.Status == Subscribed })
	for _, name := range attributeNames(p) {
		if !later(p.AttributeTimes[name]) {
			p.copyAttribute(s0, name)
		}
	}
	for _, name := range attributeNames(s0) {
		if _, ok := p.AttributeTimes[name]; !ok {
			p.copyAttribute(s0, name)
		}
	}
	p.Rights, b.Rights = splitRights(p.Rights, s0.Rights, b0.Rights, later)

	var mine []Identity
	b.Identities = nil
	for _, id := range p.Identities {
		if slices.Contains(b0.Identities, id) {
			b.Identities = append(b.Identities, id)
		} else {
			mine = append(mine, id)
		}
	}
	if len(mine) == 0 || len(b.Identities) == 0 {
		return nil, Change{}, Change{}, errs.E(errs.Conflict, "after the split one of the profiles would hold no identity; add one to it first")
	}
	for _, id := range b.Identities {
		delete(p.IdentitySources, id.String())
	}
	// Provenance of an identity removed since names its value: it goes with the identity.
	maps.DeleteFunc(b.IdentitySources, func(k string, _ Provenance) bool {
		return !slices.ContainsFunc(b.Identities, func(id Identity) bool { return id.String() == k })
	})
	p.Identities = mine
	gone := append([]string{b0.ID}, b0.Aliases...)
	p.Aliases = slices.DeleteFunc(p.Aliases, func(a string) bool { return slices.Contains(gone, a) })
	for _, a := range gone {
		delete(p.ClosedChains, a)
	}
	p.Merges = slices.DeleteFunc(p.Merges, func(m MergeRef) bool { return m.ID == ref.ID })
	p.CreatedAt = s0.CreatedAt
	detail := map[string]string{"mergeId": ref.ID, "restored": b.ID, "survivor": p.ID}
	return b, Change{Type: EventProfileSplit, Subject: b.ID, New: detail}, Change{Type: EventProfileSplit, Subject: p.ID, New: detail}, nil
}

// splitDecisions divides merged decisions m (consents or subscriptions, each with its time
// and whether it allows) between the survivor, which m becomes, and the restored side b
// (holding its own from before the merge): one made since the merge stays in m, and goes to
// b too when it does not allow; any other goes back to what the survivor had (s0).
func splitDecisions[V any](m, s0, b map[string]V, later func(time.Time) bool, of func(V) (time.Time, bool)) {
	for _, k := range slices.Sorted(maps.Keys(union(m, b))) {
		v, ok := m[k]
		if at, allows := of(v); ok && later(at) {
			if !allows {
				b[k] = v
			}
			continue
		}
		restore(m, s0, k)
	}
}

func union[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// splitFlag divides a merged restrictive flag m (changed since the merge or not) between the
// survivor (s0 before) and the restored side (b0), with their times.
func splitFlag(m, s0, b0, changedSince bool, mAt, s0At, b0At *time.Time) (s, b bool, sAt, bAt *time.Time) {
	switch {
	case changedSince && m: // set since: on both
		return true, true, mAt, mAt
	case changedSince: // lifted since: for the survivor; the restored side keeps its own
		return false, b0, mAt, b0At
	}
	return s0, b0, s0At, b0At
}

func restore[V any](dst, src map[string]V, k string) {
	if v, ok := src[k]; ok {
		dst[k] = v
	} else {
		delete(dst, k)
	}
}

// splitRights divides the merged rights m between the survivor (s0 before the merge) and
// the restored profile (b0): a right set since the merge stays on both; one lifted since is
// lifted for the survivor only; one not changed since goes back to what each side had.
func splitRights(m, s0, b0 Rights, later func(time.Time) bool) (Rights, Rights) {
	s, b := Rights{}, Rights{Objections: maps.Clone(b0.Objections)}
	changed := func(at *time.Time) bool { return at != nil && later(*at) }
	s.Restricted, b.Restricted, s.RestrictedAt, b.RestrictedAt = splitFlag(m.Restricted, s0.Restricted, b0.Restricted, changed(m.RestrictedAt), m.RestrictedAt, s0.RestrictedAt, b0.RestrictedAt)
	s.AutomatedDecisionOptOut, b.AutomatedDecisionOptOut, s.OptOutAt, b.OptOutAt = splitFlag(m.AutomatedDecisionOptOut, s0.AutomatedDecisionOptOut, b0.AutomatedDecisionOptOut, changed(m.OptOutAt), m.OptOutAt, s0.OptOutAt, b0.OptOutAt)
	for k, t := range m.Objections {
		_, theirs := b0.Objections[k]
		_, own := s0.Objections[k]
		if own || !theirs || later(t) {
			if s.Objections == nil {
				s.Objections = map[string]time.Time{}
			}
			// The merge kept the earlier of the two times; the survivor gets its own back.
			st := t
			if own && !later(t) {
				st = s0.Objections[k]
			}
			s.Objections[k] = st
		}
		if later(t) || !own && !theirs {
			if b.Objections == nil {
				b.Objections = map[string]time.Time{}
			}
			b.Objections[k] = t
		}
	}
	return s, b
}

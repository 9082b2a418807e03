package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Limits of one sync batch.
const (
	// MaxSyncChanges is the largest batch of changes one sync request carries.
	MaxSyncChanges = 500
	// MaxSyncSkew is how far in the future a change's time may lie (the source's clock may
	// run a little ahead of ours); a later time is rejected.
	MaxSyncSkew = 5 * time.Minute
	// MaxSyncChangeID is the longest change id, in bytes.
	MaxSyncChangeID = 128
	// maxTopicsPerCommit bounds the subscription changes one email event writes in one
	// transaction, which keeps it under DynamoDB's 100-item limit; more are written in
	// further transactions.
	maxTopicsPerCommit = 60
)

// Ledger event types that only an inbound email event records. Neither changes what a
// consent check answers; the unsubscribes that come with a complaint do.
const (
	// EventIdentityBounced records a hard bounce of an email identity (New: identity, bounceType).
	EventIdentityBounced = "identity.bounced"
	// EventIdentityComplained records a spam complaint about email to an identity (New: identity).
	EventIdentityComplained = "identity.complained"
)

// The email event types an email service reports.
const (
	EmailUnsubscribe = "unsubscribe"
	EmailBounce      = "bounce"
	EmailComplaint   = "complaint"
)

// The bounce types.
const (
	BounceHard = "hard"
	BounceSoft = "soft"
)

// email is both the identity type and the channel id that email events are about.
const email = "email"

// SyncMark names one change of a source system. Once recorded, the same change sent again
// is a duplicate and writes nothing.
type SyncMark struct {
	Source string
	Change string // the source's change id
}

// SyncBatch is one batch of changes from a source system.
type SyncBatch struct {
	Source    string
	Changes   []SyncChange
	RequestID string
	// Deadline, when set, stops processing before it: the changes not reached by then are
	// answered SyncDeferred and can be sent again.
	Deadline time.Time
	// Quiet marks the batch's commits so that their events reach no webhook (see
	// Commit.Quiet); imports are quiet unless asked otherwise.
	Quiet bool
}

// SyncChange is one change as the source reported it. Either an upsert (attributes,
// consents, subscriptions; a missing profile is created) or an email event.
type SyncChange struct {
	ID       string
	Identity *IdentityInput
	// Identities are more identities of the same person, linked to the profile by the
	// tenant's merge policy (see Service.UpdateProfile).
	Identities []IdentityInput
	OccurredAt time.Time

	Attributes    map[string]any
	Consents      map[string]profile.ConsentInput
	Subscriptions map[string]profile.SubscriptionInput

	EmailEvent *EmailEvent

	// SignupEvidence, with a consent grant in the same change, re-admits an erased person
	// whom the change would create (see Evidence).
	SignupEvidence *Evidence
}

// EmailEvent is what an email service reports about an email address: an unsubscribe
// (from Topic, or without one from every email subscription), a bounce, or a complaint.
type EmailEvent struct {
	Type       string
	Topic      string
	BounceType string
}

// SyncStatus is the outcome of one change.
type SyncStatus string

// The outcomes.
const (
	// SyncApplied: the change was applied (fields in Skipped were older than what is recorded).
	SyncApplied SyncStatus = "applied"
	// SyncStale: every field of the change was older than what is recorded; nothing changed.
	SyncStale SyncStatus = "skipped_stale"
	// SyncDuplicate: the source sent this change id before; nothing was written.
	SyncDuplicate SyncStatus = "duplicate"
	// SyncRejected: the change cannot be applied as sent (Code says why).
	SyncRejected SyncStatus = "rejected"
	// SyncDeferred: the change was not reached within the time limit; send it again.
	SyncDeferred SyncStatus = "deferred"
)

// Machine-readable codes of the results that are not plainly applied.
const (
	SyncCodeInvalid    = "invalid"        // a field is invalid (Field, Errors)
	SyncCodeErased     = "erased"         // the identity belongs to an erased person
	SyncCodeNoProfile  = "no_profile"     // an email event for an identity no profile holds
	SyncCodeRepeatedID = "repeated_id"    // the id repeats an earlier change of the batch
	SyncCodeNewer      = "newer_recorded" // a newer change is recorded for every field
	SyncCodeTimeLimit  = "time_limit"     // not reached within the time limit
)

// SyncResult is the answer for one change, in the order of the batch.
type SyncResult struct {
	ID        string     `json:"id"`
	Status    SyncStatus `json:"status"`
	ProfileID string     `json:"profileId,omitempty"`
	// Created says the change created the profile.
	Created bool `json:"created,omitempty"`
	// Unchanged says an applied change found everything as it asked.
	Unchanged bool              `json:"unchanged,omitempty"`
	Code      string            `json:"code,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Field     string            `json:"field,omitempty"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
	// Links says what became of linked identities that other profiles held.
	Links []Link `json:"links,omitempty"`
	// Skipped lists the fields not applied because a newer change is recorded for them.
	Skipped []errs.FieldError `json:"skipped,omitempty"`
}

// SyncSummary counts the results by status.
type SyncSummary struct {
	Applied      int `json:"applied"`
	SkippedStale int `json:"skippedStale"`
	Duplicate    int `json:"duplicate"`
	Rejected     int `json:"rejected"`
	Deferred     int `json:"deferred"`
}

// Summarize counts results by status.
func Summarize(results []SyncResult) SyncSummary {
	var s SyncSummary
	for _, r := range results {
		switch r.Status {
		case SyncApplied:
			s.Applied++
		case SyncStale:
			s.SkippedStale++
		case SyncDuplicate:
			s.Duplicate++
		case SyncRejected:
			s.Rejected++
		case SyncDeferred:
			s.Deferred++
		}
	}
	return s
}

// ValidSyncChangeID reports whether s is 1 to MaxSyncChangeID visible ASCII characters.
func ValidSyncChangeID(s string) bool {
	return s != "" && len(s) <= MaxSyncChangeID && strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
}

// Sync applies a batch of changes from one source system, in order, each in its own
// transaction with its ledger events (actor kind sync, id the source) and a mark of its
// change id, so that a replay of the batch writes nothing twice. A change older than what
// is recorded for a field skips that field. A person who was erased is never re-created.
//
// It fails as a whole (Invalid, naming changes[i].field) only when the batch cannot be
// read: a bad source, no changes or too many, an id or time missing or malformed. Every
// other problem rejects just its change. An error after some changes were applied leaves
// them applied; sending the batch again is safe.
func (s *Service) Sync(ctx context.Context, tenant string, b SyncBatch) ([]SyncResult, error) {
	var f errs.Fields
	if !catalog.ValidID(b.Source) {
		f.Add("source", "must match ^[a-z][a-z0-9_-]{0,63}$")
	}
	if len(b.Changes) == 0 || len(b.Changes) > MaxSyncChanges {
		f.Add("changes", fmt.Sprintf("must hold 1 to %d changes", MaxSyncChanges))
	}
	for i, c := range b.Changes {
		if !ValidSyncChangeID(c.ID) {
			f.Add(fmt.Sprintf("changes[%d].id", i), fmt.Sprintf("must be 1 to %d visible ASCII characters", MaxSyncChangeID))
		}
		if c.OccurredAt.IsZero() {
			f.Add(fmt.Sprintf("changes[%d].occurredAt", i), "is required: an RFC 3339 time such as 2026-05-31T12:00:00Z")
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	out := make([]SyncResult, len(b.Changes))
	plans := make([]*syncPlan, len(b.Changes))
	perr := make([]error, len(b.Changes))
	// A change that breaks the API's document refuses the whole batch, as any request that
	// breaks it is refused; a change the tenant's state cannot take is rejected on its own.
	for i, c := range b.Changes {
		plans[i], perr[i] = planSync(cat, c, now)
		if e, ok := errs.As(perr[i]); ok && e.Code == errs.Invalid {
			for _, fe := range e.Fields {
				f.Add(fmt.Sprintf("changes[%d].%s", i, fe.Field), fe.Reason)
			}
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for i, c := range b.Changes {
		out[i] = SyncResult{ID: c.ID}
		if seen[c.ID] {
			out[i].reject(SyncCodeRepeatedID, "id", "repeats the id of an earlier change in this batch")
			plans[i] = nil
			continue
		}
		seen[c.ID] = true
		if perr[i] != nil {
			out[i].rejectErr(perr[i])
			continue
		}
		ids = append(ids, c.ID)
	}
	marks, err := s.store.SyncMarks(ctx, tenant, b.Source, ids)
	if err != nil {
		return nil, fmt.Errorf("read sync marks: %w", err)
	}
	var refs []Ref
	for i, pl := range plans {
		if pl == nil {
			continue
		}
		if pid, dup := marks[pl.changeID]; dup {
			out[i] = SyncResult{ID: pl.changeID, Status: SyncDuplicate, ProfileID: pid}
			plans[i] = nil
			continue
		}
		refs = append(refs, Ref{Identity: pl.identity})
		for _, id := range pl.links {
			refs = append(refs, Ref{Identity: id})
		}
	}
	cache := map[profile.Identity]*profile.Profile{}
	if len(refs) > 0 {
		found, err := s.store.Lookup(ctx, tenant, refs)
		if err != nil {
			return nil, fmt.Errorf("look up profiles: %w", err)
		}
		for r, p := range found {
			cache[r.Identity] = p
		}
	}
	actor := ledger.Actor{Kind: ledger.ActorSync, ID: b.Source}
	for i, pl := range plans {
		if pl == nil {
			continue
		}
		if !b.Deadline.IsZero() && !s.now().Before(b.Deadline) {
			out[i].Status, out[i].Code = SyncDeferred, SyncCodeTimeLimit
			out[i].Reason = "not processed within the time limit; send the change again"
			continue
		}
		if out[i], err = s.syncOne(ctx, tenant, b, actor, cat, pl, cache); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *SyncResult) reject(code, field, reason string) {
	r.Status, r.Code, r.Field, r.Reason = SyncRejected, code, field, reason
}

// rejectErr rejects with the fields of an Invalid (or Conflict) error.
func (r *SyncResult) rejectErr(err error) {
	e, ok := errs.As(err)
	if !ok || len(e.Fields) == 0 {
		msg := "the change cannot be applied"
		if ok {
			msg = e.Message
		}
		r.reject(SyncCodeInvalid, "", msg)
		return
	}
	r.reject(SyncCodeInvalid, e.Fields[0].Field, e.Fields[0].Reason)
	r.Errors = e.Fields
}

// syncPlan is a change that passed validation, in normalized form.
type syncPlan struct {
	changeID string
	identity profile.Identity
	links    []profile.Identity // more identities to link, none of them identity
	attach   []profile.Identity // of links, those the change attaches (see Service.syncLinks)
	at       time.Time
	attrs    map[string]any
	consents map[string]profile.ConsentInput
	subs     map[string]profile.SubscriptionInput
	email    *EmailEvent
	evidence *Evidence
}

// planSync validates a change against the catalog, naming fields relative to the change.
// Consents and subscriptions are validated by applying them to an empty profile, so that
// a change is rejected whole even where a newer recorded value would have skipped it.
func planSync(cat *catalog.Catalog, c SyncChange, now time.Time) (*syncPlan, error) {
	var f errs.Fields
	pl := &syncPlan{changeID: c.ID, at: c.OccurredAt.UTC(), attrs: map[string]any{},
		consents: c.Consents, subs: c.Subscriptions, email: c.EmailEvent, evidence: c.SignupEvidence}
	if pl.at.After(now.Add(MaxSyncSkew)) {
		f.Unmet("occurredAt", fmt.Sprintf("must not be more than %d minutes in the future", int(MaxSyncSkew.Minutes())))
	}
	if c.Identity == nil {
		f.Add("identity", "is required")
	} else {
		pl.identity, _ = normalizeIdentity(cat, "identity", c.Identity.Type, c.Identity.Value, &f)
	}
	if len(c.Identities) >= profile.MaxIdentities {
		f.Add("identities", fmt.Sprintf("must hold at most %d identities", profile.MaxIdentities-1))
	}
	for _, id := range Normalize(cat, "identities", c.Identities, &f) {
		if id != pl.identity {
			pl.links = append(pl.links, id)
		}
	}
	pl.attach = pl.links
	for _, name := range sortedKeys(c.Attributes) {
		if !attributeShape(c.Attributes[name]) {
			f.Add("attributes."+name, "must be a string, number, boolean or null")
			continue
		}
		clean, reason := profile.ValidateAttribute(cat, name, c.Attributes[name])
		if reason != "" {
			f.Unmet("attributes."+name, reason)
			continue
		}
		pl.attrs[name] = clean
	}
	if len(c.Consents)+len(c.Subscriptions) > MaxCreateItems {
		f.Unmet("consents", fmt.Sprintf("consents and subscriptions together must be at most %d", MaxCreateItems))
	}
	blank := profile.New("", pl.at)
	addFields := f.Join
	for _, purpose := range sortedKeys(c.Consents) {
		if _, err := blank.SetConsent(cat, purpose, c.Consents[purpose], ledger.Actor{}, pl.at); err != nil {
			addFields(prefix(err, "consents."+purpose))
		}
	}
	for _, topic := range sortedKeys(c.Subscriptions) {
		if _, err := blank.SetSubscription(cat, topic, c.Subscriptions[topic], ledger.Actor{}, pl.at); err != nil {
			addFields(prefix(err, "subscriptions."+topic))
		}
	}
	if c.SignupEvidence != nil {
		c.SignupEvidence.validate(cat, c.Consents, now, "signupEvidence", &f)
	}
	if e := c.EmailEvent; e != nil {
		if len(c.Attributes)+len(c.Consents)+len(c.Subscriptions)+len(c.Identities) > 0 || c.SignupEvidence != nil {
			f.Unmet("emailEvent", "cannot be combined with identities, attributes, consents, subscriptions or signupEvidence")
		}
		if c.Identity != nil && c.Identity.Type != email {
			f.Unmet("identity.type", "must be email for an emailEvent")
		}
		switch e.Type {
		case EmailUnsubscribe:
			if e.Topic != "" {
				t, ok := cat.Topic(e.Topic)
				switch {
				case !ok:
					f.Unmet("emailEvent.topic", "unknown topic")
				case !slices.Contains(t.Channels, email):
					f.Unmet("emailEvent.topic", "is not a topic on the email channel")
				}
			}
		case EmailBounce, EmailComplaint:
			if e.Topic != "" {
				f.Unmet("emailEvent.topic", "only an unsubscribe names a topic")
			}
		default:
			f.Add("emailEvent.type", "must be unsubscribe, bounce or complaint")
		}
		switch {
		case e.Type == EmailBounce && e.BounceType == "":
			f.Unmet("emailEvent.bounceType", "is required for a bounce: hard or soft")
		case e.Type == EmailBounce && e.BounceType != BounceHard && e.BounceType != BounceSoft:
			f.Add("emailEvent.bounceType", "must be hard or soft")
		case e.Type != EmailBounce && e.BounceType != "":
			f.Unmet("emailEvent.bounceType", "only a bounce has a bounceType")
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return pl, nil
}

// syncStep is what one transaction of a change writes, decided from the current profile.
type syncStep struct {
	create   bool
	attrs    map[string]any
	consents map[string]profile.ConsentInput
	subs     map[string]profile.SubscriptionInput
	record   *profile.Change
	attach   []profile.Identity // identities to attach: the change's own and the linked ones
	fields   int                // how many fields the change asked to set
	skipped  []errs.FieldError  // fields for which a newer change is recorded
	final    bool               // false when an email event needs another transaction
}

// step decides what to write to cur (nil: create). withRecord adds the bounce or
// complaint event, which the first transaction of a change writes.
func (pl *syncPlan) step(cur *profile.Profile, withRecord bool) syncStep {
	st := syncStep{create: cur == nil, final: true, attrs: map[string]any{},
		consents: map[string]profile.ConsentInput{}, subs: map[string]profile.SubscriptionInput{}}
	view := cur
	if view == nil {
		view = profile.New("", pl.at)
	}
	stale := func(field string, recorded time.Time) bool {
		if !recorded.After(pl.at) {
			return false
		}
		st.skipped = append(st.skipped, errs.FieldError{Field: field, Reason: "a newer change is recorded"})
		return true
	}
	if pl.email == nil {
		st.attach = append([]profile.Identity{pl.identity}, pl.attach...)
		st.fields = len(pl.attrs) + len(pl.consents) + len(pl.subs)
		for _, name := range sortedKeys(pl.attrs) {
			if !stale("attributes."+name, view.AttributeTimes[name]) {
				st.attrs[name] = pl.attrs[name]
			}
		}
		for _, purpose := range sortedKeys(pl.consents) {
			if c, ok := view.Consents[purpose]; !ok || !stale("consents."+purpose, c.UpdatedAt) {
				st.consents[purpose] = pl.consents[purpose]
			}
		}
		for _, topic := range sortedKeys(pl.subs) {
			if sub, ok := view.Subscriptions[topic]; !ok || !stale("subscriptions."+topic, sub.UpdatedAt) {
				st.subs[topic] = pl.subs[topic]
			}
		}
		return st
	}
	e := pl.email
	if withRecord {
		switch {
		case e.Type == EmailComplaint:
			st.record = &profile.Change{Type: EventIdentityComplained, Subject: email, New: map[string]any{"identity": pl.identity}}
		case e.Type == EmailBounce && e.BounceType == BounceHard:
			st.record = &profile.Change{Type: EventIdentityBounced, Subject: email, New: map[string]any{"identity": pl.identity, "bounceType": e.BounceType}}
		}
	}
	if e.Type == EmailBounce {
		return st
	}
	topics := []string{e.Topic}
	if e.Topic == "" {
		topics = nil
		for _, t := range sortedKeys(view.Subscriptions) {
			if sub := view.Subscriptions[t]; sub.Status == profile.Subscribed && slices.Contains(sub.Channels, email) {
				topics = append(topics, t)
			}
		}
	}
	st.fields = len(topics)
	for _, t := range topics {
		sub, had := view.Subscriptions[t]
		if had && stale("subscriptions."+t, sub.UpdatedAt) {
			continue
		}
		in := profile.SubscriptionInput{Status: profile.Unsubscribed}
		switch {
		case !had:
			// An explicit opt-out is recorded, so an older subscribe cannot win later.
		case sub.Status != profile.Subscribed || !slices.Contains(sub.Channels, email):
			continue
		default:
			rest := slices.DeleteFunc(slices.Clone(sub.Channels), func(c string) bool { return c == email })
			if len(rest) > 0 {
				in = profile.SubscriptionInput{Status: profile.Subscribed, Channels: rest, Frequency: sub.Frequency}
			}
		}
		if len(st.subs) == maxTopicsPerCommit {
			st.final = false
			break
		}
		st.subs[t] = in
	}
	return st
}

// apply returns the change of one step for commit.
func (st *syncStep) apply(cat *catalog.Catalog, actor ledger.Actor, at time.Time) applyFunc {
	return func(p *profile.Profile, _ time.Time) ([]profile.Change, []profile.Identity, error) {
		var changes []profile.Change
		if st.create {
			changes = append(changes, profile.Change{Type: profile.EventProfileCreated, Subject: p.ID})
		}
		for _, i := range st.attach {
			c, err := p.AddIdentity(i, actor, at)
			if err != nil {
				return nil, nil, err
			}
			changes = append(changes, c...)
		}
		changes = append(changes, p.SetAttributes(st.attrs, actor, at)...)
		for _, purpose := range sortedKeys(st.consents) {
			c, err := p.SetConsent(cat, purpose, st.consents[purpose], actor, at)
			if err != nil {
				return nil, nil, prefix(err, "consents."+purpose)
			}
			changes = append(changes, c...)
		}
		for _, topic := range sortedKeys(st.subs) {
			c, err := p.SetSubscription(cat, topic, st.subs[topic], actor, at)
			if err != nil {
				return nil, nil, prefix(err, "subscriptions."+topic)
			}
			changes = append(changes, c...)
		}
		if st.record != nil {
			changes = append(changes, *st.record)
		}
		return changes, nil, nil
	}
}

// syncOne applies one change, retrying on concurrent changes of its profile. cache maps
// identities to their profiles as last seen (absent: no profile) and is kept current.
func (s *Service) syncOne(ctx context.Context, tenant string, b SyncBatch, actor ledger.Actor, cat *catalog.Catalog, pl *syncPlan, cache map[profile.Identity]*profile.Profile) (SyncResult, error) {
	res := SyncResult{ID: pl.changeID}
	mark := SyncMark{Source: b.Source, Change: pl.changeID}
	skipped := map[string]errs.FieldError{}
	var order []string
	fields, changed, recorded := 0, false, false
	duplicate := func() (SyncResult, error) {
		marks, err := s.store.SyncMarks(ctx, tenant, b.Source, []string{pl.changeID})
		if err != nil {
			return SyncResult{}, fmt.Errorf("read sync mark: %w", err)
		}
		return SyncResult{ID: pl.changeID, Status: SyncDuplicate, ProfileID: marks[pl.changeID]}, nil
	}
	if len(pl.links) > 0 {
		links, err := s.syncLinks(ctx, tenant, cat, pl, Write{Actor: actor, RequestID: b.RequestID}, cache)
		if err != nil {
			return SyncResult{}, err
		}
		res.Links = links
	}
	for attempt := 1; ; attempt++ {
		cur := cache[pl.identity]
		if cur == nil && pl.email != nil {
			res.reject(SyncCodeNoProfile, "identity", "no profile holds this email address")
			return res, nil
		}
		st := pl.step(cur, !recorded)
		w := Write{Actor: actor, RequestID: b.RequestID, Quiet: b.Quiet}
		if st.final {
			w.Marks = []SyncMark{mark}
		}
		if cur == nil {
			w.evidence = pl.evidence
		}
		r, err := s.commit(ctx, tenant, cur, cat, w, st.apply(cat, actor, pl.at))
		switch {
		case err == nil:
		case errors.Is(err, ErrErased):
			res.reject(SyncCodeErased, "identity", "belongs to a person who was erased; only a change with fresh signupEvidence re-creates them")
			return res, nil
		case errors.Is(err, errs.ErrReplay):
			return duplicate()
		case (errors.Is(err, errs.ErrStale) || errors.Is(err, errs.ErrIdentityTaken)) && attempt < maxAttempts:
			backoff(attempt)
			p, err := s.store.ProfileByIdentity(ctx, tenant, pl.identity)
			switch {
			case errs.CodeOf(err) == errs.NotFound:
				delete(cache, pl.identity)
			case err != nil:
				return SyncResult{}, err
			default:
				cache[pl.identity] = p
			}
			continue
		default:
			switch errs.CodeOf(err) {
			case errs.Invalid, errs.Unprocessable, errs.Conflict:
				res.rejectErr(err)
				return res, nil
			}
			return SyncResult{}, err
		}
		if r.Profile != nil {
			for _, id := range r.Profile.Identities {
				cache[id] = r.Profile
			}
			res.ProfileID = r.Profile.ID
		}
		res.Created = res.Created || r.Created
		changed = changed || r.Changed
		recorded = recorded || st.record != nil
		fields = max(fields, st.fields)
		for _, sk := range st.skipped {
			if _, ok := skipped[sk.Field]; !ok {
				skipped[sk.Field] = sk
				order = append(order, sk.Field)
			}
		}
		if !st.final {
			attempt = 0
			continue
		}
		if !r.Changed {
			if err := s.store.PutSyncMark(ctx, tenant, mark, res.ProfileID); errors.Is(err, errs.ErrReplay) {
				return duplicate()
			} else if err != nil {
				return SyncResult{}, fmt.Errorf("record sync mark: %w", err)
			}
		}
		break
	}
	for _, f := range order {
		res.Skipped = append(res.Skipped, skipped[f])
	}
	if !changed && fields > 0 && len(order) >= fields {
		res.Status, res.Code = SyncStale, SyncCodeNewer
		res.Reason = "a newer change is recorded for " + strings.Join(order, ", ")
		return res, nil
	}
	res.Status, res.Unchanged = SyncApplied, !changed
	return res, nil
}

// syncLinks links a change's more identities before it is applied: the profile of the
// change's identity, or else the first profile one of them belongs to, is the target, and
// the others' profiles are merged into it or proposed by the tenant's policy (see link).
// It leaves in pl.attach the identities the change attaches, and cache current.
func (s *Service) syncLinks(ctx context.Context, tenant string, cat *catalog.Catalog, pl *syncPlan, w Write, cache map[profile.Identity]*profile.Profile) ([]Link, error) {
	ids := append([]profile.Identity{pl.identity}, pl.links...)
	holders := map[profile.Identity]*profile.Profile{}
	var target *profile.Profile
	for _, id := range ids {
		if p := cache[id]; p != nil {
			holders[id] = p
			if target == nil {
				target = p
			}
		}
	}
	if target == nil {
		return nil, nil
	}
	links, keep, err := s.link(ctx, tenant, cat, target.ID, holders, ids, w)
	if err != nil {
		return nil, err
	}
	pl.attach = without(pl.links, keep)
	merged := slices.ContainsFunc(links, func(l Link) bool { return l.Outcome == LinkMerged })
	if merged || cache[pl.identity] == nil {
		// A merge changed the target, or the change's own identity joins it: read it again.
		p, err := s.store.Profile(ctx, tenant, target.ID)
		if err != nil {
			return nil, fmt.Errorf("read the linked profile: %w", err)
		}
		for _, id := range p.Identities {
			cache[id] = p
		}
		cache[pl.identity] = p
	}
	return links, nil
}

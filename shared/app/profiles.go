package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Write describes who writes and under which conditions.
type Write struct {
	Actor     ledger.Actor
	RequestID string
	// IfMatch, when set, makes the write fail with PreconditionFailed unless the profile
	// is at this version. Without it a concurrent change is retried transparently.
	IfMatch *int64
	// Idempotency, when set, stores the write's Result with the change (see Record).
	Idempotency *Idempotency
	// Marks are committed with the change, if it changes the profile (see Commit.Marks).
	Marks []SyncMark
	// Quiet is passed to the commit (see Commit.Quiet).
	Quiet bool
	// evidence, set by the use cases from a request's signupEvidence, lifts the
	// suppression of the identities the change attaches (see Evidence).
	evidence *Evidence
	// candidate is a merge candidate decided with the change (see Commit.Candidate).
	candidate *Candidate
	// Current, when set, is the profile as the caller has just read it: the first attempt
	// applies the change to it instead of reading it again. The commit is conditioned on
	// its version, so a change made since makes it stale, and the retry reads afresh.
	Current *profile.Profile
}

// Result is the outcome of a write.
type Result struct {
	Profile *profile.Profile `json:"profile"`
	Created bool             `json:"created"`
	Changed bool             `json:"changed"`
	// Links says what became of identities the write linked that other profiles held.
	Links []Link `json:"links,omitempty"`
}

// IdentityInput is an identity as a caller typed it.
type IdentityInput struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// maxAttempts bounds optimistic-concurrency retries; with jittered backoff it lets dozens of
// writers to one profile all land.
const maxAttempts = 60

// maxCommitItems keeps a commit's profile, identity copies, events, outbox and record
// within DynamoDB's 100-item transaction limit.
const maxCommitItems = 90

// GetProfile returns a profile by id.
func (s *Service) GetProfile(ctx context.Context, tenant, id string) (*profile.Profile, error) {
	return s.store.Profile(ctx, tenant, id)
}

// FindProfile returns the profile holding an identity given as "type:value".
func (s *Service) FindProfile(ctx context.Context, tenant, identity string) (*profile.Profile, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return nil, err
	}
	typ, value, ok := strings.Cut(identity, ":")
	if !ok || typ == "" || value == "" {
		return nil, errs.Field("identity", "must be type:value, for example email:name@example.com")
	}
	// The shape is the document's; whether the catalog has the type and the value is one of
	// it are the tenant's.
	id, reason := profile.NormalizeIdentity(cat, typ, value)
	if reason != "" {
		return nil, errs.Unmet("identity", reason)
	}
	return s.store.ProfileByIdentity(ctx, tenant, id)
}

// Normalize validates identity inputs, naming each bad one as field[i].
func Normalize(cat *catalog.Catalog, field string, in []IdentityInput, f *errs.Fields) []profile.Identity {
	out := make([]profile.Identity, 0, len(in))
	seen := map[profile.Identity]bool{}
	for i, raw := range in {
		at := fmt.Sprintf("%s[%d]", field, i)
		id, ok := normalizeIdentity(cat, at, raw.Type, raw.Value, f)
		switch {
		case !ok:
		case seen[id]:
			f.Unmet(at, "is a duplicate")
		default:
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// normalizeIdentity validates one identity, naming its bad part as field.type or
// field.value: Add for what breaks the document, Unmet for what the catalog refuses.
func normalizeIdentity(cat *catalog.Catalog, field, typ, value string, f *errs.Fields) (profile.Identity, bool) {
	id, reason := profile.NormalizeIdentity(cat, typ, value)
	switch {
	case typ == "":
		f.Add(field+".type", noTypeReason)
	case !identityShape(value):
		f.Add(field+".value", maxIdentityReason)
	case reason == "unknown identity type":
		f.Unmet(field+".type", reason)
	case reason != "":
		f.Unmet(field+".value", reason)
	default:
		return id, true
	}
	return id, false
}

// Patch is a change to a profile's attributes, identities and rights.
type Patch struct {
	Attributes       map[string]any
	AddIdentities    []IdentityInput
	RemoveIdentities []IdentityInput
	Rights           *profile.RightsInput
}

// identityShape reports whether an identity's value is within the document's bound for
// every type (1 to 254 characters); what its type takes beyond that is the catalog's rule.
func identityShape(v string) bool { n := utf8.RuneCountInString(v); return n >= 1 && n <= 254 }

const (
	maxIdentityReason = "must be 1 to 254 characters"
	noTypeReason      = "is required"
)

// attributeShape reports whether v is an attribute value the API's document allows, whatever
// the catalog declares: a string, number, boolean or null (removal).
func attributeShape(v any) bool {
	switch v.(type) {
	case nil, string, float64, bool:
		return true
	}
	return false
}

// validate checks a patch against the catalog and returns the normalized form.
func (pt Patch) validate(cat *catalog.Catalog) (attrs map[string]any, add, remove []profile.Identity, err error) {
	var f errs.Fields
	attrs = map[string]any{}
	for name, v := range pt.Attributes {
		if !attributeShape(v) {
			f.Add("attributes."+name, "must be a string, number, boolean or null")
			continue
		}
		clean, reason := profile.ValidateAttribute(cat, name, v)
		if reason != "" {
			f.Unmet("attributes."+name, reason)
			continue
		}
		attrs[name] = clean
	}
	add = Normalize(cat, "addIdentities", pt.AddIdentities, &f)
	remove = Normalize(cat, "removeIdentities", pt.RemoveIdentities, &f)
	if pt.Rights != nil {
		for _, id := range slices.Sorted(maps.Keys(pt.Rights.Objections)) {
			// Lifting an objection is always allowed; making one only where Art. 21 gives
			// the right, or to a sale or sharing (the GPC opt-out the portal records).
			if pur, ok := cat.Purpose(id); ok && pt.Rights.Objections[id] && !pur.Objectable() && !pur.SaleOrSharing {
				f.Unmet("rights.objections."+id, objectionRefusal(pur.LegalBasis))
			}
		}
	}
	return attrs, add, remove, f.Err()
}

func (pt Patch) apply(p *profile.Profile, cat *catalog.Catalog, attrs map[string]any, add, remove []profile.Identity, src ledger.Actor, now time.Time) ([]profile.Change, []profile.Identity, error) {
	changes := p.SetAttributes(attrs, src, now)
	for _, id := range add {
		c, err := p.AddIdentity(id, src, now)
		if err != nil {
			return nil, nil, err
		}
		changes = append(changes, c...)
	}
	var removed []profile.Identity
	for _, id := range remove {
		c, err := p.RemoveIdentity(id)
		if err != nil {
			return nil, nil, err
		}
		if len(c) > 0 {
			removed = append(removed, id)
		}
		changes = append(changes, c...)
	}
	if pt.Rights != nil {
		c, err := p.SetRights(cat, *pt.Rights, now)
		if err != nil {
			return nil, nil, err
		}
		changes = append(changes, c...)
	}
	return changes, removed, nil
}

// Create is a create-or-match request: the profile holding any of Identities is updated
// with the rest of the request; if none holds them, a new profile is created.
type Create struct {
	Identities    []IdentityInput
	Patch         Patch // AddIdentities/RemoveIdentities unused
	Consents      map[string]profile.ConsentInput
	Subscriptions map[string]profile.SubscriptionInput
	// SignupEvidence, with a consent grant in the same request, re-admits an erased
	// person: without it an identity of theirs is refused with errs.Erased (see Evidence).
	SignupEvidence *Evidence
}

// MaxCreateItems bounds consents plus subscriptions in one create, which keeps its
// transaction well under DynamoDB's 100-item limit.
const MaxCreateItems = 40

// CreateProfile creates a profile or matches an existing one by identity.
func (s *Service) CreateProfile(ctx context.Context, tenant string, in Create, w Write) (Result, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return Result{}, err
	}
	var f errs.Fields
	ids := Normalize(cat, "identities", in.Identities, &f)
	if len(in.Identities) == 0 {
		f.Add("identities", "at least one identity is required")
	}
	if len(in.Identities) > profile.MaxIdentities {
		f.Add("identities", fmt.Sprintf("at most %d identities", profile.MaxIdentities))
	}
	if len(in.Consents)+len(in.Subscriptions) > MaxCreateItems {
		f.Unmet("consents", fmt.Sprintf("consents and subscriptions together must be at most %d", MaxCreateItems))
	}
	attrs, _, _, perr := in.Patch.validate(cat)
	f.Join(perr)
	if in.SignupEvidence != nil {
		in.SignupEvidence.validate(cat, in.Consents, s.now().UTC(), "signupEvidence", &f)
	}
	if err := f.Err(); err != nil {
		return Result{}, err
	}
	w.evidence = in.SignupEvidence
	refs := refsOf(ids)
	var links []Link
	for attempt := 1; ; attempt++ {
		found, err := s.store.Lookup(ctx, tenant, refs)
		if err != nil {
			return Result{}, fmt.Errorf("look up identities: %w", err)
		}
		// The first identity a profile holds matches it; the others that other profiles
		// hold are links, merged or proposed by the tenant's policy, and looked up again.
		var cur *profile.Profile
		for _, r := range refs {
			if p, ok := found[r]; ok && cur == nil {
				cur = p
			}
		}
		if cur != nil && links == nil {
			var keep []profile.Identity
			if links, keep, err = s.link(ctx, tenant, cat, cur.ID, held(found, ids), ids, w); err != nil {
				return Result{}, err
			}
			if links != nil {
				ids = without(ids, keep)
				refs = refsOf(ids)
				continue
			}
		}
		res, err := s.commit(ctx, tenant, cur, cat, w, func(p *profile.Profile, now time.Time) ([]profile.Change, []profile.Identity, error) {
			var changes []profile.Change
			if cur == nil {
				changes = append(changes, profile.Change{Type: profile.EventProfileCreated, Subject: p.ID})
			}
			for _, id := range ids {
				c, err := p.AddIdentity(id, w.Actor, now)
				if err != nil {
					return nil, nil, err
				}
				changes = append(changes, c...)
			}
			changes = append(changes, p.SetAttributes(attrs, w.Actor, now)...)
			for _, purpose := range sortedKeys(in.Consents) {
				c, err := p.SetConsent(cat, purpose, in.Consents[purpose], w.Actor, now)
				if err != nil {
					return nil, nil, prefix(err, "consents."+purpose)
				}
				changes = append(changes, c...)
			}
			for _, topic := range sortedKeys(in.Subscriptions) {
				c, err := p.SetSubscription(cat, topic, in.Subscriptions[topic], w.Actor, now)
				if err != nil {
					return nil, nil, prefix(err, "subscriptions."+topic)
				}
				changes = append(changes, c...)
			}
			return changes, nil, nil
		})
		// A concurrent create took one of the identities: look again and match it.
		// Or the matched profile changed meanwhile: load it again, as every update does.
		if (errors.Is(err, errs.ErrIdentityTaken) && cur == nil || errors.Is(err, errs.ErrStale) && cur != nil) && attempt < maxAttempts {
			backoff(attempt)
			continue
		}
		res.Links = links
		return res, nameErased(err, indexField("identities", ids))
	}
}

func refsOf(ids []profile.Identity) []Ref {
	refs := make([]Ref, len(ids))
	for i, id := range ids {
		refs[i] = Ref{Identity: id}
	}
	return refs
}

// UpdateProfile applies a patch. An identity it adds that another profile holds is linked
// by the tenant's merge policy (see link): merged at once or proposed for review.
func (s *Service) UpdateProfile(ctx context.Context, tenant, id string, pt Patch, w Write) (Result, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return Result{}, err
	}
	attrs, add, remove, err := pt.validate(cat)
	if err != nil {
		return Result{}, err
	}
	var links []Link
	if len(add) > 0 {
		// One read finds the profile and who holds the identities it links; a merge the
		// links make changes the profile, so it is read again after one.
		found, err := s.store.Lookup(ctx, tenant, linkRefs(id, add))
		if err != nil {
			return Result{}, fmt.Errorf("look up linked identities: %w", err)
		}
		cur := found[Ref{ID: id}]
		if cur == nil {
			return Result{}, notFoundProfile()
		}
		var keep []profile.Identity
		if links, keep, err = s.link(ctx, tenant, cat, cur.ID, held(found, add), add, w); err != nil {
			return Result{}, err
		}
		add = without(add, keep)
		if len(links) == 0 {
			w.Current = cur
		}
	}
	res, err := s.update(ctx, tenant, id, cat, w, func(p *profile.Profile, now time.Time) ([]profile.Change, []profile.Identity, error) {
		return pt.apply(p, cat, attrs, add, remove, w.Actor, now)
	})
	res.Links = links
	return res, nameErased(err, indexField("addIdentities", add))
}

// PutConsent records a consent answer for a purpose.
func (s *Service) PutConsent(ctx context.Context, tenant, id, purpose string, in profile.ConsentInput, w Write) (Result, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return Result{}, err
	}
	return s.update(ctx, tenant, id, cat, w, func(p *profile.Profile, now time.Time) ([]profile.Change, []profile.Identity, error) {
		c, err := p.SetConsent(cat, purpose, in, w.Actor, now)
		return c, nil, err
	})
}

// PutSubscription records a subscription choice for a topic.
func (s *Service) PutSubscription(ctx context.Context, tenant, id, topic string, in profile.SubscriptionInput, w Write) (Result, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return Result{}, err
	}
	return s.update(ctx, tenant, id, cat, w, func(p *profile.Profile, now time.Time) ([]profile.Change, []profile.Identity, error) {
		c, err := p.SetSubscription(cat, topic, in, w.Actor, now)
		return c, nil, err
	})
}

type applyFunc func(p *profile.Profile, now time.Time) (changes []profile.Change, removed []profile.Identity, err error)

// update loads, applies and commits, retrying on concurrent changes unless If-Match was given.
func (s *Service) update(ctx context.Context, tenant, id string, cat *catalog.Catalog, w Write, apply applyFunc) (Result, error) {
	for attempt := 1; ; attempt++ {
		cur := w.Current
		if attempt > 1 || cur == nil || cur.ID != id {
			var err error
			if cur, err = s.store.Profile(ctx, tenant, id); err != nil {
				return Result{}, err
			}
		}
		res, err := s.commit(ctx, tenant, cur, cat, w, apply)
		if errors.Is(err, errs.ErrStale) && w.IfMatch == nil && attempt < maxAttempts {
			backoff(attempt)
			continue
		}
		return res, err
	}
}

// commit applies one attempt of a change to cur (nil creates) and writes it atomically.
func (s *Service) commit(ctx context.Context, tenant string, cur *profile.Profile, cat *catalog.Catalog, w Write, apply applyFunc) (Result, error) {
	now := s.now().UTC()
	if w.IfMatch != nil && (cur == nil || cur.Version != *w.IfMatch) {
		return Result{}, errs.E(errs.PreconditionFailed, "the profile has changed since the version in If-Match")
	}
	var next *profile.Profile
	var prevVersion int64
	if cur == nil {
		next = profile.New(NewID("p_"), now)
	} else {
		next, prevVersion = cur.Clone(), cur.Version
	}
	changes, removed, err := apply(next, now)
	if err != nil {
		return Result{}, err
	}
	if len(changes)+len(next.Identities)+len(removed) > maxCommitItems {
		return Result{}, errs.E(errs.Invalid, fmt.Sprintf("one request may make at most %d changes", maxCommitItems-profile.MaxIdentities))
	}
	res := Result{Profile: next, Created: cur == nil, Changed: len(changes) > 0}
	if !res.Changed {
		res.Profile = cur
		rec, err := w.Idempotency.record(res, cur.ID, now)
		if err != nil || rec == nil {
			return res, err
		}
		return res, s.store.PutRecord(ctx, tenant, rec)
	}
	// Every identity the change attaches is checked against the suppression list inside
	// the commit's transaction, whichever use case made the change.
	notErased, lift, lifted, err := s.guard(ctx, tenant, added(cur, next), w.evidence)
	if err != nil {
		return Result{}, err
	}
	changes = append(changes, lifted...)
	events := sealChanges(tenant, next, changes, now, w.Actor, w.RequestID)
	c := Commit{Profile: next, PrevVersion: prevVersion, Removed: removed, Events: events, Marks: w.Marks, NotErased: notErased, Lift: lift, Candidate: w.candidate, Quiet: w.Quiet}
	if c.Record, err = w.Idempotency.record(res, next.ID, now); err != nil {
		return Result{}, err
	}
	if err := s.store.Commit(ctx, tenant, c); err != nil {
		if errors.Is(err, errs.ErrStale) && w.IfMatch != nil {
			return Result{}, errs.E(errs.PreconditionFailed, "the profile has changed since the version in If-Match")
		}
		return Result{}, err
	}
	return res, nil
}

func backoff(attempt int) {
	ms := min(attempt*4, 60)
	time.Sleep(time.Duration(1+rand.IntN(ms)) * time.Millisecond)
}

// prefix qualifies an error's field names with a parent field.
func prefix(err error, parent string) error {
	e, ok := errs.As(err)
	if !ok {
		return err
	}
	out := *e
	out.Fields = nil
	for _, f := range e.Fields {
		name := parent
		if f.Field != "purpose" && f.Field != "topic" {
			name += "." + f.Field
		}
		out.Fields = append(out.Fields, errs.FieldError{Field: name, Reason: f.Reason})
	}
	// Within a body, a purpose or topic the catalog lacks is a field the state cannot take.
	if out.Code == errs.NotFound {
		out.Code = errs.Unprocessable
	}
	return &out
}

// sealChanges makes next the version after changes: it bumps the version and appends the
// changes' ledger events to next's chain, each with its id, sequence number and hash over
// the previous head. It is the one place that extends a person's chain.
func sealChanges(tenant string, next *profile.Profile, changes []profile.Change, now time.Time, actor ledger.Actor, requestID string) []ledger.Event {
	next.Version++
	next.UpdatedAt = now
	if actor.Kind != ledger.ActorSystem {
		next.ActiveAt = now
	}
	events := profile.Events(changes, now, actor, requestID)
	for i := range events {
		e := &events[i]
		next.LedgerSeq++
		e.ID, e.Tenant, e.ProfileID, e.Seq = NewID("ev_"), tenant, next.ID, next.LedgerSeq
		ledger.Seal(next.LedgerHead, e)
		next.LedgerHead = e.Hash
	}
	return events
}

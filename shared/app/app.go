// Package app holds the use cases of the living profile: it loads state through a Store,
// applies the domain rules of package profile, and commits state, ledger events, outbox
// and idempotency record together. It knows nothing of HTTP or AWS.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/cache"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Store is the persistence the use cases need. Implementations guarantee that Commit is
// atomic: the profile, its identity items, ledger events, outbox and idempotency record
// are all written or none is.
type Store interface {
	Profile(ctx context.Context, tenant, id string) (*profile.Profile, error)
	ProfileByIdentity(ctx context.Context, tenant string, id profile.Identity) (*profile.Profile, error)
	// Lookup resolves many references in one round; a missing profile is absent from the map.
	Lookup(ctx context.Context, tenant string, refs []Ref) (map[Ref]*profile.Profile, error)
	Commit(ctx context.Context, tenant string, c Commit) error
	Events(ctx context.Context, tenant, profileID string, fromSeq int64, limit int) ([]ledger.Event, error)
	Catalog(ctx context.Context, tenant string) (*catalog.Catalog, error)
	PutCatalog(ctx context.Context, tenant string, c *catalog.Catalog, prevVersion int, idem *Record) error
	Record(ctx context.Context, tenant, key string) (*Record, error)
	PutRecord(ctx context.Context, tenant string, r *Record) error
	// SyncMarks returns, for each of source's change ids already processed and not yet
	// expired, the id of the profile it was applied to.
	SyncMarks(ctx context.Context, tenant, source string, changeIDs []string) (map[string]string, error)
	// PutSyncMark records a change that was processed without changing its profile; it
	// fails with errs.ErrReplay if the change is already recorded.
	PutSyncMark(ctx context.Context, tenant string, m SyncMark, profileID string) error
	// Suppressions returns those of ids that belong to an erased person.
	Suppressions(ctx context.Context, tenant string, ids []profile.Identity) ([]profile.Identity, error)
	RequestStore
	MergeStore
}

// Ref names a profile by id or by identity; exactly one is set.
type Ref struct {
	ID       string
	Identity profile.Identity
}

// Commit is one atomic change of a profile.
type Commit struct {
	Profile     *profile.Profile // the new state; Version already incremented
	PrevVersion int64            // 0 creates the profile
	Removed     []profile.Identity
	Events      []ledger.Event // sealed
	Record      *Record        // optional idempotency record
	// Marks record sync changes applied by this commit; the commit fails with
	// errs.ErrReplay if one is already recorded.
	Marks []SyncMark
	// NotErased are identities that must not belong to an erased person; the commit fails
	// with Erased(id) if one does, atomically with the erasure job's suppression.
	NotErased []profile.Identity
	// Lift are suppressed identities the commit re-admits: their suppression is deleted in
	// the same transaction, conditioned on it still existing (else errs.ErrStale).
	Lift []profile.Identity
	// Requests are data-subject requests of this profile saved with the change, each
	// conditioned on its stored version being its Prior's (the zero Prior creates it); the
	// commit fails with ErrDuplicateRequest if a new open one duplicates an open one.
	Requests []RequestSave
	// Merge, set by a merge, folds another profile into Profile (see MergeWrite).
	Merge *MergeWrite
	// Split, set by a split, restores a profile a merge absorbed (see SplitWrite).
	Split *SplitWrite
	// Candidate is a merge candidate decided with the change, conditioned on being open.
	Candidate *Candidate
	// Quiet marks the commit's outbox item so that its events are fanned out to no webhook
	// endpoint; the ledger records them, and request jobs still start.
	Quiet bool
}

// Record is the stored outcome of an idempotent write, committed with the change itself:
// a replay of the same request is answered from it, and another request under the same key
// is refused. Outcome is the write's result as its writer encoded it: the use cases store
// their Result, RequestResult or catalog as JSON, and an edge that writes without a use case
// stores what it needs. This package never reads it.
type Record struct {
	Key         string          `json:"key"` // digest of key id, method, path and Idempotency-Key
	Fingerprint string          `json:"fingerprint"`
	Outcome     json.RawMessage `json:"outcome"`
	CreatedAt   time.Time       `json:"createdAt"`
	// ProfileID names the profile the outcome shows, if any: the erasure job finds and
	// deletes a person's records by it.
	ProfileID string `json:"profileId,omitempty"`
}

// Idempotency names an idempotent write: the caller's scoped key and a fingerprint of its
// request, under which the use case stores the write's outcome with the change.
type Idempotency struct{ Key, Fingerprint string }

// record returns the record of outcome, or nil for a write that is not idempotent.
func (i *Idempotency) record(outcome any, profileID string, now time.Time) (*Record, error) {
	if i == nil {
		return nil, nil
	}
	b, err := json.Marshal(outcome)
	if err != nil {
		return nil, fmt.Errorf("encode outcome: %w", err)
	}
	return &Record{Key: i.Key, Fingerprint: i.Fingerprint, Outcome: b, CreatedAt: now.UTC(), ProfileID: profileID}, nil
}

// Clock returns the current time; tests replace it.
type Clock func() time.Time

// Service runs the use cases for every tenant. It is safe for concurrent use.
type Service struct {
	store Store
	now   Clock

	catalogs *cache.TTL[*catalog.Catalog]
	notifier Notifier // tells people of request extensions and denials; nil: nobody is told here
}

// New returns a Service over store. Catalogs are cached per tenant for catalogTTL, so a
// warm container reads a tenant's catalog at most once per TTL, never per request.
func New(store Store, now Clock, catalogTTL time.Duration) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, catalogs: cache.New[*catalog.Catalog](catalogTTL, now)}
}

// Catalog returns the tenant's catalog, from the warm cache when fresh.
func (s *Service) Catalog(ctx context.Context, tenant string) (*catalog.Catalog, error) {
	return s.catalogs.Get(ctx, tenant, func(ctx context.Context) (*catalog.Catalog, error) {
		return s.store.Catalog(ctx, tenant)
	})
}

// CachedCatalog returns the tenant's catalog when the warm cache holds it fresh.
func (s *Service) CachedCatalog(tenant string) (*catalog.Catalog, bool) {
	return s.catalogs.Peek(tenant)
}

// KeepCatalog caches a catalog that a caller read together with other items, so that the
// use cases do not read it again.
func (s *Service) KeepCatalog(tenant string, c *catalog.Catalog) { s.catalogs.Put(tenant, c) }

// NewID returns a random identifier with prefix, 130 bits of entropy.
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

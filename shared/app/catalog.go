package app

import (
	"context"
	"errors"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// PutCatalog replaces the tenant's catalog after validating it. With ifMatch the write
// fails unless the stored catalog is at that version. With idem the stored catalog is kept
// as the write's outcome.
func (s *Service) PutCatalog(ctx context.Context, tenant string, c *catalog.Catalog, ifMatch *int, idem *Idempotency) (*catalog.Catalog, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	prev := 0
	switch cur, err := s.store.Catalog(ctx, tenant); {
	case err == nil:
		prev = cur.Version
	case errs.CodeOf(err) != errs.NotFound:
		return nil, err
	}
	if ifMatch != nil && *ifMatch != prev {
		return nil, errs.E(errs.PreconditionFailed, "the catalog has changed since the version in If-Match")
	}
	next := *c
	next.Version, next.UpdatedAt = prev+1, s.now().UTC()
	rec, err := idem.record(&next, "", next.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if err := s.store.PutCatalog(ctx, tenant, &next, prev, rec); err != nil {
		if errors.Is(err, errs.ErrStale) {
			return nil, errs.E(errs.PreconditionFailed, "the catalog changed concurrently; read it again")
		}
		return nil, err
	}
	s.catalogs.Forget(tenant)
	return &next, nil
}

// Record returns a stored idempotency record, or a NotFound error.
func (s *Service) Record(ctx context.Context, tenant, key string) (*Record, error) {
	return s.store.Record(ctx, tenant, key)
}

// PutRecord stores an idempotency record for a write that changes no profile.
func (s *Service) PutRecord(ctx context.Context, tenant string, r *Record) error {
	return s.store.PutRecord(ctx, tenant, r)
}

// Resolve returns the profile a reference names.
func (s *Service) Resolve(ctx context.Context, tenant string, ref Ref) (*profile.Profile, error) {
	if ref.ID != "" {
		return s.store.Profile(ctx, tenant, ref.ID)
	}
	return s.store.ProfileByIdentity(ctx, tenant, ref.Identity)
}

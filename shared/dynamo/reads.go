package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Reads are point reads of independent items made together, in one strongly consistent
// BatchGetItem instead of one GetItem each: a page that needs five items waits for one
// round trip (and, on a cold start, one connection). Each read fills its destination when
// Do returns nil; an item that does not exist leaves it as it was (nil, or false). A Reads
// is for one use and not safe for concurrent use.
type Reads struct {
	st   *Store
	keys []map[string]types.AttributeValue
	fill map[string]func(map[string]types.AttributeValue) error // by PK + SK
}

// Reads starts a set of reads.
func (st *Store) Reads() *Reads {
	return &Reads{st: st, fill: map[string]func(map[string]types.AttributeValue) error{}}
}

// add asks for the item (pk, sk); a key asked for twice is read once, for its last filler.
func (r *Reads) add(pk, sk string, fill func(map[string]types.AttributeValue) error) {
	if _, ok := r.fill[pk+"\x00"+sk]; !ok {
		r.keys = append(r.keys, key(pk, sk))
	}
	r.fill[pk+"\x00"+sk] = fill
}

func into[T any](dst **T, what string) func(map[string]types.AttributeValue) error {
	return func(item map[string]types.AttributeValue) error {
		v, err := decode[T](item)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		*dst = v
		return nil
	}
}

// Tenant reads a tenant into dst.
func (r *Reads) Tenant(id string, dst **Tenant) { r.add(tenantPK(id), skTenant, into(dst, "tenant")) }

// Catalog reads a tenant's catalog into dst.
func (r *Reads) Catalog(tenant string, dst **catalog.Catalog) {
	r.add(tenantPK(tenant), skCatalog, into(dst, "catalog"))
}

// Profile reads a profile into dst.
func (r *Reads) Profile(tenant, id string, dst **profile.Profile) {
	r.add(profilePK(tenant, id), skProfile, into(dst, "profile"))
}

// Key reads an API key into dst (of whichever tenant: the caller compares).
func (r *Reads) Key(id string, dst **apikey.Key) { r.add(keyPK(id), skKey, into(dst, "api key")) }

// PortalSessionRevoked sets *dst when portal session sid was revoked, as
// Store.PortalSessionRevoked reports.
func (r *Reads) PortalSessionRevoked(tenant, sid string, dst *bool) {
	r.add(portalSessionPK(tenant, sid), skPortalSession, func(item map[string]types.AttributeValue) error {
		*dst = !r.st.portalExpired(item)
		return nil
	})
}

// Do makes the reads and fills their destinations.
func (r *Reads) Do(ctx context.Context) error {
	if len(r.keys) == 0 {
		return nil
	}
	items, err := r.st.batchGet(ctx, r.keys)
	if err != nil {
		return err
	}
	for _, it := range items {
		if fill := r.fill[str(it, attrPK)+"\x00"+str(it, attrSK)]; fill != nil {
			if err := fill(it); err != nil {
				return err
			}
		}
	}
	return nil
}

package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/errs"
)

func keyPK(id string) string { return "K#" + id }

// Key reads an API key by id with one GetItem.
func (st *Store) Key(ctx context.Context, id string) (*apikey.Key, error) {
	item, err := st.get(ctx, keyPK(id), skKey)
	if err != nil {
		return nil, fmt.Errorf("api key: %w", err)
	}
	if item == nil {
		return nil, notFound("api key")
	}
	return decode[apikey.Key](item)
}

// PutKey stores a new API key, indexed under its tenant for listing.
func (st *Store) PutKey(ctx context.Context, k apikey.Key) error {
	doc, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("encode api key: %w", err)
	}
	it := key(keyPK(k.ID), skKey)
	it[attrDoc], it[attrGSI1PK], it[attrGSI1SK] = s(string(doc)), s(tenantPK(k.Tenant)+"#KEYS"), s(k.ID)
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}); err != nil {
		return fmt.Errorf("put api key: %w", err)
	}
	return nil
}

// RevokeKey marks a key revoked; the authorizer refuses it once caches expire.
func (st *Store) RevokeKey(ctx context.Context, tenant, id string, at time.Time) error {
	k, err := st.Key(ctx, id)
	if err != nil {
		return err
	}
	if k.Tenant != tenant {
		return notFound("api key")
	}
	k.RevokedAt = &at
	doc, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("encode api key: %w", err)
	}
	_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: key(keyPK(id), skKey),
		UpdateExpression:          aws.String("SET doc = :d"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": s(string(doc))},
	})
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	return nil
}

// Keys lists a tenant's keys (one Query on GSI1).
func (st *Store) Keys(ctx context.Context, tenant string) ([]apikey.Key, error) {
	var out []apikey.Key
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName: &st.table, IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(tenantPK(tenant) + "#KEYS")},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		for _, it := range page.Items {
			k, err := decode[apikey.Key](it)
			if err != nil {
				return nil, err
			}
			out = append(out, *k)
		}
	}
	return out, nil
}

// Tenant is a brand (or group of brands) using the product.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	Disabled  bool      `json:"disabled,omitempty"`
	// SuppressionSalt keys the hashes of erased people's identities (see Suppress); it is
	// set when the tenant is created and never changes.
	SuppressionSalt string `json:"suppressionSalt,omitempty"`
	// Branding is how the hosted portal presents the tenant; empty fields take defaults.
	Branding Branding `json:"branding,omitzero"`
}

// Branding is a tenant's look in the hosted portal. The portal validates it when it renders
// (portal.NewTheme): a logo URL must be https, colours "#rrggbb", and any colour that would
// not reach WCAG 4.5:1 contrast is replaced by the default, so a bad value never breaks a page.
type Branding struct {
	LogoURL         string `json:"logoUrl,omitempty"`
	PrimaryColor    string `json:"primaryColor,omitempty"`
	BackgroundColor string `json:"backgroundColor,omitempty"`
	TextColor       string `json:"textColor,omitempty"`
}

// PutTenant creates or replaces a tenant, listed on GSI1 for Tenants.
func (st *Store) PutTenant(ctx context.Context, t Tenant) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode tenant: %w", err)
	}
	it := key(tenantPK(t.ID), skTenant)
	it[attrDoc], it[attrGSI1PK], it[attrGSI1SK] = s(string(doc)), s(tenantsIndex), s(t.ID)
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it}); err != nil {
		return fmt.Errorf("put tenant: %w", err)
	}
	return nil
}

// Tenant reads a tenant.
func (st *Store) Tenant(ctx context.Context, id string) (*Tenant, error) {
	item, err := st.get(ctx, tenantPK(id), skTenant)
	if err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	if item == nil {
		return nil, notFound("tenant")
	}
	return decode[Tenant](item)
}

// TenantActive reports whether tenant exists and is not disabled, with one GetItem.
func (st *Store) TenantActive(ctx context.Context, tenant string) (bool, error) {
	t, err := st.Tenant(ctx, tenant)
	if errs.CodeOf(err) == errs.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !t.Disabled, nil
}

// KeyAndTenant reads an API key and whether tenant (the key's, as read before) exists and is
// not disabled, with one strongly consistent BatchGetItem. A missing key is errs.NotFound.
func (st *Store) KeyAndTenant(ctx context.Context, id, tenant string) (*apikey.Key, bool, error) {
	var (
		k *apikey.Key
		t *Tenant
	)
	r := st.Reads()
	r.Key(id, &k)
	r.Tenant(tenant, &t)
	if err := r.Do(ctx); err != nil {
		return nil, false, fmt.Errorf("api key and tenant: %w", err)
	}
	if k == nil {
		return nil, false, notFound("api key")
	}
	return k, t != nil && !t.Disabled, nil
}

// SetTenantDisabled disables a tenant (its API keys and portal are refused within
// authorizer.Bound) or enables it again; an unknown tenant is errs.NotFound.
func (st *Store) SetTenantDisabled(ctx context.Context, id string, disabled bool) error {
	t, err := st.Tenant(ctx, id)
	if err != nil {
		return err
	}
	t.Disabled = disabled
	return st.PutTenant(ctx, *t)
}

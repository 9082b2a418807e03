// Package seed creates tenants, catalogs and API keys for operators and the local stack.
package seed

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// DemoCatalog is the demo tenant's catalog, in English and Polish.
//
//go:embed demo-catalog.json
var DemoCatalog []byte

// ParseCatalog reads a catalog file strictly and validates it.
func ParseCatalog(b []byte) (*catalog.Catalog, error) {
	c, err := catalog.Parse(b)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		if e, ok := errs.As(err); ok {
			return nil, fmt.Errorf("catalog is invalid: %v", e.Fields)
		}
		return nil, err
	}
	return c, nil
}

// Tenant creates a tenant if absent.
func Tenant(ctx context.Context, st *dynamo.Store, id, name string) error {
	if !apikey.ValidTenant(id) {
		return fmt.Errorf("tenant id %q must match ^[a-z0-9][a-z0-9-]{1,62}$", id)
	}
	_, err := st.Tenant(ctx, id)
	if errs.CodeOf(err) == errs.NotFound {
		return st.PutTenant(ctx, dynamo.Tenant{ID: id, Name: name, CreatedAt: time.Now().UTC(), SuppressionSalt: dynamo.NewSuppressionSalt()})
	}
	return err
}

// LoadCatalog validates and stores a tenant's catalog as its next version.
func LoadCatalog(ctx context.Context, svc *app.Service, tenant string, b []byte) (*catalog.Catalog, error) {
	c, err := ParseCatalog(b)
	if err != nil {
		return nil, err
	}
	return svc.PutCatalog(ctx, tenant, c, nil, nil)
}

// Key mints and stores an API key; the plain key is returned once.
func Key(ctx context.Context, st *dynamo.Store, tenant, name string, scopes []apikey.Scope) (string, apikey.Key, error) {
	plain, k := apikey.New(tenant, name, scopes, time.Now().UTC())
	return plain, k, st.PutKey(ctx, k)
}

// DemoCustomer creates (or matches) the demo customer with a consent and a subscription.
func DemoCustomer(ctx context.Context, svc *app.Service, tenant string) (*profile.Profile, error) {
	res, err := svc.CreateProfile(ctx, tenant, app.Create{
		Identities: []app.IdentityInput{{Type: "email", Value: "ada@example.com"}, {Type: "customer_id", Value: "C-1001"}},
		Patch:      app.Patch{Attributes: map[string]any{"givenName": "Ada", "familyName": "Nowak", "locale": "pl", "country": "PL"}},
		Consents:   map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2, Locale: "pl"}},
		Subscriptions: map[string]profile.SubscriptionInput{
			"newsletter": {Status: profile.Subscribed, Frequency: "monthly"},
		},
	}, app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "seed"}})
	if err != nil {
		return nil, fmt.Errorf("demo customer: %w", err)
	}
	return res.Profile, nil
}

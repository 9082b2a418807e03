package httpapi_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// The API tests run each handler as API Gateway invokes it, against the embedded emulator through a real SDK client, on a table
// provisioned from template.yaml, with two tenants holding the demo catalog.

const tenant, otherTenant = "acme", "globex"

var env struct {
	db    *dynamodb.Client
	table string
	store *dynamo.Store
	svc   *app.Service
}

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "httpapi", func(ctx context.Context, e *testenv.Env) error {
		env.db, env.table, env.store = e.DB, e.Table, e.Store
		env.svc = app.New(env.store, time.Now, 0)
		for _, t := range []string{tenant, otherTenant} {
			if err := seed.Tenant(ctx, env.store, t, t); err != nil {
				return err
			}
			if _, err := seed.LoadCatalog(ctx, env.svc, t, seed.DemoCatalog); err != nil {
				return err
			}
		}
		return nil
	}))
}

var seq atomic.Int64

// unique returns a string no other call returns.
func unique(tag string) string {
	return fmt.Sprintf("%s-%d-%d", tag, time.Now().UnixNano(), seq.Add(1))
}

var operator = app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}}

// newPerson creates a profile in tn with an email, a phone and a customer id, through the
// use case, and returns it with its identities as stored (normalized).
func newPerson(t testing.TB, tn string) *profile.Profile {
	t.Helper()
	n := seq.Add(1)
	res, err := env.svc.CreateProfile(context.Background(), tn, app.Create{Identities: []app.IdentityInput{
		{Type: "email", Value: unique("person") + "@example.com"},
		{Type: "phone", Value: fmt.Sprintf("+4860%07d", (time.Now().UnixNano()/1000+n)%1e7)},
		{Type: "customer_id", Value: unique("c")},
	}}, operator)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Profile.Identities) != 3 {
		t.Fatalf("created with identities %v", res.Profile.Identities)
	}
	return res.Profile
}

package dynamo_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// The store tests run against the embedded emulator through a real SDK client, on a table
// provisioned from template.yaml, with two tenants holding the demo catalog.

const tenant, otherTenant = "acme", "globex"

var env struct {
	db    *dynamodb.Client
	table string
	store *dynamo.Store
	svc   *app.Service
	e     *testenv.Env
}

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "dynamo", func(ctx context.Context, e *testenv.Env) error {
		env.db, env.table, env.store, env.svc, env.e = e.DB, e.Table, e.Store, e.Profiles, e
		return e.Seed(ctx, tenant, otherTenant)
	}))
}

func newPerson(t testing.TB, tn string) *profile.Profile { return env.e.NewPerson(t, tn) }

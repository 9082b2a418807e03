// Package testenv gives a package's tests the embedded AWS emulator with the resources of
// template.yaml, so that each adapter and use-case package is tested against the real thing
// through real SDK clients, and a failure names its package.
package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Env is what the tests of one package share: the emulator's configuration, the resources
// provisioned for them and a store on the table.
type Env struct {
	AWS      aws.Config
	Physical localaws.Physical
	Table    string
	DB       *dynamodb.Client
	Store    *dynamo.Store
	Profiles *app.Service // the use cases over Store, without catalog caching
}

// Run is a TestMain: it starts the emulator, provisions template.yaml under a stack name
// of its own (name plus a random suffix), calls setup, runs the tests and returns the exit
// code, closing the emulator either way.
func Run(m *testing.M, name string, setup func(context.Context, *Env) error) int {
	ctx := context.Background()
	emu, err := localaws.Start(ctx, localaws.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start emulator:", err)
		return 1
	}
	defer emu.Close()
	_, file, _, _ := runtime.Caller(0)
	tpl, err := template.Load(filepath.Join(filepath.Dir(file), "..", "..", "template.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "template:", err)
		return 1
	}
	phys, err := localaws.Provision(ctx, emu.AWS, tpl, fmt.Sprintf("%s%d", name, time.Now().UnixNano()%1e6), localaws.WithoutStreams(true))
	if err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		return 1
	}
	e := &Env{AWS: emu.AWS, Physical: phys, Table: phys["ProfileTable"].Name, DB: dynamodb.NewFromConfig(emu.AWS)}
	e.Store = dynamo.New(e.DB, e.Table)
	e.Profiles = app.New(e.Store, time.Now, 0)
	if setup != nil {
		if err := setup(ctx, e); err != nil {
			fmt.Fprintln(os.Stderr, "set up:", err)
			return 1
		}
	}
	return m.Run()
}

// Seed creates each tenant with the demo catalog, as make dev seeds its demo tenant.
func (e *Env) Seed(ctx context.Context, tenants ...string) error {
	for _, t := range tenants {
		if err := seed.Tenant(ctx, e.Store, t, t); err != nil {
			return err
		}
		if _, err := seed.LoadCatalog(ctx, e.Profiles, t, seed.DemoCatalog); err != nil {
			return err
		}
	}
	return nil
}

var seq atomic.Int64

// Unique returns a string no other call in this process returns.
func Unique(tag string) string {
	return fmt.Sprintf("%s-%d-%d", tag, time.Now().UnixNano(), seq.Add(1))
}

// Operator is the actor of the writes tests make to set up their data.
var Operator = app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}}

// NewPerson creates a profile in tenant with an email, a phone and a customer id through
// the use case, and returns it with its identities as stored (normalized).
func (e *Env) NewPerson(t testing.TB, tenant string) *profile.Profile {
	t.Helper()
	n := seq.Add(1)
	res, err := e.Profiles.CreateProfile(context.Background(), tenant, app.Create{Identities: []app.IdentityInput{
		{Type: "email", Value: Unique("person") + "@example.com"},
		{Type: "phone", Value: fmt.Sprintf("+4860%07d", (time.Now().UnixNano()/1000+n)%1e7)},
		{Type: "customer_id", Value: Unique("c")},
	}}, Operator)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Profile.Identities) != 3 {
		t.Fatalf("created with identities %v", res.Profile.Identities)
	}
	return res.Profile
}

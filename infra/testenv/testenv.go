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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

// Env is what the tests of one package share: the emulator's configuration, the resources
// provisioned for them and a store on the table.
type Env struct {
	AWS      aws.Config
	Physical localaws.Physical
	Table    string
	DB       *dynamodb.Client
	Store    *dynamo.Store
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
	phys, err := localaws.Provision(ctx, emu.AWS, tpl, fmt.Sprintf("%s%d", name, time.Now().UnixNano()%1e6))
	if err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		return 1
	}
	e := &Env{AWS: emu.AWS, Physical: phys, Table: phys["ProfileTable"].Name, DB: dynamodb.NewFromConfig(emu.AWS)}
	e.Store = dynamo.New(e.DB, e.Table)
	if setup != nil {
		if err := setup(ctx, e); err != nil {
			fmt.Fprintln(os.Stderr, "set up:", err)
			return 1
		}
	}
	return m.Run()
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

// TestOperatorCommands drives lpctl against an emulator endpoint as an operator would
// against AWS: create a tenant, load its catalog, create, list and revoke a key.
func TestOperatorCommands(t *testing.T) {
	ctx := context.Background()
	aws, err := localaws.Start(ctx, localaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer aws.Close()
	tpl, err := template.Load(filepath.Join(localstack.RepoRoot(), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	phys, err := localaws.Provision(ctx, aws.AWS, tpl, "lpctl-test")
	if err != nil {
		t.Fatal(err)
	}
	table := phys["ProfileTable"].Name
	lp := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"-endpoint", aws.Endpoint, "-table", table}, args...), &out)
		return out.String(), err
	}
	catalogFile := filepath.Join(localstack.RepoRoot(), "infra", "seed", "demo-catalog.json")
	if _, err := lp("key", "create", "shop", "crm", "read write"); err == nil {
		t.Fatal("a key was created for a tenant that does not exist")
	}
	if _, err := lp("tenant", "create", "Shop#1", "Bad"); err == nil {
		t.Fatal("a malformed tenant id was accepted")
	}
	if _, err := lp("tenant", "create", "shop", "The Shop"); err != nil {
		t.Fatal(err)
	}
	out, err := lp("catalog", "load", "shop", catalogFile)
	if err != nil || !strings.Contains(out, `"catalogVersion": 1`) {
		t.Fatalf("catalog load: %v %s", err, out)
	}
	if out, err = lp("catalog", "load", "shop", catalogFile); err != nil || !strings.Contains(out, `"catalogVersion": 2`) {
		t.Fatalf("catalog reload: %v %s", err, out)
	}
	if _, err := lp("key", "create", "shop", "crm", "read superuser"); err == nil {
		t.Fatal("an unknown scope was accepted")
	}
	out, err = lp("key", "create", "shop", "crm", "read write")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID, Key string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.Key, "lp_"+created.ID+"_") {
		t.Fatalf("key create printed %s", out)
	}
	out, err = lp("key", "list", "shop")
	if err != nil || !strings.Contains(out, created.ID) || strings.Contains(out, created.Key) || strings.Contains(out, "hash") {
		t.Fatalf("key list must show the id and neither key nor hash: %v %s", err, out)
	}
	if _, err := lp("key", "revoke", "other-tenant", created.ID); err == nil {
		t.Fatal("another tenant revoked the key")
	}
	if _, err := lp("key", "revoke", "shop", created.ID); err != nil {
		t.Fatal(err)
	}
	if out, _ = lp("key", "list", "shop"); !strings.Contains(out, "revokedAt") {
		t.Fatalf("revoked key not marked: %s", out)
	}
	if _, err := lp("key", "create", "shop", "mailer", "portal_links"); err != nil {
		t.Fatalf("a portal_links key: %v", err)
	}
	st := dynamo.New(dynamodb.NewFromConfig(aws.AWS), table)
	for _, tt := range []struct {
		cmd    string
		active bool
	}{{"disable", false}, {"enable", true}} {
		if _, err := lp("tenant", tt.cmd, "shop"); err != nil {
			t.Fatalf("tenant %s: %v", tt.cmd, err)
		}
		if active, err := st.TenantActive(ctx, "shop"); err != nil || active != tt.active {
			t.Fatalf("after tenant %s: active %v, %v; want %v", tt.cmd, active, err, tt.active)
		}
	}
	if _, err := lp("tenant", "disable", "nobody"); err == nil {
		t.Fatal("an unknown tenant was disabled")
	}
}

// Command lpctl is the operator's tool: it creates tenants, loads catalogs and creates,
// lists or revokes API keys, against the local stack's emulator, LocalStack or real AWS.
// Run it without arguments for its usage.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lpctl:", err)
		os.Exit(1)
	}
}

const usage = `usage: lpctl [-endpoint URL|aws] [-region R] -table NAME <command>
commands:
  tenant create <id> <name>
  tenant disable|enable <id>       (refused by the API and the portal within 10 s)
  catalog load <tenant> <file.json>
  key create <tenant> <name> <scopes, e.g. "read write">
                                   scopes: read write requests admin portal_links attest;
                                   admin implies read, write and requests only
  key list <tenant>
  key revoke <tenant> <key id>`

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("lpctl", flag.ContinueOnError)
	env := localaws.OptionsFromEnv(os.Environ())
	// lpctl reads and writes only the table: DynamoDB's own endpoint is enough.
	endpoint := fs.String("endpoint", cmp.Or(env.Services["AWS_ENDPOINT_URL_DYNAMODB"], env.Endpoint),
		`AWS endpoint URL, or "aws" for real AWS (default: $AWS_ENDPOINT_URL_DYNAMODB, else $AWS_ENDPOINT_URL)`)
	region := fs.String("region", cmp.Or(env.Region, localaws.DefaultRegion), "AWS region (default: $AWS_REGION)")
	table := fs.String("table", os.Getenv("TABLE_NAME"), "DynamoDB table name (default: $TABLE_NAME)")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	a := fs.Args()
	if len(a) < 2 || *table == "" || *endpoint == "" {
		fs.Usage()
		return errors.New("a command, -table and -endpoint are required")
	}
	stack, err := localaws.Start(ctx, localaws.Options{Endpoint: *endpoint, Region: *region})
	if err != nil {
		return err
	}
	defer stack.Close()
	st := dynamo.New(dynamodb.NewFromConfig(stack.AWS), *table)
	svc := app.New(st, time.Now, 0)
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	switch cmd := a[0] + " " + a[1]; {
	case cmd == "tenant create" && len(a) == 4:
		return seed.Tenant(ctx, st, a[2], a[3])
	case (cmd == "tenant disable" || cmd == "tenant enable") && len(a) == 3:
		return st.SetTenantDisabled(ctx, a[2], a[1] == "disable")
	case cmd == "catalog load" && len(a) == 4:
		b, err := os.ReadFile(a[3])
		if err != nil {
			return err
		}
		c, err := seed.LoadCatalog(ctx, svc, a[2], b)
		if err != nil {
			return err
		}
		return enc.Encode(map[string]any{"tenant": a[2], "catalogVersion": c.Version})
	case cmd == "key create" && len(a) == 5:
		scopes, ok := apikey.ParseScopes(a[4])
		if !ok {
			return fmt.Errorf("scopes must be among %v", apikey.AllScopes)
		}
		if _, err := st.Tenant(ctx, a[2]); err != nil {
			return fmt.Errorf("tenant %s: %w", a[2], err)
		}
		plain, k, err := seed.Key(ctx, st, a[2], a[3], scopes)
		if err != nil {
			return err
		}
		return enc.Encode(map[string]any{"id": k.ID, "tenant": k.Tenant, "scopes": k.Scopes, "key": plain,
			"note": "the key is shown only now; store it safely"})
	case cmd == "key list" && len(a) == 3:
		keys, err := st.Keys(ctx, a[2])
		if err != nil {
			return err
		}
		type view struct {
			ID        string         `json:"id"`
			Name      string         `json:"name"`
			Scopes    []apikey.Scope `json:"scopes"`
			CreatedAt time.Time      `json:"createdAt"`
			RevokedAt *time.Time     `json:"revokedAt,omitempty"`
		}
		views := make([]view, len(keys))
		for i, k := range keys {
			views[i] = view{k.ID, k.Name, k.Scopes, k.CreatedAt, k.RevokedAt}
		}
		return enc.Encode(views)
	case cmd == "key revoke" && len(a) == 4:
		return st.RevokeKey(ctx, a[2], a[3], time.Now().UTC())
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", a)
}

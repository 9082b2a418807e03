package wire_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/wire"
)

func TestRuntimeConfigRefusesAnIncompleteEnvironment(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no region":     {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
		"no key id":     {"AWS_REGION": "eu-central-1", "AWS_SECRET_ACCESS_KEY": "s"},
		"no secret key": {"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "a"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := wire.RuntimeConfig(func(k string) string { return env[k] }); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestRuntimeConfig: credentials and region come from the runtime's variables, and the
// SDK's endpoint variables point each client where they say, per service before the
// general one, as config.LoadDefaultConfig would.
func TestRuntimeConfig(t *testing.T) {
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")

	cfg, err := wire.RuntimeConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Fatalf("credentials %+v, %v", creds, err)
	}
	if cfg.Region != "eu-central-1" || cfg.BaseEndpoint != nil {
		t.Fatalf("region %q, base endpoint %v", cfg.Region, cfg.BaseEndpoint)
	}
	if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:8000" {
		t.Errorf("DynamoDB endpoint %q", got)
	}
	s3 := blob.NewClient(cfg).Options()
	if s3.BaseEndpoint != nil || s3.UsePathStyle {
		t.Errorf("S3 without an endpoint of its own: endpoint %v, path style %v", s3.BaseEndpoint, s3.UsePathStyle)
	}

	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
	if cfg, err = wire.RuntimeConfig(os.Getenv); err != nil {
		t.Fatal(err)
	}
	if s3 := blob.NewClient(cfg).Options(); aws.ToString(s3.BaseEndpoint) != "http://127.0.0.1:9000" || !s3.UsePathStyle {
		t.Errorf("S3 on an emulator: endpoint %v, path style %v", aws.ToString(s3.BaseEndpoint), s3.UsePathStyle)
	}

	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
	if cfg, err = wire.RuntimeConfig(os.Getenv); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:8000" {
		t.Errorf("the per-service endpoint lost to the general one: %q", got)
	}
}

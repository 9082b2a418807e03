package wire_test

import (
	"context"
	"maps"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/shared/awsapi"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/mail"
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
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
	if cfg, err = wire.RuntimeConfig(os.Getenv); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:8000" {
		t.Errorf("the per-service endpoint lost to the general one: %q", got)
	}
}

// TestRuntimeConfigEndpoints: the S3 and SES v2 adapters reach AWS's own hosts (S3
// virtual-hosted) without an endpoint variable, and an endpoint of their own (S3 by path, as
// emulators need) with one, the per-service variable before the general one.
func TestRuntimeConfigEndpoints(t *testing.T) {
	ctx := context.Background()
	const bucket = "lp-dev-exportsbucket-1a2b"
	for _, c := range []struct {
		name      string
		env       map[string]string
		s3, sesv2 string
	}{
		{"AWS", nil, "https://" + bucket + ".s3.eu-central-1.amazonaws.com/", ""},
		{"general endpoint", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
			"http://127.0.0.1:4566/" + bucket + "/", "http://127.0.0.1:4566"},
		{"S3 endpoint", map[string]string{"AWS_ENDPOINT_URL_S3": "http://localhost:9000/"},
			"http://localhost:9000/" + bucket + "/", ""},
		{"SES v2 endpoint", map[string]string{"AWS_ENDPOINT_URL_SESV2": "http://127.0.0.1:8005"},
			"https://" + bucket + ".s3.eu-central-1.amazonaws.com/", "http://127.0.0.1:8005"},
		{"per-service before general", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
			"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_SESV2": "http://127.0.0.1:8005"},
			"http://127.0.0.1:9000/" + bucket + "/", "http://127.0.0.1:8005"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}
			maps.Copy(env, c.env)
			cfg, err := wire.RuntimeConfig(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			u, err := blob.BucketURL(ctx, cfg, bucket)
			if err != nil || u.String() != c.s3 {
				t.Errorf("S3 bucket URL %v (%v), want %s", u, err, c.s3)
			}
			ses, own, err := awsapi.Endpoint(ctx, cfg, mail.SESv2)
			if err != nil || ses != c.sesv2 || own != (c.sesv2 != "") {
				t.Errorf("SES v2 endpoint %q %v (%v), want %q", ses, own, err, c.sesv2)
			}
		})
	}
}

package secrets_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/secrets"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, "secrets", func(_ context.Context, e *testenv.Env) error { env = e; return nil }))
}

// TestValue reads a secret's current and previous values as the SDK's client stores them,
// through the embedded emulator, and names a missing secret or stage ErrNotFound.
func TestValue(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(env.AWS)
	name := testenv.Unique("portal-secret")
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: ptr(`{"kid":"k1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := secrets.New(ctx, env.AWS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Value(ctx, name, "AWSPREVIOUS"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("previous stage of a secret never rotated: %v, want ErrNotFound", err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: ptr(`{"kid":"k2"}`)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, stage, want string }{
		{name, "AWSCURRENT", `{"kid":"k2"}`},
		{*created.ARN, "AWSCURRENT", `{"kid":"k2"}`},
		{name, "AWSPREVIOUS", `{"kid":"k1"}`},
	} {
		if got, err := r.Value(ctx, c.id, c.stage); err != nil || got != c.want {
			t.Errorf("Value(%s, %s) = %q, %v; want %q", c.id, c.stage, got, err, c.want)
		}
	}
	if _, err := r.Value(ctx, testenv.Unique("none"), "AWSCURRENT"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("missing secret: %v, want ErrNotFound", err)
	}
}

func ptr(s string) *string { return &s }

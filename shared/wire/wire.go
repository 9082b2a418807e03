package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/portallink"
	"github.com/livingprofile/livingprofile/shared/queue"
)

// Warm-container cache lifetimes: per-tenant items every request needs (catalog, API
// keys) are read at most once per lifetime per container, never per request.
const (
	catalogCacheTTL = 30 * time.Second
	keyCacheTTL     = 60 * time.Second
)

// Deps are the clients and services one function builds once, at init.
type Deps struct {
	env   func(string) string
	aws   aws.Config
	log   *slog.Logger
	store *dynamo.Store
}

// Builder builds one function's handler: an HTTPHandler, AuthorizerHandler, QueueHandler
// or StreamHandler. Each function has its own, so a binary links only its own handler.
type Builder func(context.Context, *Deps) (any, error)

func (d *Deps) api(signer *portallink.Signer) *httpapi.API {
	return httpapi.New(app.New(d.store, time.Now, catalogCacheTTL), d.log, signer, d.env("PORTAL_BASE_URL"))
}

// portalSigner reads the portal link signing key from Secrets Manager.
func (d *Deps) portalSigner(ctx context.Context) (*portallink.Signer, error) {
	arn := d.env("PORTAL_SECRET_ARN")
	if arn == "" {
		return nil, errors.New("PORTAL_SECRET_ARN is not set")
	}
	out, err := secretsmanager.NewFromConfig(d.aws).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return nil, fmt.Errorf("read portal signing secret: %w", err)
	}
	key, err := portallink.ParseSecret(aws.ToString(out.SecretString))
	if err != nil {
		return nil, err
	}
	return portallink.NewSigner(key)
}

func (d *Deps) queue(env string) (*queue.Queue, error) {
	url := d.env(env)
	if url == "" {
		return nil, fmt.Errorf("%s is not set", env)
	}
	return queue.New(sqs.NewFromConfig(d.aws), url), nil
}

func (d *Deps) positive(env string) (int, error) {
	n, err := strconv.Atoi(d.env(env))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive whole number", env)
	}
	return n, nil
}

// allowLoopback admits http:// webhooks on loopback; only the local stack sets it.
func (d *Deps) allowLoopback() bool { return d.env("ALLOW_HTTP_LOOPBACK") == "true" }

// Build builds a function's handler from its environment (env returns "" for unset
// variables) and AWS configuration.
func Build(ctx context.Context, build Builder, env func(string) string, awsCfg aws.Config, log *slog.Logger) (any, error) {
	table := env("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	d := &Deps{env: env, aws: awsCfg, log: log, store: dynamo.New(dynamodb.NewFromConfig(awsCfg), table)}
	return build(ctx, d)
}

// Main is the whole main function of a deployed function: it reads the environment and
// builds the clients once, at init, fails fast with a clear message, and starts the runtime.
func Main(logicalID string, build Builder) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level(os.Getenv("LOG_LEVEL"))})).With("function", logicalID)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("load AWS configuration", "err", err)
		os.Exit(1)
	}
	h, err := Build(ctx, build, os.Getenv, cfg, log)
	if err != nil {
		log.Error("build handler", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

func level(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return slog.LevelInfo
	}
	return l
}

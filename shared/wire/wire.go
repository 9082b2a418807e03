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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/awsapi"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

// CatalogCacheTTL is how long a warm container keeps a tenant's catalog: read at most once
// per lifetime per container, never per request. (The authorizer's key cache is
// authorizer.CacheTTL, bounded by the revocation guarantee.)
const CatalogCacheTTL = 30 * time.Second

// Deps are what every function has at init: its environment, its AWS configuration, its
// logger and the table. A builder builds from them only the clients its handler uses.
type Deps struct {
	Env   func(string) string // "" for unset variables
	AWS   aws.Config
	Log   *slog.Logger
	Store *dynamo.Store

	profiles *app.Service
}

// Builder builds one function's handler: an HTTPHandler, AuthorizerHandler, QueueHandler,
// StreamHandler or ScheduleHandler. Each function has its own, in the package that links
// exactly the AWS clients it uses, so a binary links only its own handler.
type Builder func(context.Context, *Deps) (any, error)

// Profiles returns the function's one profile and request use-case service over the table,
// so that every part of a handler shares its warm catalog cache.
func (d *Deps) Profiles() *app.Service {
	if d.profiles == nil {
		d.profiles = app.New(d.Store, time.Now, CatalogCacheTTL)
	}
	return d.profiles
}

// API returns the brand API over Profiles. links is only needed by the portal-links route.
func (d *Deps) API(links *portallink.Signer) *httpapi.API {
	return httpapi.New(d.Profiles(), d.Log, links, d.Env("PORTAL_BASE_URL"))
}

// Required returns the variable's value, or an error naming it when it is unset.
func (d *Deps) Required(name string) (string, error) {
	if v := d.Env(name); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s is not set", name)
}

// Positive returns the variable as a whole number of at least 1, or an error naming it.
func (d *Deps) Positive(name string) (int, error) {
	n, err := strconv.Atoi(d.Env(name))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive whole number", name)
	}
	return n, nil
}

// OptionalPositive is Positive with def for an unset variable.
func (d *Deps) OptionalPositive(name string, def int) (int, error) {
	if d.Env(name) == "" {
		return def, nil
	}
	return d.Positive(name)
}

// AllowLoopback admits http:// webhooks on loopback; only the local stack sets it ("true",
// or "only" to refuse every other address: see LoopbackOnly).
func (d *Deps) AllowLoopback() bool {
	return d.Env("ALLOW_HTTP_LOOPBACK") == "true" || d.LoopbackOnly()
}

// LoopbackOnly is ALLOW_HTTP_LOOPBACK "only": deliveries reach loopback and nothing else.
func (d *Deps) LoopbackOnly() bool { return d.Env("ALLOW_HTTP_LOOPBACK") == "only" }

// Build builds a function's handler from its environment and AWS configuration. The
// deployed binary (Main) and the local stack both build through it.
func Build(ctx context.Context, build Builder, env func(string) string, awsCfg aws.Config, log *slog.Logger) (any, error) {
	table := env("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	d := &Deps{Env: env, AWS: awsCfg, Log: log, Store: dynamo.New(dynamodb.NewFromConfig(awsCfg), table)}
	return build(ctx, d)
}

// Main is the whole main function of a deployed function: it reads the environment and
// builds the clients once, at init, fails fast with a clear message, and starts the runtime.
func Main(logicalID string, build Builder) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level(os.Getenv("LOG_LEVEL"))})).With("function", logicalID)
	cfg, err := RuntimeConfig(os.Getenv)
	if err != nil {
		log.Error("AWS configuration", "err", err)
		os.Exit(1)
	}
	h, err := Build(context.Background(), build, os.Getenv, cfg, log)
	if err != nil {
		log.Error("build handler", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// RuntimeConfig is the AWS configuration the Lambda runtime hands a function: region and
// the execution role's credentials in AWS_REGION and AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, which stay valid for the life of the execution
// environment. Endpoints may be overridden with the SDK's AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE> (how a built binary is pointed at an emulator). Unlike the
// SDK's config.LoadDefaultConfig it does not link the shared-config, SSO, STS and IMDS
// credential chain, which a function never uses (about 2 MB and part of its cold start);
// the operator CLI and the local stack keep that chain.
func RuntimeConfig(env func(string) string) (aws.Config, error) {
	region := env("AWS_REGION")
	if region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set")
	}
	creds := aws.Credentials{
		AccessKeyID: env("AWS_ACCESS_KEY_ID"), SecretAccessKey: env("AWS_SECRET_ACCESS_KEY"),
		SessionToken: env("AWS_SESSION_TOKEN"), Source: "LambdaRuntimeEnvironment",
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return aws.Config{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		ConfigSources: []any{awsapi.EnvEndpoints(env)},
	}
	if u := env("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, nil
}

func level(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return slog.LevelInfo
	}
	return l
}

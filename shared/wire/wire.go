package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/portallink"
)

// Warm-container cache lifetimes: per-tenant items every request needs (catalog, API
// keys) are read at most once per lifetime per container, never per request.
const (
	catalogCacheTTL = 30 * time.Second
	keyCacheTTL     = 60 * time.Second
)

// deps are the clients and services one function builds once, at init.
type deps struct {
	env   func(string) string
	aws   aws.Config
	log   *slog.Logger
	store *dynamo.Store
}

func (d *deps) api(ctx context.Context, withLinks bool) (*httpapi.API, error) {
	svc := app.New(d.store, time.Now, catalogCacheTTL)
	var signer *portallink.Signer
	if withLinks {
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
		if signer, err = portallink.NewSigner(key); err != nil {
			return nil, err
		}
	}
	return httpapi.New(svc, d.log, signer, d.env("PORTAL_BASE_URL")), nil
}

func route(pick func(*httpapi.API) httpapi.Handler) func(context.Context, *deps) (any, error) {
	return func(ctx context.Context, d *deps) (any, error) {
		a, err := d.api(ctx, false)
		if err != nil {
			return nil, err
		}
		return HTTPHandler(pick(a)), nil
	}
}

// builders maps every function's logical id in template.yaml to how its handler is built.
var builders = map[string]func(context.Context, *deps) (any, error){
	"Authorizer": func(_ context.Context, d *deps) (any, error) {
		return AuthorizerHandler(authorizer.New(d.store, d.log, keyCacheTTL).Handle), nil
	},
	"CreateProfile":   route((*httpapi.API).CreateProfile),
	"FindProfile":     route((*httpapi.API).FindProfile),
	"GetProfile":      route((*httpapi.API).GetProfile),
	"UpdateProfile":   route((*httpapi.API).UpdateProfile),
	"PutConsent":      route((*httpapi.API).PutConsent),
	"PutSubscription": route((*httpapi.API).PutSubscription),
	"CheckConsent":    route((*httpapi.API).CheckConsent),
	"ListEvents":      route((*httpapi.API).ListEvents),
	"GetCatalog":      route((*httpapi.API).GetCatalog),
	"PutCatalog":      route((*httpapi.API).PutCatalog),
	"CreatePortalLink": func(ctx context.Context, d *deps) (any, error) {
		a, err := d.api(ctx, true)
		if err != nil {
			return nil, err
		}
		return HTTPHandler(a.PortalLinks()), nil
	},
}

// Functions lists the logical id of every function this code can build, sorted.
func Functions() []string {
	out := make([]string, 0, len(builders))
	for id := range builders {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Build builds the handler of function logicalID from its environment (env returns ""
// for unset variables) and AWS configuration. The result is an HTTPHandler or an
// AuthorizerHandler.
func Build(ctx context.Context, logicalID string, env func(string) string, awsCfg aws.Config, log *slog.Logger) (any, error) {
	b, ok := builders[logicalID]
	if !ok {
		return nil, fmt.Errorf("no function %q", logicalID)
	}
	table := env("TABLE_NAME")
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	d := &deps{env: env, aws: awsCfg, log: log.With("function", logicalID),
		store: dynamo.New(dynamodb.NewFromConfig(awsCfg), table)}
	return b(ctx, d)
}

// Main is the whole main function of a deployed function: it reads the environment and
// builds the clients once, at init, fails fast with a clear message, and starts the runtime.
func Main(logicalID string) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level(os.Getenv("LOG_LEVEL"))}))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("load AWS configuration", "err", err)
		os.Exit(1)
	}
	h, err := Build(ctx, logicalID, os.Getenv, cfg, log)
	if err != nil {
		log.Error("build handler", "function", logicalID, "err", err)
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

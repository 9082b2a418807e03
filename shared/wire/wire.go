package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
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
	"github.com/livingprofile/livingprofile/shared/authorizer"
	"github.com/livingprofile/livingprofile/shared/delivery"
	"github.com/livingprofile/livingprofile/shared/dispatch"
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
	"Sync":            route((*httpapi.API).Sync),
	"CreatePortalLink": func(ctx context.Context, d *deps) (any, error) {
		a, err := d.api(ctx, true)
		if err != nil {
			return nil, err
		}
		return HTTPHandler(a.PortalLinks()), nil
	},
	"CreateWebhook":            webhookRoute((*httpapi.API).CreateWebhook),
	"ListWebhooks":             webhookRoute((*httpapi.API).ListWebhooks),
	"DeleteWebhook":            webhookRoute((*httpapi.API).DeleteWebhook),
	"RotateWebhookSecret":      webhookRoute((*httpapi.API).RotateWebhookSecret),
	"ListWebhookDeliveries":    webhookRoute((*httpapi.API).ListWebhookDeliveries),
	"RedriveWebhookDeliveries": webhookRoute((*httpapi.API).RedriveWebhookDeliveries),
	"DispatchEvents": func(_ context.Context, d *deps) (any, error) {
		q, err := d.queue("DELIVERY_QUEUE_URL")
		if err != nil {
			return nil, err
		}
		return StreamHandler(dispatch.New(d.store, q, d.log).Handle), nil
	},
	"DeliverWebhooks": func(_ context.Context, d *deps) (any, error) {
		q, err := d.queue("DELIVERY_QUEUE_URL")
		if err != nil {
			return nil, err
		}
		attempts, err := d.positive("MAX_ATTEMPTS")
		if err != nil {
			return nil, err
		}
		base, err := d.positive("RETRY_BASE_SECONDS")
		if err != nil {
			return nil, err
		}
		w := delivery.NewWorker(d.store, q, d.log, delivery.Options{
			MaxAttempts: attempts, RetryBase: time.Duration(base) * time.Second, AllowLoopback: d.allowLoopback(),
		})
		return QueueHandler(w.Handle), nil
	},
}

// webhookRoute builds a webhook route; only the redrive route needs the queues, and
// only it reads their URLs.
func webhookRoute(pick func(*httpapi.API) httpapi.Handler) func(context.Context, *deps) (any, error) {
	return func(ctx context.Context, d *deps) (any, error) {
		a, err := d.api(ctx, false)
		if err != nil {
			return nil, err
		}
		var r httpapi.Redriver
		if d.env("DELIVERY_DLQ_URL") != "" {
			dlq, err := d.queue("DELIVERY_DLQ_URL")
			if err != nil {
				return nil, err
			}
			main, err := d.queue("DELIVERY_QUEUE_URL")
			if err != nil {
				return nil, err
			}
			r = delivery.NewRedriver(d.store, dlq, main)
		}
		a.WithWebhooks(app.NewWebhooks(d.store, time.Now, d.allowLoopback()), r)
		return HTTPHandler(pick(a)), nil
	}
}

func (d *deps) queue(env string) (*queue.Queue, error) {
	url := d.env(env)
	if url == "" {
		return nil, fmt.Errorf("%s is not set", env)
	}
	return queue.New(sqs.NewFromConfig(d.aws), url), nil
}

func (d *deps) positive(env string) (int, error) {
	n, err := strconv.Atoi(d.env(env))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive whole number", env)
	}
	return n, nil
}

// allowLoopback admits http:// webhooks on loopback; only the local stack sets it.
func (d *deps) allowLoopback() bool { return d.env("ALLOW_HTTP_LOOPBACK") == "true" }

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

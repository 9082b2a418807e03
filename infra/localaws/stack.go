// Package localaws runs the AWS services the product needs on a laptop, and creates the
// template's resources in them.
//
// [Start] embeds the kumo AWS emulator in the process (or points at another endpoint, such
// as LocalStack or real AWS) and returns an [aws.Config] every SDK client can be built from.
// [Provision] creates the tables, queues, buckets and secrets of a SAM template there,
// idempotently, so that a restart keeps the data.
//
// kumo keeps its state in package-level services: every Stack started in one process sees
// the same resources. Use distinct stack names to keep them apart (tests do).
package localaws

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sivchari/kumo"
)

// DefaultRegion is the region used when Options.Region is empty.
const DefaultRegion = "eu-central-1"

// RealAWS is the Options.Endpoint value that selects real AWS with the default credential
// chain (environment, shared config, SSO, instance role, ...).
const RealAWS = "aws"

// DataDirEnv is the environment variable kumo reads, once at program start, to persist its
// state in a directory. It must be in the process environment before the program starts
// (the Makefile sets it); setting it later has no effect.
const DataDirEnv = "KUMO_DATA_DIR"

// Options configures Start.
type Options struct {
	// Endpoint is empty to run the embedded emulator, RealAWS for real AWS, or the base URL of
	// another emulator (for example LocalStack's "http://localhost:4566").
	Endpoint string
	// Region defaults to DefaultRegion.
	Region string
}

// Stack is a running set of AWS services.
type Stack struct {
	// Endpoint is the base URL every client talks to, or "" for real AWS.
	Endpoint string
	// AWS is the configuration to build SDK clients from. With an emulator, every S3 client
	// built from it addresses buckets by path, as emulators need.
	AWS aws.Config
	// Embedded reports whether the emulator runs inside this process.
	Embedded bool

	server *kumo.Server
}

// Start starts the embedded emulator, or connects to opts.Endpoint. With the emulator or
// another endpoint, the credentials are the static pair "local"/"local" and the developer's
// AWS configuration is not read, so a local run can never reach a real account by accident.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	region := cmp.Or(opts.Region, DefaultRegion)
	switch opts.Endpoint {
	case RealAWS:
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		slog.InfoContext(ctx, "using real AWS", "region", region)
		return &Stack{AWS: cfg}, nil
	case "":
		srv := kumo.NewServer()
		s := &Stack{Endpoint: srv.URL, AWS: emulatorConfig(srv.URL, region), Embedded: true, server: srv}
		persistent := os.Getenv(DataDirEnv) != ""
		slog.InfoContext(ctx, "embedded AWS emulator started", "endpoint", srv.URL, "region", region,
			"persistent", persistent)
		if persistent {
			// kumo restores tables but not their streams: a table loaded from disk keeps its
			// LatestStreamArn, yet its writes are recorded nowhere until it is recreated.
			slog.WarnContext(ctx, "the embedded emulator does not restore DynamoDB streams of persisted tables; stream consumers see no records for them")
		}
		return s, nil
	default:
		slog.InfoContext(ctx, "using external AWS endpoint", "endpoint", opts.Endpoint, "region", region)
		return &Stack{Endpoint: opts.Endpoint, AWS: emulatorConfig(opts.Endpoint, region)}, nil
	}
}

// emulatorConfig is the SDK configuration for an emulator at endpoint.
func emulatorConfig(endpoint, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("local", "local", "")),
		BaseEndpoint: aws.String(endpoint),
		// The SDK's default adds flexible checksums (CRC32) to every upload and validates them
		// on downloads; not every emulator implements them, so ask only where an API requires
		// them. (kumo accepts both.)
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		// Emulators serve buckets under the path, not as host names; presigned links follow.
		ServiceOptions: []func(string, any){func(serviceID string, opts any) {
			if o, ok := opts.(*s3.Options); ok && serviceID == s3.ServiceID {
				o.UsePathStyle = true
			}
		}},
	}
}

// Close stops the embedded emulator; it is a no-op for other endpoints and safe to call twice.
//
// kumo writes its state to KUMO_DATA_DIR in the background about once a second and offers no
// way to flush from outside, so with persistence on Close waits one flush interval after the
// server stopped taking requests: without that, the last second of writes would be lost.
func (s *Stack) Close() error {
	if s == nil || s.server == nil {
		return nil
	}
	s.server.Close()
	s.server = nil
	if os.Getenv(DataDirEnv) != "" {
		time.Sleep(flushInterval() + 250*time.Millisecond)
	}
	return nil
}

// flushInterval mirrors kumo's KUMO_PERSIST_FLUSH_INTERVAL_MS (default 1000 ms).
func flushInterval() time.Duration {
	ms := 1000
	if n, err := strconv.Atoi(os.Getenv("KUMO_PERSIST_FLUSH_INTERVAL_MS")); err == nil && n > 0 {
		ms = n
	}
	return time.Duration(ms) * time.Millisecond
}

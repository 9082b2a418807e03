// Package localaws runs the AWS services the product needs on a laptop: [Start] embeds the
// kumo AWS emulator in the process (or points at another endpoint, such as LocalStack or
// real AWS), and [Provision] creates a SAM template's resources there, idempotently.
//
// kumo keeps its state in package-level services: every Stack started in one process sees
// the same resources. Use distinct stack names to keep them apart (tests do).
package localaws

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sivchari/kumo"

	"github.com/livingprofile/livingprofile/shared/awsapi"
)

// DefaultRegion is the region used when Options.Region is empty.
const DefaultRegion = "eu-central-1"

// RealAWS is the Options.Endpoint value that selects real AWS with the default credential
// chain (environment, shared config, SSO, instance role, ...).
const RealAWS = "aws"

// DataDirEnv names the directory where the embedded emulator's state is kept across
// restarts, kill -9 included, as a journal replayed at start; unset, it is kept in memory.
// SQS messages are not kept: the local stack's reconciler restores what they carried.
const DataDirEnv = "LP_DATA_DIR"

// Options configures Start.
type Options struct {
	// Endpoint is empty for the embedded emulator, RealAWS, or another emulator's base URL.
	Endpoint string
	// Services sends single services elsewhere: by the SDK's variable for the service's
	// endpoint (awsapi.EndpointVar: AWS_ENDPOINT_URL_DYNAMODB), its URL. The others go to
	// Endpoint. DynamoDB from DynamoDB Local or moto, with everything else embedded, is
	// {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}.
	Services map[string]string
	Region   string // default DefaultRegion
}

// OptionsFromEnv reads the SDK's standard settings from the environment: AWS_ENDPOINT_URL
// (the base endpoint; LP_ENDPOINT is read when it is unset, for older setups), every
// AWS_ENDPOINT_URL_<SERVICE>, and AWS_REGION.
func OptionsFromEnv(environ []string) Options {
	o := Options{Services: map[string]string{}}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case v == "":
		case k == "AWS_ENDPOINT_URL":
			o.Endpoint = v
		case k == "LP_ENDPOINT":
			o.Endpoint = cmp.Or(o.Endpoint, v)
		case k == "AWS_REGION":
			o.Region = v
		case strings.HasPrefix(k, "AWS_ENDPOINT_URL_"):
			o.Services[k] = v
		}
	}
	return o
}

// Stack is a running set of AWS services.
type Stack struct {
	Endpoint string // the base URL every client talks to, or "" for real AWS
	// AWS is the configuration to build SDK clients from; with an emulator, its S3 clients
	// address buckets by path.
	AWS      aws.Config
	Embedded bool // whether the emulator runs inside this process
	// Services are the services sent elsewhere than Endpoint (Options.Services).
	Services map[string]string

	server  *kumo.Server
	front   *httptest.Server // the journal in front of server, when persistent
	journal *journal
}

// Start starts the embedded emulator, or connects to opts.Endpoint. But for real AWS, the
// credentials are "local"/"local" and the developer's AWS configuration is not read, so a
// local run can never reach a real account by accident.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	region := cmp.Or(opts.Region, DefaultRegion)
	switch opts.Endpoint {
	case RealAWS:
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		slog.InfoContext(ctx, "using real AWS", "region", region)
		return &Stack{AWS: cfg, Services: map[string]string{}}, nil
	case "":
		srv := kumo.NewServer()
		s := &Stack{Endpoint: srv.URL, Embedded: true, server: srv, Services: opts.Services}
		dir := os.Getenv(DataDirEnv)
		if dir != "" {
			j, err := openJournal(ctx, dir, srv.URL, slog.Default())
			if err != nil {
				srv.Close()
				return nil, err
			}
			s.journal, s.front = j, httptest.NewServer(j)
			s.Endpoint = s.front.URL
		}
		s.AWS = emulatorConfig(s.Endpoint, region, opts.Services)
		slog.InfoContext(ctx, "embedded AWS emulator started", "endpoint", s.Endpoint, "region", region, "persistent", dir != "", "elsewhere", opts.Services)
		return s, nil
	default:
		slog.InfoContext(ctx, "using external AWS endpoint", "endpoint", opts.Endpoint, "region", region, "elsewhere", opts.Services)
		return &Stack{Endpoint: opts.Endpoint, Services: opts.Services, AWS: emulatorConfig(opts.Endpoint, region, opts.Services)}, nil
	}
}

// Serves reports whether the embedded emulator serves the service of SDK id sdkID ("SESv2",
// "DynamoDB"): the emulator runs here and the service is not sent elsewhere.
func (s *Stack) Serves(sdkID string) bool {
	_, elsewhere := s.Services[awsapi.EndpointVar(sdkID)]
	return s.Embedded && !elsewhere
}

// emulatorConfig is the SDK configuration for an emulator at endpoint, with services sent
// elsewhere as their endpoint variables say.
func emulatorConfig(endpoint, region string, services map[string]string) aws.Config {
	return aws.Config{
		Region:        region,
		Credentials:   aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("local", "local", "")),
		BaseEndpoint:  aws.String(endpoint),
		ConfigSources: []any{awsapi.EnvEndpoints(func(name string) string { return services[name] })},
		// Not every emulator implements the flexible checksums the SDK adds by default.
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
// Not calling it loses nothing: the journal has every acknowledged change.
func (s *Stack) Close() error {
	if s == nil || s.server == nil {
		return nil
	}
	if s.front != nil {
		s.front.Close()
		_ = s.journal.Close()
	}
	s.server.Close()
	s.server = nil
	return nil
}

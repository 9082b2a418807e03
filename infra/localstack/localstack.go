// Package localstack runs the whole product on one machine: AWS services (embedded
// emulator or any endpoint), every resource of template.yaml, and every function of
// template.yaml built by package wire and served behind the HTTP API emulation with its
// authorizer. `make dev` and the integration tests both start it.
package localstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/apigw"
	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// Options configure Start.
type Options struct {
	// Template is the path of template.yaml; empty finds it at the module root.
	Template string
	// StackName prefixes every physical resource name.
	StackName string
	// Endpoint selects the AWS services, as localaws.Options.Endpoint.
	Endpoint string
	Region   string
	// Listen is the API's address; empty picks a free loopback port.
	Listen string
	// PortalBaseURL overrides where portal links point; empty points them at this server.
	PortalBaseURL string
	Log           *slog.Logger
	// APIOptions are added to the SDK clients the handlers use (benchmarks count requests).
	APIOptions []func(*middleware.Stack) error
}

// Stack is a running local product.
type Stack struct {
	AWS      *localaws.Stack
	Template *template.Template
	Physical localaws.Physical
	// URL is the API's base URL, e.g. http://127.0.0.1:4000.
	URL string
	// Table is the physical name of the profile table.
	Table string

	server *http.Server
}

// RepoRoot returns the module root, found from this source file, so tests in any package
// can locate template.yaml.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Start provisions the template's resources and serves its routes.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.Template == "" {
		o.Template = filepath.Join(RepoRoot(), "template.yaml")
	}
	if o.StackName == "" {
		o.StackName = "livingprofile-local"
	}
	tpl, err := template.Load(o.Template)
	if err != nil {
		return nil, err
	}
	aws, err := localaws.Start(ctx, localaws.Options{Endpoint: o.Endpoint, Region: o.Region})
	if err != nil {
		return nil, err
	}
	s := &Stack{AWS: aws, Template: tpl}
	fail := func(err error) (*Stack, error) { s.Close(); return nil, err }
	if s.Physical, err = localaws.Provision(ctx, aws.AWS, tpl, o.StackName); err != nil {
		return fail(fmt.Errorf("provision: %w", err))
	}
	ln, err := net.Listen("tcp", cmp.Or(o.Listen, "127.0.0.1:0"))
	if err != nil {
		return fail(fmt.Errorf("listen: %w", err))
	}
	s.URL = "http://" + ln.Addr().String()
	params, err := tpl.ParameterValues(map[string]string{"PortalBaseUrl": cmp.Or(o.PortalBaseURL, s.URL+"/portal")})
	if err != nil {
		return fail(err)
	}
	for k, v := range template.PseudoParameters(o.StackName, aws.AWS.Region, "000000000000") {
		params[k] = v
	}
	cfg := apigw.Config{API: tpl.HTTPAPI, Functions: tpl.Functions, Handlers: map[string]wire.HTTPHandler{},
		Authorizers: map[string]wire.AuthorizerHandler{}, Region: aws.AWS.Region, Logger: o.Log}
	handlerAWS := aws.AWS.Copy()
	handlerAWS.APIOptions = append(handlerAWS.APIOptions, o.APIOptions...)
	for _, fn := range tpl.Functions {
		env, err := tpl.Environment(fn, s.Physical.Refs(), params)
		if err != nil {
			return fail(fmt.Errorf("environment of %s: %w", fn.LogicalID, err))
		}
		if s.Table == "" {
			s.Table = env["TABLE_NAME"]
		}
		h, err := wire.Build(ctx, fn.LogicalID, func(k string) string { return env[k] }, handlerAWS, o.Log)
		if err != nil {
			return fail(fmt.Errorf("build %s: %w", fn.LogicalID, err))
		}
		switch h := h.(type) {
		case wire.HTTPHandler:
			cfg.Handlers[fn.LogicalID] = h
		case wire.AuthorizerHandler:
			cfg.Authorizers[fn.LogicalID] = h
		default:
			return fail(fmt.Errorf("%s: handler of type %T is neither HTTP nor authorizer", fn.LogicalID, h))
		}
	}
	api, err := apigw.New(cfg)
	if err != nil {
		return fail(err)
	}
	s.server = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("api server stopped", "err", err)
		}
	}()
	return s, nil
}

// Close stops the server and the AWS services.
func (s *Stack) Close() {
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.server.Shutdown(ctx)
	}
	if s.AWS != nil {
		_ = s.AWS.Close()
	}
}

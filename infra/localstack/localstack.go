// Package localstack runs the whole product on one machine: AWS services (embedded
// emulator or any endpoint), every resource of template.yaml, and every function of
// template.yaml built by package wire and served behind the HTTP API emulation with its
// authorizer, or invoked by its SQS, stream or schedule event. With the embedded emulator it
// also shows the emails the functions sent, at /_local/mail. `make dev` and the integration
// tests both start it.
package localstack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/apigw"
	"github.com/livingprofile/livingprofile/infra/eventsource"
	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/reconcile"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/registry"
)

// Options configure Start.
type Options struct {
	// Template is the path of template.yaml; empty finds it at the module root.
	Template string
	// StackName prefixes every physical resource name.
	StackName string
	// Endpoint, Services and Region select the AWS services, as in localaws.Options.
	Endpoint string
	Services map[string]string
	Region   string
	// Listen is the API's address; empty picks a free loopback port.
	Listen string
	Log    *slog.Logger
	// APIOptions are added to the SDK clients the handlers use (benchmarks count requests).
	APIOptions []func(*middleware.Stack) error
	// Parameters override template parameter defaults. Tests that kill job workers set
	// JobQueueVisibilitySeconds to a few seconds, not to wait out the deployed 720 s.
	Parameters map[string]string
	// LoopbackOnly confines webhook deliveries to loopback, for tests with generated URLs.
	LoopbackOnly bool
	// Wrap, when set, may replace each function's handler (tests inject faults with it).
	Wrap func(logicalID string, handler any) any
}

// Stack is a running local product.
type Stack struct {
	AWS      *localaws.Stack
	Template *template.Template
	Physical localaws.Physical
	URL      string // the API's base URL, e.g. http://127.0.0.1:4000
	Table    string // the physical name of the profile table
	// HandlerAWS is the AWS configuration the handlers are built from: with Options.APIOptions.
	HandlerAWS aws.Config
	Env        map[string]map[string]string // each function's environment, by logical id

	stackName   string
	actions     actionLog
	server      *http.Server
	stopWorkers context.CancelFunc
	workers     sync.WaitGroup
	schedules   map[string]*eventsource.Schedule // each scheduled function's first, by logical id
	outboxes    atomic.Pointer[[]*eventsource.Outbox]
}

// RepoRoot returns the module root, found from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Start provisions the template's resources and serves its routes.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	o.StackName = cmp.Or(o.StackName, "livingprofile-local")
	tpl, err := template.LoadWith(cmp.Or(o.Template, filepath.Join(RepoRoot(), "template.yaml")), o.Parameters)
	if err != nil {
		return nil, err
	}
	aws, err := localaws.Start(ctx, localaws.Options{Endpoint: o.Endpoint, Services: o.Services, Region: o.Region})
	if err != nil {
		return nil, err
	}
	s := &Stack{AWS: aws, Template: tpl, Env: map[string]map[string]string{}, actions: actionLog{calls: map[string]map[string]bool{}}, stackName: o.StackName}
	fail := func(err error) (*Stack, error) { s.Close(); return nil, err }
	// Every client of the stack offers what it puts to the outbox sources, which then query
	// only to sweep (see eventsource.OfferPuts).
	aws.AWS.APIOptions = append(aws.AWS.APIOptions, eventsource.OfferPuts(func() []*eventsource.Outbox {
		return *cmp.Or(s.outboxes.Load(), new([]*eventsource.Outbox))
	}))
	if s.Physical, err = localaws.Provision(ctx, aws.AWS, tpl, o.StackName, localaws.WithoutStreams(aws.Serves("DynamoDB"))); err != nil {
		return fail(fmt.Errorf("provision: %w", err))
	}
	ln, err := net.Listen("tcp", cmp.Or(o.Listen, "127.0.0.1:0"))
	if err != nil {
		return fail(fmt.Errorf("listen: %w", err))
	}
	s.URL = "http://" + ln.Addr().String()
	overrides := map[string]string{"PortalBaseUrl": s.URL + "/portal"}
	maps.Copy(overrides, o.Parameters)
	params, err := tpl.ParameterValues(overrides)
	if err != nil {
		return fail(err)
	}
	maps.Copy(params, template.PseudoParameters(o.StackName, aws.AWS.Region, eventsource.DefaultAccount))
	if aws.Endpoint != "" {
		if err := localaws.EnsureSender(ctx, aws.AWS, params["SenderEmail"]); err != nil {
			o.Log.ErrorContext(ctx, "the SES sender identity could not be created: every email the functions send fails until it exists",
				"sender", params["SenderEmail"], "err", err.Error())
		}
	}
	cfg := apigw.Config{API: tpl.HTTPAPI, Functions: tpl.Functions, Handlers: map[string]wire.HTTPHandler{},
		Authorizers: map[string]wire.AuthorizerHandler{}, Region: aws.AWS.Region, Logger: o.Log}
	var workers []worker
	s.HandlerAWS = aws.AWS.Copy()
	s.HandlerAWS.APIOptions = append(s.HandlerAWS.APIOptions, o.APIOptions...)
	refs := s.Physical.Refs()
	for _, fn := range tpl.Functions {
		env, err := tpl.Environment(fn, refs, params)
		if err != nil {
			return fail(fmt.Errorf("environment of %s: %w", fn.LogicalID, err))
		}
		if s.Table == "" {
			s.Table = env["TABLE_NAME"]
		}
		// Local receivers listen on loopback over plain http.
		env["ALLOW_HTTP_LOOPBACK"] = "true"
		if o.LoopbackOnly {
			env["ALLOW_HTTP_LOOPBACK"] = "only"
		}
		s.Env[fn.LogicalID] = env
		build, ok := registry.Builder(fn.LogicalID)
		if !ok {
			return fail(fmt.Errorf("no builder for function %s", fn.LogicalID))
		}
		fnAWS := s.HandlerAWS.Copy()
		fnAWS.APIOptions = append(fnAWS.APIOptions, s.actions.middleware(fn.LogicalID))
		fnAWS.HTTPClient = s.actions.httpClient(fn.LogicalID, fnAWS.HTTPClient)
		h, err := wire.Build(ctx, build, func(k string) string { return env[k] }, fnAWS, o.Log.With("function", fn.LogicalID))
		if err != nil {
			return fail(fmt.Errorf("build %s: %w", fn.LogicalID, err))
		}
		if o.Wrap != nil {
			h = o.Wrap(fn.LogicalID, h)
		}
		switch h := h.(type) {
		case wire.HTTPHandler:
			cfg.Handlers[fn.LogicalID] = h
		case wire.AuthorizerHandler:
			cfg.Authorizers[fn.LogicalID] = h
		case wire.QueueHandler, wire.StreamHandler, wire.ScheduleHandler:
			workers = append(workers, worker{fn: fn, handler: h})
		default:
			return fail(fmt.Errorf("%s: handler of type %T is not one the local stack can invoke", fn.LogicalID, h))
		}
	}
	api, err := apigw.New(cfg)
	if err != nil {
		return fail(err)
	}
	if err := reconcileAtStart(ctx, workers, time.Now()); err != nil {
		return fail(err)
	}
	if err := s.runWorkers(workers, o.Log); err != nil {
		return fail(err)
	}
	s.server = &http.Server{Handler: s.localRoutes(api), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("api server stopped", "err", err)
		}
	}()
	return s, nil
}

// reconcileAtStart runs ReconcileEvents once, before any event source runs, for everything
// written before start: the local queues do not survive a restart, so every delivery still
// waiting and every outbox item of an earlier run has lost its message.
func reconcileAtStart(ctx context.Context, workers []worker, start time.Time) error {
	for _, w := range workers {
		if h, ok := w.handler.(wire.ScheduleHandler); ok && w.fn.LogicalID == "ReconcileEvents" {
			detail, _ := json.Marshal(reconcile.Detail{Before: start})
			if err := h(ctx, events.EventBridgeEvent{Detail: detail}); err != nil {
				return fmt.Errorf("reconcile at start: %w", err)
			}
		}
	}
	return nil
}

// worker is a function invoked by an event source rather than a route.
type worker struct {
	fn      template.Function
	handler any
}

// outboxPoll is how often the local stand-in for the table's stream delivers offered outbox items.
const outboxPoll = 100 * time.Millisecond

// runWorkers starts the event sources of the queue, stream and scheduled functions: SQS
// pollers, an outbox source in place of the stream (see eventsource.Outbox) and a timer per
// enabled Schedule event.
func (s *Stack) runWorkers(workers []worker, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWorkers = cancel
	db, sq := dynamodb.NewFromConfig(s.AWS.AWS), sqs.NewFromConfig(s.AWS.AWS)
	start := func(name string, run func(context.Context) error) {
		s.workers.Go(func() {
			// An error caused by Close stopping the sources is no failure.
			if err := run(ctx); err != nil && ctx.Err() == nil {
				log.Error("event source stopped", "source", name, "err", err)
			}
		})
	}
	s.schedules = map[string]*eventsource.Schedule{}
	var outboxes []*eventsource.Outbox
	for _, w := range workers {
		id, timeout := w.fn.LogicalID, time.Duration(w.fn.Timeout)*time.Second
		for _, q := range w.fn.Queues {
			h, ok := w.handler.(wire.QueueHandler)
			if !ok {
				return fmt.Errorf("%s has an SQS event but its handler is %T", id, w.handler)
			}
			res, ok := s.Physical[q.QueueLogicalID]
			if !ok {
				return fmt.Errorf("%s: queue %s was not provisioned", id, q.QueueLogicalID)
			}
			src := &eventsource.SQS{
				Client: sq, QueueURL: res.URL, QueueARN: res.ARN, BatchSize: q.BatchSize,
				BatchWindow:             time.Duration(q.MaxBatchingWindowSeconds) * time.Second,
				ReportBatchItemFailures: q.ReportsBatchItemFailures(), Handler: h,
				FunctionName: id, Timeout: timeout, Log: log,
			}
			start(id+"/"+q.Event, src.Run)
		}
		for _, st := range w.fn.Streams {
			h, ok := w.handler.(wire.StreamHandler)
			if !ok {
				return fmt.Errorf("%s has a stream event but its handler is %T", id, w.handler)
			}
			src := &eventsource.Outbox{
				DB: db, Table: s.Table, Index: dynamo.OutboxIndex, PartitionKeys: dynamo.OutboxPartitions(),
				Interval: outboxPoll, BatchSize: st.BatchSize, StreamARN: s.Physical[st.TableLogicalID].StreamARN,
				Handler: h, FunctionName: id, Timeout: timeout, Log: log,
			}
			// Taking offers before it starts, so that its first sweep finds what was put before.
			outboxes = append(outboxes, src)
			s.outboxes.Store(new(slices.Clone(outboxes)))
			start(id+"/"+st.Event, src.Run)
		}
		for _, ev := range w.fn.Schedules {
			h, ok := w.handler.(wire.ScheduleHandler)
			if !ok {
				return fmt.Errorf("%s has a schedule event but its handler is %T", id, w.handler)
			}
			// Checked now, so that a mistake fails Start rather than a background timer.
			if _, err := eventsource.ParseRate(ev.Expression); err != nil {
				return fmt.Errorf("%s event %s: %w", id, ev.Event, err)
			}
			src := &eventsource.Schedule{
				Expression: ev.Expression, Input: ev.Input, Handler: h,
				// SAM names the rule after the stack, the function and the event.
				Name:   s.stackName + "-" + id + ev.Event,
				Region: s.AWS.AWS.Region, Account: eventsource.DefaultAccount,
				FunctionName: id, Timeout: timeout, Log: log,
			}
			if _, ok := s.schedules[id]; !ok {
				s.schedules[id] = src
			}
			if ev.Enabled {
				start(id+"/"+ev.Event, src.Run)
			}
		}
	}
	return nil
}

// FireSchedule invokes a scheduled function now, with the event its first schedule (by event
// name) sends, and returns the invocation's error, whether or not the schedule is enabled.
func (s *Stack) FireSchedule(ctx context.Context, logicalID string) error {
	src, ok := s.schedules[logicalID]
	if !ok {
		return fmt.Errorf("%s is not a function with a schedule", logicalID)
	}
	return src.Fire(ctx, time.Now())
}

// Close stops the server, the event sources and the AWS services.
func (s *Stack) Close() {
	if s.stopWorkers != nil {
		s.stopWorkers()
		s.workers.Wait()
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.server.Shutdown(ctx)
	}
	if s.AWS != nil {
		_ = s.AWS.Close()
	}
}

// Command bench measures the product on one machine and prints a report (`make bench`);
// `-only` selects sections. The client, the API emulation, the handlers and the emulator
// share this process and its CPUs: latencies compare operations and revisions on one
// machine; they are not Lambda or DynamoDB service figures. Request counts are exact.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/rie"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

const (
	profiles  = 400 // seeded profiles
	batch     = 100 // checks per batch request: the API's maximum
	traceRuns = 3   // verified GODEBUG=inittrace=1 starts per binary
)

type config struct {
	requests, clients, warmup, coldRuns int
	outboxN, events                     int
	dsrPersons, dsrEvents, portalN      int
	mergeRuns                           int
	persistN, persistRounds             int
	importN                             int
}

// section is one part of the report: it measures and prints its figures to w.
type section struct {
	name, title string
	stack       bool // needs the running stack
	run         func(ctx context.Context, b *bench, w io.Writer) error
}

var sections = []section{
	{"api", "Brand API through the local stack (HTTP -> API Gateway emulation -> handlers -> emulator)", true, apiBench},
	{"throughput", "Consent checks/s through the stack beside raw BatchGetItem/s to the same emulator", true, throughput},
	{"sizes", "Function binaries, stripped, linux/arm64 (as deployed)", false, functionSizes},
	{"cold", "Cold start under aws-lambda-rie " + rie.Version + " (bootstraps for this host, production flags)", true, coldStarts},
	{"outbox", "Outbox cost on a consent write (app.Service.PutConsent -> dynamo.Store -> emulator, no HTTP)", true, outboxCost},
	{"events", "Events out (PUT consent -> outbox -> dispatcher -> SQS -> delivery worker -> receiver)", true, eventsOut},
	{"dsr", "Data-subject requests: export (access) and erasure", true, dsrBench},
	{"portal", "Portal pages: HTML bytes and render time per page", true, portalBench},
	{"merge", "Merges of two long histories (POST /v1/profiles/{id}/merges)", true, mergeBench},
	{"import", "Bulk import (presigned upload -> start -> ProcessImport streaming from S3 -> sync), and the same file again", true, importBench},
	{"persist", "Persistence: consent writes through a stack of its own with LP_DATA_DIR (make dev's journal)", false, persistBench},
}

func main() {
	var cfg config
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	only := flag.String("only", strings.Join(names, ","), "comma-separated sections to run")
	flag.IntVar(&cfg.requests, "n", 2000, "measured requests per operation (and per throughput variant)")
	flag.IntVar(&cfg.clients, "c", 8, "concurrent clients")
	flag.IntVar(&cfg.warmup, "warmup", 100, "unmeasured warm-up requests per operation (fill the warm-container caches)")
	flag.IntVar(&cfg.coldRuns, "cold-runs", 15, "timed cold starts per binary (median reported)")
	flag.IntVar(&cfg.outboxN, "outbox-n", 2000, "measured consent writes per outbox variant (with and without)")
	flag.IntVar(&cfg.events, "events", 1000, "consent changes whose webhook deliveries are awaited")
	flag.IntVar(&cfg.dsrPersons, "dsr-persons", 3, "persons exported and erased through the API")
	flag.IntVar(&cfg.dsrEvents, "dsr-events", 1000, "ledger events of each data-subject-request and portal person")
	flag.IntVar(&cfg.mergeRuns, "merge-runs", 5, "merges of two persons with -dsr-events ledger events each")
	flag.IntVar(&cfg.portalN, "portal-n", 200, "measured GETs per portal page (and as many direct handler calls)")
	flag.IntVar(&cfg.persistN, "persist-n", 10000, "consent writes per persistence round")
	flag.IntVar(&cfg.persistRounds, "persist-rounds", 10, "persistence rounds")
	flag.IntVar(&cfg.importN, "import-n", 1000000, "rows of the generated import file")
	flag.Parse()
	var err error
	if min(cfg.requests, cfg.clients, cfg.coldRuns, cfg.outboxN, cfg.events, cfg.dsrPersons, cfg.mergeRuns, cfg.portalN, cfg.persistN, cfg.persistRounds, cfg.importN) < 1 ||
		cfg.warmup < 0 || cfg.clients > profiles || cfg.dsrEvents < 100 {
		err = errors.New("counts must be at least 1 (-warmup 0), -c at most 400, -dsr-events at least 100")
	}
	selected := map[string]bool{}
	for s := range strings.SplitSeq(*only, ",") {
		if s = strings.TrimSpace(s); !slices.Contains(names, s) {
			err = fmt.Errorf("-only: unknown section %q", s)
		}
		selected[s] = true
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if failures := run(ctx, cfg, selected, os.Stdout); failures > 0 {
		os.Exit(1)
	}
}

// bench is what the sections share: the stack, its seeded data and its handlers' recorder.
type bench struct {
	cfg   config
	st    *localstack.Stack
	fix   *fixture
	rec   *recorder
	db    *dynamodb.Client
	quiet *app.Service // over a store that writes no outbox items
	c     *client      // to the stack's HTTP API
}

// run runs the selected sections, printing each as it completes, and returns how many failed.
func run(ctx context.Context, cfg config, selected map[string]bool, w io.Writer) (failures int) {
	start := time.Now()
	fmt.Fprint(w, header())
	var times []string
	timed := func(name string, f func() error) {
		t0 := time.Now()
		fmt.Fprintf(os.Stderr, "bench: %s ...\n", name)
		if err := f(); err != nil {
			failures++
			fmt.Fprintf(w, "   FAILED: %v\n\n", err)
		}
		times = append(times, fmt.Sprintf("%s %.1fs", name, time.Since(t0).Seconds()))
	}
	defer func() {
		fmt.Fprintf(w, "Time: %s; total %.1fs\n", strings.Join(times, "; "), time.Since(start).Seconds())
	}()
	b := &bench{cfg: cfg, rec: &recorder{handlers: map[string]any{}, events: map[string]events.APIGatewayV2HTTPRequest{}, runs: map[string]jobRun{}}}
	if slices.ContainsFunc(sections, func(s section) bool { return s.stack && selected[s.name] }) {
		timed("local stack and seed", func() error {
			return b.start(ctx, localstack.Options{
				Template: filepath.Join(localstack.RepoRoot(), "template.yaml"), StackName: fmt.Sprintf("bench%d", time.Now().UnixNano()%1e6),
				APIOptions: []func(*middleware.Stack) error{meterOption}, Wrap: b.rec.wrap,
			})
		})
		defer b.close()
	}
	n := 0
	for _, s := range sections {
		if !selected[s.name] || s.stack && b.fix == nil {
			continue
		}
		n++
		timed(s.name, func() error {
			fmt.Fprintf(w, "%d. %s\n", n, s.title)
			err := s.run(ctx, b, w)
			if err == nil {
				fmt.Fprintln(w)
			}
			return err
		})
	}
	return failures
}

// start starts a local stack and seeds the fixture.
func (b *bench) start(ctx context.Context, opts localstack.Options) (err error) {
	if b.st, err = localstack.Start(ctx, opts); err != nil {
		return fmt.Errorf("start local stack: %w", err)
	}
	b.db = dynamodb.NewFromConfig(b.st.AWS.AWS)
	// No outbox items for the bench's own writes: faster, and the stack's workers never see them.
	quiet := dynamo.New(b.db, b.st.Table)
	quiet.DisableOutbox()
	b.quiet = app.New(quiet, time.Now, time.Minute)
	tr := &http.Transport{MaxIdleConns: 4 * b.cfg.clients, MaxIdleConnsPerHost: 4 * b.cfg.clients, DisableCompression: true}
	b.c = &client{url: b.st.URL, Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	b.fix, err = seedFixture(ctx, dynamo.New(b.db, b.st.Table))
	return err
}

func (b *bench) close() {
	if b.st != nil {
		b.c.CloseIdleConnections()
		b.st.Close()
	}
}

// note prints one line of explanation, indented by three spaces.
func note(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "   "+format+"\n", a...)
}

// table prints rows (cells separated by tabs) aligned in columns, indented by three spaces.
func table(w io.Writer, rows ...string) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, "   "+r)
	}
	tw.Flush()
	for line := range strings.Lines(buf.String()) {
		fmt.Fprintln(w, strings.TrimRight(line, " \n"))
	}
}

// formatCounts formats counts per operation, sorted by name, each divided by n.
func formatCounts(m map[string]int, n int, prec int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.*f", k, prec, float64(m[k])/float64(n)))
	}
	return strings.Join(parts, ", ")
}

func total(m map[string]int) (t int) {
	for _, v := range m {
		t += v
	}
	return t
}

// header is the report's first lines: how it was started (without machine paths) and on what.
func header() string {
	kumo := "(unknown version)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/sivchari/kumo" {
				kumo = d.Version
			}
		}
	}
	return fmt.Sprintf("Living Profile benchmark\n  command   go run ./infra/cmd/bench %s\n  go        %s %s/%s, %d CPUs\n"+
		"  emulator  github.com/sivchari/kumo %s (embedded, in this process)\n  started   %s\n\n",
		strings.Join(os.Args[1:], " "), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), kumo,
		time.Now().UTC().Format(time.RFC3339))
}

// The measuring pieces the sections share: distributions, load loops and the SDK meters.

// dist is a distribution of durations in milliseconds.
type dist struct{ P50, P99, Mean, Min, Max float64 }

func distOf(ds []time.Duration) dist {
	if len(ds) == 0 {
		return dist{}
	}
	s := slices.Sorted(slices.Values(ds))
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	// nearest-rank percentile
	pct := func(p float64) time.Duration { return s[max(0, int(p*float64(len(s))+0.999999999)-1)] }
	return dist{P50: ms(pct(0.50)), P99: ms(pct(0.99)), Mean: ms(sum / time.Duration(len(s))), Min: ms(s[0]), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// spread is the median, minimum and maximum of a few values.
type spread struct{ Median, Min, Max float64 }

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	return spread{Median: (s[(n-1)/2] + s[n/2]) / 2, Min: s[0], Max: s[n-1]}
}

// loadResult is what one or more loads measured.
type loadResult struct {
	lat  []time.Duration
	wall time.Duration
	errs []error
}

// sum is the rounds of one variant as one result.
func sum(rounds []loadResult) (r loadResult) {
	for _, l := range rounds {
		r.lat, r.wall, r.errs = append(r.lat, l.lat...), r.wall+l.wall, append(r.errs, l.errs...)
	}
	return r
}

func (r loadResult) rate() float64 { return float64(len(r.lat)) / r.wall.Seconds() }

func (r loadResult) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d calls failed, first: %w", len(r.errs), len(r.lat), r.errs[0])
}

// load makes and times n calls of do from len(seq) concurrent workers. do gets its worker
// w and the worker's sequence number k, from seq[w], which later loads continue.
func load(n int, seq []int, do func(w, k int) error) loadResult {
	var issued atomic.Int64
	var wg sync.WaitGroup
	lat, errs := make([][]time.Duration, len(seq)), make([][]error, len(seq))
	t0 := time.Now()
	for w := range seq {
		wg.Go(func() {
			for issued.Add(1) <= int64(n) {
				t := time.Now()
				err := do(w, seq[w])
				lat[w], seq[w] = append(lat[w], time.Since(t)), seq[w]+1
				if err != nil {
					errs[w] = append(errs[w], err)
				}
			}
		})
	}
	wg.Wait()
	return loadResult{lat: slices.Concat(lat...), wall: time.Since(t0), errs: slices.Concat(errs...)}
}

// alternate measures two variants with f: warmup unmeasured calls of each, then rounds rounds in
// alternating order (AB, BA, ...) sharing n calls per variant; it returns each one's rounds.
func alternate(rounds, warmup, n int, f func(variant, n int, measured bool) (loadResult, error)) (out [2][]loadResult, err error) {
	for v := range 2 {
		if _, err := f(v, warmup, false); err != nil {
			return out, err
		}
	}
	for r := range rounds {
		share := (n + rounds - 1 - r) / rounds // n/rounds, and one more in the first n%rounds rounds
		for _, v := range []int{r % 2, 1 - r%2} {
			l, err := f(v, share, true)
			if err != nil {
				return out, err
			}
			out[v] = append(out[v], l)
		}
	}
	return out, nil
}

// poll calls done, then again every interval, until it reports true or fails, for at most bound.
func poll(ctx context.Context, interval, bound time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(bound)
	for {
		if ok, err := done(); ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %v", bound)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// meter accumulates AWS SDK calls per operation ("Service.Operation" unless DynamoDB), their
// HTTP requests (retries included), summed time and inputs: those with a context from its ctx
// method and, while it is the counting meter, every other DynamoDB call of the handlers.
type meter struct {
	mu              sync.Mutex
	calls, attempts map[string]int
	spent           time.Duration
	inputs          []any
}

type meterKey struct{}

func (m *meter) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// counting is the meter of the handlers' DynamoDB calls without one of their own, if any.
var counting atomic.Pointer[meter]

func counted(f func() error) (*meter, error) {
	m := &meter{}
	counting.Store(m)
	defer counting.Store(nil)
	return m, f()
}

func inputsOf[T any](inputs []any) []T {
	var out []T
	for _, in := range inputs {
		if t, ok := in.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// meterOption is the SDK API option that feeds the meters.
func meterOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchMeter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			t0 := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			m, ok := ctx.Value(meterKey{}).(*meter)
			op, svc := awsmiddleware.GetOperationName(ctx), awsmiddleware.GetServiceID(ctx)
			if !ok && svc == dynamodb.ServiceID {
				m = counting.Load()
			}
			if m == nil {
				return out, md, err
			}
			if svc != dynamodb.ServiceID {
				op = svc + "." + op
			}
			attempts := 1
			if r, ok := retry.GetAttemptResults(md); ok {
				attempts = len(r.Results)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.calls == nil {
				m.calls, m.attempts = map[string]int{}, map[string]int{}
			}
			m.calls[op]++
			m.attempts[op] += attempts
			m.spent += time.Since(t0)
			m.inputs = append(m.inputs, in.Parameters)
			return out, md, err
		}), middleware.Before)
}

// httpHandler and queueHandler are the handlers of an API route and of an SQS queue.
type (
	httpHandler  = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	queueHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
)

// jobRun is what the recorder saw of one request's job in the stack.
type jobRun struct {
	Start, End  time.Time // of the first invocation, of the last
	Invocations int
}

// recorder wraps the stack's handlers: it keeps them as built and the latest event of each API
// function, to call or start them with, and times the job workers per data-subject request
// (to tell a message's wait for its worker from the worker's own time).
type recorder struct {
	mu       sync.Mutex
	handlers map[string]any                            // logical id -> handler
	events   map[string]events.APIGatewayV2HTTPRequest // logical id -> latest event
	runs     map[string]jobRun                         // request id -> run
}

func (c *recorder) wrap(logicalID string, h any) any {
	c.handlers[logicalID] = h
	switch next := h.(type) {
	case httpHandler:
		return httpHandler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			c.mu.Lock()
			c.events[logicalID] = ev
			c.mu.Unlock()
			return next(ctx, ev)
		})
	case queueHandler:
		if logicalID == "ProcessImport" {
			return forwardImports(next)
		}
		if logicalID != "ProcessExport" && logicalID != "ProcessErasure" {
			return h
		}
		return queueHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			start := time.Now()
			resp, err := next(ctx, ev)
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, rec := range ev.Records {
				var m dsr.JobMessage
				if json.Unmarshal([]byte(rec.Body), &m) == nil {
					r := c.runs[m.RequestID]
					if r.Invocations == 0 {
						r.Start = start
					}
					r.End, r.Invocations = time.Now(), r.Invocations+1
					c.runs[m.RequestID] = r
				}
			}
			return resp, err
		})
	}
	return h
}

func (c *recorder) event(logicalID string) events.APIGatewayV2HTTPRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[logicalID]
}

func (c *recorder) run(requestID string) jobRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[requestID]
}

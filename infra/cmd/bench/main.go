// Command bench measures the product on one machine and prints a report (`make bench`):
// DynamoDB requests and latency per brand-API operation, consent checks/s beside raw
// BatchGetItem/s, the functions' linux/arm64 sizes against the 9 MiB budget, cold starts
// under aws-lambda-rie beside two baselines, the outbox's cost per write, events/s and
// delivery latency, export and erasure of a 1,000-event person, and the portal pages'
// bytes and render time. `-only` selects sections; `-h` lists the flags.
//
// The client, the API emulation, the handlers and the emulator share this process and its
// CPUs: latencies compare operations and revisions on one machine; they are not Lambda or
// DynamoDB service figures. Request counts per operation are exact.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/rie"
	"github.com/livingprofile/livingprofile/shared/app"
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
	flag.IntVar(&cfg.coldRuns, "cold-runs", 7, "timed cold starts per binary (median reported)")
	flag.IntVar(&cfg.outboxN, "outbox-n", 2000, "measured consent writes per outbox variant (with and without)")
	flag.IntVar(&cfg.events, "events", 1000, "consent changes whose webhook deliveries are awaited")
	flag.IntVar(&cfg.dsrPersons, "dsr-persons", 3, "persons exported and erased through the API, and as many by calling the job handlers")
	flag.IntVar(&cfg.dsrEvents, "dsr-events", 1000, "ledger events of each data-subject-request and portal person")
	flag.IntVar(&cfg.portalN, "portal-n", 200, "measured GETs per portal page (and as many direct handler calls)")
	flag.Parse()
	selected := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		selected[strings.TrimSpace(s)] = true
	}
	var err error
	if min(cfg.requests, cfg.clients, cfg.coldRuns, cfg.outboxN, cfg.events, cfg.dsrPersons, cfg.portalN) < 1 ||
		cfg.warmup < 0 || cfg.clients > profiles || cfg.dsrEvents < 100 {
		err = errors.New("counts must be at least 1 (-warmup 0), -c at most 400, -dsr-events at least 100")
	}
	for s := range selected {
		if !slices.ContainsFunc(sections, func(x section) bool { return x.name == s }) {
			err = fmt.Errorf("-only: unknown section %q", s)
		}
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

// bench is what the sections share: the running stack, its seeded data and the meters
// installed in its handlers.
type bench struct {
	cfg       config
	root      string
	stackName string
	st        *localstack.Stack
	fix       *fixture
	counter   *ddbCounter
	timer     *sdkTimer
	jobs      *jobClock
	db        *dynamodb.Client
	store     *dynamo.Store
	quiet     *app.Service // over a store that writes no outbox items (see quietService)
	c         *client      // to the stack's HTTP API
	// handlers are the stack's own handlers, by logical id, as built (before any wrapping),
	// for the sections that call them directly.
	handlers map[string]any
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
	b := &bench{cfg: cfg, root: localstack.RepoRoot(), counter: &ddbCounter{}, timer: &sdkTimer{}, jobs: &jobClock{}, handlers: map[string]any{}}
	if slices.ContainsFunc(sections, func(s section) bool { return s.stack && selected[s.name] }) {
		timed("local stack and seed", func() error {
			var err error
			b.stackName = fmt.Sprintf("bench%d", time.Now().UnixNano()%1e6)
			b.st, err = localstack.Start(ctx, localstack.Options{
				Template: filepath.Join(b.root, "template.yaml"), StackName: b.stackName,
				APIOptions: []func(*middleware.Stack) error{b.counter.apiOption, b.timer.apiOption},
				Wrap: func(logicalID string, h any) any {
					b.handlers[logicalID] = h
					return b.jobs.wrap(logicalID, h)
				},
			})
			if err != nil {
				return fmt.Errorf("start local stack: %w", err)
			}
			b.db = dynamodb.NewFromConfig(b.st.AWS.AWS)
			b.store, b.quiet = dynamo.New(b.db, b.st.Table), quietService(b.st)
			b.c = newClient(b.st.URL, 4*cfg.clients)
			b.fix, err = seedFixture(ctx, b.store)
			return err
		})
		if b.st != nil {
			defer b.st.Close()
			defer b.c.CloseIdleConnections()
		}
	}
	n := 0
	for _, s := range sections {
		if !selected[s.name] || s.stack && b.fix == nil {
			continue
		}
		n++
		timed(s.name, func() error {
			fmt.Fprintf(w, "%d. %s\n", n, s.title)
			var buf bytes.Buffer
			err := s.run(ctx, b, &buf)
			w.Write(buf.Bytes())
			if err == nil {
				fmt.Fprintln(w)
			}
			return err
		})
	}
	return failures
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
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if _, v, ok := strings.Cut(string(b), "model name"); ok {
			v, _, _ = strings.Cut(v, "\n")
			cpu = ", " + strings.TrimSpace(strings.TrimLeft(v, "\t :"))
		}
	}
	return fmt.Sprintf("Living Profile benchmark\n  command   go run ./infra/cmd/bench %s\n  go        %s %s/%s, %d CPUs%s\n"+
		"  emulator  github.com/sivchari/kumo %s (embedded, in this process)\n  started   %s\n\n",
		strings.Join(os.Args[1:], " "), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, kumo,
		time.Now().UTC().Format(time.RFC3339))
}

// Command bench measures the product on one machine and prints a report (`make bench`):
//
//  1. api: every hot brand-API operation through the local stack's HTTP API (embedded AWS
//     emulator, API Gateway emulation, the real handlers): DynamoDB requests per operation
//     by operation name, consumed capacity where the endpoint reports it, p50/p99 latency
//     and throughput;
//  2. throughput: consent checks/s through the HTTP API beside raw BatchGetItem/s (the
//     checks' own requests, replayed) from as many clients straight to the emulator;
//  3. sizes: the stripped linux/arm64 size of every function of template.yaml (production
//     flags) against the 9 MiB budget;
//  4. cold: cold starts under aws-lambda-rie of GetProfile, CheckConsent, PortalOverview and
//     ProcessExport beside a same-job baseline (aws-lambda-go, the DynamoDB client, one
//     GetItem) and hello-world, with GODEBUG=inittrace=1 totals;
//  5. outbox: what the outbox item costs a consent write (app.Service.PutConsent over a
//     dynamo.Store with and without DisableOutbox, in alternating rounds);
//  6. events: consent changes through the HTTP API until a verifying loopback webhook
//     receiver has every event: events/s and delivery latency;
//  7. dsr: access (export ZIP, its download) and erasure of persons with 1,000 ledger
//     events, through the HTTP API and the stack's workers, and the job handlers called
//     directly;
//  8. portal: the hosted portal's pages: HTML bytes and latency through the stack, and the
//     page handlers called directly.
//
// Usage:
//
//	go run ./infra/cmd/bench [-only api,cold,...] [-n 2000] [-c 8] [-json report.json] ...
//
// The client, the API emulation, the handlers and the emulator share this process and its
// CPUs: latencies compare operations and revisions on one machine; they are not Lambda or
// DynamoDB service figures. Request counts per operation are exact.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
)

// progress receives progress lines; the report itself goes to stdout.
var progress io.Writer = os.Stderr

// sections are the report's sections in the order they print.
var sections = []string{"api", "throughput", "sizes", "cold", "outbox", "events", "dsr", "portal"}

type config struct {
	only                                       map[string]bool
	requests, clients, warmup, profiles, batch int
	coldRuns, traceRuns                        int
	rieDir, jsonPath                           string
	capacity                                   bool
	outboxN, outboxRounds, events              int
	eventsTimeout                              time.Duration
	dsrPersons, dsrEvents, portalN             int
}

// report is everything the bench measured; -json writes it as JSON.
type report struct {
	Command      string             `json:"command"`
	GoVersion    string             `json:"goVersion"`
	Platform     string             `json:"platform"`
	NumCPU       int                `json:"numCPU"`
	CPUModel     string             `json:"cpuModel,omitempty"`
	Emulator     string             `json:"emulator"`
	Started      time.Time          `json:"started"`
	API          []opResult         `json:"api,omitempty"`
	CapacityNote string             `json:"capacityNote,omitempty"`
	Throughput   *throughputReport  `json:"consentThroughput,omitempty"`
	Sizes        []sizeResult       `json:"functionSizesArm64,omitempty"`
	Cold         *coldReport        `json:"coldStart,omitempty"`
	Outbox       *outboxReport      `json:"outboxCost,omitempty"`
	Events       *eventsReport      `json:"eventsOut,omitempty"`
	DSR          *dsrReport         `json:"dataSubjectRequests,omitempty"`
	Portal       *portalReport      `json:"portalPages,omitempty"`
	PhaseSeconds map[string]float64 `json:"phaseSeconds"`
	phases       []string           // PhaseSeconds' keys in the order the phases ran
	TotalSeconds float64            `json:"totalSeconds"`
	Failures     []string           `json:"failures,omitempty"`
}

func main() {
	var cfg config
	only := flag.String("only", strings.Join(sections, ","), "comma-separated sections to run")
	flag.IntVar(&cfg.requests, "n", 2000, "measured requests per operation (and per throughput variant)")
	flag.IntVar(&cfg.clients, "c", 8, "concurrent clients")
	flag.IntVar(&cfg.warmup, "warmup", 100, "unmeasured warm-up requests per operation (fill the warm-container caches)")
	flag.IntVar(&cfg.profiles, "profiles", 400, "profiles to seed (at least -batch and -c)")
	flag.IntVar(&cfg.batch, "batch", 100, "checks per batch request (1-100)")
	flag.IntVar(&cfg.coldRuns, "cold-runs", 7, "timed cold starts per binary (median reported)")
	flag.IntVar(&cfg.traceRuns, "trace-runs", 3, "verified GODEBUG=inittrace=1 starts per binary (median reported)")
	flag.StringVar(&cfg.rieDir, "rie-dir", "", "where to build and cache aws-lambda-rie (default: the user cache directory)")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the report as JSON to this file")
	flag.BoolVar(&cfg.capacity, "capacity", true, "ask DynamoDB for ReturnConsumedCapacity=TOTAL on the handlers' calls")
	flag.IntVar(&cfg.outboxN, "outbox-n", 2000, "measured consent writes per outbox variant (with and without)")
	flag.IntVar(&cfg.outboxRounds, "outbox-rounds", 20, "alternating rounds the outbox writes are split into")
	flag.IntVar(&cfg.events, "events", 1000, "consent changes whose webhook deliveries are awaited")
	flag.DurationVar(&cfg.eventsTimeout, "events-timeout", 120*time.Second, "longest wait for the deliveries after the last change")
	flag.IntVar(&cfg.dsrPersons, "dsr-persons", 3, "persons exported and erased through the API, and as many by calling the job handlers")
	flag.IntVar(&cfg.dsrEvents, "dsr-events", 1000, "ledger events of each data-subject-request and portal person")
	flag.IntVar(&cfg.portalN, "portal-n", 200, "measured GETs per portal page (and as many direct handler calls)")
	flag.Parse()
	if err := cfg.validate(*only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	rep := run(ctx, cfg)
	printReport(os.Stdout, rep, cfg)
	if cfg.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: write JSON:", err)
			os.Exit(1)
		}
	}
	if len(rep.Failures) > 0 {
		os.Exit(1)
	}
}

func (c *config) validate(only string) error {
	c.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); !slices.Contains(sections, s) {
			return fmt.Errorf("-only: unknown section %q (sections: %s)", s, strings.Join(sections, ", "))
		}
		c.only[s] = true
	}
	switch {
	case c.requests < 1 || c.clients < 1 || c.warmup < 0:
		return errors.New("-n and -c must be at least 1, -warmup at least 0")
	case c.batch < 1 || c.batch > 100:
		return errors.New("-batch must be 1 to 100")
	case c.profiles < c.batch || c.profiles < c.clients || c.profiles < 16:
		return fmt.Errorf("-profiles must be at least 16, -batch (%d) and -c (%d)", c.batch, c.clients)
	case c.coldRuns < 1 || c.traceRuns < 1:
		return errors.New("-cold-runs and -trace-runs must be at least 1")
	case c.outboxRounds < 1 || c.outboxN < c.outboxRounds:
		return errors.New("-outbox-rounds must be at least 1 and -outbox-n at least -outbox-rounds")
	case c.events < 1 || c.eventsTimeout <= 0:
		return errors.New("-events must be at least 1 and -events-timeout positive")
	case c.dsrPersons < 1 || c.dsrEvents < 100 || c.portalN < 1:
		return errors.New("-dsr-persons and -portal-n must be at least 1, -dsr-events at least 100")
	}
	if c.rieDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		c.rieDir = filepath.Join(dir, "livingprofile", "aws-lambda-rie")
	}
	return nil
}

// bench is what the phases share: the running stack, its seeded data and the meters
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
	// handlers are the stack's own handlers, by logical id, as built (before any wrapping),
	// for the sections that call them directly.
	handlers map[string]any
}

func run(ctx context.Context, cfg config) *report {
	start := time.Now()
	rep := &report{
		Command: command(), GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		NumCPU: runtime.NumCPU(), CPUModel: cpuModel(), Started: start.UTC().Truncate(time.Second),
		Emulator:     "github.com/sivchari/kumo " + moduleVersion("github.com/sivchari/kumo"),
		PhaseSeconds: map[string]float64{},
	}
	defer func() { rep.TotalSeconds = time.Since(start).Seconds() }()
	phase := func(name string, f func() error) {
		t0 := time.Now()
		fmt.Fprintf(progress, "bench: %s ...\n", name)
		if err := f(); err != nil {
			rep.Failures = append(rep.Failures, name+": "+err.Error())
			fmt.Fprintf(progress, "bench: %s failed: %v\n", name, err)
		}
		rep.PhaseSeconds[name] = time.Since(t0).Seconds()
		rep.phases = append(rep.phases, name)
	}
	b := &bench{cfg: cfg, counter: newDDBCounter(cfg.capacity), timer: &sdkTimer{}, jobs: newJobClock(), handlers: map[string]any{}}
	var err error
	phase("setup", func() error {
		b.root, err = moduleRoot(ctx)
		return err
	})
	if b.root == "" {
		return rep
	}
	needStack := slices.ContainsFunc(sections, func(s string) bool { return s != "sizes" && cfg.only[s] })
	if needStack {
		b.stackName = fmt.Sprintf("bench%d", time.Now().UnixNano()%1e6)
		phase("start local stack and seed", func() error {
			b.st, err = localstack.Start(ctx, localstack.Options{
				Template: filepath.Join(b.root, "template.yaml"), StackName: b.stackName,
				APIOptions: []func(*middleware.Stack) error{b.counter.apiOption, b.timer.apiOption},
				Wrap:       b.wrap,
			})
			if err != nil {
				return fmt.Errorf("start local stack: %w", err)
			}
			b.fix, err = seedFixture(ctx, b.st, cfg.profiles)
			return err
		})
		if b.st != nil {
			defer b.st.Close()
		}
	}
	stackPhase := func(section, name string, f func() error) {
		if cfg.only[section] && b.fix != nil {
			phase(name, f)
		}
	}
	stackPhase("api", "API operations", func() error {
		rep.API, err = apiBench(ctx, b)
		rep.CapacityNote = capacityNote(rep, cfg)
		return err
	})
	stackPhase("throughput", "consent throughput", func() error { rep.Throughput, err = throughput(ctx, b); return err })
	stackPhase("outbox", "outbox cost on a write", func() error { rep.Outbox, err = outboxCost(ctx, b); return err })
	stackPhase("events", "events out", func() error { rep.Events, err = eventsOut(ctx, b); return err })
	stackPhase("dsr", "data-subject requests", func() error { rep.DSR, err = dsrBench(ctx, b); return err })
	stackPhase("portal", "portal pages", func() error { rep.Portal, err = portalBench(ctx, b); return err })
	stackPhase("cold", "cold starts", func() error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		rep.Cold, err = coldStarts(cctx, b)
		return err
	})
	if b.st != nil {
		b.st.Close()
	}
	if cfg.only["sizes"] {
		phase("arm64 function sizes", func() error { rep.Sizes, err = functionSizes(ctx, b.root); return err })
	}
	return rep
}

// wrap is the stack's Options.Wrap: it keeps every handler for the direct calls and puts
// the job clock around the stack's job workers.
func (b *bench) wrap(logicalID string, h any) any {
	b.handlers[logicalID] = h
	return b.jobs.wrap(logicalID, h)
}

func printReport(w io.Writer, rep *report, cfg config) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("Living Profile benchmark\n  command   %s\n  go        %s %s, %d CPUs", rep.Command, rep.GoVersion, rep.Platform, rep.NumCPU)
	if rep.CPUModel != "" {
		p(", %s", rep.CPUModel)
	}
	p("\n  emulator  %s (embedded, in this process)\n  started   %s\n\n", rep.Emulator, rep.Started.Format(time.RFC3339))
	if len(rep.API) > 0 {
		printAPI(w, rep, cfg)
	}
	if rep.Throughput != nil {
		printThroughput(w, rep.Throughput)
	}
	if len(rep.Sizes) > 0 {
		printSizes(w, rep.Sizes)
	}
	if rep.Cold != nil {
		printCold(w, rep.Cold)
	}
	if rep.Outbox != nil {
		printOutbox(w, rep.Outbox)
	}
	if rep.Events != nil {
		printEvents(w, rep.Events)
	}
	if rep.DSR != nil {
		printDSR(w, rep.DSR)
	}
	if rep.Portal != nil {
		printPortal(w, rep.Portal)
	}
	p("Time:")
	for _, ph := range rep.phases {
		p(" %s %.1fs;", ph, rep.PhaseSeconds[ph])
	}
	p(" total %.1fs\n", rep.TotalSeconds)
	if len(rep.Failures) > 0 {
		p("\nFAILED:\n")
		for _, f := range rep.Failures {
			p("  - %s\n", f)
		}
	}
}

// para prints text wrapped at 100 columns, indented by three spaces.
func para(w io.Writer, format string, a ...any) {
	var lines []string
	line := "  "
	for _, word := range strings.Fields(fmt.Sprintf(format, a...)) {
		if len(line)+1+len(word) > 100 && len(line) > 3 {
			lines = append(lines, line)
			line = "  "
		}
		line += " " + word
	}
	fmt.Fprintln(w, strings.Join(append(lines, line), "\n"))
}

// formatCounts formats counts per operation, sorted by name.
func formatCounts[V int | int64 | float64](m map[string]V, prec int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.*f", k, prec, float64(m[k])))
	}
	return strings.Join(parts, ", ")
}

// command is how this run was started, without machine paths: "go run ./infra/cmd/bench"
// when started by go run, else the binary's name, followed by the arguments.
func command() string {
	name := filepath.Base(os.Args[0])
	if strings.Contains(os.Args[0], "go-build") {
		name = "go run ./infra/cmd/bench"
	}
	parts := []string{name}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t\"'$\\") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the bench inside the module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// goTool is the go command: GOROOT/bin/go when GOROOT is set (go run sets it), else "go".
func goTool() string {
	if r := os.Getenv("GOROOT"); r != "" {
		if p := filepath.Join(r, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return cmp.Or(d.Version, "(devel)")
			}
		}
	}
	return "(unknown version)"
}

// cpuModel is the CPU's model name on Linux, or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Command bench measures the product on one machine and prints a report (`make bench`):
//
//  1. every hot brand-API operation through the local stack's HTTP API (embedded AWS
//     emulator, API Gateway emulation, the real handlers): DynamoDB requests per operation
//     by operation name (counted by an SDK middleware in the handlers' clients), consumed
//     capacity where the endpoint reports it, p50/p99 latency and throughput;
//  2. the stripped linux/arm64 size of every function binary of template.yaml, built with
//     the production flags;
//  3. the cold start of a real function (GetProfile) under aws-lambda-rie beside the
//     hello-world aws-lambda-go baseline, measured in the same run;
//  4. what the outbox item costs a consent write: app.Service.PutConsent over a dynamo.Store
//     with and without DisableOutbox, in alternating rounds: latency and items per
//     TransactWriteItems;
//  5. events out through the local stack: consent changes through the HTTP API until a
//     verifying loopback webhook receiver has every event: end-to-end events/s and delivery
//     latency;
//  6. data-subject requests of a person with 1,000 ledger events: access (export ZIP, its
//     download) and erasure through the HTTP API and the stack's job workers, and the job
//     handlers called directly, without the queue;
//  7. the hosted portal's pages: HTML bytes (plain and gzipped) and latency through the
//     local stack, and the page handlers called directly.
//
// Usage:
//
//	go run ./infra/cmd/bench [-n 2000] [-c 8] [-cold-runs 5] [-outbox-n 2000] [-events 1000]
//	    [-dsr-persons 3] [-dsr-events 1000] [-portal-n 200] [-json report.json]
//
// The client, the API emulation, the handlers and the emulator all share this process and
// its CPUs: latencies and throughput compare operations and revisions on one machine; they
// are not Lambda or DynamoDB service figures. Request counts per operation are exact.
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
	"text/tabwriter"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
)

// progress receives progress lines; the report itself goes to stdout.
var progress io.Writer = os.Stderr

type config struct {
	requests, clients, warmup, profiles, batch int
	coldRuns                                   int
	rieDir, jsonPath                           string
	capacity                                   bool
	skipAPI, skipSizes, skipCold               bool
	outboxN, outboxRounds, events              int
	eventsTimeout                              time.Duration
	skipOutbox, skipEvents                     bool
	dsrPersons, dsrEvents, portalN             int
	skipDSR, skipPortal                        bool
}

// report is everything the bench measured; -json writes it as JSON.
type report struct {
	Command      string             `json:"command"`
	GoVersion    string             `json:"goVersion"`
	GOOS         string             `json:"goos"`
	GOARCH       string             `json:"goarch"`
	NumCPU       int                `json:"numCPU"`
	GOMAXPROCS   int                `json:"gomaxprocs"`
	CPUModel     string             `json:"cpuModel,omitempty"`
	Emulator     string             `json:"emulator"`
	Started      time.Time          `json:"started"`
	Settings     map[string]int     `json:"settings"`
	API          []opResult         `json:"api,omitempty"`
	CapacityNote string             `json:"capacityNote,omitempty"`
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
	flag.IntVar(&cfg.requests, "n", 2000, "measured requests per operation")
	flag.IntVar(&cfg.clients, "c", 8, "concurrent clients")
	flag.IntVar(&cfg.warmup, "warmup", 100, "unmeasured warm-up requests per operation (fill the warm-container caches)")
	flag.IntVar(&cfg.profiles, "profiles", 400, "profiles to seed (at least -batch and -c)")
	flag.IntVar(&cfg.batch, "batch", 100, "checks per batch request (1-100)")
	flag.IntVar(&cfg.coldRuns, "cold-runs", 5, "cold starts per binary (median reported)")
	flag.StringVar(&cfg.rieDir, "rie-dir", "", "where to build and cache aws-lambda-rie (default: the user cache directory)")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the report as JSON to this file")
	flag.BoolVar(&cfg.capacity, "capacity", true, "ask DynamoDB for ReturnConsumedCapacity=TOTAL on the handlers' calls")
	flag.BoolVar(&cfg.skipAPI, "skip-api", false, "skip the API measurements")
	flag.BoolVar(&cfg.skipSizes, "skip-sizes", false, "skip the arm64 binary sizes")
	flag.BoolVar(&cfg.skipCold, "skip-cold", false, "skip the cold starts")
	flag.IntVar(&cfg.outboxN, "outbox-n", 2000, "measured consent writes per outbox variant (with and without)")
	flag.IntVar(&cfg.outboxRounds, "outbox-rounds", 20, "alternating rounds the outbox writes are split into")
	flag.IntVar(&cfg.events, "events", 1000, "consent changes whose webhook deliveries are awaited")
	flag.DurationVar(&cfg.eventsTimeout, "events-timeout", 120*time.Second, "longest wait for the deliveries after the last change")
	flag.BoolVar(&cfg.skipOutbox, "skip-outbox", false, "skip the outbox cost")
	flag.BoolVar(&cfg.skipEvents, "skip-events", false, "skip the events-out measurement")
	flag.IntVar(&cfg.dsrPersons, "dsr-persons", 3, "persons exported and erased through the API, and as many by calling the job handlers")
	flag.IntVar(&cfg.dsrEvents, "dsr-events", 1000, "ledger events of each data-subject-request and portal person")
	flag.IntVar(&cfg.portalN, "portal-n", 200, "measured GETs per portal page (and as many direct handler calls)")
	flag.BoolVar(&cfg.skipDSR, "skip-dsr", false, "skip the data-subject requests")
	flag.BoolVar(&cfg.skipPortal, "skip-portal", false, "skip the portal pages")
	flag.Parse()
	if err := cfg.validate(); err != nil {
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

func (c *config) validate() error {
	switch {
	case c.requests < 1 || c.clients < 1 || c.warmup < 0:
		return errors.New("-n and -c must be at least 1, -warmup at least 0")
	case c.batch < 1 || c.batch > 100:
		return errors.New("-batch must be 1 to 100")
	case c.profiles < c.batch || c.profiles < c.clients:
		return fmt.Errorf("-profiles must be at least -batch (%d) and -c (%d)", c.batch, c.clients)
	case c.coldRuns < 1:
		return errors.New("-cold-runs must be at least 1")
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

func run(ctx context.Context, cfg config) *report {
	start := time.Now()
	rep := &report{
		Command: command(), GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		Emulator: "github.com/sivchari/kumo " + moduleVersion("github.com/sivchari/kumo"),
		Started:  start.UTC().Truncate(time.Second),
		Settings: map[string]int{
			"requestsPerOperation": cfg.requests, "clients": cfg.clients, "warmupPerOperation": cfg.warmup,
			"profiles": cfg.profiles, "batch": cfg.batch, "coldRuns": cfg.coldRuns,
			"outboxWritesPerVariant": cfg.outboxN, "outboxRounds": cfg.outboxRounds,
			"eventChanges": cfg.events, "eventsTimeoutSeconds": int(cfg.eventsTimeout / time.Second),
			"dsrPersonsPerPath": cfg.dsrPersons, "dsrLedgerEvents": cfg.dsrEvents, "portalRequestsPerPage": cfg.portalN,
		},
		PhaseSeconds: map[string]float64{},
	}
	defer func() { rep.TotalSeconds = time.Since(start).Seconds() }()
	fail := func(phase string, err error) {
		rep.Failures = append(rep.Failures, phase+": "+err.Error())
		fmt.Fprintf(progress, "bench: %s failed: %v\n", phase, err)
	}
	phase := func(name string, f func() error) {
		t0 := time.Now()
		fmt.Fprintf(progress, "bench: %s ...\n", name)
		if err := f(); err != nil {
			fail(name, err)
		}
		rep.PhaseSeconds[name] = time.Since(t0).Seconds()
		rep.phases = append(rep.phases, name)
	}

	root, err := moduleRoot(ctx)
	if err != nil {
		fail("setup", err)
		return rep
	}

	if !cfg.skipAPI || !cfg.skipCold || !cfg.skipOutbox || !cfg.skipEvents || !cfg.skipDSR || !cfg.skipPortal {
		counter := newDDBCounter(cfg.capacity)
		jobs := newJobClock()
		stackName := fmt.Sprintf("bench%d", time.Now().UnixNano()%1e6)
		var st *localstack.Stack
		var fix *fixture
		phase("start local stack and seed", func() error {
			st, err = localstack.Start(ctx, localstack.Options{
				Template:   filepath.Join(root, "template.yaml"),
				StackName:  stackName,
				APIOptions: []func(*middleware.Stack) error{counter.apiOption},
				// Times the stack's export and erasure workers per request (section 6).
				Wrap: jobs.wrap,
			})
			if err != nil {
				return fmt.Errorf("start local stack: %w", err)
			}
			fix, err = seedFixture(ctx, st, cfg.profiles)
			return err
		})
		if st != nil {
			defer st.Close()
		}
		if fix != nil && !cfg.skipAPI {
			phase("API operations", func() error {
				rep.API, err = apiBench(ctx, cfg, counter, st, fix)
				if err != nil {
					return err
				}
				for _, r := range rep.API {
					if r.Errors > 0 {
						return fmt.Errorf("%s: %d failed requests, first: %s", r.Name, r.Errors, r.Error)
					}
				}
				return nil
			})
			rep.CapacityNote = capacityNote(rep, cfg)
		}
		if fix != nil && !cfg.skipOutbox {
			phase("outbox cost on a write", func() error {
				rep.Outbox, err = outboxCost(ctx, cfg, st, fix)
				return err
			})
		}
		if fix != nil && !cfg.skipEvents {
			phase("events out", func() error {
				rep.Events, err = eventsOut(ctx, cfg, st, fix)
				return err
			})
		}
		if fix != nil && !cfg.skipDSR {
			phase("data-subject requests", func() error {
				rep.DSR, err = dsrBench(ctx, cfg, st, stackName, jobs, fix)
				return err
			})
		}
		if fix != nil && !cfg.skipPortal {
			phase("portal pages", func() error {
				rep.Portal, err = portalBench(ctx, cfg, st, stackName, fix)
				return err
			})
		}
		if fix != nil && !cfg.skipCold {
			phase("cold starts", func() error {
				cctx, cancel := context.WithTimeout(ctx, coldTimeout)
				defer cancel()
				rep.Cold, err = coldStarts(cctx, cfg, st, fix)
				return err
			})
		}
		if st != nil {
			st.Close()
		}
	}
	if !cfg.skipSizes {
		phase("arm64 function sizes", func() error {
			rep.Sizes, err = functionSizes(ctx, root)
			return err
		})
	}
	return rep
}

// capacityNote explains the consumed-capacity column.
func capacityNote(rep *report, cfg config) string {
	var responses, reported int64
	for _, r := range rep.API {
		responses += r.CapacityResponses
		reported += r.CapacityReported
	}
	switch {
	case !cfg.capacity:
		return "not requested (-capacity=false)."
	case reported == 0:
		return fmt.Sprintf("not reported by the emulator: ReturnConsumedCapacity=TOTAL was added to all %d DynamoDB "+
			"calls of the measured phases and none of the answers carried ConsumedCapacity (%s parses the "+
			"parameter but does not compute capacity). Derive units from the request counts and item sizes "+
			"instead.", responses, rep.Emulator)
	case reported < responses:
		return fmt.Sprintf("reported for %d of %d DynamoDB answers; the figures are sums of what was reported.", reported, responses)
	}
	return fmt.Sprintf("reported by the endpoint for all %d DynamoDB answers (ReturnConsumedCapacity=TOTAL).", responses)
}

func printReport(w io.Writer, rep *report, cfg config) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("Living Profile benchmark\n")
	p("  command   %s\n", rep.Command)
	p("  go        %s %s/%s, %d CPUs (GOMAXPROCS %d)", rep.GoVersion, rep.GOOS, rep.GOARCH, rep.NumCPU, rep.GOMAXPROCS)
	if rep.CPUModel != "" {
		p(", %s", rep.CPUModel)
	}
	p("\n  emulator  %s (embedded, in this process)\n", rep.Emulator)
	p("  started   %s\n\n", rep.Started.Format(time.RFC3339))

	if len(rep.API) > 0 {
		p("1. Brand API through the local stack (HTTP -> API Gateway emulation -> handlers -> emulator)\n")
		p("   %d measured requests per operation from %d concurrent clients, after %d warm-up requests\n",
			cfg.requests, cfg.clients, cfg.warmup)
		p("   (warm containers: catalog and API-key caches filled, as in steady state); %d seeded profiles,\n", cfg.profiles)
		p("   half with marketing consent granted; every answer is checked against the seeded state.\n\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "   operation\tp50 ms\tp99 ms\tops/s\terrors\tDynamoDB requests per operation")
		for _, r := range rep.API {
			ddb := formatCounts(r.DynamoDB)
			if r.Checks > 1 {
				ddb += fmt.Sprintf("  (%.4f per check)", total(r.DynamoDB)/float64(r.Checks))
			}
			if retries := total(r.DynamoDB) - total(r.DynamoDBCalls); retries > 0 {
				ddb += fmt.Sprintf("  incl. %.3f retries", retries)
			}
			fmt.Fprintf(tw, "   %s\t%.2f\t%.2f\t%.0f\t%d\t%s\n", r.Name, r.P50Ms, r.P99Ms, r.OpsPerS, r.Errors, ddb)
		}
		tw.Flush()
		p("\n%s\n", wrap("Consumed capacity: "+rep.CapacityNote, "   ", 100))
		for _, r := range rep.API {
			if r.ReadUnits != nil {
				p("     %-44s %.2f RCU + %.2f WCU per operation\n", r.Name, *r.ReadUnits, *r.WriteUnits)
			}
		}
		p("%s\n", wrap("Per-tenant reads every request needs are amortised by the warm-container caches "+
			"(API Gateway's authorizer result cache, the authorizer's key cache, the catalog cache); when one "+
			"expires during a measured phase its read shows as a fraction of a request per operation.", "   ", 100))
		p("%s\n\n", wrap(fmt.Sprintf("Latency and ops/s include the HTTP client, the API Gateway emulation and the "+
			"emulator, all in this process on %d CPUs: compare them between operations and revisions, not with "+
			"AWS figures.", rep.NumCPU), "   ", 100))
	}

	if len(rep.Sizes) > 0 {
		p("2. Function binaries, stripped, linux/arm64 (as deployed)\n")
		p("   %s\n\n", sizeCommand)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "   function\tdirectory\tbytes\tMiB")
		var sum int64
		for _, s := range rep.Sizes {
			fmt.Fprintf(tw, "   %s\t%s\t%d\t%.2f\n", s.LogicalID, s.Dir, s.Bytes, s.MiB)
			sum += s.Bytes
		}
		fmt.Fprintf(tw, "   total (%d functions)\t\t%d\t%.2f\n", len(rep.Sizes), sum, float64(sum)/(1<<20))
		tw.Flush()
		if same := slices.IndexFunc(rep.Sizes, func(s sizeResult) bool { return s.Bytes != rep.Sizes[0].Bytes }) < 0; same && len(rep.Sizes) > 1 {
			p("%s\n", wrap(fmt.Sprintf("All %d binaries have the same size: each main only calls wire.Main(<LogicalId>), "+
				"so every binary links every function's handler.", len(rep.Sizes)), "   ", 100))
		}
		p("\n")
	}

	if rep.Cold != nil {
		c := rep.Cold
		p("3. Cold start under aws-lambda-rie %s (linux/%s bootstraps for this host, production flags)\n", c.RIEVersion, c.GOARCH)
		p("%s\n\n", wrap(fmt.Sprintf("From starting the emulator to the first complete answer; %d cold starts of each "+
			"binary, alternating. %s reads a seeded profile from the embedded emulator (AWS_ENDPOINT_URL), so its "+
			"figure includes the SDK's initialisation and a real GetItem over loopback.", c.Runs, coldFunction), "   ", 100))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "   binary\tbytes\tmedian ms\tmin ms\tmax ms\truns ms\tfirst answer (verified)")
		for _, r := range c.Results {
			runs := make([]string, len(r.RunsMs))
			for i, v := range r.RunsMs {
				runs[i] = fmt.Sprintf("%.1f", v)
			}
			fmt.Fprintf(tw, "   %s\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\n", r.Name, r.Bytes, r.MedianMs, r.MinMs, r.MaxMs, strings.Join(runs, " "), r.Answer)
		}
		tw.Flush()
		p("   %s costs %+.1f ms over the baseline (median).\n\n", coldFunction, c.DeltaMedianMs)
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

// wrap breaks text into lines of at most width columns, each starting with indent.
func wrap(text, indent string, width int) string {
	var lines []string
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	return strings.Join(append(lines, line), "\n")
}

func formatCounts(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func total(m map[string]float64) float64 {
	var t float64
	for _, v := range m {
		t += v
	}
	return t
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

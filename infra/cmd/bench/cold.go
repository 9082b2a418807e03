package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/rie"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/dsr"
)

// Sections 3 and 4: the deployed binaries' sizes and cold starts.

const (
	sizeBudget = 9 << 20 // the most a function's stripped linux/arm64 binary may weigh
	// Goals of a real function's median cold start against the baselines' (not asserted).
	goalVsBaseline, goalVsHello = 1.25, 1.5
	baselinePkg, helloPkg       = "infra/cmd/bench/testdata/ddbget", "infra/rie/testdata/hello"
)

// functionDir maps a template logical id to its directory: CreatePortalLink ->
// functions/create-portal-link.
func functionDir(logicalID string) string {
	return "functions/" + strings.ToLower(wordStart.ReplaceAllString(logicalID, "-$0"))
}

var wordStart = regexp.MustCompile(`\B[A-Z]`)

// functionSizes builds every function and both baselines as deployed, in one go build (each
// package compiled once).
func functionSizes(ctx context.Context, b *bench, w io.Writer) error {
	root := localstack.RepoRoot()
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lp-bench-sizes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var names, dirs []string
	for _, fn := range tpl.Functions {
		names, dirs = append(names, fn.LogicalID), append(dirs, functionDir(fn.LogicalID))
	}
	names, dirs = append(names, "(same-job baseline)", "(hello-world)"), append(dirs, baselinePkg, helloPkg)
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, d := range dirs {
		args = append(args, "./"+d)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build (linux/arm64): %w\n%s", err, out)
	}
	note(w, "GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags=\"-s -w\"; budget %d bytes (9 MiB)\n", sizeBudget)
	rows := []string{"function\tdirectory\tbytes\tMiB\tbudget"}
	var sum int64
	var over int
	for i, name := range names {
		// go build -o <dir>/ names each binary after the last element of its import path.
		fi, err := os.Stat(filepath.Join(dir, filepath.Base(dirs[i])))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		mark := "ok"
		if fi.Size() > sizeBudget {
			mark = fmt.Sprintf("OVER by %d", fi.Size()-sizeBudget)
		}
		if i < len(tpl.Functions) {
			sum += fi.Size()
			over += int(fi.Size()) / (sizeBudget + 1)
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%d\t%.2f\t%s", name, dirs[i], fi.Size(), float64(fi.Size())/(1<<20), mark))
	}
	table(w, append(rows, fmt.Sprintf("total (%d functions)\t\t%d\t%.2f\t%d over budget", len(tpl.Functions), sum, float64(sum)/(1<<20), over))...)
	return nil
}

// initTrace sums GODEBUG=inittrace=1's lines of one process start.
type initTrace struct {
	Packages      int
	ClockMs       float64
	Bytes, Allocs int64
	WarmMs        float64 // a second invocation of the same instance
}

func parseInitTrace(logs string) (t initTrace) {
	for line := range strings.Lines(logs) {
		var pkg string
		var start, clock float64
		var bytes, allocs int64
		if n, _ := fmt.Sscanf(line, "init %s @%f ms, %f ms clock, %d bytes, %d allocs", &pkg, &start, &clock, &bytes, &allocs); n == 5 {
			t.Packages, t.ClockMs, t.Bytes, t.Allocs = t.Packages+1, t.ClockMs+clock, t.Bytes+bytes, t.Allocs+allocs
		}
	}
	return t
}

// coldCase is one measured bootstrap.
type coldCase struct {
	name, pkg, bootstrap string
	label                string // in the table, when not name
	env                  []string
	// payload returns the next invocation's event (ProcessExport needs a fresh request each).
	payload func() ([]byte, error)
	want    string      // in every verified answer
	runs    []float64   // ms
	traces  []initTrace // of the verified starts
}

// coldStarts builds the binaries for the host, starts each traceRuns times with inittrace,
// verifying the answer, then times cold starts, alternating binaries so all see one machine state.
func coldStarts(ctx context.Context, b *bench, w io.Writer) error {
	st, fix := b.st, b.fix
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	rieBin, err := rie.Build(ctx, filepath.Join(cache, "livingprofile", "aws-lambda-rie"))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lp-bench-cold-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Requests through the stack, for the events it sent; the baseline reads GetProfile's item.
	id := fix.ids[0]
	m, err := counted(func() error {
		if err := b.c.call(ctx, http.MethodGet, "/v1/profiles/"+id, fix.keys[apikey.Read], nil, http.StatusOK, nil); err != nil {
			return err
		}
		return checkByID.do(ctx, b, 0, 0)
	})
	if err != nil {
		return err
	}
	key, err := profileKey(m, id)
	if err != nil {
		return err
	}
	br, _, err := signIn(ctx, b, id)
	for _, page := range []string{"", "/details"} {
		if err == nil {
			_, _, _, err = fetch(br, st.URL+"/portal/"+benchTenant+page, nil)
		}
	}
	if err != nil {
		return err
	}
	exports := 0
	newExport := func() ([]byte, error) {
		// A fresh access request per start, of another profile, that the stack's worker never sees.
		exports++
		id, err := quietRequest(ctx, b, fix.ids[len(fix.ids)-exports%len(fix.ids)-1], dsr.Access)
		if err != nil {
			return nil, err
		}
		return json.Marshal(sqsJob(id))
	}
	fixed := func(v any) func() ([]byte, error) { return func() ([]byte, error) { return json.Marshal(v) } }
	erasure, err := quietRequest(ctx, b, fix.ids[0], dsr.Erasure)
	if err != nil {
		return err
	}
	dropped := fixed(sqsJob(erasure)) // the baseline's job: the export job reads it and drops it
	awsEnv := []string{"AWS_ENDPOINT_URL=" + st.AWS.Endpoint, "AWS_REGION=" + st.AWS.AWS.Region,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_EC2_METADATA_DISABLED=true"}
	cases := []*coldCase{
		{name: "hello-world (aws-lambda-go)", pkg: helloPkg, payload: fixed(map[string]string{"name": "bench"}), want: "hello, bench"},
		{name: "same-job baseline (1 GetItem)", pkg: baselinePkg, env: append([]string{"TABLE_NAME=" + st.Table}, awsEnv...),
			payload: fixed(key), want: `"found":true`},
		{name: "GetProfile", want: id, payload: fixed(b.rec.event("GetProfile"))},
		{name: "CheckConsent", want: fmt.Sprintf(`"allowed":%v`, fix.granted[0]), payload: fixed(b.rec.event("CheckConsent"))},
		{name: "PortalOverview", want: fix.emails[0], payload: fixed(b.rec.event("PortalOverview"))},
		{name: "PortalDetails", want: "autocomplete", payload: fixed(b.rec.event("PortalDetails"))},
		{name: "ProcessExport", payload: newExport, want: `"batchItemFailures"`},
		{name: "ProcessExport", label: "ProcessExport, 1 GetItem", payload: dropped, want: `"batchItemFailures"`},
	}
	for _, c := range cases {
		if c.pkg == "" {
			c.pkg = functionDir(c.name)
			env := b.st.Env[c.name]
			for _, k := range slices.Sorted(maps.Keys(env)) {
				c.env = append(c.env, k+"="+env[k])
			}
			c.env = append(append(c.env, awsEnv...), "AWS_LAMBDA_FUNCTION_NAME="+c.name)
		}
		c.bootstrap = filepath.Join(dir, filepath.Base(c.pkg), "bootstrap")
		if err := rie.BuildFunction(ctx, "./"+c.pkg, c.bootstrap, runtime.GOARCH); err != nil {
			return err
		}
		for range traceRuns {
			t, err := traced(ctx, rieBin, c)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			c.traces = append(c.traces, t)
		}
	}
	for range b.cfg.coldRuns {
		for _, c := range cases {
			payload, err := c.payload()
			if err != nil {
				return err
			}
			d, err := rie.ColdStart(ctx, rieBin, c.bootstrap, c.env, payload)
			if err != nil {
				return fmt.Errorf("cold start of %s: %w", c.name, err)
			}
			c.runs = append(c.runs, ms(d))
		}
	}
	note(w, "Emulator start to first complete answer (linux/%s), median of %d starts each, alternating binaries.", runtime.GOARCH, b.cfg.coldRuns)
	note(w, "Functions read the seeded data from the embedded emulator. Baselines: ./%s (one GetItem), ./%s.", baselinePkg, helloPkg)
	note(w, "Goals (not asserted): at most %.2fx the same-job baseline and %.1fx hello-world.", goalVsBaseline, goalVsHello)
	note(w, "init: GODEBUG=inittrace=1 totals of the start with the median init time of %d verified starts; warm: that", traceRuns)
	note(w, "instance's second invocation, the function's own work, which the same-job ratio counts as cold start.\n")
	goal := func(c *coldCase, base int, g float64) string {
		r := spreadOf(c.runs).Median / spreadOf(cases[base].runs).Median
		if r > g {
			return fmt.Sprintf("%.2fx (over %.2fx)", r, g)
		}
		return fmt.Sprintf("%.2fx (met)", r)
	}
	rows := []string{"binary\tmedian ms\tmin\tmax\tvs same-job\tvs hello\tinit pkgs\tinit ms\tinit bytes\tinit allocs"}
	var runs []string
	for i, c := range cases {
		sp, vs := spreadOf(c.runs), "\t"
		if i >= 2 {
			vs = goal(c, 1, goalVsBaseline) + "\t" + goal(c, 0, goalVsHello)
		}
		t := slices.SortedFunc(slices.Values(c.traces), func(a, b initTrace) int { return cmp.Compare(a.ClockMs, b.ClockMs) })[len(c.traces)/2]
		rows = append(rows, fmt.Sprintf("%s\t%.1f\t%.1f\t%.1f\t%s\t%d\t%.2f\t%d\t%d\t%.1f", cmp.Or(c.label, c.name), sp.Median, sp.Min, sp.Max, vs,
			t.Packages, t.ClockMs, t.Bytes, t.Allocs, t.WarmMs))
		runs = append(runs, fmt.Sprintf("%s: %s", cmp.Or(c.label, c.name), strings.Trim(fmt.Sprintf("%.1f", c.runs), "[]")))
	}
	table(w, rows...)
	note(w, "Runs, ms: %s.", strings.Join(runs, "; "))
	return nil
}

// traced starts c with GODEBUG=inittrace=1, invokes it and verifies the answer, sums the
// bootstrap's trace lines (not the emulator's before them) and times a second invocation.
func traced(ctx context.Context, rieBin string, c *coldCase) (initTrace, error) {
	payload, err := c.payload()
	if err != nil {
		return initTrace{}, err
	}
	inst, err := rie.Start(ctx, rieBin, c.bootstrap, append(slices.Clip(c.env), "GODEBUG=inittrace=1"))
	if err != nil {
		return initTrace{}, err
	}
	defer inst.Close()
	before := len(inst.Logs())
	out, err := inst.Invoke(ctx, payload)
	logs := inst.Logs()
	t := parseInitTrace(logs[min(before, len(logs)):])
	var resp events.APIGatewayV2HTTPResponse
	_ = json.Unmarshal(out, &resp) // the status code of API answers
	if err == nil && (resp.StatusCode > http.StatusOK || !strings.Contains(string(out)+resp.Body, c.want) ||
		bytes.Contains(out, []byte("itemIdentifier")) || t.Packages == 0) {
		err = fmt.Errorf("answered %.300s; want %s and inittrace lines", out, c.want)
	}
	if err != nil {
		return t, fmt.Errorf("%w\nemulator output:\n%s", err, logs)
	}
	if payload, err = c.payload(); err != nil {
		return t, err
	}
	t0 := time.Now()
	_, err = inst.Invoke(ctx, payload)
	t.WarmMs = ms(time.Since(t0))
	return t, err
}

// profileKey is the key (attribute name -> string) of the item GetProfile read, among m's calls.
func profileKey(m *meter, id string) (map[string]string, error) {
	for _, in := range inputsOf[*dynamodb.GetItemInput](m.inputs) {
		key, ofProfile := map[string]string{}, false
		for name, v := range in.Key {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				key[name], ofProfile = s.Value, ofProfile || strings.Contains(s.Value, id)
			}
		}
		if ofProfile {
			return key, nil
		}
	}
	return nil, fmt.Errorf("GET /v1/profiles/%s made no GetItem of the profile", id)
}

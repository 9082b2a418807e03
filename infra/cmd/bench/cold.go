package main

import (
	"bytes"
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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/rie"
	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

// Sections 3 and 4: the deployed binaries' sizes and cold starts.

const (
	// sizeBudget is the most a function's stripped linux/arm64 binary may weigh.
	sizeBudget = 9 << 20
	// Goals of a real function's median cold start against the baselines' (printed, not
	// asserted).
	goalVsBaseline, goalVsHello = 1.25, 1.5
	baselinePkg, helloPkg       = "./infra/cmd/bench/testdata/ddbget", "./infra/rie/testdata/hello"
)

// sizeResult is the size of one deployed bootstrap.
type sizeResult struct {
	Name  string `json:"name"`
	Dir   string `json:"dir"`
	Bytes int64  `json:"bytes"`
	Over  bool   `json:"overBudget"`
}

// functionDir maps a template logical id to its directory under functions/:
// CreatePortalLink -> create-portal-link.
func functionDir(logicalID string) string {
	var b strings.Builder
	for i, r := range logicalID {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// functionSizes builds every function of template.yaml and both baselines for linux/arm64
// with the production flags, in one go build (so packages are compiled once), and returns
// each bootstrap's size.
func functionSizes(ctx context.Context, root string) ([]sizeResult, error) {
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lp-bench-sizes-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out []sizeResult
	for _, fn := range tpl.Functions {
		d := "functions/" + functionDir(fn.LogicalID)
		if !fileExists(filepath.Join(root, d, "main.go")) {
			return nil, fmt.Errorf("function %s: no %s/main.go", fn.LogicalID, d)
		}
		out = append(out, sizeResult{Name: fn.LogicalID, Dir: d})
	}
	out = append(out, sizeResult{Name: "(same-job baseline)", Dir: baselinePkg[2:]}, sizeResult{Name: "(hello-world)", Dir: helloPkg[2:]})
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, s := range out {
		args = append(args, "./"+s.Dir)
	}
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build (linux/arm64): %w\n%s", err, b)
	}
	for i := range out {
		// With -o <dir>/ and several main packages, go build names each binary after the
		// last element of its import path.
		fi, err := os.Stat(filepath.Join(dir, filepath.Base(out[i].Dir)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", out[i].Name, err)
		}
		out[i].Bytes, out[i].Over = fi.Size(), fi.Size() > sizeBudget
	}
	return out, nil
}

func printSizes(w io.Writer, sizes []sizeResult) {
	fmt.Fprintf(w, "3. Function binaries, stripped, linux/arm64 (as deployed), budget %d bytes (9 MiB) each\n", sizeBudget)
	fmt.Fprintln(w, `   GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags="-s -w"`)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   function\tdirectory\tbytes\tMiB\tbudget")
	var total int64
	var funcs, over int
	for _, s := range sizes {
		mark := "ok"
		if s.Over {
			mark = fmt.Sprintf("OVER by %d", s.Bytes-sizeBudget)
		}
		if !strings.HasPrefix(s.Name, "(") {
			total, funcs = total+s.Bytes, funcs+1
			if s.Over {
				over++
			}
		}
		fmt.Fprintf(tw, "   %s\t%s\t%d\t%.2f\t%s\n", s.Name, s.Dir, s.Bytes, float64(s.Bytes)/(1<<20), mark)
	}
	fmt.Fprintf(tw, "   total (%d functions)\t\t%d\t%.2f\t%d over budget\n", funcs, total, float64(total)/(1<<20), over)
	tw.Flush()
	fmt.Fprintln(w)
}

// initTrace sums GODEBUG=inittrace=1's lines of one process start.
type initTrace struct {
	Packages int     `json:"packages"`
	ClockMs  float64 `json:"clockMs"`
	Bytes    int64   `json:"bytes"`
	Allocs   int64   `json:"allocs"`
}

// initLine is one package's line: "init <pkg> @<start> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs".
var initLine = regexp.MustCompile(`(?m)^init \S+ @[0-9.]+ ms, ([0-9.]+) ms clock, ([0-9]+) bytes, ([0-9]+) allocs`)

func parseInitTrace(logs string) initTrace {
	var t initTrace
	for _, m := range initLine.FindAllStringSubmatch(logs, -1) {
		clock, _ := strconv.ParseFloat(m[1], 64)
		b, _ := strconv.ParseInt(m[2], 10, 64)
		a, _ := strconv.ParseInt(m[3], 10, 64)
		t.Packages, t.ClockMs, t.Bytes, t.Allocs = t.Packages+1, t.ClockMs+clock, t.Bytes+b, t.Allocs+a
	}
	return t
}

// coldResult is the cold-start measurement of one bootstrap.
type coldResult struct {
	Name    string    `json:"name"`
	Package string    `json:"package"`
	Bytes   int64     `json:"bytes"`
	RunsMs  []float64 `json:"runsMs"`
	spread
	// Init is the median, per figure, over the traced starts.
	Init initTrace `json:"initTrace"`
	// Answer describes the verified first answer.
	Answer string `json:"answer"`
	// VsBaseline and VsHello are the median over the baselines' medians (0 for those).
	VsBaseline float64 `json:"vsSameJobBaseline,omitempty"`
	VsHello    float64 `json:"vsHelloWorld,omitempty"`
}

// coldReport is section 4.
type coldReport struct {
	RIEVersion string       `json:"rieVersion"`
	GOARCH     string       `json:"goarch"`
	Runs       int          `json:"runs"`
	TraceRuns  int          `json:"traceRuns"`
	Results    []coldResult `json:"results"`
}

type coldCase struct {
	res       coldResult
	bootstrap string
	env       []string
	// payload returns the next invocation's event (ProcessExport needs a fresh request each).
	payload func() ([]byte, error)
	// verify checks an answer and describes it.
	verify func([]byte) (string, error)
}

// coldStarts builds the baselines and the measured functions for the host, then per binary
// starts it traceRuns times under aws-lambda-rie with GODEBUG=inittrace=1, verifying each
// first answer, and then measures cfg.coldRuns cold starts of each, alternating between the
// binaries so that all see the same machine state. The functions get the environment the
// stack gives them and read the seeded data from the running emulator.
func coldStarts(ctx context.Context, b *bench) (*coldReport, error) {
	st, fix := b.st, b.fix
	rieBin, err := rie.Build(ctx, b.cfg.rieDir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lp-bench-cold-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	awsEnv := []string{"AWS_ENDPOINT_URL=" + st.AWS.Endpoint, "AWS_REGION=" + st.AWS.AWS.Region, "AWS_DEFAULT_REGION=" + st.AWS.AWS.Region,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_EC2_METADATA_DISABLED=true"}
	fixed := func(v any) func() ([]byte, error) { return func() ([]byte, error) { return json.Marshal(v) } }

	// The baseline reads the item GetProfile reads: its key, captured from one request.
	key, err := profileKey(ctx, b)
	if err != nil {
		return nil, err
	}
	id, email, granted := fix.ids[0], fix.emails[0], fix.granted[0]
	apiCall := func(method, route, path, body string, params map[string]string) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: method + " " + route, RawPath: path, Body: body,
			Headers: map[string]string{"accept": "application/json", "content-type": "application/json"}, PathParameters: params,
			RequestContext: events.APIGatewayV2HTTPRequestContext{RouteKey: method + " " + route, Stage: "$default", RequestID: "bench-cold",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "192.0.2.1"},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
					Lambda: map[string]any{"tenant": benchTenant, "keyId": fix.readKeyID, "scopes": "read"}}}}
	}
	apiAnswer := func(want string) func([]byte) (string, error) {
		return func(out []byte) (string, error) {
			var resp events.APIGatewayV2HTTPResponse
			if json.Unmarshal(out, &resp) != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, want) {
				return "", fmt.Errorf("answered %.300s; want 200 containing %s", out, want)
			}
			return "200 with " + want, nil
		}
	}
	portal, _, err := signIn(ctx, b, id)
	if err != nil {
		return nil, err
	}
	overviewKey, err := routeKey(st, "PortalOverview", "/portal/{tenant}")
	if err != nil {
		return nil, err
	}
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	quiet := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	quiet.DisableOutbox()
	svc := app.New(quiet, time.Now, time.Minute)
	var exportID string
	exports := 0
	newExport := func() ([]byte, error) {
		// A fresh access request per start, recorded without an outbox item so that the
		// stack's own worker never sees it, each of another profile.
		exports++
		res, err := svc.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: fix.ids[len(fix.ids)-exports], Type: dsr.Access,
			Verification: dsr.AttestedBrand}, app.RequestWrite{Actor: operator.Actor})
		if err != nil {
			return nil, fmt.Errorf("access request: %w", err)
		}
		exportID = res.Request.ID
		return json.Marshal(sqsJob(res.Request.ID))
	}

	cases := []*coldCase{
		{res: coldResult{Name: "hello-world (aws-lambda-go)", Package: helloPkg}, payload: fixed(map[string]string{"name": "bench"}),
			verify: func(out []byte) (string, error) {
				var g struct{ Message string }
				if json.Unmarshal(out, &g) != nil || g.Message != "hello, bench" {
					return "", fmt.Errorf("answered %s", out)
				}
				return fmt.Sprintf("%q", g.Message), nil
			}},
		{res: coldResult{Name: "same-job baseline (1 GetItem)", Package: baselinePkg}, env: append([]string{"TABLE_NAME=" + st.Table}, awsEnv...),
			payload: fixed(map[string]any{"key": key}),
			verify: func(out []byte) (string, error) {
				var a struct{ Found bool }
				if json.Unmarshal(out, &a) != nil || !a.Found {
					return "", fmt.Errorf("answered %s; want the profile item found", out)
				}
				return "GetProfile's item read from DynamoDB", nil
			}},
		{res: coldResult{Name: "GetProfile"}, verify: apiAnswer(id),
			payload: fixed(apiCall(http.MethodGet, "/v1/profiles/{id}", "/v1/profiles/"+id, "", map[string]string{"id": id}))},
		{res: coldResult{Name: "CheckConsent"}, verify: apiAnswer(fmt.Sprintf(`"allowed":%v`, granted)),
			payload: fixed(apiCall(http.MethodPost, "/v1/consent-checks", "/v1/consent-checks", `{"profileId":"`+id+`","purpose":"marketing"}`, nil))},
		{res: coldResult{Name: "PortalOverview"}, verify: apiAnswer(email),
			payload: fixed(portalEvent(strings.TrimPrefix(st.URL, "http://"), overviewKey, "/portal/"+benchTenant,
				map[string]string{"tenant": benchTenant}, portal.cookies))},
		{res: coldResult{Name: "ProcessExport"}, payload: newExport,
			verify: func(out []byte) (string, error) {
				var resp events.SQSEventResponse
				if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) > 0 {
					return "", fmt.Errorf("answered %s", out)
				}
				req, err := store.Request(ctx, benchTenant, exportID)
				if err != nil || req.Status != dsr.Completed || req.Export == nil {
					return "", fmt.Errorf("request %s after the job: %+v, %v", exportID, req, err)
				}
				return fmt.Sprintf("export of %d bytes completed", req.Export.Bytes), nil
			}},
	}
	for _, c := range cases {
		if c.res.Package == "" {
			c.res.Package = "./functions/" + functionDir(c.res.Name)
			env, err := functionEnv(st, b.stackName, c.res.Name)
			if err != nil {
				return nil, err
			}
			for _, k := range slices.Sorted(maps.Keys(env)) {
				c.env = append(c.env, k+"="+env[k])
			}
			c.env = append(c.env, awsEnv...)
			c.env = append(c.env, "AWS_LAMBDA_FUNCTION_NAME="+c.res.Name)
		}
		c.bootstrap = filepath.Join(dir, filepath.Base(c.res.Package), "bootstrap")
		if err := rie.BuildFunction(ctx, c.res.Package, c.bootstrap, runtime.GOARCH); err != nil {
			return nil, err
		}
		fi, err := os.Stat(c.bootstrap)
		if err != nil {
			return nil, err
		}
		c.res.Bytes = fi.Size()
		var traces []initTrace
		for range b.cfg.traceRuns {
			t, answer, err := traced(ctx, rieBin, c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.res.Name, err)
			}
			traces, c.res.Answer = append(traces, t), answer
		}
		c.res.Init = medianTrace(traces)
	}
	for range b.cfg.coldRuns {
		for _, c := range cases {
			payload, err := c.payload()
			if err != nil {
				return nil, err
			}
			d, err := rie.ColdStart(ctx, rieBin, c.bootstrap, c.env, payload)
			if err != nil {
				return nil, fmt.Errorf("cold start of %s: %w", c.res.Name, err)
			}
			c.res.RunsMs = append(c.res.RunsMs, ms(d))
		}
	}
	rep := &coldReport{RIEVersion: rie.Version, GOARCH: runtime.GOARCH, Runs: b.cfg.coldRuns, TraceRuns: b.cfg.traceRuns}
	for _, c := range cases {
		c.res.spread = spreadOf(c.res.RunsMs)
		if len(rep.Results) >= 2 {
			c.res.VsHello, c.res.VsBaseline = c.res.Median/rep.Results[0].Median, c.res.Median/rep.Results[1].Median
		}
		rep.Results = append(rep.Results, c.res)
	}
	return rep, nil
}

// traced starts c's bootstrap under the emulator with GODEBUG=inittrace=1, invokes it once,
// verifies the answer and sums the bootstrap's trace lines (the emulator, a Go program too,
// prints its own before it serves; those are left out).
func traced(ctx context.Context, rieBin string, c *coldCase) (initTrace, string, error) {
	payload, err := c.payload()
	if err != nil {
		return initTrace{}, "", err
	}
	inst, err := rie.Start(ctx, rieBin, c.bootstrap, append(slices.Clip(c.env), "GODEBUG=inittrace=1"))
	if err != nil {
		return initTrace{}, "", err
	}
	defer inst.Close()
	before := len(inst.Logs())
	out, err := inst.Invoke(ctx, payload)
	logs := inst.Logs()
	if err != nil {
		return initTrace{}, "", fmt.Errorf("%w\n%s", err, logs)
	}
	answer, err := c.verify(out)
	if err != nil {
		return initTrace{}, "", fmt.Errorf("%w\nemulator output:\n%s", err, logs)
	}
	t := parseInitTrace(logs[min(before, len(logs)):])
	if t.Packages == 0 {
		return t, "", fmt.Errorf("no inittrace lines from the bootstrap:\n%s", logs)
	}
	return t, answer, nil
}

func medianTrace(ts []initTrace) initTrace {
	med := func(f func(initTrace) float64) float64 {
		v := make([]float64, len(ts))
		for i, t := range ts {
			v[i] = f(t)
		}
		return spreadOf(v).Median
	}
	return initTrace{Packages: int(med(func(t initTrace) float64 { return float64(t.Packages) })),
		ClockMs: med(func(t initTrace) float64 { return t.ClockMs }),
		Bytes:   int64(med(func(t initTrace) float64 { return float64(t.Bytes) })),
		Allocs:  int64(med(func(t initTrace) float64 { return float64(t.Allocs) }))}
}

// profileKey is the key of the item GetProfile reads for the first seeded profile, as
// attribute name -> string value, captured from one GET through the HTTP API.
func profileKey(ctx context.Context, b *bench) (map[string]string, error) {
	id := b.fix.ids[0]
	var key map[string]string
	b.counter.mu.Lock()
	b.counter.capture = func(op string, params any) {
		in, ok := params.(*dynamodb.GetItemInput)
		if !ok {
			return
		}
		k := map[string]string{}
		for name, v := range in.Key {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				k[name] = s.Value
			}
		}
		if len(k) == len(in.Key) && slices.ContainsFunc(slices.Collect(maps.Values(k)), func(v string) bool { return strings.Contains(v, id) }) {
			key = k
		}
	}
	b.counter.mu.Unlock()
	c := newClient(b.st.URL, 1)
	defer c.CloseIdleConnections()
	b.counter.start()
	status, body, err := c.do(ctx, http.MethodGet, "/v1/profiles/"+id, b.fix.readKey, nil)
	b.counter.stop()
	b.counter.mu.Lock()
	b.counter.capture = nil
	b.counter.mu.Unlock()
	if err == nil {
		err = want200(status, body, nil)
	}
	if err == nil && key == nil {
		err = fmt.Errorf("GET /v1/profiles/%s made no GetItem of the profile", id)
	}
	return key, err
}

// functionEnv is the environment the local stack gives a function: the template's
// variables resolved against the provisioned resources and the parameters (PortalBaseUrl
// pointing at the stack), plus the two variables the stack adds.
func functionEnv(st *localstack.Stack, stackName, logicalID string) (map[string]string, error) {
	fn, ok := st.Template.Function(logicalID)
	if !ok {
		return nil, fmt.Errorf("template.yaml has no function %s", logicalID)
	}
	params, err := st.Template.ParameterValues(map[string]string{"PortalBaseUrl": st.URL + "/portal"})
	if err != nil {
		return nil, err
	}
	maps.Copy(params, template.PseudoParameters(stackName, st.AWS.AWS.Region, "000000000000"))
	env, err := st.Template.Environment(fn, st.Physical.Refs(), params)
	if err != nil {
		return nil, fmt.Errorf("environment of %s: %w", logicalID, err)
	}
	env["ALLOW_HTTP_LOOPBACK"], env["OUTBOX_INDEX"] = "true", "true"
	return env, nil
}

func printCold(w io.Writer, c *coldReport) {
	fmt.Fprintf(w, "4. Cold start under aws-lambda-rie %s (linux/%s bootstraps for this host, production flags)\n", c.RIEVersion, c.GOARCH)
	para(w, "From starting the emulator to the first complete answer; median of %d cold starts per binary, "+
		"alternating. The functions get the stack's environment and read the seeded data from the embedded emulator "+
		"(AWS_ENDPOINT_URL), so their figures include the SDK's initialisation and real DynamoDB calls over loopback; "+
		"PortalOverview is signed in (session cookie), ProcessExport exports a fresh request each start. Baselines: "+
		"hello-world (%s) and the same job (%s: aws-lambda-go, the DynamoDB client configured from environment "+
		"variables, one GetItem of the item GetProfile reads). Goals: at most %.2fx the same-job baseline and %.1fx "+
		"hello-world (not asserted). init: GODEBUG=inittrace=1 of the bootstrap, summed over its packages (median of "+
		"%d verified starts).", c.Runs, helloPkg, baselinePkg, goalVsBaseline, goalVsHello, c.TraceRuns)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   binary\tbytes\tmedian ms\tmin\tmax\tvs same-job\tvs hello\tinit pkgs\tinit ms\tinit bytes\tinit allocs\tfirst answer (verified)")
	goal := func(r, g float64) string {
		if r == 0 {
			return ""
		}
		mark := "met"
		if r > g {
			mark = "over"
		}
		return fmt.Sprintf("%.2fx (%s)", r, mark)
	}
	for _, r := range c.Results {
		fmt.Fprintf(tw, "   %s\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\t%d\t%.2f\t%d\t%d\t%s\n", r.Name, r.Bytes, r.Median, r.Min, r.Max,
			goal(r.VsBaseline, goalVsBaseline), goal(r.VsHello, goalVsHello), r.Init.Packages, r.Init.ClockMs, r.Init.Bytes, r.Init.Allocs, r.Answer)
	}
	tw.Flush()
	for _, r := range c.Results {
		var runs bytes.Buffer
		for _, v := range r.RunsMs {
			fmt.Fprintf(&runs, " %.1f", v)
		}
		fmt.Fprintf(w, "   runs ms %-30s%s\n", r.Name, runs.String())
	}
	fmt.Fprintln(w)
}

package main

import (
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
	"strconv"
	"strings"
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
// with the production flags, in one go build (so packages are compiled once), and prints
// each bootstrap's size against the budget.
func functionSizes(ctx context.Context, b *bench, w io.Writer) error {
	tpl, err := template.Load(filepath.Join(b.root, "template.yaml"))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lp-bench-sizes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names, dirs := []string{}, []string{}
	for _, fn := range tpl.Functions {
		names, dirs = append(names, fn.LogicalID), append(dirs, "functions/"+functionDir(fn.LogicalID))
	}
	names, dirs = append(names, "(same-job baseline)", "(hello-world)"), append(dirs, baselinePkg[2:], helloPkg[2:])
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
	for _, d := range dirs {
		args = append(args, "./"+d)
	}
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build (linux/arm64): %w\n%s", err, out)
	}
	fmt.Fprintf(w, "   GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags=\"-s -w\"; budget %d bytes (9 MiB)\n\n", sizeBudget)
	rows := []string{"function\tdirectory\tbytes\tMiB\tbudget"}
	var total int64
	var over int
	for i, name := range names {
		// With -o <dir>/ and several main packages, go build names each binary after the
		// last element of its import path.
		fi, err := os.Stat(filepath.Join(dir, filepath.Base(dirs[i])))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		mark, fn := "ok", i < len(tpl.Functions)
		if fi.Size() > sizeBudget {
			mark = fmt.Sprintf("OVER by %d", fi.Size()-sizeBudget)
		}
		if fn {
			total += fi.Size()
		}
		if fn && fi.Size() > sizeBudget {
			over++
		}
		rows = append(rows, fmt.Sprintf("%s\t%s\t%d\t%.2f\t%s", name, dirs[i], fi.Size(), float64(fi.Size())/(1<<20), mark))
	}
	table(w, append(rows, fmt.Sprintf("total (%d functions)\t\t%d\t%.2f\t%d over budget", len(tpl.Functions), total, float64(total)/(1<<20), over))...)
	return nil
}

// initTrace sums GODEBUG=inittrace=1's lines of one process start.
type initTrace struct {
	Packages int
	ClockMs  float64
	Bytes    int64
	Allocs   int64
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

// coldCase is one measured bootstrap.
type coldCase struct {
	name, pkg string
	bootstrap string
	env       []string
	// payload returns the next invocation's event (ProcessExport needs a fresh request each).
	payload func() ([]byte, error)
	// verify checks an answer and describes it.
	verify func([]byte) (string, error)
	answer string
	runs   []float64   // ms
	traces []initTrace // of the verified starts
}

// coldStarts builds the baselines and the measured functions for the host, then per binary
// starts it traceRuns times under aws-lambda-rie with GODEBUG=inittrace=1, verifying each
// first answer, and then measures cfg.coldRuns cold starts of each, alternating between the
// binaries so that all see the same machine state. The functions get the environment the
// stack gives them and read the seeded data from the running emulator.
func coldStarts(ctx context.Context, b *bench, w io.Writer) error {
	st, fix := b.st, b.fix
	rieBin, err := rie.Build(ctx, b.cfg.rieDir)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lp-bench-cold-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	awsEnv := []string{"AWS_ENDPOINT_URL=" + st.AWS.Endpoint, "AWS_REGION=" + st.AWS.AWS.Region, "AWS_DEFAULT_REGION=" + st.AWS.AWS.Region,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_EC2_METADATA_DISABLED=true"}
	fixed := func(v any) func() ([]byte, error) { return func() ([]byte, error) { return json.Marshal(v) } }

	// The baseline reads the item GetProfile reads: its key, captured from one request.
	key, err := profileKey(ctx, b)
	if err != nil {
		return err
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
		return err
	}
	overviewKey, err := routeKey(st, "PortalOverview", "/portal/{tenant}")
	if err != nil {
		return err
	}
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	svc := quietService(st)
	var exportID string
	exports := 0
	newExport := func() ([]byte, error) {
		// A fresh access request per start, recorded without an outbox item so that the
		// stack's own worker never sees it, each of another profile.
		exports++
		res, err := svc.CreateRequest(ctx, benchTenant, app.RequestInput{ProfileID: fix.ids[len(fix.ids)-1-exports%len(fix.ids)], Type: dsr.Access,
			Verification: dsr.AttestedBrand}, app.RequestWrite{Actor: operator.Actor})
		if err != nil {
			return nil, fmt.Errorf("access request: %w", err)
		}
		exportID = res.Request.ID
		return json.Marshal(sqsJob(res.Request.ID))
	}

	cases := []*coldCase{
		{name: "hello-world (aws-lambda-go)", pkg: helloPkg, payload: fixed(map[string]string{"name": "bench"}),
			verify: func(out []byte) (string, error) {
				var g struct{ Message string }
				if json.Unmarshal(out, &g) != nil || g.Message != "hello, bench" {
					return "", fmt.Errorf("answered %s", out)
				}
				return fmt.Sprintf("%q", g.Message), nil
			}},
		{name: "same-job baseline (1 GetItem)", pkg: baselinePkg, env: append([]string{"TABLE_NAME=" + st.Table}, awsEnv...),
			payload: fixed(map[string]any{"key": key}),
			verify: func(out []byte) (string, error) {
				var a struct{ Found bool }
				if json.Unmarshal(out, &a) != nil || !a.Found {
					return "", fmt.Errorf("answered %s; want the profile item found", out)
				}
				return "GetProfile's item read from DynamoDB", nil
			}},
		{name: "GetProfile", verify: apiAnswer(id),
			payload: fixed(apiCall(http.MethodGet, "/v1/profiles/{id}", "/v1/profiles/"+id, "", map[string]string{"id": id}))},
		{name: "CheckConsent", verify: apiAnswer(fmt.Sprintf(`"allowed":%v`, granted)),
			payload: fixed(apiCall(http.MethodPost, "/v1/consent-checks", "/v1/consent-checks", `{"profileId":"`+id+`","purpose":"marketing"}`, nil))},
		{name: "PortalOverview", verify: apiAnswer(email),
			payload: fixed(portalEvent(strings.TrimPrefix(st.URL, "http://"), overviewKey, "/portal/"+benchTenant,
				map[string]string{"tenant": benchTenant}, portal.cookies))},
		{name: "ProcessExport", payload: newExport,
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
		if c.pkg == "" {
			c.pkg = "./functions/" + functionDir(c.name)
			env, err := functionEnv(st, b.stackName, c.name)
			if err != nil {
				return err
			}
			for _, k := range slices.Sorted(maps.Keys(env)) {
				c.env = append(c.env, k+"="+env[k])
			}
			c.env = append(c.env, awsEnv...)
			c.env = append(c.env, "AWS_LAMBDA_FUNCTION_NAME="+c.name)
		}
		c.bootstrap = filepath.Join(dir, filepath.Base(c.pkg), "bootstrap")
		if err := rie.BuildFunction(ctx, c.pkg, c.bootstrap, runtime.GOARCH); err != nil {
			return err
		}
		for range b.cfg.traceRuns {
			t, answer, err := traced(ctx, rieBin, c)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			c.traces, c.answer = append(c.traces, t), answer
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
	para(w, "From starting the emulator to the first complete answer (linux/%s); median of %d cold starts per "+
		"binary, alternating. The functions get the stack's environment and read the seeded data from the embedded "+
		"emulator (AWS_ENDPOINT_URL): their figures include the SDK's initialisation and real DynamoDB calls over "+
		"loopback; PortalOverview is signed in, ProcessExport exports a fresh request each start. Baselines: "+
		"hello-world (%s) and the same job (%s: aws-lambda-go, the DynamoDB client configured from environment "+
		"variables only, one GetItem of the item GetProfile reads). Goals (not asserted): at most %.2fx the same-job "+
		"baseline and %.1fx hello-world. init: GODEBUG=inittrace=1 of the bootstrap, summed over its packages "+
		"(median of %d verified starts).", runtime.GOARCH, b.cfg.coldRuns, helloPkg, baselinePkg, goalVsBaseline, goalVsHello, b.cfg.traceRuns)
	fmt.Fprintln(w)
	goal := func(r, g float64) string {
		if r > g {
			return fmt.Sprintf("%.2fx (over %.2fx)", r, g)
		}
		return fmt.Sprintf("%.2fx (met)", r)
	}
	rows := []string{"binary\tmedian ms\tmin\tmax\tvs same-job\tvs hello\tinit pkgs\tinit ms\tinit bytes\tinit allocs\tfirst answer (verified)"}
	var runs []string
	medians := make([]float64, len(cases))
	for i, c := range cases {
		sp := spreadOf(c.runs)
		medians[i] = sp.Median
		vs := "\t"
		if i >= 2 {
			vs = goal(sp.Median/medians[1], goalVsBaseline) + "\t" + goal(sp.Median/medians[0], goalVsHello)
		}
		t := medianTrace(c.traces)
		rows = append(rows, fmt.Sprintf("%s\t%.1f\t%.1f\t%.1f\t%s\t%d\t%.2f\t%d\t%d\t%s", c.name, sp.Median, sp.Min, sp.Max, vs,
			t.Packages, t.ClockMs, t.Bytes, t.Allocs, c.answer))
		runs = append(runs, fmt.Sprintf("%s: %s", c.name, strings.Trim(fmt.Sprintf("%.1f", c.runs), "[]")))
	}
	table(w, rows...)
	para(w, "Runs, ms: %s.", strings.Join(runs, "; "))
	return nil
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
	c := newClient(b.st.URL, 1)
	defer c.CloseIdleConnections()
	inputs, err := b.counter.captured(func() error {
		status, body, err := c.do(ctx, http.MethodGet, "/v1/profiles/"+id, b.fix.readKey, nil)
		if err == nil {
			err = want200(status, body, nil)
		}
		return err
	})
	for _, p := range inputs {
		in, ok := p.(*dynamodb.GetItemInput)
		if !ok {
			continue
		}
		key := map[string]string{}
		for name, v := range in.Key {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				key[name] = s.Value
			}
		}
		if len(key) == len(in.Key) && slices.ContainsFunc(slices.Collect(maps.Values(key)), func(v string) bool { return strings.Contains(v, id) }) {
			return key, err
		}
	}
	return nil, cmp.Or(err, fmt.Errorf("GET /v1/profiles/%s made no GetItem of the profile", id))
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
	env["ALLOW_HTTP_LOOPBACK"] = "true"
	return env, nil
}

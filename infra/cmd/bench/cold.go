package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/rie"
)

// coldFunction is the real function whose cold start is measured beside the baseline.
const coldFunction = "GetProfile"

// coldResult is the cold-start measurement of one bootstrap.
type coldResult struct {
	Name     string    `json:"name"`
	Package  string    `json:"package"`
	Bytes    int64     `json:"bytes"`
	RunsMs   []float64 `json:"runsMs"`
	MedianMs float64   `json:"medianMs"`
	MinMs    float64   `json:"minMs"`
	MaxMs    float64   `json:"maxMs"`
	// Answer describes the verified first answer (status, what it contained).
	Answer string `json:"answer"`
}

// coldReport is section 3 of the report.
type coldReport struct {
	RIEVersion string       `json:"rieVersion"`
	GOARCH     string       `json:"goarch"`
	Runs       int          `json:"runs"`
	Results    []coldResult `json:"results"`
	// DeltaMedianMs is the real function's median minus the baseline's.
	DeltaMedianMs float64 `json:"deltaMedianMs"`
}

type coldCase struct {
	res       coldResult
	bootstrap string
	env       []string
	payload   []byte
	verify    func([]byte) (string, error)
}

// coldStarts builds aws-lambda-rie, the hello-world baseline and GetProfile for the host,
// verifies one answer of each, then measures runs cold starts of each, alternating, so both
// see the same machine state. GetProfile reads the seeded profile from the running
// emulator at st.AWS.Endpoint.
func coldStarts(ctx context.Context, cfg config, st *localstack.Stack, fix *fixture) (*coldReport, error) {
	if st.AWS.Endpoint == "" {
		return nil, fmt.Errorf("the stack has no AWS endpoint to point %s at", coldFunction)
	}
	rieBin, err := rie.Build(ctx, cfg.rieDir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lp-bench-cold-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	profileID := fix.ids[0]
	req := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "GET /v1/profiles/{id}",
		RawPath:        "/v1/profiles/" + profileID,
		Headers:        map[string]string{"accept": "application/json"},
		PathParameters: map[string]string{"id": profileID},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  "GET /v1/profiles/{id}",
			Stage:     "$default",
			RequestID: "bench-cold-start",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "GET", Path: "/v1/profiles/" + profileID, Protocol: "HTTP/1.1", SourceIP: "192.0.2.1",
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"tenant": benchTenant, "keyId": fix.readKeyID, "scopes": "read"},
			},
		},
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	cases := []*coldCase{
		{
			res:       coldResult{Name: "hello (aws-lambda-go baseline)", Package: "./infra/rie/testdata/hello"},
			bootstrap: filepath.Join(dir, "hello", "bootstrap"),
			payload:   []byte(`{"name":"bench"}`),
			verify: func(b []byte) (string, error) {
				var g struct{ Message string }
				if err := json.Unmarshal(b, &g); err != nil || g.Message != "hello, bench" {
					return "", fmt.Errorf("hello answered %s", b)
				}
				return fmt.Sprintf("%q", g.Message), nil
			},
		},
		{
			res:       coldResult{Name: coldFunction, Package: "./functions/" + functionDir(coldFunction)},
			bootstrap: filepath.Join(dir, coldFunction, "bootstrap"),
			env: []string{
				"TABLE_NAME=" + st.Table,
				"AWS_ENDPOINT_URL=" + st.AWS.Endpoint,
				"AWS_REGION=" + st.AWS.AWS.Region,
				"AWS_DEFAULT_REGION=" + st.AWS.AWS.Region,
				"AWS_ACCESS_KEY_ID=local",
				"AWS_SECRET_ACCESS_KEY=local",
				"AWS_EC2_METADATA_DISABLED=true",
				"AWS_LAMBDA_FUNCTION_NAME=" + coldFunction,
			},
			payload: payload,
			verify: func(b []byte) (string, error) {
				var resp events.APIGatewayV2HTTPResponse
				if err := json.Unmarshal(b, &resp); err != nil {
					return "", fmt.Errorf("%s answered something that is not an API response: %s", coldFunction, b)
				}
				var body struct {
					ID string `json:"id"`
				}
				if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &body) != nil || body.ID != profileID {
					return "", fmt.Errorf("%s answered status %d, body %s; want 200 with profile %s", coldFunction, resp.StatusCode, resp.Body, profileID)
				}
				return fmt.Sprintf("200, profile %s read from DynamoDB", profileID), nil
			},
		},
	}
	for _, c := range cases {
		if err := rie.BuildFunction(ctx, c.res.Package, c.bootstrap, runtime.GOARCH); err != nil {
			return nil, err
		}
		fi, err := os.Stat(c.bootstrap)
		if err != nil {
			return nil, err
		}
		c.res.Bytes = fi.Size()
		// One verified invocation first: proves the figure is of a working function (and
		// warms the page cache for both binaries alike).
		inst, err := rie.Start(ctx, rieBin, c.bootstrap, c.env)
		if err != nil {
			return nil, err
		}
		out, err := inst.Invoke(ctx, c.payload)
		logs := inst.Logs()
		inst.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", c.res.Name, err, logs)
		}
		if c.res.Answer, err = c.verify(out); err != nil {
			return nil, fmt.Errorf("%w\nemulator output:\n%s", err, logs)
		}
	}
	for range cfg.coldRuns {
		for _, c := range cases {
			d, err := rie.ColdStart(ctx, rieBin, c.bootstrap, c.env, c.payload)
			if err != nil {
				return nil, fmt.Errorf("cold start of %s: %w", c.res.Name, err)
			}
			c.res.RunsMs = append(c.res.RunsMs, ms(d))
		}
	}
	rep := &coldReport{RIEVersion: rie.Version, GOARCH: runtime.GOARCH, Runs: cfg.coldRuns}
	for _, c := range cases {
		runs := slices.Sorted(slices.Values(c.res.RunsMs))
		c.res.MedianMs = median(runs)
		c.res.MinMs, c.res.MaxMs = runs[0], runs[len(runs)-1]
		rep.Results = append(rep.Results, c.res)
	}
	rep.DeltaMedianMs = rep.Results[1].MedianMs - rep.Results[0].MedianMs
	return rep, nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// coldTimeout bounds one cold-start phase.
const coldTimeout = 5 * time.Minute

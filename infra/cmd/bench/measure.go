package main

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/shared/dsr"
)

// The measuring pieces every section shares: distributions, the concurrent load loop and
// the meters installed in the SDK clients.

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

// loadResult is what load measured.
type loadResult struct {
	lat    []time.Duration
	wall   time.Duration
	errors int
	first  error
}

// load makes n calls of do from len(seq) concurrent workers that take calls from one
// counter, and times each. do gets its worker w and the worker's own sequence number k;
// seq[w] is advanced, so that later loads with the same seq continue each worker's sequence.
func load(n int, seq []int, do func(w, k int) error) loadResult {
	var (
		issued atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		r      loadResult
	)
	lat := make([][]time.Duration, len(seq))
	t0 := time.Now()
	for w := range seq {
		wg.Go(func() {
			for issued.Add(1) <= int64(n) {
				k := seq[w]
				seq[w]++
				t := time.Now()
				err := do(w, k)
				lat[w] = append(lat[w], time.Since(t))
				if err != nil {
					mu.Lock()
					r.errors++
					r.first = cmp.Or(r.first, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	r.wall = time.Since(t0)
	r.lat = slices.Concat(lat...)
	return r
}

// ddbCounter counts the DynamoDB requests of the clients it is installed in (an SDK API
// option), per operation name, while it is on: calls in the Initialize step (one per SDK
// call, whose inputs it keeps), attempts in the Finalize step after the retry middleware
// (one per HTTP request sent).
type ddbCounter struct {
	on              atomic.Bool
	mu              sync.Mutex
	calls, attempts map[string]int
	inputs          []any
}

// start clears the counts and starts counting.
func (c *ddbCounter) start() {
	c.mu.Lock()
	c.calls, c.attempts, c.inputs = map[string]int{}, map[string]int{}, nil
	c.mu.Unlock()
	c.on.Store(true)
}

// stop stops counting and returns what was counted since start.
func (c *ddbCounter) stop() (calls, attempts map[string]int, inputs []any) {
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls), maps.Clone(c.attempts), slices.Clone(c.inputs)
}

func (c *ddbCounter) record(ctx context.Context, f func(op string)) {
	if c.on.Load() && awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID {
		c.mu.Lock()
		f(awsmiddleware.GetOperationName(ctx))
		c.mu.Unlock()
	}
}

func (c *ddbCounter) apiOption(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchCountDynamoDBCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.record(ctx, func(op string) {
				c.calls[op]++
				c.inputs = append(c.inputs, in.Parameters)
			})
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("BenchCountDynamoDBAttempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.record(ctx, func(op string) { c.attempts[op]++ })
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// sdkTimer counts and times the AWS SDK calls (per call, retries included) of the clients
// it is installed in, by operation ("Service.Operation" unless DynamoDB), but only of calls whose context came from
// call: the handlers the bench calls directly, not the stack's concurrent traffic.
type sdkTimer struct {
	mu    sync.Mutex
	calls map[string]int
	spent time.Duration
}

type timedKey struct{}

func (t *sdkTimer) apiOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchTimeSDKCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if ctx.Value(timedKey{}) != t {
				return next.HandleInitialize(ctx, in)
			}
			t0 := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			op := awsmiddleware.GetOperationName(ctx)
			if s := awsmiddleware.GetServiceID(ctx); s != dynamodb.ServiceID {
				op = s + "." + op
			}
			t.mu.Lock()
			t.calls[op]++
			t.spent += time.Since(t0)
			t.mu.Unlock()
			return out, md, err
		}), middleware.Before)
}

// call times f, whose context the timer records, and returns how long it took and the
// summed time of its SDK calls; it adds the calls, per operation, to calls.
func (t *sdkTimer) call(ctx context.Context, calls map[string]int, f func(context.Context) error) (took, spent time.Duration, err error) {
	t.mu.Lock()
	t.calls, t.spent = calls, 0
	t.mu.Unlock()
	t0 := time.Now()
	err = f(context.WithValue(ctx, timedKey{}, t))
	took = time.Since(t0)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = map[string]int{} // detached from the caller's
	return took, t.spent, err
}

// queueHandler is the signature of an SQS-triggered function's handler.
type queueHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// jobRun is what the clock saw of one request's job in the stack.
type jobRun struct {
	Start, End  time.Time // of the first invocation, of the last
	Invocations int
}

// jobClock times the local stack's own job workers (ProcessExport, ProcessErasure) per
// data-subject request, so that the time a message waited for its worker and the time the
// worker took can be told apart.
type jobClock struct {
	mu   sync.Mutex
	runs map[string]jobRun // request id -> run
}

func (c *jobClock) wrap(logicalID string, h any) any {
	next, ok := h.(queueHandler)
	if !ok || logicalID != "ProcessExport" && logicalID != "ProcessErasure" {
		return h
	}
	return queueHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		resp, err := next(ctx, ev)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.runs == nil {
			c.runs = map[string]jobRun{}
		}
		for _, rec := range ev.Records {
			var m dsr.JobMessage
			if json.Unmarshal([]byte(rec.Body), &m) != nil || m.RequestID == "" {
				continue
			}
			r, seen := c.runs[m.RequestID]
			if !seen {
				r.Start = start
			}
			r.End = time.Now()
			r.Invocations++
			c.runs[m.RequestID] = r
		}
		return resp, err
	})
}

// run returns what the clock saw of a request's job.
func (c *jobClock) run(requestID string) jobRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[requestID]
}

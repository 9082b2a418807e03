package main

import (
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
type dist struct {
	P50Ms  float64
	P99Ms  float64
	MeanMs float64
	MinMs  float64
	MaxMs  float64
}

func distOf(ds []time.Duration) dist {
	if len(ds) == 0 {
		return dist{}
	}
	s := slices.Sorted(slices.Values(ds))
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return dist{P50Ms: ms(percentile(s, 0.50)), P99Ms: ms(percentile(s, 0.99)),
		MeanMs: ms(sum / time.Duration(len(s))), MinMs: ms(s[0]), MaxMs: ms(s[len(s)-1])}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.999999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// spread is the median, minimum and maximum of a few values.
type spread struct {
	Median float64
	Min    float64
	Max    float64
}

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
					if r.first == nil {
						r.first = err
					}
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
// call), attempts in the Finalize step after the retry middleware (one per HTTP request
// sent). It also counts the items of TransactWriteItems calls and, when capture is set,
// hands it every input.
type ddbCounter struct {
	on atomic.Bool

	mu                  sync.Mutex
	calls, attempts     map[string]int64
	capture             func(params any)
	minItems, maxItems  int
	transacts, txnItems int64
}

func newDDBCounter() *ddbCounter {
	c := &ddbCounter{}
	c.start()
	c.on.Store(false)
	return c
}

// start clears the counts and starts counting.
func (c *ddbCounter) start() {
	c.mu.Lock()
	c.calls, c.attempts = map[string]int64{}, map[string]int64{}
	c.transacts, c.txnItems, c.minItems, c.maxItems = 0, 0, 0, 0
	c.mu.Unlock()
	c.on.Store(true)
}

// stop stops counting and returns the calls and attempts counted since start.
func (c *ddbCounter) stop() (calls, attempts map[string]int64) {
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls), maps.Clone(c.attempts)
}

// captured returns the inputs of the DynamoDB calls f causes.
func (c *ddbCounter) captured(f func() error) ([]any, error) {
	var inputs []any
	c.start()
	c.mu.Lock()
	c.capture = func(params any) { inputs = append(inputs, params) }
	c.mu.Unlock()
	err := f()
	c.stop()
	c.mu.Lock()
	c.capture = nil
	c.mu.Unlock()
	return inputs, err
}

func (c *ddbCounter) apiOption(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchCountDynamoDBCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if c.on.Load() && awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID {
				c.mu.Lock()
				c.calls[awsmiddleware.GetOperationName(ctx)]++
				if t, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
					n := len(t.TransactItems)
					if c.transacts == 0 || n < c.minItems {
						c.minItems = n
					}
					c.maxItems = max(c.maxItems, n)
					c.transacts++
					c.txnItems += int64(n)
				}
				if c.capture != nil {
					c.capture(in.Parameters)
				}
				c.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("BenchCountDynamoDBAttempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if c.on.Load() && awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID {
				c.mu.Lock()
				c.attempts[awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// sdkTimer counts and times the AWS SDK calls (per call, retries included) of the clients
// it is installed in, by "Service.Operation", but only of calls whose context came from
// timed: the handlers the bench calls directly, not the stack's concurrent traffic.
type sdkTimer struct {
	mu    sync.Mutex
	calls map[string]int
	spent time.Duration
}

type timedKey struct{}

// timed returns a context whose SDK calls the timer records.
func (t *sdkTimer) timed(ctx context.Context) context.Context {
	return context.WithValue(ctx, timedKey{}, t)
}

func (t *sdkTimer) apiOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchTimeSDKCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if ctx.Value(timedKey{}) != t {
				return next.HandleInitialize(ctx, in)
			}
			t0 := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			d := time.Since(t0)
			t.mu.Lock()
			if t.calls == nil {
				t.calls = map[string]int{}
			}
			t.calls[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
			t.spent += d
			t.mu.Unlock()
			return out, md, err
		}), middleware.Before)
}

// take returns the calls and their summed time since the last take, and starts over.
func (t *sdkTimer) take() (map[string]int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	calls, spent := t.calls, t.spent
	t.calls, t.spent = map[string]int{}, 0
	return calls, spent
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
	runs map[string]*jobRun // request id -> run
}

func newJobClock() *jobClock { return &jobClock{runs: map[string]*jobRun{}} }

func (c *jobClock) wrap(logicalID string, h any) any {
	next, ok := h.(queueHandler)
	if !ok || logicalID != "ProcessExport" && logicalID != "ProcessErasure" {
		return h
	}
	return queueHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		start := time.Now()
		resp, err := next(ctx, ev)
		end := time.Now()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, rec := range ev.Records {
			var m dsr.JobMessage
			if json.Unmarshal([]byte(rec.Body), &m) != nil || m.RequestID == "" {
				continue
			}
			r := c.runs[m.RequestID]
			if r == nil {
				r = &jobRun{Start: start}
				c.runs[m.RequestID] = r
			}
			r.End = end
			r.Invocations++
		}
		return resp, err
	})
}

// run returns what the clock saw of a request's job.
func (c *jobClock) run(requestID string) (jobRun, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.runs[requestID]
	if !ok {
		return jobRun{}, false
	}
	return *r, true
}

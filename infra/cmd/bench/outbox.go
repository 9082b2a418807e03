package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// outboxReport is section 4: consent writes through the use case layer with and without
// the outbox item in their transaction.
type outboxReport struct {
	OperationsPerVariant int `json:"operationsPerVariant"`
	Clients              int `json:"clients"`
	Rounds               int `json:"rounds"`
	WarmupPerVariant     int `json:"warmupPerVariant"`
	// Variants are "with outbox" and "DisableOutbox", in that order.
	Variants []outboxVariant `json:"variants"`
	// Deltas are with outbox minus without.
	DeltaP50Ms        float64 `json:"deltaP50Ms"`
	DeltaP99Ms        float64 `json:"deltaP99Ms"`
	DeltaMeanMs       float64 `json:"deltaMeanMs"`
	DeltaItemsPerTxn  float64 `json:"deltaItemsPerTransactWriteItems"`
	DrainWaitSeconds  float64 `json:"outboxDrainWaitSeconds"`
	DispatchedInRound int64   `json:"outboxItemsDispatchedDuringRounds"`
	// RoundDeltaP50Ms is, per round, the with-outbox p50 minus the DisableOutbox p50 of the
	// same round: paired figures that machine drift between rounds does not skew.
	RoundDeltaP50Ms       []float64 `json:"roundDeltaP50Ms"`
	MedianRoundDeltaP50Ms float64   `json:"medianRoundDeltaP50Ms"`
	RoundsOutboxSlower    int       `json:"roundsOutboxSlowerAtP50"`
}

// outboxVariant is the measurement of one store variant.
type outboxVariant struct {
	Name       string  `json:"name"`
	Outbox     bool    `json:"outbox"`
	Operations int     `json:"operations"`
	Errors     int     `json:"errors"`
	Error      string  `json:"firstError,omitempty"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MeanMs     float64 `json:"meanMs"`
	MaxMs      float64 `json:"maxMs"`
	// OpsPerS is operations over the summed wall time of the variant's rounds.
	OpsPerS     float64 `json:"opsPerSecond"`
	WallSeconds float64 `json:"wallSeconds"`
	// TransactWriteItems calls and the DynamoDB items they carried.
	Transactions        int64   `json:"transactWriteItemsCalls"`
	ItemsPerTransaction float64 `json:"itemsPerTransactWriteItems"`
	MinItems            int     `json:"minItemsPerTransactWriteItems"`
	MaxItems            int     `json:"maxItemsPerTransactWriteItems"`
	// DynamoDB is SDK calls per write, by operation name.
	DynamoDB map[string]float64 `json:"dynamodbCallsPerOp"`
}

// txCounter counts the DynamoDB calls of one client, by operation name, and the items of
// its TransactWriteItems calls, while it is on.
type txCounter struct {
	on atomic.Bool

	mu                 sync.Mutex
	calls              map[string]int64
	transacts, items   int64
	minItems, maxItems int
}

func newTxCounter() *txCounter { return &txCounter{calls: map[string]int64{}} }

func (c *txCounter) apiOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchCountTransactItems",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if c.on.Load() {
				c.mu.Lock()
				c.calls[awsmiddleware.GetOperationName(ctx)]++
				if t, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
					n := len(t.TransactItems)
					if c.transacts == 0 || n < c.minItems {
						c.minItems = n
					}
					c.maxItems = max(c.maxItems, n)
					c.transacts++
					c.items += int64(n)
				}
				c.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// outboxArm is one variant under measurement.
type outboxArm struct {
	res     outboxVariant
	svc     *app.Service
	counter *txCounter
	lat     []time.Duration
	wall    time.Duration
}

// outboxCost measures consent writes through app.Service.PutConsent over a store that writes
// the outbox item and one that does not (DisableOutbox), in alternating rounds (ABBA...),
// each round starting with an empty outbox.
func outboxCost(ctx context.Context, cfg config, st *localstack.Stack, fix *fixture) (*outboxReport, error) {
	plain := dynamodb.NewFromConfig(st.AWS.AWS)
	hooks, err := dynamo.New(plain, st.Table).Endpoints(ctx, benchTenant)
	if err != nil {
		return nil, err
	}
	if len(hooks) > 0 {
		return nil, fmt.Errorf("tenant %s has %d webhooks; the outbox phase needs none", benchTenant, len(hooks))
	}
	arm := func(name string, outbox bool) *outboxArm {
		c := newTxCounter()
		awsCfg := st.AWS.AWS.Copy()
		// Copy shares the slice: clip it so this append never writes into another config's.
		awsCfg.APIOptions = append(slices.Clip(awsCfg.APIOptions), c.apiOption)
		store := dynamo.New(dynamodb.NewFromConfig(awsCfg), st.Table)
		if !outbox {
			store.DisableOutbox()
		}
		return &outboxArm{res: outboxVariant{Name: name, Outbox: outbox}, svc: app.New(store, time.Now, time.Minute), counter: c}
	}
	arms := []*outboxArm{arm("with outbox", true), arm("DisableOutbox", false)}
	rep := &outboxReport{OperationsPerVariant: cfg.outboxN, Clients: cfg.clients, Rounds: cfg.outboxRounds, WarmupPerVariant: cfg.warmup}

	var drained time.Duration
	drain := func() error {
		d, err := waitOutboxEmpty(ctx, plain, st.Table, drainTimeout)
		drained += d
		return err
	}
	next := make([]int, cfg.clients) // per-worker sequence, shared by both variants
	write := func(a *outboxArm, n int, lat *[]time.Duration) (errs int, first error) {
		var (
			issued atomic.Int64
			mu     sync.Mutex
			wg     sync.WaitGroup
		)
		owned := len(fix.ids) / cfg.clients
		actor := app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "bench"}}
		perWorker := make([][]time.Duration, cfg.clients)
		for w := range cfg.clients {
			wg.Go(func() {
				for issued.Add(1) <= int64(n) {
					k := next[w]
					next[w]++
					// Worker w owns the profiles i with i%clients == w, as in the API phase.
					i := (k%owned)*cfg.clients + w
					want := profile.Withdrawn
					if !fix.granted[i] {
						want = profile.Granted
					}
					t0 := time.Now()
					res, err := a.svc.PutConsent(ctx, benchTenant, fix.ids[i], "marketing",
						profile.ConsentInput{Status: want, NoticeVersion: 2}, actor)
					d := time.Since(t0)
					if err == nil && !res.Changed {
						err = fmt.Errorf("writing %s to profile %s changed nothing", want, fix.ids[i])
					}
					if err == nil {
						fix.granted[i] = want == profile.Granted
					}
					perWorker[w] = append(perWorker[w], d)
					if err != nil {
						mu.Lock()
						errs++
						if first == nil {
							first = err
						}
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if lat != nil {
			*lat = append(*lat, slices.Concat(perWorker...)...)
		}
		return errs, first
	}

	// Warm-up: fills each service's catalog cache and the clients' connections.
	if err := drain(); err != nil {
		return nil, err
	}
	if cfg.warmup > 0 {
		for _, a := range arms {
			if errs, first := write(a, cfg.warmup, nil); errs > 0 {
				return nil, fmt.Errorf("%s warm-up: %d failed writes, first: %w", a.res.Name, errs, first)
			}
		}
	}
	for r := range cfg.outboxRounds {
		n := cfg.outboxN / cfg.outboxRounds
		if r < cfg.outboxN%cfg.outboxRounds {
			n++
		}
		order := arms
		if r%2 == 1 {
			order = []*outboxArm{arms[1], arms[0]}
		}
		var roundP50 [2]float64
		for _, a := range order {
			if err := drain(); err != nil {
				return nil, err
			}
			a.counter.on.Store(true)
			t0 := time.Now()
			from := len(a.lat)
			errs, first := write(a, n, &a.lat)
			a.wall += time.Since(t0)
			mine := slices.Sorted(slices.Values(a.lat[from:]))
			if a == arms[0] {
				roundP50[0] = ms(percentile(mine, 0.50))
			} else {
				roundP50[1] = ms(percentile(mine, 0.50))
			}
			a.counter.on.Store(false)
			a.res.Errors += errs
			if first != nil && a.res.Error == "" {
				a.res.Error = first.Error()
			}
			if a.res.Outbox {
				left, err := outboxPending(ctx, plain, st.Table)
				if err != nil {
					return nil, err
				}
				rep.DispatchedInRound += int64(n) - left
			}
		}
		d := roundP50[0] - roundP50[1]
		rep.RoundDeltaP50Ms = append(rep.RoundDeltaP50Ms, d)
		if d > 0 {
			rep.RoundsOutboxSlower++
		}
	}
	rep.MedianRoundDeltaP50Ms = median(slices.Sorted(slices.Values(rep.RoundDeltaP50Ms)))
	if err := drain(); err != nil {
		return nil, err
	}
	rep.DrainWaitSeconds = drained.Seconds()

	for _, a := range arms {
		all := a.lat
		slices.Sort(all)
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		c := a.counter
		c.mu.Lock()
		a.res.Operations = len(all)
		a.res.P50Ms, a.res.P99Ms = ms(percentile(all, 0.50)), ms(percentile(all, 0.99))
		a.res.MeanMs, a.res.MaxMs = ms(sum/time.Duration(max(1, len(all)))), ms(all[len(all)-1])
		a.res.WallSeconds, a.res.OpsPerS = a.wall.Seconds(), float64(len(all))/a.wall.Seconds()
		a.res.Transactions, a.res.MinItems, a.res.MaxItems = c.transacts, c.minItems, c.maxItems
		if c.transacts > 0 {
			a.res.ItemsPerTransaction = float64(c.items) / float64(c.transacts)
		}
		a.res.DynamoDB = perOp(c.calls, len(all))
		c.mu.Unlock()
		rep.Variants = append(rep.Variants, a.res)
		fmt.Fprintf(progress, "  measured %-13s p50 %.2f ms, p99 %.2f ms, %.2f items per transaction, %d errors\n",
			a.res.Name, a.res.P50Ms, a.res.P99Ms, a.res.ItemsPerTransaction, a.res.Errors)
	}
	with, without := rep.Variants[0], rep.Variants[1]
	rep.DeltaP50Ms, rep.DeltaP99Ms, rep.DeltaMeanMs = with.P50Ms-without.P50Ms, with.P99Ms-without.P99Ms, with.MeanMs-without.MeanMs
	rep.DeltaItemsPerTxn = with.ItemsPerTransaction - without.ItemsPerTransaction
	for _, v := range rep.Variants {
		if v.Errors > 0 {
			return rep, fmt.Errorf("%s: %d failed writes, first: %s", v.Name, v.Errors, v.Error)
		}
	}
	return rep, nil
}

// drainTimeout bounds one wait for the outbox to empty.
const drainTimeout = 120 * time.Second

// outboxPending counts the outbox items not yet dispatched, on the index the local stack's
// outbox poller reads.
func outboxPending(ctx context.Context, db *dynamodb.Client, table string) (int64, error) {
	var total int64
	for _, pk := range dynamo.OutboxPartitions() {
		var start map[string]types.AttributeValue
		for {
			out, err := db.Query(ctx, &dynamodb.QueryInput{
				TableName: &table, IndexName: aws.String("GSI1"), Select: types.SelectCount,
				KeyConditionExpression:    aws.String("GSI1PK = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
				ExclusiveStartKey:         start,
			})
			if err != nil {
				return 0, fmt.Errorf("count outbox items: %w", err)
			}
			total += int64(out.Count)
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			start = out.LastEvaluatedKey
		}
	}
	return total, nil
}

// waitOutboxEmpty waits until the dispatcher has taken every outbox item, up to timeout,
// and returns how long it waited.
func waitOutboxEmpty(ctx context.Context, db *dynamodb.Client, table string, timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for {
		n, err := outboxPending(ctx, db, table)
		if err != nil {
			return time.Since(t0), err
		}
		if n == 0 {
			return time.Since(t0), nil
		}
		if time.Since(t0) > timeout {
			return time.Since(t0), fmt.Errorf("%d outbox items still pending after %v: the dispatcher is not keeping up or is stuck", n, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Since(t0), ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// printOutbox prints section 4.
func printOutbox(w io.Writer, o *outboxReport) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("4. Outbox cost on a consent write (app.Service.PutConsent -> dynamo.Store -> emulator, no HTTP)\n")
	p("%s\n\n", wrap(fmt.Sprintf("%d writes per variant from %d concurrent workers, alternating granted/withdrawn "+
		"on distinct profiles (each worker owns its profiles), in %d rounds that alternate the variants' order "+
		"(AB, BA, ...), each round starting with an empty outbox, after %d warm-up writes per variant. Both "+
		"services are app.New(store, time.Now, time.Minute); one store called DisableOutbox. No webhook is "+
		"registered, so the dispatcher only deletes the outbox items.",
		o.OperationsPerVariant, o.Clients, o.Rounds, o.WarmupPerVariant), "   ", 100))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   variant\tp50 ms\tp99 ms\tmean ms\tmax ms\twrites/s\terrors\titems per TransactWriteItems\tDynamoDB calls per write")
	for _, v := range o.Variants {
		fmt.Fprintf(tw, "   %s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%d\t%.2f (min %d, max %d, %d calls)\t%s\n",
			v.Name, v.P50Ms, v.P99Ms, v.MeanMs, v.MaxMs, v.OpsPerS, v.Errors,
			v.ItemsPerTransaction, v.MinItems, v.MaxItems, v.Transactions, formatCounts(v.DynamoDB))
	}
	if len(o.Variants) == 2 {
		without := o.Variants[1]
		rel := func(d, base float64) string {
			if base == 0 {
				return fmt.Sprintf("%+.2f", d)
			}
			return fmt.Sprintf("%+.2f (%+.0f%%)", d, 100*d/base)
		}
		fmt.Fprintf(tw, "   outbox costs\t%s\t%s\t%s\t\t\t\t%+.2f\t\n", rel(o.DeltaP50Ms, without.P50Ms),
			rel(o.DeltaP99Ms, without.P99Ms), rel(o.DeltaMeanMs, without.MeanMs), o.DeltaItemsPerTxn)
	}
	tw.Flush()
	p("%s\n", wrap(fmt.Sprintf("Paired by round (robust to drift between rounds): the with-outbox p50 exceeded "+
		"the DisableOutbox p50 of the same round in %d of %d rounds; median difference %+.2f ms.",
		o.RoundsOutboxSlower, len(o.RoundDeltaP50Ms), o.MedianRoundDeltaP50Ms), "   ", 100))
	p("%s\n\n", wrap(fmt.Sprintf("The local stack's dispatcher runs in this process: it had already taken %d of the "+
		"%d with-outbox items (a Query of the tenant's webhooks and a DeleteItem each) when their rounds ended, on "+
		"the same CPUs, so the with-outbox latencies include some of that work; on AWS it is a separate Lambda. "+
		"Waiting for the outbox to drain before the rounds took %.1fs (not measured).",
		o.DispatchedInRound, o.OperationsPerVariant, o.DrainWaitSeconds), "   ", 100))
}

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// outboxReport is section 5: consent writes through the use case layer with and without
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
	Name   string `json:"name"`
	Outbox bool   `json:"outbox"`
	Errors int    `json:"errors"`
	Error  string `json:"firstError,omitempty"`
	dist
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

// outboxCost measures consent writes through app.Service.PutConsent over a store that writes
// the outbox item and one that does not (DisableOutbox), in alternating rounds (AB, BA, ...),
// each round starting with an empty outbox.
func outboxCost(ctx context.Context, b *bench) (*outboxReport, error) {
	cfg, st, fix := b.cfg, b.st, b.fix
	plain := dynamodb.NewFromConfig(st.AWS.AWS)
	hooks, err := dynamo.New(plain, st.Table).Endpoints(ctx, benchTenant)
	if err != nil {
		return nil, err
	}
	if len(hooks) > 0 {
		return nil, fmt.Errorf("tenant %s has %d webhooks; the outbox phase needs none", benchTenant, len(hooks))
	}
	type arm struct {
		res     outboxVariant
		svc     *app.Service
		counter *ddbCounter
		lat     []time.Duration
		wall    time.Duration
	}
	newArm := func(name string, outbox bool) *arm {
		c := newDDBCounter(false)
		awsCfg := st.AWS.AWS.Copy()
		// Copy shares the slice: clip it so this append never writes into another config's.
		awsCfg.APIOptions = append(slices.Clip(awsCfg.APIOptions), c.apiOption)
		store := dynamo.New(dynamodb.NewFromConfig(awsCfg), st.Table)
		if !outbox {
			store.DisableOutbox()
		}
		return &arm{res: outboxVariant{Name: name, Outbox: outbox}, svc: app.New(store, time.Now, time.Minute), counter: c}
	}
	arms := []*arm{newArm("with outbox", true), newArm("DisableOutbox", false)}
	rep := &outboxReport{OperationsPerVariant: cfg.outboxN, Clients: cfg.clients, Rounds: cfg.outboxRounds, WarmupPerVariant: cfg.warmup}
	var drained time.Duration
	drain := func() error {
		d, err := waitOutboxEmpty(ctx, plain, st.Table, drainTimeout)
		drained += d
		return err
	}
	seq := make([]int, cfg.clients) // shared by both variants: each write flips a profile
	write := func(a *arm) func(w, k int) error {
		return func(w, k int) error {
			i := fix.owned(w, cfg.clients, k)
			want := profile.Withdrawn
			if !fix.granted[i] {
				want = profile.Granted
			}
			res, err := a.svc.PutConsent(ctx, benchTenant, fix.ids[i], "marketing", profile.ConsentInput{Status: want, NoticeVersion: 2}, operator)
			if err == nil && !res.Changed {
				err = fmt.Errorf("writing %s to profile %s changed nothing", want, fix.ids[i])
			}
			if err == nil {
				fix.granted[i] = want == profile.Granted
			}
			return err
		}
	}
	// Warm-up: fills each service's catalog cache and the clients' connections.
	if err := drain(); err != nil {
		return nil, err
	}
	for _, a := range arms {
		if l := load(cfg.warmup, seq, write(a)); l.first != nil {
			return nil, fmt.Errorf("%s warm-up: %d failed writes, first: %w", a.res.Name, l.errors, l.first)
		}
	}
	for r := range cfg.outboxRounds {
		n := cfg.outboxN / cfg.outboxRounds
		if r < cfg.outboxN%cfg.outboxRounds {
			n++
		}
		order := []*arm{arms[r%2], arms[1-r%2]}
		var p50 [2]float64
		for _, a := range order {
			if err := drain(); err != nil {
				return nil, err
			}
			a.counter.on.Store(true)
			l := load(n, seq, write(a))
			a.counter.on.Store(false)
			a.lat, a.wall = append(a.lat, l.lat...), a.wall+l.wall
			p50[slices.Index(arms, a)] = distOf(l.lat).P50Ms
			a.res.Errors += l.errors
			if l.first != nil && a.res.Error == "" {
				a.res.Error = l.first.Error()
			}
			if a.res.Outbox {
				left, err := outboxPending(ctx, plain, st.Table)
				if err != nil {
					return nil, err
				}
				rep.DispatchedInRound += int64(n) - left
			}
		}
		d := p50[0] - p50[1]
		rep.RoundDeltaP50Ms = append(rep.RoundDeltaP50Ms, d)
		if d > 0 {
			rep.RoundsOutboxSlower++
		}
	}
	rep.MedianRoundDeltaP50Ms = spreadOf(rep.RoundDeltaP50Ms).Median
	if err := drain(); err != nil {
		return nil, err
	}
	rep.DrainWaitSeconds = drained.Seconds()
	for _, a := range arms {
		c := a.counter
		snap := c.stop()
		c.mu.Lock()
		a.res.dist, a.res.WallSeconds = distOf(a.lat), a.wall.Seconds()
		a.res.OpsPerS = float64(len(a.lat)) / a.wall.Seconds()
		a.res.Transactions, a.res.MinItems, a.res.MaxItems = c.transacts, c.minItems, c.maxItems
		if c.transacts > 0 {
			a.res.ItemsPerTransaction = float64(c.txnItems) / float64(c.transacts)
		}
		c.mu.Unlock()
		a.res.DynamoDB = perOp(snap.Calls, len(a.lat))
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

func printOutbox(w io.Writer, o *outboxReport) {
	fmt.Fprintf(w, "5. Outbox cost on a consent write (app.Service.PutConsent -> dynamo.Store -> emulator, no HTTP)\n")
	para(w, "%d writes per variant from %d concurrent workers, alternating granted/withdrawn "+
		"on distinct profiles (each worker owns its profiles), in %d rounds that alternate the variants' order "+
		"(AB, BA, ...), each round starting with an empty outbox, after %d warm-up writes per variant. Both "+
		"services are app.New(store, time.Now, time.Minute); one store called DisableOutbox. No webhook is "+
		"registered, so the dispatcher only deletes the outbox items.",
		o.OperationsPerVariant, o.Clients, o.Rounds, o.WarmupPerVariant)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   variant\tp50 ms\tp99 ms\tmean ms\tmax ms\twrites/s\terrors\titems per TransactWriteItems\tDynamoDB calls per write")
	for _, v := range o.Variants {
		fmt.Fprintf(tw, "   %s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%d\t%.2f (min %d, max %d, %d calls)\t%s\n",
			v.Name, v.P50Ms, v.P99Ms, v.MeanMs, v.MaxMs, v.OpsPerS, v.Errors,
			v.ItemsPerTransaction, v.MinItems, v.MaxItems, v.Transactions, formatCounts(v.DynamoDB, 3))
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
	para(w, "Paired by round (robust to drift between rounds): the with-outbox p50 exceeded "+
		"the DisableOutbox p50 of the same round in %d of %d rounds; median difference %+.2f ms.",
		o.RoundsOutboxSlower, len(o.RoundDeltaP50Ms), o.MedianRoundDeltaP50Ms)
	para(w, "The local stack's dispatcher runs in this process: it had already taken %d of the "+
		"%d with-outbox items (a Query of the tenant's webhooks and a DeleteItem each) when their rounds ended, on "+
		"the same CPUs, so the with-outbox latencies include some of that work; on AWS it is a separate Lambda. "+
		"Waiting for the outbox to drain before the rounds took %.1fs (not measured).",
		o.DispatchedInRound, o.OperationsPerVariant, o.DrainWaitSeconds)
	fmt.Fprintln(w)
}

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// outboxCost measures consent writes through app.Service.PutConsent over a store that writes
// the outbox item and one that does not (DisableOutbox), in alternating rounds (AB, BA, ...),
// each round starting with an empty outbox.
func outboxCost(ctx context.Context, b *bench, w io.Writer) error {
	cfg, st, fix := b.cfg, b.st, b.fix
	plain := dynamodb.NewFromConfig(st.AWS.AWS)
	if hooks, err := dynamo.New(plain, st.Table).Endpoints(ctx, benchTenant); err != nil || len(hooks) > 0 {
		return fmt.Errorf("the outbox phase needs a tenant without webhooks: %d, %v", len(hooks), err)
	}
	type arm struct {
		name    string
		svc     *app.Service
		counter *ddbCounter
		lat     []time.Duration
		wall    time.Duration
	}
	arms := make([]*arm, 2)
	for i, name := range []string{"with outbox", "DisableOutbox"} {
		c := newDDBCounter()
		awsCfg := st.AWS.AWS.Copy()
		// Copy shares the slice: clip it so this append never writes into another config's.
		awsCfg.APIOptions = append(slices.Clip(awsCfg.APIOptions), c.apiOption)
		store := dynamo.New(dynamodb.NewFromConfig(awsCfg), st.Table)
		if i == 1 {
			store.DisableOutbox()
		}
		arms[i] = &arm{name: name, svc: app.New(store, time.Now, time.Minute), counter: c}
	}
	var drained time.Duration
	drain := func() error {
		d, err := waitOutboxEmpty(ctx, plain, st.Table, drainTimeout)
		drained += d
		return err
	}
	seq := make([]int, cfg.clients) // shared by both variants: each write flips a profile
	write := func(a *arm) func(worker, k int) error {
		return func(worker, k int) error {
			i := fix.owned(worker, cfg.clients, k)
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
		return err
	}
	for _, a := range arms {
		if l := load(cfg.warmup, seq, write(a)); l.first != nil {
			return fmt.Errorf("%s warm-up: %d failed writes, first: %w", a.name, l.errors, l.first)
		}
	}
	var roundDelta []float64
	var dispatched int64
	slower := 0
	for r := range cfg.outboxRounds {
		n := cfg.outboxN / cfg.outboxRounds
		if r < cfg.outboxN%cfg.outboxRounds {
			n++
		}
		var p50 [2]float64
		for _, i := range []int{r % 2, 1 - r%2} {
			a := arms[i]
			if err := drain(); err != nil {
				return err
			}
			a.counter.on.Store(true)
			l := load(n, seq, write(a))
			a.counter.on.Store(false)
			if l.first != nil {
				return fmt.Errorf("%s: %d failed writes, first: %w", a.name, l.errors, l.first)
			}
			a.lat, a.wall, p50[i] = append(a.lat, l.lat...), a.wall+l.wall, distOf(l.lat).P50Ms
			if i == 0 {
				left, err := outboxPending(ctx, plain, st.Table)
				if err != nil {
					return err
				}
				dispatched += int64(n) - left
			}
		}
		roundDelta = append(roundDelta, p50[0]-p50[1])
		if p50[0] > p50[1] {
			slower++
		}
	}
	if err := drain(); err != nil {
		return err
	}
	para(w, "%d writes per variant from %d concurrent workers, alternating granted/withdrawn on distinct profiles "+
		"(each worker owns its profiles), in %d rounds that alternate the variants' order (AB, BA, ...), each round "+
		"starting with an empty outbox, after %d warm-up writes per variant. Both services are app.New(store, "+
		"time.Now, time.Minute); one store called DisableOutbox. No webhook is registered, so the dispatcher only "+
		"deletes the outbox items.", cfg.outboxN, cfg.clients, cfg.outboxRounds, cfg.warmup)
	fmt.Fprintln(w)
	rows := []string{"variant\tp50 ms\tp99 ms\tmean ms\tmax ms\twrites/s\titems per TransactWriteItems\tDynamoDB calls per write"}
	var d [2]dist
	var items [2]float64
	for i, a := range arms {
		c := a.counter
		calls, _ := c.stop()
		d[i] = distOf(a.lat)
		items[i] = float64(c.txnItems) / float64(max(1, c.transacts))
		rows = append(rows, fmt.Sprintf("%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.2f (min %d, max %d, %d calls)\t%s", a.name,
			d[i].P50Ms, d[i].P99Ms, d[i].MeanMs, d[i].MaxMs, float64(len(a.lat))/a.wall.Seconds(),
			items[i], c.minItems, c.maxItems, c.transacts, formatCounts(perOp(calls, len(a.lat)), 3)))
	}
	rel := func(with, without float64) string {
		return fmt.Sprintf("%+.2f (%+.0f%%)", with-without, 100*(with-without)/without)
	}
	table(w, append(rows, fmt.Sprintf("outbox costs\t%s\t%s\t%s\t\t\t%+.2f\t", rel(d[0].P50Ms, d[1].P50Ms),
		rel(d[0].P99Ms, d[1].P99Ms), rel(d[0].MeanMs, d[1].MeanMs), items[0]-items[1]))...)
	para(w, "Paired by round (robust to drift between rounds): the with-outbox p50 exceeded the DisableOutbox p50 of "+
		"the same round in %d of %d rounds; median difference %+.2f ms. The local stack's dispatcher runs in this "+
		"process: it had already taken %d of the %d with-outbox items when their rounds ended, on the same CPUs, so "+
		"the with-outbox latencies include some of that work; on AWS it is a separate Lambda. Waiting for the outbox "+
		"to drain took %.1fs (not measured).", slower, len(roundDelta), spreadOf(roundDelta).Median, dispatched, cfg.outboxN, drained.Seconds())
	return nil
}

// drainTimeout bounds one wait for the outbox to empty.
const drainTimeout = 120 * time.Second

// outboxPending counts the outbox items not yet dispatched, on the index the local stack's
// outbox poller reads.
func outboxPending(ctx context.Context, db *dynamodb.Client, table string) (int64, error) {
	var total int64
	for _, pk := range localstack.OutboxPartitions() {
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

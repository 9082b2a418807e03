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

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// outboxRounds is how many alternating rounds the outbox writes are split into.
const outboxRounds = 20

// outboxCost measures consent writes through app.Service.PutConsent over a store that writes
// the outbox item and one that does not (DisableOutbox), in alternating rounds (AB, BA, ...),
// each round starting with an empty outbox.
func outboxCost(ctx context.Context, b *bench, w io.Writer) error {
	cfg, st, fix := b.cfg, b.st, b.fix
	type arm struct {
		name    string
		svc     *app.Service
		counter *ddbCounter
		lat     []time.Duration
		wall    time.Duration
	}
	arms := make([]*arm, 2)
	for i, name := range []string{"with outbox", "DisableOutbox"} {
		c := &ddbCounter{}
		awsCfg := st.AWS.AWS.Copy()
		// Copy shares the slice: clip it so this append never writes into another config's.
		awsCfg.APIOptions = append(slices.Clip(awsCfg.APIOptions), c.apiOption)
		store := dynamo.New(dynamodb.NewFromConfig(awsCfg), st.Table)
		if i == 1 {
			store.DisableOutbox()
		}
		arms[i] = &arm{name: name, svc: app.New(store, time.Now, time.Minute), counter: c}
		c.start()
		c.on.Store(false)
	}
	var drained time.Duration
	drain := func() error {
		d, err := waitOutboxEmpty(ctx, b.db, st.Table)
		drained += d
		return err
	}
	seq := make([]int, cfg.clients) // shared by both variants: each write flips a profile
	write := func(a *arm) func(worker, k int) error {
		return func(worker, k int) error {
			i := fix.owned(worker, cfg.clients, k)
			want := map[bool]profile.ConsentStatus{true: profile.Withdrawn, false: profile.Granted}[fix.granted[i]]
			_, err := a.svc.PutConsent(ctx, benchTenant, fix.ids[i], "marketing", profile.ConsentInput{Status: want, NoticeVersion: 2}, operator)
			if err == nil {
				fix.granted[i] = !fix.granted[i]
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
	for r := range outboxRounds {
		n := cfg.outboxN / outboxRounds
		if r < cfg.outboxN%outboxRounds {
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
			a.lat, a.wall, p50[i] = append(a.lat, l.lat...), a.wall+l.wall, distOf(l.lat).P50
			if i == 0 {
				left, err := outboxPending(ctx, b.db, st.Table)
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
	note(w, "%d writes per variant from %d workers on profiles they own, in %d rounds alternating the order (AB, BA, ...),", cfg.outboxN, cfg.clients, outboxRounds)
	note(w, "each starting with an empty outbox, after %d warm-up writes. No webhook: the dispatcher only deletes the items.\n", cfg.warmup)
	rows := []string{"variant\tp50 ms\tp99 ms\tmean ms\tmax ms\twrites/s\titems per TransactWriteItems\tDynamoDB calls per write"}
	var d [2]dist
	var items [2]float64
	for i, a := range arms {
		calls, _, inputs := a.counter.stop()
		var sizes []int
		for _, in := range inputs {
			if t, ok := in.(*dynamodb.TransactWriteItemsInput); ok {
				sizes = append(sizes, len(t.TransactItems))
			}
		}
		d[i] = distOf(a.lat)
		sum := 0
		for _, n := range sizes {
			sum += n
		}
		items[i] = float64(sum) / float64(len(sizes))
		rows = append(rows, fmt.Sprintf("%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.2f (min %d, max %d, %d calls)\t%s", a.name,
			d[i].P50, d[i].P99, d[i].Mean, d[i].Max, float64(len(a.lat))/a.wall.Seconds(),
			items[i], slices.Min(sizes), slices.Max(sizes), len(sizes), formatCounts(calls, len(a.lat), 3)))
	}
	rel := func(with, without float64) string {
		return fmt.Sprintf("%+.2f (%+.0f%%)", with-without, 100*(with-without)/without)
	}
	table(w, append(rows, fmt.Sprintf("outbox costs\t%s\t%s\t%s\t\t\t%+.2f\t", rel(d[0].P50, d[1].P50),
		rel(d[0].P99, d[1].P99), rel(d[0].Mean, d[1].Mean), items[0]-items[1]))...)
	note(w, "Paired by round: with-outbox p50 above DisableOutbox p50 in %d of %d rounds; median difference %+.2f ms.",
		slower, len(roundDelta), spreadOf(roundDelta).Median)
	note(w, "The dispatcher (in this process, same CPUs) had taken %d of %d items as their rounds ended; draining took %.1fs (not measured).",
		dispatched, cfg.outboxN, drained.Seconds())
	return nil
}

// outboxPending counts the outbox items not yet dispatched, on the index the local stack's
// outbox poller reads.
func outboxPending(ctx context.Context, db *dynamodb.Client, table string) (int64, error) {
	var n int64
	for _, pk := range dynamo.OutboxPartitions() {
		p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{
			TableName: &table, IndexName: aws.String("GSI1"), Select: types.SelectCount,
			KeyConditionExpression:    aws.String("GSI1PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, fmt.Errorf("count outbox items: %w", err)
			}
			n += int64(page.Count)
		}
	}
	return n, nil
}

// waitOutboxEmpty waits until the dispatcher has taken every outbox item, up to two
// minutes, and returns how long it waited.
func waitOutboxEmpty(ctx context.Context, db *dynamodb.Client, table string) (time.Duration, error) {
	t0 := time.Now()
	for {
		n, err := outboxPending(ctx, db, table)
		switch {
		case err != nil || n == 0:
			return time.Since(t0), err
		case time.Since(t0) > 2*time.Minute:
			return time.Since(t0), fmt.Errorf("%d outbox items still pending after 2m: the dispatcher is stuck", n)
		}
		select {
		case <-ctx.Done():
			return time.Since(t0), ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Two sparse, time-ordered views on GSI1 let the reconciler find work that was lost without
// a Scan: every outbox item is indexed under "OUTBOX#<shard>" until it is dispatched (and
// deleted), and every delivery that still waits for an attempt (pending or retrying) under
// "DLVQ#<shard>" with the message to queue again in "msg". GSI1SK is the time the item was
// last written, as 20 zero-padded nanosecond digits, so "older than" is a key condition.
// Shards keep either view's writes off one hot index partition.
const (
	// OutboxIndex is the index the outbox items are on.
	OutboxIndex      = "GSI1"
	outboxShards     = 4
	outboxIndexPfx   = "OUTBOX#"
	deliveryShards   = 8
	deliveryIndexPfx = "DLVQ#"
	attrMsg          = "msg"
)

// OutboxPartitions are the GSI1 partition keys outbox items are indexed under, oldest first
// within each. One profile's items share a partition, so they come in the order written.
func OutboxPartitions() []string { return partitions(outboxIndexPfx, outboxShards) }

func partitions(pfx string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = pfx + strconv.Itoa(i)
	}
	return out
}

func shard(pfx string, n int, by string) string {
	h := fnv.New32a()
	h.Write([]byte(by))
	return pfx + strconv.Itoa(int(h.Sum32()%uint32(n)))
}

func indexTime(t time.Time) string { return fmt.Sprintf("%020d", t.UnixNano()) }

// indexOutbox puts an outbox item on the outbox view. The sort key ends with the item's
// partition key, so items written in the same nanosecond stay distinct and ordered.
func indexOutbox(it map[string]types.AttributeValue, profileID, pk string, at time.Time) {
	it[attrGSI1PK] = s(shard(outboxIndexPfx, outboxShards, profileID))
	it[attrGSI1SK] = s(indexTime(at) + "#" + pk)
}

// indexDelivery puts a delivery that waits for an attempt on the delivery view, with its message.
func indexDelivery(it map[string]types.AttributeValue, d *webhook.Delivery) error {
	if d.Message == nil || (d.Status != webhook.Pending && d.Status != webhook.Retrying) {
		return nil
	}
	b, err := json.Marshal(d.Message)
	if err != nil {
		return fmt.Errorf("encode delivery message: %w", err)
	}
	it[attrMsg], it[attrGSI1PK], it[attrGSI1SK] = s(string(b)), s(shard(deliveryIndexPfx, deliveryShards, d.ID)), s(indexTime(d.UpdatedAt))
	return nil
}

// older queries one view's partitions for items written before cutoff, oldest first, up to
// limit in all: one Query per partition (more only past 1 MB pages).
func (st *Store) older(ctx context.Context, pks []string, before time.Time, limit int) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for _, pk := range pks {
		p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
			TableName: &st.table, IndexName: aws.String(OutboxIndex),
			KeyConditionExpression:    aws.String("GSI1PK = :pk AND GSI1SK < :before"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":before": s(indexTime(before))},
			Limit:                     aws.Int32(int32(limit - len(out))),
		})
		for p.HasMorePages() && len(out) < limit {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", pk, err)
			}
			out = append(out, page.Items...)
		}
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

// StaleOutbox returns up to limit outbox items written before cutoff: changes whose events
// were not dispatched (a dispatched item is deleted).
func (st *Store) StaleOutbox(ctx context.Context, before time.Time, limit int) ([]*Outbox, error) {
	items, err := st.older(ctx, OutboxPartitions(), before, limit)
	if err != nil {
		return nil, fmt.Errorf("stale outbox: %w", err)
	}
	out := make([]*Outbox, 0, len(items))
	for _, it := range items {
		o, err := decode[Outbox](it)
		if err != nil {
			return nil, err
		}
		o.PK, o.SK = str(it, attrPK), str(it, attrSK)
		out = append(out, o)
	}
	return out, nil
}

// StaleDelivery is a delivery that has waited for an attempt since before a cutoff.
type StaleDelivery struct {
	Message webhook.Message
	pk, sk  string
	at      string
}

// StaleDeliveries returns up to limit deliveries, pending or retrying, last written before
// cutoff.
func (st *Store) StaleDeliveries(ctx context.Context, before time.Time, limit int) ([]StaleDelivery, error) {
	items, err := st.older(ctx, partitions(deliveryIndexPfx, deliveryShards), before, limit)
	if err != nil {
		return nil, fmt.Errorf("stale deliveries: %w", err)
	}
	out := make([]StaleDelivery, 0, len(items))
	for _, it := range items {
		d := StaleDelivery{pk: str(it, attrPK), sk: str(it, attrSK), at: str(it, attrGSI1SK)}
		if err := json.Unmarshal([]byte(str(it, attrMsg)), &d.Message); err != nil {
			return nil, fmt.Errorf("decode delivery message: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// TouchDelivery moves a stale delivery's place on the view to at, so that it is not queued
// again before the new message had its time. It does nothing, without error, when the
// delivery was written since it was read (the worker has it) or is gone.
func (st *Store) TouchDelivery(ctx context.Context, d StaleDelivery, at time.Time) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: key(d.pk, d.sk),
		UpdateExpression:          aws.String("SET GSI1SK = :at"),
		ConditionExpression:       aws.String("GSI1SK = :was"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": s(indexTime(at)), ":was": s(d.at)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("touch delivery: %w", err)
	}
	return nil
}

package eventsource

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"
)

// DynamoDBHandler is the handler of a function with a DynamoDB stream event source.
type DynamoDBHandler = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

const (
	// DefaultOutboxInterval is how often Run polls: Lambda polls a shard four times a second.
	DefaultOutboxInterval = 250 * time.Millisecond
	// DefaultOutboxBatchSize is the DynamoDB event source's default BatchSize.
	DefaultOutboxBatchSize = 100
)

// Outbox stands in for a DynamoDB stream event source on the table's transactional outbox,
// which the embedded emulator's stream misses: it reads the outbox items from an index and
// presents each as the NEW_AND_OLD_IMAGES stream record of its INSERT (keys, new image,
// sequence number, the stream's ARN; no SizeBytes: nothing reads it).
//
// Every Interval it queries each of PartitionKeys, oldest sort key first, up to BatchSize
// items, and invokes Handler with one batch per partition key, as Lambda does per shard. An
// item the handler did not delete is offered again on the next poll with the same eventID,
// sequence number and creation time, as a stream retries a batch (at least once); so batch
// item failures, which a stream retries from the failed record on, need nothing more.
//
// The index must project all attributes. Use an *Outbox: it must not be copied once used.
type Outbox struct {
	DB    *dynamodb.Client
	Table string
	// Index is the index the outbox items are found on; empty means "GSI1".
	Index string
	// PartitionKeys are the index's partition key values to poll, e.g. "OUTBOX#0".."OUTBOX#3".
	PartitionKeys []string
	// Interval is the time between polls; zero means DefaultOutboxInterval.
	Interval time.Duration
	// BatchSize is the most records per invocation; zero means DefaultOutboxBatchSize.
	BatchSize int
	// StreamARN is the records' eventSourceARN; empty takes the table's LatestStreamArn, or
	// makes one up from the table's ARN when the table has no stream.
	StreamARN string
	Handler   DynamoDBHandler
	// FunctionName names the function in logs and in the lambdacontext's InvokedFunctionArn.
	FunctionName string
	// Timeout is the function's timeout; zero means DefaultTimeout.
	Timeout time.Duration
	// Log receives the source's log; nil means slog.Default().
	Log *slog.Logger

	setup     sync.Mutex
	ready     bool
	index     string
	batchSize int
	keys      []string // the table's key attribute names
	indexPK   string   // the index's partition key attribute name
	streamARN string
	region    string
	fn        Function
	log       *slog.Logger

	mu   sync.Mutex
	seen map[string]map[string]recordID // partition key -> item key -> identity
}

// recordID is the identity of the stream record of an item, kept while the item is offered.
type recordID struct {
	eventID  string
	sequence string
	created  time.Time
}

// sequence numbers the records of every Outbox; starting at the clock keeps it increasing
// across restarts.
var sequence atomic.Uint64

func init() { sequence.Store(uint64(time.Now().UnixNano())) }

// Run polls every Interval until ctx is cancelled. It returns an error at once when the
// source is misconfigured or the table cannot be described; failures are logged and retried.
func (o *Outbox) Run(ctx context.Context) error {
	if err := o.init(ctx); err != nil {
		return err
	}
	t := time.NewTicker(cmp.Or(o.Interval, DefaultOutboxInterval))
	defer t.Stop()
	for {
		// Once logs what fails.
		_, _ = o.Once(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once polls every partition key once and delivers what it found. It returns the number of
// records the handler was invoked with, and the errors of failed queries and invocations
// (not batch item failures). Called while Run runs, it may offer an item Run offers too.
func (o *Outbox) Once(ctx context.Context) (int, error) {
	if err := o.init(ctx); err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, pk := range o.PartitionKeys {
		if ctx.Err() != nil {
			break
		}
		n, err := o.partition(ctx, pk)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

func (o *Outbox) init(ctx context.Context) error {
	o.setup.Lock()
	defer o.setup.Unlock()
	if o.ready {
		return nil
	}
	o.index, o.batchSize = cmp.Or(o.Index, "GSI1"), cmp.Or(o.BatchSize, DefaultOutboxBatchSize)
	switch {
	case o.DB == nil:
		return errors.New("outbox: DB is nil")
	case o.Table == "":
		return errors.New("outbox: Table is empty")
	case o.Handler == nil:
		return fmt.Errorf("outbox %s: Handler is nil", o.Table)
	case len(o.PartitionKeys) == 0:
		return fmt.Errorf("outbox %s: no PartitionKeys", o.Table)
	case o.batchSize < 1 || o.batchSize > 10000:
		return fmt.Errorf("outbox %s: BatchSize %d is not between 1 and 10000", o.Table, o.batchSize)
	case o.Interval < 0:
		return fmt.Errorf("outbox %s: Interval %s is negative", o.Table, o.Interval)
	}
	d, err := o.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &o.Table})
	if err != nil {
		return fmt.Errorf("outbox %s: describe table: %w", o.Table, err)
	}
	o.keys = o.keys[:0]
	for _, k := range d.Table.KeySchema {
		o.keys = append(o.keys, aws.ToString(k.AttributeName))
	}
	i := slices.IndexFunc(d.Table.GlobalSecondaryIndexes, func(g ddbtypes.GlobalSecondaryIndexDescription) bool {
		return aws.ToString(g.IndexName) == o.index
	})
	if i < 0 {
		return fmt.Errorf("outbox %s: the table has no index %s", o.Table, o.index)
	}
	index := d.Table.GlobalSecondaryIndexes[i]
	if p := index.Projection; p == nil || p.ProjectionType != ddbtypes.ProjectionTypeAll {
		return fmt.Errorf("outbox %s: index %s must project ALL attributes to build stream images", o.Table, o.index)
	}
	for _, k := range index.KeySchema {
		if k.KeyType == ddbtypes.KeyTypeHash {
			o.indexPK = aws.ToString(k.AttributeName)
		}
	}
	o.streamARN = cmp.Or(o.StreamARN, aws.ToString(d.Table.LatestStreamArn),
		aws.ToString(d.Table.TableArn)+"/stream/1970-01-01T00:00:00.000")
	table, _ := arn.Parse(aws.ToString(d.Table.TableArn)) // empty parts when it is no ARN
	o.region = o.DB.Options().Region
	o.fn = NewFunction(o.FunctionName, o.region, table.AccountID, o.Timeout)
	o.log = cmp.Or(o.Log, slog.Default()).With("function", o.FunctionName, "table", o.Table)
	o.ready = true
	return nil
}

// partition polls one partition key and invokes the handler with what it found.
func (o *Outbox) partition(ctx context.Context, pk string) (int, error) {
	out, err := o.DB.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &o.Table,
		IndexName:                 &o.index,
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": o.indexPK},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		ScanIndexForward:          aws.Bool(true),
		Limit:                     aws.Int32(int32(o.batchSize)),
	})
	if err != nil {
		if ctx.Err() == nil {
			o.log.WarnContext(ctx, "outbox: query failed", "partition", pk, "err", err.Error())
		}
		return 0, fmt.Errorf("outbox %s: query %s: %w", o.Table, pk, err)
	}
	ev, err := o.event(pk, out.Items)
	if err != nil {
		o.log.ErrorContext(ctx, "outbox: an item cannot be presented as a stream record", "partition", pk, "err", err.Error())
		return 0, err
	}
	if len(ev.Records) == 0 {
		return 0, nil
	}
	first, last := ev.Records[0].Change.SequenceNumber, ev.Records[len(ev.Records)-1].Change.SequenceNumber
	resp, err := invoke(ctx, o.fn, o.Handler, ev)
	if err != nil {
		o.log.ErrorContext(ctx, "outbox: invocation failed; the batch will be retried",
			append([]any{"partition", pk, "records", len(ev.Records),
				"first_sequence_number", first, "last_sequence_number", last}, ErrorAttrs(err)...)...)
		return len(ev.Records), fmt.Errorf("invoke %s: %w", o.fn, err)
	}
	if len(resp.BatchItemFailures) > 0 {
		// Lambda checkpoints before the lowest failed sequence number and retries from there.
		from := len(ev.Records)
		for _, f := range resp.BatchItemFailures {
			i := slices.IndexFunc(ev.Records, func(r events.DynamoDBEventRecord) bool { return r.Change.SequenceNumber == f.ItemIdentifier })
			if i < 0 {
				err := fmt.Errorf("invoke %s: batch item failure names %q, which is not a sequence number of the batch; the whole batch failed",
					o.fn, f.ItemIdentifier)
				o.log.ErrorContext(ctx, "outbox: invalid partial batch response; the batch will be retried", "partition", pk, "err", err.Error())
				return len(ev.Records), err
			}
			from = min(from, i)
		}
		o.log.WarnContext(ctx, "outbox: partial batch failure; records from the first failed one on will be retried",
			"partition", pk, "from_sequence_number", ev.Records[from].Change.SequenceNumber,
			"retried", len(ev.Records)-from)
	}
	return len(ev.Records), nil
}

// event builds the stream event for the items of one partition key, and remembers their
// record identities so that an item offered again keeps its own.
func (o *Outbox) event(pk string, items []map[string]ddbtypes.AttributeValue) (events.DynamoDBEvent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seen = map[string]map[string]recordID{}
	}
	before, now := o.seen[pk], map[string]recordID{}
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(items))}
	for _, item := range items {
		image, err := ConvertItem(item)
		if err != nil {
			return events.DynamoDBEvent{}, err
		}
		keyImage := make(map[string]events.DynamoDBAttributeValue, len(o.keys))
		for _, k := range o.keys {
			v, ok := image[k]
			if !ok {
				return events.DynamoDBEvent{}, fmt.Errorf("item lacks key attribute %s", k)
			}
			keyImage[k] = v
		}
		// The key image's JSON identifies the item: a map marshals in key order.
		id, err := json.Marshal(keyImage)
		if err != nil {
			return events.DynamoDBEvent{}, err
		}
		rid, ok := before[string(id)]
		if !ok {
			rid = recordID{
				// Shaped like a stream record's eventID: 32 hex digits.
				eventID:  strings.ReplaceAll(uuid.NewString(), "-", ""),
				sequence: fmt.Sprintf("%021d", sequence.Add(1)),
				created:  time.Now().Truncate(time.Second),
			}
		}
		now[string(id)] = rid
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{
			AWSRegion: o.region,
			Change: events.DynamoDBStreamRecord{
				ApproximateCreationDateTime: events.SecondsEpochTime{Time: rid.created},
				Keys:                        keyImage,
				NewImage:                    image,
				SequenceNumber:              rid.sequence,
				StreamViewType:              string(ddbtypes.StreamViewTypeNewAndOldImages),
			},
			EventID:        rid.eventID,
			EventName:      "INSERT",
			EventSource:    "aws:dynamodb",
			EventVersion:   "1.1",
			EventSourceArn: o.streamARN,
		})
	}
	o.seen[pk] = now
	return ev, nil
}

package eventsource

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	"github.com/aws/smithy-go/middleware"
	"github.com/google/uuid"
)

// DynamoDBHandler is the handler of a function with a DynamoDB stream event source.
type DynamoDBHandler = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

const (
	// DefaultOutboxInterval is how often Run delivers: Lambda polls a shard four times a second.
	DefaultOutboxInterval = 250 * time.Millisecond
	// DefaultOutboxSweep is how often Run queries the index.
	DefaultOutboxSweep = 10 * time.Second
	// DefaultOutboxBatchSize is the DynamoDB event source's default BatchSize.
	DefaultOutboxBatchSize = 100
)

// Outbox stands in for a DynamoDB stream event source on the table's transactional outbox,
// which the embedded emulator's stream misses: it presents each outbox item as the
// NEW_AND_OLD_IMAGES stream record of its INSERT (keys, new image, sequence number, the
// stream's ARN; no SizeBytes: nothing reads it).
//
// Items reach it two ways: a client with OfferPuts hands it what it just put, without a
// read; a sweep queries each of PartitionKeys on the index, oldest sort key first, up to
// BatchSize items, for what was put by other processes or before Run started. Run sweeps at
// start and every Sweep, and every Interval invokes Handler with up to BatchSize pending
// records per partition key, in index sort key order, as Lambda invokes per shard.
//
// A record is pending until an invocation with it succeeds, with the same eventID, sequence
// number and creation time; on batch item failures it retries from the lowest failed record
// on, as a stream does. An item offered or found twice while pending is delivered once; an
// item a later sweep still finds (the handler did not delete it) is delivered again, as the
// same record: at least once.
//
// The index must project all attributes. Use an *Outbox: it must not be copied once used.
type Outbox struct {
	DB    *dynamodb.Client
	Table string
	// Index is the index the outbox items are found on; empty means "GSI1".
	Index string
	// PartitionKeys are the index's partition key values to poll, e.g. "OUTBOX#0".."OUTBOX#3".
	PartitionKeys []string
	// Interval is the time between deliveries; zero means DefaultOutboxInterval.
	Interval time.Duration
	// Sweep is the time between queries; zero means DefaultOutboxSweep.
	Sweep time.Duration
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

	setup            sync.Mutex
	ready            bool
	index            string
	batchSize        int
	keys             []string // the table's key attribute names
	indexPK, indexSK string   // the index's key attribute names (no sort key: "")
	streamARN        string
	region           string
	fn               Function
	log              *slog.Logger

	mu      sync.Mutex
	offered []map[string]ddbtypes.AttributeValue // put since the last delivery
	// known holds, by item key, the record of every item pending, delivered since the last
	// sweep or found by it: an offer of one of these is a late one.
	known map[string]*record
}

// record is a stream record with its item's key (as JSON), index keys and state.
type record struct {
	key, pk, sort string
	delivered     bool
	rec           events.DynamoDBEventRecord
}

// sequence numbers the records of every Outbox; starting at the clock keeps it increasing
// across restarts.
var sequence atomic.Uint64

func init() { sequence.Store(uint64(time.Now().UnixNano())) }

// Run sweeps at once and every Sweep, and delivers every Interval, until ctx is cancelled. It
// returns an error at once when the source is misconfigured or the table cannot be
// described; failures are logged and retried.
func (o *Outbox) Run(ctx context.Context) error {
	if err := o.init(ctx); err != nil {
		return err
	}
	t := time.NewTicker(cmp.Or(o.Interval, DefaultOutboxInterval))
	defer t.Stop()
	var swept time.Time
	for {
		// Both log what fails.
		if time.Since(swept) >= cmp.Or(o.Sweep, DefaultOutboxSweep) {
			if more, _ := o.sweep(ctx); !more {
				swept = time.Now()
			}
		}
		_, _ = o.deliver(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// OfferPuts returns the SDK option that hands the outboxes it returns every item a successful
// PutItem or TransactWriteItems of the client put, to deliver on their next tick without a
// query. The local stack gives it to its clients: the embedded emulator's Query reads every
// item of the table under its lock, so polling made the outbox, and every write waiting
// behind it, slower as the table grew.
func OfferPuts(outboxes func() []*Outbox) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("OfferPutsToOutbox",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				var puts []*ddbtypes.Put // nil for a transaction's other items
				switch p := in.Parameters.(type) {
				case *dynamodb.PutItemInput:
					puts = []*ddbtypes.Put{{TableName: p.TableName, Item: p.Item}}
				case *dynamodb.TransactWriteItemsInput:
					for _, w := range p.TransactItems {
						puts = append(puts, w.Put)
					}
				}
				for _, o := range outboxes() {
					o.mu.Lock()
					for _, p := range puts {
						if err == nil && p != nil && aws.ToString(p.TableName) == o.Table {
							o.offered = append(o.offered, p.Item)
						}
					}
					o.mu.Unlock()
				}
				return out, md, err
			}), middleware.After)
	}
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
	case o.Interval < 0 || o.Sweep < 0:
		return fmt.Errorf("outbox %s: Interval %s or Sweep %s is negative", o.Table, o.Interval, o.Sweep)
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
		} else {
			o.indexSK = aws.ToString(k.AttributeName)
		}
	}
	o.streamARN = cmp.Or(o.StreamARN, aws.ToString(d.Table.LatestStreamArn),
		aws.ToString(d.Table.TableArn)+"/stream/1970-01-01T00:00:00.000")
	table, _ := arn.Parse(aws.ToString(d.Table.TableArn)) // empty parts when it is no ARN
	o.region = o.DB.Options().Region
	o.fn = NewFunction(o.FunctionName, o.region, table.AccountID, o.Timeout)
	o.log = cmp.Or(o.Log, slog.Default()).With("function", o.FunctionName, "table", o.Table)
	o.known = map[string]*record{}
	o.ready = true
	return nil
}

// sweep queries every partition key and makes pending what it finds. It reports whether a
// query may have left items out: a full page with items not pending before.
func (o *Outbox) sweep(ctx context.Context) (more bool, _ error) {
	pages := map[string][]map[string]ddbtypes.AttributeValue{}
	var errs []error
	for _, pk := range o.PartitionKeys {
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
			if ctx.Err() != nil {
				return false, err
			}
			o.log.WarnContext(ctx, "outbox: query failed", "partition", pk, "err", err.Error())
			errs = append(errs, fmt.Errorf("outbox %s: query %s: %w", o.Table, pk, err))
			continue
		}
		pages[pk] = out.Items
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	// Offers of what was delivered since the last sweep find it known until now.
	o.admit(ctx)
	// What was delivered and is found again is delivered again, as the same record; what
	// was delivered and is not found is gone.
	found := map[string]bool{}
	for pk, items := range pages {
		added := 0
		for _, item := range items {
			r, isNew, err := o.add(ctx, pk, item)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if isNew || r.delivered {
				added++
			}
			r.delivered, found[r.key] = false, true
		}
		more = more || len(items) == o.batchSize && added > 0
	}
	maps.DeleteFunc(o.known, func(key string, r *record) bool { return r.delivered && !found[key] })
	return more, errors.Join(errs...)
}

// add returns the known record of item, of partition pk, or makes it a new pending one. An
// item that cannot be presented is logged and returned as an error. The caller holds mu.
func (o *Outbox) add(ctx context.Context, pk string, item map[string]ddbtypes.AttributeValue) (_ *record, isNew bool, _ error) {
	image, err := ConvertItem(item)
	keys := make(map[string]events.DynamoDBAttributeValue, len(o.keys))
	for _, k := range o.keys {
		if v, ok := image[k]; ok {
			keys[k] = v
		} else if err == nil {
			err = fmt.Errorf("item lacks key attribute %s", k)
		}
	}
	// The key image's JSON identifies the item: a map marshals in key order.
	id, jerr := json.Marshal(keys)
	if err = cmp.Or(err, jerr); err != nil {
		o.log.ErrorContext(ctx, "outbox: an item cannot be presented as a stream record", "partition", pk, "err", err.Error())
		return nil, false, err
	}
	if r, ok := o.known[string(id)]; ok {
		return r, false, nil
	}
	r := &record{key: string(id), pk: pk, rec: events.DynamoDBEventRecord{
		AWSRegion: o.region,
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now().Truncate(time.Second)},
			Keys:                        keys,
			NewImage:                    image,
			SequenceNumber:              fmt.Sprintf("%021d", sequence.Add(1)),
			StreamViewType:              string(ddbtypes.StreamViewTypeNewAndOldImages),
		},
		// Shaped like a stream record's eventID: 32 hex digits.
		EventID:        strings.ReplaceAll(uuid.NewString(), "-", ""),
		EventName:      "INSERT",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: o.streamARN,
	}}
	if s, ok := item[o.indexSK].(*ddbtypes.AttributeValueMemberS); ok {
		r.sort = s.Value
	}
	o.known[r.key] = r
	return r, true, nil
}

// admit makes pending the offered items of the partition keys. The caller holds mu.
func (o *Outbox) admit(ctx context.Context) {
	for _, item := range o.offered {
		if pk, ok := item[o.indexPK].(*ddbtypes.AttributeValueMemberS); ok && slices.Contains(o.PartitionKeys, pk.Value) {
			_, _, _ = o.add(ctx, pk.Value, item) // logged
		}
	}
	o.offered = nil
}

// deliver makes the offered items pending and invokes the handler once per partition key
// with up to BatchSize of its pending records. It returns the number of records the
// handler was invoked with and the errors of failed invocations.
func (o *Outbox) deliver(ctx context.Context) (int, error) {
	total, errs := 0, []error(nil)
	for _, pk := range o.PartitionKeys {
		o.mu.Lock()
		o.admit(ctx)
		var batch []*record
		for _, r := range o.known {
			if r.pk == pk && !r.delivered {
				batch = append(batch, r)
			}
		}
		o.mu.Unlock()
		if len(batch) == 0 || ctx.Err() != nil {
			continue
		}
		// Offers come in commit order only per client; the sort key orders them as a query
		// does, and the sequence number what has the same one.
		slices.SortFunc(batch, func(a, b *record) int {
			return cmp.Or(strings.Compare(a.sort, b.sort), strings.Compare(a.rec.Change.SequenceNumber, b.rec.Change.SequenceNumber))
		})
		batch = batch[:min(len(batch), o.batchSize)]
		total += len(batch)
		from, err := o.invoke(ctx, pk, batch)
		errs = append(errs, err)
		o.mu.Lock()
		for _, r := range batch[:from] {
			r.delivered = true
		}
		o.mu.Unlock()
	}
	return total, errors.Join(errs...)
}

// invoke invokes the handler with the batch of partition pk and returns how many of its
// records were delivered: Lambda checkpoints before the lowest failed sequence number.
func (o *Outbox) invoke(ctx context.Context, pk string, batch []*record) (int, error) {
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, len(batch))}
	for i, r := range batch {
		ev.Records[i] = r.rec
	}
	resp, err := invoke(ctx, o.fn, o.Handler, ev)
	if err != nil {
		o.log.ErrorContext(ctx, "outbox: invocation failed; the batch will be retried",
			append([]any{"partition", pk, "records", len(batch), "first_sequence_number", ev.Records[0].Change.SequenceNumber,
				"last_sequence_number", ev.Records[len(batch)-1].Change.SequenceNumber}, ErrorAttrs(err)...)...)
		return 0, fmt.Errorf("invoke %s: %w", o.fn, err)
	}
	from := len(batch)
	for _, f := range resp.BatchItemFailures {
		i := slices.IndexFunc(ev.Records, func(r events.DynamoDBEventRecord) bool { return r.Change.SequenceNumber == f.ItemIdentifier })
		if i < 0 {
			err := fmt.Errorf("invoke %s: batch item failure names %q, which is not a sequence number of the batch; the whole batch failed",
				o.fn, f.ItemIdentifier)
			o.log.ErrorContext(ctx, "outbox: invalid partial batch response; the batch will be retried", "partition", pk, "err", err.Error())
			return 0, err
		}
		from = min(from, i)
	}
	if from < len(batch) {
		o.log.WarnContext(ctx, "outbox: partial batch failure; records from the first failed one on will be retried",
			"partition", pk, "from_sequence_number", ev.Records[from].Change.SequenceNumber, "retried", len(batch)-from)
	}
	return from, nil
}

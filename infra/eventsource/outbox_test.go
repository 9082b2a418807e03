package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// newTable creates a table shaped like the product's: PK/SK, index GSI1 on GSI1PK/GSI1SK
// projecting all attributes, and a NEW_AND_OLD_IMAGES stream.
func newTable(t *testing.T, db *dynamodb.Client) (name, streamARN string) {
	t.Helper()
	name = unique(t, "outbox")
	s := func(n string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(n), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	key := func(pk, sk string) []ddbtypes.KeySchemaElement {
		return []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: ddbtypes.KeyTypeRange},
		}
	}
	out, err := db.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            &name,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{s("PK"), s("SK"), s("GSI1PK"), s("GSI1SK")},
		KeySchema:            key("PK", "SK"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName: aws.String("GSI1"), KeySchema: key("GSI1PK", "GSI1SK"),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return name, aws.ToString(out.TableDescription.LatestStreamArn)
}

type sv = ddbtypes.AttributeValueMemberS

// outboxItem is an outbox item on partition shard with sort key sk.
func outboxItem(id, shard, sk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK": &sv{Value: "O#" + id}, "SK": &sv{Value: "OUTBOX"},
		"GSI1PK": &sv{Value: shard}, "GSI1SK": &sv{Value: sk},
		"doc": &sv{Value: `{"id":"` + id + `"}`},
	}
}

// transact writes items in one TransactWriteItems, as the product writes its outbox.
func transact(t *testing.T, db *dynamodb.Client, table string, items ...map[string]ddbtypes.AttributeValue) {
	t.Helper()
	var ops []ddbtypes.TransactWriteItem
	for _, it := range items {
		ops = append(ops, ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: &table, Item: it}})
	}
	if _, err := db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: ops}); err != nil {
		t.Fatalf("TransactWriteItems: %v", err)
	}
}

// deleter is a handler that deletes the items of the records it gets, except those whose
// PK is in keep; it records every record.
type deleter struct {
	db    *dynamodb.Client
	table string
	keep  map[string]bool
	fail  error

	mu      sync.Mutex
	batches [][]events.DynamoDBEventRecord
}

func (d *deleter) handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	d.mu.Lock()
	d.batches = append(d.batches, ev.Records)
	d.mu.Unlock()
	if d.fail != nil {
		return events.DynamoDBEventResponse{}, d.fail
	}
	for _, r := range ev.Records {
		pk := r.Change.Keys["PK"].String()
		if d.keep[pk] {
			continue
		}
		_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.table, Key: map[string]ddbtypes.AttributeValue{
			"PK": &sv{Value: pk}, "SK": &sv{Value: r.Change.Keys["SK"].String()},
		}})
		if err != nil {
			return events.DynamoDBEventResponse{}, err
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

func (d *deleter) all() [][]events.DynamoDBEventRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.batches)
}

func pks(recs []events.DynamoDBEventRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Change.Keys["PK"].String())
	}
	return out
}

// Once sweeps and delivers once. It returns the number of records the handler was invoked
// with, and the errors of failed queries and invocations (not batch item failures). Called
// while Run runs, it may deliver a record Run delivers too.
func (o *Outbox) Once(ctx context.Context) (int, error) {
	if err := o.init(ctx); err != nil {
		return 0, err
	}
	_, err := o.sweep(ctx)
	n, derr := o.deliver(ctx)
	return n, errors.Join(err, derr)
}

func TestOutboxDeliversTransactionalWritesAsInserts(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	db := dynamodb.NewFromConfig(cfg)
	table, streamARN := newTable(t, db)

	rich := outboxItem("rich", "OUTBOX#0", "2024-03-10T08:00:00Z#a")
	for k, v := range richAttributes() {
		rich[k] = v
	}
	transact(t, db, table,
		rich,
		outboxItem("second", "OUTBOX#0", "2024-03-10T08:00:01Z#b"),
		outboxItem("keep", "OUTBOX#0", "2024-03-10T08:00:02Z#c"),
		outboxItem("other-shard", "OUTBOX#1", "2024-03-10T08:00:00Z#d"),
		outboxItem("not-polled", "OUTBOX#9", "2024-03-10T08:00:00Z#e"),
		map[string]ddbtypes.AttributeValue{"PK": &sv{Value: "T#1#P#1"}, "SK": &sv{Value: "PROFILE"}}, // not an outbox item
	)

	h := &deleter{db: db, table: table, keep: map[string]bool{"O#keep": true}}
	o := &Outbox{
		DB: db, Table: table, PartitionKeys: []string{"OUTBOX#0", "OUTBOX#1", "OUTBOX#2"}, Handler: h.handle,
		FunctionName: "Dispatcher", Log: testLog(),
	}
	start := time.Now()
	n, err := o.Once(t.Context())
	if err != nil || n != 4 {
		t.Fatalf("Once = %d, %v; want 4 records and no error", n, err)
	}
	batches := h.all()
	if len(batches) != 2 {
		t.Fatalf("handler invoked %d times, want one batch per non-empty partition (2)", len(batches))
	}
	if got := pks(batches[0]); !slices.Equal(got, []string{"O#rich", "O#second", "O#keep"}) {
		t.Errorf("OUTBOX#0 batch = %v, want the items in sort key order", got)
	}
	if got := pks(batches[1]); !slices.Equal(got, []string{"O#other-shard"}) {
		t.Errorf("OUTBOX#1 batch = %v", got)
	}

	seqs := map[string]bool{}
	var prev string
	for _, r := range batches[0] {
		c := r.Change
		if r.EventName != "INSERT" || r.EventVersion != "1.1" || r.EventSource != "aws:dynamodb" ||
			r.AWSRegion != cfg.Region || r.EventSourceArn != streamARN || len(r.EventID) != 32 || r.UserIdentity != nil {
			t.Errorf("record envelope = %+v", r)
		}
		if c.StreamViewType != "NEW_AND_OLD_IMAGES" || c.OldImage != nil {
			t.Errorf("stream record = view %s, old image %v", c.StreamViewType, c.OldImage)
		}
		if at := c.ApproximateCreationDateTime.Time; at.Before(start.Add(-time.Second)) || at.After(time.Now()) {
			t.Errorf("ApproximateCreationDateTime = %s, want about now", at)
		}
		if len(c.Keys) != 2 || c.Keys["SK"].String() != "OUTBOX" {
			t.Errorf("Keys = %v, want PK and SK only", c.Keys)
		}
		if seqs[c.SequenceNumber] || c.SequenceNumber <= prev {
			t.Errorf("sequence number %s is not unique and increasing after %s", c.SequenceNumber, prev)
		}
		seqs[c.SequenceNumber], prev = true, c.SequenceNumber
	}

	// The rich item's NewImage, as DynamoDB JSON, is every attribute with its type.
	got := mustJSON(t, batches[0][0].Change.NewImage)
	var gotMap, wantMap map[string]any
	if err := json.Unmarshal([]byte(got), &gotMap); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(richImageJSON), &wantMap); err != nil {
		t.Fatal(err)
	}
	if g, w := mustJSON(t, gotMap), mustJSON(t, wantMap); g != w {
		t.Errorf("NewImage = %s\nwant      %s", g, w)
	}

	// The kept item is offered again, as the same record; deleted items are not.
	first := batches[0][2]
	n, err = o.Once(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("second Once = %d, %v; want only the item still there", n, err)
	}
	again := h.all()[2][0]
	if again.Change.Keys["PK"].String() != "O#keep" || again.EventID != first.EventID ||
		again.Change.SequenceNumber != first.Change.SequenceNumber {
		t.Errorf("redelivered %s (%s, %s), want O#keep again with eventID %s and sequence number %s",
			again.Change.Keys["PK"].String(), again.EventID, again.Change.SequenceNumber, first.EventID, first.Change.SequenceNumber)
	}

	// Once the handler deletes it, nothing is left to deliver.
	delete(h.keep, "O#keep")
	if n, err := o.Once(t.Context()); err != nil || n != 1 {
		t.Fatalf("third Once = %d, %v; want the kept item one last time", n, err)
	}
	if n, err := o.Once(t.Context()); err != nil || n != 0 {
		t.Fatalf("fourth Once = %d, %v; want nothing", n, err)
	}
}

func richAttributes() map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"n":     &ddbtypes.AttributeValueMemberN{Value: "-12.50"},
		"b":     &ddbtypes.AttributeValueMemberB{Value: []byte("hi")},
		"yes":   &ddbtypes.AttributeValueMemberBOOL{Value: true},
		"no":    &ddbtypes.AttributeValueMemberBOOL{Value: false},
		"null":  &ddbtypes.AttributeValueMemberNULL{Value: true},
		"ss":    &ddbtypes.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns":    &ddbtypes.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs":    &ddbtypes.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"empty": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{}},
		"none":  &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{}},
		"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
			&sv{Value: "a"}, &ddbtypes.AttributeValueMemberN{Value: "1"},
			&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"deep": &ddbtypes.AttributeValueMemberBOOL{Value: true}}},
		}},
		"m": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"s": &sv{Value: "v"},
			"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberNULL{Value: true}}},
		}},
	}
}

// richImageJSON is the rich outbox item as a stream record's NewImage (binary as base64).
const richImageJSON = `{
	"PK": {"S": "O#rich"}, "SK": {"S": "OUTBOX"},
	"GSI1PK": {"S": "OUTBOX#0"}, "GSI1SK": {"S": "2024-03-10T08:00:00Z#a"},
	"doc": {"S": "{\"id\":\"rich\"}"},
	"n": {"N": "-12.50"},
	"b": {"B": "aGk="},
	"yes": {"BOOL": true}, "no": {"BOOL": false},
	"null": {"NULL": true},
	"ss": {"SS": ["x", "y"]},
	"ns": {"NS": ["1", "2.5"]},
	"bs": {"BS": ["AQ==", "AgM="]},
	"empty": {"L": []},
	"none": {"M": {}},
	"l": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"BOOL": true}}}]},
	"m": {"M": {"s": {"S": "v"}, "l": {"L": [{"NULL": true}]}}}
}`

func TestOutboxFailedInvocationIsRetried(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	db := dynamodb.NewFromConfig(cfg)
	table, _ := newTable(t, db)
	transact(t, db, table, outboxItem("a", "OUTBOX#0", "1"), outboxItem("b", "OUTBOX#0", "2"))

	tests := []struct {
		name    string
		handler func(*deleter) DynamoDBHandler
		wantErr string
	}{
		{"handler error", func(d *deleter) DynamoDBHandler {
			return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				d.fail = errors.New("boom")
				return d.handle(ctx, ev)
			}
		}, "boom"},
		{"panic", func(d *deleter) DynamoDBHandler {
			return func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) { panic("kaput") }
		}, "handler panicked"},
		{"unknown batch item failure", func(d *deleter) DynamoDBHandler {
			return func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "nope"}}}, nil
			}
		}, `names "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &deleter{db: db, table: table}
			o := &Outbox{DB: db, Table: table, PartitionKeys: []string{"OUTBOX#0"}, Handler: tt.handler(d), Log: testLog()}
			n, err := o.Once(t.Context())
			if n != 2 || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Once = %d, %v; want 2 and an error containing %q", n, err, tt.wantErr)
			}
		})
	}

	// A partial batch failure is no error; the handler deleted what it dispatched and the
	// rest comes back, as a stream retries from the failed record.
	d := &deleter{db: db, table: table, keep: map[string]bool{"O#b": true}}
	o := &Outbox{DB: db, Table: table, PartitionKeys: []string{"OUTBOX#0"}, Log: testLog(),
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if _, err := d.handle(ctx, ev); err != nil {
				return events.DynamoDBEventResponse{}, err
			}
			var resp events.DynamoDBEventResponse
			for _, r := range ev.Records {
				if d.keep[r.Change.Keys["PK"].String()] {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
				}
			}
			return resp, nil
		}}
	if n, err := o.Once(t.Context()); n != 2 || err != nil {
		t.Fatalf("Once with a partial failure = %d, %v; want 2, nil", n, err)
	}
	if n, err := o.Once(t.Context()); n != 1 || err != nil {
		t.Fatalf("Once after the partial failure = %d, %v; want the failed record again", n, err)
	}
	if got := pks(d.all()[1]); !slices.Equal(got, []string{"O#b"}) {
		t.Errorf("retried %v, want [O#b]", got)
	}
}

func TestOutboxRun(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	db := dynamodb.NewFromConfig(cfg)
	table, _ := newTable(t, db)
	h := &deleter{db: db, table: table}
	// Put by a client that offers nothing, the items are found by sweeps.
	o := &Outbox{DB: db, Table: table, Index: "GSI1", PartitionKeys: []string{"OUTBOX#0", "OUTBOX#1"},
		Interval: 20 * time.Millisecond, Sweep: 20 * time.Millisecond, BatchSize: 2, Handler: h.handle, Log: testLog()}
	background(t, o.Run)
	for i := range 5 {
		transact(t, db, table, outboxItem(fmt.Sprint(i), fmt.Sprintf("OUTBOX#%d", i%2), fmt.Sprint(i)))
	}
	delivered := func() []string {
		var out []string
		for _, b := range h.all() {
			if len(b) > 2 {
				t.Errorf("batch of %d records, want at most BatchSize 2", len(b))
			}
			out = append(out, pks(b)...)
		}
		return out
	}
	eventually(t, 5*time.Second, "5 items delivered", func() bool { return len(delivered()) >= 5 })
	time.Sleep(100 * time.Millisecond) // a few more polls: deleted items must not come back
	if got := slices.Sorted(slices.Values(delivered())); !slices.Equal(got, []string{"O#0", "O#1", "O#2", "O#3", "O#4"}) {
		t.Errorf("delivered %v, want each item once", got)
	}
}

// TestOutboxSweepsAgainAfterAFullPage: what another process put before Run started, more than
// a page, comes without waiting for the next Sweep, in order and batches of BatchSize.
func TestOutboxSweepsAgainAfterAFullPage(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	db := dynamodb.NewFromConfig(cfg)
	table, _ := newTable(t, db)
	for i := range 5 {
		transact(t, db, table, outboxItem(fmt.Sprint(i), "OUTBOX#0", fmt.Sprint(i)))
	}
	d := &deleter{db: db, table: table}
	o := &Outbox{DB: db, Table: table, PartitionKeys: []string{"OUTBOX#0"}, Interval: 10 * time.Millisecond,
		Sweep: time.Hour, BatchSize: 2, Handler: d.handle, Log: testLog()}
	background(t, o.Run)
	eventually(t, 5*time.Second, "5 items delivered", func() bool { return len(d.all()) == 3 })
	var got [][]string
	for _, b := range d.all() {
		got = append(got, pks(b))
	}
	if want := [][]string{{"O#0", "O#1"}, {"O#2", "O#3"}, {"O#4"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

// countOps is an SDK option that counts a client's requests by operation.
func countOps(counts *sync.Map) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("CountOperations",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				n, _ := counts.LoadOrStore(awsmiddleware.GetOperationName(ctx), new(atomic.Int32))
				n.(*atomic.Int32).Add(1)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

func queries(counts *sync.Map) int32 {
	n, ok := counts.Load("Query")
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

// TestOutboxOffer: the first sweep, at start, finds what was put before; then what a client
// with OfferPuts puts is delivered without a Query, per partition key in sort key order and
// batches of BatchSize; a failed invocation and a partial batch failure are retried as the
// same records; nothing is delivered twice.
func TestOutboxOffer(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	plain := dynamodb.NewFromConfig(cfg) // another process's client: it offers nothing
	var counts sync.Map
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, countOps(&counts)) })
	table, _ := newTable(t, db)
	d := &deleter{db: plain, table: table}
	var tries atomic.Int32 // of the batch from O#a on
	o := &Outbox{DB: db, Table: table, PartitionKeys: []string{"OUTBOX#0", "OUTBOX#1"}, Interval: 10 * time.Millisecond,
		Sweep: time.Hour, BatchSize: 3, Log: testLog(),
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if ev.Records[0].Change.Keys["PK"].String() != "O#a" {
				return d.handle(ctx, ev)
			}
			defer func() { d.fail, d.keep = nil, nil }()
			if tries.Add(1) == 1 {
				d.fail = errors.New("boom")
				return d.handle(ctx, ev)
			}
			d.keep = map[string]bool{"O#c": true, "O#d": true}
			resp, err := d.handle(ctx, ev)
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[1].Change.SequenceNumber}}
			return resp, err
		}}
	offering := dynamodb.NewFromConfig(cfg, func(opts *dynamodb.Options) {
		opts.APIOptions = append(opts.APIOptions, OfferPuts(func() []*Outbox { return []*Outbox{o} }))
	})
	transact(t, plain, table, outboxItem("early", "OUTBOX#0", "0"))
	background(t, o.Run)
	eventually(t, 5*time.Second, "the item put before Run", func() bool { return len(d.all()) == 1 })
	swept := queries(&counts)
	if swept != 2 {
		t.Errorf("%d queries at start, want one per partition key", swept)
	}

	transact(t, offering, table, outboxItem("c", "OUTBOX#0", "3"), outboxItem("b", "OUTBOX#1", "2"), outboxItem("a", "OUTBOX#0", "1"),
		outboxItem("e", "OUTBOX#0", "5"), outboxItem("d", "OUTBOX#0", "4"),
		map[string]ddbtypes.AttributeValue{"PK": &sv{Value: "P#1"}, "SK": &sv{Value: "PROFILE"}}) // no outbox item
	eventually(t, 5*time.Second, "the offered items", func() bool { return len(d.all()) == 5 })
	// A failed put offers nothing; a PutItem offers its item.
	if _, err := offering.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: outboxItem("x", "OUTBOX#1", "6"),
		ConditionExpression: aws.String("attribute_exists(PK)")}); err == nil {
		t.Fatal("conditional put succeeded")
	}
	if _, err := offering.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: outboxItem("f", "OUTBOX#1", "7")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the put item", func() bool { return len(d.all()) == 6 })
	time.Sleep(50 * time.Millisecond) // more ticks: nothing more may come
	byPartition := map[string][][]events.DynamoDBEventRecord{}
	for _, b := range d.all() {
		pk := b[0].Change.NewImage["GSI1PK"].String()
		byPartition[pk] = append(byPartition[pk], b)
	}
	want := map[string][][]string{
		"OUTBOX#0": {{"O#early"}, {"O#a", "O#c", "O#d"}, {"O#a", "O#c", "O#d"}, {"O#c", "O#d", "O#e"}},
		"OUTBOX#1": {{"O#b"}, {"O#f"}},
	}
	for pk, batches := range want {
		var got [][]string
		for _, b := range byPartition[pk] {
			got = append(got, pks(b))
		}
		if !slices.EqualFunc(got, batches, slices.Equal) {
			t.Fatalf("%s batches %v, want %v", pk, got, batches)
		}
	}
	o0 := byPartition["OUTBOX#0"]
	for _, same := range [][2]events.DynamoDBEventRecord{{o0[1][0], o0[2][0]}, {o0[2][1], o0[3][0]}} {
		if same[0].EventID != same[1].EventID || same[0].Change.SequenceNumber != same[1].Change.SequenceNumber {
			t.Errorf("retried record %s %s, first %s %s", same[1].EventID, same[1].Change.SequenceNumber, same[0].EventID, same[0].Change.SequenceNumber)
		}
	}
	if n := queries(&counts) - swept; n != 0 {
		t.Errorf("%d queries after the first sweep, want none: offered items need no read", n)
	}
}

// TestOutboxSweepAndOfferDeliverOnce: with sweeps while items are offered, what is both
// offered and found is delivered once.
func TestOutboxSweepAndOfferDeliverOnce(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	db := dynamodb.NewFromConfig(cfg)
	table, _ := newTable(t, db)
	d := &deleter{db: db, table: table}
	o := &Outbox{DB: db, Table: table, PartitionKeys: []string{"OUTBOX#0", "OUTBOX#1"}, Interval: 5 * time.Millisecond,
		Sweep: 20 * time.Millisecond, Handler: d.handle, Log: testLog()}
	offering := dynamodb.NewFromConfig(cfg, func(opts *dynamodb.Options) {
		opts.APIOptions = append(opts.APIOptions, OfferPuts(func() []*Outbox { return []*Outbox{o} }))
	})
	background(t, o.Run)
	var want []string
	for i := range 200 {
		transact(t, offering, table, outboxItem(fmt.Sprint(i), fmt.Sprintf("OUTBOX#%d", i%2), fmt.Sprintf("%03d", i)))
		want = append(want, fmt.Sprintf("O#%d", i))
	}
	delivered := func() []string {
		var out []string
		for _, b := range d.all() {
			out = append(out, pks(b)...)
		}
		return out
	}
	eventually(t, 10*time.Second, "200 items delivered", func() bool { return len(delivered()) >= 200 })
	time.Sleep(50 * time.Millisecond) // more ticks: nothing more may come
	if got, want := slices.Sorted(slices.Values(delivered())), slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want each item once", got)
	}
}

func TestOutboxConfigErrors(t *testing.T) {
	cfg := startAWS(t)
	db := dynamodb.NewFromConfig(cfg)
	table, _ := newTable(t, db)
	h := func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, nil
	}
	// A table whose index projects keys only cannot give full images.
	keysOnly := unique(t, "keysonly")
	_, err := db.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName: &keysOnly,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("G"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema:   []ddbtypes.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode: ddbtypes.BillingModePayPerRequest,
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName:  aws.String("GSI1"),
			KeySchema:  []ddbtypes.KeySchemaElement{{AttributeName: aws.String("G"), KeyType: ddbtypes.KeyTypeHash}},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeKeysOnly},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    *Outbox
		want string
	}{
		{"no client", &Outbox{Table: table, PartitionKeys: []string{"p"}, Handler: h}, "DB is nil"},
		{"no table", &Outbox{DB: db, PartitionKeys: []string{"p"}, Handler: h}, "Table is empty"},
		{"no handler", &Outbox{DB: db, Table: table, PartitionKeys: []string{"p"}}, "Handler is nil"},
		{"no partitions", &Outbox{DB: db, Table: table, Handler: h}, "no PartitionKeys"},
		{"batch too large", &Outbox{DB: db, Table: table, PartitionKeys: []string{"p"}, Handler: h, BatchSize: 10001}, "BatchSize"},
		{"missing table", &Outbox{DB: db, Table: unique(t, "missing"), PartitionKeys: []string{"p"}, Handler: h}, "describe table"},
		{"missing index", &Outbox{DB: db, Table: table, Index: "GSI9", PartitionKeys: []string{"p"}, Handler: h}, "no index GSI9"},
		{"keys-only index", &Outbox{DB: db, Table: keysOnly, PartitionKeys: []string{"p"}, Handler: h}, "project ALL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.o.Run(t.Context()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

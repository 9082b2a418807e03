package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/infra/moto"
)

// motoTable creates a table with a NEW_AND_OLD_IMAGES stream on moto and returns the clients
// and the stream's ARN.
func motoTable(t *testing.T, url string) (*dynamodb.Client, *dynamodbstreams.Client, *sqs.Client, string, string) {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	db := dynamodb.NewFromConfig(cfg)
	name := unique(t, "t")
	out, err := db.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName: &name, BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema: []ddbtypes.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: ddbtypes.KeyTypeRange}},
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return db, dynamodbstreams.NewFromConfig(cfg), sqs.NewFromConfig(cfg), name, aws.ToString(out.TableDescription.LatestStreamArn)
}

// commit writes a profile item and its outbox item in one transaction, as the product does.
func commit(t *testing.T, db *dynamodb.Client, table string, i int) {
	t.Helper()
	pk := &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("P#%03d", i)}
	_, err := db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: &table, Item: map[string]ddbtypes.AttributeValue{"PK": pk, "SK": &ddbtypes.AttributeValueMemberS{Value: "PROFILE"}}}},
		{Put: &ddbtypes.Put{TableName: &table, Item: map[string]ddbtypes.AttributeValue{"PK": pk, "SK": &ddbtypes.AttributeValueMemberS{Value: "O"},
			"n": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}}}},
	}})
	if err != nil {
		t.Fatalf("TransactWriteItems: %v", err)
	}
}

// started reports whether the source has its iterators, so that LATEST is behind what the test writes next.
func (s *Stream) started() bool {
	s.setup.Lock()
	defer s.setup.Unlock()
	return s.ready
}

// The DispatchEvents mapping's filter: INSERTs of outbox items only.
var outboxFilter = []string{`{"eventName":["INSERT"],"dynamodb":{"Keys":{"SK":{"S":["O"]}}}}`}

func TestStreamOnMoto(t *testing.T) {
	url := moto.Start(t)
	// numbers returns the "n" of every record of the calls, in call order.
	numbers := func(calls []events.DynamoDBEvent) []int {
		var out []int
		for _, c := range calls {
			for _, r := range c.Records {
				var n int
				_, _ = fmt.Sscan(r.Change.NewImage["n"].Number(), &n)
				out = append(out, n)
			}
		}
		return out
	}
	seq := func(from, to int) []int {
		var out []int
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	}

	t.Run("batches filtered outbox inserts in order, as Lambda presents them", func(t *testing.T) {
		db, st, _, table, streamARN := motoTable(t, url)
		commit(t, db, table, 0) // before start: LATEST skips it
		var rec recorder[events.DynamoDBEvent]
		src := &Stream{Client: st, StreamARN: streamARN, BatchSize: 4, BatchWindow: 200 * time.Millisecond,
			Interval: 20 * time.Millisecond, FilterPatterns: outboxFilter, FunctionName: "Dispatch", Log: testLog(),
			Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				rec.add(ev)
				return events.DynamoDBEventResponse{}, nil
			}}
		background(t, src.Run)
		eventually(t, 5*time.Second, "the source to start", src.started)
		for i := 1; i <= 10; i++ {
			commit(t, db, table, i)
		}
		eventually(t, 10*time.Second, "10 records", func() bool { return len(numbers(rec.all())) >= 10 })
		calls := rec.all()
		if got := numbers(calls); !slices.Equal(got, seq(1, 10)) {
			t.Fatalf("records %v, want 1..10 once each in order", got)
		}
		for _, c := range calls {
			if len(c.Records) > 4 {
				t.Errorf("a batch of %d records, want at most BatchSize 4", len(c.Records))
			}
		}
		r := calls[0].Records[0]
		if r.EventSourceArn != streamARN || r.EventName != "INSERT" || r.EventSource != "aws:dynamodb" || len(r.EventID) == 0 ||
			r.Change.Keys["SK"].String() != "O" || r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" || r.Change.SequenceNumber == "" ||
			r.Change.SizeBytes == 0 || r.Change.ApproximateCreationDateTime.IsZero() || r.Change.OldImage != nil {
			t.Errorf("record %+v is not the stream's INSERT as Lambda presents it", r)
		}
	})

	t.Run("partial failure retries from the first failed record", func(t *testing.T) {
		db, st, _, table, streamARN := motoTable(t, url)
		var rec recorder[events.DynamoDBEvent]
		var once sync.Once
		src := &Stream{Client: st, StreamARN: streamARN, BatchSize: 10, BatchWindow: 500 * time.Millisecond, Interval: 20 * time.Millisecond,
			FilterPatterns: outboxFilter, ReportBatchItemFailures: true, MaximumRetryAttempts: 2, Log: testLog(),
			Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				rec.add(ev)
				var resp events.DynamoDBEventResponse
				once.Do(func() {
					resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[2].Change.SequenceNumber}}
				})
				return resp, nil
			}}
		background(t, src.Run)
		eventually(t, 5*time.Second, "the source to start", src.started)
		for i := 1; i <= 5; i++ {
			commit(t, db, table, i)
		}
		eventually(t, 10*time.Second, "the retry", func() bool { return len(rec.all()) >= 2 })
		if got, want := numbers(rec.all()), []int{1, 2, 3, 4, 5, 3, 4, 5}; !slices.Equal(got, want) {
			t.Errorf("records %v, want %v", got, want)
		}
	})

	t.Run("bisects a failing batch, gives up on the poison record and sends Lambda's failure record", func(t *testing.T) {
		db, st, sq, table, streamARN := motoTable(t, url)
		q, err := sq.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(unique(t, "dlq"))})
		if err != nil {
			t.Fatal(err)
		}
		var rec recorder[events.DynamoDBEvent]
		src := &Stream{Client: st, StreamARN: streamARN, BatchSize: 8, BatchWindow: 500 * time.Millisecond, Interval: 20 * time.Millisecond,
			FilterPatterns: outboxFilter, BisectBatchOnFunctionError: true, MaximumRetryAttempts: 2,
			SQS: sq, OnFailureQueueURL: aws.ToString(q.QueueUrl), FunctionName: "Dispatch", Log: testLog(),
			Handler: func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				rec.add(ev)
				for _, r := range ev.Records {
					if r.Change.NewImage["n"].Number() == "6" {
						return events.DynamoDBEventResponse{}, errors.New("poison")
					}
				}
				return events.DynamoDBEventResponse{}, nil
			}}
		background(t, src.Run)
		eventually(t, 5*time.Second, "the source to start", src.started)
		for i := 1; i <= 8; i++ {
			commit(t, db, table, i)
		}
		var failure FailureRecord
		eventually(t, 20*time.Second, "the failure record", func() bool {
			out, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl})
			if err != nil || len(out.Messages) == 0 {
				return false
			}
			return json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &failure) == nil
		})
		// Delivered successfully: each record once, except the poison one.
		succeeded := func() map[int]int {
			out := map[int]int{}
			for _, c := range rec.all() {
				if !slices.ContainsFunc(c.Records, func(r events.DynamoDBEventRecord) bool { return r.Change.NewImage["n"].Number() == "6" }) {
					for _, n := range numbers([]events.DynamoDBEvent{c}) {
						out[n]++
					}
				}
			}
			return out
		}
		eventually(t, 10*time.Second, "record 8", func() bool { return succeeded()[8] > 0 })
		for i := 1; i <= 8; i++ {
			if want := map[bool]int{true: 0, false: 1}[i == 6]; succeeded()[i] != want {
				t.Errorf("record %d succeeded %d times, want %d (calls %v)", i, succeeded()[i], want, numbers(rec.all()))
			}
		}
		b := failure.BatchInfo
		if failure.RequestContext.Condition != "RetryAttemptsExhausted" || failure.ResponseContext.FunctionError != "Unhandled" ||
			b.BatchSize != 1 || b.StartSequenceNumber != b.EndSequenceNumber || b.StreamARN != streamARN || b.ShardID == "" ||
			failure.RequestContext.FunctionARN != "arn:aws:lambda:us-east-1:123456789012:function:Dispatch" {
			t.Errorf("failure record %+v, want the poison record alone after exhausted retries", failure)
		}
	})
}

package eventsource

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
)

// DefaultStreamInterval is how often Stream polls a shard with nothing pending: Lambda polls
// four times a second.
const DefaultStreamInterval = 250 * time.Millisecond

// DefaultStreamBatchSize is Lambda's default batch size for a DynamoDB stream.
const DefaultStreamBatchSize = 100

// Stream is a DynamoDB stream event source mapping read through the DynamoDB Streams API, for
// an emulator whose stream records every write. It follows the shards of DescribeStream, a
// child only after its parent is read to its end, and reads each from StartingPosition
// (shards that appear later from their start). Records pass FilterPatterns or are skipped, as
// Lambda skips them. Handler gets up to BatchSize records of one shard, in sequence order,
// once BatchSize are pending or BatchWindow has passed since the first.
//
// A failed invocation (error, panic, timeout) retries the batch; with
// BisectBatchOnFunctionError the retries take halves until the failing record stands alone.
// With ReportBatchItemFailures it retries from the lowest failed sequence number. An
// invocation that makes no progress counts as a retry of the batch's records; after
// MaximumRetryAttempts (negative: no limit) the batch is sent to OnFailureQueueURL as
// Lambda's failure record and skipped. Shards are read one after another by one goroutine,
// unlike Lambda's concurrent pollers: order within a shard is the same.
//
// Use a *Stream: it must not be copied once used.
type Stream struct {
	Client    *dynamodbstreams.Client
	StreamARN string
	// StartingPosition is LATEST (empty) or TRIM_HORIZON, for the shards open at start.
	StartingPosition string
	// BatchSize is the most records per invocation, 1 to 10000; zero means
	// DefaultStreamBatchSize.
	BatchSize int
	// BatchWindow is how long to gather records before invoking with fewer than BatchSize.
	BatchWindow time.Duration
	// Interval is the time between polls of an idle shard; zero means DefaultStreamInterval.
	Interval                   time.Duration
	FilterPatterns             []string
	ReportBatchItemFailures    bool
	BisectBatchOnFunctionError bool
	MaximumRetryAttempts       int
	// SQS and OnFailureQueueURL are the on-failure destination; without them a batch that
	// exhausted its retries is only logged.
	SQS               *sqs.Client
	OnFailureQueueURL string
	Handler           DynamoDBHandler
	// FunctionName names the function in logs and in the lambdacontext's InvokedFunctionArn.
	FunctionName string
	// Timeout is the function's timeout; zero means DefaultTimeout.
	Timeout time.Duration
	// Log receives the mapping's log; nil means slog.Default().
	Log *slog.Logger

	setup     sync.Mutex
	ready     bool
	batchSize int
	filter    *Filter
	region    string
	fn        Function
	log       *slog.Logger
	shards    map[string]*shard
	order     []string // shard ids as DescribeStream listed them
	described time.Time
}

// shard is one shard's read position and the records read but not yet delivered.
type shard struct {
	id, parent string
	iterator   *string // nil once the shard is closed and read to its end
	started    bool
	lastRead   string
	pending    []events.DynamoDBEventRecord
	since      time.Time // when the first pending record was read
	limit      int       // the batch size while bisecting; 0 is BatchSize
	narrowTo   string    // bisect until the records up to this sequence number are done
	attempts   int       // invocations without progress
	done       bool
}

// describeEvery is how often the shards are listed again, for splits.
const describeEvery = 10 * time.Second

// Run polls the stream until ctx is cancelled. It returns an error at once when the mapping is
// misconfigured or the stream cannot be described; later failures are logged and retried.
func (s *Stream) Run(ctx context.Context) error {
	if err := s.init(ctx); err != nil {
		return err
	}
	interval := cmp.Or(s.Interval, DefaultStreamInterval)
	for ctx.Err() == nil {
		n, _ := s.Once(ctx) // logged
		if n == 0 && !sleep(ctx, interval) {
			break
		}
	}
	return nil
}

// Once reads each readable shard once and invokes the handler with what is due. It returns
// the number of records the handler was invoked with.
func (s *Stream) Once(ctx context.Context) (int, error) {
	if err := s.init(ctx); err != nil {
		return 0, err
	}
	var errs []error
	if time.Since(s.described) >= describeEvery {
		errs = append(errs, s.describe(ctx))
	}
	total := 0
	for _, id := range s.order {
		sh := s.shards[id]
		if sh.done {
			continue
		}
		if p, ok := s.shards[sh.parent]; ok && !p.done {
			continue
		}
		n, err := s.poll(ctx, sh)
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

func (s *Stream) init(ctx context.Context) error {
	s.setup.Lock()
	defer s.setup.Unlock()
	if s.ready {
		return nil
	}
	s.batchSize = cmp.Or(s.BatchSize, DefaultStreamBatchSize)
	switch {
	case s.Client == nil:
		return errors.New("stream: Client is nil")
	case s.StreamARN == "":
		return errors.New("stream: StreamARN is empty")
	case s.Handler == nil:
		return fmt.Errorf("stream %s: Handler is nil", s.StreamARN)
	case s.batchSize < 1 || s.batchSize > 10000:
		return fmt.Errorf("stream %s: BatchSize %d is not between 1 and 10000", s.StreamARN, s.batchSize)
	case s.StartingPosition != "" && s.StartingPosition != "LATEST" && s.StartingPosition != "TRIM_HORIZON":
		return fmt.Errorf("stream %s: StartingPosition %q is not LATEST or TRIM_HORIZON", s.StreamARN, s.StartingPosition)
	case (s.SQS == nil) != (s.OnFailureQueueURL == ""):
		return fmt.Errorf("stream %s: the on-failure destination needs both SQS and OnFailureQueueURL", s.StreamARN)
	}
	f, err := CompileFilter(s.FilterPatterns)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.StreamARN, err)
	}
	s.filter = f
	a, _ := arn.Parse(s.StreamARN) // empty parts when it is no ARN
	s.region = cmp.Or(a.Region, s.Client.Options().Region)
	s.fn = NewFunction(s.FunctionName, s.region, a.AccountID, s.Timeout)
	s.log = cmp.Or(s.Log, slog.Default()).With("function", s.FunctionName, "stream", s.StreamARN)
	s.shards = map[string]*shard{}
	if err := s.describe(ctx); err != nil {
		return err
	}
	s.ready = true
	return nil
}

// describe adds the shards the stream lists that are not known yet.
func (s *Stream) describe(ctx context.Context) error {
	first := len(s.shards) == 0 && !s.ready
	var start *string
	for {
		out, err := s.Client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &s.StreamARN, ExclusiveStartShardId: start})
		if err != nil {
			s.log.WarnContext(ctx, "stream: describe failed", "err", err.Error())
			return fmt.Errorf("stream %s: describe: %w", s.StreamARN, err)
		}
		for _, d := range out.StreamDescription.Shards {
			id := aws.ToString(d.ShardId)
			if _, ok := s.shards[id]; !ok {
				// Shards open at start begin at StartingPosition; later ones (splits) at their start.
				sh := &shard{id: id, parent: aws.ToString(d.ParentShardId)}
				if !first {
					sh.started = true // read from TRIM_HORIZON
				}
				s.shards[id] = sh
				s.order = append(s.order, id)
			}
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	s.described = time.Now()
	return nil
}

// iterate gets sh an iterator: after the last record read, or where it starts.
func (s *Stream) iterate(ctx context.Context, sh *shard) error {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &s.StreamARN, ShardId: &sh.id}
	switch {
	case sh.lastRead != "":
		in.ShardIteratorType, in.SequenceNumber = streamtypes.ShardIteratorTypeAfterSequenceNumber, &sh.lastRead
	case !sh.started && s.StartingPosition != "TRIM_HORIZON":
		in.ShardIteratorType = streamtypes.ShardIteratorTypeLatest
	default:
		in.ShardIteratorType = streamtypes.ShardIteratorTypeTrimHorizon
	}
	out, err := s.Client.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("stream %s: shard iterator of %s: %w", s.StreamARN, sh.id, err)
	}
	sh.iterator, sh.started = out.ShardIterator, true
	return nil
}

// poll reads sh when it has fewer than a batch pending, and invokes when a batch is due.
func (s *Stream) poll(ctx context.Context, sh *shard) (int, error) {
	closed := sh.started && sh.iterator == nil
	if !closed && len(sh.pending) < s.batchSize {
		if !sh.started || sh.iterator == nil {
			if err := s.iterate(ctx, sh); err != nil {
				s.log.WarnContext(ctx, "stream: shard iterator failed", "shard", sh.id, "err", err.Error())
				return 0, err
			}
		}
		out, err := s.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: sh.iterator})
		if _, expired := errors.AsType[*streamtypes.ExpiredIteratorException](err); expired {
			sh.iterator = nil // the next poll resumes after lastRead
			return 0, nil
		}
		if err != nil {
			s.log.WarnContext(ctx, "stream: get records failed", "shard", sh.id, "err", err.Error())
			return 0, fmt.Errorf("stream %s: get records of %s: %w", s.StreamARN, sh.id, err)
		}
		for _, r := range out.Records {
			rec := s.record(r)
			sh.lastRead = rec.Change.SequenceNumber
			ok, err := s.filter.Match(rec)
			if err != nil || !ok {
				continue // Lambda drops what the filter does not pass
			}
			if len(sh.pending) == 0 {
				sh.since = time.Now()
			}
			sh.pending = append(sh.pending, rec)
		}
		sh.iterator = out.NextShardIterator
		closed = sh.iterator == nil
	}
	if len(sh.pending) == 0 {
		sh.done = closed
		return 0, nil
	}
	limit := cmp.Or(sh.limit, s.batchSize)
	if len(sh.pending) < limit && time.Since(sh.since) < s.BatchWindow && !closed {
		return 0, nil
	}
	batch := sh.pending[:min(limit, len(sh.pending))]
	return len(batch), s.deliver(ctx, sh, batch)
}

// deliver invokes the handler with batch, the head of sh.pending, and applies the outcome.
func (s *Stream) deliver(ctx context.Context, sh *shard, batch []events.DynamoDBEventRecord) error {
	resp, err := invoke(ctx, s.fn, s.Handler, events.DynamoDBEvent{Records: batch})
	done := len(batch)
	if err == nil && s.ReportBatchItemFailures {
		for _, f := range resp.BatchItemFailures {
			i := slices.IndexFunc(batch, func(r events.DynamoDBEventRecord) bool { return r.Change.SequenceNumber == f.ItemIdentifier })
			if i < 0 {
				err = fmt.Errorf("batch item failure names %q, which is not a sequence number of the batch; the whole batch failed", f.ItemIdentifier)
				break
			}
			done = min(done, i)
		}
	}
	if err != nil {
		done = 0
		s.log.ErrorContext(ctx, "stream: invocation failed", append([]any{"shard", sh.id, "records", len(batch),
			"first_sequence_number", batch[0].Change.SequenceNumber, "last_sequence_number", batch[len(batch)-1].Change.SequenceNumber}, ErrorAttrs(err)...)...)
	}
	if done > 0 {
		last := batch[done-1].Change.SequenceNumber
		sh.pending, sh.attempts = sh.pending[done:], 0
		if sh.narrowTo == "" || seqLess(sh.narrowTo, last) || sh.narrowTo == last {
			sh.limit, sh.narrowTo = 0, ""
		}
		sh.since = time.Now()
		if done == len(batch) {
			return nil
		}
		s.log.WarnContext(ctx, "stream: partial batch failure; records from the first failed one on will be retried",
			"shard", sh.id, "from_sequence_number", batch[done].Change.SequenceNumber, "retried", len(batch)-done)
		return nil
	}
	sh.attempts++
	if s.MaximumRetryAttempts >= 0 && sh.attempts > s.MaximumRetryAttempts {
		s.giveUp(ctx, sh, batch, err)
		sh.pending, sh.attempts, sh.limit, sh.narrowTo = sh.pending[len(batch):], 0, 0, ""
		sh.since = time.Now()
		return fmt.Errorf("invoke %s: %w", s.fn, cmp.Or(err, errors.New("batch item failure")))
	}
	if err != nil && s.BisectBatchOnFunctionError && len(batch) > 1 {
		if sh.narrowTo == "" {
			sh.narrowTo = batch[len(batch)-1].Change.SequenceNumber
		}
		sh.limit = (len(batch) + 1) / 2
	}
	if err != nil {
		return fmt.Errorf("invoke %s: %w", s.fn, err)
	}
	return nil
}

// seqLess orders sequence numbers: decimal strings, shorter is smaller.
func seqLess(a, b string) bool { return len(a) < len(b) || len(a) == len(b) && a < b }

// giveUp sends Lambda's on-failure record of batch to the destination, or logs it.
func (s *Stream) giveUp(ctx context.Context, sh *shard, batch []events.DynamoDBEventRecord, err error) {
	first, last := batch[0], batch[len(batch)-1]
	rec := FailureRecord{Version: "1.0", Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	rec.RequestContext.RequestID = uuid.NewString()
	rec.RequestContext.FunctionARN = s.fn.ARN
	rec.RequestContext.Condition = "RetryAttemptsExhausted"
	rec.RequestContext.ApproximateInvokeCount = sh.attempts
	rec.ResponseContext.StatusCode = 200
	rec.ResponseContext.ExecutedVersion = "$LATEST"
	if err != nil {
		rec.ResponseContext.FunctionError = "Unhandled"
	}
	rec.BatchInfo = StreamBatchInfo{
		ShardID: sh.id, StartSequenceNumber: first.Change.SequenceNumber, EndSequenceNumber: last.Change.SequenceNumber,
		ApproximateArrivalOfFirstRecord: first.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
		ApproximateArrivalOfLastRecord:  last.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
		BatchSize:                       len(batch), StreamARN: s.StreamARN,
	}
	attrs := []any{"shard", sh.id, "first_sequence_number", first.Change.SequenceNumber,
		"last_sequence_number", last.Change.SequenceNumber, "attempts", sh.attempts}
	if s.SQS == nil {
		s.log.ErrorContext(ctx, "stream: retries exhausted; the batch is skipped", attrs...)
		return
	}
	body, _ := json.Marshal(rec) // plain strings and numbers
	if _, serr := s.SQS.SendMessage(context.WithoutCancel(ctx), &sqs.SendMessageInput{QueueUrl: &s.OnFailureQueueURL, MessageBody: aws.String(string(body))}); serr != nil {
		s.log.ErrorContext(ctx, "stream: retries exhausted and the on-failure destination failed; the batch is skipped",
			append(attrs, "err", serr.Error())...)
		return
	}
	s.log.ErrorContext(ctx, "stream: retries exhausted; the batch went to the on-failure destination", attrs...)
}

// FailureRecord is what Lambda sends an event source mapping's on-failure destination.
type FailureRecord struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError,omitempty"`
	} `json:"responseContext"`
	Version   string          `json:"version"`
	Timestamp string          `json:"timestamp"`
	BatchInfo StreamBatchInfo `json:"DDBStreamBatchInfo"`
}

// StreamBatchInfo locates the failed records in the stream.
type StreamBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// record presents a stream record as Lambda does: with the stream's ARN as eventSourceARN.
func (s *Stream) record(r streamtypes.Record) events.DynamoDBEventRecord {
	rec := events.DynamoDBEventRecord{
		AWSRegion: cmp.Or(aws.ToString(r.AwsRegion), s.region), EventID: aws.ToString(r.EventID),
		EventName: string(r.EventName), EventSource: aws.ToString(r.EventSource),
		EventVersion: aws.ToString(r.EventVersion), EventSourceArn: s.StreamARN,
	}
	if id := r.UserIdentity; id != nil {
		rec.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(id.Type), PrincipalID: aws.ToString(id.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		rec.Change = events.DynamoDBStreamRecord{
			Keys: streamImage(d.Keys), NewImage: streamImage(d.NewImage), OldImage: streamImage(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if t := d.ApproximateCreationDateTime; t != nil {
			rec.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *t}
		}
	}
	return rec
}

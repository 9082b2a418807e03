package eventsource

import (
	"cmp"
	"context"
	"crypto/md5" //nolint:gosec // SQS defines its checksums as MD5.
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSHandler is the handler of a function with an SQS event source.
type SQSHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

const (
	// MaxSQSBatchSize is the largest BatchSize Lambda accepts for a standard queue.
	MaxSQSBatchSize = 10000
	// maxReceive is the most messages one ReceiveMessage returns.
	maxReceive = 10
	// receiveWait is the long poll in seconds. Lambda waits 20 s; one second keeps shutdown
	// prompt and notices messages whose visibility timeout expired, which the embedded
	// emulator does not announce to a waiting receive.
	receiveWait = 1
)

// SQS is an SQS event source mapping: it polls a queue and invokes Handler with batches of
// messages, as Lambda does for a function with an SQS event. When the handler fails (error,
// panic, timeout) the whole batch stays in the queue and reappears after the visibility
// timeout. With ReportBatchItemFailures the messages the response lists stay and all others
// are deleted; a listed id that is empty or not in the batch fails the whole batch, as in
// AWS. Otherwise every message is deleted. The queue itself moves a message received more
// often than its redrive policy allows to the dead-letter queue (the embedded emulator does,
// as AWS), so the mapping needs no redrive of its own.
//
// Use a *SQS: it must not be copied once used.
type SQS struct {
	Client   *sqs.Client
	QueueURL string
	// QueueARN is the eventSourceARN of the records; empty asks the queue.
	QueueARN string
	// BatchSize is the most messages per invocation: 1 to 10, or up to MaxSQSBatchSize with a
	// BatchWindow of at least one second (AWS's rule). Zero means 10.
	BatchSize int
	// BatchWindow is how long to gather messages from the first one received before invoking
	// with a batch that is not full. Zero invokes with what one receive returns.
	BatchWindow time.Duration
	// ReportBatchItemFailures: without it, the handler's response is ignored.
	ReportBatchItemFailures bool
	Handler                 SQSHandler
	// FunctionName names the function in logs and in the lambdacontext's InvokedFunctionArn.
	FunctionName string
	// Timeout is the function's timeout; zero means DefaultTimeout.
	Timeout time.Duration
	// Log receives the mapping's log; nil means slog.Default().
	Log *slog.Logger

	setup     sync.Mutex
	ready     bool
	batchSize int
	arn       string
	region    string
	fn        Function
	log       *slog.Logger
}

// Run polls the queue, one batch in flight at a time, until ctx is cancelled, and returns
// once the invocation in flight has ended. Errors of the queue are logged and retried.
func (s *SQS) Run(ctx context.Context) error {
	if err := s.init(ctx); err != nil {
		return err
	}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		msgs, err := s.batch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			s.log.WarnContext(ctx, "sqs event source: receive failed", "err", err.Error(), "retry_in", backoff.String())
			sleep(ctx, backoff)
			continue
		}
		backoff = 0
		// deliver logs failed invocations itself.
		_, _ = s.deliver(ctx, msgs)
	}
	return nil
}

// Once receives one batch (waiting up to a second for a first message, and BatchWindow for
// more) and delivers it. It returns the number of messages the handler was invoked with, and
// an error when receiving or the invocation as a whole failed (not for partial failures).
func (s *SQS) Once(ctx context.Context) (int, error) {
	if err := s.init(ctx); err != nil {
		return 0, err
	}
	msgs, err := s.batch(ctx)
	if err != nil {
		return 0, err
	}
	return s.deliver(ctx, msgs)
}

func (s *SQS) init(ctx context.Context) error {
	s.setup.Lock()
	defer s.setup.Unlock()
	if s.ready {
		return nil
	}
	batch := cmp.Or(s.BatchSize, maxReceive)
	switch {
	case s.Client == nil:
		return errors.New("sqs event source: Client is nil")
	case s.QueueURL == "":
		return errors.New("sqs event source: QueueURL is empty")
	case s.Handler == nil:
		return fmt.Errorf("sqs event source %s: Handler is nil", s.QueueURL)
	case batch < 1 || batch > MaxSQSBatchSize:
		return fmt.Errorf("sqs event source %s: BatchSize %d is not between 1 and %d", s.QueueURL, batch, MaxSQSBatchSize)
	case batch > maxReceive && s.BatchWindow < time.Second:
		return fmt.Errorf("sqs event source %s: BatchSize %d needs a BatchWindow of at least 1s", s.QueueURL, batch)
	case s.BatchWindow < 0 || s.BatchWindow > 5*time.Minute:
		return fmt.Errorf("sqs event source %s: BatchWindow %s is not between 0 and 5m", s.QueueURL, s.BatchWindow)
	}
	s.batchSize = batch
	s.arn = s.QueueARN
	if s.arn == "" {
		out, err := s.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       &s.QueueURL,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return fmt.Errorf("sqs event source %s: get queue ARN: %w", s.QueueURL, err)
		}
		s.arn = out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	}
	queue, _ := arn.Parse(s.arn) // empty parts when it is no ARN
	// The region the client talks to is where the queue is; the embedded emulator puts
	// us-east-1 into every queue ARN whatever the region.
	s.region = cmp.Or(s.Client.Options().Region, queue.Region)
	s.fn = NewFunction(s.FunctionName, s.region, queue.AccountID, s.Timeout)
	s.log = cmp.Or(s.Log, slog.Default()).With("function", s.FunctionName, "queue", s.QueueURL)
	s.ready = true
	return nil
}

// batch receives up to BatchSize messages: one receive, or, with a BatchWindow, receives
// until the batch is full or the window that opened with the first message has passed.
func (s *SQS) batch(ctx context.Context) ([]sqstypes.Message, error) {
	msgs, err := s.receive(ctx, min(s.batchSize, maxReceive))
	if err != nil || len(msgs) == 0 || s.BatchWindow <= 0 {
		return msgs, err
	}
	end := time.Now().Add(s.BatchWindow)
	for len(msgs) < s.batchSize && time.Now().Before(end) {
		more, err := s.receive(ctx, min(s.batchSize-len(msgs), maxReceive))
		if err != nil {
			// Deliver what was gathered rather than let it wait out its visibility timeout;
			// the next receive reports the error.
			break
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

func (s *SQS) receive(ctx context.Context, n int) ([]sqstypes.Message, error) {
	out, err := s.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &s.QueueURL,
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             receiveWait,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// deliver invokes the handler with msgs and deletes what it processed. See [SQS].
func (s *SQS) deliver(ctx context.Context, msgs []sqstypes.Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = aws.ToString(m.MessageId)
	}
	resp, err := invoke(ctx, s.fn, s.Handler, s.event(msgs))
	if err != nil {
		s.log.ErrorContext(ctx, "sqs event source: invocation failed; the batch returns to the queue after its visibility timeout",
			append([]any{"message_ids", ids}, ErrorAttrs(err)...)...)
		return len(msgs), fmt.Errorf("invoke %s: %w", s.fn, err)
	}
	done := msgs
	if s.ReportBatchItemFailures && len(resp.BatchItemFailures) > 0 {
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			if f.ItemIdentifier == "" || !slices.Contains(ids, f.ItemIdentifier) {
				err := fmt.Errorf("invoke %s: batch item failure names %q, which is not a message of the batch; the whole batch failed",
					s.fn, f.ItemIdentifier)
				s.log.ErrorContext(ctx, "sqs event source: invalid partial batch response; the batch returns to the queue after its visibility timeout",
					"message_ids", ids, "err", err.Error())
				return len(msgs), err
			}
			failed[f.ItemIdentifier] = true
		}
		done = slices.DeleteFunc(slices.Clone(msgs), func(m sqstypes.Message) bool { return failed[aws.ToString(m.MessageId)] })
		s.log.WarnContext(ctx, "sqs event source: partial batch failure; the failed messages return to the queue after its visibility timeout",
			"failed", slices.Sorted(maps.Keys(failed)), "succeeded", len(done))
	}
	if err := s.delete(ctx, done); err != nil {
		s.log.ErrorContext(ctx, "sqs event source: delete failed; the messages will be delivered again", "err", err.Error())
		return len(msgs), err
	}
	return len(msgs), nil
}

// delete deletes msgs, ten per DeleteMessageBatch. It goes on when ctx is cancelled: the
// invocation succeeded and its messages must not come back.
func (s *SQS) delete(ctx context.Context, msgs []sqstypes.Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	for chunk := range slices.Chunk(msgs, maxReceive) {
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := s.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &s.QueueURL, Entries: entries})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			errs = append(errs, fmt.Errorf("delete message %s: %s: %s",
				aws.ToString(chunk[i].MessageId), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

func (s *SQS) event(msgs []sqstypes.Message) events.SQSEvent {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		attrs := map[string]string{}
		maps.Copy(attrs, m.Attributes)
		mattrs := make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes))
		for k, v := range m.MessageAttributes {
			mattrs[k] = events.SQSMessageAttribute{
				StringValue:      v.StringValue,
				BinaryValue:      v.BinaryValue,
				StringListValues: nonNil(v.StringListValues),
				BinaryListValues: nonNil(v.BinaryListValues),
				DataType:         aws.ToString(v.DataType),
			}
		}
		md5Body := aws.ToString(m.MD5OfBody)
		if md5Body == "" {
			sum := md5.Sum([]byte(aws.ToString(m.Body))) //nolint:gosec // defined by SQS
			md5Body = hex.EncodeToString(sum[:])
		}
		md5Attrs := aws.ToString(m.MD5OfMessageAttributes)
		if md5Attrs == "" && len(m.MessageAttributes) > 0 {
			md5Attrs = MessageAttributesMD5(m.MessageAttributes)
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              md5Body,
			Md5OfMessageAttributes: md5Attrs,
			Attributes:             attrs,
			MessageAttributes:      mattrs,
			EventSourceARN:         s.arn,
			EventSource:            "aws:sqs",
			AWSRegion:              s.region,
		})
	}
	return ev
}

// MessageAttributesMD5 is the MD5OfMessageAttributes SQS computes for attrs: the digest of
// the attributes sorted by name, each as its name, data type, transport type (1 for String
// and Number, 2 for Binary) and value, each variable part after its 4-byte big-endian length.
func MessageAttributesMD5(attrs map[string]sqstypes.MessageAttributeValue) string {
	h := md5.New() //nolint:gosec // defined by SQS
	put := func(b []byte) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(b)))
		h.Write(b)
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		put([]byte(name))
		put([]byte(aws.ToString(v.DataType)))
		if v.BinaryValue != nil {
			h.Write([]byte{2})
			put(v.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(aws.ToString(v.StringValue)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// sleep waits d or until ctx is done, and reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

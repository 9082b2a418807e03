package eventsource

import (
	"context"
	"crypto/md5" //nolint:gosec // SQS checksums
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

type testQueue struct {
	client   *sqs.Client
	url, arn string
}

// newQueue creates a queue with attrs directly through the SDK.
func newQueue(t *testing.T, cfg aws.Config, attrs map[string]string) testQueue {
	t.Helper()
	c := sqs.NewFromConfig(cfg)
	out, err := c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(unique(t, "q")), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	a, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return testQueue{client: c, url: aws.ToString(out.QueueUrl), arn: a.Attributes["QueueArn"]}
}

// send sends bodies and returns their message ids.
func (q testQueue) send(t *testing.T, bodies ...string) []string {
	t.Helper()
	var ids []string
	for _, b := range bodies {
		out, err := q.client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: aws.String(b)})
		if err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}
	return ids
}

// counts returns the queue's visible and in-flight message counts.
func (q testQueue) counts(t *testing.T) (visible, inFlight int) {
	t.Helper()
	out, err := q.client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: &q.url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight
}

// drain delivers with s until want messages were delivered in total, within timeout.
func drain(t *testing.T, s *SQS, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := 0
	for got < want {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d messages within %s, want %d", got, timeout, want)
		}
		n, err := s.Once(t.Context())
		if err != nil {
			t.Fatalf("Once: %v", err)
		}
		got += n
	}
}

func bodies(ev events.SQSEvent) []string {
	var out []string
	for _, r := range ev.Records {
		out = append(out, r.Body)
	}
	return out
}

func TestSQSBatchSizeAndEvent(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	q := newQueue(t, cfg, nil)
	sent, err := q.client.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl:    &q.url,
		MessageBody: aws.String(`{"job":"first"}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"tenant": {DataType: aws.String("String"), StringValue: aws.String("t1")},
			"blob":   {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rest := q.send(t, "m2", "m3", "m4", "m5", "m6", "m7")

	var rec recorder[events.SQSEvent]
	type lc struct {
		arn      string
		deadline time.Duration
	}
	var ctxs recorder[lc]
	s := &SQS{
		Client: q.client, QueueURL: q.url, BatchSize: 3, FunctionName: "Worker", Timeout: 7 * time.Second, Log: testLog(),
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			rec.add(ev)
			c, _ := lambdacontext.FromContext(ctx)
			dl, _ := ctx.Deadline()
			ctxs.add(lc{arn: c.InvokedFunctionArn, deadline: time.Until(dl)})
			return events.SQSEventResponse{}, nil
		},
	}
	drain(t, s, 7, 10*time.Second)

	calls := rec.all()
	var got []string
	for i, ev := range calls {
		if len(ev.Records) > 3 || len(ev.Records) == 0 {
			t.Errorf("batch %d has %d records, want 1 to 3", i, len(ev.Records))
		}
		got = append(got, bodies(ev)...)
	}
	if len(calls[0].Records) != 3 {
		t.Errorf("first batch has %d records, want 3 (7 were waiting)", len(calls[0].Records))
	}
	want := append([]string{`{"job":"first"}`}, "m2", "m3", "m4", "m5", "m6", "m7")
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if v, f := q.counts(t); v != 0 || f != 0 {
		t.Errorf("queue holds %d visible and %d in-flight messages after success, want none", v, f)
	}

	var first events.SQSMessage
	for _, ev := range calls {
		for _, r := range ev.Records {
			if r.MessageId == aws.ToString(sent.MessageId) {
				first = r
			}
		}
	}
	if first.MessageId == "" {
		t.Fatalf("message %s not delivered (other ids %v)", aws.ToString(sent.MessageId), rest)
	}
	sum := md5.Sum([]byte(first.Body)) //nolint:gosec // SQS checksum
	if first.EventSource != "aws:sqs" || first.EventSourceARN != q.arn || first.AWSRegion != cfg.Region ||
		first.ReceiptHandle == "" || first.Md5OfBody != hex.EncodeToString(sum[:]) {
		t.Errorf("record = %+v, want eventSource aws:sqs, ARN %s, region %s, a receipt handle and the body's MD5", first, q.arn, cfg.Region)
	}
	if first.Attributes["ApproximateReceiveCount"] != "1" || first.Attributes["SentTimestamp"] == "" ||
		first.Attributes["ApproximateFirstReceiveTimestamp"] == "" {
		t.Errorf("attributes = %v, want ApproximateReceiveCount 1, SentTimestamp and ApproximateFirstReceiveTimestamp", first.Attributes)
	}
	if ts, err := strconv.ParseInt(first.Attributes["SentTimestamp"], 10, 64); err != nil || time.Since(time.UnixMilli(ts)) > time.Minute {
		t.Errorf("SentTimestamp %q is not a recent epoch in milliseconds", first.Attributes["SentTimestamp"])
	}
	ma, err := json.Marshal(first.MessageAttributes)
	if err != nil {
		t.Fatal(err)
	}
	wantMA := `{"blob":{"binaryValue":"AAEC","stringListValues":[],"binaryListValues":[],"dataType":"Binary"},` +
		`"tenant":{"stringValue":"t1","stringListValues":[],"binaryListValues":[],"dataType":"String"}}`
	if string(ma) != wantMA {
		t.Errorf("messageAttributes = %s\nwant %s", ma, wantMA)
	}
	if want := MessageAttributesMD5(map[string]sqstypes.MessageAttributeValue{
		"tenant": {DataType: aws.String("String"), StringValue: aws.String("t1")},
		"blob":   {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
	}); first.Md5OfMessageAttributes != want {
		t.Errorf("md5OfMessageAttributes = %q, want %q", first.Md5OfMessageAttributes, want)
	}
	for _, c := range ctxs.all() {
		if c.arn != "arn:aws:lambda:"+cfg.Region+":000000000000:function:Worker" || c.deadline < 6*time.Second || c.deadline > 7*time.Second {
			t.Errorf("handler context: function ARN %q, deadline in %s; want the function's ARN and about 7s", c.arn, c.deadline)
		}
	}
}

func TestMessageAttributesMD5(t *testing.T) {
	// The value SQS returns for these attributes, as other SQS implementations verify it.
	got := MessageAttributesMD5(map[string]sqstypes.MessageAttributeValue{
		"ordinal":  {DataType: aws.String("Number"), StringValue: aws.String("1")},
		"category": {DataType: aws.String("String"), StringValue: aws.String("test")},
	})
	if want := "d21ae90c49061e927f57df5f5d72be1f"; got != want {
		t.Errorf("MessageAttributesMD5 = %s, want %s", got, want)
	}
}

func TestSQSPartialBatchFailure(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	q := newQueue(t, cfg, map[string]string{"VisibilityTimeout": "1"})
	q.send(t, "a", "b", "c")

	type call struct {
		at      time.Time
		records []events.SQSMessage
	}
	var rec recorder[call]
	s := &SQS{
		Client: q.client, QueueURL: q.url, QueueARN: q.arn, ReportBatchItemFailures: true, Log: testLog(),
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			rec.add(call{at: time.Now(), records: ev.Records})
			var resp events.SQSEventResponse
			for _, r := range ev.Records {
				if r.Body == "b" && r.Attributes["ApproximateReceiveCount"] == "1" {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
			return resp, nil
		},
	}
	drain(t, s, 4, 8*time.Second) // a, b, c, then b again

	calls := rec.all()
	if got := bodies(events.SQSEvent{Records: calls[0].records}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first batch = %v, want [a b c]", got)
	}
	var again []events.SQSMessage
	for _, c := range calls[1:] {
		again = append(again, c.records...)
	}
	if len(again) != 1 || again[0].Body != "b" || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("redelivered %+v, want only b, received a second time", again)
	}
	if d := calls[len(calls)-1].at.Sub(calls[0].at); d < 900*time.Millisecond {
		t.Errorf("b came back after %s, before the 1s visibility timeout", d)
	}
	if v, f := q.counts(t); v != 0 || f != 0 {
		t.Errorf("queue holds %d visible and %d in-flight messages, want none", v, f)
	}
}

// TestSQSWholeBatchFailure checks every way an invocation fails as a whole: the messages
// stay, come back after the visibility timeout, and are deleted once a later invocation
// succeeds.
func TestSQSWholeBatchFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		report  bool
		timeout time.Duration
		fail    func(ev events.SQSEvent) (events.SQSEventResponse, error)
		wantErr string
	}{
		{"handler error", false, 0, func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{}, errors.New("boom")
		}, "boom"},
		{"panic", false, 0, func(events.SQSEvent) (events.SQSEventResponse, error) {
			panic("kaput")
		}, "handler panicked: kaput"},
		{"timeout", false, 50 * time.Millisecond, func(events.SQSEvent) (events.SQSEventResponse, error) {
			time.Sleep(100 * time.Millisecond)
			return events.SQSEventResponse{}, nil
		}, "Task timed out after 0.05 seconds"},
		{"unknown item identifier", true, 0, func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: "not-in-batch"}}}, nil
		}, `names "not-in-batch"`},
		{"empty item identifier", true, 0, func(events.SQSEvent) (events.SQSEventResponse, error) {
			return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ""}}}, nil
		}, `names ""`},
	}
	cfg := startAWS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := newQueue(t, cfg, map[string]string{"VisibilityTimeout": "1"})
			q.send(t, "x", "y")
			var rec recorder[events.SQSEvent]
			s := &SQS{
				Client: q.client, QueueURL: q.url, ReportBatchItemFailures: tt.report, Timeout: tt.timeout, Log: testLog(),
				Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
					if rec.add(ev) == 1 {
						return tt.fail(ev)
					}
					return events.SQSEventResponse{}, nil
				},
			}
			n, err := s.Once(t.Context())
			if n != 2 || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Once = %d, %v; want 2 and an error containing %q", n, err, tt.wantErr)
			}
			if v, f := q.counts(t); v != 0 || f != 2 {
				t.Errorf("after the failure the queue holds %d visible and %d in-flight messages, want 0 and 2", v, f)
			}
			drain(t, s, 2, 8*time.Second)
			calls := rec.all()
			last := calls[len(calls)-1]
			if !slices.Equal(slices.Sorted(slices.Values(bodies(last))), []string{"x", "y"}) {
				t.Errorf("redelivered %v, want x and y", bodies(last))
			}
			for _, r := range last.Records {
				if r.Attributes["ApproximateReceiveCount"] != "2" {
					t.Errorf("redelivered %s with receive count %s, want 2", r.Body, r.Attributes["ApproximateReceiveCount"])
				}
			}
			if v, f := q.counts(t); v != 0 || f != 0 {
				t.Errorf("queue holds %d visible and %d in-flight messages after success, want none", v, f)
			}
		})
	}
}

func TestSQSRedriveToDeadLetterQueue(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	dlq := newQueue(t, cfg, nil)
	policy := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, dlq.arn)
	q := newQueue(t, cfg, map[string]string{"VisibilityTimeout": "1", "RedrivePolicy": policy})
	id := q.send(t, "poison")[0]

	var counts recorder[string]
	s := &SQS{
		Client: q.client, QueueURL: q.url, Log: testLog(),
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			for _, r := range ev.Records {
				counts.add(r.Attributes["ApproximateReceiveCount"])
			}
			return events.SQSEventResponse{}, errors.New("always fails")
		},
	}
	background(t, s.Run)

	var dead []sqstypes.Message
	eventually(t, 10*time.Second, "the message in the dead-letter queue", func() bool {
		out, err := dlq.client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: &dlq.url, WaitTimeSeconds: 1, MaxNumberOfMessages: 10,
		})
		if err != nil {
			t.Fatalf("ReceiveMessage on the DLQ: %v", err)
		}
		dead = append(dead, out.Messages...)
		return len(dead) > 0
	})
	if len(dead) != 1 || aws.ToString(dead[0].Body) != "poison" || aws.ToString(dead[0].MessageId) != id {
		t.Errorf("dead-letter queue holds %+v, want the poison message %s", dead, id)
	}
	if got := counts.all(); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("handler saw receive counts %v, want [1 2] (maxReceiveCount 2)", got)
	}
	if v, f := q.counts(t); v != 0 || f != 0 {
		t.Errorf("source queue holds %d visible and %d in-flight messages, want none", v, f)
	}
}

func TestSQSBatchWindow(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	q := newQueue(t, cfg, nil)
	var want []string
	for i := range 12 {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	q.send(t, want...)
	var rec recorder[events.SQSEvent]
	s := &SQS{
		Client: q.client, QueueURL: q.url, BatchSize: 15, BatchWindow: time.Second, Log: testLog(),
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			rec.add(ev)
			return events.SQSEventResponse{}, nil
		},
	}
	start := time.Now()
	n, err := s.Once(t.Context())
	if err != nil || n != 12 {
		t.Fatalf("Once = %d, %v; want one batch of all 12 messages", n, err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("batch of 12 (BatchSize 15) invoked after %s, before the 1s window closed", d)
	}
	if got := slices.Sorted(slices.Values(bodies(rec.all()[0]))); !slices.Equal(got, want) {
		t.Errorf("batch = %v, want %v", got, want)
	}
}

func TestSQSRunDeliversAndStops(t *testing.T) {
	t.Parallel()
	cfg := startAWS(t)
	q := newQueue(t, cfg, nil)
	var rec recorder[string]
	s := &SQS{
		Client: q.client, QueueURL: q.url, Log: testLog(),
		Handler: func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			for _, r := range ev.Records {
				rec.add(r.Body)
			}
			return events.SQSEventResponse{}, nil
		},
	}
	background(t, s.Run)
	for i := range 25 {
		q.send(t, strconv.Itoa(i))
	}
	eventually(t, 10*time.Second, "25 deliveries", func() bool { return len(rec.all()) >= 25 })
	if got := rec.all(); len(got) != 25 {
		t.Errorf("delivered %d messages, want 25 exactly once each", len(got))
	}
}

func TestSQSConfigErrors(t *testing.T) {
	cfg := startAWS(t)
	c := sqs.NewFromConfig(cfg)
	h := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}
	tests := []struct {
		name string
		s    *SQS
		want string
	}{
		{"no client", &SQS{QueueURL: "u", Handler: h}, "Client is nil"},
		{"no queue", &SQS{Client: c, Handler: h}, "QueueURL is empty"},
		{"no handler", &SQS{Client: c, QueueURL: "u"}, "Handler is nil"},
		{"batch too large", &SQS{Client: c, QueueURL: "u", QueueARN: "a", Handler: h, BatchSize: 10001, BatchWindow: time.Second}, "not between 1 and 10000"},
		{"large batch without window", &SQS{Client: c, QueueURL: "u", QueueARN: "a", Handler: h, BatchSize: 11}, "needs a BatchWindow"},
		{"unknown queue", &SQS{Client: c, QueueURL: aws.ToString(cfg.BaseEndpoint) + "/000000000000/" + unique(t, "missing"), Handler: h}, "get queue ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Run(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

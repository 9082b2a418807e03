// Package queue puts webhook deliveries and request jobs on SQS queues and takes them off again.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Queue is one SQS queue of delivery messages. It is safe for concurrent use.
type Queue struct {
	client *sqs.Client
	url    string
}

// New returns the queue at url.
func New(client *sqs.Client, url string) *Queue { return &Queue{client: client, url: url} }

// Send enqueues messages, ten per request; it fails if any message was not accepted.
func (q *Queue) Send(ctx context.Context, msgs []webhook.Message) error {
	for start := 0; start < len(msgs); start += 10 {
		batch := msgs[start:min(start+10, len(msgs))]
		entries := make([]types.SendMessageBatchRequestEntry, len(batch))
		for i, m := range batch {
			b, err := json.Marshal(m)
			if err != nil {
				return fmt.Errorf("encode delivery: %w", err)
			}
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(b))}
		}
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return fmt.Errorf("send deliveries: %w", err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("send deliveries: %d of %d refused (%s)", len(out.Failed), len(batch), aws.ToString(out.Failed[0].Code))
		}
	}
	return nil
}

// Delay hides a received message for d before it is offered again.
func (q *Queue) Delay(ctx context.Context, receiptHandle string, d time.Duration) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &q.url, ReceiptHandle: &receiptHandle, VisibilityTimeout: int32(d / time.Second),
	})
	if err != nil {
		return fmt.Errorf("change visibility: %w", err)
	}
	return nil
}

// Received is a message taken off the queue.
type Received struct {
	Body          string
	ReceiptHandle string
}

// Receive takes up to max (at most 10) messages, hiding them for hide.
func (q *Queue) Receive(ctx context.Context, max int, hide time.Duration) ([]Received, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: &q.url, MaxNumberOfMessages: int32(min(max, 10)), VisibilityTimeout: int32(hide / time.Second), WaitTimeSeconds: 0,
	})
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	rs := make([]Received, len(out.Messages))
	for i, m := range out.Messages {
		rs[i] = Received{Body: aws.ToString(m.Body), ReceiptHandle: aws.ToString(m.ReceiptHandle)}
	}
	return rs, nil
}

// Delete removes a received message.
func (q *Queue) Delete(ctx context.Context, receiptHandle string) error {
	if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &q.url, ReceiptHandle: &receiptHandle}); err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	return nil
}

// Jobs puts the jobs of data-subject requests on their queues.
type Jobs struct {
	client           *sqs.Client
	erasure, exports string
}

// NewJobs returns the job queues; an empty URL leaves that job type unstarted.
func NewJobs(client *sqs.Client, erasureURL, exportURL string) *Jobs {
	return &Jobs{client: client, erasure: erasureURL, exports: exportURL}
}

// Start enqueues the job of a request of type t.
func (j *Jobs) Start(ctx context.Context, t dsr.Type, m dsr.JobMessage) error {
	url := j.exports
	if t == dsr.Erasure {
		url = j.erasure
	}
	if url == "" {
		return fmt.Errorf("no queue for %s jobs", t)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	if _, err := j.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(string(b))}); err != nil {
		return fmt.Errorf("start %s job: %w", t, err)
	}
	return nil
}

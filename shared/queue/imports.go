package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// ImportMessage asks the import worker to work on an import from its checkpoint.
type ImportMessage struct {
	Tenant   string `json:"tenant"`
	ImportID string `json:"importId"`
}

// Imports is the import job queue.
type Imports struct {
	client *sqs.Client
	url    string
}

// NewImports returns the import queue at url.
func NewImports(client *sqs.Client, url string) *Imports { return &Imports{client: client, url: url} }

// Enqueue puts a message for the import on the queue.
func (q *Imports) Enqueue(ctx context.Context, tenant, id string) error {
	b, err := json.Marshal(ImportMessage{Tenant: tenant, ImportID: id})
	if err != nil {
		return fmt.Errorf("encode import message: %w", err)
	}
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: aws.String(string(b))}); err != nil {
		return fmt.Errorf("queue import: %w", err)
	}
	return nil
}

// ImportWorker takes import messages off the queue.
type ImportWorker struct {
	// Process works the import; an error leaves the message to the queue's retries.
	Process func(ctx context.Context, tenant, id string) error
	// Abandon marks the import failed after the last attempt failed.
	Abandon     func(ctx context.Context, tenant, id string) error
	MaxAttempts int
	Log         *slog.Logger
}

// Handle works each message; a failed one is reported for retry.
func (w ImportWorker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if err := w.handle(ctx, m); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func (w ImportWorker) handle(ctx context.Context, m events.SQSMessage) error {
	var msg ImportMessage
	if err := json.Unmarshal([]byte(m.Body), &msg); err != nil || msg.Tenant == "" || msg.ImportID == "" {
		w.Log.ErrorContext(ctx, "malformed import message dropped", "messageId", m.MessageId)
		return nil
	}
	attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	attempt = max(attempt, 1)
	log := w.Log.With("tenant", msg.Tenant, "import", msg.ImportID, "attempt", attempt)
	err := w.Process(ctx, msg.Tenant, msg.ImportID)
	if err == nil {
		return nil
	}
	if attempt < w.MaxAttempts {
		log.WarnContext(ctx, "import chunk failed; the queue will retry from the checkpoint", "err", err)
		return err
	}
	log.ErrorContext(ctx, "import failed on its last attempt; it is marked failed and the message moves to the dead-letter queue", "err", err)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if aerr := w.Abandon(fctx, msg.Tenant, msg.ImportID); aerr != nil {
		log.ErrorContext(ctx, "import not marked failed", "err", aerr)
	}
	return err
}

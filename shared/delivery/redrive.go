package delivery

import (
	"context"
	"encoding/json"
	"time"

	"github.com/livingprofile/livingprofile/shared/queue"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// DeadLetters is the dead-letter queue, read for re-driving.
type DeadLetters interface {
	Receive(ctx context.Context, max int, hide time.Duration) ([]queue.Received, error)
	Delete(ctx context.Context, receiptHandle string) error
	Delay(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Sender puts deliveries back on the delivery queue.
type Sender interface {
	Send(ctx context.Context, msgs []webhook.Message) error
}

// Redriver moves an endpoint's parked deliveries back to the delivery queue.
type Redriver struct {
	store Store
	dlq   DeadLetters
	main  Sender
}

// NewRedriver returns a Redriver.
func NewRedriver(store Store, dlq DeadLetters, main Sender) *Redriver {
	return &Redriver{store: store, dlq: dlq, main: main}
}

// redriveHide keeps other tenants' and endpoints' messages out of the way while the
// dead-letter queue is walked, so no message is looked at twice.
const redriveHide = 60 * time.Second

// Redrive re-queues up to limit parked deliveries of one endpoint and returns how many it
// moved. Messages of other endpoints are left in the dead-letter queue.
func (r *Redriver) Redrive(ctx context.Context, tenant, endpointID string, limit int) (int, error) {
	moved := 0
	var others []string
	defer func() {
		for _, h := range others {
			_ = r.dlq.Delay(context.WithoutCancel(ctx), h, 0)
		}
	}()
	for moved < limit {
		batch, err := r.dlq.Receive(ctx, 10, redriveHide)
		if err != nil {
			return moved, err
		}
		if len(batch) == 0 {
			break
		}
		for _, m := range batch {
			var msg webhook.Message
			if json.Unmarshal([]byte(m.Body), &msg) != nil || msg.Tenant != tenant || msg.EndpointID != endpointID || moved >= limit {
				others = append(others, m.ReceiptHandle)
				continue
			}
			if err := r.main.Send(ctx, []webhook.Message{msg}); err != nil {
				others = append(others, m.ReceiptHandle)
				return moved, err
			}
			if err := r.dlq.Delete(ctx, m.ReceiptHandle); err != nil {
				return moved, err
			}
			if d, err := r.store.Delivery(ctx, tenant, endpointID, msg.DeliveryID); err == nil {
				d.Status, d.UpdatedAt, d.Message = webhook.Pending, time.Now().UTC(), &msg
				if err := r.store.PutDelivery(ctx, tenant, d, false); err != nil {
					return moved, err
				}
			}
			moved++
		}
	}
	return moved, nil
}

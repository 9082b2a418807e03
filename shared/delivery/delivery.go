// Package delivery POSTs queued webhook deliveries to their endpoints, signed, and keeps
// each delivery's log. A 2xx answer completes a delivery; anything else is retried with
// exponential backoff through the queue's visibility timeout, and after the last attempt
// the delivery is parked: the queue moves it to its dead-letter queue, from which Redrive
// brings it back.
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Store is the delivery log and the endpoints.
type Store interface {
	// DeliveryAndEndpoint reads a delivery's log entry (nil if none yet) and its endpoint
	// (errs.NotFound if deleted) with one request.
	DeliveryAndEndpoint(ctx context.Context, tenant, endpointID, id string) (*webhook.Delivery, *webhook.Endpoint, error)
	Delivery(ctx context.Context, tenant, endpointID, id string) (*webhook.Delivery, error)
	PutDelivery(ctx context.Context, tenant string, d *webhook.Delivery, onlyNew bool) error
}

// Visibility postpones a received message.
type Visibility interface {
	Delay(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Options tune the worker.
type Options struct {
	// MaxAttempts equals the queue's maxReceiveCount: the attempt that reaches it parks the delivery.
	MaxAttempts int
	// RetryBase is the wait after the first failure; each further failure doubles it, up to MaxBackoff.
	RetryBase time.Duration
	// AllowLoopback lets deliveries reach loopback addresses (the local stack only). Without it,
	// endpoints resolving to loopback, private, link-local or metadata addresses are refused.
	AllowLoopback bool
	// LoopbackOnly refuses every address but loopback: a local stack under generated tests,
	// whose endpoints' URLs are made up, so that no delivery leaves the machine.
	LoopbackOnly bool
	// Timeout bounds one POST.
	Timeout time.Duration
	// Bus takes the deliveries of endpoints whose target is the event bus; nil fails them
	// (and so retries and parks them) as undeliverable.
	Bus Bus
}

// Bus publishes an event to the stack's EventBridge bus; *eventbus.Bus implements it.
type Bus interface {
	Put(ctx context.Context, e webhook.Event) error
}

// MaxBackoff caps the wait between attempts.
const MaxBackoff = 15 * time.Minute

// Worker is the SQS handler. It is safe for concurrent use.
type Worker struct {
	store  Store
	vis    Visibility
	log    *slog.Logger
	opts   Options
	client *http.Client
	now    func() time.Time
}

// NewWorker returns a worker.
func NewWorker(store Store, vis Visibility, log *slog.Logger, opts Options) *Worker {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: opts.Timeout, Control: guard(opts.AllowLoopback || opts.LoopbackOnly, opts.LoopbackOnly)}
	client := &http.Client{
		Timeout:   opts.Timeout,
		Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
		// A redirect could lead a signed delivery anywhere: treat it as the answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Worker{store: store, vis: vis, log: log, opts: opts, client: client, now: time.Now}
}

// errBlocked is returned by the dialer for addresses a delivery must not reach.
var errBlocked = errors.New("destination address is not allowed")

// guard refuses connections to internal addresses, so a registered URL cannot be used to
// reach the cloud's metadata service or private networks, whatever its DNS says.
func guard(allowLoopback, loopbackOnly bool) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return errBlocked
		}
		ip := ap.Addr().Unmap()
		if ip.IsLoopback() {
			if allowLoopback {
				return nil
			}
			return errBlocked
		}
		if loopbackOnly {
			return errBlocked
		}
		if ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
			ip.IsInterfaceLocalMulticast() || netip.MustParsePrefix("100.64.0.0/10").Contains(ip) {
			return errBlocked
		}
		return nil
	}
}

// Handle delivers a batch concurrently and reports the messages to retry.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
	)
	for _, m := range ev.Records {
		wg.Go(func() {
			if err := w.deliver(ctx, m); err != nil {
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return resp, nil
}

// errRetry marks a failed attempt that the queue will retry.
var errRetry = errors.New("delivery attempt failed")

func (w *Worker) deliver(ctx context.Context, m events.SQSMessage) error {
	var msg webhook.Message
	if err := json.Unmarshal([]byte(m.Body), &msg); err != nil || msg.DeliveryID == "" {
		w.log.ErrorContext(ctx, "malformed delivery message dropped", "messageId", m.MessageId)
		return nil
	}
	log := w.log.With("tenant", msg.Tenant, "endpointId", msg.EndpointID, "deliveryId", msg.DeliveryID)
	attempt, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	attempt = max(attempt, 1)
	now := w.now().UTC()
	// The endpoint is read with the log entry on every attempt, never cached: a rotated
	// secret signs the very next delivery, and a deleted endpoint receives nothing more.
	d, ep, err := w.store.DeliveryAndEndpoint(ctx, msg.Tenant, msg.EndpointID, msg.DeliveryID)
	if d == nil && (err == nil || errs.CodeOf(err) == errs.NotFound) {
		d = &webhook.Delivery{ID: msg.DeliveryID, EndpointID: msg.EndpointID, EventID: msg.Event.ID, EventType: msg.Event.Type, CreatedAt: now}
	}
	switch {
	case errs.CodeOf(err) == errs.NotFound:
		if d.Status == webhook.Delivered {
			return nil
		}
		d.Status, d.UpdatedAt = webhook.Dropped, now
		return w.store.PutDelivery(ctx, msg.Tenant, d, false)
	case err != nil:
		log.ErrorContext(ctx, "read delivery log and endpoint", "err", err)
		return err
	case d.Status == webhook.Delivered:
		return nil // a duplicate of a message already delivered
	}
	// The receiver's attempt count continues across re-drives.
	d.Attempts++
	d.Message = &msg // kept while retrying, so a lost message can be queued again
	status, sendErr := w.send(ctx, ep, msg)
	d.LastStatus, d.UpdatedAt, d.LastError = status, now, ""
	if sendErr == nil {
		d.Status, d.DeliveredAt = webhook.Delivered, &now
		log.InfoContext(ctx, "delivered", "attempt", d.Attempts, "status", status)
		return w.store.PutDelivery(ctx, msg.Tenant, d, false)
	}
	d.LastError = sendErr.Error()
	wait := time.Duration(0) // parked: let the queue move it to the dead-letter queue at once
	if attempt >= w.opts.MaxAttempts {
		d.Status = webhook.Parked
	} else {
		d.Status = webhook.Retrying
		wait = min(w.opts.RetryBase<<(attempt-1), MaxBackoff)
	}
	log.WarnContext(ctx, "delivery attempt failed", "attempt", d.Attempts, "status", status, "err", d.LastError, "next", wait)
	if err := w.store.PutDelivery(ctx, msg.Tenant, d, false); err != nil {
		return err
	}
	if err := w.vis.Delay(ctx, m.ReceiptHandle, wait); err != nil {
		log.ErrorContext(ctx, "postpone retry", "err", err)
	}
	return errRetry
}

// send delivers msg to the endpoint's target: the event bus, or a signed POST.
func (w *Worker) send(ctx context.Context, ep *webhook.Endpoint, msg webhook.Message) (int, error) {
	if ep.Target != webhook.TargetEventBridge {
		return w.post(ctx, ep, msg)
	}
	if w.opts.Bus == nil {
		return 0, errors.New("no event bus configured")
	}
	if err := w.opts.Bus.Put(ctx, msg.Event); err != nil {
		return 0, fmt.Errorf("event bus: %w", err) // codes only: Put never quotes the event
	}
	return 0, nil
}

// post sends one signed delivery and classifies the outcome without reading personal data
// back: only the status code and a coarse error class are kept.
func (w *Worker) post(ctx context.Context, ep *webhook.Endpoint, msg webhook.Message) (int, error) {
	body, err := json.Marshal(msg.Event)
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	now := w.now()
	sig, err := webhook.Sign(ep.ActiveSecrets(now), msg.Event.ID, now, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("invalid endpoint URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "LivingProfile-Webhooks/1")
	req.Header.Set(webhook.HeaderID, msg.Event.ID)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, sig)
	req.Header.Set("Webhook-Delivery-Id", msg.DeliveryID)
	resp, err := w.client.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, errBlocked):
			return 0, errors.New("endpoint address not allowed")
		case errors.As(err, &ne) && ne.Timeout():
			return 0, errors.New("timeout")
		}
		return 0, errors.New("connection failed")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

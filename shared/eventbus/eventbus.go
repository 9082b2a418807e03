// Package eventbus publishes the product's events to an Amazon EventBridge bus as
// CloudEvents 1.0, so that AWS-native consumers (rules to Step Functions, SQS, other
// accounts, archives) need no webhook. Each event is one PutEvents entry: Source
// "livingprofile", DetailType the event type, Detail the CloudEvent in structured JSON form,
// whose data is the webhook event itself (docs/eventbridge.md). It calls EventBridge over
// HTTP through package awsapi, without the SDK's generated client.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livingprofile/livingprofile/shared/awsapi"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// EventBridge is how the service is reached and signed for.
var EventBridge = awsapi.Service{ID: "EventBridge", SigningName: "events"}

// Source is the EventBridge source of every entry; rules match on it.
const Source = "livingprofile"

// CloudEvent is the Detail of an entry: a CloudEvents 1.0 event in structured JSON form.
type CloudEvent struct {
	SpecVersion     string        `json:"specversion"`
	ID              string        `json:"id"`
	Source          string        `json:"source"`
	Type            string        `json:"type"`
	Subject         string        `json:"subject,omitempty"`
	Time            time.Time     `json:"time"`
	DataContentType string        `json:"datacontenttype"`
	Data            webhook.Event `json:"data"`
}

// Of is the CloudEvent of e: its id is the event's (the ledger event's, stable across
// redeliveries), its source the tenant, its subject the profile.
func Of(e webhook.Event) CloudEvent {
	return CloudEvent{
		SpecVersion: "1.0", ID: e.ID, Source: "/livingprofile/tenants/" + e.Tenant, Type: "com.livingprofile." + e.Type,
		Subject: e.ProfileID, Time: e.OccurredAt.UTC(), DataContentType: "application/json", Data: e,
	}
}

// Bus publishes to one event bus. It is safe for concurrent use.
type Bus struct {
	api  *awsapi.Client
	url  *url.URL
	name string
}

// New returns a publisher to the bus called name through cfg: at the endpoint cfg sets for
// EventBridge (AWS_ENDPOINT_URL_EVENTBRIDGE or AWS_ENDPOINT_URL), else at
// https://events.<region>.amazonaws.com.
func New(ctx context.Context, cfg aws.Config, name string) (*Bus, error) {
	u, err := awsapi.BaseURL(ctx, cfg, EventBridge, "events")
	if err != nil {
		return nil, err
	}
	return &Bus{api: awsapi.New(cfg, EventBridge), url: u, name: name}, nil
}

// Put publishes e. An entry EventBridge refuses is an error naming its code, never the
// event's content, so the caller retries it.
func (b *Bus) Put(ctx context.Context, e webhook.Event) error {
	detail, err := json.Marshal(Of(e))
	if err != nil {
		return fmt.Errorf("encode cloud event: %w", err)
	}
	type entry struct {
		EventBusName, Source, DetailType, Detail string
		Time                                     int64
	}
	doc, err := json.Marshal(struct{ Entries []entry }{[]entry{{
		EventBusName: b.name, Source: Source, DetailType: e.Type, Detail: string(detail), Time: e.OccurredAt.Unix(),
	}}})
	if err != nil {
		return fmt.Errorf("encode put events: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amz-Target", "AWSEvents.PutEvents")
	body, size := awsapi.Bytes(doc)
	out, err := b.api.Do(ctx, awsapi.Request{Operation: "PutEvents", Method: http.MethodPost, URL: b.url,
		Header: h, Body: body, Size: size}, awsapi.DecodeJSONError)
	if err != nil {
		return fmt.Errorf("put events: %w", err)
	}
	var res struct {
		FailedEntryCount int
		Entries          []struct{ EventId, ErrorCode string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("put events: the answer is not JSON")
	}
	if res.FailedEntryCount > 0 || len(res.Entries) != 1 || res.Entries[0].EventId == "" {
		code := "no entry id"
		if len(res.Entries) == 1 && res.Entries[0].ErrorCode != "" {
			code = res.Entries[0].ErrorCode
		}
		return fmt.Errorf("put events: the entry was refused (%s)", code)
	}
	return nil
}

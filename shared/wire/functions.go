// Package wire is the composition root shared by every Lambda function and the local stack:
// it builds each function's handler from its environment, so that the deployed binary and
// the local stack run the same code.
package wire

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// HTTPHandler is the handler of one HTTP API route (payload format 2.0).
type HTTPHandler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// AuthorizerHandler is the HTTP API Lambda authorizer (payload format 2.0, simple responses).
type AuthorizerHandler = func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)

// StreamHandler handles DynamoDB stream batches, reporting the records to retry.
type StreamHandler = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// QueueHandler handles SQS batches, reporting the messages to retry.
type QueueHandler = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// ScheduleHandler handles the event of a Schedule (EventBridge rule) or ScheduleV2 trigger.
// A returned error fails the invocation: AWS retries it as an asynchronous invocation, the
// local stack logs it and waits for the next fire time.
type ScheduleHandler = func(context.Context, events.EventBridgeEvent) error

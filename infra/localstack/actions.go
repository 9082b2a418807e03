package localstack

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/shared/awsapi"
)

// actionLog records, per function, the IAM actions its AWS calls need: the emulator enforces
// no IAM, so only this notices a missing permission before AWS does.
type actionLog struct {
	mu    sync.Mutex
	calls map[string]map[string]bool
}

// iamAction maps an SDK operation to the IAM action that authorizes it, where they differ.
var iamAction = map[string]string{
	"sqs:SendMessageBatch":             "sqs:SendMessage",
	"sqs:DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"s3:ListObjectsV2":                 "s3:ListBucket",
	"s3:DeleteObjects":                 "s3:DeleteObject",
	"s3:HeadObject":                    "s3:GetObject",
	"sesv2:SendEmail":                  "ses:SendEmail",
}

// servicePrefix maps SDK service ids to IAM service prefixes.
var servicePrefix = map[string]string{
	"DynamoDB": "dynamodb", "SQS": "sqs", "S3": "s3", "SESv2": "sesv2", "Secrets Manager": "secretsmanager",
}

func (l *actionLog) record(fn string, actions ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls[fn] == nil {
		l.calls[fn] = map[string]bool{}
	}
	for _, a := range actions {
		l.calls[fn][a] = true
	}
}

// middleware returns the SDK option that records fn's calls.
func (l *actionLog) middleware(fn string) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordIAMAction",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				id := awsmiddleware.GetServiceID(ctx)
				a := cmp.Or(servicePrefix[id], id) + ":" + awsmiddleware.GetOperationName(ctx)
				actions := []string{cmp.Or(iamAction[a], a)}
				// A transaction is authorized per item by the action of each item's kind.
				if tw, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
					for _, it := range tw.TransactItems {
						switch {
						case it.Put != nil:
							actions = append(actions, "dynamodb:PutItem")
						case it.Delete != nil:
							actions = append(actions, "dynamodb:DeleteItem")
						case it.Update != nil:
							actions = append(actions, "dynamodb:UpdateItem")
						case it.ConditionCheck != nil:
							actions = append(actions, "dynamodb:ConditionCheckItem")
						}
					}
				}
				l.record(fn, actions...)
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// httpClient wraps next (the SDK's default when nil) to record fn's calls through package
// awsapi (the S3 and SES v2 adapters), which no SDK middleware sees.
func (l *actionLog) httpClient(fn string, next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return recordingClient{log: l, fn: fn, next: next}
}

type recordingClient struct {
	log  *actionLog
	fn   string
	next aws.HTTPClient
}

func (c recordingClient) Do(r *http.Request) (*http.Response, error) {
	if svc, op, ok := awsapi.Operation(r); ok {
		a := cmp.Or(servicePrefix[svc], svc) + ":" + op
		c.log.record(c.fn, cmp.Or(iamAction[a], a))
	}
	return c.next.Do(r)
}

// CheckPolicies names each AWS call the functions made so far that their policies in
// template.yaml (template.Function.Actions) do not allow, and AWS would refuse.
func (st *Stack) CheckPolicies() error {
	st.actions.mu.Lock()
	defer st.actions.mu.Unlock()
	var missing []string
	for fn, actions := range st.actions.calls {
		f, _ := st.Template.Function(fn)
		for a := range actions {
			if !slices.Contains(f.Actions, a) {
				missing = append(missing, fmt.Sprintf("%s needs %s", fn, a))
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return fmt.Errorf("template.yaml policies lack actions the code uses:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

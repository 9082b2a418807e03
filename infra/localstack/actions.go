package localstack

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"gopkg.in/yaml.v3"
)

// actionLog records, per function, the IAM actions its AWS calls need, so tests can check
// every call the local stack saw against the function's policy in template.yaml — the
// emulator enforces no IAM, so nothing else would notice a missing permission before AWS.
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
				svc := servicePrefix[awsmiddleware.GetServiceID(ctx)]
				if svc == "" {
					svc = awsmiddleware.GetServiceID(ctx)
				}
				a := svc + ":" + awsmiddleware.GetOperationName(ctx)
				if m, ok := iamAction[a]; ok {
					a = m
				}
				actions := []string{a}
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

// Actions returns, per function logical id, the sorted IAM actions its calls needed so far.
func (s *Stack) Actions() map[string][]string {
	s.actions.mu.Lock()
	defer s.actions.mu.Unlock()
	out := map[string][]string{}
	for fn, set := range s.actions.calls {
		out[fn] = slices.Sorted(maps.Keys(set))
	}
	return out
}

// policyActions reads, per function, the actions its inline policies in template.yaml allow.
func policyActions(path string) (map[string]map[string]bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	get := func(n *yaml.Node, key string) *yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	out := map[string]map[string]bool{}
	res := get(doc.Content[0], "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if t := get(r, "Type"); t == nil || t.Value != "AWS::Serverless::Function" {
			continue
		}
		out[id] = map[string]bool{}
		pols := get(get(r, "Properties"), "Policies")
		if pols == nil {
			continue
		}
		for _, p := range pols.Content {
			st := get(p, "Statement")
			if st == nil {
				continue
			}
			for _, s := range st.Content {
				if e := get(s, "Effect"); e == nil || e.Value != "Allow" {
					continue
				}
				a := get(s, "Action")
				if a == nil {
					continue
				}
				if a.Kind == yaml.ScalarNode {
					out[id][a.Value] = true
				}
				for _, x := range a.Content {
					out[id][x.Value] = true
				}
			}
		}
	}
	return out, nil
}

// CheckPolicies compares every AWS call the functions made so far with their policies in
// template.yaml and names each call a policy does not allow: AWS would refuse it, and the
// emulator enforces no IAM, so tests call this after exercising the functions.
func (st *Stack) CheckPolicies() error {
	allowed, err := policyActions(st.templatePath)
	if err != nil {
		return err
	}
	var missing []string
	for fn, actions := range st.Actions() {
		for _, a := range actions {
			if !allowed[fn][a] {
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

// Package template reads the project's AWS SAM template (template.yaml) into the typed model
// the local stack needs: functions with their event sources, policies and log group, tables,
// queues, buckets, secrets and the HTTP API with its Lambda authorizer.
//
// It understands what template.yaml uses and nothing more: the intrinsics Ref, Fn::GetAtt,
// Fn::Sub and Fn::If (on Fn::Equals and Fn::Not conditions), resolved through parameters
// while parsing and against physical resource names with [Template.Environment].
//
// Parsing is strict where leniency would make the local stack silently differ from the
// deployed one: unknown tags, duplicate keys, unresolvable intrinsics, event types and
// properties it does not emulate, resource conditions and dangling references are errors,
// all reported at once, each with its path ("Resources.Jobs.Properties.VisibilityTimeout: ...").
package template

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Template is the part of a SAM template the local stack acts on. Slices are sorted by
// logical id, so that two parses of the same file are equal.
type Template struct {
	params     map[string]parameter
	conditions map[string]any

	Functions []Function
	Tables    []Table
	Queues    []Queue
	Buckets   []Bucket
	Secrets   []Secret
	Buses     []EventBus
	HTTPAPI   *HTTPAPI // the HTTP API the routes belong to, or nil
}

// Function is an AWS::Serverless::Function, merged with Globals.Function.
type Function struct {
	LogicalID   string
	Handler     string
	BuildMethod string // Metadata.BuildMethod
	// Timeout is in seconds; Lambda's default of 3 when the template does not set it.
	Timeout int
	// env holds the environment variables, the function's over Globals'; resolve them with
	// [Template.Environment].
	env map[string]any
	// LogGroup is the logical id of the AWS::Logs::LogGroup of LoggingConfig, or "" for
	// Lambda's default group.
	LogGroup string
	// Actions are the IAM actions the Allow statements of the function's inline and managed
	// policies grant, sorted.
	Actions []string

	Routes    []Route
	Queues    []QueueEvent
	Streams   []StreamEvent
	Schedules []Schedule
}

// Route is an HttpApi event: one route of the HTTP API.
type Route struct {
	Method               string // upper case; "ANY" matches every method
	Path                 string // the path template ("/v1/profiles/{id}"), or DefaultRoute
	Authorizer           string // the event's own, else the API's default, else NoAuthorizer
	PayloadFormatVersion string // "2.0" unless the template says otherwise
}

// Key returns the API Gateway route key, e.g. "GET /v1/profiles/{id}", or "$default".
func (r Route) Key() string {
	if r.Path == DefaultRoute {
		return DefaultRoute
	}
	return r.Method + " " + r.Path
}

// DefaultRoute is the Path (and route key) of the route API Gateway invokes for every
// request that no other route matches.
const DefaultRoute = "$default"

// NoAuthorizer is the authorizer name of a route that is not authorized.
const NoAuthorizer = "NONE"

// QueueEvent is an SQS event source.
type QueueEvent struct {
	Event                    string
	QueueLogicalID           string
	BatchSize                int // default 10
	MaxBatchingWindowSeconds int
	FunctionResponseTypes    []string
}

// ReportsBatchItemFailures reports whether the function returns partial batch failures.
func (q QueueEvent) ReportsBatchItemFailures() bool {
	return slices.Contains(q.FunctionResponseTypes, "ReportBatchItemFailures")
}

// StreamEvent is a DynamoDB stream event source.
type StreamEvent struct {
	Event                    string
	TableLogicalID           string
	BatchSize                int    // default 100
	StartingPosition         string // LATEST or TRIM_HORIZON
	MaxBatchingWindowSeconds int
	FunctionResponseTypes    []string
	// BisectBatchOnFunctionError splits a failing batch in two to retry each half.
	BisectBatchOnFunctionError bool
	// MaximumRetryAttempts is -1 (the default) for retrying until the record expires.
	MaximumRetryAttempts int
	// FilterPatterns are the FilterCriteria's patterns (JSON); a record passes if one matches.
	FilterPatterns []string
	// OnFailureQueueLogicalID is the queue that gets a record of what failed for good, or "".
	OnFailureQueueLogicalID string
}

// ReportsBatchItemFailures reports whether the function returns partial batch failures.
func (s StreamEvent) ReportsBatchItemFailures() bool {
	return slices.Contains(s.FunctionResponseTypes, "ReportBatchItemFailures")
}

// Schedule is a Schedule (EventBridge rule) event.
type Schedule struct {
	Event      string
	Expression string // e.g. "rate(1 hour)"
	Input      string // the JSON the function receives, or "" for the scheduled event
	Enabled    bool
}

// Table is an AWS::DynamoDB::Table billed per request.
type Table struct {
	LogicalID            string
	KeySchema            []KeyElement
	AttributeDefinitions []AttributeDefinition
	GSIs                 []Index
	TTLAttribute         string // "" when TTL is off
	StreamViewType       string // "" when the table has no stream
}

// KeyElement is one part of a key schema.
type KeyElement struct {
	AttributeName string
	KeyType       string // HASH or RANGE
}

// AttributeDefinition declares a key attribute's type (S, N or B).
type AttributeDefinition struct {
	AttributeName string
	AttributeType string
}

// Index is a global secondary index.
type Index struct {
	Name             string
	KeySchema        []KeyElement
	Projection       string // ALL, KEYS_ONLY or INCLUDE (of NonKeyAttributes)
	NonKeyAttributes []string
}

// Queue is a standard AWS::SQS::Queue. Zero numbers mean the template does not set them and
// the service default applies.
type Queue struct {
	LogicalID              string
	VisibilityTimeout      int
	MessageRetentionPeriod int
	RedriveTarget          string // the logical id of the dead-letter queue, or ""
	MaxReceiveCount        int
}

// Bucket is an AWS::S3::Bucket.
type Bucket struct {
	LogicalID string
	// LifecycleExpirationDays is the smallest ExpirationInDays of the enabled lifecycle
	// rules, or 0 when objects do not expire.
	LifecycleExpirationDays int
}

// EventBus is an AWS::Events::EventBus of the account's own events (no EventSourceName).
type EventBus struct {
	LogicalID string
}

// Secret is an AWS::SecretsManager::Secret.
type Secret struct {
	LogicalID    string
	SecretString string                // the literal value, if any
	Generate     *GenerateSecretString // the generated value, if asked for
}

// GenerateSecretString describes a value generated like Secrets Manager's GetRandomPassword
// with its default character classes, each required at least once.
type GenerateSecretString struct {
	// Template (SecretStringTemplate) is the JSON object the generated password is added to
	// under Key (GenerateStringKey), or "" for a bare password.
	Template           string
	Key                string
	Length             int // default 32
	ExcludePunctuation bool
}

// HTTPAPI is the AWS::Serverless::HttpApi the routes belong to, merged with Globals.HttpApi.
type HTTPAPI struct {
	StageName   string                // "$default" unless the template says otherwise
	Authorizers map[string]Authorizer // the Lambda authorizers by name
}

// Authorizer is a Lambda authorizer of an HTTP API.
type Authorizer struct {
	FunctionLogicalID string
	IdentityHeaders   []string // the identity-source headers ($request.header.X)
	CacheTTLSeconds   int      // Identity.ReauthorizeEvery; 0 disables caching
	SimpleResponses   bool     // EnableSimpleResponses: the answer is {isAuthorized, context}
	PayloadVersion    string   // AuthorizerPayloadFormatVersion
}

// Load reads and parses the SAM template at path.
func Load(path string) (*Template, error) { return LoadWith(path, nil) }

// LoadWith reads and parses the template at path with parameter values that override the
// defaults, as `sam deploy --parameter-overrides` does; overriding an undeclared parameter
// is an error.
func LoadWith(path string, overrides map[string]string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := parse(data, overrides)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Function returns the function with the given logical id.
func (t *Template) Function(logicalID string) (Function, bool) {
	i := slices.IndexFunc(t.Functions, func(f Function) bool { return f.LogicalID == logicalID })
	if i < 0 {
		return Function{}, false
	}
	return t.Functions[i], true
}

// ParameterValues returns every parameter's value: overrides first, then the default.
// It fails when a parameter has neither, or when a value is not one of AllowedValues.
func (t *Template) ParameterValues(overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(t.params))
	var problems []string
	for _, name := range sortedKeys(t.params) {
		p := t.params[name]
		v, ok := overrides[name]
		if !ok && p.hasDefault {
			v, ok = p.def, true
		}
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("parameter %s has no value", name))
		case len(p.allowed) > 0 && !slices.Contains(p.allowed, v):
			problems = append(problems, fmt.Sprintf("parameter %s: %q is not one of %v", name, v, p.allowed))
		default:
			out[name] = v
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("parameters: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

// PseudoParameters returns the values of the AWS:: pseudo parameters for a local stack.
func PseudoParameters(stackName, region, accountID string) map[string]string {
	return map[string]string{
		"AWS::StackName": stackName,
		"AWS::Region":    region,
		"AWS::AccountId": accountID,
		"AWS::Partition": "aws",
		"AWS::URLSuffix": "amazonaws.com",
		"AWS::StackId":   fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/local", region, accountID, stackName),
	}
}

// Package template reads the project's AWS SAM template (template.yaml) into the typed model
// the local stack needs: functions with their event sources, policies and log group, tables,
// queues, buckets, secrets and the HTTP API with its Lambda authorizer.
//
// It understands what template.yaml uses and nothing more: the intrinsics Ref, Fn::GetAtt,
// Fn::Sub and Fn::If (on conditions made of Fn::Equals and Fn::Not), in short or long form,
// resolved through parameter defaults while parsing and against physical resource names
// with [Template.Environment].
//
// Parsing is strict where leniency would make the local stack silently differ from the
// deployed one: unknown tags, duplicate keys, intrinsics it cannot resolve, event types and
// properties it does not emulate, resource conditions, references to resources the template
// lacks and routes that name a missing authorizer are errors, all of them reported at once,
// each with its path in the template ("Resources.Jobs.Properties.VisibilityTimeout: ...").
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
	// HTTPAPI is the HTTP API the routes belong to, or nil when there is none.
	HTTPAPI *HTTPAPI
}

// Function is an AWS::Serverless::Function, merged with Globals.Function.
type Function struct {
	LogicalID string
	// Handler is the handler (the executable "bootstrap" of a provided runtime).
	Handler string
	// BuildMethod is Metadata.BuildMethod ("makefile"), or "".
	BuildMethod string
	// Timeout is in seconds; Lambda's default of 3 when the template does not set it.
	Timeout int
	// env holds the environment variables, Globals.Function.Environment.Variables
	// overridden by the function's own; resolve them with [Template.Environment].
	env map[string]any
	// LogGroup is the logical id of the AWS::Logs::LogGroup that LoggingConfig.LogGroup
	// refers to (the function's own or Globals'), or "" for Lambda's default group.
	LogGroup string
	// Actions are the IAM actions the function's Policies allow, sorted: the Allow
	// statements of its inline policy documents and of the AWS::IAM::ManagedPolicy
	// resources it refers to with !Ref.
	Actions []string

	Routes    []Route
	Queues    []QueueEvent
	Streams   []StreamEvent
	Schedules []Schedule
}

// Route is an HttpApi event: one route of the HTTP API.
type Route struct {
	// Method is upper case; "ANY" matches every method.
	Method string
	// Path is the path template ("/v1/profiles/{id}", "/files/{proxy+}"), or DefaultRoute.
	Path string
	// Authorizer is the effective authorizer name: the event's own, else the API's default
	// authorizer, else "NONE".
	Authorizer string
	// PayloadFormatVersion is "2.0" unless the template says otherwise.
	PayloadFormatVersion string
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
	Event          string
	QueueLogicalID string
	// BatchSize is the maximum number of messages per invocation (default 10).
	BatchSize int
	// MaxBatchingWindowSeconds is how long to gather a batch (default 0).
	MaxBatchingWindowSeconds int
	// FunctionResponseTypes holds "ReportBatchItemFailures" when the function reports
	// partial batch failures.
	FunctionResponseTypes []string
}

// ReportsBatchItemFailures reports whether the function returns partial batch failures.
func (q QueueEvent) ReportsBatchItemFailures() bool {
	return slices.Contains(q.FunctionResponseTypes, "ReportBatchItemFailures")
}

// StreamEvent is a DynamoDB stream event source.
type StreamEvent struct {
	Event          string
	TableLogicalID string
	// BatchSize is the maximum number of records per invocation (default 100).
	BatchSize int
}

// Schedule is a Schedule (EventBridge rule) event.
type Schedule struct {
	Event string
	// Expression is the rule's schedule expression, e.g. "rate(1 hour)".
	Expression string
	// Input is the JSON the function receives, or "" for the default scheduled event.
	Input   string
	Enabled bool
}

// Table is an AWS::DynamoDB::Table billed per request.
type Table struct {
	LogicalID            string
	KeySchema            []KeyElement
	AttributeDefinitions []AttributeDefinition
	GSIs                 []Index
	// TTLAttribute is the attribute holding the expiry time, or "" when TTL is off.
	TTLAttribute string
	// StreamViewType is the stream's view type, or "" when the table has no stream.
	StreamViewType string
}

// KeyElement is one part of a key schema.
type KeyElement struct {
	AttributeName string
	// KeyType is HASH or RANGE.
	KeyType string
}

// AttributeDefinition declares a key attribute's type (S, N or B).
type AttributeDefinition struct {
	AttributeName string
	AttributeType string
}

// Index is a global secondary index.
type Index struct {
	Name      string
	KeySchema []KeyElement
	// Projection is ALL, KEYS_ONLY or INCLUDE (of NonKeyAttributes).
	Projection       string
	NonKeyAttributes []string
}

// Queue is a standard AWS::SQS::Queue. Zero numbers mean the template does not set them and
// the service default applies.
type Queue struct {
	LogicalID              string
	VisibilityTimeout      int
	MessageRetentionPeriod int
	// RedriveTarget is the logical id of the dead-letter queue, or "".
	RedriveTarget   string
	MaxReceiveCount int
}

// Bucket is an AWS::S3::Bucket.
type Bucket struct {
	LogicalID string
	// LifecycleExpirationDays is the smallest ExpirationInDays of the enabled lifecycle
	// rules, or 0 when objects do not expire.
	LifecycleExpirationDays int
}

// Secret is an AWS::SecretsManager::Secret.
type Secret struct {
	LogicalID string
	// SecretString is the literal value, when the template gives one.
	SecretString string
	// Generate describes the generated value, when the template asks for one.
	Generate *GenerateSecretString
}

// GenerateSecretString describes a value generated like Secrets Manager's GetRandomPassword
// with its default character classes, each required at least once.
type GenerateSecretString struct {
	// Template is the JSON object the generated password is added to (SecretStringTemplate),
	// or "" for a bare password.
	Template string
	// Key is the JSON key of the generated password in Template (GenerateStringKey).
	Key string
	// Length is the password length (default 32).
	Length             int
	ExcludePunctuation bool
}

// HTTPAPI is the AWS::Serverless::HttpApi the routes belong to, merged with Globals.HttpApi.
type HTTPAPI struct {
	// StageName is "$default" unless the template says otherwise.
	StageName string
	// Authorizers are the Lambda authorizers by name.
	Authorizers map[string]Authorizer
}

// Authorizer is a Lambda authorizer of an HTTP API.
type Authorizer struct {
	// FunctionLogicalID is the authorizer function.
	FunctionLogicalID string
	// IdentityHeaders are the identity-source headers ($request.header.X).
	IdentityHeaders []string
	// CacheTTLSeconds is Identity.ReauthorizeEvery; 0 disables caching.
	CacheTTLSeconds int
	// SimpleResponses is EnableSimpleResponses: the authorizer answers {isAuthorized, context}.
	SimpleResponses bool
	// PayloadVersion is AuthorizerPayloadFormatVersion ("1.0" or "2.0").
	PayloadVersion string
}

// Load reads and parses the SAM template at path.
func Load(path string) (*Template, error) { return LoadWith(path, nil) }

// LoadWith reads and parses the template at path with parameter values that override the
// defaults wherever the template's settings refer to parameters, as
// `sam deploy --parameter-overrides` does. An override of an undeclared parameter is an error.
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
	for _, f := range t.Functions {
		if f.LogicalID == logicalID {
			return f, true
		}
	}
	return Function{}, false
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

// Package template reads an AWS SAM template (template.yaml) into the typed model the local
// stack needs: functions with their event sources, tables, queues, buckets, secrets and the
// HTTP API with its Lambda authorizer.
//
// It understands both the short-form intrinsic tags (!Ref, !GetAtt, !Sub, ...) and their long
// forms, resolves scalar properties that refer to parameters through the parameters' defaults,
// and resolves intrinsic values (such as function environment variables) against a map of
// physical resource names with [Template.Resolve].
//
// Parsing is strict where leniency would make the local stack silently differ from the
// deployed one: unknown tags, duplicate keys, undocumented event properties and routes that
// name a missing authorizer are errors; documented behaviour the local stack does not
// emulate is listed in [Function.Unknown].
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
	// Parameters are the template's parameters by name.
	Parameters map[string]Parameter
	// Conditions are the template's condition expressions by name.
	Conditions map[string]Value
	// Mappings is the template's Mappings section (map name -> top key -> second key -> value).
	Mappings map[string]Value

	Functions []Function
	Tables    []Table
	Queues    []Queue
	Buckets   []Bucket
	Secrets   []Secret
	// HTTPAPI is the HTTP API the routes belong to, or nil when there is none.
	HTTPAPI *HTTPAPI
	// Other lists the resources of types the local stack does not create (roles, alarms, ...).
	Other []Resource
}

// Resource names a resource of a type the model does not cover.
type Resource struct {
	LogicalID string
	Type      string
}

// Parameter is a template parameter.
type Parameter struct {
	Type string
	// Default is the default value; meaningful only when HasDefault.
	Default       string
	HasDefault    bool
	AllowedValues []string
}

// Function is an AWS::Serverless::Function, merged with Globals.Function.
type Function struct {
	LogicalID string
	// Condition is the name of the condition the resource is created under, or "".
	Condition     string
	CodeURI       string
	Handler       string
	Runtime       string
	Architectures []string
	// Timeout is in seconds; Lambda's default of 3 when the template does not set it.
	Timeout int
	// MemorySize is in MB; Lambda's default of 128 when the template does not set it.
	MemorySize int
	// Environment holds the environment variables, Globals.Function.Environment.Variables
	// overridden by the function's own; resolve them with [Template.Environment].
	Environment map[string]Value
	// BuildMethod is Metadata.BuildMethod (for example "makefile"), or "".
	BuildMethod string

	Routes    []Route
	Queues    []QueueEvent
	Streams   []StreamEvent
	Schedules []Schedule
	// Unknown lists what the template declares for this function that the local stack does
	// not emulate: events of other types ("Events.Upload (S3)") and event properties that are
	// valid but not modelled ("Events.Jobs.FilterCriteria"). The local stack should log them.
	Unknown []string
}

// Route is an HttpApi event: one route of the HTTP API.
type Route struct {
	// Event is the event's name in the template.
	Event string
	// Method is upper case; "ANY" matches every method.
	Method string
	// Path is the path template ("/v1/profiles/{id}", "/files/{proxy+}"), or "$default"
	// for the catch-all route.
	Path string
	// Authorizer is the effective authorizer name: the event's own, else the API's default
	// authorizer, else "NONE".
	Authorizer string
	// PayloadFormatVersion is "2.0" unless the template says otherwise.
	PayloadFormatVersion string
}

// Key returns the API Gateway route key: "GET /v1/profiles/{id}", or "$default".
func (r Route) Key() string {
	if r.Path == DefaultRoute {
		return DefaultRoute
	}
	return r.Method + " " + r.Path
}

// DefaultRoute is the path (and route key) of the catch-all route.
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
	// Enabled is false when the event source mapping is disabled.
	Enabled bool
}

// ReportsBatchItemFailures reports whether the function returns partial batch failures.
func (q QueueEvent) ReportsBatchItemFailures() bool {
	return slices.Contains(q.FunctionResponseTypes, "ReportBatchItemFailures")
}

// StreamEvent is a DynamoDB stream event source.
type StreamEvent struct {
	Event          string
	TableLogicalID string
	// StartingPosition is TRIM_HORIZON or LATEST.
	StartingPosition string
	// BatchSize is the maximum number of records per invocation (default 100).
	BatchSize             int
	FunctionResponseTypes []string
	// MaximumRetryAttempts is -1 (retry until the record expires) unless set.
	MaximumRetryAttempts       int
	BisectBatchOnFunctionError bool
	Enabled                    bool
}

// ReportsBatchItemFailures reports whether the function returns partial batch failures.
func (s StreamEvent) ReportsBatchItemFailures() bool {
	return slices.Contains(s.FunctionResponseTypes, "ReportBatchItemFailures")
}

// Schedule is a Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler) event.
type Schedule struct {
	Event string
	// Expression is "rate(...)", "cron(...)" or "at(...)".
	Expression string
	// Timezone is the ScheduleV2 time zone, or "" (UTC).
	Timezone string
	// Input is the JSON the function receives, or "" for the default scheduled event.
	Input   string
	Enabled bool
}

// Table is an AWS::DynamoDB::Table or AWS::Serverless::SimpleTable.
type Table struct {
	LogicalID            string
	Condition            string
	KeySchema            []KeyElement
	AttributeDefinitions []AttributeDefinition
	GSIs                 []Index
	LSIs                 []Index
	// TTLAttribute is the attribute holding the expiry time, or "" when TTL is off.
	TTLAttribute string
	// StreamViewType is the stream's view type, or "" when the table has no stream.
	StreamViewType string
	// BillingMode is PAY_PER_REQUEST or PROVISIONED.
	BillingMode string
	// Throughput is the provisioned capacity (zero with PAY_PER_REQUEST).
	Throughput Throughput
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

// Index is a global or local secondary index.
type Index struct {
	Name       string
	KeySchema  []KeyElement
	Projection Projection
	Throughput Throughput
}

// Projection says which attributes an index holds.
type Projection struct {
	// Type is ALL, KEYS_ONLY or INCLUDE.
	Type             string
	NonKeyAttributes []string
}

// Throughput is provisioned read and write capacity.
type Throughput struct {
	Read, Write int64
}

// Queue is an AWS::SQS::Queue. Zero numbers mean the template does not set them and the
// service default applies.
type Queue struct {
	LogicalID              string
	Condition              string
	VisibilityTimeout      int
	MessageRetentionPeriod int
	DelaySeconds           int
	ReceiveWaitTimeSeconds int
	// RedriveTarget is the logical id of the dead-letter queue, or "".
	RedriveTarget   string
	MaxReceiveCount int
	FIFO            bool
	// ContentBasedDeduplication applies to FIFO queues only.
	ContentBasedDeduplication bool
}

// Bucket is an AWS::S3::Bucket.
type Bucket struct {
	LogicalID string
	Condition string
	// LifecycleExpirationDays is the smallest ExpirationInDays of the enabled lifecycle
	// rules, or 0 when objects do not expire.
	LifecycleExpirationDays int
}

// Secret is an AWS::SecretsManager::Secret.
type Secret struct {
	LogicalID string
	Condition string
	// SecretString is the literal value, when the template gives one.
	SecretString string
	// Generate describes the generated value, when the template asks for one.
	Generate *GenerateSecretString
}

// GenerateSecretString describes a value generated like Secrets Manager's GetRandomPassword.
type GenerateSecretString struct {
	// Template is the JSON object the generated password is added to (SecretStringTemplate),
	// or "" for a bare password.
	Template string
	// Key is the JSON key of the generated password in Template (GenerateStringKey).
	Key string
	// Length is the password length (default 32).
	Length             int
	ExcludeCharacters  string
	ExcludePunctuation bool
	ExcludeUppercase   bool
	ExcludeLowercase   bool
	ExcludeNumbers     bool
	IncludeSpace       bool
	// RequireEachIncludedType asks for at least one character of every included class
	// (default true).
	RequireEachIncludedType bool
}

// HTTPAPI is the API Gateway HTTP API the routes belong to, merged with Globals.HttpApi.
type HTTPAPI struct {
	// LogicalID is the AWS::Serverless::HttpApi resource, or "ServerlessHttpApi" for the
	// API SAM creates implicitly.
	LogicalID string
	// StageName is "$default" unless the template says otherwise.
	StageName string
	// DefaultAuthorizer is the authorizer of routes that do not name one, or "".
	DefaultAuthorizer string
	// Authorizers are the Lambda authorizers by name.
	Authorizers map[string]Authorizer
	// Throttling is DefaultRouteSettings' throttling (zero when unset).
	Throttling Throttling
}

// ImplicitHTTPAPI is the logical id SAM gives the HTTP API it creates for HttpApi events
// without an ApiId.
const ImplicitHTTPAPI = "ServerlessHttpApi"

// Authorizer is a Lambda authorizer of an HTTP API.
type Authorizer struct {
	Name string
	// FunctionLogicalID is the authorizer function.
	FunctionLogicalID string
	// IdentityHeaders are the identity-source headers ($request.header.X).
	IdentityHeaders []string
	// IdentityQueryStrings are the identity-source query parameters ($request.querystring.X).
	IdentityQueryStrings []string
	// CacheTTLSeconds is Identity.ReauthorizeEvery; 0 disables caching.
	CacheTTLSeconds int
	// SimpleResponses is EnableSimpleResponses: the authorizer answers {isAuthorized, context}.
	SimpleResponses bool
	// PayloadVersion is AuthorizerPayloadFormatVersion ("1.0" or "2.0").
	PayloadVersion string
}

// Throttling is an HTTP API's route throttling.
type Throttling struct {
	BurstLimit int
	RateLimit  float64
}

// Load reads and parses the SAM template at path.
func Load(path string) (*Template, error) { return LoadWith(path, nil) }

// LoadWith reads and parses the template at path with parameter overrides (see ParseWith).
func LoadWith(path string, overrides map[string]string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := ParseWith(data, overrides)
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
	out := make(map[string]string, len(t.Parameters))
	var problems []string
	for _, name := range sortedKeys(t.Parameters) {
		p := t.Parameters[name]
		v, ok := overrides[name]
		if !ok && p.HasDefault {
			v, ok = p.Default, true
		}
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("parameter %s has no value", name))
		case len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v):
			problems = append(problems, fmt.Sprintf("parameter %s: %q is not one of %v", name, v, p.AllowedValues))
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

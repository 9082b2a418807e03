package template

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadFixture(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(filepath.Join("testdata", "template.yaml"))
	if err != nil {
		t.Fatalf("Load fixture: %v", err)
	}
	return tpl
}

func mustFunction(t *testing.T, tpl *Template, id string) Function {
	t.Helper()
	f, ok := tpl.Function(id)
	if !ok {
		t.Fatalf("function %s not parsed", id)
	}
	return f
}

func TestParseFixtureFunctions(t *testing.T) {
	tpl := loadFixture(t)

	var ids []string
	for _, f := range tpl.Functions {
		ids = append(ids, f.LogicalID)
	}
	wantIDs := []string{"AuthorizerFunction", "DeadlineSweepFunction", "ErasureWorkerFunction",
		"EventsDispatcherFunction", "GetProfileFunction", "PortalFunction"}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Fatalf("functions = %v, want %v", ids, wantIDs)
	}

	tests := []struct {
		name  string
		id    string
		check func(t *testing.T, f Function)
	}{
		{"globals apply", "GetProfileFunction", func(t *testing.T, f Function) {
			if f.Handler != "bootstrap" || f.Runtime != "provided.al2023" || f.Timeout != 10 || f.MemorySize != 256 {
				t.Errorf("handler/runtime/timeout/memory = %q/%q/%d/%d", f.Handler, f.Runtime, f.Timeout, f.MemorySize)
			}
			if !reflect.DeepEqual(f.Architectures, []string{"arm64"}) || f.BuildMethod != "makefile" || f.CodeURI != "." {
				t.Errorf("architectures/build/code = %v/%q/%q", f.Architectures, f.BuildMethod, f.CodeURI)
			}
		}},
		{"own value beats globals", "AuthorizerFunction", func(t *testing.T, f Function) {
			if f.MemorySize != 128 {
				t.Errorf("MemorySize = %d, want 128", f.MemorySize)
			}
		}},
		{"timeout from parameter default", "ErasureWorkerFunction", func(t *testing.T, f Function) {
			if f.Timeout != 20 {
				t.Errorf("Timeout = %d, want 20", f.Timeout)
			}
		}},
		{"environment merges globals", "PortalFunction", func(t *testing.T, f Function) {
			for _, k := range []string{"TABLE_NAME", "STAGE", "EXPORTS_BUCKET", "SIGNING_SECRET_ARN"} {
				if _, ok := f.Environment[k]; !ok {
					t.Errorf("Environment lacks %s", k)
				}
			}
			if name, _, _ := f.Environment["LOG_LEVEL"].Intrinsic(); name != "Fn::If" {
				t.Errorf("LOG_LEVEL = %s, want the function's own Fn::If", f.Environment["LOG_LEVEL"])
			}
		}},
		{"routes with default authorizer", "GetProfileFunction", func(t *testing.T, f Function) {
			want := []Route{
				{Event: "FindProfile", Method: "GET", Path: "/v1/profiles", Authorizer: "ApiKeyAuthorizer", PayloadFormatVersion: "2.0"},
				{Event: "GetProfile", Method: "GET", Path: "/v1/profiles/{id}", Authorizer: "ApiKeyAuthorizer", PayloadFormatVersion: "2.0"},
			}
			if !reflect.DeepEqual(f.Routes, want) {
				t.Errorf("Routes = %+v, want %+v", f.Routes, want)
			}
			if !reflect.DeepEqual(f.Unknown, []string{"Events.FindProfile.TimeoutInMillis"}) {
				t.Errorf("Unknown = %v", f.Unknown)
			}
		}},
		{"route without authorizer", "PortalFunction", func(t *testing.T, f Function) {
			want := []Route{{Event: "Portal", Method: "ANY", Path: "/portal/{proxy+}", Authorizer: NoAuthorizer, PayloadFormatVersion: "2.0"}}
			if !reflect.DeepEqual(f.Routes, want) {
				t.Errorf("Routes = %+v, want %+v", f.Routes, want)
			}
		}},
		{"sqs event and unknown event type", "ErasureWorkerFunction", func(t *testing.T, f Function) {
			want := []QueueEvent{{Event: "Jobs", QueueLogicalID: "ErasureJobsQueue", BatchSize: 5,
				FunctionResponseTypes: []string{"ReportBatchItemFailures"}, Enabled: true}}
			if !reflect.DeepEqual(f.Queues, want) {
				t.Errorf("Queues = %+v, want %+v", f.Queues, want)
			}
			if !f.Queues[0].ReportsBatchItemFailures() {
				t.Error("ReportsBatchItemFailures = false")
			}
			if !reflect.DeepEqual(f.Unknown, []string{"Events.Upload (S3)"}) {
				t.Errorf("Unknown = %v", f.Unknown)
			}
		}},
		{"schedules", "DeadlineSweepFunction", func(t *testing.T, f Function) {
			want := []Schedule{
				{Event: "Hourly", Expression: "rate(1 hour)", Enabled: true},
				{Event: "Nightly", Expression: "cron(0 3 * * ? *)", Timezone: "Europe/Warsaw", Input: `{"kind":"nightly"}`, Enabled: false},
			}
			if !reflect.DeepEqual(f.Schedules, want) {
				t.Errorf("Schedules = %+v, want %+v", f.Schedules, want)
			}
		}},
		{"stream event", "EventsDispatcherFunction", func(t *testing.T, f Function) {
			want := []StreamEvent{{Event: "Outbox", TableLogicalID: "ProfilesTable", StartingPosition: "TRIM_HORIZON",
				BatchSize: 50, FunctionResponseTypes: []string{"ReportBatchItemFailures"}, MaximumRetryAttempts: 5, Enabled: true}}
			if !reflect.DeepEqual(f.Streams, want) {
				t.Errorf("Streams = %+v, want %+v", f.Streams, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustFunction(t, tpl, tt.id))
		})
	}
}

func TestParseFixtureResources(t *testing.T) {
	tpl := loadFixture(t)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"http api", tpl.HTTPAPI, &HTTPAPI{
			LogicalID:         "HttpApi",
			StageName:         "$default",
			DefaultAuthorizer: "ApiKeyAuthorizer",
			Authorizers: map[string]Authorizer{"ApiKeyAuthorizer": {
				Name: "ApiKeyAuthorizer", FunctionLogicalID: "AuthorizerFunction",
				IdentityHeaders: []string{"Authorization"}, CacheTTLSeconds: 60,
				SimpleResponses: true, PayloadVersion: "2.0",
			}},
			Throttling: Throttling{BurstLimit: 200, RateLimit: 100.5},
		}},
		{"table", tpl.Tables, []Table{{
			LogicalID: "ProfilesTable",
			KeySchema: []KeyElement{{"pk", "HASH"}, {"sk", "RANGE"}},
			AttributeDefinitions: []AttributeDefinition{{"pk", "S"}, {"sk", "S"},
				{"gsi1pk", "S"}, {"gsi1sk", "S"}},
			GSIs: []Index{{
				Name:       "gsi1",
				KeySchema:  []KeyElement{{"gsi1pk", "HASH"}, {"gsi1sk", "RANGE"}},
				Projection: Projection{Type: "INCLUDE", NonKeyAttributes: []string{"status", "dueAt"}},
			}},
			TTLAttribute:   "expiresAt",
			StreamViewType: "NEW_AND_OLD_IMAGES",
			BillingMode:    "PAY_PER_REQUEST",
		}}},
		{"queues", tpl.Queues, []Queue{
			{LogicalID: "ErasureJobsDLQ", MessageRetentionPeriod: 1209600},
			{LogicalID: "ErasureJobsQueue", VisibilityTimeout: 120, MessageRetentionPeriod: 345600,
				RedriveTarget: "ErasureJobsDLQ", MaxReceiveCount: 3},
			{LogicalID: "WebhookQueue", VisibilityTimeout: 60, FIFO: true, ContentBasedDeduplication: true},
		}},
		{"bucket uses the enabled rule", tpl.Buckets, []Bucket{{LogicalID: "ExportsBucket", LifecycleExpirationDays: 7}}},
		{"secret", tpl.Secrets, []Secret{{LogicalID: "SigningKeySecret", Generate: &GenerateSecretString{
			Template: `{"kid":"v1"}`, Key: "secret", Length: 48, ExcludePunctuation: true, RequireEachIncludedType: true,
		}}}},
		{"other resources", tpl.Other, []Resource{{LogicalID: "ErasureDLQAlarm", Type: "AWS::CloudWatch::Alarm"}}},
		{"parameters", tpl.Parameters["Stage"], Parameter{Type: "String", Default: "dev", HasDefault: true, AllowedValues: []string{"dev", "prod"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const fn = `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Events:
`
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"unknown tag", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: !Reff X\n", "unknown tag !Reff"},
		{"duplicate key", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  Q:\n    Type: AWS::SQS::Queue\n", `duplicate key "Q"`},
		{"getatt without attribute", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      X: !GetAtt Q\n", "want Resource.Attribute"},
		{"no resources", "Parameters: {}\n", "no Resources"},
		{"typo in event property", "Resources:" + fn + `        E:
          Type: HttpApi
          Properties: {Method: GET, Path: /x, Authoriser: NONE}
`, "unknown properties Authoriser"},
		{"method without path", "Resources:" + fn + `        E:
          Type: HttpApi
          Properties: {Method: GET}
`, "Method and Path must be set together"},
		{"unknown authorizer", "Resources:" + fn + `        E:
          Type: HttpApi
          Properties: {Method: GET, Path: /x, Auth: {Authorizer: Missing}}
`, `unknown authorizer "Missing"`},
		{"sqs queue by name", "Resources:" + fn + `        E:
          Type: SQS
          Properties: {Queue: jobs}
`, "Queue must be !GetAtt"},
		{"schedule without expression", "Resources:" + fn + `        E:
          Type: Schedule
          Properties: {Enabled: true}
`, "Schedule is required"},
		{"two apis", "Resources:" + fn + `        A:
          Type: HttpApi
          Properties: {Method: GET, Path: /a}
        B:
          Type: HttpApi
          Properties: {ApiId: !Ref Other, Method: GET, Path: /b}
  Other:
    Type: AWS::Serverless::HttpApi
`, "the local stack serves one"},
		{"jwt authorizer", `Globals:
  HttpApi:
    Auth:
      Authorizers:
        Jwt:
          JwtConfiguration: {issuer: x}
Resources:` + fn + `        E:
          Type: HttpApi
`, "JWT authorizers are not supported"},
		{"authorizer function missing", `Globals:
  HttpApi:
    Auth:
      Authorizers:
        Keys:
          FunctionArn: !GetAtt Nope.Arn
          AuthorizerPayloadFormatVersion: "2.0"
Resources:` + fn + `        E:
          Type: HttpApi
`, "function Nope is not"},
		{"timeout not a number", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: soon\n", `"soon" is not an integer`},
		{"timeout from unknown parameter", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: !Ref Missing\n", "Ref Missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseDefaultRoute(t *testing.T) {
	tpl, err := Parse([]byte(`Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        All:
          Type: HttpApi
`))
	if err != nil {
		t.Fatal(err)
	}
	f := mustFunction(t, tpl, "Fn")
	if len(f.Routes) != 1 || f.Routes[0].Key() != DefaultRoute || f.Routes[0].Authorizer != NoAuthorizer {
		t.Errorf("Routes = %+v, want one $default route without authorizer", f.Routes)
	}
	if tpl.HTTPAPI == nil || tpl.HTTPAPI.LogicalID != ImplicitHTTPAPI {
		t.Errorf("HTTPAPI = %+v, want the implicit API", tpl.HTTPAPI)
	}
}

func TestParameterValues(t *testing.T) {
	tpl := loadFixture(t)
	tests := []struct {
		name      string
		overrides map[string]string
		want      map[string]string
		wantErr   string
	}{
		{"parameter without default needs a value", nil, nil, "parameter AlarmEmail has no value"},
		{"defaults and overrides", map[string]string{"AlarmEmail": "ops@example.com", "Stage": "prod"},
			map[string]string{"AlarmEmail": "ops@example.com", "Stage": "prod", "LogLevel": "info", "AuthCacheTTL": "60", "WorkerTimeout": "20"}, ""},
		{"value not allowed", map[string]string{"AlarmEmail": "x", "Stage": "qa"}, nil, `"qa" is not one of [dev prod]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tpl.ParameterValues(tt.overrides)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRepoTemplate parses the project's own template.yaml and checks that every function is
// reachable locally: it has a route, a queue, a stream or a schedule, or it is an authorizer.
func TestRepoTemplate(t *testing.T) {
	path := filepath.Join("..", "..", "template.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the repository's template.yaml must exist at the repo root: %v", err)
	}
	tpl, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(tpl.Functions) == 0 {
		t.Fatal("template.yaml declares no functions")
	}
	authorizers := map[string]bool{}
	if tpl.HTTPAPI != nil {
		for _, a := range tpl.HTTPAPI.Authorizers {
			authorizers[a.FunctionLogicalID] = true
		}
	}
	routes := map[string]string{}
	for _, f := range tpl.Functions {
		t.Run(f.LogicalID, func(t *testing.T) {
			triggers := len(f.Routes) + len(f.Queues) + len(f.Streams) + len(f.Schedules)
			if triggers == 0 && !authorizers[f.LogicalID] {
				t.Errorf("%s has no route, queue, stream or schedule and is not an authorizer", f.LogicalID)
			}
			for _, r := range f.Routes {
				if other, dup := routes[r.Key()]; dup {
					t.Errorf("route %s is declared by %s and %s", r.Key(), other, f.LogicalID)
				}
				routes[r.Key()] = f.LogicalID
				if r.PayloadFormatVersion != "2.0" {
					t.Errorf("route %s: payload format %s, want 2.0", r.Key(), r.PayloadFormatVersion)
				}
			}
		})
	}
}

func TestValueIntrinsicForms(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantName string
		wantArg  string
	}{
		{"short ref", "!Ref Table", "Ref", `"Table"`},
		{"long ref", "{Ref: Table}", "Ref", `"Table"`},
		{"short getatt", "!GetAtt Queue.Arn", "Fn::GetAtt", `["Queue","Arn"]`},
		{"long getatt", "{Fn::GetAtt: [Queue, Arn]}", "Fn::GetAtt", `["Queue","Arn"]`},
		{"short sub list", "!Sub [\"${A}\", {A: x}]", "Fn::Sub", `["${A}",{"A":"x"}]`},
		{"short condition", "!Condition IsProd", "Condition", `"IsProd"`},
		{"getazs empty", "!GetAZs ''", "Fn::GetAZs", `""`},
		{"nested short forms", "!Join ['', [!Ref A, !Base64 b]]", "Fn::Join", `["",[{"Ref":"A"},{"Fn::Base64":"b"}]]`},
		{"plain map is not intrinsic", "{Name: x}", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := parseValue([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			name, arg, ok := v.Intrinsic()
			if tt.wantName == "" {
				if ok {
					t.Fatalf("Intrinsic() = %s, want none", name)
				}
				return
			}
			if name != tt.wantName || arg.String() != tt.wantArg {
				t.Errorf("Intrinsic() = %s %s, want %s %s", name, arg, tt.wantName, tt.wantArg)
			}
		})
	}
}

func TestErrNoValueIsDistinct(t *testing.T) {
	tpl := loadFixture(t)
	_, err := tpl.Resolve(mustParse(t, `!Ref AWS::NoValue`), nil, nil)
	if !errors.Is(err, ErrNoValue) {
		t.Fatalf("err = %v, want ErrNoValue", err)
	}
}

func mustParse(t *testing.T, s string) Value {
	t.Helper()
	v, err := parseValue([]byte(s))
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

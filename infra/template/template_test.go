package template

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
			if f.Timeout != 10 || f.LogGroup != "FunctionLogs" || len(f.Actions) != 0 || f.Handler != "bootstrap" || f.BuildMethod != "makefile" {
				t.Errorf("timeout/log group/actions/handler/build = %d/%q/%v/%q/%q", f.Timeout, f.LogGroup, f.Actions, f.Handler, f.BuildMethod)
			}
		}},
		{"own values beat globals", "AuthorizerFunction", func(t *testing.T, f Function) {
			if f.Timeout != 5 || f.LogGroup != "AuthorizerLogs" {
				t.Errorf("timeout/log group = %d/%q, want 5/AuthorizerLogs", f.Timeout, f.LogGroup)
			}
		}},
		{"managed and inline policies", "AuthorizerFunction", func(t *testing.T, f Function) {
			if want := []string{"dynamodb:GetItem", "kms:Decrypt"}; !reflect.DeepEqual(f.Actions, want) {
				t.Errorf("Actions = %v, want %v", f.Actions, want)
			}
		}},
		{"deny statements grant nothing", "ErasureWorkerFunction", func(t *testing.T, f Function) {
			want := []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "sqs:DeleteMessage", "sqs:ReceiveMessage"}
			if !reflect.DeepEqual(f.Actions, want) {
				t.Errorf("Actions = %v, want %v", f.Actions, want)
			}
		}},
		{"timeout from parameter default", "ErasureWorkerFunction", func(t *testing.T, f Function) {
			if f.Timeout != 20 {
				t.Errorf("Timeout = %d, want 20", f.Timeout)
			}
		}},
		{"environment merges globals", "PortalFunction", func(t *testing.T, f Function) {
			for _, k := range []string{"TABLE_NAME", "STAGE", "EXPORTS_BUCKET", "SIGNING_SECRET_ARN"} {
				if _, ok := f.env[k]; !ok {
					t.Errorf("Environment lacks %s", k)
				}
			}
			if name, _, _ := intrinsic(f.env["LOG_LEVEL"]); name != "Fn::If" {
				t.Errorf("LOG_LEVEL = %s, want the function's own Fn::If", show(f.env["LOG_LEVEL"]))
			}
		}},
		{"routes with default authorizer", "GetProfileFunction", func(t *testing.T, f Function) {
			want := []Route{
				{Method: "GET", Path: "/v1/profiles", Authorizer: "ApiKeyAuthorizer", PayloadFormatVersion: "2.0"},
				{Method: "GET", Path: "/v1/profiles/{id}", Authorizer: "ApiKeyAuthorizer", PayloadFormatVersion: "2.0"},
			}
			if !reflect.DeepEqual(f.Routes, want) {
				t.Errorf("Routes = %+v, want %+v", f.Routes, want)
			}
		}},
		{"route without authorizer", "PortalFunction", func(t *testing.T, f Function) {
			want := []Route{{Method: "ANY", Path: "/portal/{proxy+}", Authorizer: NoAuthorizer, PayloadFormatVersion: "2.0"}}
			if !reflect.DeepEqual(f.Routes, want) {
				t.Errorf("Routes = %+v, want %+v", f.Routes, want)
			}
		}},
		{"sqs event", "ErasureWorkerFunction", func(t *testing.T, f Function) {
			want := []QueueEvent{{Event: "Jobs", QueueLogicalID: "ErasureJobsQueue", BatchSize: 5,
				FunctionResponseTypes: []string{"ReportBatchItemFailures"}}}
			if !reflect.DeepEqual(f.Queues, want) {
				t.Errorf("Queues = %+v, want %+v", f.Queues, want)
			}
			if !f.Queues[0].ReportsBatchItemFailures() {
				t.Error("ReportsBatchItemFailures = false")
			}
		}},
		{"schedules", "DeadlineSweepFunction", func(t *testing.T, f Function) {
			want := []Schedule{
				{Event: "Hourly", Expression: "rate(1 hour)", Enabled: true},
				{Event: "Nightly", Expression: "rate(1 day)", Input: `{"kind":"nightly"}`, Enabled: false},
			}
			if !reflect.DeepEqual(f.Schedules, want) {
				t.Errorf("Schedules = %+v, want %+v", f.Schedules, want)
			}
		}},
		{"stream event", "EventsDispatcherFunction", func(t *testing.T, f Function) {
			want := []StreamEvent{{Event: "Outbox", TableLogicalID: "ProfilesTable", BatchSize: 50, StartingPosition: "TRIM_HORIZON",
				FunctionResponseTypes: []string{"ReportBatchItemFailures"}, MaximumRetryAttempts: 5}}
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
			StageName: "$default",
			Authorizers: map[string]Authorizer{"ApiKeyAuthorizer": {
				FunctionLogicalID: "AuthorizerFunction",
				IdentityHeaders:   []string{"Authorization"}, CacheTTLSeconds: 60,
				SimpleResponses: true, PayloadVersion: "2.0",
			}},
		}},
		{"table", tpl.Tables, []Table{{
			LogicalID: "ProfilesTable",
			KeySchema: []KeyElement{{"pk", "HASH"}, {"sk", "RANGE"}},
			AttributeDefinitions: []AttributeDefinition{{"pk", "S"}, {"sk", "S"},
				{"gsi1pk", "S"}, {"gsi1sk", "S"}},
			GSIs: []Index{{
				Name:       "gsi1",
				KeySchema:  []KeyElement{{"gsi1pk", "HASH"}, {"gsi1sk", "RANGE"}},
				Projection: "INCLUDE", NonKeyAttributes: []string{"status", "dueAt"},
			}},
			TTLAttribute:   "expiresAt",
			StreamViewType: "NEW_AND_OLD_IMAGES",
		}}},
		{"queues", tpl.Queues, []Queue{
			{LogicalID: "ErasureJobsDLQ", MessageRetentionPeriod: 1209600},
			{LogicalID: "ErasureJobsQueue", VisibilityTimeout: 120, MessageRetentionPeriod: 345600,
				RedriveTarget: "ErasureJobsDLQ", MaxReceiveCount: 3},
		}},
		{"bucket uses the enabled rule", tpl.Buckets, []Bucket{{LogicalID: "ExportsBucket", LifecycleExpirationDays: 7}}},
		{"secret", tpl.Secrets, []Secret{{LogicalID: "SigningKeySecret", Generate: &GenerateSecretString{
			Template: `{"kid":"v1"}`, Key: "secret", Length: 48, ExcludePunctuation: true,
		}}}},
		{"parameters", tpl.params["Stage"], parameter{def: "dev", hasDefault: true, allowed: []string{"dev", "prod"}}},
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
      Events:
`
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"unknown tag", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: !Reff X\n", "tag !Reff is unknown"},
		{"duplicate key", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  Q:\n    Type: AWS::SQS::Queue\n", `duplicate key "Q"`},
		{"getatt without attribute", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      X: !GetAtt Q\n", "want Resource.Attribute"},
		{"no resources", "Parameters: {}\n", "no Resources"},
		{"typo in event property", "Resources:" + fn + `        E:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /x, Authoriser: NONE}
`, "unsupported properties Authoriser"},
		{"method without path", "Resources:" + fn + `        E:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET}
`, "want a Method and a Path"},
		{"unsupported event type", "Resources:" + fn + `        E:
          Type: S3
          Properties: {Bucket: !Ref B, Events: s3:ObjectCreated:*}
`, `events of type "S3" are not emulated`},
		{"unsupported event property", "Resources:" + fn + `        E:
          Type: SQS
          Properties: {Queue: !GetAtt Q.Arn, ScalingConfig: {MaximumConcurrency: 2}}
`, "unsupported properties ScalingConfig"},
		{"unsupported intrinsic", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: {Fn::Select: [0, [\"3\"]]}\n", "Fn::Select is not supported"},
		{"unsupported short form", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: !Select [0, [\"3\"]]\n", "tag !Select is unknown or not supported"},
		{"fifo queue", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n", "unsupported properties FifoQueue"},
		{"provisioned table", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties: {BillingMode: PROVISIONED}\n", "only PAY_PER_REQUEST"},
		{"simple table", "Resources:\n  T:\n    Type: AWS::Serverless::SimpleTable\n", "not supported"},
		{"conditional queue", "Conditions: {C: !Equals [a, a]}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Condition: C\n", "Condition on a resource"},
		{"sam policy template", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies: [{DynamoDBReadPolicy: {TableName: t}}]\n", "want a policy document"},
		{"ref to a role", "Resources:\n  R:\n    Type: AWS::IAM::Role\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies: [!Ref R]\n", "R is not an AWS::IAM::ManagedPolicy"},
		{"log group by name", "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      LoggingConfig: {LogGroup: /my/group}\n", "LogGroup: must be a !Ref to an AWS::Logs::LogGroup"},
		{"unknown authorizer", "Resources:" + fn + `        E:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /x, Auth: {Authorizer: Missing}}
  Api:
    Type: AWS::Serverless::HttpApi
`, `unknown authorizer "Missing"`},
		{"sqs queue by name", "Resources:" + fn + `        E:
          Type: SQS
          Properties: {Queue: jobs}
`, "Queue: must be !GetAtt"},
		{"schedule without expression", "Resources:" + fn + `        E:
          Type: Schedule
          Properties: {Enabled: true}
`, "Schedule is required"},
		{"two apis", "Resources:" + fn + `        A:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /a}
        B:
          Type: HttpApi
          Properties: {ApiId: !Ref Other, Method: GET, Path: /b}
  Other:
    Type: AWS::Serverless::HttpApi
  Api:
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
          Properties: {ApiId: !Ref Api, Method: GET, Path: /x}
  Api:
    Type: AWS::Serverless::HttpApi
`, "unsupported properties JwtConfiguration"},
		{"authorizer function missing", `Globals:
  HttpApi:
    Auth:
      Authorizers:
        Keys:
          FunctionArn: !GetAtt Nope.Arn
          AuthorizerPayloadFormatVersion: "2.0"
Resources:` + fn + `        E:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /x}
  Api:
    Type: AWS::Serverless::HttpApi
`, "Nope is not an AWS::Serverless::Function"},
		{"disabled sqs event", "Resources:" + fn + `        E:
          Type: SQS
          Properties: {Queue: !GetAtt Q.Arn, Enabled: false}
  Q:
    Type: AWS::SQS::Queue
`, "disabled SQS events are not emulated"},
		{"sqs queue missing", "Resources:" + fn + `        E:
          Type: SQS
          Properties: {Queue: !GetAtt Nope.Arn}
`, "Queue: Nope is not an AWS::SQS::Queue"},
		{"problem in globals names globals", "Globals:\n  Function:\n    Timeout: soon\nResources:\n  F:\n    Type: AWS::Serverless::Function\n", `Globals.Function.Timeout: "soon" is not an integer`},
		{"properties not a mapping", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: [a]\n", `Resources.Q.Properties: want a mapping, got ["a"]`},
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
			if f.LogGroup == "" {
				t.Errorf("%s logs to Lambda's default log group, which has no retention", f.LogicalID)
			}
			// Exactly the table-key access the function's table access needs: decrypt to
			// read, and also generate data keys and encrypt to write.
			var reads, writes bool
			for _, a := range f.Actions {
				switch a {
				case "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan":
					reads = true
				case "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:TransactWriteItems", "dynamodb:BatchWriteItem":
					writes = true
				}
			}
			has := func(a string) bool { return slices.Contains(f.Actions, a) }
			if has("kms:Decrypt") != (reads || writes) || has("kms:GenerateDataKey") != writes || has("kms:Encrypt") != writes {
				t.Errorf("table access read=%v write=%v, but KMS actions %v", reads, writes, f.Actions)
			}
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
		{"short if", "!If [C, a, b]", "Fn::If", `["C","a","b"]`},
		{"nested short forms", "!Not [!Equals [!Ref A, b]]", "Fn::Not", `[{"Fn::Equals":[{"Ref":"A"},"b"]}]`},
		{"long form of an unsupported intrinsic", "{Fn::Join: ['', [a]]}", "Fn::Join", `["",["a"]]`},
		{"plain map is not intrinsic", "{Name: x}", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := parseValue([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			name, arg, ok := intrinsic(v)
			if tt.wantName == "" {
				if ok {
					t.Fatalf("intrinsic() = %s, want none", name)
				}
				return
			}
			if name != tt.wantName || show(arg) != tt.wantArg {
				t.Errorf("intrinsic() = %s %s, want %s %s", name, show(arg), tt.wantName, tt.wantArg)
			}
		})
	}
}

func TestErrNoValueIsDistinct(t *testing.T) {
	tpl := loadFixture(t)
	_, err := tpl.resolve(mustParse(t, `!Ref AWS::NoValue`), nil, nil)
	if !errors.Is(err, errNoValue) {
		t.Fatalf("err = %v, want errNoValue", err)
	}
}

func mustParse(t *testing.T, s string) any {
	t.Helper()
	v, err := parseValue([]byte(s))
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// TestDefaultRoute: the $default route parses with its own route key, and a path that is
// neither a template nor $default is refused.
func TestDefaultRoute(t *testing.T) {
	const api = `
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        E:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: ANY, Path: PATH, Auth: {Authorizer: NONE}}
`
	tpl, err := Parse([]byte(strings.Replace(api, "PATH", "$default", 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{{Method: "ANY", Path: DefaultRoute, Authorizer: NoAuthorizer, PayloadFormatVersion: "2.0"}}
	if got := mustFunction(t, tpl, "F").Routes; !reflect.DeepEqual(got, want) || got[0].Key() != "$default" {
		t.Errorf("Routes = %+v (key %q), want %+v (key $default)", got, got[0].Key(), want)
	}
	if _, err := Parse([]byte(strings.Replace(api, "PATH", "default", 1))); err == nil || !strings.Contains(err.Error(), "want a Method and a Path") {
		t.Errorf("Parse of a relative path: error %v", err)
	}
}

package template

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fixturePhysical is what the local stack would report for the fixture's resources.
var fixturePhysical = map[string]string{
	"ProfilesTable":            "lp-ProfilesTable",
	"ProfilesTable.Arn":        "arn:aws:dynamodb:eu-central-1:000000000000:table/lp-ProfilesTable",
	"ProfilesTable.StreamArn":  "arn:aws:dynamodb:eu-central-1:000000000000:table/lp-ProfilesTable/stream/1",
	"ErasureJobsQueue":         "http://127.0.0.1:1/000000000000/lp-ErasureJobsQueue",
	"ErasureJobsQueue.Arn":     "arn:aws:sqs:eu-central-1:000000000000:lp-ErasureJobsQueue",
	"ErasureJobsDLQ.QueueName": "lp-ErasureJobsDLQ",
	"ExportsBucket":            "lp-exportsbucket",
	"SigningKeySecret":         "arn:aws:secretsmanager:eu-central-1:000000000000:secret:lp-SigningKeySecret-abc",
}

func fixtureParams(overrides map[string]string) map[string]string {
	p := map[string]string{"Stage": "dev", "LogLevel": "info", "AuthCacheTTL": "60", "WorkerTimeout": "20"}
	for k, v := range PseudoParameters("lp", "eu-central-1", "000000000000") {
		p[k] = v
	}
	for k, v := range overrides {
		p[k] = v
	}
	return p
}

func TestResolve(t *testing.T) {
	tpl := loadFixture(t)
	tests := []struct {
		name    string
		expr    string
		params  map[string]string
		want    string
		wantErr string
	}{
		{"literal", `plain`, nil, "plain", ""},
		{"number literal", `42`, nil, "42", ""},
		{"ref parameter", `!Ref Stage`, nil, "dev", ""},
		{"ref pseudo", `!Ref AWS::Region`, nil, "eu-central-1", ""},
		{"ref table", `!Ref ProfilesTable`, nil, "lp-ProfilesTable", ""},
		{"ref queue gives url", `{Ref: ErasureJobsQueue}`, nil, fixturePhysical["ErasureJobsQueue"], ""},
		{"getatt short", `!GetAtt ProfilesTable.StreamArn`, nil, fixturePhysical["ProfilesTable.StreamArn"], ""},
		{"getatt long", `{"Fn::GetAtt": [ErasureJobsQueue, Arn]}`, nil, fixturePhysical["ErasureJobsQueue.Arn"], ""},
		{"sub refs and attributes", `!Sub "${AWS::StackName}/${ProfilesTable}/${ErasureJobsDLQ.QueueName}"`, nil, "lp/lp-ProfilesTable/lp-ErasureJobsDLQ", ""},
		{"sub literal", `!Sub "${Stage}-${!NotMe}"`, nil, "dev-${NotMe}", ""},
		{"sub with variables unsupported", `!Sub ["${Name}", {Name: !Ref Stage}]`, nil, "", "variables are not supported"},
		{"sub unterminated", `!Sub "${Stage"`, nil, "", "unterminated"},
		{"if true", `!If [IsProd, big, small]`, map[string]string{"Stage": "prod"}, "big", ""},
		{"if false", `!If [IsProd, big, small]`, nil, "small", ""},
		{"if not", `!If [IsNotProd, yes, no]`, nil, "yes", ""},
		{"if not false", `!If [IsNotProd, yes, no]`, map[string]string{"Stage": "prod"}, "no", ""},
		{"if unknown condition", `!If [Nope, a, b]`, nil, "", "unknown condition Nope"},
		{"join unsupported", `{"Fn::Join": ["-", [a, b]]}`, nil, "", "Fn::Join is not supported by the local stack"},
		{"find in map unsupported", `{"Fn::FindInMap": [M, a, b]}`, nil, "", "Fn::FindInMap is not supported"},
		{"import value unsupported", `{"Fn::ImportValue": shared-vpc}`, nil, "", "Fn::ImportValue is not supported"},
		{"unknown reference", `!Ref Missing`, nil, "", "Ref Missing: unknown parameter or resource"},
		{"unknown attribute", `!GetAtt ProfilesTable.Nope`, nil, "", "ProfilesTable.Nope"},
		{"parameter without value", `!Ref AlarmEmail`, nil, "", "parameter has no value"},
		{"map is not a string", `{a: b}`, nil, "", "is not a string"},
		{"novalue", `!If [IsProd, x, !Ref AWS::NoValue]`, nil, "", "AWS::NoValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tpl.resolve(mustParse(t, tt.expr), fixturePhysical, fixtureParams(tt.params))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%s) = %q, %v; want error containing %q", tt.expr, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%s): %v", tt.expr, err)
			}
			if got != tt.want {
				t.Errorf("Resolve(%s) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestUnsupportedCondition(t *testing.T) {
	tpl, err := Parse([]byte(`Parameters: {A: {Type: String, Default: x}}
Conditions:
  Both: {"Fn::And": [!Equals [!Ref A, x], !Equals [!Ref A, y]]}
Resources: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.resolve(mustParse(t, `!If [Both, a, b]`), nil, map[string]string{"A": "x"}); err == nil || !strings.Contains(err.Error(), "not a condition the local stack supports") {
		t.Fatalf("error = %v, want Fn::And rejected", err)
	}
}

func TestEnvironment(t *testing.T) {
	tpl := loadFixture(t)
	tests := []struct {
		name   string
		fn     string
		params map[string]string
		want   map[string]string
	}{
		{"worker", "ErasureWorkerFunction", nil, map[string]string{
			"TABLE_NAME":     "lp-ProfilesTable",
			"LOG_LEVEL":      "info",
			"STAGE":          "dev-eu-central-1",
			"JOBS_QUEUE_URL": fixturePhysical["ErasureJobsQueue"],
			"JOBS_QUEUE_ARN": fixturePhysical["ErasureJobsQueue.Arn"],
			"DLQ_NAME":       "lp-ErasureJobsDLQ",
			"RETENTION_DAYS": "7",
			"STREAM":         fixturePhysical["ProfilesTable.StreamArn"] + ":${a}",
		}},
		{"novalue variable is left out", "PortalFunction", nil, map[string]string{
			"TABLE_NAME":         "lp-ProfilesTable",
			"STAGE":              "dev-eu-central-1",
			"EXPORTS_BUCKET":     "lp-exportsbucket",
			"SIGNING_SECRET_ARN": fixturePhysical["SigningKeySecret"],
		}},
		{"variable set by condition", "PortalFunction", map[string]string{"LogLevel": "debug"}, map[string]string{
			"TABLE_NAME":         "lp-ProfilesTable",
			"STAGE":              "dev-eu-central-1",
			"EXPORTS_BUCKET":     "lp-exportsbucket",
			"SIGNING_SECRET_ARN": fixturePhysical["SigningKeySecret"],
			"LOG_LEVEL":          "debug",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tpl.Environment(mustFunction(t, tpl, tt.fn), fixturePhysical, fixtureParams(tt.params))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("unresolved variable is an error naming it", func(t *testing.T) {
		physical := map[string]string{"ProfilesTable": "t"}
		_, err := tpl.Environment(mustFunction(t, tpl, "PortalFunction"), physical, fixtureParams(nil))
		if err == nil || !strings.Contains(err.Error(), "EXPORTS_BUCKET") || errors.Is(err, errNoValue) {
			t.Fatalf("err = %v, want an error naming EXPORTS_BUCKET", err)
		}
	})
}

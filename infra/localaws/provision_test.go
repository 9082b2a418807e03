package localaws

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/livingprofile/livingprofile/infra/template"
)

// startStack starts the embedded emulator for one test. kumo's state is shared by the whole
// process, so each test provisions under its own stack name (see uniqueStack).
func startStack(t *testing.T) *Stack {
	t.Helper()
	s, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// uniqueStack returns a stack name no other test (or earlier -count run) uses.
func uniqueStack(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

func fixture(t *testing.T) *template.Template {
	t.Helper()
	tpl, err := template.Load(filepath.Join("..", "template", "testdata", "template.yaml"))
	if err != nil {
		t.Fatalf("load fixture: %v", err)
	}
	return tpl
}

func TestProvision(t *testing.T) {
	ctx := t.Context()
	stack := startStack(t)
	name := uniqueStack(t)
	tpl := fixture(t)

	phys, err := Provision(ctx, stack.AWS, tpl, name)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	ddb := dynamodb.NewFromConfig(stack.AWS)
	q := sqs.NewFromConfig(stack.AWS)
	s3c := s3.NewFromConfig(stack.AWS)
	sm := secretsmanager.NewFromConfig(stack.AWS)

	tests := []struct {
		name  string
		check func(t *testing.T, ctx context.Context)
	}{
		{"table has the index, stream and billing mode", func(t *testing.T, ctx context.Context) {
			d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name + "-ProfilesTable")})
			if err != nil {
				t.Fatal(err)
			}
			tbl := d.Table
			if len(tbl.GlobalSecondaryIndexes) != 1 || aws.ToString(tbl.GlobalSecondaryIndexes[0].IndexName) != "gsi1" {
				t.Fatalf("GSIs = %+v, want gsi1", tbl.GlobalSecondaryIndexes)
			}
			proj := tbl.GlobalSecondaryIndexes[0].Projection
			if proj.ProjectionType != ddbtypes.ProjectionTypeInclude || !reflect.DeepEqual(proj.NonKeyAttributes, []string{"status", "dueAt"}) {
				t.Errorf("projection = %s %v", proj.ProjectionType, proj.NonKeyAttributes)
			}
			if tbl.StreamSpecification == nil || !aws.ToBool(tbl.StreamSpecification.StreamEnabled) ||
				tbl.StreamSpecification.StreamViewType != ddbtypes.StreamViewTypeNewAndOldImages {
				t.Errorf("stream = %+v, want NEW_AND_OLD_IMAGES", tbl.StreamSpecification)
			}
			if got := phys["ProfilesTable"].StreamARN; got == "" || got != aws.ToString(tbl.LatestStreamArn) {
				t.Errorf("physical stream ARN = %q, table's = %q", got, aws.ToString(tbl.LatestStreamArn))
			}
			if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
				t.Errorf("billing = %+v, want PAY_PER_REQUEST", tbl.BillingModeSummary)
			}
		}},
		{"table has TTL", func(t *testing.T, ctx context.Context) {
			d, err := ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name + "-ProfilesTable")})
			if err != nil {
				t.Fatal(err)
			}
			if ttl := d.TimeToLiveDescription; aws.ToString(ttl.AttributeName) != "expiresAt" || ttl.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
				t.Errorf("TTL = %s %s, want expiresAt ENABLED", aws.ToString(ttl.AttributeName), ttl.TimeToLiveStatus)
			}
		}},
		{"queue redrives to its dead-letter queue", func(t *testing.T, ctx context.Context) {
			a := queueAttributes(t, ctx, q, phys["ErasureJobsQueue"].URL)
			var policy struct {
				Target string      `json:"deadLetterTargetArn"`
				Max    json.Number `json:"maxReceiveCount"`
			}
			if err := json.Unmarshal([]byte(a["RedrivePolicy"]), &policy); err != nil {
				t.Fatalf("RedrivePolicy %q: %v", a["RedrivePolicy"], err)
			}
			if policy.Target != phys["ErasureJobsDLQ"].ARN || policy.Max.String() != "3" {
				t.Errorf("RedrivePolicy = %+v, want DLQ %s after 3", policy, phys["ErasureJobsDLQ"].ARN)
			}
			if a["VisibilityTimeout"] != "120" {
				t.Errorf("VisibilityTimeout = %s, want 120", a["VisibilityTimeout"])
			}
		}},
		{"dead-letter queue keeps messages 14 days", func(t *testing.T, ctx context.Context) {
			a := queueAttributes(t, ctx, q, phys["ErasureJobsDLQ"].URL)
			if a["MessageRetentionPeriod"] != "1209600" {
				t.Errorf("MessageRetentionPeriod = %s", a["MessageRetentionPeriod"])
			}
		}},
		{"queue url reaches the emulator", func(t *testing.T, ctx context.Context) {
			want := stack.Endpoint + "/000000000000/" + name + "-ErasureJobsQueue"
			if got := phys["ErasureJobsQueue"].URL; got != want {
				t.Errorf("URL = %s, want %s", got, want)
			}
		}},
		{"bucket with lifecycle", func(t *testing.T, ctx context.Context) {
			b := phys["ExportsBucket"].Name
			if b != strings.ToLower(name+"-ExportsBucket") {
				t.Errorf("bucket name = %s", b)
			}
			if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b}); err != nil {
				t.Fatalf("HeadBucket: %v", err)
			}
			lc, err := s3c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &b})
			if err != nil {
				t.Fatalf("GetBucketLifecycleConfiguration: %v", err)
			}
			if len(lc.Rules) != 1 || lc.Rules[0].Expiration == nil || aws.ToInt32(lc.Rules[0].Expiration.Days) != 7 {
				t.Errorf("lifecycle rules = %+v, want expiry after 7 days", lc.Rules)
			}
		}},
		{"secret has the generated key", func(t *testing.T, ctx context.Context) {
			v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(phys["SigningKeySecret"].ARN)})
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(aws.ToString(v.SecretString)), &got); err != nil {
				t.Fatalf("secret is not JSON: %v", err)
			}
			if got["kid"] != "v1" || !regexp.MustCompile(`^[A-Za-z0-9]{48}$`).MatchString(got["secret"]) {
				t.Errorf("secret = kid %q and a %d-character key; want kid v1 and 48 alphanumerics", got["kid"], len(got["secret"]))
			}
		}},
		{"physical resolves the environment", func(t *testing.T, ctx context.Context) {
			fn, _ := tpl.Function("ErasureWorkerFunction")
			params, err := tpl.ParameterValues(map[string]string{"AlarmEmail": "ops@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range template.PseudoParameters(name, DefaultRegion, "000000000000") {
				params[k] = v
			}
			env, err := tpl.Environment(fn, phys.Refs(), params)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"TABLE_NAME":     name + "-ProfilesTable",
				"JOBS_QUEUE_URL": phys["ErasureJobsQueue"].URL,
				"JOBS_QUEUE_ARN": phys["ErasureJobsQueue"].ARN,
				"DLQ_NAME":       name + "-ErasureJobsDLQ",
			}
			for k, v := range want {
				if env[k] != v || v == "" {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, t.Context()) })
	}
}

func queueAttributes(t *testing.T, ctx context.Context, q *sqs.Client, url string) map[string]string {
	t.Helper()
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return out.Attributes
}

// TestProvisionIsIdempotent provisions twice and checks that what was written in between
// survives: an item, a queued message, an object and the secret's value.
func TestProvisionIsIdempotent(t *testing.T) {
	ctx := t.Context()
	stack := startStack(t)
	name := uniqueStack(t)
	tpl := fixture(t)

	first, err := Provision(ctx, stack.AWS, tpl, name)
	if err != nil {
		t.Fatalf("first Provision: %v", err)
	}
	ddb := dynamodb.NewFromConfig(stack.AWS)
	q := sqs.NewFromConfig(stack.AWS)
	s3c := s3.NewFromConfig(stack.AWS)
	sm := secretsmanager.NewFromConfig(stack.AWS)

	table := first["ProfilesTable"].Name
	key := map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "TENANT#demo"},
		"sk": &ddbtypes.AttributeValueMemberS{Value: "PROFILE#1"},
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(first["ErasureJobsQueue"].URL), MessageBody: aws.String("job")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	bucket := first["ExportsBucket"].Name
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("export.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	secretBefore := secretValue(t, ctx, sm, first["SigningKeySecret"].ARN)

	second, err := Provision(ctx, stack.AWS, tpl, name)
	if err != nil {
		t.Fatalf("second Provision: %v", err)
	}

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"same physical resources", func(t *testing.T) {
			if !reflect.DeepEqual(first, second) {
				t.Errorf("first  %+v\nsecond %+v", first, second)
			}
		}},
		{"item survives", func(t *testing.T) {
			got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if got.Item == nil {
				t.Error("item is gone")
			}
		}},
		{"message survives", func(t *testing.T) {
			a := queueAttributes(t, ctx, q, second["ErasureJobsQueue"].URL)
			if a["ApproximateNumberOfMessages"] != "1" {
				t.Errorf("ApproximateNumberOfMessages = %s, want 1", a["ApproximateNumberOfMessages"])
			}
		}},
		{"object survives", func(t *testing.T) {
			o, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("export.json")})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Body.Close()
			if b, _ := io.ReadAll(o.Body); string(b) != "{}" {
				t.Errorf("object = %q", b)
			}
		}},
		{"secret keeps its value", func(t *testing.T) {
			if secretValue(t, ctx, sm, second["SigningKeySecret"].ARN) != secretBefore {
				t.Error("secret value changed")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func secretValue(t *testing.T, ctx context.Context, sm *secretsmanager.Client, id string) string {
	t.Helper()
	v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	return aws.ToString(v.SecretString)
}

func TestProvisionRejects(t *testing.T) {
	stack := startStack(t)
	tests := []struct {
		name    string
		stack   string
		yaml    string
		wantErr string
	}{
		{"stack name with underscore", "my_stack", "Resources: {}\n", "stack name"},
		{"stack name starting with a digit", "1stack", "Resources: {}\n", "stack name"},
		{"bucket name too long", strings.Repeat("a", 62), "Resources:\n  B:\n    Type: AWS::S3::Bucket\n", "longer than 63"},
		{"redrive to a missing queue", "ok", `Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Nope.Arn, maxReceiveCount: 2}
`, "dead-letter queue Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := template.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Provision(t.Context(), stack.AWS, tpl, tt.stack)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Provision error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestProvisionKeySchemaDrift(t *testing.T) {
	stack := startStack(t)
	name := uniqueStack(t)
	tpl, err := template.Parse([]byte(`Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(t.Context(), stack.AWS, tpl, name); err != nil {
		t.Fatal(err)
	}
	tpl.Tables[0].KeySchema[0].AttributeName = "pk"
	if _, err := Provision(t.Context(), stack.AWS, tpl, name); err == nil || !strings.Contains(err.Error(), "key schema") {
		t.Fatalf("second Provision error = %v, want a key schema error", err)
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name         string
		opts         Options
		wantEmbedded bool
		wantEndpoint *regexp.Regexp
		wantRegion   string
	}{
		{"embedded emulator", Options{}, true, regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`), DefaultRegion},
		{"other endpoint", Options{Endpoint: "http://localhost:4566", Region: "us-east-1"}, false, regexp.MustCompile(`^http://localhost:4566$`), "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(t.Context(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Embedded != tt.wantEmbedded || !tt.wantEndpoint.MatchString(s.Endpoint) ||
				aws.ToString(s.AWS.BaseEndpoint) != s.Endpoint || s.AWS.Region != tt.wantRegion {
				t.Errorf("Stack = embedded %v endpoint %q base %q region %q", s.Embedded, s.Endpoint, aws.ToString(s.AWS.BaseEndpoint), s.AWS.Region)
			}
			creds, err := s.AWS.Credentials.Retrieve(t.Context())
			if err != nil || creds.AccessKeyID != "local" || creds.SecretAccessKey != "local" {
				t.Errorf("credentials = %q/%q, %v; want local/local", creds.AccessKeyID, creds.SecretAccessKey, err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func churnKey(id string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "TENANT#demo"},
		"sk": &ddbtypes.AttributeValueMemberS{Value: "CHURN#" + id},
	}
}

func churnItem(id string, v int) map[string]ddbtypes.AttributeValue {
	it := churnKey(id)
	it["v"] = &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(v)}
	it["pad"] = &ddbtypes.AttributeValueMemberS{Value: strings.Repeat("x", 300)}
	return it
}

// restartPhaseEnv selects the role of TestRestartKeepsData's child processes.
const restartPhaseEnv = "LOCALAWS_TEST_RESTART_PHASE"

// TestRestartKeepsData runs the local stack twice in child processes sharing an LP_DATA_DIR:
// the first run writes an item, a message and an object and notes the secret, then
// overwrites a second item 200 times and deletes a third, compacting the journal on the way
// (compactMin is tiny); the second, after provisioning again, finds the item, the object and
// the secret unchanged, the last value of the second item, no third, a journal shorter than
// the writes, and the queue empty (SQS is not journaled: the local stack's reconciler
// restores what it carried).
func TestRestartKeepsData(t *testing.T) {
	if phase := os.Getenv(restartPhaseEnv); phase != "" {
		restartChild(t, phase)
		return
	}
	dir := t.TempDir()
	for _, phase := range []string{"write", "read"} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRestartKeepsData$", "-test.count=1")
		cmd.Env = append(os.Environ(), restartPhaseEnv+"="+phase, DataDirEnv+"="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s run: %v\n%s", phase, err, out)
		}
	}
}

func restartChild(t *testing.T, phase string) {
	ctx := t.Context()
	compactMin = 16 << 10
	stack := startStack(t)
	phys, err := Provision(ctx, stack.AWS, fixture(t), "restart")
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	ddb := dynamodb.NewFromConfig(stack.AWS)
	q := sqs.NewFromConfig(stack.AWS)
	s3c := s3.NewFromConfig(stack.AWS)
	sm := secretsmanager.NewFromConfig(stack.AWS)
	table, bucket, queue := phys["ProfilesTable"].Name, phys["ExportsBucket"].Name, phys["ErasureJobsQueue"].URL
	key := map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "TENANT#demo"},
		"sk": &ddbtypes.AttributeValueMemberS{Value: "PROFILE#1"},
	}
	secretFile := filepath.Join(os.Getenv(DataDirEnv), "secret-seen-by-test")
	secret := secretValue(t, ctx, sm, phys["SigningKeySecret"].ARN)

	switch phase {
	case "write":
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &queue, MessageBody: aws.String("job")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: churnItem("2", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: churnItem("3", 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: churnKey("3")}); err != nil {
			t.Fatal(err)
		}
	case "read":
		got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key})
		if err != nil || got.Item == nil {
			t.Errorf("item after restart is missing (err %v)", err)
		}
		if n := queueAttributes(t, ctx, q, queue)["ApproximateNumberOfMessages"]; n != "0" {
			t.Errorf("messages after restart = %s, want 0", n)
		}
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("k")}); err != nil {
			t.Errorf("object after restart: %v", err)
		}
		if before, err := os.ReadFile(secretFile); err != nil || string(before) != secret {
			t.Errorf("secret changed across restart (read note: %v)", err)
		}
		for id, want := range map[string]string{"2": "199", "3": ""} {
			got, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: churnKey(id), ConsistentRead: aws.Bool(true)})
			v, _ := got.Item["v"].(*ddbtypes.AttributeValueMemberN)
			if err != nil || (v == nil) != (want == "") || v != nil && v.Value != want {
				t.Errorf("item %s after restart = %v (%v), want value %q", id, got.Item, err, want)
			}
		}
		b, err := os.ReadFile(filepath.Join(os.Getenv(DataDirEnv), journalFile))
		if n := bytes.Count(b, []byte("\n")); err != nil || n >= 200 {
			t.Errorf("journal has %d records after 202 item writes (%v); it was not compacted", n, err)
		}
	}
}

// TestProvisionWithoutStreams: the option leaves the stream off, and a second run over the
// table it made neither adds one nor fails.
func TestProvisionWithoutStreams(t *testing.T) {
	ctx := t.Context()
	stack := startStack(t)
	name := uniqueStack(t)
	ddb := dynamodb.NewFromConfig(stack.AWS)
	for run := 1; run <= 2; run++ {
		phys, err := Provision(ctx, stack.AWS, fixture(t), name, WithoutStreams(true))
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name + "-ProfilesTable")})
		if err != nil {
			t.Fatal(err)
		}
		if s := d.Table.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) || aws.ToString(d.Table.LatestStreamArn) != "" {
			t.Errorf("run %d: stream = %+v %q, want none", run, s, aws.ToString(d.Table.LatestStreamArn))
		}
		if got := phys["ProfilesTable"].StreamARN; got != "" {
			t.Errorf("run %d: physical stream ARN = %q, want none", run, got)
		}
	}
}

package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/livingprofile/livingprofile/infra/template"
)

// Resource is a provisioned resource's physical identity. Fields that do not apply to its
// type are empty.
type Resource struct {
	Type      string // the CloudFormation resource type, e.g. "AWS::SQS::Queue"
	Name      string
	ARN       string
	URL       string // a queue's
	StreamARN string // a table's latest
}

// Physical maps a logical id of the template to the resource provisioned for it.
type Physical map[string]Resource

// Refs returns the map [template.Template.Environment] takes: "LogicalID" to what !Ref returns for
// the resource's type (a table's or bucket's name, a queue's URL, a secret's ARN), and
// "LogicalID.Attribute" to what !GetAtt returns (Arn, StreamArn, QueueName).
func (p Physical) Refs() map[string]string {
	out := make(map[string]string, 4*len(p))
	for id, r := range p {
		set := func(attr, v string) {
			if v != "" {
				out[id+"."+attr] = v
			}
		}
		set("Arn", r.ARN)
		switch r.Type {
		case typeTable:
			out[id] = r.Name
			set("StreamArn", r.StreamARN)
		case typeQueue:
			out[id] = r.URL
			set("QueueName", r.Name)
		case typeBucket:
			out[id] = r.Name
		case typeSecret:
			out[id] = r.ARN
		}
	}
	return out
}

const (
	typeTable  = "AWS::DynamoDB::Table"
	typeQueue  = "AWS::SQS::Queue"
	typeBucket = "AWS::S3::Bucket"
	typeSecret = "AWS::SecretsManager::Secret"
)

// stackNamePattern is CloudFormation's rule for stack names, which keeps every physical name
// derived from it valid.
var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// Provision creates the template's tables, queues, buckets and secrets in the services cfg
// points at, named "<stackName>-<LogicalID>" (buckets lower-cased), and returns their
// physical identities. It is idempotent: a resource that exists keeps its data (and a
// secret its value); only settings that change in place (queue attributes, TTL, lifecycle
// rules) are brought in line with the template. Drift it cannot fix, such as a missing
// index, is a warning; a different key schema is an error: the code would not work.
func Provision(ctx context.Context, cfg aws.Config, tpl *template.Template, stackName string, opts ...Option) (Physical, error) {
	if !stackNamePattern.MatchString(stackName) {
		return nil, fmt.Errorf("provision: stack name %q must be a letter followed by letters, digits and hyphens", stackName)
	}
	p := &provisioner{
		stack: stackName,
		ddb:   dynamodb.NewFromConfig(cfg),
		sqs:   sqs.NewFromConfig(cfg),
		s3:    s3.NewFromConfig(cfg),
		sm:    secretsmanager.NewFromConfig(cfg),
		out:   Physical{},
		cfg:   cfg,
	}
	for _, o := range opts {
		o(p)
	}
	for _, t := range tpl.Tables {
		if err := p.table(ctx, t); err != nil {
			return nil, fmt.Errorf("provision table %s: %w", t.LogicalID, err)
		}
	}
	if err := p.queues(ctx, tpl.Queues); err != nil {
		return nil, err
	}
	for _, b := range tpl.Buckets {
		if err := p.bucket(ctx, b); err != nil {
			return nil, fmt.Errorf("provision bucket %s: %w", b.LogicalID, err)
		}
	}
	for _, s := range tpl.Secrets {
		if err := p.secret(ctx, s); err != nil {
			return nil, fmt.Errorf("provision secret %s: %w", s.LogicalID, err)
		}
	}
	return p.out, nil
}

// Option changes what Provision creates.
type Option func(*provisioner)

// WithoutStreams(true) creates tables without their stream (StreamARN stays empty). For the
// embedded emulator: its stream misses transactional writes, so the
// local stack reads the outbox instead, and it keeps every record for as long as it runs
// (about 5 KB per consent write, with the outbox deletes and deliveries it records).
func WithoutStreams(without bool) Option { return func(p *provisioner) { p.noStreams = without } }

type provisioner struct {
	noStreams bool
	stack     string
	cfg       aws.Config
	ddb       *dynamodb.Client
	sqs       *sqs.Client
	s3        *s3.Client
	sm        *secretsmanager.Client
	out       Physical
}

func (p *provisioner) name(logicalID string) string { return p.stack + "-" + logicalID }

func (p *provisioner) table(ctx context.Context, t template.Table) error {
	if p.noStreams {
		t.StreamViewType = ""
	}
	name := p.name(t.LogicalID)
	desc, err := p.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	switch {
	case isCode(err, "ResourceNotFoundException"):
		if desc, err = p.createTable(ctx, name, t); err != nil {
			return err
		}
		slog.InfoContext(ctx, "table created", "logical_id", t.LogicalID, "name", name)
	case err != nil:
		return fmt.Errorf("describe: %w", err)
	default:
		if err := checkTable(ctx, t, desc.Table); err != nil {
			return err
		}
		slog.InfoContext(ctx, "table kept", "logical_id", t.LogicalID, "name", name)
	}
	if t.TTLAttribute != "" {
		if err := p.ensureTTL(ctx, name, t.TTLAttribute); err != nil {
			return err
		}
	}
	p.out[t.LogicalID] = Resource{Type: typeTable, Name: name, ARN: aws.ToString(desc.Table.TableArn), StreamARN: aws.ToString(desc.Table.LatestStreamArn)}
	return nil
}

func (p *provisioner) createTable(ctx context.Context, name string, t template.Table) (*dynamodb.DescribeTableOutput, error) {
	in := &dynamodb.CreateTableInput{
		TableName:   &name,
		KeySchema:   keySchema(t.KeySchema),
		BillingMode: ddbtypes.BillingModePayPerRequest,
	}
	for _, a := range t.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName),
			AttributeType: ddbtypes.ScalarAttributeType(a.AttributeType),
		})
	}
	for _, ix := range t.GSIs {
		proj := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(ix.Projection), NonKeyAttributes: ix.NonKeyAttributes}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name), KeySchema: keySchema(ix.KeySchema), Projection: proj,
		})
	}
	if t.StreamViewType != "" {
		in.StreamSpecification = &ddbtypes.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewType(t.StreamViewType),
		}
	}
	if _, err := p.ddb.CreateTable(ctx, in); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	// Real DynamoDB creates tables asynchronously; emulators are usually ACTIVE at once.
	waiter := dynamodb.NewTableExistsWaiter(p.ddb, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
	})
	desc, err := waiter.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: &name}, 5*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("wait for table: %w", err)
	}
	return desc, nil
}

// checkTable compares an existing table with the template. A different key schema is an
// error; differences the service cannot change in place are warnings.
func checkTable(ctx context.Context, t template.Table, d *ddbtypes.TableDescription) error {
	var have, want []string
	for _, k := range d.KeySchema {
		have = append(have, aws.ToString(k.AttributeName)+"/"+string(k.KeyType))
	}
	for _, k := range t.KeySchema {
		want = append(want, k.AttributeName+"/"+k.KeyType)
	}
	if !slices.Equal(have, want) {
		return fmt.Errorf("table exists with key schema %v, template wants %v; delete the local data to recreate it", have, want)
	}
	for _, g := range t.GSIs {
		if !slices.ContainsFunc(d.GlobalSecondaryIndexes, func(i ddbtypes.GlobalSecondaryIndexDescription) bool { return aws.ToString(i.IndexName) == g.Name }) {
			slog.WarnContext(ctx, "existing table lacks an index of the template; delete the local data to recreate it",
				"logical_id", t.LogicalID, "index", g.Name)
		}
	}
	if t.StreamViewType != "" && aws.ToString(d.LatestStreamArn) == "" {
		slog.WarnContext(ctx, "existing table has no stream although the template enables one",
			"logical_id", t.LogicalID)
	}
	return nil
}

// ensureTTL turns TTL on unless it already is: UpdateTimeToLive fails on real DynamoDB when
// the setting does not change.
func (p *provisioner) ensureTTL(ctx context.Context, name, attr string) error {
	d, err := p.ddb.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
	if err != nil {
		return fmt.Errorf("describe TTL: %w", err)
	}
	if ttl := d.TimeToLiveDescription; ttl != nil && aws.ToString(ttl.AttributeName) == attr &&
		(ttl.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || ttl.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = p.ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: &name,
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(attr),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL: %w", err)
	}
	return nil
}

func keySchema(ks []template.KeyElement) []ddbtypes.KeySchemaElement {
	out := make([]ddbtypes.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName),
			KeyType:       ddbtypes.KeyType(k.KeyType),
		})
	}
	return out
}

// queues provisions the dead-letter queues first, whose ARNs the redrive policies name. A
// dead-letter queue that redrives again is not supported.
func (p *provisioner) queues(ctx context.Context, queues []template.Queue) error {
	isDLQ := map[string]bool{}
	for _, q := range queues {
		isDLQ[q.RedriveTarget] = q.RedriveTarget != ""
	}
	for _, dlqFirst := range []bool{true, false} {
		for _, q := range queues {
			if isDLQ[q.LogicalID] != dlqFirst {
				continue
			}
			if err := p.queue(ctx, q); err != nil {
				return fmt.Errorf("provision queue %s: %w", q.LogicalID, err)
			}
		}
	}
	return nil
}

func (p *provisioner) queue(ctx context.Context, q template.Queue) error {
	name := p.name(q.LogicalID)
	if len(name) > 80 {
		return fmt.Errorf("queue name %q is longer than 80 characters; use a shorter stack name", name)
	}
	attrs := map[string]string{}
	setInt := func(key string, v int) {
		if v > 0 {
			attrs[key] = strconv.Itoa(v)
		}
	}
	setInt("VisibilityTimeout", q.VisibilityTimeout)
	setInt("MessageRetentionPeriod", q.MessageRetentionPeriod)
	if q.RedriveTarget != "" {
		dlq, ok := p.out[q.RedriveTarget]
		if !ok {
			return fmt.Errorf("dead-letter queue %s is not an AWS::SQS::Queue the local stack can provision first", q.RedriveTarget)
		}
		policy, _ := json.Marshal(map[string]string{ // a map of strings always marshals
			"deadLetterTargetArn": dlq.ARN,
			"maxReceiveCount":     strconv.Itoa(q.MaxReceiveCount),
		})
		attrs["RedrivePolicy"] = string(policy)
	}

	var queueURL string
	got, err := p.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
	switch {
	case isCode(err, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"):
		out, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		queueURL = aws.ToString(out.QueueUrl)
		slog.InfoContext(ctx, "queue created", "logical_id", q.LogicalID, "name", name)
	case err != nil:
		return fmt.Errorf("get queue url: %w", err)
	default:
		// Keep the queue and its messages; bring its settings in line with the template.
		queueURL = aws.ToString(got.QueueUrl)
		if len(attrs) > 0 {
			if _, err := p.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &queueURL, Attributes: attrs}); err != nil {
				return fmt.Errorf("set attributes: %w", err)
			}
		}
		slog.InfoContext(ctx, "queue kept", "logical_id", q.LogicalID, "name", name)
	}
	queueURL = p.reachableQueueURL(queueURL)
	a, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("get queue arn: %w", err)
	}
	p.out[q.LogicalID] = Resource{Type: typeQueue, Name: name, URL: queueURL, ARN: a.Attributes["QueueArn"]}
	return nil
}

// reachableQueueURL points a queue URL at the endpoint cfg uses: kumo builds queue URLs on
// "http://localhost:4566" whatever port it listens on, and finds queues by the path.
func (p *provisioner) reachableQueueURL(raw string) string {
	if p.cfg.BaseEndpoint == nil {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return strings.TrimSuffix(*p.cfg.BaseEndpoint, "/") + u.EscapedPath()
}

func (p *provisioner) bucket(ctx context.Context, b template.Bucket) error {
	// S3 allows 3 to 63 lower-case letters, digits and hyphens.
	name := strings.ToLower(p.name(b.LogicalID))
	if len(name) > 63 {
		return fmt.Errorf("bucket name %q is longer than 63 characters; use a shorter stack name", name)
	}
	_, err := p.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &name})
	switch {
	case isCode(err, "NotFound", "NoSuchBucket"):
		in := &s3.CreateBucketInput{Bucket: &name}
		// us-east-1 is the one region S3 rejects as an explicit location constraint.
		if p.cfg.Region != "" && p.cfg.Region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{
				LocationConstraint: s3types.BucketLocationConstraint(p.cfg.Region),
			}
		}
		if _, err := p.s3.CreateBucket(ctx, in); err != nil && !isCode(err, "BucketAlreadyOwnedByYou") {
			return fmt.Errorf("create: %w", err)
		}
		slog.InfoContext(ctx, "bucket created", "logical_id", b.LogicalID, "name", name)
	case err != nil:
		return fmt.Errorf("head bucket: %w", err)
	default:
		slog.InfoContext(ctx, "bucket kept", "logical_id", b.LogicalID, "name", name)
	}
	if b.LifecycleExpirationDays > 0 {
		_, err := p.s3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
			Bucket: &name,
			LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
				ID:         aws.String("expire"),
				Status:     s3types.ExpirationStatusEnabled,
				Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String("")},
				Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(int32(b.LifecycleExpirationDays))},
			}}},
		})
		if err != nil {
			return fmt.Errorf("put lifecycle: %w", err)
		}
	}
	p.out[b.LogicalID] = Resource{Type: typeBucket, Name: name, ARN: "arn:aws:s3:::" + name}
	return nil
}

func (p *provisioner) secret(ctx context.Context, s template.Secret) error {
	name := p.name(s.LogicalID)
	d, err := p.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
	var arn string
	switch {
	case isCode(err, "ResourceNotFoundException"):
		value := s.SecretString
		if s.Generate != nil {
			if value, err = generateSecretString(*s.Generate); err != nil {
				return err
			}
		}
		out, err := p.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		arn = aws.ToString(out.ARN)
		slog.InfoContext(ctx, "secret created", "logical_id", s.LogicalID, "name", name)
	case err != nil:
		return fmt.Errorf("describe: %w", err)
	default:
		// An existing secret keeps its value: regenerating it would invalidate what was
		// signed or encrypted with it.
		arn = aws.ToString(d.ARN)
		slog.InfoContext(ctx, "secret kept", "logical_id", s.LogicalID, "name", name)
	}
	p.out[s.LogicalID] = Resource{Type: typeSecret, Name: name, ARN: arn}
	return nil
}

func isCode(err error, codes ...string) bool {
	api, ok := errors.AsType[smithy.APIError](err)
	return ok && slices.Contains(codes, api.ErrorCode())
}

// EnsureSender creates the SES email identity of address unless it exists, as a verified
// sender of an account would be: an emulator that checks identities (moto) refuses mail from
// an address without one. Not for real AWS, where an operator verifies the sender.
func EnsureSender(ctx context.Context, cfg aws.Config, address string) error {
	_, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(address)})
	if err == nil || isCode(err, "AlreadyExistsException", "AlreadyExists") {
		return nil
	}
	return fmt.Errorf("create the SES identity of the sender: %w", err)
}

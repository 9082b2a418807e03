package localstack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// scheduledFunctions are the template's functions with a Schedule event.
func scheduledFunctions(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, fn := range env.stack.Template.Functions {
		if len(fn.Schedules) > 0 {
			ids = append(ids, fn.LogicalID)
		}
	}
	if len(ids) == 0 {
		t.Fatal("template.yaml has no scheduled function")
	}
	return ids
}

// TestScheduledFunctions: every scheduled function of the template is wired to its
// schedule with a ScheduleHandler and receives the event an EventBridge rule sends. The
// stack runs with short job-queue visibility, as tests that kill job workers should.
func TestScheduledFunctions(t *testing.T) {
	ids := scheduledFunctions(t)
	var mu sync.Mutex
	got := map[string][]events.EventBridgeEvent{}
	stackName := fmt.Sprintf("sch%d", time.Now().UnixNano()%1e6)
	st, err := localstack.Start(context.Background(), localstack.Options{
		StackName:  stackName,
		Parameters: map[string]string{"JobQueueVisibilitySeconds": "3"},
		Wrap: func(id string, h any) any {
			if _, ok := h.(wire.ScheduleHandler); !ok {
				return h
			}
			// Record the event instead of running the function: what the function does is
			// its own package's to test.
			return wire.ScheduleHandler(func(_ context.Context, ev events.EventBridgeEvent) error {
				mu.Lock()
				defer mu.Unlock()
				got[id] = append(got[id], ev)
				return nil
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// ReconcileEvents also ran once at start, for everything written before it.
	if evs := got["ReconcileEvents"]; len(evs) != 1 || !strings.Contains(string(evs[0].Detail), `"before":`) {
		t.Errorf("ReconcileEvents at start got %+v, want one event with a cutoff", evs)
	}
	for _, id := range ids {
		fn, _ := st.Template.Function(id)
		mu.Lock()
		n := len(got[id])
		mu.Unlock()
		if err := st.FireSchedule(context.Background(), id); err != nil {
			t.Fatalf("FireSchedule(%s): %v", id, err)
		}
		mu.Lock()
		evs := got[id][n:]
		mu.Unlock()
		if len(evs) != 1 {
			t.Fatalf("%s invoked %d times, want 1", id, len(evs))
		}
		ev := evs[0]
		rule := fmt.Sprintf("arn:aws:events:%s:000000000000:rule/%s-%s%s", st.AWS.AWS.Region, stackName, id, fn.Schedules[0].Event)
		if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Region != st.AWS.AWS.Region ||
			len(ev.Resources) != 1 || ev.Resources[0] != rule || string(ev.Detail) != "{}" ||
			time.Since(ev.Time) > time.Minute || ev.ID == "" {
			t.Errorf("%s got event %+v, want a scheduled event of rule %s", id, ev, rule)
		}
	}
	if err := st.FireSchedule(context.Background(), "CreateProfile"); err == nil {
		t.Error("FireSchedule accepted a function without a schedule")
	}

	// JobQueueVisibilitySeconds reaches the job queues; their redrive policy stays.
	q := sqs.NewFromConfig(st.AWS.AWS)
	for _, id := range []string{"ErasureQueue", "ExportQueue"} {
		a, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(st.Physical[id].URL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if a.Attributes["VisibilityTimeout"] != "3" || !strings.Contains(a.Attributes["RedrivePolicy"], `"maxReceiveCount":5`) &&
			!strings.Contains(a.Attributes["RedrivePolicy"], `"maxReceiveCount":"5"`) {
			t.Errorf("%s attributes %v, want visibility 3 and 5 receives before the DLQ", id, a.Attributes)
		}
	}
}

// TestScheduleNeedsScheduleHandler: Start refuses a function with a Schedule event whose
// handler is not a ScheduleHandler, instead of never invoking it.
func TestScheduleNeedsScheduleHandler(t *testing.T) {
	id := scheduledFunctions(t)[0]
	st, err := localstack.Start(context.Background(), localstack.Options{
		StackName: fmt.Sprintf("bad%d", time.Now().UnixNano()%1e6),
		Wrap: func(logicalID string, h any) any {
			if logicalID != id {
				return h
			}
			return wire.QueueHandler(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, nil
			})
		},
	})
	if err == nil {
		st.Close()
		t.Fatal("Start accepted a scheduled function with a queue handler")
	}
	if !strings.Contains(err.Error(), id+" has a schedule event but its handler is") {
		t.Fatalf("Start error = %v", err)
	}
}

// TestHandlerS3PathStyle: an S3 client built the plain way (s3.NewFromConfig) from the
// configuration the handlers get reaches the emulator's exports bucket, and its presigned
// links can be downloaded over plain HTTP, as a developer's browser would.
func TestHandlerS3PathStyle(t *testing.T) {
	ctx := context.Background()
	bucket := env.stack.Physical["ExportsBucket"].Name
	if bucket == "" {
		t.Fatal("ExportsBucket was not provisioned")
	}
	client := s3.NewFromConfig(env.stack.HandlerAWS)
	if !client.Options().UsePathStyle {
		t.Fatal("an S3 client built from HandlerAWS does not use path-style addressing")
	}
	// With an IP address the SDK falls back to paths by itself; with a host name (LocalStack's
	// localhost) only UsePathStyle keeps the bucket out of the host.
	byName := env.stack.HandlerAWS.Copy()
	byName.BaseEndpoint = aws.String(strings.Replace(env.stack.AWS.Endpoint, "127.0.0.1", "localhost", 1))
	named, err := s3.NewPresignClient(s3.NewFromConfig(byName)).PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	if want := *byName.BaseEndpoint + "/" + bucket + "/k?"; !strings.HasPrefix(named.URL, want) {
		t.Errorf("presigned URL on a named host %s, want it to start with %s", named.URL, want)
	}
	key := fmt.Sprintf("%s/p_test/%d.json", tenant, time.Now().UnixNano())
	body := []byte(`{"export":true}`)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
		ContentType: aws.String("application/json")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	signed, err := s3.NewPresignClient(client).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key},
		s3.WithPresignExpires(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(signed.URL, env.stack.AWS.Endpoint+"/"+bucket+"/") {
		t.Fatalf("presigned URL %s is not path-style on the emulator %s", signed.URL, env.stack.AWS.Endpoint)
	}
	resp, err := http.Get(signed.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("GET presigned URL: %d %s", resp.StatusCode, got)
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	lc, err := client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(lc.Rules) != 1 || lc.Rules[0].Expiration == nil || aws.ToInt32(lc.Rules[0].Expiration.Days) != 7 {
		t.Errorf("exports bucket lifecycle %+v, want expiry after ExportRetentionDays (7)", lc.Rules)
	}
}

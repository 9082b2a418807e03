package localaws_test

import (
	"context"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/livingprofile/livingprofile/infra/localaws"
)

// The SDK's standard settings select the endpoints: the base, single services, the region.
func TestOptionsFromEnv(t *testing.T) {
	o := localaws.OptionsFromEnv([]string{
		"HOME=/x", "AWS_REGION=eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000",
		"AWS_ENDPOINT_URL_SESV2=", "LP_ENDPOINT=http://old:4566",
	})
	if o.Endpoint != "http://old:4566" || o.Region != "eu-west-1" ||
		!maps.Equal(o.Services, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}) {
		t.Errorf("OptionsFromEnv = %+v", o)
	}
	if o := localaws.OptionsFromEnv([]string{"LP_ENDPOINT=http://old:4566", "AWS_ENDPOINT_URL=http://new:4566"}); o.Endpoint != "http://new:4566" {
		t.Errorf("AWS_ENDPOINT_URL does not win over LP_ENDPOINT: %+v", o)
	}
}

// A service sent elsewhere reaches its own endpoint; the others the embedded emulator.
func TestStartSendsOneServiceElsewhere(t *testing.T) {
	ctx := context.Background()
	elsewhere := "http://127.0.0.1:1"
	st, err := localaws.Start(ctx, localaws.Options{Services: map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": elsewhere}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Serves("DynamoDB") || !st.Serves("SQS") || !st.Serves("SESv2") {
		t.Errorf("Serves: DynamoDB %v, SQS %v, SESv2 %v", st.Serves("DynamoDB"), st.Serves("SQS"), st.Serves("SESv2"))
	}
	if got := *dynamodb.NewFromConfig(st.AWS).Options().BaseEndpoint; got != elsewhere {
		t.Errorf("DynamoDB endpoint %s, want %s", got, elsewhere)
	}
	if got := *sqs.NewFromConfig(st.AWS).Options().BaseEndpoint; got != st.Endpoint {
		t.Errorf("SQS endpoint %s, want the emulator's %s", got, st.Endpoint)
	}
	if _, err := sqs.NewFromConfig(st.AWS).ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Errorf("the embedded SQS does not answer: %v", err)
	}
}

package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/moto"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/eventbus"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// TestEventBridgeDelivery: a tenant that registers the event bus as a webhook target gets
// its events there as CloudEvents. EventBridge is moto's here (the embedded emulator sends
// rule targets to a fixed address, not its own), everything else embedded: a rule on the bus
// to an SQS queue receives each event once, with the ledger event's id, and the delivery log
// records it delivered.
func TestEventBridgeDelivery(t *testing.T) {
	ctx := context.Background()
	motoURL := moto.Start(t)
	st, err := localstack.Start(ctx, localstack.Options{StackName: fmt.Sprintf("eb%d", time.Now().UnixNano()%1e6),
		Services: map[string]string{"AWS_ENDPOINT_URL_EVENTBRIDGE": motoURL}, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	store := dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table)
	if err := seed.Tenant(ctx, store, tenant, tenant); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, app.New(store, time.Now, 0), tenant, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	key, _, err := seed.Key(ctx, store, tenant, "eventbridge", []apikey.Scope{apikey.Admin})
	if err != nil {
		t.Fatal(err)
	}
	c := &countClient{t: t, base: st.URL, key: key}

	// On moto: a queue, and a rule on the stack's bus that sends consent changes to it.
	motoCfg := st.AWS.AWS.Copy()
	motoCfg.BaseEndpoint = aws.String(motoURL)
	sq, eb := sqs.NewFromConfig(motoCfg), eventbridge.NewFromConfig(motoCfg)
	bus := st.Physical["EventBus"].Name
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("eb-target")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	rule := "consent-changes"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &rule, EventBusName: &bus,
		EventPattern: aws.String(`{"source":["` + eventbus.Source + `"],"detail-type":["consent.changed"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &rule, EventBusName: &bus,
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}

	hook := c.send(routeRequest{method: "POST", path: "/v1/webhooks", status: 201,
		body: map[string]any{"target": "eventbridge", "eventTypes": []string{"consent.changed"}}})
	if _, has := hook["url"]; has || hook["target"] != "eventbridge" {
		t.Fatalf("registered %v", hook)
	}
	id := hook["id"].(string)
	p := c.send(routeRequest{method: "POST", path: "/v1/profiles", status: 201,
		body: map[string]any{"identities": []map[string]string{{"type": "email", "value": "eventbridge-" + letters(8) + "@example.com"}},
			"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}}}})
	pid := p["id"].(string)
	c.send(routeRequest{method: "PUT", path: "/v1/profiles/" + pid + "/consents/marketing", status: 200,
		body: map[string]any{"status": "withdrawn", "noticeVersion": 2}})
	var changes []map[string]any
	for _, e := range c.send(routeRequest{method: "GET", path: "/v1/profiles/" + pid + "/events", status: 200})["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "consent.changed" {
			changes = append(changes, e)
		}
	}
	if len(changes) != 2 {
		t.Fatalf("consent changes in the ledger: %v", changes)
	}

	got := map[string]eventbus.CloudEvent{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && len(got) < len(changes) {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var env struct {
				Source     string              `json:"source"`
				DetailType string              `json:"detail-type"`
				Detail     eventbus.CloudEvent `json:"detail"`
			}
			if err := json.Unmarshal([]byte(*m.Body), &env); err != nil {
				t.Fatalf("not an EventBridge event: %s", *m.Body)
			}
			if env.Source != eventbus.Source || env.DetailType != "consent.changed" {
				t.Fatalf("envelope %+v", env)
			}
			if _, dup := got[env.Detail.ID]; dup {
				t.Errorf("event %s arrived twice", env.Detail.ID)
			}
			got[env.Detail.ID] = env.Detail
		}
	}
	for _, want := range changes {
		ce, ok := got[want["id"].(string)]
		if !ok {
			t.Fatalf("the rule's queue lacks event %v; got %v", want["id"], got)
		}
		if ce.SpecVersion != "1.0" || ce.Type != "com.livingprofile.consent.changed" || ce.Subject != pid ||
			ce.Source != "/livingprofile/tenants/"+tenant || ce.DataContentType != "application/json" ||
			ce.Data.Data.Subject != "marketing" || ce.Data.Source.Kind != ledger.ActorAPIKey {
			t.Errorf("CloudEvent %+v, want the ledger event %v", ce, want)
		}
	}
	if len(got) != len(changes) {
		t.Errorf("%d events on the bus's queue, want %d", len(got), len(changes))
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		delivered := 0
		for _, d := range c.send(routeRequest{method: "GET", path: "/v1/webhooks/" + id + "/deliveries", status: 200})["deliveries"].([]any) {
			if d.(map[string]any)["status"] == "delivered" {
				delivered++
			}
		}
		if delivered == len(changes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries logged delivered, want %d", delivered, len(changes))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

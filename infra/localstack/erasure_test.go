package localstack_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/eventsource"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/awserr"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/erasure"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/mail"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// The erasure tests. TestErasureEndToEnd goes through HTTP and the local stack's own
// workers (dispatcher, erasure queue, webhook deliveries). The fault tests run the erasure
// job directly against the emulator, so they can stop it between steps, deliver its message
// twice, throttle its DynamoDB calls and drive it into a dead-letter queue of their own.

const senderEmail = "no-reply@example.com" // the template's default SenderEmail

// person is someone a test creates and erases. Every value is unique to the person, so a
// scan of the whole table can look for it.
type person struct {
	id, otherRequest                        string // the profile and an open rectification request of theirs
	email, phone, customerID, card          string
	givenName, familyName, newFamily, tier  string
	idemCreate, idemPatch, idemLink, syncID string
}

// secrets are the values that must not survive the erasure in clear anywhere.
func (p *person) secrets() []string {
	return []string{p.email, p.phone, p.customerID, p.card, p.givenName, p.familyName, p.newFamily, p.tier}
}

func letters(n int) string {
	const abc = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(abc))))
		b[i] = abc[k.Int64()]
	}
	return string(b)
}

// newPerson creates a profile through the API with four identities, attributes, a consent
// and a subscription, leaves idempotency records (create, patch, portal link) and a sync
// mark, opens a rectification request and puts two export objects in the exports bucket.
func newPerson(t *testing.T) *person {
	t.Helper()
	n := time.Now().UnixNano()
	tag := letters(10)
	p := &person{
		email: "erase-" + tag + "@example.com", phone: fmt.Sprintf("+4869%07d", n%1e7), customerID: "CUST-" + strings.ToUpper(tag),
		card: "LC" + strconv.FormatInt(n, 36), givenName: "Zofia" + tag, familyName: "Kowalska" + tag, newFamily: "Nowak" + tag,
		tier: "gold" + letters(8), idemCreate: "c-" + tag, idemPatch: "p-" + tag, idemLink: "l-" + tag, syncID: "s-" + tag,
	}
	body := map[string]any{
		"identities": []map[string]string{
			{"type": "email", "value": strings.ToUpper(p.email[:1]) + p.email[1:]}, {"type": "phone", "value": p.phone},
			{"type": "customer_id", "value": p.customerID}, {"type": "loyalty_card", "value": p.card},
		},
		"attributes":    map[string]any{"givenName": p.givenName, "familyName": p.familyName, "locale": "pl", "loyalty_tier": p.tier},
		"consents":      map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
		"subscriptions": map[string]any{"newsletter": map[string]any{"status": "subscribed", "frequency": "weekly"}},
	}
	r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "admin", body: body, headers: map[string]string{"Idempotency-Key": p.idemCreate}}), 201)
	p.id = r.json(t)["id"].(string)
	must(t, do(t, call{method: "PATCH", path: "/v1/profiles/" + p.id, key: "write", headers: map[string]string{"Idempotency-Key": p.idemPatch},
		body: map[string]any{"attributes": map[string]any{"familyName": p.newFamily}}}), 200)
	must(t, do(t, call{method: "POST", path: "/v1/portal-links", key: "links", headers: map[string]string{"Idempotency-Key": p.idemLink},
		body: map[string]any{"profileId": p.id}}), 201)
	a, _ := postSync(t, batch("crm", sc(p.syncID, p.email, time.Now().Add(-time.Second), map[string]any{
		"subscriptions": map[string]any{"offers": map[string]any{"status": "subscribed", "channels": []string{"email"}, "frequency": "weekly"}},
	})), nil)
	if r := a.Results[0]; r.Status != "applied" || r.ProfileID != p.id {
		t.Fatalf("sync of the person: %+v", r)
	}
	// An open request of another type keeps the address to confirm its outcome.
	p.otherRequest = must(t, do(t, call{method: "POST", path: "/v1/requests", key: "admin",
		body: map[string]any{"profileId": p.id, "type": "rectification", "verification": "attested_brand", "attestationReason": "identity checked by the support desk"}}), 201).json(t)["id"].(string)
	for _, k := range []string{erasure.ExportPrefix(tenant, p.id) + "rq_old.zip", erasure.ExportPrefix(tenant, p.id) + "nested/part.json"} {
		putObject(t, k, "export of "+p.email)
	}
	return p
}

func exportsBucket() string { return env.stack.Physical["ExportsBucket"].Name }

func s3Client() *s3.Client {
	return s3.NewFromConfig(env.stack.HandlerAWS, func(o *s3.Options) { o.UsePathStyle = true })
}

func putObject(t *testing.T, key, body string) {
	t.Helper()
	_, err := s3Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(exportsBucket()), Key: &key, Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
}

func objects(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := s3Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(exportsBucket()), Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// toggles appends n consent events to the person's ledger through the use case (without
// outbox items, which nobody would receive: it is much faster).
func toggles(t *testing.T, id string, n int) {
	t.Helper()
	st := dynamo.New(env.db, env.stack.Table)
	st.DisableOutbox()
	svc := app.New(st, time.Now, time.Minute)
	ctx := context.Background()
	w := app.Write{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "erasure-test"}}
	for i := range n {
		status := profile.Withdrawn
		if i%2 == 1 {
			status = profile.Granted
		}
		if _, err := svc.PutConsent(ctx, tenant, id, "marketing", profile.ConsentInput{Status: status, NoticeVersion: 2}, w); err != nil {
			t.Fatalf("toggle %d: %v", i, err)
		}
	}
}

// leftovers returns every occurrence of secrets in the table: in any attribute, inside
// JSON documents, and inside base64 values within them (idempotency records keep bodies so).
func leftovers(t *testing.T, secrets []string) []string {
	t.Helper()
	var found []string
	var look func(where, s string, depth int)
	look = func(where, s string, depth int) {
		low := strings.ToLower(s)
		for _, sec := range secrets {
			if strings.Contains(low, strings.ToLower(sec)) {
				found = append(found, where+" holds "+sec)
			}
		}
		if depth > 3 {
			return
		}
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			walkJSON(v, func(str string) { look(where, str, depth+1) })
		}
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(s) >= 8 {
			look(where, string(b), depth+1)
		}
	}
	var walkAttr func(where string, av types.AttributeValue)
	walkAttr = func(where string, av types.AttributeValue) {
		switch v := av.(type) {
		case *types.AttributeValueMemberS:
			look(where, v.Value, 0)
		case *types.AttributeValueMemberSS:
			for _, s := range v.Value {
				look(where, s, 0)
			}
		case *types.AttributeValueMemberB:
			look(where, string(v.Value), 0)
		case *types.AttributeValueMemberL:
			for _, e := range v.Value {
				walkAttr(where, e)
			}
		case *types.AttributeValueMemberM:
			for _, e := range v.Value {
				walkAttr(where, e)
			}
		}
	}
	p := dynamodb.NewScanPaginator(env.db, &dynamodb.ScanInput{TableName: &env.stack.Table})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			where := fmt.Sprintf("item %s/%s", it["PK"].(*types.AttributeValueMemberS).Value, it["SK"].(*types.AttributeValueMemberS).Value)
			for name, av := range it {
				walkAttr(where+"."+name, av)
			}
		}
	}
	return found
}

func walkJSON(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, e := range v {
			walkJSON(e, fn)
		}
	case map[string]any:
		for k, e := range v {
			fn(k)
			walkJSON(e, fn)
		}
	}
}

// partition returns the sort keys left in the person's partition.
func partition(t *testing.T, id string) []string {
	t.Helper()
	out, err := env.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &env.stack.Table, KeyConditionExpression: aws.String("PK = :pk"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + tenant + "#P#" + id}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it["SK"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

// records counts the idempotency records listed under the person.
func records(t *testing.T, id string) int {
	t.Helper()
	out, err := env.db.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &env.stack.Table, IndexName: aws.String("GSI1"), KeyConditionExpression: aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + tenant + "#PREC#" + id}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Items)
}

func mailsTo(t *testing.T, addr string) []string {
	t.Helper()
	box, err := env.stack.Mailbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, e := range box {
		if slices.Contains(e.Recipients(), addr) {
			subjects = append(subjects, e.Subject)
		}
	}
	return subjects
}

// assertErased checks that nothing of the person is left but the pseudonymous records, and
// that the request is completed.
func assertErased(t *testing.T, p *person, requestID string) *dsr.Request {
	t.Helper()
	ctx := context.Background()
	if found := leftovers(t, p.secrets()); len(found) > 0 {
		t.Fatalf("personal data left in the table:\n%s", strings.Join(found, "\n"))
	}
	if sks := partition(t, p.id); len(sks) != 1 || sks[0] != "ERASED" {
		t.Fatalf("the profile's partition holds %v, want only the tombstone", sks)
	}
	tomb, err := dynamo.New(env.db, env.stack.Table).Tombstone(ctx, tenant, p.id)
	if err != nil || tomb.RequestID != requestID || tomb.IdentitiesSuppressed != 4 || !tomb.Notified || tomb.ErasedAt.IsZero() {
		t.Fatalf("tombstone %+v %v", tomb, err)
	}
	if n := records(t, p.id); n != 0 {
		t.Fatalf("%d idempotency records of the person left", n)
	}
	if keys := objects(t, erasure.ExportPrefix(tenant, p.id)); len(keys) != 0 {
		t.Fatalf("exports left: %v", keys)
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles/" + p.id, key: "read"}), 404)
	wantCheck(t, map[string]any{"profileId": p.id, "purpose": "marketing"}, false, "no_profile")
	for _, id := range [][2]string{{"email", p.email}, {"phone", p.phone}, {"customer_id", p.customerID}, {"loyalty_card", p.card}} {
		wantCheck(t, map[string]any{"identity": map[string]string{"type": id[0], "value": id[1]}, "purpose": "marketing"}, false, "no_profile")
	}
	ids := []profile.Identity{{Type: "email", Value: p.email}, {Type: "phone", Value: p.phone}, {Type: "customer_id", Value: p.customerID}, {Type: "loyalty_card", Value: p.card}}
	for _, id := range ids {
		if ok, err := dynamo.New(env.db, env.stack.Table).Suppressed(ctx, tenant, []profile.Identity{id}); err != nil || !ok {
			t.Fatalf("%s identity not suppressed: %v %v", id.Type, ok, err)
		}
	}
	req, err := dynamo.New(env.db, env.stack.Table).Request(ctx, tenant, requestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != dsr.Completed || req.NotifyEmail != "" || req.CompletedAt == nil || req.Failure != "" {
		t.Fatalf("request after the erasure: %+v", req)
	}
	if o, err := dynamo.New(env.db, env.stack.Table).Request(ctx, tenant, p.otherRequest); err != nil || o.NotifyEmail != "" || o.Status != dsr.Pending {
		t.Fatalf("the person's other request after the erasure: %+v %v", o, err)
	}
	if got := mailsTo(t, p.email); len(got) != 1 || got[0] != "Twoje dane osobowe zostały usunięte" {
		t.Fatalf("confirmation emails to the person: %q", got)
	}
	return req
}

// TestErasureEndToEnd: a person with four identities, attributes, a consent, subscriptions,
// idempotency records, a sync mark, exports and 1,000 ledger events is erased through
// POST /v1/requests; the local stack's dispatcher starts the job on the erasure queue.
func TestErasureEndToEnd(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t)
	hook := rc.register([]string{"profile.erased", "request.completed"}, "")
	p := newPerson(t)
	other := newPerson(t) // not erased: nothing of theirs may go
	start := time.Now()
	toggles(t, p.id, 1000)
	t.Logf("1,000 ledger events in %v", time.Since(start))
	if evs, err := dynamo.New(env.db, env.stack.Table).Events(ctx, tenant, p.id, 1000, 100); err != nil || len(evs) == 0 {
		t.Fatalf("the ledger has no event 1000 or later: %v", err)
	}

	// The scan sees the person everywhere before the erasure, including inside the base64
	// bodies of idempotency records and in outbox items, so its silence afterwards counts.
	seen := strings.Join(leftovers(t, p.secrets()), "\n")
	for _, where := range []string{"/P.doc holds", "/I.doc holds", "/E#", "/R.doc holds " + p.newFamily, "#Q#" + p.otherRequest + "/Q.doc holds " + p.email} {
		if !strings.Contains(seen, where) {
			t.Fatalf("the scan does not find the person in %q before the erasure:\n%s", where, seen)
		}
	}

	r := must(t, do(t, call{method: "POST", path: "/v1/requests", key: "admin", headers: map[string]string{"Idempotency-Key": "erase-" + p.id},
		body: map[string]any{"profileId": p.id, "type": "erasure", "verification": "attested_brand", "attestationReason": "identity checked by the support desk"}}), 201).json(t)
	reqID := r["id"].(string)
	start = time.Now()
	var got map[string]any
	eventually(t, 90*time.Second, "the erasure request to complete", func() bool {
		got = must(t, do(t, call{method: "GET", path: "/v1/requests/" + reqID, key: "admin"}), 200).json(t)
		if got["status"] == "failed" {
			t.Fatalf("the erasure failed: %v", got)
		}
		return got["status"] == "completed"
	})
	t.Logf("erased in %v", time.Since(start))
	req := assertErased(t, p, reqID)

	// Recipients: our receiver, with the delivery of the erasure event; it acknowledges.
	if len(req.Recipients) != 1 || req.Recipients[0].EndpointID != hook || req.Recipients[0].DeliveryID == "" {
		t.Fatalf("recipients %+v", req.Recipients)
	}
	if rs, _ := got["recipients"].([]any); len(rs) != 1 {
		t.Fatalf("the API shows recipients %v", got["recipients"])
	}
	eventually(t, 15*time.Second, "the erasure event at the receiver", func() bool {
		for _, e := range rc.events() {
			if e.Type == "profile.erased" && e.ProfileID == p.id {
				return true
			}
		}
		return false
	})
	var erased, completed []webhook.Event
	eventually(t, 15*time.Second, "the request.completed event", func() bool {
		erased, completed = nil, nil
		for _, e := range rc.events() {
			switch {
			case e.ProfileID != p.id:
			case e.Type == "profile.erased":
				erased = append(erased, e)
			case e.Type == "request.completed":
				completed = append(completed, e)
			}
		}
		return len(completed) > 0
	})
	if len(erased) != 1 || erased[0].Data.Subject != reqID || erased[0].Source.Kind != "system" || len(completed) != 1 {
		t.Fatalf("events at the receiver: erased %+v completed %+v", erased, completed)
	}
	for _, sec := range p.secrets() {
		if b, _ := json.Marshal(erased[0]); strings.Contains(strings.ToLower(string(b)), strings.ToLower(sec)) {
			t.Fatalf("the erasure event holds personal data: %s", b)
		}
	}
	eventually(t, 15*time.Second, "the recipient's acknowledgement", func() bool {
		fresh, err := dynamo.New(env.db, env.stack.Table).Request(ctx, tenant, reqID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := erasure.RefreshRecipients(ctx, dynamo.New(env.db, env.stack.Table), fresh); err != nil {
			t.Fatal(err)
		}
		return fresh.Recipients[0].Status == webhook.Delivered
	})

	// Sync cannot re-create the person, by any identity, and writes nothing.
	before := tableDigest(t)
	a, _ := postSync(t, batch("crm",
		sc("after-1-"+p.id, p.email, time.Now(), map[string]any{"attributes": map[string]any{"givenName": p.givenName}}),
		map[string]any{"id": "after-2-" + p.id, "identity": map[string]string{"type": "customer_id", "value": p.customerID}, "occurredAt": time.Now().UTC().Format(time.RFC3339Nano)},
	), nil)
	for _, res := range a.Results {
		if res.Status != "rejected" || res.Code != "erased" || res.ProfileID != "" {
			t.Fatalf("sync after the erasure: %+v", res)
		}
	}
	if tableDigest(t) != before {
		t.Fatal("the rejected sync wrote to the table")
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+p.email), key: "read"}), 404)

	// The other person is untouched.
	if o := getProfile(t, other.id); o["attributes"].(map[string]any)["familyName"] != other.newFamily {
		t.Fatalf("other person: %v", o)
	}
	if keys := objects(t, erasure.ExportPrefix(tenant, other.id)); len(keys) != 2 {
		t.Fatalf("the other person's exports: %v", keys)
	}
	if records(t, other.id) != 3 {
		t.Fatalf("the other person's records: %d", records(t, other.id))
	}
}

// jobRig is an erasure job built like ProcessErasure's, over its own SDK configuration.
type jobRig struct {
	job   *erasure.Job
	store *dynamo.Store
}

func newJobRig(t *testing.T, cfg aws.Config, opts erasure.Options) jobRig {
	t.Helper()
	store := dynamo.New(dynamodb.NewFromConfig(cfg), env.stack.Table)
	exports, err := blob.New(context.Background(), cfg, exportsBucket(), "")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSender(context.Background(), cfg, senderEmail)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts.Transient = awserr.Transient
	return jobRig{job: erasure.New(store, exports, sender, log, opts), store: store}
}

// quietRequest records an erasure request through the use case without an outbox item, so
// the local stack's own worker does not start: the test runs the job itself.
func quietRequest(t *testing.T, profileID string) dsr.JobMessage {
	t.Helper()
	st := dynamo.New(env.db, env.stack.Table)
	st.DisableOutbox()
	res, err := app.New(st, time.Now, 0).CreateRequest(context.Background(), tenant,
		app.RequestInput{ProfileID: profileID, Type: dsr.Erasure, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "erasure-test"}})
	if err != nil {
		t.Fatal(err)
	}
	return dsr.JobMessage{Tenant: tenant, RequestID: res.Request.ID}
}

var messageSeq atomic.Int64

// delivery is an SQS event with one record per message, each on its attempt.
func delivery(attempt int, msgs ...dsr.JobMessage) events.SQSEvent {
	var ev events.SQSEvent
	for _, m := range msgs {
		b, _ := json.Marshal(m)
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("m-%d", messageSeq.Add(1)), Body: string(b),
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(attempt)},
		})
	}
	return ev
}

func handle(t *testing.T, j *erasure.Job, ev events.SQSEvent) []string {
	t.Helper()
	resp, err := j.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

// erasedEventsAt returns the distinct ids of profile.erased events the receiver got for id.
func erasedEventsAt(rc *receiver, id string) []string {
	var ids []string
	for _, e := range rc.events() {
		if e.Type == "profile.erased" && e.ProfileID == id && !slices.Contains(ids, e.ID) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// TestErasureResumes: a worker that dies between any two steps leaves a job that the
// redelivered message finishes, with no residue, one erasure event and one email; a
// delivery after completion changes nothing.
func TestErasureResumes(t *testing.T) {
	rc := newReceiver(t)
	rc.register([]string{"profile.erased"}, "")
	rig := newJobRig(t, env.stack.HandlerAWS, erasure.Options{MaxAttempts: 5})
	for _, stop := range erasure.Steps()[1:] {
		t.Run("killed before "+stop.String(), func(t *testing.T) {
			p := newPerson(t)
			toggles(t, p.id, 20)
			msg := quietRequest(t, p.id)
			ctx := context.Background()
			if err := rig.job.RunUntil(ctx, msg, stop); !errors.Is(err, erasure.ErrInterrupted) {
				t.Fatalf("RunUntil: %v", err)
			}
			if stop > erasure.StepLock {
				// Frozen: a write now fails instead of slipping past the erasure.
				r := do(t, call{method: "PATCH", path: "/v1/profiles/" + p.id, key: "write", body: map[string]any{"attributes": map[string]any{"givenName": "Late"}}})
				if r.status != 409 && r.status != 404 {
					t.Fatalf("a write during the erasure answered %d: %s", r.status, r.body)
				}
			}
			if failed := handle(t, rig.job, delivery(2, msg)); len(failed) > 0 {
				t.Fatalf("the redelivered job failed: %v", failed)
			}
			assertErased(t, p, msg.RequestID)
			eventually(t, 15*time.Second, "the erasure event", func() bool { return len(erasedEventsAt(rc, p.id)) > 0 })
			digest := tableDigest(t)
			if failed := handle(t, rig.job, delivery(3, msg)); len(failed) > 0 {
				t.Fatalf("a delivery after completion failed: %v", failed)
			}
			if tableDigest(t) != digest {
				t.Fatal("a delivery after completion changed the table")
			}
			time.Sleep(300 * time.Millisecond) // give a (wrong) second event time to arrive
			if ids := erasedEventsAt(rc, p.id); len(ids) != 1 {
				t.Fatalf("erasure events %v, want one", ids)
			}
			if got := mailsTo(t, p.email); len(got) != 1 {
				t.Fatalf("%d confirmation emails", len(got))
			}
		})
	}
}

// TestErasureDuplicates: the same job twice in one batch runs once; a copy delivered to
// another worker at the same time does not break it either.
func TestErasureDuplicates(t *testing.T) {
	rig := newJobRig(t, env.stack.HandlerAWS, erasure.Options{MaxAttempts: 5})
	t.Run("twice in one batch", func(t *testing.T) {
		p, q := newPerson(t), newPerson(t)
		mp, mq := quietRequest(t, p.id), quietRequest(t, q.id)
		if failed := handle(t, rig.job, delivery(1, mp, mq, mp)); len(failed) > 0 {
			t.Fatalf("failed: %v", failed)
		}
		assertErased(t, p, mp.RequestID)
		assertErased(t, q, mq.RequestID)
	})
	t.Run("two workers at once", func(t *testing.T) {
		p := newPerson(t)
		toggles(t, p.id, 100)
		m := quietRequest(t, p.id)
		var wg sync.WaitGroup
		fails := make([][]string, 3)
		for i := range fails {
			wg.Go(func() { fails[i] = handle(t, rig.job, delivery(1, m)) })
		}
		wg.Wait()
		for _, f := range fails {
			if len(f) > 0 {
				// A worker that lost a race fails its copy; the queue delivers it again.
				if failed := handle(t, rig.job, delivery(2, m)); len(failed) > 0 {
					t.Fatalf("redelivery failed: %v", failed)
				}
				break
			}
		}
		if found := leftovers(t, p.secrets()); len(found) > 0 {
			t.Fatalf("residue: %v", found)
		}
		req, err := rig.store.Request(context.Background(), tenant, m.RequestID)
		if err != nil || req.Status != dsr.Completed {
			t.Fatalf("request %+v %v", req, err)
		}
		if got := mailsTo(t, p.email); len(got) < 1 || len(got) > 3 {
			t.Fatalf("%d confirmation emails", len(got))
		}
	})
}

// throttler makes DynamoDB calls fail with ThrottlingException, as an SDK middleware: the
// first n calls of each listed operation, or every call while forever is set.
type throttler struct {
	mu      sync.Mutex
	left    map[string]int
	forever map[string]bool
	hits    int
}

func (th *throttler) take(op string) bool {
	th.mu.Lock()
	defer th.mu.Unlock()
	if th.forever[op] || th.left[op] > 0 {
		th.left[op]--
		th.hits++
		return true
	}
	return false
}

func (th *throttler) config() aws.Config {
	cfg := env.stack.HandlerAWS.Copy()
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("injectThrottling",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetServiceID(ctx) == "DynamoDB" && th.take(awsmiddleware.GetOperationName(ctx)) {
					return middleware.InitializeOutput{}, middleware.Metadata{}, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate of requests exceeds the allowed throughput (injected)"}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	return cfg
}

// TestErasureThrottled: throttled DynamoDB calls are retried with backoff inside the job.
func TestErasureThrottled(t *testing.T) {
	th := &throttler{left: map[string]int{}, forever: map[string]bool{}}
	for _, op := range []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem", "BatchGetItem", "TransactWriteItems"} {
		th.left[op] = 3
	}
	rig := newJobRig(t, th.config(), erasure.Options{MaxAttempts: 5, Retries: 12, RetryBase: 5 * time.Millisecond})
	p := newPerson(t)
	toggles(t, p.id, 60)
	m := quietRequest(t, p.id)
	if failed := handle(t, rig.job, delivery(1, m)); len(failed) > 0 {
		t.Fatalf("failed under throttling: %v", failed)
	}
	if th.hits < 20 {
		t.Fatalf("only %d calls were throttled", th.hits)
	}
	assertErased(t, p, m.RequestID)
}

// TestErasureDeadLetter: a job whose storage throttles without end fails each attempt; the
// last one marks the request failed, visibly, and the queue moves the message to its
// dead-letter queue. Redriven once storage recovers, it completes.
func TestErasureDeadLetter(t *testing.T) {
	ctx := context.Background()
	sq := sqs.NewFromConfig(env.stack.AWS.AWS)
	name := fmt.Sprintf("erasure-dl-%d", time.Now().UnixNano()%1e9)
	dlq, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	dlqAttrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	const maxAttempts = 2
	main, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, dlqAttrs.Attributes["QueueArn"], maxAttempts),
	}})
	if err != nil {
		t.Fatal(err)
	}
	th := &throttler{left: map[string]int{}, forever: map[string]bool{"BatchWriteItem": true}}
	rig := newJobRig(t, th.config(), erasure.Options{MaxAttempts: maxAttempts, Retries: 3, RetryBase: 5 * time.Millisecond})
	src := &eventsource.SQS{Client: sq, QueueURL: aws.ToString(main.QueueUrl), BatchSize: 5, ReportBatchItemFailures: true,
		Handler: rig.job.Handle, FunctionName: "ProcessErasure", Timeout: 30 * time.Second,
		Log: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}

	p := newPerson(t)
	m := quietRequest(t, p.id)
	body, _ := json.Marshal(m)
	if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: main.QueueUrl, MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
	inDLQ := func() []sqstypes.Message {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	var dead []sqstypes.Message
	eventually(t, 30*time.Second, "the job in the dead-letter queue", func() bool {
		if _, err := src.Once(ctx); err != nil {
			t.Logf("poll: %v", err)
		}
		dead = inDLQ()
		return len(dead) > 0
	})
	req, err := rig.store.Request(ctx, tenant, m.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != dsr.Failed || !strings.Contains(req.Failure, "throttling") || !strings.Contains(req.Failure, "dead-letter") {
		t.Fatalf("request while dead-lettered: status %s failure %q", req.Status, req.Failure)
	}
	if strings.Contains(req.Failure, p.email) {
		t.Fatal("the failure reason holds personal data")
	}
	// The API shows it failed and open.
	got := must(t, do(t, call{method: "GET", path: "/v1/requests/" + m.RequestID, key: "admin"}), 200).json(t)
	if got["status"] != "failed" || got["failure"] == "" {
		t.Fatalf("API view of the failed request: %v", got)
	}

	// Storage recovers; an operator redrives the message.
	th.mu.Lock()
	th.forever = map[string]bool{}
	th.mu.Unlock()
	for _, d := range dead {
		if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: main.QueueUrl, MessageBody: d.Body}); err != nil {
			t.Fatal(err)
		}
		if _, err := sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: dlq.QueueUrl, ReceiptHandle: d.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "the redriven job to complete", func() bool {
		if _, err := src.Once(ctx); err != nil {
			t.Logf("poll: %v", err)
		}
		r, err := rig.store.Request(ctx, tenant, m.RequestID)
		return err == nil && r.Status == dsr.Completed
	})
	assertErased(t, p, m.RequestID)
}

// TestErasureWaitsForOutbox: while the dispatcher has not handed on the person's last
// changes (their outbox items hold personal data), the job does not delete and complete:
// it fails the attempt for a retry, and finishes once the dispatcher catches up.
func TestErasureWaitsForOutbox(t *testing.T) {
	rig := newJobRig(t, env.stack.HandlerAWS, erasure.Options{MaxAttempts: 5, OutboxWait: 500 * time.Millisecond})
	p := newPerson(t)
	m := quietRequest(t, p.id)
	faults.dispatchFailures.Store(1 << 30)
	defer faults.dispatchFailures.Store(0)
	must(t, do(t, call{method: "PUT", path: "/v1/profiles/" + p.id + "/consents/marketing", key: "write",
		body: map[string]any{"status": "withdrawn", "noticeVersion": 2}}), 200)
	if failed := handle(t, rig.job, delivery(1, m)); len(failed) != 1 {
		t.Fatalf("the job did not wait for the outbox: failures %v", failed)
	}
	req, err := rig.store.Request(context.Background(), tenant, m.RequestID)
	if err != nil || req.Status != dsr.InProgress {
		t.Fatalf("request while waiting: %+v %v", req, err)
	}
	if sks := partition(t, p.id); !slices.Contains(sks, "P") {
		t.Fatalf("the profile was deleted before its events were dispatched: %v", sks)
	}
	faults.dispatchFailures.Store(0)
	eventually(t, 30*time.Second, "the job to finish after dispatch", func() bool {
		return len(handle(t, rig.job, delivery(2, m))) == 0
	})
	assertErased(t, p, m.RequestID)
}

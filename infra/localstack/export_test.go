package localstack_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/net/html"

	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/blob"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/export"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/wire"
	"github.com/livingprofile/livingprofile/shared/wire/jobs"
)

// exportLedgerEvents is how many ledger events the exported person has before any request.
const exportLedgerEvents = 1000

// formulaTier is a spreadsheet formula (a DDE payload) stored as a custom attribute.
const formulaTier = "=cmd|' /C calc'!A0"

// exportPerson is a person of the test tenant with three identities, standard and custom
// attributes, consents, subscriptions and exportLedgerEvents ledger events written by
// several kinds of actor.
type exportPerson struct {
	id, email string
	keyID     string // the API key that wrote some of the events, named "Web shop"
}

func newExportPerson(t *testing.T) exportPerson {
	t.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("export-%d@example.com", time.Now().UnixNano())
	r := must(t, do(t, call{method: "POST", path: "/v1/profiles", key: "write", body: map[string]any{
		"identities": []map[string]string{{"type": "email", "value": email}, {"type": "phone", "value": fmt.Sprintf("+48 6%08d", time.Now().UnixNano()%1e8)},
			{"type": "customer_id", "value": fmt.Sprintf("C-%d", time.Now().UnixNano()%1e9)}},
		"attributes": map[string]any{"givenName": "Ada <b>", "familyName": "Nowak", "locale": "en", "country": "PL",
			"loyalty_tier": formulaTier, "shoe_size": 38.5, "vip": true, "birth_date": "1990-05-31"},
		"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2},
			"partners": map[string]any{"status": "denied", "noticeVersion": 1}},
		"subscriptions": map[string]any{"newsletter": map[string]any{"status": "subscribed", "frequency": "monthly"},
			"offers": map[string]any{"status": "subscribed", "channels": []string{"email", "sms"}, "frequency": "weekly"}},
	}}), 201).json(t)
	p := exportPerson{id: r["id"].(string), email: email}
	_, k, err := seed.Key(ctx, syncStore(), tenant, "Web shop", []apikey.Scope{apikey.Write})
	if err != nil {
		t.Fatal(err)
	}
	p.keyID = k.ID

	// The rest of the history through the use cases, without outbox items (nobody
	// subscribes to them here, and it is much faster).
	st := dynamo.New(env.db, env.stack.Table)
	st.DisableOutbox()
	svc := app.New(st, time.Now, time.Minute)
	cur, err := svc.GetProfile(ctx, tenant, p.id)
	if err != nil {
		t.Fatal(err)
	}
	actors := []ledger.Actor{{Kind: ledger.ActorAPIKey, ID: k.ID}, {Kind: ledger.ActorPortal}, {Kind: ledger.ActorSync, ID: "crm"}, {Kind: ledger.ActorOperator, ID: "support"}}
	granted := false
	for i, seq := 0, cur.LedgerSeq; seq < exportLedgerEvents; i++ {
		w := app.Write{Actor: actors[i%len(actors)]}
		var res app.Result
		var err error
		if i%5 == 4 {
			res, err = svc.UpdateProfile(ctx, tenant, p.id, app.Patch{Attributes: map[string]any{"shoe_size": float64(36 + i%10)}}, w)
		} else {
			granted = !granted
			status := map[bool]profile.ConsentStatus{false: profile.Withdrawn, true: profile.Granted}[granted]
			res, err = svc.PutConsent(ctx, tenant, p.id, "personalisation", profile.ConsentInput{Status: status, NoticeVersion: 2}, w)
		}
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		seq = res.Profile.LedgerSeq
	}
	if cur, err = svc.GetProfile(ctx, tenant, p.id); err != nil || cur.LedgerSeq != exportLedgerEvents {
		t.Fatalf("the person has %d events (%v)", cur.LedgerSeq, err)
	}
	return p
}

// apiLedger reads the person's whole ledger through GET /v1/profiles/{id}/events.
func apiLedger(t *testing.T, id string) []ledger.Event {
	t.Helper()
	var out []ledger.Event
	path := "/v1/profiles/" + id + "/events?limit=100"
	for path != "" {
		var page struct {
			Events []ledger.Event `json:"events"`
			Chain  struct {
				Verified bool `json:"verified"`
			} `json:"chain"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(must(t, do(t, call{method: "GET", path: path, key: "read"}), 200).body, &page); err != nil {
			t.Fatal(err)
		}
		if !page.Chain.Verified {
			t.Fatalf("the API says the ledger page %s does not verify", path)
		}
		out, path = append(out, page.Events...), page.Next
	}
	return out
}

// waitCompleted polls GET /v1/requests/{id} until the request is closed and returns it.
func waitCompleted(t *testing.T, id string, within time.Duration) map[string]any {
	t.Helper()
	var r map[string]any
	eventually(t, within, "request "+id+" to complete", func() bool {
		r = must(t, do(t, call{method: "GET", path: "/v1/requests/" + id, key: "admin"}), 200).json(t)
		return r["status"] != string(dsr.Pending) && r["status"] != string(dsr.InProgress)
	})
	if r["status"] != string(dsr.Completed) {
		t.Fatalf("request ended %v: %v", r["status"], r["failure"])
	}
	return r
}

// zipFiles downloads a ZIP through a presigned URL and returns its files in order.
func zipFiles(t *testing.T, link string) ([]string, map[string][]byte, []byte) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("download: %d %s", resp.StatusCode, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the download is not a ZIP: %v", err)
	}
	var names []string
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names, files[f.Name] = append(names, f.Name), b
	}
	return names, files, body
}

func exportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(filepath.Join(localstack.RepoRoot(), "docs", "export.schema.json"))
	if err != nil {
		t.Fatalf("compile docs/export.schema.json: %v", err)
	}
	return s
}

func csvRows(t *testing.T, files map[string][]byte, name string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(files[name])).ReadAll()
	if err != nil {
		t.Fatalf("%s does not parse as CSV: %v", name, err)
	}
	return rows
}

// htmlSection returns the text of the element with id in an HTML document.
func htmlSection(doc *html.Node, id string) (string, bool) {
	var found *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				found = n
			}
		}
		for c := n.FirstChild; c != nil && found == nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if found == nil {
		return "", false
	}
	var b strings.Builder
	var text func(*html.Node)
	text = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data + " ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			text(c)
		}
	}
	text(found)
	return strings.Join(strings.Fields(b.String()), " "), true
}

// registerRecipient registers a webhook endpoint of the test tenant (a recipient the
// export must name) and returns its host.
func registerRecipient(t *testing.T, description string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	t.Cleanup(srv.Close)
	res := must(t, do(t, call{method: "POST", path: "/v1/webhooks", key: "admin", body: map[string]any{
		"url": srv.URL + "/hooks/secret-path", "eventTypes": []string{"profile.erased"}, "description": description}}), 201).json(t)
	id := res["id"].(string)
	t.Cleanup(func() { do(t, call{method: "DELETE", path: "/v1/webhooks/" + id, key: "admin"}) })
	u, _ := url.Parse(srv.URL)
	return u.Hostname()
}

// TestExportEndToEnd: a person with identities, consents, subscriptions, custom attributes
// and 1,000 ledger events asks for access and for portability through the API; each
// export completes, GET /v1/requests/{id} links to it, the link downloads a ZIP whose
// profile.json validates against docs/export.schema.json and holds exactly the API's
// ledger, whose CSVs parse with the right rows and no live formulas, and whose index.html
// parses with the purposes, legal bases and recipients; the person is emailed; and a
// redelivered job changes nothing.
func TestExportEndToEnd(t *testing.T) {
	start := time.Now()
	p := newExportPerson(t)
	t.Logf("generated a person with %d ledger events in %v", exportLedgerEvents, time.Since(start).Round(time.Millisecond))
	host := registerRecipient(t, "Newsletter platform")
	schema := exportSchema(t)

	for _, tc := range []struct {
		typ    dsr.Type
		locale string
		basis  string // the consent legal basis as the page words it
	}{
		{dsr.Access, "en", "Your consent (Art. 6(1)(a) GDPR)"},
		{dsr.Portability, "pl", "Twoja zgoda (art. 6 ust. 1 lit. a RODO)"},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			mailsBefore := len(mailsTo(t, p.email))
			began := time.Now()
			created := must(t, do(t, call{method: "POST", path: "/v1/requests", key: "admin",
				body: map[string]any{"profileId": p.id, "type": tc.typ, "attested": true, "attestationReason": "identity checked by the support desk", "locale": tc.locale}}), 201).json(t)
			id := created["id"].(string)
			got := waitCompleted(t, id, 2*time.Minute)
			took := time.Since(began)
			dl, _ := got["download"].(map[string]any)
			link, _ := dl["url"].(string)
			if link == "" {
				t.Fatalf("GET /v1/requests/%s has no download link: %v", id, got)
			}
			expires := timeOf(t, dl["expiresAt"])
			if left := time.Until(expires); left <= 0 || left > 15*time.Minute+time.Minute {
				t.Errorf("link expires in %v, want at most EXPORT_LINK_SECONDS", left)
			}
			names, files, raw := zipFiles(t, link)
			t.Logf("%s export of %d events: request to completed %v; ZIP %d bytes", tc.typ, exportLedgerEvents, took.Round(time.Millisecond), len(raw))
			if !slices.Equal(names, export.Files) {
				t.Fatalf("ZIP holds %v, want %v", names, export.Files)
			}
			x := got["export"].(map[string]any)
			sum := sha256.Sum256(raw)
			if x["sha256"] != hex.EncodeToString(sum[:]) || int(x["bytes"].(float64)) != len(raw) {
				t.Errorf("request export %v does not describe the download (%d bytes)", x, len(raw))
			}

			// profile.json: schema-valid, exactly the API's ledger.
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(files[export.FileJSON]))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(v); err != nil {
				t.Fatalf("profile.json does not validate: %v", err)
			}
			var doc struct {
				Subject struct {
					ProfileID string `json:"profileId"`
				} `json:"subject"`
				Identities []profile.Identity `json:"identities"`
				Attributes map[string]any     `json:"attributes"`
				Ledger     struct {
					Events       []ledger.Event      `json:"events"`
					Verification export.Verification `json:"verification"`
				} `json:"ledger"`
				Requests []map[string]any `json:"requests"`
				Art15    struct {
					Recipients []export.Recipient `json:"recipients"`
					Sources    []export.Source    `json:"sources"`
				} `json:"art15"`
			}
			if err := json.Unmarshal(files[export.FileJSON], &doc); err != nil {
				t.Fatal(err)
			}
			api := apiLedger(t, p.id)
			hashes := func(evs []ledger.Event) []string {
				out := make([]string, len(evs))
				for i, e := range evs {
					out[i] = e.Hash
				}
				return out
			}
			if len(doc.Ledger.Events) < exportLedgerEvents || !slices.Equal(hashes(doc.Ledger.Events), hashes(api)) {
				t.Errorf("profile.json holds %d ledger events, the API %d, or they differ", len(doc.Ledger.Events), len(api))
			}
			if vr := doc.Ledger.Verification; !vr.Verified || vr.Count != int64(len(api)) {
				t.Errorf("verification %+v", vr)
			}
			if doc.Subject.ProfileID != p.id || len(doc.Identities) != 3 || doc.Attributes["loyalty_tier"] != formulaTier {
				t.Errorf("subject %s, %d identities, tier %v", doc.Subject.ProfileID, len(doc.Identities), doc.Attributes["loyalty_tier"])
			}
			if !slices.Contains(doc.Art15.Recipients, export.Recipient{Description: "Newsletter platform", Host: host}) {
				t.Errorf("recipients %+v lack the registered webhook", doc.Art15.Recipients)
			}
			kinds := map[string]bool{}
			for _, s := range doc.Art15.Sources {
				kinds[s.Kind+"/"+s.Name] = true
			}
			if !kinds["api_key/Web shop"] || !kinds["portal/"] || !kinds["sync/"] || !kinds["operator/"] {
				t.Errorf("sources %+v", doc.Art15.Sources)
			}

			// The CSVs: one row per item, formulas neutralized.
			for name, want := range map[string]int{
				export.FileIdentities: 3, export.FileAttributes: len(doc.Attributes), export.FileConsents: 3,
				export.FileSubscriptions: 2, export.FileLedger: len(api), export.FileRequests: len(doc.Requests),
			} {
				if rows := csvRows(t, files, name); len(rows)-1 != want {
					t.Errorf("%s has %d rows, want %d", name, len(rows)-1, want)
				}
			}
			for _, row := range csvRows(t, files, export.FileAttributes) {
				if row[0] == "loyalty_tier" && row[1] != "'"+formulaTier {
					t.Errorf("formula cell %q not neutralized", row[1])
				}
			}

			// index.html opens, in the request's language, with the Art. 15 facts.
			page, err := html.Parse(bytes.NewReader(files[export.FileHTML]))
			if err != nil {
				t.Fatalf("index.html does not parse: %v", err)
			}
			if !bytes.Contains(files[export.FileHTML], []byte(`<html lang="`+tc.locale+`">`)) {
				t.Errorf("index.html is not in %s", tc.locale)
			}
			purposes, _ := htmlSection(page, "purposes")
			if !strings.Contains(purposes, tc.basis) || !strings.Contains(purposes, "730") {
				t.Errorf("purposes section lacks the legal basis or retention: %s", purposes)
			}
			if rec, _ := htmlSection(page, "recipients"); !strings.Contains(rec, "Newsletter platform") || !strings.Contains(rec, host) || strings.Contains(rec, "secret-path") {
				t.Errorf("recipients section: %s", rec)
			}
			if _, ok := htmlSection(page, "complaint"); !ok {
				t.Error("index.html lacks the right to complain")
			}

			// The person is told, with a link to the portal (not to the object).
			eventually(t, 10*time.Second, "the export-ready email", func() bool { return len(mailsTo(t, p.email)) > mailsBefore })
			for _, m := range exportMails(t, p.email) {
				if strings.Contains(m, "X-Amz-Signature") {
					t.Error("the email carries the presigned link")
				}
			}

			// A redelivered job is skipped: nothing changes, nobody is emailed again.
			before := must(t, do(t, call{method: "GET", path: "/v1/requests/" + id, key: "admin"}), 200).json(t)
			redeliver(t, dsr.JobMessage{Tenant: tenant, RequestID: id})
			after := must(t, do(t, call{method: "GET", path: "/v1/requests/" + id, key: "admin"}), 200).json(t)
			if before["version"] != after["version"] || len(mailsTo(t, p.email)) != mailsBefore+1 {
				t.Errorf("redelivery changed the request (version %v -> %v) or emailed again", before["version"], after["version"])
			}
		})
	}
}

// exportMails returns the text of the emails sent to addr.
func exportMails(t *testing.T, addr string) []string {
	t.Helper()
	box, err := env.stack.Mailbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range box {
		if slices.Contains(e.Recipients(), addr) {
			out = append(out, e.Text+e.HTML)
		}
	}
	return out
}

// redeliver puts a job on the export queue again and waits until the worker took it off.
func redeliver(t *testing.T, m dsr.JobMessage) {
	t.Helper()
	ctx := context.Background()
	q := env.stack.Physical["ExportQueue"].URL
	b, _ := json.Marshal(m)
	client := sqs.NewFromConfig(env.stack.AWS.AWS)
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String(string(b))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the export queue to drain", func() bool {
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q, AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)] == "0" &&
			out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)] == "0"
	})
}

// TestExportJobDirect runs the ProcessExport handler as wire builds it, outside the queue,
// on a request that no queue knows of, and times it for the 1,000-event person; it then
// runs it again (skipped) and checks the stored object.
func TestExportJobDirect(t *testing.T) {
	ctx := context.Background()
	p := newExportPerson(t)
	st := dynamo.New(env.db, env.stack.Table)
	st.DisableOutbox() // no request.created outbox item: the queue worker never sees this request
	res, err := app.New(st, time.Now, 0).CreateRequest(ctx, tenant, app.RequestInput{ProfileID: p.id, Type: dsr.Access, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "export-test"}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID
	vars := map[string]string{
		"TABLE_NAME": env.stack.Table, "EXPORTS_BUCKET": env.stack.Physical["ExportsBucket"].Name,
		"SENDER_EMAIL": "no-reply@example.com", "PORTAL_BASE_URL": env.stack.URL + "/portal", "EXPORT_RETENTION_DAYS": "3",
		"EXPORTS_KMS_KEY_ID": "alias/export-test",
	}
	h, err := wire.Build(ctx, jobs.ProcessExport, func(k string) string { return vars[k] }, env.stack.HandlerAWS, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	handler := h.(wire.QueueHandler)
	body, _ := json.Marshal(dsr.JobMessage{Tenant: tenant, RequestID: id})
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "direct", Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}}

	var took []time.Duration
	for range 2 {
		began := time.Now()
		resp, err := handler(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("handler: %v %v", resp, err)
		}
		took = append(took, time.Since(began))
	}
	t.Logf("ProcessExport for %d ledger events: %v; the redelivery (skipped) %v", exportLedgerEvents, took[0].Round(time.Millisecond), took[1].Round(time.Microsecond))

	r, err := st.Request(ctx, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != dsr.Completed || r.Export == nil || r.Export.Key != export.Key(tenant, p.id, id) {
		t.Fatalf("request %+v", r)
	}
	if d := time.Until(r.Export.ExpiresAt); d < 71*time.Hour || d > 73*time.Hour {
		t.Errorf("export expires in %v, want EXPORT_RETENTION_DAYS=3", d)
	}
	head, err := s3.NewFromConfig(env.stack.HandlerAWS).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(vars["EXPORTS_BUCKET"]), Key: aws.String(r.Export.Key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != "alias/export-test" ||
		aws.ToInt64(head.ContentLength) != r.Export.Bytes || aws.ToString(head.ContentType) != "application/zip" {
		t.Errorf("stored object: sse %q key %q length %d type %q", head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId),
			aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType))
	}
}

// TestBlobStore: the S3 adapter the export job and the erasure job share, against the
// emulator: SSE-KMS on request, presigned links that work and expire, and deletion by prefix.
func TestBlobStore(t *testing.T) {
	ctx := context.Background()
	bucket := env.stack.Physical["ExportsBucket"].Name
	b, err := blob.New(ctx, env.stack.HandlerAWS, bucket, "alias/blob-test")
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("blobtest/p_%d/", time.Now().UnixNano())
	for i := range 3 {
		body := []byte("object " + strconv.Itoa(i))
		if err := b.Put(ctx, blob.PutInput{Key: prefix + strconv.Itoa(i) + ".zip", Body: bytes.NewReader(body), Size: int64(len(body)), ContentType: "application/zip"}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := b.List(ctx, prefix)
	if err != nil || len(objs) != 3 {
		t.Fatalf("list: %v %v", objs, err)
	}

	link, err := b.Presign(ctx, prefix+"1.zip", 2*time.Second, "export.zip")
	if err != nil {
		t.Fatal(err)
	}
	get := func() (int, string, string) {
		resp, err := http.Get(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header.Get("Content-Disposition")
	}
	if st, body, cd := get(); st != 200 || body != "object 1" || !strings.Contains(cd, "export.zip") {
		t.Errorf("presigned GET: %d %q %q", st, body, cd)
	}
	time.Sleep(time.Until(link.ExpiresAt) + 1100*time.Millisecond)
	if st, _, _ := get(); st != 403 {
		t.Errorf("expired link answered %d", st)
	}

	if _, err := b.DeletePrefix(ctx, ""); err == nil {
		t.Error("an empty prefix was accepted")
	}
	n, err := b.DeletePrefix(ctx, prefix)
	if err != nil || n != 3 {
		t.Fatalf("delete prefix: %d %v", n, err)
	}
	if objs, _ := b.List(ctx, prefix); len(objs) != 0 {
		t.Errorf("left after DeletePrefix: %v", objs)
	}
	if n, err := b.DeletePrefix(ctx, prefix); err != nil || n != 0 {
		t.Errorf("second DeletePrefix: %d %v", n, err)
	}
}

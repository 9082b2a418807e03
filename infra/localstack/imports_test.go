package localstack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// importView is the body of GET /v1/imports/{id}.
type importView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Counts struct {
		Read, Applied, Skipped, Rejected int64
	} `json:"counts"`
	Offset   int64   `json:"offset"`
	Size     int64   `json:"size"`
	Progress float64 `json:"progress"`
	Rate     float64 `json:"rowsPerSecond"`
	Problem  *struct {
		Field, Reason string
	} `json:"problem"`
	Report []struct {
		URL string `json:"url"`
	} `json:"errorReport"`
}

type reportLine struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// runImport creates an import, uploads file through the presigned URL, starts it and
// waits for it to end.
func runImport(t *testing.T, body map[string]any, file []byte, within time.Duration) importView {
	t.Helper()
	id := uploadImport(t, body, file)
	must(t, do(t, call{method: "POST", path: "/v1/imports/" + id + "/start", key: "write"}), 202)
	return waitImport(t, id, within)
}

func uploadImport(t *testing.T, body map[string]any, file []byte) string {
	t.Helper()
	created := must(t, do(t, call{method: "POST", path: "/v1/imports", key: "write", body: body}), 201).json(t)
	im, up := created["import"].(map[string]any), created["upload"].(map[string]any)
	if im["status"] != "awaiting_upload" || up["method"] != "PUT" {
		t.Fatalf("created %v", created)
	}
	req, err := http.NewRequest("PUT", up["url"].(string), bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload through the presigned URL: status %d", resp.StatusCode)
	}
	return im["id"].(string)
}

func getImport(t *testing.T, id string) importView {
	t.Helper()
	var v importView
	if err := json.Unmarshal(must(t, do(t, call{method: "GET", path: "/v1/imports/" + id, key: "write"}), 200).body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func waitImport(t *testing.T, id string, within time.Duration) importView {
	t.Helper()
	var v importView
	eventually(t, within, "the import to end", func() bool {
		v = getImport(t, id)
		return v.Status == "completed" || v.Status == "failed"
	})
	if v.Status != "completed" {
		t.Fatalf("import %s: %+v", v.Status, v)
	}
	if c := v.Counts; c.Read != c.Applied+c.Skipped+c.Rejected {
		t.Fatalf("counts do not reconcile: %+v", c)
	}
	if v.Offset != v.Size || v.Progress != 1 {
		t.Fatalf("a completed import at offset %d of %d (progress %v)", v.Offset, v.Size, v.Progress)
	}
	return v
}

// report downloads every part of an import's error report.
func report(t *testing.T, v importView) []reportLine {
	t.Helper()
	var out []reportLine
	for _, part := range v.Report {
		resp, err := http.Get(part.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("error report part: status %d", resp.StatusCode)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			var l reportLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("report line %q: %v", sc.Text(), err)
			}
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b reportLine) int { return a.Line - b.Line })
	return out
}

// footprint is what the table holds of the profiles of emails: their count, their versions
// summed and their ledger events, by one scan.
type footprint struct{ profiles, versions, events int }

func footprintOf(t *testing.T, tag string) footprint {
	t.Helper()
	var fp footprint
	pks := map[string]bool{}
	var events []string
	p := dynamodb.NewScanPaginator(env.db, &dynamodb.ScanInput{TableName: &env.stack.Table})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			pk := it["PK"].(*types.AttributeValueMemberS).Value
			sk := it["SK"].(*types.AttributeValueMemberS).Value
			if !strings.HasPrefix(pk, "T#"+tenant+"#P#") {
				continue
			}
			if strings.HasPrefix(sk, "E#") {
				events = append(events, pk)
				continue
			}
			if sk != "P" {
				continue
			}
			var doc profile.Profile
			if err := json.Unmarshal([]byte(it["doc"].(*types.AttributeValueMemberS).Value), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Attributes["familyName"] == tag {
				fp.profiles++
				fp.versions += int(doc.Version)
				pks[pk] = true
			}
		}
	}
	for _, pk := range events {
		if pks[pk] {
			fp.events++
		}
	}
	return fp
}

func importEmail(tag string, i int) string { return fmt.Sprintf("imp-%s-%d@example.com", tag, i) }

func ndjsonRow(t *testing.T, fields map[string]any) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImportNDJSON: a mixed file with bad lines, uploaded through the presigned URL and
// started, ends with counts that reconcile to the file, a report naming each bad line and
// no value of it, the profiles and consents written with their evidence, no webhook
// delivery, and a second import of the same file writing nothing.
func TestImportNDJSON(t *testing.T) {
	rc := newReceiver(t)
	rc.register([]string{"consent.changed", "profile.created"}, "")
	tag := fmt.Sprintf("nd%d", time.Now().UnixNano())
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	row := func(i int, extra map[string]any) map[string]any {
		r := map[string]any{"identity": map[string]string{"type": "email", "value": importEmail(tag, i)}, "occurredAt": at,
			"attributes":    map[string]any{"givenName": fmt.Sprintf("Person %d", i), "familyName": tag},
			"consents":      map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 2}},
			"subscriptions": map[string]any{"newsletter": map[string]any{"status": "subscribed"}}}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	erased := importEmail(tag, 900)
	readmitted := importEmail(tag, 901)
	ids := []profile.Identity{}
	for _, e := range []string{erased, readmitted} {
		id, reason := profile.NormalizeIdentity(mustCatalog(t), "email", e)
		if reason != "" {
			t.Fatal(reason)
		}
		ids = append(ids, id)
	}
	if err := syncStore().Suppress(context.Background(), tenant, ids); err != nil {
		t.Fatal(err)
	}
	var lines []string
	bad := map[int]string{} // line -> the field the report must name ("" for none)
	for i := range 20 {
		lines = append(lines, ndjsonRow(t, row(i, nil)))
	}
	add := func(field, line string) { lines = append(lines, line); bad[len(lines)] = field }
	add("", `not json at all `+importEmail(tag, 100))
	add("colour", ndjsonRow(t, row(101, map[string]any{"colour": "red"})))
	add("occurredAt", ndjsonRow(t, row(102, map[string]any{"occurredAt": "yesterday"})))
	add("consents.marketing.noticeVersion", ndjsonRow(t, row(103, map[string]any{"consents": map[string]any{"marketing": map[string]any{"status": "granted", "noticeVersion": 9}}})))
	add("id", ndjsonRow(t, row(104, map[string]any{"id": "crm-1"})))
	add("identity", ndjsonRow(t, row(900, nil)))
	erasedLine := len(lines)
	lines = append(lines, lines[0]) // the same row twice: skipped as a duplicate
	lines = append(lines, "")       // a blank line is no row
	lines = append(lines, ndjsonRow(t, row(901, map[string]any{"occurredAt": time.Now().UTC().Format(time.RFC3339),
		"signupEvidence": map[string]any{"purpose": "marketing", "source": "web_signup", "method": "written",
			"capturedAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "noticeVersion": 2}})))
	file := []byte(strings.Join(lines, "\n") + "\n")

	v := runImport(t, map[string]any{"format": "ndjson", "source": "legacy_crm", "name": "first load"}, file, 60*time.Second)
	if c := v.Counts; c.Read != int64(len(lines)-1) || c.Applied != 21 || c.Skipped != 1 || c.Rejected != int64(len(bad)) {
		t.Fatalf("counts %+v, want read %d, applied 21, skipped 1, rejected %d; report %+v", c, len(lines)-1, len(bad), report(t, v))
	}
	rep := report(t, v)
	if len(rep) != len(bad) {
		t.Fatalf("report %+v, want one line per bad line %v", rep, bad)
	}
	for _, l := range rep {
		field, ok := bad[l.Line]
		if !ok || l.Field != field || l.Reason == "" {
			t.Errorf("report line %+v, want line in %v naming field %q", l, bad, field)
		}
		if l.Line == erasedLine && l.Code != "erased" {
			t.Errorf("the erased person's row: %+v, want code erased", l)
		}
	}
	raw, _ := json.Marshal(rep)
	if strings.Contains(string(raw), "@example.com") || strings.Contains(string(raw), "Person") {
		t.Fatalf("the error report holds a value of a row: %s", raw)
	}

	p := must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+importEmail(tag, 3)), key: "read"}), 200).json(t)
	c := p["consents"].(map[string]any)["marketing"].(map[string]any)
	if c["status"] != "granted" || c["noticeVersion"] != float64(2) || p["attributes"].(map[string]any)["givenName"] != "Person 3" {
		t.Fatalf("imported profile %v", p)
	}
	evs := apiLedger(t, p["id"].(string))
	if len(evs) == 0 || evs[0].Actor.Kind != "sync" || evs[0].Actor.ID != "legacy_crm" {
		t.Fatalf("ledger %+v, want the import's source as the actor", evs)
	}
	back := must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+readmitted), key: "read"}), 200).json(t)
	if !slices.ContainsFunc(apiLedger(t, back["id"].(string)), func(e ledger.Event) bool { return e.Type == "suppression.lifted" }) {
		t.Fatal("the re-admitted person's ledger has no suppression.lifted")
	}
	must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+erased), key: "read"}), 404)

	before := footprintOf(t, tag)
	if before.profiles != 21 {
		t.Fatalf("%d profiles of the file, want 21", before.profiles)
	}
	again := runImport(t, map[string]any{"format": "ndjson", "source": "legacy_crm"}, file, 60*time.Second)
	if c := again.Counts; c.Applied != 0 || c.Skipped != 22 || c.Rejected != int64(len(bad)) {
		t.Fatalf("second import counts %+v, want nothing applied", c)
	}
	if after := footprintOf(t, tag); after != before {
		t.Fatalf("the second import wrote: %+v, before %+v", after, before)
	}
	time.Sleep(2 * time.Second) // what the dispatcher would have delivered by now
	if n := len(rc.events()); n != 0 {
		t.Fatalf("%d webhook deliveries of an import without webhooks", n)
	}

	// With webhooks on, the same kind of file is delivered.
	loud := []byte(ndjsonRow(t, row(500, nil)) + "\n")
	runImport(t, map[string]any{"format": "ndjson", "source": "legacy_crm", "webhooks": true}, loud, 30*time.Second)
	eventually(t, 15*time.Second, "the deliveries of an import with webhooks", func() bool { return len(rc.events()) > 0 })
}

// TestImportCSV: a CSV file is read by its header; a bad row is rejected on its own, and
// an unknown column fails the whole import when it is started.
func TestImportCSV(t *testing.T) {
	tag := fmt.Sprintf("csv%d", time.Now().UnixNano())
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	file := "email,occurredAt,attributes.givenName,attributes.familyName,consents.marketing,consents.marketing.noticeVersion,subscriptions.newsletter,subscriptions.newsletter.channels\r\n"
	for i := range 5 {
		file += fmt.Sprintf("%s,%s,\"Person, %d\",%s,granted,2,subscribed,email\r\n", importEmail(tag, i), at, i, tag)
	}
	file += importEmail(tag, 10) + "," + at + ",short row\r\n"                                          // line 7
	file += importEmail(tag, 11) + "," + at + ",X," + tag + ",maybe,2,,\r\n"                            // line 8
	file += "," + at + ",Nobody," + tag + ",,,,\r\n"                                                    // line 9
	file += importEmail(tag, 12) + "," + at + ",\"Multi\nLine\"," + tag + ",denied,1,unsubscribed,\r\n" // lines 10-11
	file += importEmail(tag, 13) + "," + at + ",Last," + tag + ",denied,1,unsubscribed,\r\n"            // line 12
	v := runImport(t, map[string]any{"format": "csv", "source": "shop"}, []byte(file), 60*time.Second)
	if c := v.Counts; c.Read != 10 || c.Applied != 6 || c.Rejected != 4 {
		t.Fatalf("counts %+v, want 10 read, 6 applied, 4 rejected; report %+v", c, report(t, v))
	}
	var got []string
	for _, l := range report(t, v) {
		got = append(got, fmt.Sprintf("%d %s", l.Line, l.Field))
	}
	// A cell over two lines is read as one (and refused here: a name is one line of text).
	if want := []string{"7 ", "8 consents.marketing.status", "9 identity", "10 attributes.givenName"}; !slices.Equal(got, want) {
		t.Fatalf("report %q, want %q", got, want)
	}
	p := must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+importEmail(tag, 2)), key: "read"}), 200).json(t)
	if p["attributes"].(map[string]any)["givenName"] != "Person, 2" || p["consents"].(map[string]any)["marketing"].(map[string]any)["status"] != "granted" {
		t.Fatalf("imported profile %v", p)
	}
	multi := must(t, do(t, call{method: "GET", path: "/v1/profiles?identity=" + url.QueryEscape("email:"+importEmail(tag, 13)), key: "read"}), 200).json(t)
	if multi["consents"].(map[string]any)["marketing"].(map[string]any)["status"] != "denied" {
		t.Fatalf("the row after a multi-line cell: %v", multi)
	}

	t.Run("unknown column", func(t *testing.T) {
		id := uploadImport(t, map[string]any{"format": "csv", "source": "shop"}, []byte("email,occurredAt,favourite_colour\na@example.com,"+at+",red\n"))
		p := isProblem(t, must(t, do(t, call{method: "POST", path: "/v1/imports/" + id + "/start", key: "write"}), 422))
		if reason, ok := fieldReason(p, "header"); !ok || !strings.Contains(reason, "favourite_colour") {
			t.Fatalf("problem %v, want the header field naming the column", p)
		}
		if v := getImport(t, id); v.Status != "failed" || v.Problem == nil || v.Problem.Field != "header" {
			t.Fatalf("import after a bad header: %+v", v)
		}
	})
	t.Run("start before upload", func(t *testing.T) {
		created := must(t, do(t, call{method: "POST", path: "/v1/imports", key: "write", body: map[string]any{"format": "csv", "source": "shop"}}), 201).json(t)
		id := created["import"].(map[string]any)["id"].(string)
		must(t, do(t, call{method: "POST", path: "/v1/imports/" + id + "/start", key: "write"}), 409)
	})
}

// TestImportResumesAfterCrash: the worker's context is cancelled mid-file, so its chunk
// fails after writing some rows and before its checkpoint; the queue delivers the message
// again and the worker resumes from the checkpoint. Every row ends applied exactly once:
// one profile per row, each at version 1 with the events of one change.
func TestImportResumesAfterCrash(t *testing.T) {
	tag := fmt.Sprintf("crash%d", time.Now().UnixNano())
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	const rows = 3000
	var b strings.Builder
	for i := range rows {
		fmt.Fprintf(&b, `{"identity":{"type":"email","value":%q},"occurredAt":%q,"attributes":{"familyName":%q},"consents":{"marketing":{"status":"granted","noticeVersion":2}}}`+"\n",
			importEmail(tag, i), at, tag)
	}
	faults.importCancels.Store(1)
	faults.importCrashed.Store(false)
	v := runImport(t, map[string]any{"format": "ndjson", "source": "legacy_crm"}, []byte(b.String()), 180*time.Second)
	if !faults.importCrashed.Load() {
		t.Fatalf("the worker was not cancelled mid-file; the test proves nothing: %+v", v)
	}
	if c := v.Counts; c.Read != rows || c.Rejected != 0 || c.Applied+c.Skipped != rows {
		t.Fatalf("counts %+v, want %d read, none rejected", c, rows)
	}
	fp := footprintOf(t, tag)
	if fp.profiles != rows || fp.versions != rows {
		t.Fatalf("%d profiles with versions summing to %d, want %d at version 1 each", fp.profiles, fp.versions, rows)
	}
	if fp.events%rows != 0 {
		t.Fatalf("%d ledger events for %d identical rows: some row was applied twice", fp.events, rows)
	}
}

package localaws

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// journal keeps the embedded emulator's state across restarts, kill -9 included. A reverse
// proxy in front of the emulator, it appends every successful mutating request (not SQS) to
// a file with one write(2) before the client sees the response: what a client was told is
// done is in the file, whatever happens to the process next. Mutating requests pass one at a
// time, so replaying the file at start rebuilds the same state.
//
// At start, after the replay, a journal past compactMin is rewritten as its requests that
// are no item writes (tables, buckets, objects, secrets, emails) plus each live item once, so
// a restart replays the data plus one run's history. It is not done while running: it would
// stop every write for as long as reading the whole table takes (seconds at 100,000 writes).
type journal struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	emulator string // the emulator's base URL
	proxy    *httputil.ReverseProxy
	kept     [][]byte // the encoded requests that are no item writes, in order
	tables   []string // the tables created through the journal, which compaction reads
	size     int64
	log      *slog.Logger
}

const journalFile = "journal.jsonl"

// compactMin is the size below which the journal is never compacted (tests lower it).
var compactMin int64 = 8 << 20

// record is one journaled request, one JSON line.
type record struct {
	Method string            `json:"m"`
	URI    string            `json:"u"`
	Header map[string]string `json:"h,omitempty"`
	// JSON holds a JSON body as it is (DynamoDB's), Body any other, base64-encoded.
	JSON json.RawMessage `json:"j,omitempty"`
	Body []byte          `json:"b,omitempty"`
}

// openJournal replays dir's journal into the emulator at emulator and returns the journal,
// open for appending.
func openJournal(ctx context.Context, dir, emulator string, log *slog.Logger) (*journal, error) {
	target, err := url.Parse(emulator)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &journal{path: filepath.Join(dir, journalFile), emulator: emulator, proxy: httputil.NewSingleHostReverseProxy(target), log: log}
	j.proxy.ModifyResponse = j.record
	// A client gone before its answer (at shutdown) is no error worth a line.
	j.proxy.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	n, failed, err := j.replay(ctx)
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "journal replayed", "requests", n, "refused", failed, "bytes", j.size)
	if err := j.reopen(); err != nil {
		return nil, err
	}
	if j.size > compactMin { // the history of earlier runs goes; restart time follows the data
		if err := j.compact(ctx); err != nil {
			log.WarnContext(ctx, "journal compaction failed; the journal keeps growing", "err", err)
		}
	}
	return j, nil
}

// replay sends every complete record of the file to the emulator. A torn last line (the
// process died in the middle of nothing the client was told of) is dropped.
func (j *journal) replay(ctx context.Context) (n, failed int, err error) {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := rd.ReadBytes('\n')
		if err == io.EOF {
			return n, failed, os.Truncate(j.path, j.size) // drops a torn tail
		}
		if err != nil {
			return n, failed, fmt.Errorf("journal: %w", err)
		}
		var r record
		if json.Unmarshal(line, &r) != nil {
			return n, failed, fmt.Errorf("journal: line %d is not a record; move %s away to start empty", n+1, j.path)
		}
		j.size += int64(len(line))
		j.keep(&r, line)
		if status, err := j.send(ctx, &r, nil); err != nil {
			return n, failed, err
		} else if status/100 != 2 {
			failed++
		}
		n++
	}
}

// send sends r to the emulator and returns the status, decoding the JSON answer into out.
func (j *journal) send(ctx context.Context, r *record, out any) (int, error) {
	body := r.Body
	if r.JSON != nil {
		body = r.JSON
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, j.emulator+r.URI, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("journal: replay: %w", err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

type journalKey struct{}

// ServeHTTP proxies r to the emulator; a mutating request is journaled (by record) while it
// holds the lock.
func (j *journal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec, ok := mutating(r)
	if !ok {
		j.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	if json.Valid(body) {
		rec.JSON = body
	} else {
		rec.Body = body
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	j.mu.Lock()
	defer j.mu.Unlock()
	j.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), journalKey{}, rec)))
}

// record appends the request of a successful mutating response, before the response is
// passed on; failing that, the client gets a 500 instead of an acknowledgement.
func (j *journal) record(resp *http.Response) error {
	rec, ok := resp.Request.Context().Value(journalKey{}).(*record)
	if !ok || resp.StatusCode/100 != 2 {
		return nil
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.size += int64(len(line))
	j.keep(rec, line)
	return nil
}

// compact rewrites the journal as its kept requests plus one PutItem per live item, read
// with consistent Scans of every table; it runs at start, before the journal serves.
func (j *journal) compact(ctx context.Context) error {
	tmp := j.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	for _, line := range j.kept {
		_, _ = w.Write(line)
	}
	for _, t := range j.tables {
		var start json.RawMessage
		for {
			in := map[string]any{"TableName": t, "ConsistentRead": true}
			if start != nil {
				in["ExclusiveStartKey"] = start
			}
			var page struct {
				Items            []json.RawMessage
				LastEvaluatedKey json.RawMessage
			}
			scan := dynamoRecord("Scan", in)
			if status, err := j.send(ctx, &scan, &page); err != nil || status != http.StatusOK {
				return fmt.Errorf("journal: compact %s: scan status %d: %v", t, status, err)
			}
			for _, it := range page.Items {
				line, _ := json.Marshal(dynamoRecord("PutItem", map[string]any{"TableName": t, "Item": it}))
				_, _ = w.Write(append(line, '\n'))
			}
			if start = page.LastEvaluatedKey; len(start) == 0 || string(start) == "null" {
				break
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	j.log.InfoContext(ctx, "journal compacted", "from", j.size, "to", st.Size())
	j.size = st.Size()
	return j.reopen()
}

// dynamoRecord is the record of the DynamoDB call op with the input in.
func dynamoRecord(op string, in any) record {
	b, _ := json.Marshal(in)
	return record{Method: http.MethodPost, URI: "/", JSON: b, Header: map[string]string{
		"X-Amz-Target": "DynamoDB_20120810." + op, "Content-Type": "application/x-amz-json-1.0"}}
}

func (j *journal) reopen() error {
	if j.f != nil {
		_ = j.f.Close()
	}
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f = f
	return nil
}

// Close closes the file; every record is already written.
func (j *journal) Close() error { return j.f.Close() }

// mutating returns the record of r when r changes state that the journal keeps: any
// request but reads and SQS (whose messages the reconciler restores instead).
func mutating(r *http.Request) (*record, bool) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return nil, false
	}
	target := r.Header.Get("X-Amz-Target")
	service, op, _ := strings.Cut(target, ".")
	switch {
	case strings.HasPrefix(service, "AmazonSQS"), target == "" && strings.Contains(r.Header.Get("Content-Type"), "x-www-form-urlencoded"):
		return nil, false
	}
	for _, read := range []string{"Get", "BatchGet", "TransactGet", "Query", "Scan", "Describe", "List"} {
		if strings.HasPrefix(op, read) {
			return nil, false
		}
	}
	rec := &record{Method: r.Method, Header: map[string]string{}}
	// A presigned upload's signature expires; its replay is a plain request.
	q := r.URL.Query()
	maps.DeleteFunc(q, func(k string, _ []string) bool { return strings.HasPrefix(k, "X-Amz-") })
	rec.URI = r.URL.EscapedPath()
	if len(q) > 0 {
		rec.URI += "?" + q.Encode()
	}
	for k := range r.Header {
		switch k {
		case "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "User-Agent", "Amz-Sdk-Invocation-Id", "Amz-Sdk-Request",
			"Content-Length", "Accept-Encoding", "Connection", "Expect":
		default:
			rec.Header[k] = r.Header.Get(k)
		}
	}
	return rec, true
}

// keep remembers the encoded r when compaction must keep it, and the tables it creates.
func (j *journal) keep(r *record, line []byte) {
	if itemWrite(r) {
		return
	}
	j.kept = append(j.kept, line)
	if r.Header["X-Amz-Target"] == "DynamoDB_20120810.CreateTable" {
		var in struct{ TableName string }
		if json.Unmarshal(r.JSON, &in) == nil {
			j.tables = append(j.tables, in.TableName)
		}
	}
}

// itemWrite reports whether r writes DynamoDB items (compaction replaces those by the items).
func itemWrite(r *record) bool {
	switch r.Header["X-Amz-Target"] {
	case "DynamoDB_20120810.PutItem", "DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.DeleteItem",
		"DynamoDB_20120810.BatchWriteItem", "DynamoDB_20120810.TransactWriteItems", "DynamoDB_20120810.ExecuteStatement":
		return true
	}
	return false
}

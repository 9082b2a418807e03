package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/infra/rie"
	"github.com/livingprofile/livingprofile/shared/apikey"
)

// importWorker, while set, is the ProcessImport bootstrap running as a process of its own
// (under aws-lambda-rie), which the stack's import queue is forwarded to: its peak RSS is
// the worker's alone, not this process's with the emulator's tables in it.
var importWorker atomic.Pointer[rie.Instance]

// forwardImports is the stack's ProcessImport handler: next, or the worker process.
func forwardImports(next queueHandler) queueHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		inst := importWorker.Load()
		if inst == nil {
			return next(ctx, ev)
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			return events.SQSEventResponse{}, err
		}
		out, err := inst.Invoke(ctx, payload)
		if err != nil {
			return events.SQSEventResponse{}, err
		}
		var resp events.SQSEventResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			return events.SQSEventResponse{}, fmt.Errorf("worker answered %.200s: %w", out, err)
		}
		return resp, nil
	}
}

// startImportWorker builds ProcessImport's bootstrap for this host and runs it under
// aws-lambda-rie with the function's environment, on the stack's emulator.
func startImportWorker(ctx context.Context, b *bench, dir string) (*rie.Instance, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	rieBin, err := rie.Build(ctx, filepath.Join(cache, "livingprofile", "aws-lambda-rie"))
	if err != nil {
		return nil, err
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := rie.BuildFunction(ctx, "./"+functionDir("ProcessImport"), bootstrap, runtime.GOARCH); err != nil {
		return nil, err
	}
	var env []string
	fnEnv := b.st.Env["ProcessImport"]
	for _, k := range slices.Sorted(maps.Keys(fnEnv)) {
		env = append(env, k+"="+fnEnv[k])
	}
	env = append(env, "AWS_ENDPOINT_URL="+b.st.AWS.Endpoint, "AWS_REGION="+b.st.AWS.AWS.Region,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_LAMBDA_FUNCTION_NAME=ProcessImport", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		// Each invocation works for 80 s (a third is kept free), then queues the rest.
		"AWS_LAMBDA_FUNCTION_TIMEOUT=120")
	return rie.Start(ctx, rieBin, bootstrap, env)
}

// importView is what the import section reads of GET /v1/imports/{id}.
type importView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Size   int64  `json:"size"`
	Counts struct {
		Read, Applied, Skipped, Rejected int64
	} `json:"counts"`
	Rate float64 `json:"rowsPerSecond"`
}

// importBench imports a generated NDJSON file of -import-n new people through the stack
// (presigned upload, start, the worker streaming it from S3 in checkpointed chunks),
// reports rows/s and memory, checks the counts against the file, then imports the same
// file again and checks that it wrote nothing.
func importBench(ctx context.Context, b *bench, w io.Writer) error {
	n := b.cfg.importN
	file, size, err := importFile(n)
	if err != nil {
		return err
	}
	defer os.Remove(file)
	dir, err := os.MkdirTemp("", "lp-bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	inst, err := startImportWorker(ctx, b, dir)
	if err != nil {
		return err
	}
	importWorker.Store(inst)
	defer func() { importWorker.Store(nil); inst.Close() }()
	rssBefore := peakRSS()
	first, took, heap, err := b.runImport(ctx, file, size)
	if err != nil {
		return err
	}
	c := first.Counts
	if c.Read != int64(n) || c.Applied != int64(n) || c.Read != c.Applied+c.Skipped+c.Rejected {
		return fmt.Errorf("counts %+v do not reconcile to the file's %d rows", c, n)
	}
	rssAfter := peakRSS()
	workerRSS, err := inst.BootstrapPeakRSS()
	if err != nil {
		return err
	}
	// The worker's calls are another process's, so what the re-run wrote is read from the
	// table: the items of the tenant's profile partitions (profiles and ledger events).
	itemsBefore, err := b.profileItems(ctx)
	if err != nil {
		return err
	}
	again, againTook, _, err := b.runImport(ctx, file, size)
	if err != nil {
		return err
	}
	itemsAfter, err := b.profileItems(ctx)
	if err != nil {
		return err
	}
	if a := again.Counts; a.Applied != 0 || a.Skipped != int64(n) || itemsAfter != itemsBefore {
		return fmt.Errorf("the re-run applied %d and skipped %d, and the profile partitions went from %d to %d items; want 0, %d, unchanged",
			a.Applied, a.Skipped, itemsBefore, itemsAfter, n)
	}
	table(w,
		"rows\tbytes\ttime\trows/s\tworker's rows/s\tread = applied + skipped + rejected",
		fmt.Sprintf("%d\t%d\t%.1fs\t%.0f\t%.0f\t%d = %d + %d + %d", n, size, took.Seconds(), float64(n)/took.Seconds(), first.Rate, c.Read, c.Applied, c.Skipped, c.Rejected),
		fmt.Sprintf("re-run\t%d\t%.1fs\t%.0f\t%.0f\t%d = %d + %d + %d", size, againTook.Seconds(), float64(n)/againTook.Seconds(), again.Rate,
			again.Counts.Read, again.Counts.Applied, again.Counts.Skipped, again.Counts.Rejected),
	)
	note(w, "Re-run: the tenant's profile partitions hold %d items (profiles and ledger events) before and %d after.", itemsBefore, itemsAfter)
	note(w, "Peak RSS of the ProcessImport worker, a process of its own under aws-lambda-rie: %.0f MiB after both imports", float64(workerRSS)/(1<<20))
	note(w, "(it streams the file with ranged reads and holds one chunk of 1,000 rows). The bench process (client, stack, other")
	note(w, "handlers, emulator with the table and the %.0f MiB file in memory): peak RSS %.0f MiB before, %.0f MiB after;", float64(size)/(1<<20), rssBefore, rssAfter)
	note(w, "Go heap in use at most %.0f MiB during the first import: the emulator's tables grow with every row.", heap)
	return nil
}

// runImport creates an import, uploads the file through the presigned URL, starts it and
// waits for it to complete; it returns the import, the time from start to completion and
// the Go heap in use at most meanwhile, in MiB.
func (b *bench) runImport(ctx context.Context, file string, size int64) (importView, time.Duration, float64, error) {
	key := b.fix.keys[apikey.Write]
	var created struct {
		Import importView `json:"import"`
		Upload struct {
			URL string `json:"url"`
		} `json:"upload"`
	}
	if err := b.c.call(ctx, "POST", "/v1/imports", key, map[string]any{"format": "ndjson", "source": "bench_import"}, 201, &created); err != nil {
		return importView{}, 0, 0, err
	}
	f, err := os.Open(file)
	if err != nil {
		return importView{}, 0, 0, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, "PUT", created.Upload.URL, f)
	if err != nil {
		return importView{}, 0, 0, err
	}
	req.ContentLength = size
	resp, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
	if err != nil {
		return importView{}, 0, 0, fmt.Errorf("upload: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return importView{}, 0, 0, fmt.Errorf("upload: status %d", resp.StatusCode)
	}
	var heap atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > heap.Load() {
				heap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	defer close(stop)
	id := created.Import.ID
	start := time.Now()
	if err := b.c.call(ctx, "POST", "/v1/imports/"+id+"/start", key, nil, 202, nil); err != nil {
		return importView{}, 0, 0, err
	}
	var v importView
	err = poll(ctx, 250*time.Millisecond, 6*time.Hour, func() (bool, error) {
		if err := b.c.call(ctx, "GET", "/v1/imports/"+id, key, nil, 200, &v); err != nil {
			return false, err
		}
		if v.Status == "failed" {
			return false, errors.New("the import failed")
		}
		return v.Status == "completed", nil
	})
	return v, time.Since(start), float64(heap.Load()) / (1 << 20), err
}

// profileItems counts the items of the bench tenant's profile partitions (each profile and
// its ledger events), with a counting scan.
func (b *bench) profileItems(ctx context.Context) (int64, error) {
	var n int64
	p := dynamodb.NewScanPaginator(b.db, &dynamodb.ScanInput{TableName: &b.st.Table, Select: types.SelectCount,
		FilterExpression:          aws.String("begins_with(PK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "T#" + benchTenant + "#P#"}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count profile items: %w", err)
		}
		n += int64(page.Count)
	}
	return n, nil
}

// importFile writes n NDJSON rows, each a new person with attributes, a consent and a
// subscription, to a temporary file and returns its name and size.
func importFile(n int) (string, int64, error) {
	f, err := os.CreateTemp("", "bench-import-*.ndjson")
	if err != nil {
		return "", 0, err
	}
	bw := bufio.NewWriter(f)
	stamp := time.Now().UnixNano()
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for i := range n {
		fmt.Fprintf(bw, `{"identity":{"type":"email","value":"import-%d-%d@example.com"},"occurredAt":%q,`+
			`"attributes":{"givenName":"Person %d"},"consents":{"marketing":{"status":"granted","noticeVersion":2}},`+
			`"subscriptions":{"newsletter":{"status":"subscribed"}}}`+"\n", stamp, i, at, i)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return "", 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return "", 0, err
	}
	return f.Name(), st.Size(), f.Close()
}

// peakRSS is this process's peak resident set (VmHWM), in MiB; 0 where /proc has none.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

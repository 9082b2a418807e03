package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/imports"
)

// ImportStatus is where an import is in its life.
type ImportStatus string

// The statuses, in order.
const (
	ImportAwaitingUpload ImportStatus = "awaiting_upload"
	ImportQueued         ImportStatus = "queued"
	ImportRunning        ImportStatus = "running"
	ImportCompleted      ImportStatus = "completed"
	ImportFailed         ImportStatus = "failed"
)

// Limits and timings of imports.
const (
	// UploadLinkExpiry is how long the presigned upload URL works.
	UploadLinkExpiry = 15 * time.Minute
	// ReportLinkExpiry is how long a presigned link to an error report part works.
	ReportLinkExpiry = 15 * time.Minute
	// MaxImportName bounds an import's name, in characters.
	MaxImportName = 200
	// importBatch is how many rows go to Sync at once; importParallel batches run at once,
	// and a chunk (between checkpoints) is importParallel batches.
	importBatch    = 250
	importParallel = 4
	// importMargin is kept free before the worker's deadline (a third of the time left at
	// the start, if less): a chunk is not started within it, and the next message is
	// queued instead.
	importMargin = 60 * time.Second
	// importChangePrefix starts the change id of every imported row (see Importer).
	importChangePrefix = "imp-"
)

// Import is one bulk import: a file uploaded to the imports bucket and applied row by row
// through Sync. Its checkpoint (Offset, Line and the counts) moves only forward, with a
// conditional write per chunk.
type Import struct {
	ID       string       `json:"id"`
	Tenant   string       `json:"-"`
	Name     string       `json:"name,omitempty"`
	Format   string       `json:"format"`
	Source   string       `json:"source"`
	Webhooks bool         `json:"webhooks"`
	Status   ImportStatus `json:"status"`
	// Version counts the record's writes; every save is conditioned on it.
	Version int64 `json:"version"`

	CreatedAt   time.Time  `json:"createdAt"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`

	// Size is the uploaded file's size in bytes, known once started.
	Size int64 `json:"size,omitempty"`
	// Columns are a CSV file's header.
	Columns []string `json:"columns,omitempty"`
	// DataStart is the offset of the first row; Offset and Line the checkpoint: the byte
	// offset past the last row applied, and its last line number.
	DataStart int64 `json:"dataStart,omitempty"`
	Offset    int64 `json:"offset"`
	Line      int   `json:"line"`

	Counts ImportCounts `json:"counts"`
	// ErrorParts are the first lines of the chunks whose rejected rows were written to the
	// error report, one object per chunk.
	ErrorParts []int `json:"errorParts,omitempty"`
	// Problem is why a failed import failed.
	Problem *errs.FieldError `json:"problem,omitempty"`
}

// ImportCounts count rows: Read = Applied + Skipped + Rejected at every checkpoint.
type ImportCounts struct {
	Read     int64 `json:"read"`
	Applied  int64 `json:"applied"`
	Skipped  int64 `json:"skipped"` // duplicate (already imported) or stale (a newer change is recorded)
	Rejected int64 `json:"rejected"`
}

// uploadKey is where an import's file is uploaded; reports are under the same prefix.
func (im *Import) uploadKey() string { return im.Tenant + "/" + im.ID + "/upload" }

func (im *Import) partKey(line int) string {
	return fmt.Sprintf("%s/%s/errors/%012d.ndjson", im.Tenant, im.ID, line)
}

// ImportStore keeps import records.
type ImportStore interface {
	// CreateImport stores a new record; SaveImport replaces it if it is still at
	// prevVersion, else fails with errs.ErrStale.
	CreateImport(ctx context.Context, im *Import) error
	Import(ctx context.Context, tenant, id string) (*Import, error)
	SaveImport(ctx context.Context, im *Import, prevVersion int64) error
}

// ImportFiles are the objects of the imports bucket.
type ImportFiles interface {
	UploadURL(ctx context.Context, key string, expiry time.Duration) (string, time.Time, error)
	DownloadURL(ctx context.Context, key string, expiry time.Duration, filename string) (string, time.Time, error)
	// Size is the object's size; errs.NotFound if there is none.
	Size(ctx context.Context, key string) (int64, error)
	// Open streams the object from byte offset on.
	Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
	Put(ctx context.Context, key string, body []byte, contentType string) error
}

// ImportQueue queues the work of an import for the worker.
type ImportQueue interface {
	Enqueue(ctx context.Context, tenant, id string) error
}

// ChangeDecoder reads one row's document, strictly, as the API reads a sync change
// (without its id): an Invalid error names the field path.
type ChangeDecoder func(doc []byte) (SyncChange, error)

// Importer runs bulk imports. Each of its functions uses some of its parts; the others may
// be nil.
//
// Every imported row is a sync change of the import's source whose change id is derived
// from the row's content ("imp-" and the SHA-256 of the row, a CSV row's with its header),
// not from the import: the sync marks then make a resumed chunk, a redelivered message and
// a second import of the same file within the marks' 30 days write nothing twice.
type Importer struct {
	svc    *Service
	store  ImportStore
	files  ImportFiles
	queue  ImportQueue
	decode ChangeDecoder
	now    Clock
}

// NewImporter returns an Importer applying rows through svc.
func NewImporter(svc *Service, store ImportStore, files ImportFiles, queue ImportQueue, decode ChangeDecoder) *Importer {
	return &Importer{svc: svc, store: store, files: files, queue: queue, decode: decode, now: svc.now}
}

// CreateImport is a new import as the caller asked for it.
type CreateImport struct {
	Format   string
	Source   string
	Webhooks bool
	Name     string
}

// Upload is where and until when the file of a new import can be put.
type Upload struct {
	URL       string
	ExpiresAt time.Time
}

// Create records a new import awaiting its file and returns it with a presigned PUT URL
// for the file.
func (x *Importer) Create(ctx context.Context, tenant string, in CreateImport) (*Import, Upload, error) {
	var f errs.Fields
	if !imports.ValidFormat(in.Format) {
		f.Add("format", "must be ndjson or csv")
	}
	if !catalog.ValidID(in.Source) {
		f.Add("source", "must match ^[a-z][a-z0-9_-]{0,63}$")
	}
	if utf8.RuneCountInString(in.Name) > MaxImportName || strings.ContainsFunc(in.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		f.Add("name", fmt.Sprintf("must be at most %d characters of text", MaxImportName))
	}
	if err := f.Err(); err != nil {
		return nil, Upload{}, err
	}
	now := x.now().UTC()
	im := &Import{ID: NewID("imp_"), Tenant: tenant, Name: in.Name, Format: in.Format, Source: in.Source,
		Webhooks: in.Webhooks, Status: ImportAwaitingUpload, Version: 1, CreatedAt: now, UpdatedAt: now}
	url, exp, err := x.files.UploadURL(ctx, im.uploadKey(), UploadLinkExpiry)
	if err != nil {
		return nil, Upload{}, fmt.Errorf("presign upload: %w", err)
	}
	if err := x.store.CreateImport(ctx, im); err != nil {
		return nil, Upload{}, err
	}
	return im, Upload{URL: url, ExpiresAt: exp}, nil
}

// Start queues an uploaded import. A CSV file's header is checked first: a header that
// cannot be read fails the import (Unprocessable naming the column). Starting an import
// already queued, running or done answers it as it is.
func (x *Importer) Start(ctx context.Context, tenant, id string) (*Import, error) {
	im, err := x.store.Import(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	switch im.Status {
	case ImportAwaitingUpload:
	case ImportFailed:
		return nil, failedErr(im)
	case ImportQueued:
		// Queued and not yet taken: its message may be lost (a failed send), so it is sent
		// again; a second message is harmless, as whoever saves second stops.
		if err := x.queue.Enqueue(ctx, tenant, im.ID); err != nil {
			return nil, fmt.Errorf("queue import: %w", err)
		}
		return im, nil
	default:
		return im, nil
	}
	size, err := x.files.Size(ctx, im.uploadKey())
	if errs.CodeOf(err) == errs.NotFound {
		return nil, errs.E(errs.Conflict, "the file has not been uploaded yet: PUT it to the upload URL first")
	}
	if err != nil {
		return nil, fmt.Errorf("size of upload: %w", err)
	}
	prev := im.Version
	im.Size = size
	if im.Format == imports.CSV {
		h, err := x.header(ctx, im)
		if errors.Is(err, imports.ErrHeader) {
			im.Status, im.Problem = ImportFailed, &errs.FieldError{Field: "header", Reason: strings.TrimPrefix(err.Error(), imports.ErrHeader.Error()+": ")}
			if err := x.save(ctx, im, prev); err != nil {
				return nil, err
			}
			return nil, failedErr(im)
		}
		if err != nil {
			return nil, err
		}
		im.Columns, im.DataStart, im.Offset, im.Line = h.Columns, h.End, h.End, h.Lines
	}
	im.Status = ImportQueued
	if err := x.save(ctx, im, prev); err != nil {
		return nil, err
	}
	if err := x.queue.Enqueue(ctx, tenant, im.ID); err != nil {
		return nil, fmt.Errorf("queue import (start it again): %w", err)
	}
	return im, nil
}

func failedErr(im *Import) error {
	if im.Problem == nil {
		return errs.E(errs.Conflict, "the import failed")
	}
	return errs.E(errs.Unprocessable, "the import failed: "+im.Problem.Reason, *im.Problem)
}

// header reads a CSV file's header row from the head of the object.
func (x *Importer) header(ctx context.Context, im *Import) (*imports.Header, error) {
	body, err := x.files.Open(ctx, im.uploadKey(), 0)
	if err != nil {
		return nil, fmt.Errorf("open upload: %w", err)
	}
	defer body.Close()
	return imports.ReadHeader(io.LimitReader(body, 4*imports.MaxLine))
}

func (x *Importer) save(ctx context.Context, im *Import, prev int64) error {
	im.Version, im.UpdatedAt = prev+1, x.now().UTC()
	return x.store.SaveImport(ctx, im, prev)
}

// ImportView is an import as GET shows it.
type ImportView struct {
	*Import
	// RowsPerSecond is the rows read per second of running; ETA the time left at the
	// rate the bytes were read, while running.
	RowsPerSecond float64      `json:"rowsPerSecond"`
	ETA           *time.Time   `json:"eta,omitempty"`
	Progress      float64      `json:"progress"` // fraction of the file's bytes read
	Report        []ReportLink `json:"errorReport"`
}

// ReportLink is a presigned download link of a part of an error report.
type ReportLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Get returns an import with its rate, ETA and links to the parts of its error report.
func (x *Importer) Get(ctx context.Context, tenant, id string) (*ImportView, error) {
	im, err := x.store.Import(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	v := &ImportView{Import: im, Report: []ReportLink{}}
	if span := im.Size - im.DataStart; span > 0 {
		v.Progress = float64(im.Offset-im.DataStart) / float64(span)
	}
	if im.StartedAt != nil {
		end := x.now()
		if im.CompletedAt != nil {
			end = *im.CompletedAt
		}
		if secs := end.Sub(*im.StartedAt).Seconds(); secs > 0 {
			v.RowsPerSecond = float64(im.Counts.Read) / secs
			if done := im.Offset - im.DataStart; im.Status == ImportRunning && done > 0 {
				eta := end.Add(time.Duration(float64(im.Size-im.Offset) / (float64(done) / secs) * float64(time.Second))).UTC()
				v.ETA = &eta
			}
		}
	}
	for _, line := range im.ErrorParts {
		url, exp, err := x.files.DownloadURL(ctx, im.partKey(line), ReportLinkExpiry, fmt.Sprintf("%s-errors-%d.ndjson", im.ID, line))
		if err != nil {
			return nil, fmt.Errorf("presign error report: %w", err)
		}
		v.Report = append(v.Report, ReportLink{URL: url, ExpiresAt: exp})
	}
	return v, nil
}

// ReportLine is one line of an import's error report. It names the line and the field,
// never a value.
type ReportLine struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// ImportCodeUnreadable is the report code of a line that is no row of the format; the
// other codes are Sync's (invalid, erased, no_profile).
const (
	ImportCodeUnreadable = "unreadable" // the line is no row of the format
)

// Process works an import from its checkpoint until the file ends or until a margin
// before ctx's deadline, when it queues the import again and returns. Work done after the
// last checkpoint is done again by whoever resumes; the sync marks make that write nothing
// twice. A message for an import not queued or running, or a save that finds the record
// moved on (another worker has it), ends the work without error.
func (x *Importer) Process(ctx context.Context, tenant, id string) error {
	im, err := x.store.Import(ctx, tenant, id)
	if errs.CodeOf(err) == errs.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if im.Status != ImportQueued && im.Status != ImportRunning {
		return nil
	}
	if im.Status == ImportQueued {
		prev := im.Version
		now := x.now().UTC()
		im.Status, im.StartedAt = ImportRunning, &now
		if err := x.save(ctx, im, prev); errors.Is(err, errs.ErrStale) {
			return nil
		} else if err != nil {
			return err
		}
	}
	var h *imports.Header
	if im.Format == imports.CSV {
		if h, err = imports.ParseHeader(im.Columns); err != nil {
			return fmt.Errorf("stored header: %w", err)
		}
	}
	var rows imports.Reader
	if im.Offset < im.Size {
		body, err := x.files.Open(ctx, im.uploadKey(), im.Offset)
		if err != nil {
			return fmt.Errorf("open upload: %w", err)
		}
		defer body.Close()
		if h != nil {
			rows = imports.NewCSV(h, body, im.Offset, im.Line)
		} else {
			rows = imports.NewNDJSON(body, im.Offset, im.Line)
		}
	}
	margin := importMargin
	if dl, ok := ctx.Deadline(); ok {
		margin = min(margin, time.Until(dl)/3)
	}
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < margin {
			return x.queue.Enqueue(ctx, tenant, id)
		}
		done, err := x.chunk(ctx, im, rows)
		if errors.Is(err, errs.ErrStale) {
			return nil
		}
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// chunk applies the next rows and checkpoints them; it reports whether the import is done.
func (x *Importer) chunk(ctx context.Context, im *Import, rows imports.Reader) (bool, error) {
	var batch []imports.Row
	eof := rows == nil
	for !eof && len(batch) < importBatch*importParallel {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			eof = true
			break
		}
		if err != nil {
			return false, x.fail(ctx, im, err)
		}
		batch = append(batch, row)
	}
	prev := im.Version
	if len(batch) > 0 {
		report, counts, err := x.apply(ctx, im, batch)
		if err != nil {
			return false, err
		}
		if len(report) > 0 {
			first := batch[0].Line
			var b []byte
			for _, l := range report {
				j, _ := json.Marshal(l)
				b = append(append(b, j...), '\n')
			}
			// A chunk done again starts at the same line, so its part replaces the first
			// try's instead of adding to it.
			if err := x.files.Put(ctx, im.partKey(first), b, "application/x-ndjson"); err != nil {
				return false, fmt.Errorf("write error report: %w", err)
			}
			if !slices.Contains(im.ErrorParts, first) {
				im.ErrorParts = append(im.ErrorParts, first)
			}
		}
		last := batch[len(batch)-1]
		im.Offset, im.Line = last.End, last.LastLine
		im.Counts.Read += counts.Read
		im.Counts.Applied += counts.Applied
		im.Counts.Skipped += counts.Skipped
		im.Counts.Rejected += counts.Rejected
	}
	if eof {
		now := x.now().UTC()
		im.Status, im.CompletedAt, im.Offset = ImportCompleted, &now, im.Size
	}
	if err := x.save(ctx, im, prev); err != nil {
		return false, err
	}
	return eof, nil
}

// fail marks the import failed for a file that cannot be read on (the underlying error
// is the reader's: a record too long, or the object gone).
func (x *Importer) fail(ctx context.Context, im *Import, cause error) error {
	if !errors.Is(cause, imports.ErrRecordTooLong) {
		return fmt.Errorf("read import file: %w", cause)
	}
	prev := im.Version
	im.Status = ImportFailed
	im.Problem = &errs.FieldError{Field: "line " + strconv.Itoa(im.Line+1), Reason: fmt.Sprintf("a CSV record is longer than %d bytes; the file cannot be read on", imports.MaxLine)}
	return x.save(ctx, im, prev)
}

// changesPath reads the index and field of a Sync field path "changes[3].occurredAt".
var changesPath = regexp.MustCompile(`^changes\[(\d+)\]\.?(.*)$`)

// apply sends rows to Sync, importParallel batches at once, and returns the report lines
// and counts of the rows.
func (x *Importer) apply(ctx context.Context, im *Import, rows []imports.Row) ([]ReportLine, ImportCounts, error) {
	var counts ImportCounts
	lines := make([]*ReportLine, len(rows))
	status := make([]SyncStatus, len(rows))
	changes := make([]*SyncChange, len(rows))
	seen := map[string]bool{}
	for i, r := range rows {
		counts.Read++
		if r.Problem != nil {
			lines[i] = &ReportLine{Line: r.Line, Code: ImportCodeUnreadable, Field: r.Problem.Field, Reason: r.Problem.Reason}
			continue
		}
		c, err := x.decode(r.Doc)
		if err != nil {
			lines[i] = rejectLine(r.Line, err)
			continue
		}
		switch {
		case c.ID != "":
			lines[i] = &ReportLine{Line: r.Line, Code: SyncCodeInvalid, Field: "id", Reason: "is derived from the row; leave it out"}
			continue
		case c.OccurredAt.IsZero():
			lines[i] = &ReportLine{Line: r.Line, Code: SyncCodeInvalid, Field: "occurredAt", Reason: "is required: an RFC 3339 time such as 2026-05-31T12:00:00Z"}
			continue
		}
		c.ID = importChangePrefix + r.Hash
		// The same row twice in a chunk is a duplicate, as it is in two chunks.
		if seen[c.ID] {
			status[i] = SyncDuplicate
			continue
		}
		seen[c.ID] = true
		changes[i] = &c
	}
	var wg sync.WaitGroup
	errc := make([]error, importParallel)
	for p := range importParallel {
		lo, hi := p*importBatch, min((p+1)*importBatch, len(rows))
		if lo >= hi {
			break
		}
		wg.Go(func() {
			errc[p] = x.syncRows(ctx, im, rows[lo:hi], changes[lo:hi], lines[lo:hi], status[lo:hi])
		})
	}
	wg.Wait()
	if err := errors.Join(errc...); err != nil {
		return nil, counts, err
	}
	var report []ReportLine
	for i := range rows {
		switch {
		case lines[i] != nil:
			counts.Rejected++
			report = append(report, *lines[i])
		case status[i] == SyncApplied:
			counts.Applied++
		default:
			counts.Skipped++
		}
	}
	return report, counts, nil
}

// syncRows applies one batch. A change that Sync refuses the whole batch for is rejected
// on its own and the batch is sent again without it.
func (x *Importer) syncRows(ctx context.Context, im *Import, rows []imports.Row, changes []*SyncChange, lines []*ReportLine, status []SyncStatus) error {
	for {
		var idx []int
		b := SyncBatch{Source: im.Source, RequestID: "import:" + im.ID, Quiet: !im.Webhooks}
		for i, c := range changes {
			if c != nil && lines[i] == nil {
				idx = append(idx, i)
				b.Changes = append(b.Changes, *c)
			}
		}
		if len(idx) == 0 {
			return nil
		}
		results, err := x.svc.Sync(ctx, im.Tenant, b)
		if e, ok := errs.As(err); ok && e.Code == errs.Invalid && len(e.Fields) > 0 {
			refused := 0
			for _, fe := range e.Fields {
				m := changesPath.FindStringSubmatch(fe.Field)
				if m == nil {
					return fmt.Errorf("sync refused the batch: %w", err)
				}
				k, _ := strconv.Atoi(m[1])
				if k >= len(idx) {
					return fmt.Errorf("sync refused the batch: %w", err)
				}
				if i := idx[k]; lines[i] == nil {
					lines[i] = &ReportLine{Line: rows[i].Line, Code: SyncCodeInvalid, Field: m[2], Reason: fe.Reason}
					refused++
				}
			}
			if refused == 0 {
				return fmt.Errorf("sync refused the batch: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		for k, r := range results {
			i := idx[k]
			status[i] = r.Status
			switch r.Status {
			case SyncRejected:
				lines[i] = &ReportLine{Line: rows[i].Line, Code: r.Code, Field: r.Field, Reason: r.Reason}
			case SyncDeferred:
				return errors.New("sync deferred an imported change")
			}
		}
		return nil
	}
}

// rejectLine is the report line of a row whose document cannot be read.
func rejectLine(line int, err error) *ReportLine {
	e, ok := errs.As(err)
	if !ok || len(e.Fields) == 0 {
		return &ReportLine{Line: line, Code: SyncCodeInvalid, Reason: "the row cannot be read as a change"}
	}
	return &ReportLine{Line: line, Code: SyncCodeInvalid, Field: e.Fields[0].Field, Reason: e.Fields[0].Reason}
}

// ValidImportID reports whether s is shaped like an import id ("imp_" and 26 base32
// characters), so a malformed id is answered not found without a read.
func ValidImportID(s string) bool {
	if len(s) != 30 || s[:4] != "imp_" {
		return false
	}
	for _, r := range s[4:] {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// Abandon marks an import that is still queued or running failed, when its worker has
// failed on every attempt; the rows up to its checkpoint stay applied and counted.
func (x *Importer) Abandon(ctx context.Context, tenant, id string) error {
	im, err := x.store.Import(ctx, tenant, id)
	if err != nil {
		return err
	}
	if im.Status != ImportQueued && im.Status != ImportRunning {
		return nil
	}
	prev := im.Version
	im.Status = ImportFailed
	im.Problem = &errs.FieldError{Field: "line " + strconv.Itoa(im.Line+1), Reason: "the import could not be processed on from this line; the rows before it are applied"}
	return x.save(ctx, im, prev)
}

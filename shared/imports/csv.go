package imports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// MaxColumns bounds a CSV header.
const MaxColumns = 200

// identityColumns are the columns that hold an identity of a built-in type; any other type
// is named identity.<type>.
var identityColumns = []string{"email", "phone", "customer_id"}

// The fields under consents.<purpose>., subscriptions.<topic>., signupEvidence. and
// emailEvent. that a column may name, as in the sync change document.
var (
	consentFields      = []string{"noticeVersion", "locale", "expiresAt", "method"}
	subscriptionFields = []string{"channels", "frequency"}
	evidenceFields     = []string{"purpose", "source", "method", "capturedAt", "noticeVersion"}
	emailEventFields   = []string{"type", "topic", "bounceType"}
)

// column is what one CSV column sets in the change document.
type column struct {
	name     string
	identity string   // the identity type, for an identity column
	path     []string // the document path, for any other column
	integer  bool     // a whole number, written as a JSON number when it reads as one
	list     bool     // a space-separated list, written as a JSON array
}

// Header is a CSV file's validated header row.
type Header struct {
	Columns []string
	// End is the byte offset just past the header row and Lines the number of its last
	// line, where ReadHeader found it: the data rows start there.
	End   int64
	Lines int
	cols  []column
	raw   []byte // the header's bytes for row hashes
}

// ParseHeader validates the column names of a CSV header row (see docs/api.md, Imports):
// every column known, none twice, at least one identity column and occurredAt. The error
// wraps ErrHeader and names the first offending column by position and name.
func ParseHeader(names []string) (*Header, error) {
	if len(names) == 0 || len(names) > MaxColumns {
		return nil, fmt.Errorf("%w: must name 1 to %d columns", ErrHeader, MaxColumns)
	}
	h := &Header{Columns: slices.Clone(names)}
	seen := map[string]bool{}
	hasIdentity, hasTime := false, false
	for i, name := range names {
		c, ok := parseColumn(name)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: column %d (%q) is not a known column", ErrHeader, i+1, printable(name))
		case seen[name]:
			return nil, fmt.Errorf("%w: column %d (%q) repeats an earlier column", ErrHeader, i+1, name)
		}
		seen[name] = true
		hasIdentity = hasIdentity || c.identity != ""
		hasTime = hasTime || name == "occurredAt"
		h.cols = append(h.cols, c)
	}
	if !hasIdentity {
		return nil, fmt.Errorf("%w: needs an identity column (email, phone, customer_id or identity.<type>)", ErrHeader)
	}
	if !hasTime {
		return nil, fmt.Errorf("%w: needs the column occurredAt", ErrHeader)
	}
	h.raw = []byte(strings.Join(names, "\x00"))
	return h, nil
}

// printable keeps a column name readable in a problem: at most 64 bytes of valid text.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}

// parseColumn maps a column name to what it sets.
func parseColumn(name string) (column, bool) {
	c := column{name: name}
	if slices.Contains(identityColumns, name) {
		c.identity = name
		return c, true
	}
	if name == "occurredAt" {
		c.path = []string{"occurredAt"}
		return c, true
	}
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if !plainName(p) {
			return c, false
		}
	}
	switch {
	case parts[0] == "identity" && len(parts) == 2:
		c.identity = parts[1]
	case parts[0] == "attributes" && len(parts) == 2:
		c.path = parts
	case parts[0] == "consents" && len(parts) == 2:
		c.path = append(parts, "status")
	case parts[0] == "consents" && len(parts) == 3 && slices.Contains(consentFields, parts[2]):
		c.path, c.integer = parts, parts[2] == "noticeVersion"
	case parts[0] == "subscriptions" && len(parts) == 2:
		c.path = append(parts, "status")
	case parts[0] == "subscriptions" && len(parts) == 3 && slices.Contains(subscriptionFields, parts[2]):
		c.path, c.list = parts, parts[2] == "channels"
	case parts[0] == "signupEvidence" && len(parts) == 2 && slices.Contains(evidenceFields, parts[1]):
		c.path, c.integer = parts, parts[1] == "noticeVersion"
	case parts[0] == "emailEvent" && len(parts) == 2 && slices.Contains(emailEventFields, parts[1]):
		c.path = parts
	default:
		return c, false
	}
	return c, true
}

// plainName is a name part: 1 to 64 letters, digits, _ and -.
func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// ReadHeader reads and validates the header row at the start of a CSV file. An error that
// is not the reader's wraps ErrHeader.
func ReadHeader(r io.Reader) (*Header, error) {
	lr := &rowLimit{r: r}
	cr := newCSV(lr)
	names, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: the file is empty", ErrHeader)
	case errors.Is(err, ErrRecordTooLong):
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrHeader, MaxLine)
	case err != nil:
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s", ErrHeader, pe.Err)
		}
		return nil, err
	}
	names[0] = strings.TrimPrefix(names[0], "\uFEFF") // the byte order mark spreadsheets write
	h, err := ParseHeader(names)
	if err != nil {
		return nil, err
	}
	h.End = cr.InputOffset()
	h.Lines = lr.consume(int(h.End))
	return h, nil
}

func newCSV(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted per row, so that a short row rejects only itself
	return cr
}

// ErrRecordTooLong stops a CSV file with a record over the bound: a quoted field may run on
// for ever, and there is no line to resynchronise at.
var ErrRecordTooLong = fmt.Errorf("a CSV record is longer than %d bytes", MaxLine)

// rowLimit fails a read once more than twice a row's bound was read past the end of the
// last row (csv reads ahead at most its buffer's 4 KiB, which the doubling leaves room
// for). It keeps the bytes past that end, to count the lines of the next row.
type rowLimit struct {
	r       io.Reader
	pending []byte
}

func (l *rowLimit) Read(p []byte) (int, error) {
	if len(l.pending) > 2*MaxLine {
		return 0, ErrRecordTooLong
	}
	n, err := l.r.Read(p)
	l.pending = append(l.pending, p[:n]...)
	return n, err
}

// consume drops the first n pending bytes, a row's, and returns how many line feeds they held.
func (l *rowLimit) consume(n int) int {
	n = min(n, len(l.pending))
	lines := bytes.Count(l.pending[:n], []byte{'\n'})
	l.pending = l.pending[:copy(l.pending, l.pending[n:])]
	return lines
}

type csvReader struct {
	h     *Header
	cr    *csv.Reader
	lim   *rowLimit
	start int64
	off   int64 // InputOffset after the last row
	line  int   // the number of the last line read
	base  int   // the file's line number before r's first byte
}

// NewCSV reads the data rows of a CSV file with header h from r, which starts at byte
// offset start of the file (just past the header, or a row's End), on line number line+1.
// A record whose cell count differs from the header's, or that breaks the CSV quoting
// rules, is a row with a Problem. A record over MaxLine bytes stops the file with an error.
func NewCSV(h *Header, r io.Reader, start int64, line int) Reader {
	lim := &rowLimit{r: r}
	return &csvReader{h: h, cr: newCSV(lim), lim: lim, start: start, line: line, base: line}
}

func (c *csvReader) Next() (Row, error) {
	for {
		rec, err := c.cr.Read()
		if errors.Is(err, io.EOF) {
			return Row{}, io.EOF
		}
		if errors.Is(err, ErrRecordTooLong) {
			return Row{}, err
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return Row{}, fmt.Errorf("read csv: %w", err)
		}
		off := c.cr.InputOffset()
		row := Row{End: c.start + off}
		// Empty lines before the record are skipped by the csv reader, so the record's
		// first line is counted back from its last.
		first := c.line + 1
		if pe != nil {
			first = c.base + pe.StartLine
		} else if len(rec) > 0 {
			l, _ := c.cr.FieldPos(0)
			first = c.base + l
		}
		c.line += c.lim.consume(int(off - c.off))
		c.off = off
		row.Line, row.LastLine = first, c.line
		if pe != nil {
			row.Problem = &Problem{Reason: "the record breaks the CSV quoting rules"}
			return row, nil
		}
		if len(rec) == 1 && rec[0] == "" {
			continue // encoding/csv already skips empty lines; a lone empty cell is one too
		}
		if len(rec) != len(c.h.cols) {
			row.Problem = &Problem{Reason: fmt.Sprintf("has %d cells, the header names %d columns", len(rec), len(c.h.cols))}
			return row, nil
		}
		row.Doc, row.Problem = c.h.document(rec)
		if row.Problem == nil {
			parts := make([][]byte, 0, len(rec)+2)
			parts = append(parts, []byte(CSV), c.h.raw)
			for _, cell := range rec {
				parts = append(parts, []byte(cell))
			}
			row.Hash = hashOf(parts...)
		} else {
			row.Doc = nil
		}
		return row, nil
	}
}

// document builds the sync change document of one record.
func (h *Header) document(rec []string) ([]byte, *Problem) {
	doc := map[string]any{}
	// The first identity column filled keys the row; the others are more identities of the
	// same person, linked like a sync change's identities.
	var identity map[string]string
	var more []map[string]string
	for i, c := range h.cols {
		v := rec[i]
		if v == "" {
			continue
		}
		if c.identity != "" {
			id := map[string]string{"type": c.identity, "value": v}
			if identity == nil {
				identity = id
			} else {
				more = append(more, id)
			}
			continue
		}
		var val any = v
		switch {
		case c.integer:
			if n, err := strconv.Atoi(v); err == nil {
				val = n
			}
		case c.list:
			val = strings.Fields(v)
		}
		set(doc, c.path, val)
	}
	if identity == nil {
		return nil, &Problem{Field: "identity", Reason: "is required: fill one identity column"}
	}
	doc["identity"] = identity
	if more != nil {
		doc["identities"] = more
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, &Problem{Reason: "the record cannot be read"}
	}
	return b, nil
}

// set puts v at path in m, making the objects on the way.
func set(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

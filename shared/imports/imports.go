// Package imports reads the rows of a bulk import file: NDJSON (one sync change document per
// line) or CSV (a header row naming the fields, one change per record). Both readers stream
// from an io.Reader, hold one row at a time, and report each row's line number and the byte
// offset just past it, so that a worker can checkpoint after any row and resume with a
// ranged read from that offset. A row comes out as the JSON document of a sync change
// (without an id), which the caller decodes strictly with the API's own change document;
// the package never echoes a value in a problem, only line numbers and field paths.
package imports

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// The file formats.
const (
	NDJSON = "ndjson"
	CSV    = "csv"
)

// ValidFormat reports whether f is a format this package reads.
func ValidFormat(f string) bool { return f == NDJSON || f == CSV }

// MaxLine bounds one row in bytes: a sync change is about 2 KB; a longer line is rejected
// whole without being held.
const MaxLine = 64 << 10

// Row is one line (NDJSON) or record (CSV) of a file.
type Row struct {
	// Line is the 1-based line number where the row starts (a CSV file's header is line 1).
	Line int
	// LastLine is the number of the row's last line (a CSV record may span lines): resuming
	// at End, the next row's lines are counted from it.
	LastLine int
	// End is the byte offset just past the row, from the start of the file: resuming there
	// reads the next row.
	End int64
	// Doc is the row as a sync change document (a JSON object), when Problem is nil.
	Doc []byte
	// Hash is the hex SHA-256 of the row's content (a CSV row's together with its header),
	// the same for the same row in any file: it names the change for de-duplication.
	Hash string
	// Problem says why the row cannot be read, naming the field path where there is one.
	Problem *Problem
}

// Problem is why a row is rejected; Reason never holds a value of the row.
type Problem struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// Reader yields the rows of a file in order.
type Reader interface {
	// Next returns the next row, or io.EOF after the last. Any other error is the
	// underlying reader's: the rows read so far stand.
	Next() (Row, error)
}

// ErrHeader is wrapped by every error of a CSV header that cannot be read.
var ErrHeader = errors.New("csv header")

func hashOf(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		// Length-prefixed, so that no two different part lists hash alike.
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

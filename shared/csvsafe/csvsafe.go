// Package csvsafe writes CSV that is safe to open in a spreadsheet: RFC 4180 (CRLF line
// ends, quoting by encoding/csv) with every cell neutralized against formula injection.
// The export's files and the records of processing are written through it.
package csvsafe

import (
	"encoding/csv"
	"io"
	"strings"
)

// Writer writes neutralized rows; the first error sticks and is returned by Flush.
type Writer struct {
	w   *csv.Writer
	err error
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer {
	c := csv.NewWriter(w)
	c.UseCRLF = true
	return &Writer{w: c}
}

// Row writes one row, each cell through Neutralize.
func (c *Writer) Row(cells ...string) {
	if c.err != nil {
		return
	}
	out := make([]string, len(cells))
	for i, s := range cells {
		out[i] = Neutralize(s)
	}
	c.err = c.w.Write(out)
}

// Flush writes what is buffered and returns the first error of any row or of the flush.
func (c *Writer) Flush() error {
	c.w.Flush()
	if c.err != nil {
		return c.err
	}
	return c.w.Error()
}

// Neutralize makes a CSV cell safe to open in a spreadsheet: a cell that starts with
// = + - or @ (or a tab or carriage return, which some spreadsheets skip before them) would
// be run as a formula, so it gets a leading single quote, which spreadsheets show as text.
// Other cells are returned unchanged. (The quote is also kept for values such as phone
// numbers "+48…"; the JSON forms have the exact values.)
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

package imports

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ndjsonReader reads one JSON document per line.
type ndjsonReader struct {
	br   *bufio.Reader
	off  int64 // offset of the next unread byte
	line int   // number of the last line read
}

// NewNDJSON reads NDJSON rows from r, which starts at byte offset start of the file, where
// line number line+1 begins (a row's End and LastLine resume after it) (0, 0 for the whole file). Blank lines are no rows; a line of
// more than MaxLine bytes is a row with a Problem, skipped without being held.
func NewNDJSON(r io.Reader, start int64, line int) Reader {
	return &ndjsonReader{br: bufio.NewReaderSize(r, MaxLine+2), off: start, line: line}
}

func (n *ndjsonReader) Next() (Row, error) {
	for {
		b, err := n.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			n.line++
			row := Row{Line: n.line, Problem: &Problem{Reason: fmt.Sprintf("the line is longer than %d bytes", MaxLine)}}
			n.off += int64(len(b))
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = n.br.ReadSlice('\n')
				n.off += int64(len(b))
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return Row{}, fmt.Errorf("read line %d: %w", n.line, err)
			}
			row.End, row.LastLine = n.off, n.line
			return row, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Row{}, fmt.Errorf("read line %d: %w", n.line+1, err)
		}
		if len(b) == 0 && errors.Is(err, io.EOF) {
			return Row{}, io.EOF
		}
		n.off += int64(len(b))
		n.line++
		text := bytes.TrimRight(b, "\r\n")
		if len(bytes.TrimSpace(text)) == 0 {
			if errors.Is(err, io.EOF) {
				return Row{}, io.EOF
			}
			continue
		}
		doc := bytes.Clone(text)
		row := Row{Line: n.line, LastLine: n.line, End: n.off, Doc: doc, Hash: hashOf([]byte(NDJSON), doc)}
		if bytes.TrimLeft(doc, " \t")[0] != '{' {
			row.Doc, row.Problem = nil, &Problem{Reason: "the line must be one JSON object"}
		}
		return row, nil
	}
}

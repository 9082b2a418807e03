package imports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/imports"
)

func readAll(t testing.TB, r imports.Reader) []imports.Row {
	t.Helper()
	var rows []imports.Row
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		rows = append(rows, row)
	}
}

type want struct {
	line    int
	end     int64
	doc     string // "" for a row with a problem
	field   string
	problem bool
}

func check(t *testing.T, rows []imports.Row, wants []want) {
	t.Helper()
	if len(rows) != len(wants) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(wants), rows)
	}
	for i, w := range wants {
		r := rows[i]
		if r.Line != w.line || r.End != w.end {
			t.Errorf("row %d: line %d end %d, want line %d end %d", i, r.Line, r.End, w.line, w.end)
		}
		if w.problem != (r.Problem != nil) {
			t.Errorf("row %d: problem %+v, want problem %v", i, r.Problem, w.problem)
			continue
		}
		if w.problem {
			if r.Problem.Field != w.field {
				t.Errorf("row %d: field %q, want %q", i, r.Problem.Field, w.field)
			}
			continue
		}
		if r.Hash == "" {
			t.Errorf("row %d: no hash", i)
		}
		var got, exp any
		if err := json.Unmarshal(r.Doc, &got); err != nil {
			t.Fatalf("row %d: doc %s: %v", i, r.Doc, err)
		}
		_ = json.Unmarshal([]byte(w.doc), &exp)
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("row %d: doc %s, want %s", i, r.Doc, w.doc)
		}
	}
}

func TestNDJSON(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", imports.MaxLine) + `"}`
	for _, tc := range []struct {
		name  string
		in    string
		wants []want
	}{
		{"empty", "", nil},
		{"one line without newline", `{"a":1}`, []want{{line: 1, end: 7, doc: `{"a":1}`}}},
		{"crlf and blank lines", "{\"a\":1}\r\n\r\n  \n{\"b\":2}\n", []want{
			{line: 1, end: 9, doc: `{"a":1}`}, {line: 4, end: 22, doc: `{"b":2}`}}},
		{"not an object", "[1]\n{\"a\":1}\n", []want{{line: 1, end: 4, problem: true}, {line: 2, end: 12, doc: `{"a":1}`}}},
		{"too long a line", long + "\n{\"a\":1}\n", []want{
			{line: 1, end: int64(len(long) + 1), problem: true}, {line: 2, end: int64(len(long) + 9), doc: `{"a":1}`}}},
		{"too long a last line", "{\"a\":1}\n" + long, []want{
			{line: 1, end: 8, doc: `{"a":1}`}, {line: 2, end: int64(len(long) + 8), problem: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, readAll(t, imports.NewNDJSON(strings.NewReader(tc.in), 0, 0)), tc.wants)
		})
	}
}

func TestNDJSONHashIsContent(t *testing.T) {
	a := readAll(t, imports.NewNDJSON(strings.NewReader("{\"a\":1}\n{\"b\":2}\n{\"a\":1}\n"), 0, 0))
	if a[0].Hash != a[2].Hash || a[0].Hash == a[1].Hash {
		t.Fatalf("hashes %s %s %s: the same line must hash alike, another line not", a[0].Hash, a[1].Hash, a[2].Hash)
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		columns string
		err     string // "" for a valid header
	}{
		{"minimal", "email,occurredAt", ""},
		{"everything", "email,phone,customer_id,identity.loyalty_id,occurredAt,attributes.givenName," +
			"consents.marketing,consents.marketing.noticeVersion,consents.marketing.locale,consents.marketing.expiresAt," +
			"subscriptions.newsletter,subscriptions.newsletter.channels,subscriptions.newsletter.frequency," +
			"signupEvidence.purpose,signupEvidence.source,signupEvidence.method,signupEvidence.capturedAt,signupEvidence.noticeVersion," +
			"emailEvent.type,emailEvent.topic,emailEvent.bounceType", ""},
		{"unknown column", "email,occurredAt,favourite", `column 3 ("favourite") is not a known column`},
		{"an id", "id,email,occurredAt", `column 1 ("id") is not a known column`},
		{"unknown consent field", "email,occurredAt,consents.marketing.status", "column 3"},
		{"too deep", "email,occurredAt,attributes.a.b", "column 3"},
		{"repeated", "email,occurredAt,email", "repeats"},
		{"no identity", "occurredAt,attributes.givenName", "needs an identity column"},
		{"no time", "email", "needs the column occurredAt"},
		{"empty name", "email,,occurredAt", "column 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := imports.ReadHeader(strings.NewReader(tc.columns + "\n"))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, imports.ErrHeader)):
				t.Fatalf("error %v, want one with %q wrapping ErrHeader", err, tc.err)
			}
		})
	}
}

func TestCSV(t *testing.T) {
	header := "\uFEFFemail,customer_id,occurredAt,attributes.givenName,consents.marketing,consents.marketing.noticeVersion,subscriptions.newsletter,subscriptions.newsletter.channels\r\n"
	// Each record is given with its bytes; a row's end is the sum of those up to it.
	type rec struct {
		raw string
		want
	}
	for _, tc := range []struct {
		name string
		recs []rec
	}{
		{"a full row", []rec{{"ada@example.com,,2026-11-28T12:00:00Z,Ada,granted,2,subscribed,email sms\r\n", want{line: 2,
			doc: `{"identity":{"type":"email","value":"ada@example.com"},"occurredAt":"2026-11-28T12:00:00Z","attributes":{"givenName":"Ada"},` +
				`"consents":{"marketing":{"status":"granted","noticeVersion":2}},"subscriptions":{"newsletter":{"status":"subscribed","channels":["email","sms"]}}}`}}}},
		{"empty cells are left out", []rec{{",c-1,2026-11-28T12:00:00Z,,,,,\n", want{line: 2,
			doc: `{"identity":{"type":"customer_id","value":"c-1"},"occurredAt":"2026-11-28T12:00:00Z"}`}}}},
		{"a notice version that is no number stays text", []rec{{"a@x.io,,t,,granted,two,,\n", want{line: 2,
			doc: `{"identity":{"type":"email","value":"a@x.io"},"occurredAt":"t","consents":{"marketing":{"status":"granted","noticeVersion":"two"}}}`}}}},
		{"quoted cell over two lines, then empty lines", []rec{
			{"\"a@x.io\",,t,\"Ada\nLovelace\",,,,\n", want{line: 2,
				doc: `{"identity":{"type":"email","value":"a@x.io"},"occurredAt":"t","attributes":{"givenName":"Ada\nLovelace"}}`}},
			{"\n\nb@x.io,,t,,,,,\n", want{line: 6, doc: `{"identity":{"type":"email","value":"b@x.io"},"occurredAt":"t"}`}}}},
		{"two identities: the first keys the row, the other is linked", []rec{
			{"a@x.io,c-1,t,,,,,\n", want{line: 2, doc: `{"identities":[{"type":"customer_id","value":"c-1"}],"identity":{"type":"email","value":"a@x.io"},"occurredAt":"t"}`}},
			{"b@x.io,,t,,,,,\n", want{line: 3, doc: `{"identity":{"type":"email","value":"b@x.io"},"occurredAt":"t"}`}}}},
		{"no identity", []rec{{",,t,,,,,\n", want{line: 2, problem: true, field: "identity"}}}},
		{"short row", []rec{
			{"a@x.io,t\n", want{line: 2, problem: true}},
			{"b@x.io,,t,,,,,\n", want{line: 3, doc: `{"identity":{"type":"email","value":"b@x.io"},"occurredAt":"t"}`}}}},
		{"bare quote", []rec{
			{"a@x.io,,t,A\"da,,,,\n", want{line: 2, problem: true}},
			{"b@x.io,,t,,,,,", want{line: 3, doc: `{"identity":{"type":"email","value":"b@x.io"},"occurredAt":"t"}`}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := header
			var wants []want
			for _, r := range tc.recs {
				in += r.raw
				r.want.end = int64(len(in))
				wants = append(wants, r.want)
			}
			h, err := imports.ReadHeader(strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if h.End != int64(len(header)) || h.Lines != 1 {
				t.Fatalf("header ends at %d on line %d, want %d on line 1", h.End, h.Lines, len(header))
			}
			check(t, readAll(t, imports.NewCSV(h, strings.NewReader(in[h.End:]), h.End, h.Lines)), wants)
		})
	}
}

func TestCSVRecordTooLong(t *testing.T) {
	in := "email,occurredAt\n\"" + strings.Repeat("x", 3*imports.MaxLine)
	h, err := imports.ReadHeader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	r := imports.NewCSV(h, strings.NewReader(in[h.End:]), h.End, h.Lines)
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("error %v, want the record refused as too long", err)
	}
}

// resumes checks that reading from any row's End gives the rows after it, the same.
func resumes(t *testing.T, in []byte, open func(r io.Reader, start int64, line int) imports.Reader) {
	all := readAll(t, open(bytes.NewReader(in), 0, 0))
	var prev int64
	for i, r := range all {
		if r.End <= prev || r.End > int64(len(in)) {
			t.Fatalf("row %d ends at %d after %d (input %d bytes)", i, r.End, prev, len(in))
		}
		if r.Problem == nil && (r.Doc == nil || r.Hash == "") {
			t.Fatalf("row %d has neither a document nor a problem", i)
		}
		if r.Problem != nil && r.Doc != nil {
			t.Fatalf("row %d has a document and a problem", i)
		}
		prev = r.End
	}
	for i, r := range all {
		rest := readAll(t, open(bytes.NewReader(in[r.End:]), r.End, r.LastLine))
		if !reflect.DeepEqual(rest, all[i+1:]) && !(len(rest) == 0 && len(all[i+1:]) == 0) {
			t.Fatalf("resumed after row %d (line %d, end %d): %+v, want %+v", i, r.Line, r.End, rest, all[i+1:])
		}
	}
}

func FuzzNDJSON(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n\n{\"b\":2}\r\n[3]\n"))
	f.Add([]byte("\n\n{"))
	f.Fuzz(func(t *testing.T, in []byte) {
		resumes(t, in, imports.NewNDJSON)
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("email,occurredAt,consents.marketing\na@x.io,t,granted\n\"b\nc\",t,\n,,\nx\n"))
	f.Add([]byte("email,occurredAt\n\"a\"\"b\",t\r\na\"b,t\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := imports.ReadHeader(bytes.NewReader(in))
		if err != nil {
			return
		}
		if h.End <= 0 || h.End > int64(len(in)) {
			t.Fatalf("header ends at %d of %d bytes", h.End, len(in))
		}
		// Offsets and lines here count from the end of the header.
		resumes(t, in[h.End:], func(r io.Reader, start int64, line int) imports.Reader {
			return imports.NewCSV(h, r, start, line)
		})
	})
}

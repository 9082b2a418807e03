package csvsafe_test

import (
	"bytes"
	"testing"

	"github.com/livingprofile/livingprofile/shared/csvsafe"
)

func TestNeutralize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"}, {"+48123", "'+48123"}, {"-2", "'-2"}, {"@SUM(A1)", "'@SUM(A1)"}, {"\t=1", "'\t=1"}, {"\r=1", "'\r=1"},
		{"", ""}, {"Ada", "Ada"}, {"a=b", "a=b"}, {"'quoted", "'quoted"}, {"2026-01-01", "2026-01-01"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := csvsafe.Neutralize(tc.in); got != tc.want {
				t.Errorf("Neutralize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWriterNeutralizesEveryCell(t *testing.T) {
	var b bytes.Buffer
	w := csvsafe.NewWriter(&b)
	w.Row("=HYPERLINK(\"x\")", "plain", "a,b")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "\"'=HYPERLINK(\"\"x\"\")\",plain,\"a,b\"\r\n"; got != want {
		t.Errorf("row = %q, want %q", got, want)
	}
}

package export

import (
	"encoding/csv"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// csvWriter writes RFC 4180 CSV (CRLF line ends, quoting by encoding/csv) with every cell
// neutralized against spreadsheet formula injection.
type csvWriter struct {
	w   *csv.Writer
	err error
}

func newCSV(w io.Writer) *csvWriter {
	c := csv.NewWriter(w)
	c.UseCRLF = true
	return &csvWriter{w: c}
}

func (c *csvWriter) row(cells ...string) {
	if c.err != nil {
		return
	}
	out := make([]string, len(cells))
	for i, s := range cells {
		out[i] = Neutralize(s)
	}
	c.err = c.w.Write(out)
}

func (c *csvWriter) flush() error {
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
// numbers "+48…"; profile.json has the exact values.)
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func csvTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return csvTime(*t)
}

// csvValue renders an attribute value: text as is, numbers without exponent where
// possible, booleans as true/false.
func csvValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return compact(raw(v))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// identityRows and attributeRows end with the source and time of each value; the columns
// were added after the first ones, so a reader by position still finds those.
func identityRows(c *csvWriter, p *profile.Profile) {
	c.row("type", "value", "sourceKind", "sourceId", "addedAt")
	for _, id := range identities(p) {
		var kind, sid, at string
		if id.Source != nil {
			kind, sid, at = id.Source.Kind, id.Source.ID, csvTimePtr(id.AddedAt)
		}
		c.row(id.Type, id.Value, kind, sid, at)
	}
}

func attributeRows(c *csvWriter, p *profile.Profile) {
	c.row("name", "value", "updatedAt", "sourceKind", "sourceId")
	for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
		var at string
		if t, ok := p.AttributeTimes[k]; ok {
			at = csvTime(t)
		}
		src := p.AttributeSources[k]
		c.row(k, csvValue(p.Attributes[k]), at, src.Kind, src.ID)
	}
}

func consentRows(c *csvWriter, p *profile.Profile) {
	c.row("purpose", "status", "legalBasis", "noticeVersion", "locale", "sourceKind", "sourceId", "updatedAt", "expiresAt")
	for _, d := range consentsOf(p) {
		c.row(d.Purpose, string(d.Status), string(d.LegalBasis), itoa(d.NoticeVersion), d.Locale, d.Source.Kind, d.Source.ID,
			csvTime(d.UpdatedAt), csvTimePtr(d.ExpiresAt))
	}
}

func subscriptionRows(c *csvWriter, p *profile.Profile) {
	c.row("topic", "status", "channels", "frequency", "sourceKind", "sourceId", "updatedAt")
	for _, d := range subscriptionsOf(p) {
		c.row(d.Topic, string(d.Status), strings.Join(d.Channels, " "), d.Frequency, d.Source.Kind, d.Source.ID, csvTime(d.UpdatedAt))
	}
}

// ledgerHeader and ledgerRow are ledger.csv's columns: every field of the stored event, the
// old and new values as compact JSON.
var ledgerHeader = []string{"seq", "id", "at", "type", "subject", "actorKind", "actorId", "requestId", "noticeVersion", "legalBasis", "old", "new", "prevHash", "hash"}

func ledgerRow(e ledger.Event) []string {
	nv := ""
	if e.NoticeVersion != 0 {
		nv = itoa(e.NoticeVersion)
	}
	return []string{strconv.FormatInt(e.Seq, 10), e.ID, csvTime(e.At), e.Type, e.Subject, e.Actor.Kind, e.Actor.ID, e.RequestID,
		nv, e.LegalBasis, compact(e.Old), compact(e.New), e.PrevHash, e.Hash}
}

func requestRows(c *csvWriter, rs []docDSR) {
	c.row("id", "type", "purpose", "status", "verification", "sourceKind", "sourceId", "receivedAt", "dueAt", "completedAt", "extensionMonths", "denialReason")
	for _, r := range rs {
		ext := ""
		if r.Extension != nil {
			ext = itoa(r.Extension.Months)
		}
		c.row(r.ID, string(r.Type), r.Purpose, string(r.Status), string(r.Verification), r.Source.Kind, r.Source.ID,
			csvTime(r.ReceivedAt), csvTime(r.DueAt), csvTimePtr(r.CompletedAt), ext, r.DenialReason)
	}
}

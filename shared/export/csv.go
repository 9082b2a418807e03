package export

import (
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/csvsafe"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// csvWriter writes the export's CSV files (see package csvsafe).
type csvWriter = csvsafe.Writer

func newCSV(w io.Writer) *csvWriter { return csvsafe.NewWriter(w) }

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

// identityRows and attributeRows end with the source and time of each value, then its data
// category; the columns were added after the first ones, so a reader by position still
// finds those.
func identityRows(c *csvWriter, p *profile.Profile, cat *catalog.Catalog) {
	c.Row("type", "value", "sourceKind", "sourceId", "addedAt", "category")
	for _, id := range identities(p, cat) {
		var kind, sid, at string
		if id.Source != nil {
			kind, sid, at = id.Source.Kind, id.Source.ID, csvTimePtr(id.AddedAt)
		}
		c.Row(id.Type, id.Value, kind, sid, at, id.Category)
	}
}

func attributeRows(c *csvWriter, p *profile.Profile, cat *catalog.Catalog) {
	c.Row("name", "value", "updatedAt", "sourceKind", "sourceId", "category")
	for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
		var at string
		if t, ok := p.AttributeTimes[k]; ok {
			at = csvTime(t)
		}
		src := p.AttributeSources[k]
		c.Row(k, csvValue(p.Attributes[k]), at, src.Kind, src.ID, cat.AttributeCategory(k))
	}
}

func consentRows(c *csvWriter, p *profile.Profile) {
	c.Row("purpose", "status", "legalBasis", "noticeVersion", "locale", "sourceKind", "sourceId", "updatedAt", "expiresAt")
	for _, d := range consentsOf(p) {
		c.Row(d.Purpose, string(d.Status), string(d.LegalBasis), itoa(d.NoticeVersion), d.Locale, d.Source.Kind, d.Source.ID,
			csvTime(d.UpdatedAt), csvTimePtr(d.ExpiresAt))
	}
}

func subscriptionRows(c *csvWriter, p *profile.Profile) {
	c.Row("topic", "status", "channels", "frequency", "sourceKind", "sourceId", "updatedAt")
	for _, d := range subscriptionsOf(p) {
		c.Row(d.Topic, string(d.Status), strings.Join(d.Channels, " "), d.Frequency, d.Source.Kind, d.Source.ID, csvTime(d.UpdatedAt))
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
	c.Row("id", "type", "purpose", "status", "verification", "sourceKind", "sourceId", "receivedAt", "dueAt", "completedAt", "extensionMonths", "denialReason")
	for _, r := range rs {
		ext := ""
		if r.Extension != nil {
			ext = itoa(r.Extension.Months)
		}
		c.Row(r.ID, string(r.Type), r.Purpose, string(r.Status), string(r.Verification), r.Source.Kind, r.Source.ID,
			csvTime(r.ReceivedAt), csvTime(r.DueAt), csvTimePtr(r.CompletedAt), ext, r.DenialReason)
	}
}

package transparency

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/csvsafe"
)

// Record is one processing activity in the records of processing (Art. 30(1)): the
// activity with its categories of data subjects, retention in words and security measures.
type Record struct {
	Activity
	DataSubjects     []string `json:"dataSubjects"`
	Retention        string   `json:"retention"`
	SecurityMeasures string   `json:"securityMeasures"`
}

// Records are a tenant's records of processing activities, generated from its catalog.
type Records struct {
	Lang           string              `json:"language"`
	CatalogVersion int                 `json:"catalogVersion"`
	UpdatedAt      time.Time           `json:"updatedAt"`
	Controller     *catalog.Controller `json:"controller"`
	DPO            *catalog.DPO        `json:"dpo"`
	Records        []Record            `json:"records"`
}

// RecordsOf are the records of processing of a statement.
func RecordsOf(s Statement) Records {
	out := Records{Lang: s.Lang, CatalogVersion: s.CatalogVersion, UpdatedAt: s.UpdatedAt, Controller: s.Controller,
		DPO: s.DPO, Records: []Record{}}
	for _, a := range s.Activities {
		out.Records = append(out.Records, Record{Activity: a, DataSubjects: []string{DataSubjects},
			Retention: Retention(s.Lang, a.RetentionDays), SecurityMeasures: SecurityMeasures.In(s.Lang, "en")})
	}
	return out
}

// columns are the records' columns, Art. 30(1)(a) to (g), as label keys.
var columns = []string{"col.controller", "col.purpose", "col.legalBasis", "col.subjects", "col.categories",
	"col.recipients", "col.transfers", "col.retention", "col.security"}

// cells are one record's cells in the order of columns, in words of lang.
func (rs Records) cells(r Record) []string {
	lang := rs.Lang
	join := func(parts []string) string {
		if len(parts) == 0 {
			return Label(lang, "none")
		}
		return strings.Join(parts, "; ")
	}
	var cats, recs, trans []string
	for _, c := range r.Categories {
		s := c.Name
		if c.Special {
			s += " (" + Label(lang, "special") + ")"
		}
		cats = append(cats, s)
	}
	for _, x := range r.Recipients {
		recs = append(recs, x.Name+" ("+Label(lang, "kind."+string(x.Kind))+", "+x.Country+")")
	}
	for _, t := range r.Transfers {
		trans = append(trans, t.Country+": "+Label(lang, "safeguard."+string(t.Safeguard))+" "+t.DocumentURL)
	}
	name := r.Name
	if r.Description != "" {
		name += ": " + r.Description
	}
	return []string{rs.controllerCell(), name, Label(lang, "basis."+string(r.LegalBasis)),
		Label(lang, "subjects."+DataSubjects), join(cats), join(recs), join(trans), r.Retention, r.SecurityMeasures}
}

// controllerCell names the controller, its representative and the DPO with their contacts.
func (rs Records) controllerCell() string {
	var parts []string
	if c := rs.Controller; c != nil {
		parts = append(parts, c.Name+", "+c.Address+", "+c.Email)
		if r := c.Representative; r != nil {
			parts = append(parts, r.Name+", "+r.Address+", "+r.Email)
		}
	}
	if d := rs.DPO; d != nil {
		s := Label(rs.Lang, "dpo") + ": " + d.Name + ", " + d.Email
		for _, x := range []string{d.Phone, d.Address} {
			if x != "" {
				s += ", " + x
			}
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return Label(rs.Lang, "none")
	}
	return strings.Join(parts, "; ")
}

// recordsCSS is the HTML records' one style sheet, allowed by its hash (RecordsCSP).
const recordsCSS = "body{font-family:sans-serif;margin:1rem}table{border-collapse:collapse}" +
	"th,td{border:1px solid #555;padding:.4rem;vertical-align:top;text-align:left}"

// RecordsCSP is the Content-Security-Policy of the HTML records: nothing but their style
// sheet, by its hash.
func RecordsCSP() string {
	sum := sha256.Sum256([]byte(recordsCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

// CSV renders the records as CSV: a header row, then one row per purpose; every cell is
// neutralized against formula injection (package csvsafe).
func (rs Records) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csvsafe.NewWriter(&b)
	head := make([]string, len(columns))
	for i, k := range columns {
		head[i] = Label(rs.Lang, k)
	}
	w.Row(head...)
	for _, r := range rs.Records {
		w.Row(rs.cells(r)...)
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// HTML renders the records as a self-contained HTML document: one table, every value
// escaped, no script, no external resource. It is built without html/template so that the
// API functions, which all link this package, do not link the template engine.
func (rs Records) HTML() []byte {
	var b strings.Builder
	e := html.EscapeString
	title := e(Label(rs.Lang, "records.title"))
	b.WriteString(`<!doctype html><html lang="` + e(rs.Lang) + `"><head><meta charset="utf-8"><title>` + title +
		`</title><style>` + recordsCSS + `</style></head><body><main><h1>` +
		title + `</h1><p>` + e(Label(rs.Lang, "records.version", strconv.Itoa(rs.CatalogVersion))) + `</p><table><thead><tr>`)
	for _, k := range columns {
		b.WriteString(`<th scope="col">` + e(Label(rs.Lang, k)) + `</th>`)
	}
	b.WriteString(`</tr></thead><tbody>`)
	for _, r := range rs.Records {
		b.WriteString(`<tr>`)
		for i, c := range rs.cells(r) {
			if i == 1 {
				b.WriteString(`<th scope="row">` + e(c) + `</th>`)
				continue
			}
			b.WriteString(`<td>` + e(c) + `</td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table></main></body></html>` + "\n")
	return []byte(b.String())
}

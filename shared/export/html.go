package export

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// index.html is three templates: the page up to the ledger table's body, one ledger row
// (executed per event while the ledger is read, into a spool), and the page's end. Every
// value goes through html/template's contextual escaping. The page has no scripts and no
// external assets, and its Content-Security-Policy forbids both.
var pageTemplates = template.Must(template.New("page").Parse(`
{{- define "head" -}}
<!DOCTYPE html>
<html lang="{{.M.Lang}}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}h3{margin-top:1.6rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3}.muted{color:#666}.ok{color:#1a6e1a}.warn{color:#a00}code{font-size:.85rem}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p>{{.M.Intro}}</p>
<dl>
<dt>{{.M.Generated}}</dt><dd>{{.Generated}}</dd>
<dt>{{.M.RequestLabel}}</dt><dd>{{.RequestType}} <code>{{.RequestID}}</code></dd>
<dt>{{.M.ProfileLabel}}</dt><dd><code>{{.ProfileID}}</code></dd>
</dl>
</header>
<main>
<section id="files">
<h2>{{.M.FilesTitle}}</h2>
<p>{{.M.FilesIntro}}</p>
<ul>{{range .Files}}<li><code>{{.Name}}</code> – {{.Text}}</li>{{end}}</ul>
</section>

<section id="identities">
<h2>{{.M.IdentitiesTitle}}</h2>
<table><thead><tr><th>{{.M.Type}}</th><th>{{.M.Value}}</th></tr></thead><tbody>
{{range .Identities}}<tr><td>{{.Label}}</td><td>{{.Value}}</td></tr>
{{end}}</tbody></table>
</section>

<section id="attributes">
<h2>{{.M.AttributesTitle}}</h2>
{{if .Attributes}}<table><thead><tr><th>{{.M.Name}}</th><th>{{.M.Value}}</th><th>{{.M.UpdatedAt}}</th></tr></thead><tbody>
{{range .Attributes}}<tr><td>{{.Label}}</td><td>{{.Value}}</td><td>{{.UpdatedAt}}</td></tr>
{{end}}</tbody></table>{{else}}<p>{{.M.None}}</p>{{end}}
</section>

<section id="consents">
<h2>{{.M.ConsentsTitle}}</h2>
{{if .Consents}}<table><thead><tr><th>{{.M.Purpose}}</th><th>{{.M.Status}}</th><th>{{.M.LegalBasis}}</th><th>{{.M.NoticeVersion}}</th><th>{{.M.UpdatedAt}}</th><th>{{.M.ExpiresAt}}</th><th>{{.M.Source}}</th></tr></thead><tbody>
{{range .Consents}}<tr><td>{{.Purpose}}</td><td>{{.Status}}</td><td>{{.Basis}}</td><td>{{.Notice}}</td><td>{{.UpdatedAt}}</td><td>{{.ExpiresAt}}</td><td>{{.Source}}</td></tr>
{{end}}</tbody></table>{{else}}<p>{{.M.None}}</p>{{end}}
</section>

<section id="subscriptions">
<h2>{{.M.SubscriptionsTitle}}</h2>
{{if .Subscriptions}}<table><thead><tr><th>{{.M.Topic}}</th><th>{{.M.Status}}</th><th>{{.M.Channels}}</th><th>{{.M.Frequency}}</th><th>{{.M.UpdatedAt}}</th><th>{{.M.Source}}</th></tr></thead><tbody>
{{range .Subscriptions}}<tr><td>{{.Topic}}</td><td>{{.Status}}</td><td>{{.Channels}}</td><td>{{.Frequency}}</td><td>{{.UpdatedAt}}</td><td>{{.Source}}</td></tr>
{{end}}</tbody></table>{{else}}<p>{{.M.None}}</p>{{end}}
</section>

<section id="rights">
<h2>{{.M.RightsTitle}}</h2>
<ul>
<li>{{.M.Restricted}}: {{.Rights.Restricted}}</li>
<li>{{.M.AutomatedOptOut}}: {{.Rights.AutomatedOptOut}}</li>
<li>{{.M.Objections}}: {{if .Rights.Objections}}{{range $i, $o := .Rights.Objections}}{{if $i}}; {{end}}{{$o}}{{end}}{{else}}{{.M.None}}{{end}}</li>
</ul>
</section>

<section id="requests">
<h2>{{.M.RequestsTitle}}</h2>
<table><thead><tr><th>{{.M.Type}}</th><th>{{.M.Status}}</th><th>{{.M.Received}}</th><th>{{.M.Due}}</th><th>{{.M.Completed}}</th><th>{{.M.Verification}}</th></tr></thead><tbody>
{{range .Requests}}<tr><td>{{.Type}} <code class="muted">{{.ID}}</code></td><td>{{.Status}}</td><td>{{.Received}}</td><td>{{.Due}}</td><td>{{.Completed}}</td><td>{{.Verification}}</td></tr>
{{end}}</tbody></table>
</section>

<section id="art15">
<h2>{{.M.Art15Title}}</h2>
<p>{{.M.Art15Intro}}</p>

<section id="purposes">
<h3>{{.M.PurposesTitle}}</h3>
<table><thead><tr><th>{{.M.Purpose}}</th><th>{{.M.LegalBasis}}</th><th>{{.M.Retention}}</th><th>{{.M.Notes}}</th></tr></thead><tbody>
{{range .Purposes}}<tr data-purpose="{{.ID}}" data-legal-basis="{{.BasisCode}}"><td><strong>{{.Name}}</strong>{{if .Description}}<br>{{.Description}}{{end}}</td><td>{{.Basis}}</td><td>{{.Retention}}</td><td>{{range .Notes}}{{.}} {{end}}</td></tr>
{{end}}</tbody></table>
</section>

<section id="categories">
<h3>{{.M.CategoriesTitle}}</h3>
<ul>{{range .Categories}}<li>{{.}}</li>{{end}}</ul>
</section>

<section id="recipients">
<h3>{{.M.RecipientsTitle}}</h3>
{{if .Recipients}}<p>{{.M.RecipientsIntro}}</p>
<table><thead><tr><th>{{.M.Recipient}}</th><th>{{.M.Host}}</th></tr></thead><tbody>
{{range .Recipients}}<tr data-host="{{.Host}}"><td>{{.Description}}</td><td>{{.Host}}</td></tr>
{{end}}</tbody></table>{{else}}<p>{{.M.NoRecipients}}</p>{{end}}
</section>

<section id="sources">
<h3>{{.M.SourcesTitle}}</h3>
<p>{{.M.SourcesIntro}}</p>
<table><thead><tr><th>{{.M.Source}}</th><th>{{.M.Events}}</th><th>{{.M.First}}</th><th>{{.M.Last}}</th></tr></thead><tbody>
{{range .Sources}}<tr data-kind="{{.Kind}}"><td>{{.Label}}</td><td>{{.Events}}</td><td>{{.First}}</td><td>{{.Last}}</td></tr>
{{end}}</tbody></table>
</section>

<section id="automated-decisions">
<h3>{{.M.AutomatedTitle}}</h3>
{{if .Automated}}<p>{{.M.AutomatedIntro}}</p><ul>{{range .Automated}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>{{.M.NoAutomated}}</p>{{end}}
</section>

<section id="your-rights">
<h3>{{.M.YourRightsTitle}}</h3>
<ul>{{range .M.Rights}}<li>{{.}}</li>{{end}}</ul>
</section>

<section id="complaint">
<h3>{{.M.ComplaintTitle}}</h3>
<p>{{.M.Complaint}}</p>
</section>
</section>

<section id="ledger">
<h2>{{.M.LedgerTitle}}</h2>
<p>{{.M.LedgerIntro}}</p>
{{if .Ledger.Verified}}<p class="ok">{{.M.LedgerVerified}}</p>{{else}}<p class="warn">{{.LedgerBroken}}</p>{{end}}
<table><thead><tr><th>{{.M.Seq}}</th><th>{{.M.At}}</th><th>{{.M.Event}}</th><th>{{.M.Subject}}</th><th>{{.M.Actor}}</th><th>{{.M.Value}}</th></tr></thead><tbody>
{{end}}

{{- define "row" -}}
<tr><td>{{.Seq}}</td><td>{{.At}}</td><td>{{.Type}}</td><td>{{.Subject}}</td><td>{{.Actor}}</td><td><code>{{.New}}</code></td></tr>
{{end}}

{{- define "tail" -}}
</tbody></table>
</section>
</main>
</body>
</html>
{{end}}`))

type htmlFile struct{ Name, Text string }
type htmlPair struct{ Label, Value string }
type htmlAttr struct{ Label, Value, UpdatedAt string }
type htmlConsent struct{ Purpose, Status, Basis, Notice, UpdatedAt, ExpiresAt, Source string }
type htmlSub struct{ Topic, Status, Channels, Frequency, UpdatedAt, Source string }
type htmlRights struct {
	Restricted, AutomatedOptOut string
	Objections                  []string
}
type htmlRequest struct{ ID, Type, Status, Received, Due, Completed, Verification string }
type htmlPurpose struct {
	ID, Name, Description, Basis, BasisCode, Retention string
	Notes                                              []string
}
type htmlSource struct {
	Kind, Label, First, Last string
	Events                   int64
}
type htmlRow struct{ Seq, At, Type, Subject, Actor, New string }

type htmlPage struct {
	M                      *messages
	Title, Generated       string
	RequestID, RequestType string
	ProfileID              string
	Files                  []htmlFile
	Identities             []htmlPair
	Attributes             []htmlAttr
	Consents               []htmlConsent
	Subscriptions          []htmlSub
	Rights                 htmlRights
	Requests               []htmlRequest
	Purposes               []htmlPurpose
	Categories             []string
	Recipients             []Recipient
	Sources                []htmlSource
	Automated              []string
	Ledger                 Verification
	LedgerBroken           string
}

// htmlTime renders a time for people: UTC, to the minute.
func htmlTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func htmlTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return htmlTime(*t)
}

// actorLabel describes the actor of a change in one cell.
func (b *builder) actorLabel(a ledger.Actor) string {
	return b.msg.actor(Source{Kind: a.Kind, ID: a.ID}, b.in.Controller.Name)
}

// htmlRows returns the function that writes one ledger row of index.html to w.
func (b *builder) htmlRows(w *bufio.Writer) func(ledger.Event) error {
	row := pageTemplates.Lookup("row")
	return func(e ledger.Event) error {
		r := htmlRow{Seq: fmt.Sprint(e.Seq), At: htmlTime(e.At), Type: e.Type, Subject: b.subjectLabel(e), Actor: b.actorLabel(e.Actor), New: compact(e.New)}
		if err := row.Execute(w, r); err != nil {
			return fmt.Errorf("export: %s: %w", FileHTML, err)
		}
		return nil
	}
}

// subjectLabel names what an event changed: a purpose's or topic's name where it has one.
func (b *builder) subjectLabel(e ledger.Event) string {
	cat, loc := b.in.Catalog, b.locale
	switch e.Type {
	case profile.EventConsentChanged, profile.EventObjectionChanged:
		if p, ok := cat.Purpose(e.Subject); ok {
			return p.Name.In(loc, cat.DefaultLocale)
		}
	case profile.EventSubscriptionChanged:
		if t, ok := cat.Topic(e.Subject); ok {
			return t.Name.In(loc, cat.DefaultLocale)
		}
	case profile.EventIdentityAdded, profile.EventIdentityRemoved:
		return label(b.msg.IDTypes, e.Subject)
	}
	return e.Subject
}

func (b *builder) writeHTML(w io.Writer, sources []Source, rows *spool) error {
	in, p, m, cat, loc := b.in, b.in.Profile, b.msg, b.in.Catalog, b.locale
	yesNo := func(v bool) string {
		if v {
			return m.Yes
		}
		return m.No
	}
	purposeName := func(id string) string {
		if pur, ok := cat.Purpose(id); ok {
			return pur.Name.In(loc, cat.DefaultLocale)
		}
		return id
	}
	pg := htmlPage{
		M: m, Title: fmt.Sprintf(m.Title, cmpOr(in.Controller.Name, in.Controller.ID)), Generated: htmlTime(b.at),
		RequestID: in.Request.ID, RequestType: label(m.Types, string(in.Request.Type)), ProfileID: p.ID,
		Ledger: b.ver, LedgerBroken: fmt.Sprintf(m.LedgerBroken, b.ver.BrokenAtSeq),
	}
	for _, f := range Files {
		pg.Files = append(pg.Files, htmlFile{Name: f, Text: m.FileDescr[f]})
	}
	for _, id := range p.Identities {
		pg.Identities = append(pg.Identities, htmlPair{Label: label(m.IDTypes, id.Type), Value: id.Value})
	}
	for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
		l := label(m.StdAttrs, k)
		if a, ok := cat.Attribute(k); ok && len(a.Label) > 0 {
			l = a.Label.In(loc, cat.DefaultLocale)
		}
		var at string
		if t, ok := p.AttributeTimes[k]; ok {
			at = htmlTime(t)
		}
		v := csvValue(p.Attributes[k])
		if bv, ok := p.Attributes[k].(bool); ok {
			v = yesNo(bv)
		}
		pg.Attributes = append(pg.Attributes, htmlAttr{Label: l, Value: v, UpdatedAt: at})
	}
	for _, c := range consentsOf(p) {
		pg.Consents = append(pg.Consents, htmlConsent{Purpose: purposeName(c.Purpose), Status: label(m.Statuses, string(c.Status)),
			Basis: basis(m, c.LegalBasis), Notice: fmt.Sprint(c.NoticeVersion), UpdatedAt: htmlTime(c.UpdatedAt),
			ExpiresAt: htmlTimePtr(c.ExpiresAt), Source: b.actorLabel(c.Source)})
	}
	for _, s := range subscriptionsOf(p) {
		name := s.Topic
		if t, ok := cat.Topic(s.Topic); ok {
			name = t.Name.In(loc, cat.DefaultLocale)
		}
		chans := make([]string, len(s.Channels))
		for i, ch := range s.Channels {
			chans[i] = ch
			for _, c := range cat.Channels {
				if c.ID == ch {
					chans[i] = c.Name.In(loc, cat.DefaultLocale)
				}
			}
		}
		pg.Subscriptions = append(pg.Subscriptions, htmlSub{Topic: name, Status: label(m.Statuses, string(s.Status)),
			Channels: strings.Join(chans, ", "), Frequency: s.Frequency, UpdatedAt: htmlTime(s.UpdatedAt), Source: b.actorLabel(s.Source)})
	}
	r := rightsOf(p)
	pg.Rights = htmlRights{Restricted: yesNo(r.Restricted), AutomatedOptOut: yesNo(r.AutomatedDecisionOptOut)}
	for _, o := range r.Objections {
		pg.Rights.Objections = append(pg.Rights.Objections, purposeName(o.Purpose)+" ("+htmlTime(o.At)+")")
	}
	for _, d := range requestsOf(in.Requests) {
		pg.Requests = append(pg.Requests, htmlRequest{ID: d.ID, Type: label(m.Types, string(d.Type)), Status: label(m.Statuses, string(d.Status)),
			Received: htmlTime(d.ReceivedAt), Due: htmlTime(d.DueAt), Completed: htmlTimePtr(d.CompletedAt), Verification: string(d.Verification)})
	}
	for _, pur := range purposesOf(cat, loc) {
		hp := htmlPurpose{ID: pur.ID, Name: pur.Name, Description: pur.Description, Basis: basis(m, pur.LegalBasis),
			BasisCode: string(pur.LegalBasis), Retention: m.retention(pur.RetentionDays)}
		if pur.DirectMarketing {
			hp.Notes = append(hp.Notes, m.DirectMarketing)
		}
		if pur.AutomatedDecision {
			hp.Notes = append(hp.Notes, m.AutomatedDecision)
			pg.Automated = append(pg.Automated, pur.Name)
		}
		pg.Purposes = append(pg.Purposes, hp)
	}
	for _, c := range categories(p) {
		pg.Categories = append(pg.Categories, label(m.Categories, c))
	}
	pg.Recipients = in.Recipients
	for _, s := range sources {
		pg.Sources = append(pg.Sources, htmlSource{Kind: s.Kind, Label: m.actor(s, in.Controller.Name), Events: s.Events,
			First: htmlTime(s.FirstAt), Last: htmlTime(s.LastAt)})
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := pageTemplates.ExecuteTemplate(bw, "head", pg); err != nil {
		return fmt.Errorf("export: %s: %w", FileHTML, err)
	}
	if err := rows.copyTo(bw); err != nil {
		return err
	}
	if err := pageTemplates.ExecuteTemplate(bw, "tail", pg); err != nil {
		return fmt.Errorf("export: %s: %w", FileHTML, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: %s: %w", FileHTML, err)
	}
	return nil
}

func basis(m *messages, b catalog.LegalBasis) string {
	if s, ok := m.Bases[b]; ok {
		return s
	}
	return string(b)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

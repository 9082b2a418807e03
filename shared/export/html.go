package export

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

type htmlFile struct{ Name, Text string }
type htmlPair struct{ Label, Value string }
type htmlIdentity struct{ Label, Value, Source, AddedAt, Category string }
type htmlAttr struct{ Label, Value, UpdatedAt, Source, Category string }
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
	Identities             []htmlIdentity
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

// categoryLabel names a data category in loc, marking a special one.
func categoryLabel(m *messages, cat *catalog.Catalog, loc, id string) string {
	d, _ := cat.Category(id)
	name := d.Name.In(loc, cat.DefaultLocale)
	if d.Special {
		name += " (" + m.SpecialCategory + ")"
	}
	return name
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
	return func(e ledger.Event) error {
		r := htmlRow{Seq: fmt.Sprint(e.Seq), At: htmlTime(e.At), Type: e.Type, Subject: b.subjectLabel(e), Actor: b.actorLabel(e.Actor), New: compact(e.New)}
		if err := ledgerRowHTML(r).Render(context.Background(), w); err != nil {
			return fmt.Errorf("export: %s: %w", FileHTML, err)
		}
		if err := w.WriteByte('\n'); err != nil {
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
	for _, id := range identities(p, cat) {
		h := htmlIdentity{Label: label(m.IDTypes, id.Type), Value: id.Value, Source: m.NotRecorded, AddedAt: m.NotRecorded,
			Category: categoryLabel(m, cat, loc, id.Category)}
		if id.Source != nil {
			h.Source, h.AddedAt = b.actorLabel(*id.Source), htmlTimePtr(id.AddedAt)
		}
		pg.Identities = append(pg.Identities, h)
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
		src := m.NotRecorded
		if a, ok := p.AttributeSources[k]; ok {
			src = b.actorLabel(a)
		}
		pg.Attributes = append(pg.Attributes, htmlAttr{Label: l, Value: v, UpdatedAt: at, Source: src,
			Category: categoryLabel(m, cat, loc, cat.AttributeCategory(k))})
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
	copyRows := templ.ComponentFunc(func(_ context.Context, w io.Writer) error { return rows.copyTo(w) })
	if err := indexPage(pg, copyRows).Render(context.Background(), bw); err != nil {
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

// Package export answers access (Art. 15) and portability (Art. 20) requests: it builds one
// ZIP with everything held about a person — a machine-readable profile.json (described by
// docs/export.schema.json), the same data as one CSV per kind, and a self-contained
// index.html for people that also gives the Art. 15 facts (purposes with legal bases,
// retention, recipients, sources, the right to complain) — stores it in the exports bucket,
// completes the request and tells the person. The builder is pure Go over the domain
// types; the job is an SQS handler that reaches storage, S3 and email only through the
// consumer interfaces in job.go.
//
// The ZIP is deterministic (the same data and generation time give the same bytes) and
// built with bounded memory: the ledger is read page by page and written as it is read,
// its CSV and HTML rows spooled to temporary files, never held whole.
package export

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"archive/zip"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// The files of an export, in the order the ZIP holds them.
const (
	FileJSON          = "profile.json"
	FileIdentities    = "identities.csv"
	FileAttributes    = "attributes.csv"
	FileConsents      = "consents.csv"
	FileSubscriptions = "subscriptions.csv"
	FileLedger        = "ledger.csv"
	FileRequests      = "requests.csv"
	FileHTML          = "index.html"
)

// Files lists every file of an export in ZIP order.
var Files = []string{FileJSON, FileIdentities, FileAttributes, FileConsents, FileSubscriptions, FileLedger, FileRequests, FileHTML}

// Key is the object key of a request's export: "<tenant>/<profileId>/<requestId>.zip".
func Key(tenant, profileID, requestID string) string {
	return ProfilePrefix(tenant, profileID) + requestID + ".zip"
}

// ProfilePrefix is the key prefix of every export of one person ("<tenant>/<profileId>/"):
// an erasure deletes them all with blob.Store.DeletePrefix.
func ProfilePrefix(tenant, profileID string) string { return tenant + "/" + profileID + "/" }

// FileName is the name a downloaded export is offered under.
func FileName(requestID string) string { return "export-" + requestID + ".zip" }

// EventReader reads a profile's ledger: up to limit events from sequence number fromSeq,
// in order (app.Store's Events; dynamo.Store implements it).
type EventReader interface {
	Events(ctx context.Context, tenant, profileID string, fromSeq int64, limit int) ([]ledger.Event, error)
}

// Input is what one export holds. Everything but the ledger is read before Build; Build
// pages through the ledger up to the profile's LedgerSeq, so events appended while it runs
// are not half-included.
type Input struct {
	GeneratedAt time.Time
	Controller  Controller
	// Request is the request being answered; its Locale picks the HTML page's language.
	Request    dsr.Request
	Profile    *profile.Profile
	Catalog    *catalog.Catalog
	Requests   []dsr.Request // every request of the person, this one included
	Recipients []Recipient
	Ledger     EventReader
	// SourceName, when set, names a ledger actor for people (an API key's name); "" keeps the id.
	SourceName func(context.Context, ledger.Actor) string
	// TempDir holds the spool files; "" means os.TempDir().
	TempDir string
}

// Summary describes a built export.
type Summary struct {
	Ledger  Verification
	Sources []Source
	Locale  string
}

// pageSize is how many ledger events one read returns; DynamoDB returns at most 1 MB per
// Query, and an event is at most a few KB.
const pageSize = 100

// Build writes the export ZIP of in to w.
func Build(ctx context.Context, w io.Writer, in Input) (Summary, error) {
	if in.Profile == nil || in.Catalog == nil || in.Ledger == nil {
		return Summary{}, errors.New("export: profile, catalog and ledger are required")
	}
	b := &builder{in: in, at: in.GeneratedAt.UTC().Truncate(time.Second), sources: map[ledger.Actor]*Source{}}
	b.locale = pickLocale(in)
	b.msg = messagesFor(b.locale)
	zw := zip.NewWriter(w)
	sum, err := b.build(ctx, zw)
	if err != nil {
		return Summary{}, err
	}
	if err := zw.Close(); err != nil {
		return Summary{}, fmt.Errorf("export: finish zip: %w", err)
	}
	return sum, nil
}

type builder struct {
	in      Input
	at      time.Time
	locale  string
	msg     *messages
	sources map[ledger.Actor]*Source
	srcs    []Source // sorted and named, once the ledger is read
	ver     Verification
}

// entry starts a file in the ZIP with a fixed modification time, so the bytes depend only
// on the data.
func (b *builder) entry(zw *zip.Writer, name string) (io.Writer, error) {
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: b.at})
	if err != nil {
		return nil, fmt.Errorf("export: add %s: %w", name, err)
	}
	return w, nil
}

// spool is a temporary file that holds rows until their ZIP entry is written.
type spool struct {
	f *os.File
	w *bufio.Writer
}

func newSpool(dir, pattern string) (*spool, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("export: spool: %w", err)
	}
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// copyTo writes the spooled bytes to w.
func (s *spool) copyTo(w io.Writer) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("export: spool: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("export: spool: %w", err)
	}
	if _, err := io.Copy(w, s.f); err != nil {
		return fmt.Errorf("export: spool: %w", err)
	}
	return nil
}

func (s *spool) close() {
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}

func (b *builder) build(ctx context.Context, zw *zip.Writer) (Summary, error) {
	ledgerCSV, err := newSpool(b.in.TempDir, "export-ledger-*.csv")
	if err != nil {
		return Summary{}, err
	}
	defer ledgerCSV.close()
	ledgerHTML, err := newSpool(b.in.TempDir, "export-ledger-*.html")
	if err != nil {
		return Summary{}, err
	}
	defer ledgerHTML.close()

	// profile.json, reading the ledger once: its CSV and HTML rows go to the spools.
	w, err := b.entry(zw, FileJSON)
	if err != nil {
		return Summary{}, err
	}
	if err := b.writeJSON(ctx, w, ledgerCSV, ledgerHTML); err != nil {
		return Summary{}, err
	}
	sources := b.srcs

	p := b.in.Profile
	for _, f := range []struct {
		name string
		rows func(*csvWriter)
	}{
		{FileIdentities, func(c *csvWriter) { identityRows(c, p, b.in.Catalog) }},
		{FileAttributes, func(c *csvWriter) { attributeRows(c, p, b.in.Catalog) }},
		{FileConsents, func(c *csvWriter) { consentRows(c, p) }},
		{FileSubscriptions, func(c *csvWriter) { subscriptionRows(c, p) }},
	} {
		w, err := b.entry(zw, f.name)
		if err != nil {
			return Summary{}, err
		}
		c := newCSV(w)
		f.rows(c)
		if err := c.Flush(); err != nil {
			return Summary{}, fmt.Errorf("export: %s: %w", f.name, err)
		}
	}
	if w, err = b.entry(zw, FileLedger); err != nil {
		return Summary{}, err
	}
	if err := ledgerCSV.copyTo(w); err != nil {
		return Summary{}, err
	}
	if w, err = b.entry(zw, FileRequests); err != nil {
		return Summary{}, err
	}
	c := newCSV(w)
	requestRows(c, requestsOf(b.in.Requests))
	if err := c.Flush(); err != nil {
		return Summary{}, fmt.Errorf("export: %s: %w", FileRequests, err)
	}
	if w, err = b.entry(zw, FileHTML); err != nil {
		return Summary{}, err
	}
	if err := b.writeHTML(w, sources, ledgerHTML); err != nil {
		return Summary{}, err
	}
	return Summary{Ledger: b.ver, Sources: sources, Locale: b.locale}, nil
}

// jsonWriter writes one JSON object field by field; the first error sticks.
type jsonWriter struct {
	w   *bufio.Writer
	n   int
	err error
}

func (j *jsonWriter) raw(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

func (j *jsonWriter) value(v any) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		j.err = err
		return
	}
	_, j.err = j.w.Write(b)
}

// field writes `"name":` preceded by a separator when needed, then v unless v is nil.
func (j *jsonWriter) field(name string, v any) {
	if j.n > 0 {
		j.raw(",\n")
	}
	j.n++
	j.value(name)
	j.raw(":")
	if v != nil {
		j.value(v)
	}
}

func (b *builder) writeJSON(ctx context.Context, w io.Writer, csvSpool, htmlSpool *spool) error {
	in, p := b.in, b.in.Profile
	bw := bufio.NewWriterSize(w, 64<<10)
	j := &jsonWriter{w: bw}
	j.raw("{\n")
	j.field("schemaVersion", SchemaVersion)
	j.field("generatedAt", b.at)
	j.field("locale", b.locale)
	j.field("request", docRequest{ID: in.Request.ID, Type: in.Request.Type, ReceivedAt: in.Request.ReceivedAt.UTC()})
	j.field("controller", in.Controller)
	j.field("subject", docSubject{ProfileID: p.ID, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(), Version: p.Version})
	j.field("identities", identities(p, in.Catalog))
	j.field("attributes", attributes(p))
	j.field("attributeTimes", attributeTimes(p))
	j.field("attributeSources", attributeSources(p))
	j.field("attributeCategories", attributeCategories(p, in.Catalog))
	j.field("consents", consentsOf(p))
	j.field("subscriptions", subscriptionsOf(p))
	j.field("rights", rightsOf(p))
	j.field("ledger", nil)
	j.raw("{\"events\":[")
	if j.err != nil {
		return fmt.Errorf("export: %s: %w", FileJSON, j.err)
	}

	lc := newCSV(csvSpool.w)
	lc.Row(ledgerHeader...)
	rows := b.htmlRows(htmlSpool.w)
	n := 0
	each := func(e ledger.Event) error {
		if n > 0 {
			j.raw(",")
		}
		n++
		j.raw("\n")
		j.value(e) // verbatim, so the person can re-check every hash
		lc.Row(ledgerRow(e)...)
		b.source(e)
		return cmp.Or(j.err, rows(e))
	}
	if err := b.readLedger(ctx, p.ID, p.LedgerSeq, p.LedgerHead, &b.ver, each); err != nil {
		return err
	}
	j.raw("\n],\"verification\":")
	j.value(b.ver)
	// The profiles merged into this one are the person's history too; each chain verifies
	// on its own, to the head the merge recorded.
	j.raw(",\"mergedLedgers\":[")
	for i, alias := range slices.Sorted(maps.Keys(p.ClosedChains)) {
		if i > 0 {
			j.raw(",")
		}
		j.raw("\n{\"profileId\":")
		j.value(alias)
		j.raw(",\"events\":[")
		n = 0
		var ver Verification
		end := p.ClosedChains[alias]
		if err := b.readLedger(ctx, alias, end.Seq, end.Hash, &ver, each); err != nil {
			return err
		}
		j.raw("\n],\"verification\":")
		j.value(ver)
		j.raw("}")
		b.ver.Verified = b.ver.Verified && ver.Verified
	}
	j.raw("]")
	if err := lc.Flush(); err != nil {
		return fmt.Errorf("export: %s: %w", FileLedger, err)
	}
	j.raw("}")
	b.srcs = b.sourceList(ctx)
	j.field("requests", requestsOf(in.Requests))
	j.field("art15", docArt15{
		Purposes: purposesOf(in.Catalog, b.locale), Categories: categories(p),
		DataCategories: dataCategories(p, in.Catalog, b.locale), Recipients: nonNil(in.Recipients),
		Sources: b.srcs, AutomatedDecisions: automatedPurposes(in.Catalog), Rights: rightCodes,
		SupervisoryAuthority: b.msg.Complaint,
	})
	j.raw("\n}\n")
	if j.err == nil {
		j.err = bw.Flush()
	}
	if j.err != nil {
		return fmt.Errorf("export: %s: %w", FileJSON, j.err)
	}
	return nil
}

// rightCodes are the rights the person has (Art. 15(1)(e) and (f)), as codes.
var rightCodes = []string{"rectification", "erasure", "restriction", "objection", "portability", "withdraw_consent", "complaint"}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// readLedger calls fn with every event of profile id's chain from 1 to last, in order, and
// verifies the chain as it goes, into ver: it must end at head.
func (b *builder) readLedger(ctx context.Context, id string, last int64, head string, ver *Verification, fn func(ledger.Event) error) error {
	prev, next := "", int64(1)
	ok, broken := true, int64(0)
	for next <= last {
		if err := ctx.Err(); err != nil {
			return err
		}
		evs, err := b.in.Ledger.Events(ctx, b.in.Controller.ID, id, next, int(min(int64(pageSize), last-next+1)))
		if err != nil {
			return fmt.Errorf("export: read ledger: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		if i := slices.IndexFunc(evs, func(e ledger.Event) bool { return e.Seq > last }); i >= 0 {
			evs = evs[:i]
		}
		if len(evs) == 0 {
			break
		}
		if good, at := ledger.Verify(prev, evs); ok && (!good || evs[0].Seq != next) {
			ok = false
			if good {
				at = 0
			}
			broken = evs[at].Seq
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		prev, next = evs[len(evs)-1].Hash, evs[len(evs)-1].Seq+1
		ver.Count += int64(len(evs))
	}
	ver.Head = prev
	if ok && (next != last+1 || prev != head) {
		ok = false // cut off before the head the profile records
	}
	ver.Verified, ver.BrokenAtSeq = ok, broken
	return nil
}

// source counts e's actor among the sources of the data.
func (b *builder) source(e ledger.Event) {
	s, ok := b.sources[e.Actor]
	at := e.At.UTC()
	if !ok {
		s = &Source{Kind: e.Actor.Kind, ID: e.Actor.ID, FirstAt: at, LastAt: at}
		b.sources[e.Actor] = s
	}
	s.Events++
	if at.Before(s.FirstAt) {
		s.FirstAt = at
	}
	if at.After(s.LastAt) {
		s.LastAt = at
	}
}

// sourceList returns the sources sorted by kind and id, named once.
func (b *builder) sourceList(ctx context.Context) []Source {
	out := make([]Source, 0, len(b.sources))
	for _, a := range slices.SortedFunc(maps.Keys(b.sources), func(x, y ledger.Actor) int {
		return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.ID, y.ID))
	}) {
		s := b.sources[a]
		if s.Name == "" && b.in.SourceName != nil && a.Kind == ledger.ActorAPIKey {
			s.Name = strings.TrimSpace(b.in.SourceName(ctx, a))
		}
		out = append(out, *s)
	}
	return out
}

// pickLocale is the request's locale, else the person's, else the catalog's default; a
// regional locale the catalog lacks ("pl-PL") falls back to its language ("pl").
func pickLocale(in Input) string {
	l := in.Request.Locale
	if l == "" {
		l, _ = in.Profile.Attributes[profile.AttrLocale].(string)
	}
	if l == "" {
		return cmp.Or(in.Catalog.DefaultLocale, "en")
	}
	if base, _, regional := strings.Cut(l, "-"); regional && !in.Catalog.SupportsLocale(l) && in.Catalog.SupportsLocale(base) {
		return base
	}
	return l
}

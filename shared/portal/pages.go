package portal

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// doneKeys are the flash notices a redirect after a change may ask for (?done=key); any
// other value is ignored, so the query cannot put text on the page.
var doneKeys = []string{
	"saved", "subscriptions", "unsubscribed_all", "consent_granted", "consent_withdrawn",
	"request_created", "request_duplicate", "restricted", "restriction_lifted", "objections",
	"automated", "erasure", "nothing",
	"identity_removed",
}

// flash adds the notice a redirect asked for.
func (r *rc) flash() {
	if d := r.query("done"); slices.Contains(doneKeys, d) {
		r.notices = append(r.notices, r.t("done."+d))
	}
}

// write is the app.Write of a portal change: the person is the actor, and the profile
// read for this request is the basis of the change, so that a change costs no second read.
func (r *rc) write() app.Write {
	return app.Write{Actor: PersonActor, RequestID: r.requestID, Current: r.prof}
}

// --------------------------------------------------------------------------- overview

type kv struct{ Label, Value string }

type consentRow struct{ Purpose, Status, Version, Updated string }

type subscriptionRow struct{ Topic, Status, Channels, Frequency string }

type overviewData struct {
	Identities      []kv
	Attributes      []kv
	Consents        []consentRow
	Subscriptions   []subscriptionRow
	Restricted      bool
	Objections      string
	AutomatedOptOut bool
	Requests        *requestTable
}

// Overview serves GET /portal/{tenant}: everything the brand holds about the person —
// identities, details, consents, subscriptions, the state of their rights and requests.
func (p *Portal) Overview() Handler {
	return p.serve(signedIn, func(r *rc) (*result, error) {
		r.nav, r.self = "overview", r.base()
		if r.method != http.MethodGet {
			return nil, errMethod
		}
		r.flash()
		pr, cat := r.prof, r.cat
		d := overviewData{Restricted: pr.Rights.Restricted, AutomatedOptOut: pr.Rights.AutomatedDecisionOptOut}
		for _, id := range pr.Identities {
			d.Identities = append(d.Identities, kv{r.identityLabel(id.Type), id.Value})
		}
		for _, name := range attributeOrder(cat, pr) {
			d.Attributes = append(d.Attributes, kv{r.attributeLabel(name), r.attributeValue(name, pr.Attributes[name])})
		}
		for _, id := range slices.Sorted(maps.Keys(pr.Consents)) {
			c := pr.Consents[id]
			d.Consents = append(d.Consents, consentRow{Purpose: r.purposeName(id), Status: r.consentStatus(c, id),
				Version: strconv.Itoa(c.NoticeVersion), Updated: date(r.lang, c.UpdatedAt)})
		}
		for _, id := range slices.Sorted(maps.Keys(pr.Subscriptions)) {
			s := pr.Subscriptions[id]
			row := subscriptionRow{Topic: r.topicName(id), Status: r.t("sub." + string(s.Status)), Channels: r.t("common.none"), Frequency: r.t("common.none")}
			if len(s.Channels) > 0 {
				row.Channels = r.channelList(s.Channels)
			}
			if s.Frequency != "" {
				row.Frequency = r.frequencyName(s.Frequency)
			}
			d.Subscriptions = append(d.Subscriptions, row)
		}
		var obj []string
		for _, id := range slices.Sorted(maps.Keys(pr.Rights.Objections)) {
			obj = append(obj, r.purposeName(id))
		}
		d.Objections = strings.Join(obj, ", ")
		var err error
		if d.Requests, err = r.requestTable(); err != nil {
			return nil, err
		}
		return r.page(http.StatusOK, "overview", r.t("overview.title"), d), nil
	})
}

// attributeOrder lists the attributes to show: the standard ones, then the catalog's,
// then any others the profile holds.
func attributeOrder(cat *catalog.Catalog, pr *profile.Profile) []string {
	var out []string
	for _, n := range catalog.StandardAttributes {
		if _, ok := pr.Attributes[n]; ok {
			out = append(out, n)
		}
	}
	for _, a := range cat.Attributes {
		if _, ok := pr.Attributes[a.Name]; ok {
			out = append(out, a.Name)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(pr.Attributes)) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (r *rc) identityLabel(t string) string {
	switch t {
	case "email", "phone", "customer_id":
		return r.t("identity." + t)
	}
	return t
}

func (r *rc) attributeLabel(name string) string {
	if slices.Contains(catalog.StandardAttributes, name) {
		return r.t("attr." + name)
	}
	if a, ok := r.cat.Attribute(name); ok && len(a.Label) > 0 {
		s, _ := text(a.Label, r.lang, r.cat)
		return s
	}
	return name
}

func (r *rc) attributeValue(name string, v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return r.t("common.yes")
		}
		return r.t("common.no")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		if name == profile.AttrLocale {
			if n, ok := langNames[primary(x)]; ok {
				return n
			}
		}
		return x
	}
	return fmt.Sprint(v)
}

func (r *rc) purposeName(id string) string {
	if p, ok := r.cat.Purpose(id); ok {
		s, _ := text(p.Name, r.lang, r.cat)
		return s
	}
	return id
}

func (r *rc) topicName(id string) string {
	if t, ok := r.cat.Topic(id); ok {
		s, _ := text(t.Name, r.lang, r.cat)
		return s
	}
	return id
}

func (r *rc) channelName(id string) string {
	for _, ch := range r.cat.Channels {
		if ch.ID == id {
			s, _ := text(ch.Name, r.lang, r.cat)
			return s
		}
	}
	return id
}

func (r *rc) channelList(ids []string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = r.channelName(id)
	}
	return strings.Join(names, ", ")
}

// frequencyName names the usual frequencies; others show as their id.
func (r *rc) frequencyName(f string) string {
	switch f {
	case "daily", "weekly", "monthly", "quarterly", "yearly":
		return r.t("freq." + f)
	}
	return f
}

func (r *rc) legalBasis(b catalog.LegalBasis) string {
	if b.Valid() {
		return r.t("basis." + string(b))
	}
	return string(b)
}

// consentStatus describes a consent, including whether it has run out.
func (r *rc) consentStatus(c profile.Consent, purpose string) string {
	s := r.t("consent." + string(c.Status))
	if c.Status == profile.Granted && c.ExpiresAt != nil && !r.p.now().Before(*c.ExpiresAt) {
		s = r.t("consent.expired")
	} else if pur, ok := r.cat.Purpose(purpose); ok && c.Status == profile.Granted && c.NoticeVersion < pur.ReconsentBelow {
		s = r.t("consent.outdated")
	}
	return s
}

// --------------------------------------------------------------------------- requests

type requestRow struct {
	Type, Status, Received, Due string
	Download, DownloadLabel     string
	Note                        string
}

type requestTable struct {
	Caption, HType, HStatus, HReceived, HDue string
	Rows                                     []requestRow
}

// requestTable lists the person's data-subject requests, newest first; nil without the
// requests use case.
func (r *rc) requestTable() (*requestTable, error) {
	if r.p.cfg.Requests == nil {
		return nil, nil
	}
	reqs := r.requests
	if !r.listed {
		var err error
		if reqs, err = r.p.cfg.Requests.RequestsOfProfile(r.ctx, r.tenant, r.prof.ID); err != nil {
			return nil, err
		}
	}
	t := &requestTable{Caption: r.t("requests.caption"), HType: r.t("col.request"), HStatus: r.t("col.status"),
		HReceived: r.t("col.received"), HDue: r.t("col.due")}
	now := r.p.now()
	for i := len(reqs) - 1; i >= 0; i-- {
		q := reqs[i]
		q.MarkDeadlines(now)
		row := requestRow{Type: r.requestType(q), Status: r.t("status." + string(q.Status)),
			Received: date(r.lang, q.ReceivedAt), Due: date(r.lang, q.DueAt)}
		if !q.Status.Open() {
			row.Due = r.t("common.none")
		}
		if q.Extension != nil && q.Status.Open() {
			row.Note = r.t("requests.extended", q.Extension.Months)
		}
		if q.Status == dsr.Denied && q.DenialReason != "" {
			row.Note = r.t("requests.denied", q.DenialReason)
		}
		if q.Export != nil && q.Status == dsr.Completed {
			if now.Before(q.Export.ExpiresAt) {
				row.Download, row.DownloadLabel = r.base()+"/exports/"+q.ID, r.t("requests.download", date(r.lang, q.Export.ExpiresAt))
			} else {
				row.Note = r.t("requests.exportGone")
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func (r *rc) requestType(q dsr.Request) string {
	s := r.t("reqtype." + string(q.Type))
	if q.Type == dsr.Objection && q.Purpose != "" {
		s += ": " + r.purposeName(q.Purpose)
	}
	return s
}

// --------------------------------------------------------------------------- details

type detailsData struct {
	Standard []field
	Custom   []field
	Sources  sourcesData
}

// Details serves GET and POST /portal/{tenant}/details: the person corrects their given and
// family name, locale, country and the catalog's custom attributes (Art. 16). A POST with
// invalid values answers 422 with the page as submitted, an error summary linking to each
// field and the message next to it; a valid one saves (an empty field removes the value)
// and redirects back with a notice. The page also shows where each piece of the person's
// data came from, and POST /portal/{tenant}/details/identities removes an identity (see
// removeIdentity).
func (p *Portal) Details() Handler {
	return p.serve(signedIn, func(r *rc) (*result, error) {
		r.nav, r.self = "details", r.base()+"/details"
		if r.isIdentitiesRoute() {
			return p.removeIdentity(r)
		}
		switch r.method {
		case http.MethodGet:
			r.flash()
			return r.detailsPage(http.StatusOK, nil, nil), nil
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		patch, problems := r.detailsPatch()
		if len(problems) > 0 {
			return r.detailsPage(http.StatusUnprocessableEntity, r.form, problems), nil
		}
		res, err := p.cfg.Profiles.UpdateProfile(r.ctx, r.tenant, r.prof.ID, app.Patch{Attributes: patch}, r.write())
		if err != nil {
			if e, ok := errs.As(err); ok && (e.Code == errs.Invalid || e.Code == errs.Unprocessable) && len(e.Fields) > 0 {
				problems = map[string]string{}
				for _, f := range e.Fields {
					problems[strings.TrimPrefix(f.Field, "attributes.")] = r.t("details.invalid")
				}
				return r.detailsPage(http.StatusUnprocessableEntity, r.form, problems), nil
			}
			return nil, err
		}
		if !res.Changed {
			return r.redirectTo("/details", "nothing"), nil
		}
		return r.redirectTo("/details", "saved"), nil
	})
}

// editable lists the attributes the details page edits, in order.
func (r *rc) editable() []string {
	out := slices.Clone(catalog.StandardAttributes)
	for _, a := range r.cat.Attributes {
		out = append(out, a.Name)
	}
	return out
}

// formID is the control id of an attribute (ids must not clash with the page's own).
func formID(name string) string { return "attr-" + name }

// detailsPatch validates the posted details and returns the changes to make, or a message
// per attribute that is wrong.
func (r *rc) detailsPatch() (map[string]any, map[string]string) {
	patch := map[string]any{}
	problems := map[string]string{}
	for _, name := range r.editable() {
		raw := strings.TrimSpace(r.form.Get(formID(name)))
		var v any
		if raw != "" {
			var msg string
			v, msg = r.parseAttribute(name, raw)
			if msg != "" {
				problems[name] = msg
				continue
			}
			clean, reason := profile.ValidateAttribute(r.cat, name, v)
			if reason != "" {
				problems[name] = r.attributeProblem(name, reason)
				continue
			}
			v = clean
		}
		cur, had := r.prof.Attributes[name]
		if (v == nil && !had) || (had && v != nil && fmt.Sprint(cur) == fmt.Sprint(v)) {
			continue
		}
		patch[name] = v
	}
	return patch, problems
}

// parseAttribute turns a form value into the attribute's JSON type.
func (r *rc) parseAttribute(name, raw string) (any, string) {
	switch name {
	case profile.AttrCountry:
		return strings.ToUpper(raw), ""
	case profile.AttrGivenName, profile.AttrFamilyName, profile.AttrLocale:
		return raw, ""
	}
	a, ok := r.cat.Attribute(name)
	if !ok {
		return raw, ""
	}
	switch a.Type {
	case catalog.Number:
		f, err := strconv.ParseFloat(strings.ReplaceAll(raw, ",", "."), 64)
		if err != nil {
			return nil, r.t("details.number")
		}
		return f, ""
	case catalog.Boolean:
		switch raw {
		case "true":
			return true, ""
		case "false":
			return false, ""
		}
		return nil, r.t("details.boolean")
	}
	return raw, ""
}

// attributeProblem words ValidateAttribute's reason for the person, in the page language.
func (r *rc) attributeProblem(name, reason string) string {
	switch name {
	case profile.AttrLocale:
		return r.t("details.locale")
	case profile.AttrCountry:
		return r.t("details.country")
	case profile.AttrGivenName, profile.AttrFamilyName:
		if strings.HasPrefix(reason, "must be at most") {
			return r.t("details.tooLong", 100)
		}
		return r.t("details.printable")
	}
	a, _ := r.cat.Attribute(name)
	switch a.Type {
	case catalog.Date:
		return r.t("details.date")
	case catalog.Number:
		return r.t("details.number")
	case catalog.String:
		if strings.HasPrefix(reason, "must be at most") {
			return r.t("details.tooLong", max(a.MaxLength, 0))
		}
		return r.t("details.printable")
	}
	return r.t("details.invalid")
}

// detailsPage renders the form from the profile, or from the posted form when re-showing
// problems.
func (r *rc) detailsPage(status int, posted map[string][]string, problems map[string]string) *result {
	var d detailsData
	var summary []fieldError
	for _, name := range r.editable() {
		f := field{ID: formID(name), Name: formID(name), Type: "text", Label: r.attributeLabel(name)}
		if posted != nil {
			if vs := posted[formID(name)]; len(vs) > 0 {
				f.Value = vs[0]
			}
		} else if v, ok := r.prof.Attributes[name]; ok {
			f.Value = formValue(v)
		}
		switch name {
		case profile.AttrGivenName:
			f.Autocomplete, f.MaxLength = "given-name", 100
		case profile.AttrFamilyName:
			f.Autocomplete, f.MaxLength = "family-name", 100
		case profile.AttrCountry:
			f.Autocomplete, f.MaxLength, f.Hint = "country", 2, r.t("details.countryHint")
		case profile.AttrLocale:
			f.Options = []option{{Value: "", Label: r.t("common.notSet")}}
			for _, l := range r.cat.Locales {
				name := l
				if n, ok := langNames[primary(l)]; ok {
					name = n
				}
				f.Options = append(f.Options, option{Value: l, Label: name, Selected: f.Value == l})
			}
		default:
			a, _ := r.cat.Attribute(name)
			switch a.Type {
			case catalog.Date:
				f.Type, f.Hint = "date", r.t("details.dateHint")
			case catalog.Number:
				f.InputMode, f.Hint = "decimal", r.t("details.numberHint")
			case catalog.Boolean:
				f.Options = []option{{Value: "", Label: r.t("common.notSet")},
					{Value: "true", Label: r.t("common.yes"), Selected: f.Value == "true"},
					{Value: "false", Label: r.t("common.no"), Selected: f.Value == "false"}}
			case catalog.String:
				f.MaxLength = a.MaxLength
			}
		}
		if msg, bad := problems[name]; bad {
			f.Error, f.ErrorPrefix = msg, r.t("error.prefix")
			summary = append(summary, fieldError{Field: f.ID, Message: f.Label + ": " + msg})
		}
		if slices.Contains(catalog.StandardAttributes, name) {
			d.Standard = append(d.Standard, f)
		} else {
			d.Custom = append(d.Custom, f)
		}
	}
	d.Sources = r.sourcesData()
	res := r.page(status, "details", r.t("details.title"), d)
	res.view.Errors = summary
	return res
}

func formValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// --------------------------------------------------------------------------- subscriptions

type gridCell struct {
	ID, Name, Label string
	Available       bool
	Checked         bool
}

type gridTopic struct {
	ID, Name, Description string
	Cells                 []gridCell
	FrequencyLabel        string
	Frequencies           []option
}

type subscriptionsData struct {
	Channels []string
	Topics   []gridTopic
}

// gridChannels are the channels any topic uses, in catalog order.
func gridChannels(cat *catalog.Catalog) []catalog.Channel {
	var out []catalog.Channel
	for _, ch := range cat.Channels {
		if slices.ContainsFunc(cat.Topics, func(t catalog.Topic) bool { return slices.Contains(t.Channels, ch.ID) }) {
			out = append(out, ch)
		}
	}
	return out
}

// Subscriptions serves GET and POST /portal/{tenant}/subscriptions: a topic × channel grid
// of checkboxes, with a frequency per topic, and an "unsubscribe from everything" form.
// A POST with action=save sets every topic whose choice changed (no channel ticked
// unsubscribes from the topic); action=unsubscribe_all unsubscribes from every topic.
func (p *Portal) Subscriptions() Handler {
	return p.serve(signedIn, func(r *rc) (*result, error) {
		r.nav, r.self = "subscriptions", r.base()+"/subscriptions"
		switch r.method {
		case http.MethodGet:
			r.flash()
			return r.subscriptionsPage(), nil
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		all := r.form.Get("action") == "unsubscribe_all"
		if !all && r.form.Get("action") != "save" {
			return nil, errs.E(errs.Invalid, "unknown action")
		}
		for _, key := range slices.Sorted(maps.Keys(r.form)) {
			if key != "csrf" && key != "action" && !r.gridKey(key) {
				return nil, errs.E(errs.Invalid, "unknown field")
			}
		}
		changed := false
		for _, t := range r.cat.Topics {
			want := profile.SubscriptionInput{Status: profile.Unsubscribed}
			if !all {
				for _, ch := range t.Channels {
					if r.form.Get("sub."+t.ID+"."+ch) == "on" {
						want.Channels = append(want.Channels, ch)
					}
				}
				if len(want.Channels) > 0 {
					want.Status = profile.Subscribed
					if f := r.form.Get("freq." + t.ID); slices.Contains(t.Frequencies, f) {
						want.Frequency = f
					}
				}
			}
			cur, had := r.prof.Subscriptions[t.ID]
			if !had && want.Status == profile.Unsubscribed {
				continue
			}
			slices.Sort(want.Channels)
			if had && cur.Status == want.Status && slices.Equal(cur.Channels, want.Channels) &&
				(want.Status == profile.Unsubscribed || want.Frequency == "" || cur.Frequency == want.Frequency) {
				continue
			}
			res, err := p.cfg.Profiles.PutSubscription(r.ctx, r.tenant, r.prof.ID, t.ID, want, r.write())
			if err != nil {
				return nil, err
			}
			changed = changed || res.Changed
		}
		switch {
		case all:
			return r.redirectTo("/subscriptions", "unsubscribed_all"), nil
		case !changed:
			return r.redirectTo("/subscriptions", "nothing"), nil
		}
		return r.redirectTo("/subscriptions", "subscriptions"), nil
	})
}

// gridKey reports whether a posted field name is one of the grid's.
func (r *rc) gridKey(key string) bool {
	if id, ok := strings.CutPrefix(key, "freq."); ok {
		_, found := r.cat.Topic(id)
		return found
	}
	rest, ok := strings.CutPrefix(key, "sub.")
	if !ok {
		return false
	}
	for _, t := range r.cat.Topics {
		if ch, ok := strings.CutPrefix(rest, t.ID+"."); ok && slices.Contains(t.Channels, ch) {
			return true
		}
	}
	return false
}

func (r *rc) subscriptionsPage() *result {
	chans := gridChannels(r.cat)
	d := subscriptionsData{}
	for _, ch := range chans {
		d.Channels = append(d.Channels, r.channelName(ch.ID))
	}
	for _, t := range r.cat.Topics {
		name, _ := text(t.Name, r.lang, r.cat)
		desc, _ := text(t.Description, r.lang, r.cat)
		cur := r.prof.Subscriptions[t.ID]
		gt := gridTopic{ID: t.ID, Name: name, Description: desc, FrequencyLabel: r.t("subs.frequencyOf", name)}
		for _, ch := range chans {
			c := gridCell{ID: "sub-" + t.ID + "-" + ch.ID, Name: "sub." + t.ID + "." + ch.ID, Available: slices.Contains(t.Channels, ch.ID)}
			if c.Available {
				c.Label = r.t("subs.cell", name, r.channelName(ch.ID))
				c.Checked = cur.Status == profile.Subscribed && slices.Contains(cur.Channels, ch.ID)
			} else {
				c.Label = r.t("subs.cellUnavailable", name, r.channelName(ch.ID))
			}
			gt.Cells = append(gt.Cells, c)
		}
		for i, f := range t.Frequencies {
			sel := cur.Frequency == f || (cur.Frequency == "" && i == 0)
			gt.Frequencies = append(gt.Frequencies, option{Value: f, Label: r.frequencyName(f), Selected: sel})
		}
		d.Topics = append(d.Topics, gt)
	}
	return r.page(http.StatusOK, "subscriptions", r.t("subs.title"), d)
}

// --------------------------------------------------------------------------- consents

type purposeCard struct {
	ID, Name, Description, LegalBasis string
	Status, StatusNote, Expires       string
	NoticeTitle, NoticeText           string
	NoticeLang                        string
	NoticeVersion                     int
	Outdated                          bool
	CanGrant, CanWithdraw, HasReceipt bool
	WithdrawLabel                     string
}

type consentsData struct {
	Purposes []purposeCard
	Other    []purposeCard
}

// Consents serves GET and POST /portal/{tenant}/consents: each purpose whose legal basis is
// consent, with its notice text in the page language, the notice version and the legal
// basis, and buttons to grant or withdraw (or decline). A POST records the decision with
// the notice version shown, the page language as locale and the portal as actor, then
// redirects back. Purposes on other legal bases are listed for information.
func (p *Portal) Consents() Handler {
	return p.serve(signedIn, func(r *rc) (*result, error) {
		r.nav, r.self = "consents", r.base()+"/consents"
		switch r.method {
		case http.MethodGet:
			r.flash()
			return r.page(http.StatusOK, "consents", r.t("consents.title"), r.consentsData()), nil
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		pur, ok := r.cat.Purpose(r.form.Get("purpose"))
		if !ok || pur.LegalBasis != catalog.Consent {
			return nil, errs.E(errs.Unprocessable, "unknown purpose")
		}
		shown, err := strconv.Atoi(r.form.Get("noticeVersion"))
		if err != nil || shown < 1 || shown > pur.NoticeVersion {
			return nil, errs.E(errs.Unprocessable, "unknown notice version")
		}
		in := profile.ConsentInput{NoticeVersion: shown}
		if r.cat.SupportsLocale(r.lang) {
			in.Locale = r.lang
		}
		done := "consent_granted"
		switch r.form.Get("decision") {
		case "grant":
			in.Status = profile.Granted
		case "withdraw":
			in.Status, done = profile.Withdrawn, "consent_withdrawn"
			if _, had := r.prof.Consents[pur.ID]; !had {
				in.Status = profile.Denied
			}
		default:
			return nil, errs.E(errs.Invalid, "unknown decision")
		}
		if _, err := p.cfg.Profiles.PutConsent(r.ctx, r.tenant, r.prof.ID, pur.ID, in, r.write()); err != nil {
			return nil, err
		}
		return r.redirectTo("/consents", done), nil
	})
}

func (r *rc) consentsData() consentsData {
	var d consentsData
	now := r.p.now()
	for _, pur := range r.cat.Purposes {
		c := r.purposeCard(pur)
		if pur.LegalBasis != catalog.Consent {
			d.Other = append(d.Other, c)
			continue
		}
		cur, had := r.prof.Consents[pur.ID]
		switch {
		case !had:
			c.Status = r.t("consent.none")
			c.CanGrant, c.CanWithdraw, c.WithdrawLabel = true, true, r.t("consents.decline", c.Name)
		default:
			c.Status = r.consentStatus(cur, pur.ID)
			c.StatusNote = r.t("consents.recorded", date(r.lang, cur.UpdatedAt), cur.NoticeVersion)
			c.HasReceipt = true
			active := cur.Status == profile.Granted && (cur.ExpiresAt == nil || now.Before(*cur.ExpiresAt))
			c.CanGrant = !active || cur.NoticeVersion < pur.NoticeVersion
			c.CanWithdraw, c.WithdrawLabel = cur.Status == profile.Granted, r.t("consents.withdraw", c.Name)
			c.Outdated = cur.Status == profile.Granted && cur.NoticeVersion < pur.NoticeVersion
			if cur.ExpiresAt != nil && cur.Status == profile.Granted {
				c.Expires = date(r.lang, *cur.ExpiresAt)
			}
		}
		d.Purposes = append(d.Purposes, c)
	}
	return d
}

// purposeCard describes a purpose with the text of its current notice version.
func (r *rc) purposeCard(pur catalog.Purpose) purposeCard {
	c := purposeCard{ID: pur.ID, LegalBasis: r.legalBasis(pur.LegalBasis), NoticeVersion: pur.NoticeVersion}
	c.Name, _ = text(pur.Name, r.lang, r.cat)
	c.Description, _ = text(pur.Description, r.lang, r.cat)
	if n, ok := r.cat.Notice(pur.Notice); ok {
		c.NoticeTitle, _ = text(n.Title, r.lang, r.cat)
		for _, v := range n.Versions {
			if v.Version == pur.NoticeVersion {
				c.NoticeText, c.NoticeLang = text(v.Text, r.lang, r.cat)
			}
		}
	}
	return c
}

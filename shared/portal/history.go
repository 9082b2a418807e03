package portal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// historyPage is how many ledger events one history page shows.
const historyPage = 50

type historyEvent struct{ ISO, When, Text string }

type receiptLink struct{ ID, Name string }

type historyData struct {
	Events       []historyEvent
	Verified     bool
	Older, Newer string
	Receipts     []receiptLink
}

// History serves GET /portal/{tenant}/history (the consent ledger in plain words, newest
// first, historyPage events a page, ?page=N for older ones) and GET
// /portal/{tenant}/receipts/{purpose} (the consent receipt of one purpose, as a JSON
// download; see Receipt).
func (p *Portal) History() Handler {
	return p.serve(readOnly, func(r *rc) (*result, error) {
		r.nav = "history"
		if r.method != http.MethodGet {
			return nil, errMethod
		}
		if purpose, ok := r.ev.PathParameters["purpose"]; ok {
			return r.receipt(purpose)
		}
		r.self = r.base() + "/history"
		page := 1
		if v := r.query("page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				return nil, errs.E(errs.NotFound, "no such page")
			}
			page = n
		}
		// Page 1 is the newest historyPage events: those after LedgerSeq-historyPage.
		last := r.prof.LedgerSeq - int64(historyPage*(page-1))
		if last < 1 && page > 1 {
			return nil, errs.E(errs.NotFound, "no such page")
		}
		after := max(last-historyPage, 0)
		d := historyData{Verified: true}
		if last >= 1 {
			ev, err := p.cfg.Profiles.EventsOf(r.ctx, r.tenant, r.prof, after, int(last-after))
			if err != nil {
				return nil, err
			}
			d.Verified = ev.Verified
			for i := len(ev.Events) - 1; i >= 0; i-- {
				e := ev.Events[i]
				d.Events = append(d.Events, historyEvent{ISO: e.At.UTC().Format(time.RFC3339), When: dateTime(r.lang, e.At), Text: r.describe(e)})
			}
		}
		if after > 0 {
			d.Older = r.base() + "/history?page=" + strconv.Itoa(page+1)
		}
		if page > 1 {
			d.Newer = r.base() + "/history?page=" + strconv.Itoa(page-1)
		}
		for _, id := range slices.Sorted(maps.Keys(r.prof.Consents)) {
			d.Receipts = append(d.Receipts, receiptLink{ID: id, Name: r.purposeName(id)})
		}
		return r.page(http.StatusOK, "history", r.t("history.title"), d), nil
	})
}

// describe puts one ledger event into a sentence in the page language: what changed, and
// who changed it.
func (r *rc) describe(e ledger.Event) string {
	what := r.eventText(e)
	return what + " " + r.actorText(e.Actor)
}

func (r *rc) eventText(e ledger.Event) string {
	switch e.Type {
	case profile.EventProfileCreated:
		return r.t("ev.created")
	case profile.EventProfileUpdated:
		var changed map[string]any
		_ = json.Unmarshal(e.New, &changed)
		var names []string
		for _, n := range attributeOrderOf(r.cat, changed) {
			names = append(names, r.attributeLabel(n))
		}
		if len(names) == 0 {
			return r.t("ev.updatedNone")
		}
		return r.t("ev.updated", strings.Join(names, ", "))
	case profile.EventIdentityAdded:
		return r.t("ev.identityAdded", r.identityLabel(e.Subject))
	case profile.EventIdentityRemoved:
		return r.t("ev.identityRemoved", r.identityLabel(e.Subject))
	case profile.EventConsentChanged:
		var c profile.Consent
		_ = json.Unmarshal(e.New, &c)
		key := "ev.consent." + string(c.Status)
		switch c.Status {
		case profile.Granted, profile.Denied, profile.Withdrawn:
		default:
			key = "ev.consent.other"
		}
		return r.t(key, r.purposeName(e.Subject), e.NoticeVersion)
	case profile.EventSubscriptionChanged:
		var s profile.Subscription
		_ = json.Unmarshal(e.New, &s)
		if s.Status == profile.Subscribed {
			msg := r.t("ev.subscribed", r.topicName(e.Subject), r.channelList(s.Channels))
			if s.Frequency != "" {
				msg += " " + r.t("ev.frequency", r.frequencyName(s.Frequency))
			}
			return msg
		}
		return r.t("ev.unsubscribed", r.topicName(e.Subject))
	case profile.EventRestrictionChanged:
		if string(e.New) == "true" {
			return r.t("ev.restricted")
		}
		return r.t("ev.restrictionLifted")
	case profile.EventObjectionChanged:
		if string(e.New) == "true" {
			return r.t("ev.objected", r.purposeName(e.Subject))
		}
		return r.t("ev.objectionLifted", r.purposeName(e.Subject))
	case profile.EventAutomatedDecision:
		if string(e.New) == "true" {
			return r.t("ev.automatedOptOut")
		}
		return r.t("ev.automatedOptIn")
	case app.EventRequestCreated:
		return r.t("ev.requestCreated", r.t("reqtype."+e.Subject))
	case app.EventRequestUpdated:
		return r.t("ev.requestUpdated", r.t("reqtype."+e.Subject))
	case app.EventRequestCompleted:
		var st app.RequestState
		_ = json.Unmarshal(e.New, &st)
		return r.t("ev.requestClosed", r.t("reqtype."+e.Subject), r.t("status."+string(st.Status)))
	}
	return r.t("ev.other")
}

func attributeOrderOf(cat *catalog.Catalog, m map[string]any) []string {
	p := &profile.Profile{Attributes: m}
	if m == nil {
		p.Attributes = map[string]any{}
	}
	return attributeOrder(cat, p)
}

func (r *rc) actorText(a ledger.Actor) string {
	switch {
	case a == GPCActor:
		return r.t("actor.gpc")
	case a == OneClickActor:
		return r.t("actor.oneClick")
	case a.Kind == ledger.ActorPortal:
		return r.t("actor.portal")
	case a.Kind == ledger.ActorAPIKey:
		return r.t("actor.brand", r.theme.Name)
	case a.Kind == ledger.ActorSync:
		return r.t("actor.sync", r.theme.Name)
	case a.Kind == ledger.ActorOperator:
		return r.t("actor.operator", r.theme.Name)
	case a.Kind == ledger.ActorSystem:
		return r.t("actor.system")
	}
	return r.t("actor.other")
}

// Receipt is a consent receipt in the spirit of ISO/IEC TS 27560: a record, given to the
// person, of one consent as the ledger holds it.
type Receipt struct {
	SchemaVersion string           `json:"schemaVersion"`
	ReceiptID     string           `json:"receiptId"`
	Timestamp     time.Time        `json:"timestamp"`
	Language      string           `json:"language"`
	Controller    ReceiptParty     `json:"controller"`
	Subject       ReceiptSubject   `json:"dataSubject"`
	Purposes      []ReceiptPurpose `json:"purposes"`
	Notice        ReceiptNotice    `json:"notice"`
	Consent       ReceiptConsent   `json:"consent"`
}

// ReceiptSchemaVersion names the receipt format; it changes only incompatibly.
const ReceiptSchemaVersion = "livingprofile-consent-receipt/1.0 (ISO/IEC TS 27560)"

// ReceiptParty is the controller: the tenant.
type ReceiptParty struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ReceiptSubject is the person, by pseudonymous profile id.
type ReceiptSubject struct {
	ID string `json:"id"`
}

// ReceiptPurpose is one purpose the consent covers.
type ReceiptPurpose struct {
	ID                string             `json:"id"`
	Name              string             `json:"name"`
	Description       string             `json:"description,omitempty"`
	LegalBasis        catalog.LegalBasis `json:"legalBasis"`
	DirectMarketing   bool               `json:"directMarketing,omitempty"`
	SaleOrSharing     bool               `json:"saleOrSharing,omitempty"`
	AutomatedDecision bool               `json:"automatedDecision,omitempty"`
	RetentionDays     int                `json:"retentionDays,omitempty"`
}

// ReceiptNotice is the privacy notice shown when the consent was given.
type ReceiptNotice struct {
	ID       string `json:"id"`
	Version  int    `json:"version"`
	Title    string `json:"title,omitempty"`
	Language string `json:"language"`
	Text     string `json:"text,omitempty"`
}

// ReceiptConsent is the consent's state.
type ReceiptConsent struct {
	Status           profile.ConsentStatus `json:"status"`
	Active           bool                  `json:"active"`
	Timestamp        time.Time             `json:"timestamp"`
	CollectionMethod string                `json:"collectionMethod"` // portal, api, sync, operator, system
	Source           ledger.Actor          `json:"source"`
	Expiry           *time.Time            `json:"expiry,omitempty"`
	// LedgerHead anchors the receipt in the person's hash-chained ledger at issue time.
	LedgerSeq  int64  `json:"ledgerSeq"`
	LedgerHead string `json:"ledgerHead"`
}

// collectionMethod names how a consent was collected, from its source.
func collectionMethod(a ledger.Actor) string {
	switch a.Kind {
	case ledger.ActorPortal:
		return "portal"
	case ledger.ActorAPIKey:
		return "api"
	case "":
		return "unknown"
	}
	return a.Kind
}

// receipt answers the JSON consent receipt of purpose for the signed-in person.
func (r *rc) receipt(purpose string) (*result, error) {
	pur, ok := r.cat.Purpose(purpose)
	c, had := r.prof.Consents[purpose]
	if !ok || !had {
		return nil, errs.E(errs.NotFound, "no consent recorded for this purpose")
	}
	rc := BuildReceipt(r.tenant, r.theme.Name, r.prof, r.cat, pur, c, r.lang, r.p.now())
	b, err := json.MarshalIndent(rc, "", "  ")
	if err != nil {
		return nil, err
	}
	return &result{status: http.StatusOK, body: append(b, '\n'), ctype: "application/json; charset=utf-8",
		headers: map[string]string{"Content-Disposition": `attachment; filename="consent-receipt-` + pur.ID + `.json"`}}, nil
}

// BuildReceipt makes the receipt of consent c to purpose pur of person p, issued at now,
// with the notice text in lang (or the catalog's default). Its ReceiptID is stable for one
// state of the consent: downloading it again gives the same id.
func BuildReceipt(tenant, controller string, p *profile.Profile, cat *catalog.Catalog, pur catalog.Purpose, c profile.Consent, lang string, now time.Time) Receipt {
	sum := sha256.Sum256([]byte(strings.Join([]string{tenant, p.ID, pur.ID, string(c.Status), strconv.Itoa(c.NoticeVersion), c.UpdatedAt.UTC().Format(time.RFC3339Nano)}, "\x00")))
	id := hex.EncodeToString(sum[:16])
	rp := ReceiptPurpose{ID: pur.ID, LegalBasis: c.LegalBasis, DirectMarketing: pur.DirectMarketing,
		SaleOrSharing: pur.SaleOrSharing, AutomatedDecision: pur.AutomatedDecision, RetentionDays: pur.RetentionDays}
	if rp.LegalBasis == "" {
		rp.LegalBasis = pur.LegalBasis
	}
	rp.Name, _ = text(pur.Name, lang, cat)
	rp.Description, _ = text(pur.Description, lang, cat)
	n := ReceiptNotice{ID: pur.Notice, Version: c.NoticeVersion, Language: lang}
	if c.Locale != "" {
		n.Language = c.Locale
	}
	if notice, ok := cat.Notice(pur.Notice); ok {
		n.Title, _ = text(notice.Title, n.Language, cat)
		for _, v := range notice.Versions {
			if v.Version == c.NoticeVersion {
				n.Text, n.Language = text(v.Text, n.Language, cat)
			}
		}
	}
	active := c.Status == profile.Granted && (c.ExpiresAt == nil || now.Before(*c.ExpiresAt)) && c.NoticeVersion >= pur.ReconsentBelow
	return Receipt{
		SchemaVersion: ReceiptSchemaVersion, ReceiptID: "urn:livingprofile:receipt:" + id, Timestamp: now.UTC().Truncate(time.Second),
		Language: lang, Controller: ReceiptParty{ID: tenant, Name: controller}, Subject: ReceiptSubject{ID: p.ID},
		Purposes: []ReceiptPurpose{rp}, Notice: n,
		Consent: ReceiptConsent{Status: c.Status, Active: active, Timestamp: c.UpdatedAt, CollectionMethod: collectionMethod(c.Source),
			Source: c.Source, Expiry: c.ExpiresAt, LedgerSeq: p.LedgerSeq, LedgerHead: p.LedgerHead},
	}
}

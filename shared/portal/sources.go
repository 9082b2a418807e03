package portal

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// The details page's "where your data came from" section (GDPR Art. 14(2)(f)): every
// identity, detail, consent and subscription with who supplied it, named in plain words,
// and when; and a form per identity that removes it.

// sourceRow is one piece of the person's data with its source.
type sourceRow struct {
	ID          string // the row's element id, which the error summary links to
	Label       string // what it is: an identity type, an attribute, a purpose, a topic
	Value       string
	Source, At  string
	Identity    string // Identity.String of an identity row that may be removed ("" none)
	RemoveLabel string
}

type sourcesData struct {
	Identities, Attributes, Consents, Subscriptions []sourceRow
	// OnlyIdentity says the person has one identity, which cannot be removed.
	OnlyIdentity bool
}

// sourceText names who supplied a value, in the page language: a synced system by its id,
// the brand's systems through the API, the person in this portal (or their browser's
// privacy signal, or an email's unsubscribe link), the brand's staff, or the service itself.
// A value recorded before the service kept its source has a zero actor.
func (r *rc) sourceText(a ledger.Actor) string {
	switch {
	case a == GPCActor:
		return r.t("source.gpc")
	case a == OneClickActor:
		return r.t("source.oneClick")
	case a.Kind == ledger.ActorPortal:
		return r.t("source.portal")
	case a.Kind == ledger.ActorAPIKey:
		return r.t("source.api", r.theme.Name)
	case a.Kind == ledger.ActorSync:
		return r.t("source.sync", profile.SourceName(a), r.theme.Name)
	case a.Kind == ledger.ActorOperator:
		return r.t("source.operator", r.theme.Name)
	case a.Kind == ledger.ActorSystem:
		return r.t("source.system")
	case a.Kind == "":
		return r.t("source.unknown")
	}
	return r.t("source.other")
}

// sourceDate is a provenance date in the page language, or "not recorded".
func (r *rc) sourceDate(t time.Time) string {
	if t.IsZero() {
		return r.t("source.unknown")
	}
	return date(r.lang, t)
}

// sourcesData lists the person's data with its sources, in the order the overview uses.
func (r *rc) sourcesData() sourcesData {
	pr := r.prof
	d := sourcesData{OnlyIdentity: len(pr.Identities) == 1}
	for i, id := range pr.Identities {
		pv := pr.IdentitySources[id.String()]
		row := sourceRow{ID: identityRowID(i), Label: r.identityLabel(id.Type), Value: id.Value,
			Source: r.sourceText(pv.Source), At: r.sourceDate(pv.At)}
		if !d.OnlyIdentity {
			row.Identity, row.RemoveLabel = id.String(), r.t("sources.removeThis", r.identityLabel(id.Type), id.Value)
		}
		d.Identities = append(d.Identities, row)
	}
	for _, name := range attributeOrder(r.cat, pr) {
		d.Attributes = append(d.Attributes, sourceRow{Label: r.attributeLabel(name), Value: r.attributeValue(name, pr.Attributes[name]),
			Source: r.sourceText(pr.AttributeSources[name]), At: r.sourceDate(pr.AttributeTimes[name])})
	}
	for _, id := range slices.Sorted(maps.Keys(pr.Consents)) {
		c := pr.Consents[id]
		d.Consents = append(d.Consents, sourceRow{Label: r.purposeName(id), Value: r.consentStatus(c, id),
			Source: r.sourceText(c.Source), At: r.sourceDate(c.UpdatedAt)})
	}
	for _, id := range slices.Sorted(maps.Keys(pr.Subscriptions)) {
		s := pr.Subscriptions[id]
		d.Subscriptions = append(d.Subscriptions, sourceRow{Label: r.topicName(id), Value: r.t("sub." + string(s.Status)),
			Source: r.sourceText(s.Source), At: r.sourceDate(s.UpdatedAt)})
	}
	return d
}

// identityRowID is the element id of the i-th identity's row.
func identityRowID(i int) string { return "identity-" + strconv.Itoa(i+1) }

// removeIdentity serves POST /portal/{tenant}/details/identities: identity=<type:value>, one
// of the person's identities, is removed through the profile use case with the person as
// actor, so the ledger records it. The session stays open: it belongs to the profile, not
// to the address the person signed in with, and the notice tells them to sign in next time
// with an identity still on the profile. An identity the profile no longer holds (a second
// click) changes nothing; the last identity is refused by the domain (Conflict), answered
// 409 with the details page and the reason next to the identity.
func (p *Portal) removeIdentity(r *rc) (*result, error) {
	if r.method != http.MethodPost {
		return nil, errMethod
	}
	if err := r.checkCSRF(); err != nil {
		return nil, err
	}
	want := r.form.Get("identity")
	i := slices.IndexFunc(r.prof.Identities, func(id profile.Identity) bool { return id.String() == want })
	if i < 0 {
		return r.redirectTo("/details", "nothing"), nil
	}
	id := r.prof.Identities[i]
	_, err := p.cfg.Profiles.UpdateProfile(r.ctx, r.tenant, r.prof.ID,
		app.Patch{RemoveIdentities: []app.IdentityInput{{Type: id.Type, Value: id.Value}}}, r.write())
	if errs.CodeOf(err) == errs.Conflict {
		res := r.detailsPage(http.StatusConflict, nil, nil)
		res.view.Errors = []fieldError{{Field: identityRowID(i), Message: r.t("sources.lastIdentity")}}
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	return r.redirectTo("/details", "identity_removed"), nil
}

// isIdentitiesRoute reports whether the request is the identity-removal form's.
func (r *rc) isIdentitiesRoute() bool {
	return strings.HasSuffix(r.ev.RawPath, "/details/identities") || strings.HasSuffix(r.ev.RouteKey, "/details/identities")
}

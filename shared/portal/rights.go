package portal

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/portal/linktoken"
	"github.com/livingprofile/livingprofile/shared/portal/session"
	"github.com/livingprofile/livingprofile/shared/profile"
)

type objectionChoice struct {
	ID, Name, Hint string
	Objected       bool
}

type rightsData struct {
	Requests        *requestTable
	CanRequest      bool
	Restricted      bool
	AutomatedOptOut bool
	// Purposes are those the person may object to (catalog.Purpose.Objectable);
	// ConsentPurposes names the consent-based ones, which are withdrawn instead.
	Purposes        []objectionChoice
	ConsentPurposes string
}

// FreshSignIn is how recent an emailed sign-in must be for an erasure from the portal.
const FreshSignIn = 10 * time.Minute

// nextPages are the pages an emailed login link may bring the person back to.
var nextPages = map[string]string{"erase": "/rights/erase", "rights": "/rights"}

// emailSignedIn reports whether the session was opened by an emailed sign-in link, within
// the last within when it is not zero. A brand's portal link proves only that its holder
// has the brand's email; the emailed link proves the person controls their address now.
func (r *rc) emailSignedIn(within time.Duration) bool {
	if r.sess == nil || r.sess.Via != session.ViaLogin {
		return false
	}
	return within == 0 || r.p.now().Sub(time.Unix(r.sess.IssuedAt, 0)) <= within
}

// verification is how the person making a request in the portal proved who they are.
func (r *rc) verification() dsr.Verification {
	if r.emailSignedIn(0) {
		return dsr.PortalEmailSignIn
	}
	return dsr.PortalBrandLink
}

// reauth sends the person to sign in again by email, coming back to next.
func (r *rc) reauth(next string) *result {
	return &result{redirect: r.base() + "/login?next=" + next}
}

type eraseData struct{ Error string }

// Rights serves GET and POST /portal/{tenant}/rights and /portal/{tenant}/rights/erase.
//
// The rights page lists the person's data-subject requests (type, status, received, due
// date, and a download link once an export is ready) and lets them: ask for a copy of
// their data (action=export, type=access|portability), restrict processing or lift the
// restriction (action=restrict|lift_restriction), object per purpose (action=objections,
// object=<purpose>… — unticking lifts an objection), and opt out of automated decisions
// (action=automated, optout=on). Requests are created through the requests use case with
// verification verified_portal and the portal as source; restriction, objections and the
// opt-out also take effect on the profile at once. /rights/erase is the erasure request's
// separate confirmation page: its POST needs confirm=yes, else it answers 422 with the
// error next to the checkbox.
func (p *Portal) Rights() Handler {
	return p.serve(signedIn, func(r *rc) (*result, error) {
		r.nav = "rights"
		if strings.HasSuffix(r.ev.RawPath, "/rights/erase") || strings.HasSuffix(r.ev.RouteKey, "/rights/erase") {
			return p.erase(r)
		}
		r.self = r.base() + "/rights"
		switch r.method {
		case http.MethodGet:
			r.flash()
			return r.rightsPage()
		case http.MethodPost:
		default:
			return nil, errMethod
		}
		if err := r.checkCSRF(); err != nil {
			return nil, err
		}
		yes, no := true, false
		switch r.form.Get("action") {
		case "export":
			t := dsr.Type(r.form.Get("type"))
			if t != dsr.Access && t != dsr.Portability {
				return nil, errs.E(errs.Invalid, "unknown export type")
			}
			return r.request(t, "", nil)
		case "restrict":
			return r.request(dsr.Restriction, "", &profile.RightsInput{Restricted: &yes})
		case "lift_restriction":
			return r.request(dsr.RestrictionLift, "", &profile.RightsInput{Restricted: &no})
		case "automated":
			if r.form.Get("optout") == "on" {
				return r.request(dsr.AutomatedDecisionOptOut, "", &profile.RightsInput{AutomatedDecisionOptOut: &yes})
			}
			return r.changeRights(profile.RightsInput{AutomatedDecisionOptOut: &no}, "automated")
		case "objections":
			return r.objections()
		}
		return nil, errs.E(errs.Invalid, "unknown action")
	})
}

func (r *rc) rightsPage() (*result, error) {
	d := rightsData{CanRequest: r.p.cfg.Requests != nil, Restricted: r.prof.Rights.Restricted,
		AutomatedOptOut: r.prof.Rights.AutomatedDecisionOptOut}
	var err error
	if d.Requests, err = r.requestTable(); err != nil {
		return nil, err
	}
	var consent []string
	for _, pur := range r.cat.Purposes {
		_, objected := r.prof.Rights.Objections[pur.ID]
		name, _ := text(pur.Name, r.lang, r.cat)
		if !pur.Objectable() && !objected {
			if pur.LegalBasis == catalog.Consent {
				consent = append(consent, name)
			}
			continue
		}
		hint := r.t("rights.objectHint", r.legalBasis(pur.LegalBasis))
		if pur.DirectMarketing {
			hint += " " + r.t("rights.objectAbsolute")
		}
		d.Purposes = append(d.Purposes, objectionChoice{ID: pur.ID, Name: name, Hint: hint, Objected: objected})
	}
	d.ConsentPurposes = strings.Join(consent, ", ")
	return r.page(http.StatusOK, "rights", r.t("rights.title"), d), nil
}

// request records a data-subject request made in the portal, and applies an immediate
// one's effect to the profile (a no-op when the requests use case already did).
func (r *rc) request(t dsr.Type, purpose string, effect *profile.RightsInput) (*result, error) {
	done := "request_created"
	if r.p.cfg.Requests != nil {
		res, err := r.p.cfg.Requests.CreateRequest(r.ctx, r.tenant, app.RequestInput{
			ProfileID: r.prof.ID, Type: t, Purpose: purpose, Verification: r.verification(), Locale: r.requestLocale(),
			LinkBase: linktoken.BaseURL(r.p.cfg.BaseURL, r.ev.RequestContext.DomainName),
		}, app.RequestWrite{Actor: PersonActor, RequestID: r.requestID})
		if err != nil {
			return nil, err
		}
		if res.Duplicate {
			done = "request_duplicate"
		}
	} else if effect == nil {
		return nil, errs.E(errs.NotFound, "data-subject requests are not available")
	}
	switch t {
	case dsr.Restriction:
		done = "restricted"
	case dsr.RestrictionLift:
		done = "restriction_lifted"
	case dsr.AutomatedDecisionOptOut:
		done = "automated"
	case dsr.Objection:
		done = "objections"
	case dsr.Erasure:
		done = "erasure"
	}
	if effect != nil {
		if _, err := r.p.cfg.Profiles.UpdateProfile(r.ctx, r.tenant, r.prof.ID, app.Patch{Rights: effect}, r.write()); err != nil {
			return nil, err
		}
	}
	return r.redirectTo("/rights", done), nil
}

// requestLocale is the language of emails about a request: the page's, when the catalog
// has it.
func (r *rc) requestLocale() string {
	if r.cat.SupportsLocale(r.lang) {
		return r.lang
	}
	return ""
}

// changeRights changes the profile's rights directly (what has no request type: lifting
// an objection or the automated-decision opt-out).
func (r *rc) changeRights(in profile.RightsInput, done string) (*result, error) {
	if _, err := r.p.cfg.Profiles.UpdateProfile(r.ctx, r.tenant, r.prof.ID, app.Patch{Rights: &in}, r.write()); err != nil {
		return nil, err
	}
	return r.redirectTo("/rights", done), nil
}

// objections applies the posted set of objections: a new one is an objection request, a
// removed one is lifted on the profile.
func (r *rc) objections() (*result, error) {
	want := map[string]bool{}
	for _, id := range r.form["object"] {
		pur, ok := r.cat.Purpose(id)
		if !ok {
			return nil, errs.E(errs.Unprocessable, "unknown purpose")
		}
		if _, had := r.prof.Rights.Objections[id]; !had && !pur.Objectable() {
			return nil, errs.E(errs.Unprocessable, "this purpose takes no objection: withdraw its consent instead", errs.FieldError{Field: "object", Reason: "not a purpose based on legitimate interests or a public task, nor direct marketing"})
		}
		want[id] = true
	}
	lift := map[string]bool{}
	for id := range r.prof.Rights.Objections {
		if !want[id] {
			lift[id] = false
		}
	}
	var add []string
	for _, pur := range r.cat.Purposes {
		if _, had := r.prof.Rights.Objections[pur.ID]; want[pur.ID] && !had {
			add = append(add, pur.ID)
		}
	}
	if len(lift) > 0 {
		if _, err := r.changeRights(profile.RightsInput{Objections: lift}, "objections"); err != nil {
			return nil, err
		}
	}
	for _, id := range add {
		effect := &profile.RightsInput{Objections: map[string]bool{id: true}}
		if _, err := r.request(dsr.Objection, id, effect); err != nil {
			return nil, err
		}
	}
	if len(lift) == 0 && len(add) == 0 {
		return r.redirectTo("/rights", "nothing"), nil
	}
	return r.redirectTo("/rights", "objections"), nil
}

// erase is the erasure confirmation page and its POST.
func (p *Portal) erase(r *rc) (*result, error) {
	r.self = r.base() + "/rights/erase"
	if p.cfg.Requests == nil {
		return nil, errs.E(errs.NotFound, "data-subject requests are not available")
	}
	if !r.emailSignedIn(FreshSignIn) {
		// One checkbox in a session opened by a brand's link, or long ago, is not proof
		// enough to erase a person: they sign in again by email and come back here.
		return r.reauth("erase"), nil
	}
	title := r.t("erase.title")
	switch r.method {
	case http.MethodGet:
		return r.page(http.StatusOK, "erase", title, eraseData{}), nil
	case http.MethodPost:
	default:
		return nil, errMethod
	}
	if err := r.checkCSRF(); err != nil {
		return nil, err
	}
	if r.form.Get("confirm") != "yes" {
		msg := r.t("erase.confirmMissing")
		res := r.page(http.StatusUnprocessableEntity, "erase", title, eraseData{Error: msg})
		res.view.Errors = []fieldError{{Field: "confirm", Message: msg}}
		return res, nil
	}
	return r.request(dsr.Erasure, "", nil)
}

// Export serves GET /portal/{tenant}/exports/{id}: for the signed-in person's own
// completed access or portability request whose export has not expired, a 303 redirect to
// a download URL that works for Config.ExportLinkTTL (made by Config.Exports); anything
// else — another person's or tenant's request, no export yet, no Exports — is 404.
func (p *Portal) Export() Handler {
	return p.serve(readOnly, func(r *rc) (*result, error) {
		r.nav = "rights"
		if r.method != http.MethodGet {
			return nil, errMethod
		}
		id := r.ev.PathParameters["id"]
		r.self = r.base() + "/rights"
		if p.cfg.Requests == nil || p.cfg.Exports == nil || !app.ValidRequestID(id) {
			return nil, errs.E(errs.NotFound, "no such export")
		}
		if !r.emailSignedIn(0) {
			// The export is all of the person's data: only a session the person opened by
			// an emailed link downloads it, never one opened by a brand's link.
			return r.reauth("rights"), nil
		}
		q, err := p.cfg.Requests.GetRequest(r.ctx, r.tenant, id)
		if err != nil {
			return nil, err
		}
		if q.Tenant != r.tenant || q.ProfileID != r.prof.ID || q.Status != dsr.Completed || q.Export == nil ||
			q.Export.Key == "" || !p.now().Before(q.Export.ExpiresAt) || !slices.Contains([]dsr.Type{dsr.Access, dsr.Portability}, q.Type) {
			return nil, errs.E(errs.NotFound, "no such export")
		}
		u, err := p.cfg.Exports.ExportURL(r.ctx, q.Export.Key, p.cfg.ExportLinkTTL, "export-"+q.ID+".zip")
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return nil, errors.New("export URL is not http(s)")
		}
		return &result{external: u}, nil
	})
}

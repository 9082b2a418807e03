package portal

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// GPCLastUpdate is the date of the portal's /.well-known/gpc.json statement.
const GPCLastUpdate = "2026-11-28"

// GPCPurposes lists the catalog's purposes a Global Privacy Control signal opts out of:
// those marked saleOrSharing.
func GPCPurposes(cat *catalog.Catalog) []string {
	var out []string
	for _, p := range cat.Purposes {
		if p.SaleOrSharing {
			out = append(out, p.ID)
		}
	}
	return out
}

// honourGPC records, once per profile, an objection to the GPC purposes when the browser
// sends Sec-GPC: 1, and tells the person on the page. "Once": a purpose is objected to the
// first time the signal is seen for it (PutPortalGPC remembers which), so a person who later
// lifts the objection in the portal keeps that choice. The change is in the ledger with
// GPCActor. Pages that never write the profile (write false) only tell, and only when the
// objections are in place; every session begins on a page that writes (the overview, or
// the subscriptions page for a topic link), so the signal is honoured there first.
func (p *Portal) honourGPC(r *rc, write bool) error {
	if strings.TrimSpace(r.header("sec-gpc")) != "1" {
		return nil
	}
	purposes := GPCPurposes(r.cat)
	if len(purposes) == 0 {
		return nil
	}
	names := make([]string, len(purposes))
	objected := true
	for i, id := range purposes {
		names[i] = r.purposeName(id)
		_, ok := r.prof.Rights.Objections[id]
		objected = objected && ok
	}
	if !write {
		if objected {
			r.notices = append(r.notices, r.t("gpc.notice", strings.Join(names, ", ")))
		}
		return nil
	}
	r.notices = append(r.notices, r.t("gpc.notice", strings.Join(names, ", ")))
	if r.sess.GPC {
		return nil
	}
	done, err := p.cfg.Store.PortalGPC(r.ctx, r.tenant, r.prof.ID)
	if err != nil {
		return err
	}
	objections := map[string]bool{}
	for _, id := range purposes {
		if _, already := r.prof.Rights.Objections[id]; !slices.Contains(done, id) && !already {
			objections[id] = true
		}
	}
	if len(objections) > 0 {
		res, err := p.cfg.Profiles.UpdateProfile(r.ctx, r.tenant, r.prof.ID,
			app.Patch{Rights: &profile.RightsInput{Objections: objections}},
			app.Write{Actor: GPCActor, RequestID: r.requestID, Current: r.prof})
		if err != nil {
			return err
		}
		r.prof = res.Profile
	}
	if len(objections) > 0 || !containsAll(done, purposes) {
		all := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(done), purposes...))))
		if err := p.cfg.Store.PutPortalGPC(r.ctx, r.tenant, r.prof.ID, all, p.now()); err != nil {
			return err
		}
	}
	r.sess.GPC = true
	return nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// GPCHandler serves GET /.well-known/gpc.json: the site's Global Privacy Control support
// statement, {"gpc": true, "lastUpdate": GPCLastUpdate}. It needs no storage.
func GPCHandler() Handler {
	body, _ := json.Marshal(map[string]any{"gpc": true, "lastUpdate": GPCLastUpdate})
	return func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		h := map[string]string{
			"Content-Type":                "application/json",
			"Cache-Control":               "public, max-age=86400",
			"X-Content-Type-Options":      "nosniff",
			"Access-Control-Allow-Origin": "*",
			"Content-Security-Policy":     "default-src 'none'; frame-ancestors 'none'",
		}
		if m := ev.RequestContext.HTTP.Method; m != http.MethodGet && m != http.MethodHead {
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusMethodNotAllowed, Headers: map[string]string{"Allow": "GET, HEAD"}}, nil
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: h, Body: string(body)}, nil
	}
}

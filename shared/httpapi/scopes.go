package httpapi

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/livingprofile/livingprofile/shared/apikey"
)

// Scopes is the brand API's route table of permissions: for each route key of
// template.yaml, the scopes a key must carry, all of them (apikey.AllowsAll), before the
// route does anything. A route not in the table cannot be built. docs/api.md's scope matrix
// is rendered from it (RenderMatrix), and a test walks every route with every scope.
var Scopes = map[string][]apikey.Scope{
	"POST /v1/profiles":                           {apikey.Write},
	"GET /v1/profiles":                            {apikey.Read},
	"GET /v1/profiles/{id}":                       {apikey.Read},
	"PATCH /v1/profiles/{id}":                     {apikey.Write},
	"PUT /v1/profiles/{id}/consents/{purpose}":    {apikey.Write},
	"PUT /v1/profiles/{id}/subscriptions/{topic}": {apikey.Write},
	"POST /v1/consent-checks":                     {apikey.Read},
	"GET /v1/profiles/{id}/events":                {apikey.Read},
	"GET /v1/catalog":                             {apikey.Read},
	"PUT /v1/catalog":                             {apikey.Admin},
	// The records of processing are the catalog in Art. 30's columns: no one's personal data.
	"GET /v1/records-of-processing": {apikey.Read},
	// A portal link opens the person's portal as them: it shows their data, files requests
	// the portal stamps verified_portal and downloads their exports. So no other scope, not
	// even admin, mints one.
	"POST /v1/portal-links":             {apikey.PortalLinks},
	"POST /v1/sync":                     {apikey.Write},
	"POST /v1/webhooks":                 {apikey.Admin},
	"GET /v1/webhooks":                  {apikey.Admin},
	"DELETE /v1/webhooks/{id}":          {apikey.Admin},
	"POST /v1/webhooks/{id}/secret":     {apikey.Admin},
	"GET /v1/webhooks/{id}/deliveries":  {apikey.Admin},
	"POST /v1/webhooks/{id}/redrive":    {apikey.Admin},
	"POST /v1/requests":                 {apikey.Requests},
	"GET /v1/requests":                  {apikey.Requests},
	"GET /v1/requests/{id}":             {apikey.Requests},
	"POST /v1/requests/{id}/extension":  {apikey.Requests},
	"POST /v1/requests/{id}/cancel":     {apikey.Requests},
	"POST /v1/requests/{id}/completion": {apikey.Requests},
	"POST /v1/requests/{id}/denial":     {apikey.Requests},
	// Merging joins two people's data; a wrong merge discloses one to the other.
	"POST /v1/profiles/{id}/merges":           {apikey.Merge},
	"POST /v1/profiles/{id}/splits":           {apikey.Merge},
	"GET /v1/merge-candidates":                {apikey.Merge},
	"POST /v1/merge-candidates/{id}/decision": {apikey.Merge},
}

// ExportLinkScopes are what a key needs to receive the download link of a ready export in
// GET /v1/requests/{id}: an export is all the person's data, so managing requests is not
// enough; without read the request is shown without its link.
var ExportLinkScopes = []apikey.Scope{apikey.Requests, apikey.Read}

// Extra rows of the matrix: permissions inside a route, as matrix row name and scopes.
var matrixExtras = []struct {
	row   string
	need  []apikey.Scope
	notes string
}{
	{"GET /v1/requests/{id}: export download link", ExportLinkScopes, "without `read` the request is answered without `download`"},
	{"POST /v1/requests: attest that the brand verified the person", []apikey.Scope{apikey.Requests, apikey.Attest}, "without `attest`, a request that claims the brand verified the person is refused (403, field `verification`)"},
}

// scopesOf returns the scopes route key needs; a key missing from Scopes is a programming
// error, found by the first test that builds the route.
func scopesOf(key string) []apikey.Scope {
	need, ok := Scopes[key]
	if !ok || len(need) == 0 {
		panic(fmt.Sprintf("httpapi: route %q is not in the Scopes table", key))
	}
	return need
}

// RenderMatrix renders the scope × route matrix as a Markdown table: one row per route key
// (by path, then method) and per extra permission, one column per single scope; "✓" where a key with only
// that scope is allowed. The last column names what the route needs.
func RenderMatrix() string {
	var b strings.Builder
	b.WriteString("| Route |")
	for _, s := range apikey.AllScopes {
		fmt.Fprintf(&b, " `%s` |", s)
	}
	b.WriteString(" needs |\n|---|")
	for range apikey.AllScopes {
		b.WriteString(":-:|")
	}
	b.WriteString("---|\n")
	row := func(name string, need []apikey.Scope, notes string) {
		fmt.Fprintf(&b, "| `%s` |", name)
		for _, s := range apikey.AllScopes {
			mark := ""
			if apikey.AllowsAll([]apikey.Scope{s}, need) {
				mark = "✓"
			}
			fmt.Fprintf(&b, " %s |", mark)
		}
		parts := make([]string, len(need))
		for i, s := range need {
			parts[i] = "`" + string(s) + "`"
		}
		cell := strings.Join(parts, " + ")
		if notes != "" {
			cell += "; " + notes
		}
		fmt.Fprintf(&b, " %s |\n", cell)
	}
	keys := slices.Collect(maps.Keys(Scopes))
	slices.SortFunc(keys, func(a, b string) int {
		ma, pa, _ := strings.Cut(a, " ")
		mb, pb, _ := strings.Cut(b, " ")
		return cmp.Or(strings.Compare(pa, pb), strings.Compare(ma, mb))
	})
	for _, k := range keys {
		row(k, Scopes[k], "")
	}
	for _, x := range matrixExtras {
		row(x.row, x.need, x.notes)
	}
	return b.String()
}

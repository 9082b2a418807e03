package httpapi_test

import (
	"context"
	"flag"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/template"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/httpapi"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

var update = flag.Bool("update", false, "rewrite docs/api.md's scope matrix from httpapi.Scopes")

// handlers builds every brand route's handler, by route key.
var handlers = map[string]func(*httpapi.API) httpapi.Handler{
	"POST /v1/profiles":                           (*httpapi.API).CreateProfile,
	"GET /v1/profiles":                            (*httpapi.API).FindProfile,
	"GET /v1/profiles/{id}":                       (*httpapi.API).GetProfile,
	"PATCH /v1/profiles/{id}":                     (*httpapi.API).UpdateProfile,
	"PUT /v1/profiles/{id}/consents/{purpose}":    (*httpapi.API).PutConsent,
	"PUT /v1/profiles/{id}/subscriptions/{topic}": (*httpapi.API).PutSubscription,
	"POST /v1/consent-checks":                     (*httpapi.API).CheckConsent,
	"GET /v1/profiles/{id}/events":                (*httpapi.API).ListEvents,
	"GET /v1/catalog":                             (*httpapi.API).GetCatalog,
	"PUT /v1/catalog":                             (*httpapi.API).PutCatalog,
	"GET /v1/records-of-processing":               (*httpapi.API).RecordsOfProcessing,
	"POST /v1/portal-links":                       (*httpapi.API).PortalLinks,
	"POST /v1/sync":                               (*httpapi.API).Sync,
	"POST /v1/webhooks":                           (*httpapi.API).CreateWebhook,
	"GET /v1/webhooks":                            (*httpapi.API).ListWebhooks,
	"DELETE /v1/webhooks/{id}":                    (*httpapi.API).DeleteWebhook,
	"POST /v1/webhooks/{id}/secret":               (*httpapi.API).RotateWebhookSecret,
	"GET /v1/webhooks/{id}/deliveries":            (*httpapi.API).ListWebhookDeliveries,
	"POST /v1/webhooks/{id}/redrive":              (*httpapi.API).RedriveWebhookDeliveries,
	"POST /v1/requests":                           (*httpapi.API).CreateRequest,
	"GET /v1/requests":                            (*httpapi.API).ListRequests,
	"GET /v1/requests/{id}":                       (*httpapi.API).GetRequest,
	"POST /v1/requests/{id}/extension":            (*httpapi.API).ExtendRequest,
	"POST /v1/requests/{id}/cancel":               (*httpapi.API).CancelRequest,
	"POST /v1/requests/{id}/completion":           (*httpapi.API).CompleteRequest,
	"POST /v1/requests/{id}/denial":               (*httpapi.API).DenyRequest,
	"POST /v1/profiles/{id}/merges":               (*httpapi.API).MergeProfiles,
	"POST /v1/profiles/{id}/splits":               (*httpapi.API).SplitProfile,
	"GET /v1/merge-candidates":                    (*httpapi.API).ListMergeCandidates,
	"POST /v1/merge-candidates/{id}/decision":     (*httpapi.API).DecideMergeCandidate,
}

// TestScopesCoverTemplate: the route table names exactly the brand routes of template.yaml,
// so no route is built without a scope rule and no rule is left for a route that is gone.
func TestScopesCoverTemplate(t *testing.T) {
	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var brand []string
	for _, fn := range tpl.Functions {
		for _, r := range fn.Routes {
			if r.Authorizer != "NONE" && strings.HasPrefix(r.Path, "/v1/") {
				brand = append(brand, r.Key())
			}
		}
	}
	slices.Sort(brand)
	if got := slices.Sorted(maps.Keys(httpapi.Scopes)); !slices.Equal(got, brand) {
		t.Errorf("httpapi.Scopes has routes\n%v\ntemplate.yaml's brand routes are\n%v", got, brand)
	}
	if got := slices.Sorted(maps.Keys(handlers)); !slices.Equal(got, brand) {
		t.Errorf("the test's handlers cover\n%v\nwant\n%v", got, brand)
	}
}

// TestScopeMatrixDoc: docs/api.md shows the matrix the route table makes (-update rewrites it).
func TestScopeMatrixDoc(t *testing.T) {
	const path, begin, end = "../../docs/api.md", "<!-- scope-matrix:begin -->\n", "<!-- scope-matrix:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", path, begin, end)
	}
	want := httpapi.RenderMatrix()
	if got := doc[i+len(begin) : j]; got != want {
		if *update {
			if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/api.md's scope matrix differs from httpapi.Scopes; run go test ./shared/httpapi -run TestScopeMatrixDoc -update\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestScopeWalk calls every brand route with a key of every single scope, and with a key of
// none, and expects 403 exactly where the matrix has no "✓". The requests carry no body and
// ids that do not exist, so an allowed call stops at its input (400, 404, 415) and changes
// nothing; what matters is that the scope check, which runs first, let it through.
func TestScopeWalk(t *testing.T) {
	a := api().WithWebhooks(app.NewWebhooks(env.store, time.Now, true), nil)
	params := map[string]string{"id": "x", "purpose": "marketing", "topic": "newsletter"}
	keys := append([][]apikey.Scope{nil}, func() (out [][]apikey.Scope) {
		for _, s := range apikey.AllScopes {
			out = append(out, []apikey.Scope{s})
		}
		return out
	}()...)
	for _, route := range slices.Sorted(maps.Keys(handlers)) {
		h := handlers[route](a)
		need := httpapi.Scopes[route]
		for _, granted := range keys {
			name := route + " with " + apikey.FormatScopes(granted)
			if granted == nil {
				name = route + " with no scope"
			}
			t.Run(name, func(t *testing.T) {
				resp := invoke(t, h, req{tenant: tenant, scopes: granted, params: params})
				allowed := apikey.AllowsAll(granted, need)
				switch {
				case !allowed && resp.StatusCode != 403:
					t.Errorf("status %d, want 403 (route needs %v): %s", resp.StatusCode, need, resp.Body)
				case allowed && (resp.StatusCode == 403 || resp.StatusCode == 401 || resp.StatusCode >= 500):
					t.Errorf("status %d, want the route to run (it needs %v): %s", resp.StatusCode, need, resp.Body)
				}
			})
		}
	}
}

// TestExportLinkNeedsRead: GET /v1/requests/{id} of a ready export shows the download link
// only to a key that has read as well as requests.
func TestExportLinkNeedsRead(t *testing.T) {
	ctx := context.Background()
	p := newPerson(t, tenant)
	res, err := env.svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: p.ID, Type: dsr.Access, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"},
		app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Request
	prior := r.Prior()
	r.Version++
	r.Export = &dsr.Export{Key: tenant + "/" + p.ID + "/" + r.ID + ".zip", Bytes: 1, ExpiresAt: time.Now().Add(24 * time.Hour)}
	if err := env.store.SaveRequest(ctx, r, prior); err != nil {
		t.Fatal(err)
	}
	presign := func(_ context.Context, key string, ttl time.Duration, _ string) (string, time.Time, error) {
		return "https://exports.example/" + key, time.Now().Add(ttl), nil
	}
	h := api().WithExportLinks(presign, time.Minute).GetRequest()
	tests := []struct {
		scopes []apikey.Scope
		link   bool
	}{
		{[]apikey.Scope{apikey.Requests}, false},
		{[]apikey.Scope{apikey.Requests, apikey.Read}, true},
		{[]apikey.Scope{apikey.Admin}, true},
	}
	for _, tt := range tests {
		t.Run(apikey.FormatScopes(tt.scopes), func(t *testing.T) {
			resp := invoke(t, h, req{tenant: tenant, scopes: tt.scopes, params: map[string]string{"id": r.ID}})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			if got := strings.Contains(resp.Body, `"download"`); got != tt.link {
				t.Errorf("download link shown: %v, want %v: %s", got, tt.link, resp.Body)
			}
			if !strings.Contains(resp.Body, `"export"`) {
				t.Errorf("the export itself should show either way: %s", resp.Body)
			}
		})
	}
}

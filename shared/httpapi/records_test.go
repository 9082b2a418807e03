package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/apikey"
)

// TestRecordsOfProcessing: the records are JSON by default, CSV or HTML by Accept or
// ?format= (which wins), in the catalog's default locale or ?lang=, with the catalog's
// ETag; a format the route does not take is a 400 naming it, a language the catalog lacks a 422.
func TestRecordsOfProcessing(t *testing.T) {
	h := api().RecordsOfProcessing()
	read := []apikey.Scope{apikey.Read}
	tests := []struct {
		name     string
		query    map[string]string
		accept   string
		wantType string
		want     string
	}{
		{"default", nil, "", "application/json", `"dataSubjects":["customers"]`},
		{"accept csv", nil, "text/csv", "text/csv; charset=utf-8", "Purpose (Art. 30(1)(b))"},
		{"accept html, weighted", nil, "application/xhtml+xml, text/html;q=0.9", "text/html; charset=utf-8", "<th scope=\"row\">Marketing communication"},
		{"format wins over accept", map[string]string{"format": "csv"}, "text/html", "text/csv; charset=utf-8", "Email delivery provider (processor, US)"},
		{"polish", map[string]string{"format": "html", "lang": "pl"}, "", "text/html; charset=utf-8", "Rejestr czynności przetwarzania"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, h, req{tenant: tenant, scopes: read, query: tt.query, headers: map[string]string{"accept": tt.accept}})
			if resp.StatusCode != 200 || resp.Headers["Content-Type"] != tt.wantType {
				t.Fatalf("status %d, Content-Type %q; want 200 %q: %s", resp.StatusCode, resp.Headers["Content-Type"], tt.wantType, resp.Body)
			}
			if !strings.Contains(resp.Body, tt.want) {
				t.Errorf("body lacks %q:\n%s", tt.want, resp.Body)
			}
			if resp.Headers["ETag"] == "" {
				t.Error("no ETag")
			}
		})
	}
	resp := invoke(t, h, req{tenant: tenant, scopes: read})
	var rs struct {
		Controller struct{ Name string } `json:"controller"`
		Records    []struct {
			Purpose string `json:"purpose"`
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &rs); err != nil || rs.Controller.Name == "" || len(rs.Records) != 5 {
		t.Errorf("records = %+v, %v; want the demo catalog's controller and five purposes", rs, err)
	}
	// A well-formed language the catalog lacks is a field the state cannot take (422).
	for _, bad := range []struct {
		q      map[string]string
		status int
	}{{map[string]string{"format": "xml"}, 400}, {map[string]string{"lang": "de"}, 422}, {map[string]string{"sort": "name"}, 400}} {
		resp := invoke(t, h, req{tenant: tenant, scopes: read, query: bad.q})
		var field string
		for k := range bad.q {
			field = k
		}
		if resp.StatusCode != bad.status || !strings.Contains(resp.Body, `"field":"`+field+`"`) {
			t.Errorf("%v: %d %s; want %d naming %s", bad.q, resp.StatusCode, resp.Body, bad.status, field)
		}
	}
	if resp := invoke(t, h, req{tenant: tenant, scopes: []apikey.Scope{apikey.Requests}}); resp.StatusCode != 403 {
		t.Errorf("without read: %d", resp.StatusCode)
	}
}

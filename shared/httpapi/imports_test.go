package httpapi_test

import (
	"testing"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/httpapi"
)

// The import routes join the scope walk. Its calls stop at their input (no body, an id
// that cannot exist) before the use case, so they need none.
func init() {
	var none *app.Importer
	handlers["POST /v1/imports"] = func(a *httpapi.API) httpapi.Handler { return a.CreateImport(none) }
	handlers["POST /v1/imports/{id}/start"] = func(a *httpapi.API) httpapi.Handler { return a.StartImport(none) }
	handlers["GET /v1/imports/{id}"] = func(a *httpapi.API) httpapi.Handler { return a.GetImport(none) }
}

// TestDecodeSyncChange: an import row is read exactly as a change of POST /v1/sync.
func TestDecodeSyncChange(t *testing.T) {
	for _, tc := range []struct {
		name, doc, field string // field "" for a document that reads
	}{
		{"a change", `{"identity":{"type":"email","value":"a@example.com"},"occurredAt":"2026-11-28T12:00:00Z","consents":{"marketing":{"status":"granted","noticeVersion":2}}}`, ""},
		{"unknown field", `{"identity":{"type":"email","value":"a@example.com"},"colour":"red"}`, "colour"},
		{"wrong type", `{"consents":{"marketing":{"status":"granted","noticeVersion":"2"}}}`, "consents.marketing.noticeVersion"},
		{"duplicate key", `{"occurredAt":"2026-11-28T12:00:00Z","occurredAt":"2026-11-28T12:00:00Z"}`, "occurredAt"},
		{"not JSON", `{"identity":`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := httpapi.DecodeSyncChange([]byte(tc.doc))
			if tc.name == "a change" {
				if err != nil || c.Identity == nil || c.Consents["marketing"].NoticeVersion != 2 || c.OccurredAt.IsZero() {
					t.Fatalf("decoded %+v, %v", c, err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid {
				t.Fatalf("error %v, want Invalid", err)
			}
			if tc.field != "" && e.Fields[0].Field != tc.field {
				t.Errorf("field %q, want %q", e.Fields[0].Field, tc.field)
			}
		})
	}
}

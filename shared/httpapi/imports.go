package httpapi

import (
	"context"
	"time"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/jsonin"
)

// The import routes' rows of the Scopes table, kept here so that the table's other rows
// change without touching these.
func init() {
	Scopes["POST /v1/imports"] = []apikey.Scope{apikey.Write}
	Scopes["POST /v1/imports/{id}/start"] = []apikey.Scope{apikey.Write}
	Scopes["GET /v1/imports/{id}"] = []apikey.Scope{apikey.Write}
}

// DecodeSyncChange reads one sync change document (as in POST /v1/sync's changes, the id
// optional) by the rules of package jsonin: a refusal is Invalid, naming the field path
// within the change. Imports read their rows with it.
func DecodeSyncChange(doc []byte) (app.SyncChange, error) {
	var c syncChangeBody
	if err := jsonin.Decode(doc, &c); err != nil {
		if e, ok := err.(*jsonin.Error); ok {
			return app.SyncChange{}, errs.Field(e.Path, e.Reason)
		}
		return app.SyncChange{}, err
	}
	return syncBody{Changes: []syncChangeBody{c}}.input().Changes[0], nil
}

type createImportBody struct {
	Format   string `json:"format"`
	Source   string `json:"source"`
	Webhooks bool   `json:"webhooks"`
	Name     string `json:"name"`
}

type uploadView struct {
	Method    string    `json:"method"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func importID(r *request) (string, error) {
	id := r.ev.PathParameters["id"]
	if !app.ValidImportID(id) {
		return "", errs.E(errs.NotFound, "import not found")
	}
	return id, nil
}

// CreateImport serves POST /v1/imports: a new import awaiting its file, with the presigned
// URL to PUT the file to (201). An Idempotency-Key replays the first answer verbatim, upload
// URL included (which works for 15 minutes from the first answer).
func (a *API) CreateImport(x *app.Importer) Handler {
	return route{api: a, key: "POST /v1/imports", hasBody: true, maxBody: smallBody, idempotent: true,
		serve: func(ctx context.Context, r *request) (*response, error) {
			var b createImportBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			im, up, err := x.Create(ctx, r.tenant, app.CreateImport{Format: b.Format, Source: b.Source, Webhooks: b.Webhooks, Name: b.Name})
			if err != nil {
				return nil, err
			}
			a.log.InfoContext(ctx, "import created", "requestId", r.requestID, "tenant", r.tenant, "import", im.ID, "format", im.Format, "source", im.Source)
			body := map[string]any{"import": im, "upload": uploadView{Method: "PUT", URL: up.URL, ExpiresAt: up.ExpiresAt.UTC()}}
			resp := &response{status: 201, body: body, headers: map[string]string{"Location": "/v1/imports/" + im.ID}}
			return resp, r.remember(ctx, a, resp)
		}}.handler()
}

// StartImport serves POST /v1/imports/{id}/start: the uploaded file is queued (202). A CSV
// header that cannot be read fails the import (422 naming the column).
func (a *API) StartImport(x *app.Importer) Handler {
	return route{api: a, key: "POST /v1/imports/{id}/start", serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := importID(r)
		if err != nil {
			return nil, err
		}
		im, err := x.Start(ctx, r.tenant, id)
		if err != nil {
			return nil, err
		}
		a.log.InfoContext(ctx, "import started", "requestId", r.requestID, "tenant", r.tenant, "import", im.ID, "status", string(im.Status), "bytes", im.Size)
		return &response{status: 202, body: im}, nil
	}}.handler()
}

// GetImport serves GET /v1/imports/{id}: status, counts, rate, ETA and error report links.
func (a *API) GetImport(x *app.Importer) Handler {
	return route{api: a, key: "GET /v1/imports/{id}", serve: func(ctx context.Context, r *request) (*response, error) {
		id, err := importID(r)
		if err != nil {
			return nil, err
		}
		v, err := x.Get(ctx, r.tenant, id)
		if err != nil {
			return nil, err
		}
		return &response{status: 200, body: v}, nil
	}}.handler()
}

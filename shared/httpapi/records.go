package httpapi

import (
	"context"
	"encoding/json"
	"mime"
	"strings"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/transparency"
)

// RecordsOfProcessing serves GET /v1/records-of-processing: the tenant's records of
// processing activities (Art. 30(1)) generated from its catalog, as JSON, CSV or HTML. It
// takes the read scope, as GET /v1/catalog does: the records say nothing the catalog does
// not, and hold no one's personal data.
func (a *API) RecordsOfProcessing() Handler {
	return route{api: a, key: "GET /v1/records-of-processing", query: []string{"format", "lang"},
		serve: func(ctx context.Context, r *request) (*response, error) {
			format, err := recordsFormat(r)
			if err != nil {
				return nil, err
			}
			c, err := a.app.Catalog(ctx, r.tenant)
			if err != nil {
				return nil, err
			}
			lang := c.DefaultLocale
			if l, ok := r.ev.QueryStringParameters["lang"]; ok {
				if !c.SupportsLocale(l) {
					return nil, errs.Unmet("lang", "must be one of the catalog's locales")
				}
				lang = l
			}
			rs := transparency.RecordsOf(transparency.Build(c, lang))
			h := map[string]string{"ETag": etag(int64(c.Version)), "Content-Language": lang, "Vary": "Accept"}
			switch format {
			case "csv":
				b, err := rs.CSV()
				if err != nil {
					return nil, err
				}
				h["Content-Disposition"] = `attachment; filename="records-of-processing.csv"`
				return &response{status: 200, raw: b, contentType: "text/csv; charset=utf-8", headers: h}, nil
			case "html":
				h["Content-Security-Policy"] = transparency.RecordsCSP()
				return &response{status: 200, raw: rs.HTML(), contentType: "text/html; charset=utf-8", headers: h}, nil
			}
			b, err := json.Marshal(rs)
			if err != nil {
				return nil, err
			}
			return &response{status: 200, raw: b, contentType: "application/json", headers: h}, nil
		}}.handler()
}

// recordsFormat is ?format= (json, csv, html), else the first of those the Accept header
// names, else JSON.
func recordsFormat(r *request) (string, error) {
	if f, ok := r.ev.QueryStringParameters["format"]; ok {
		switch f {
		case "json", "csv", "html":
			return f, nil
		}
		return "", errs.Field("format", "must be one of json, csv, html")
	}
	for _, part := range strings.Split(r.header("accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			return "json", nil
		case "text/csv":
			return "csv", nil
		case "text/html":
			return "html", nil
		}
	}
	return "json", nil
}

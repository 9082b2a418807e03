package httpapi

import (
	"context"
	"strconv"

	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/retention"
)

func init() {
	Scopes["GET /v1/retention-runs"] = []apikey.Scope{apikey.Admin}
}

// RetentionRuns reads a tenant's retention reports; *dynamo.Store implements it.
type RetentionRuns interface {
	RetentionRuns(ctx context.Context, tenant string, limit int) ([]retention.Run, error)
}

// retentionRunsView is the answer of GET /v1/retention-runs.
type retentionRunsView struct {
	Runs []retention.Run `json:"runs"`
}

// ListRetentionRuns serves GET /v1/retention-runs: the latest retention runs' reports,
// newest first: what each dry run found due and what each enforced run did.
func (a *API) ListRetentionRuns(runs RetentionRuns) Handler {
	return route{api: a, key: "GET /v1/retention-runs", query: []string{"limit"}, serve: func(ctx context.Context, r *request) (*response, error) {
		limit := 20
		if v, ok := r.ev.QueryStringParameters["limit"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return nil, errs.Field("limit", "must be a whole number from 1 to 100")
			}
			limit = n
		}
		list, err := runs.RetentionRuns(ctx, r.tenant, limit)
		if err != nil {
			return nil, err
		}
		return &response{status: 200, body: retentionRunsView{Runs: list}}, nil
	}}.handler()
}

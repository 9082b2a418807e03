package httpapi

import (
	"context"
	"strconv"
	"strings"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
)

type mergeBody struct {
	ProfileID string `json:"profileId"`
}

type splitBody struct {
	MergeID string `json:"mergeId"`
}

// mergeResponse renders a merge or split: the survivor (with its ETag), the merge id and,
// for a split, the restored profile.
func mergeResponse(res app.MergeResult) *response {
	return &response{status: 200, body: res, headers: map[string]string{"ETag": etag(res.Profile.Version)}}
}

// MergeProfiles serves POST /v1/profiles/{id}/merges: the profile absorbs another.
func (a *API) MergeProfiles() Handler {
	return mergeWrite(a, "POST /v1/profiles/{id}/merges", func(ctx context.Context, r *request, id string, b mergeBody, w app.Write) (app.MergeResult, error) {
		if !app.ValidProfileID(b.ProfileID) {
			return app.MergeResult{}, errs.Field("profileId", "is required: the id of the profile to absorb")
		}
		return a.app.MergeProfiles(ctx, r.tenant, id, b.ProfileID, w)
	})
}

// SplitProfile serves POST /v1/profiles/{id}/splits: a merge of the profile is undone.
func (a *API) SplitProfile() Handler {
	return mergeWrite(a, "POST /v1/profiles/{id}/splits", func(ctx context.Context, r *request, id string, b splitBody, w app.Write) (app.MergeResult, error) {
		if !app.ValidMergeID(b.MergeID) {
			return app.MergeResult{}, errs.Field("mergeId", "is required: the id of a merge this profile absorbed")
		}
		return a.app.SplitProfile(ctx, r.tenant, id, b.MergeID, w)
	})
}

// mergeWrite is the shape of a merge and a split: the {id} path parameter, optional
// If-Match, a strict JSON body of type B, and the merge result as answer.
func mergeWrite[B any](a *API, key string, call func(ctx context.Context, r *request, id string, b B, w app.Write) (app.MergeResult, error)) Handler {
	return route{api: a, key: key, hasBody: true, maxBody: smallBody, idempotent: true, replayed: replayAs(mergeResponse),
		serve: func(ctx context.Context, r *request) (*response, error) {
			id, err := profileID(r)
			if err != nil {
				return nil, err
			}
			ifMatch, err := r.ifMatch()
			if err != nil {
				return nil, err
			}
			var b B
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			res, err := call(ctx, r, id, b, r.write(ifMatch))
			if err != nil {
				return nil, err
			}
			return mergeResponse(res), nil
		}}.handler()
}

// ListMergeCandidates serves GET /v1/merge-candidates.
func (a *API) ListMergeCandidates() Handler {
	return route{api: a, key: "GET /v1/merge-candidates", query: []string{"status", "limit", "cursor"}, serve: func(ctx context.Context, r *request) (*response, error) {
		q := r.ev.QueryStringParameters
		limit := 0
		if v, ok := q["limit"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, errs.Field("limit", "must be a whole number from 1")
			}
			limit = n
		}
		cursor, ok := q["cursor"]
		if ok && cursor == "" {
			return nil, errs.Unmet("cursor", "is not a cursor from this API")
		}
		cands, next, err := a.app.ListCandidates(ctx, r.tenant, app.CandidateStatus(q["status"]), cursor, limit)
		if err != nil {
			return nil, err
		}
		body := struct {
			Candidates []app.Candidate `json:"candidates"`
			Cursor     string          `json:"cursor,omitempty"`
		}{cands, next}
		return &response{status: 200, body: body}, nil
	}}.handler()
}

type decisionBody struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason" jsonin:"text"`
}

// DecideMergeCandidate serves POST /v1/merge-candidates/{id}/decision: accept (merge) or
// reject an open candidate.
func (a *API) DecideMergeCandidate() Handler {
	return route{api: a, key: "POST /v1/merge-candidates/{id}/decision", hasBody: true, maxBody: smallBody, idempotent: true,
		serve: func(ctx context.Context, r *request) (*response, error) {
			id := r.ev.PathParameters["id"]
			if !strings.HasPrefix(id, "mc_") || len(id) != 27 {
				return nil, errs.E(errs.NotFound, "merge candidate not found")
			}
			var b decisionBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			if b.Decision != "accept" && b.Decision != "reject" {
				return nil, errs.Field("decision", "must be accept or reject")
			}
			c, res, err := a.app.DecideCandidate(ctx, r.tenant, id, b.Decision == "accept", b.Reason, r.write(nil))
			if err != nil {
				return nil, err
			}
			body := struct {
				Candidate *app.Candidate `json:"candidate"`
				app.MergeResult
			}{c, res}
			resp := &response{status: 200, body: body}
			return resp, r.remember(ctx, a, resp)
		}}.handler()
}

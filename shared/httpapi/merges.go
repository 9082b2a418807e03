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
	return route{api: a, key: "POST /v1/profiles/{id}/merges", hasBody: true, maxBody: smallBody, idempotent: true, replayed: replayAs(mergeResponse),
		serve: func(ctx context.Context, r *request) (*response, error) {
			id, err := profileID(r)
			if err != nil {
				return nil, err
			}
			ifMatch, err := r.ifMatch()
			if err != nil {
				return nil, err
			}
			var b mergeBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			if !app.ValidProfileID(b.ProfileID) {
				return nil, errs.Field("profileId", "is required: the id of the profile to absorb")
			}
			res, err := a.app.MergeProfiles(ctx, r.tenant, id, b.ProfileID, r.write(ifMatch))
			if err != nil {
				return nil, err
			}
			return mergeResponse(res), nil
		}}.handler()
}

// SplitProfile serves POST /v1/profiles/{id}/splits: a merge of the profile is undone.
func (a *API) SplitProfile() Handler {
	return route{api: a, key: "POST /v1/profiles/{id}/splits", hasBody: true, maxBody: smallBody, idempotent: true, replayed: replayAs(mergeResponse),
		serve: func(ctx context.Context, r *request) (*response, error) {
			id, err := profileID(r)
			if err != nil {
				return nil, err
			}
			ifMatch, err := r.ifMatch()
			if err != nil {
				return nil, err
			}
			var b splitBody
			if err := r.decode(&b); err != nil {
				return nil, err
			}
			if !app.ValidMergeID(b.MergeID) {
				return nil, errs.Field("mergeId", "is required: the id of a merge this profile absorbed")
			}
			res, err := a.app.SplitProfile(ctx, r.tenant, id, b.MergeID, r.write(ifMatch))
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

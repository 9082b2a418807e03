package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/livingprofile/livingprofile/shared/apikey"
)

// mergeBench merges pairs of persons with long histories through the API and reports the
// time and the DynamoDB requests of each merge; the request count is asserted by make test
// (TestRouteRequestCounts), this shows it does not grow with history.
func mergeBench(ctx context.Context, b *bench, w io.Writer) error {
	var took []float64
	seen := map[string]int{}             // DynamoDB requests of a merge, formatted -> merges that made them
	for i := range b.cfg.mergeRuns + 1 { // the first warms the authorizer's and catalog's caches
		a, err := newPerson(ctx, b, "merge")
		if err != nil {
			return err
		}
		o, err := newPerson(ctx, b, "merge")
		if err != nil {
			return err
		}
		var out struct {
			MergeID string `json:"mergeId"`
		}
		t0 := time.Now()
		m, err := counted(func() error {
			return b.c.call(ctx, http.MethodPost, "/v1/profiles/"+a+"/merges", b.fix.keys[apikey.Admin], map[string]string{"profileId": o}, http.StatusOK, &out)
		})
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		if i == 0 {
			continue
		}
		took = append(took, ms(time.Since(t0)))
		seen[formatCounts(m.calls, 1, 0)]++
	}
	sp := spreadOf(took)
	note(w, "%d merges (after one to warm the caches) through POST /v1/profiles/{id}/merges, each of two persons with %d ledger events, 3 identities, 8 attributes.", b.cfg.mergeRuns, b.cfg.dsrEvents)
	table(w, "figure\tmedian\tmin\tmax", fmt.Sprintf("merge, ms\t%.1f\t%.1f\t%.1f", sp.Median, sp.Min, sp.Max))
	for _, c := range slices.Sorted(maps.Keys(seen)) {
		note(w, "DynamoDB requests (authorizer included, whose key cache refreshes every few seconds): %s, in %d merges", c, seen[c])
	}
	return nil
}

// Package sweeper is the scheduled retention job. Each run, per tenant whose catalog sets a
// retention, it reads the retention markers past each rule's cutoff from the index (a few
// Queries per rule, never a scan), checks each profile against retention.Due, and saves the
// dry-run report (retention.Run) before it changes anything. A tenant that enforces
// retention (catalog.RetentionSettings.Enforce) then has each due profile ended
// (app.Service.ApplyRetention) and the report saved again with what was done; any other
// tenant's run stops at the report. Running it again finds nothing new.
package sweeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/retention"
)

// Store is what the job reads and writes; *dynamo.Store implements it.
type Store interface {
	Tenants(ctx context.Context) ([]string, error)
	Catalog(ctx context.Context, tenant string) (*catalog.Catalog, error)
	Profile(ctx context.Context, tenant, id string) (*profile.Profile, error)
	RetentionShards() int
	RetentionMarks(ctx context.Context, tenant, clock string, shard int, after string, cutoff time.Time, limit int) ([]retention.Mark, error)
	DeleteRetentionMark(ctx context.Context, tenant, profileID, clock string) error
	RetentionState(ctx context.Context, tenant string) (*retention.State, error)
	PutRetentionState(ctx context.Context, tenant string, s *retention.State) error
	PutRetentionRun(ctx context.Context, r *retention.Run) error
	app.Redactor
}

// Applier ends what is due on one profile; *app.Service implements it.
type Applier interface {
	ApplyRetention(ctx context.Context, tenant, profileID string, red app.Redactor) (app.RetentionOutcome, error)
}

// MaxPerShard bounds the markers one run reads per rule and shard; the rest wait for the
// next run (the report says More).
const MaxPerShard = 500

// Job is the scheduled handler. It is safe for concurrent use, though runs of one tenant
// should not overlap (the schedule runs it once a day).
type Job struct {
	store Store
	apply Applier
	log   *slog.Logger
	now   app.Clock
}

// New returns the job; now nil means time.Now.
func New(store Store, apply Applier, log *slog.Logger, now app.Clock) *Job {
	if now == nil {
		now = time.Now
	}
	return &Job{store: store, apply: apply, log: log, now: now}
}

// Handle is the Schedule handler: one run for every tenant. It fails (and so is retried)
// when a tenant's run failed; what was done stays done.
func (j *Job) Handle(ctx context.Context, _ events.EventBridgeEvent) error {
	tenants, err := j.store.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	var failures []error
	for _, t := range tenants {
		if _, err := j.Run(ctx, t); err != nil {
			failures = append(failures, fmt.Errorf("tenant %s: %w", t, err))
		}
	}
	return errors.Join(failures...)
}

// rule is one retention rule of a catalog with where its markers are.
type rule struct {
	report retention.RuleReport
	clock  string
	// watermarked rules resume after the last marker an enforced run finished: activity
	// markers only move later. A consent's marker is deleted with its purpose's data, so
	// consent rules read from the start.
	watermarked bool
}

func (r *rule) key(shard int) string {
	return r.report.Rule + ":" + r.report.Purpose + "#" + strconv.Itoa(shard)
}

func rulesOf(cat *catalog.Catalog, now time.Time) []*rule {
	var out []*rule
	for _, p := range cat.Purposes {
		if p.RetentionDays <= 0 {
			continue
		}
		r := &rule{clock: retention.ActivityClock, watermarked: true, report: retention.RuleReport{
			Rule: "purpose", Purpose: p.ID, Days: p.RetentionDays, Cutoff: now.AddDate(0, 0, -p.RetentionDays), Action: "erase_purpose_data",
		}}
		if p.LegalBasis == catalog.Consent {
			r.clock, r.watermarked = retention.ConsentClock(p.ID), false
		}
		out = append(out, r)
	}
	if d := cat.Retention.InactiveDays; d > 0 {
		out = append(out, &rule{clock: retention.ActivityClock, watermarked: true, report: retention.RuleReport{
			Rule: "inactive", Days: d, Cutoff: now.AddDate(0, 0, -d), Action: cat.Retention.Action(),
		}})
	}
	return out
}

// due is one profile a rule found due, in its shard's order.
type due struct {
	rule  *rule
	shard int
	mark  retention.Mark
}

// Run runs retention for one tenant and returns its report; a tenant without retention
// rules gets no run (nil).
func (j *Job) Run(ctx context.Context, tenant string) (*retention.Run, error) {
	cat, err := j.store.Catalog(ctx, tenant)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := j.now().UTC()
	rules := rulesOf(cat, now)
	if len(rules) == 0 {
		return nil, nil
	}
	state, err := j.store.RetentionState(ctx, tenant)
	if err != nil {
		return nil, err
	}
	run := &retention.Run{ID: retention.NewRunID(now), Tenant: tenant, StartedAt: now, DryRun: !cat.Retention.Enforce, Status: retention.Reported}
	var todo []due
	last := map[string]string{} // rule shard -> last marker read
	for _, r := range rules {
		for sh := range j.store.RetentionShards() {
			after := ""
			if r.watermarked {
				after = state.Watermarks[r.key(sh)]
			}
			marks, err := j.store.RetentionMarks(ctx, tenant, r.clock, sh, after, r.report.Cutoff, MaxPerShard)
			if err != nil {
				return nil, err
			}
			r.report.More = r.report.More || len(marks) == MaxPerShard
			for _, m := range marks {
				r.report.Checked++
				last[r.key(sh)] = m.Key
				ok, err := j.isDue(ctx, cat, tenant, r, m, now)
				if err != nil {
					return nil, err
				}
				if ok {
					r.report.Note(m.ProfileID)
					todo = append(todo, due{rule: r, shard: sh, mark: m})
				}
			}
		}
	}
	for _, r := range rules {
		run.Rules = append(run.Rules, r.report)
	}
	if err := j.store.PutRetentionRun(ctx, run); err != nil {
		return nil, err
	}
	if run.DryRun {
		return j.finish(ctx, run, rules, nil)
	}
	failed := map[string]string{} // rule shard -> first failed marker
	done := map[string]app.RetentionOutcome{}
	var failures []error
	for _, d := range todo {
		out, seen := done[d.mark.ProfileID]
		if !seen {
			out, err = j.apply.ApplyRetention(ctx, tenant, d.mark.ProfileID, j.store)
			if err != nil && errs.CodeOf(err) != errs.NotFound {
				d.rule.report.Failed++
				if _, ok := failed[d.rule.key(d.shard)]; !ok {
					failed[d.rule.key(d.shard)] = d.mark.Key
				}
				failures = append(failures, err)
				j.log.ErrorContext(ctx, "retention of a profile failed", "tenant", tenant, "profileId", d.mark.ProfileID, "err", err.Error())
				continue
			}
			done[d.mark.ProfileID] = out
		}
		switch {
		case out.Duplicate:
			d.rule.report.Pending++
		case !out.Plan.Empty(): // else someone acted on the profile meanwhile
			d.rule.report.Done++
		}
	}
	// A shard's watermark moves to the last marker read, or to just before the first
	// that failed, so that the next run takes it up again.
	for _, r := range rules {
		for sh := range j.store.RetentionShards() {
			k := r.key(sh)
			if !r.watermarked || last[k] == "" {
				continue
			}
			if f, ok := failed[k]; ok {
				last[k] = before(f, state.Watermarks[k])
			}
			state.Watermarks[k] = last[k]
		}
	}
	if err := j.store.PutRetentionState(ctx, tenant, state); err != nil {
		return nil, err
	}
	return j.finish(ctx, run, rules, failures)
}

// before is the watermark that resumes at failedKey: a key just below it (the index sorts
// bytes, and no key continues a shorter one with a byte below a space), never moving back
// past the previous watermark.
func before(failedKey, prev string) string {
	k := failedKey[:len(failedKey)-1]
	if k < prev {
		return prev
	}
	return k
}

// isDue checks the profile a marker names against the rule now. A marker of a profile that
// is gone (erased) or merged into another is not due; a merged one is deleted, as the
// survivor's markers count.
func (j *Job) isDue(ctx context.Context, cat *catalog.Catalog, tenant string, r *rule, m retention.Mark, now time.Time) (bool, error) {
	p, err := j.store.Profile(ctx, tenant, m.ProfileID)
	if errs.CodeOf(err) == errs.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p.ID != m.ProfileID {
		return false, j.store.DeleteRetentionMark(ctx, tenant, m.ProfileID, r.clock)
	}
	pl := retention.Due(cat, p, now)
	if r.report.Rule == "inactive" {
		return pl.Inactive, nil
	}
	for _, e := range pl.Purposes {
		if e.Purpose == r.report.Purpose {
			return true, nil
		}
	}
	return false, nil
}

// finish saves the run's final report.
func (j *Job) finish(ctx context.Context, run *retention.Run, rules []*rule, failures []error) (*retention.Run, error) {
	at := j.now().UTC()
	run.FinishedAt, run.Status, run.Rules = &at, retention.Completed, run.Rules[:0]
	if len(failures) > 0 {
		run.Status = retention.Failed
	}
	for _, r := range rules {
		run.Rules = append(run.Rules, r.report)
	}
	if err := j.store.PutRetentionRun(ctx, run); err != nil {
		return nil, err
	}
	for _, r := range run.Rules {
		j.log.InfoContext(ctx, "retention run", "tenant", run.Tenant, "run", run.ID, "dryRun", run.DryRun, "rule", r.Rule, "purpose", r.Purpose,
			"checked", r.Checked, "due", r.Due, "done", r.Done, "pending", r.Pending, "failed", r.Failed, "more", r.More)
	}
	return run, errors.Join(failures...)
}

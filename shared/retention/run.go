package retention

import (
	"fmt"
	"time"
)

// Run is the report of one retention run for one tenant. It is saved before anything is
// changed (the dry-run report: what is due), and again when the run ends; a run of a
// tenant that does not enforce retention changes nothing and only reports.
type Run struct {
	ID         string       `json:"id"`
	Tenant     string       `json:"tenant"`
	StartedAt  time.Time    `json:"startedAt"`
	FinishedAt *time.Time   `json:"finishedAt,omitempty"`
	DryRun     bool         `json:"dryRun"`
	Status     string       `json:"status"`
	Rules      []RuleReport `json:"rules"`
}

// Run statuses.
const (
	Reported  = "reported"  // the dry-run report is saved; an enforced run is acting on it
	Completed = "completed" // the run ended (a dry run ends when it has reported)
	Failed    = "failed"    // the run ended with errors; the next run takes up what is left
)

// NewRunID is a run id that sorts by start time.
func NewRunID(at time.Time) string { return fmt.Sprintf("rr_%020d", at.UnixNano()) }

// MaxListed bounds the profile ids one rule's report lists.
const MaxListed = 100

// RuleReport is what one rule found and did.
type RuleReport struct {
	// Rule is "purpose" (Purpose's data past its RetentionDays) or "inactive" (profiles
	// past the tenant's InactiveDays).
	Rule    string `json:"rule"`
	Purpose string `json:"purpose,omitempty"`
	Days    int    `json:"days"`
	// Cutoff is the clock time at or before which a marker is due.
	Cutoff time.Time `json:"cutoff"`
	// Action is erase_purpose_data, erase or anonymise.
	Action string `json:"action"`
	// Checked counts the markers read; Due the profiles with something past retention.
	Checked int `json:"checked"`
	Due     int `json:"due"`
	// Done counts the profiles acted on, Pending inactive ones whose erasure request was
	// already open, Failed those that could not be handled this time.
	Done    int `json:"done"`
	Pending int `json:"pending"`
	Failed  int `json:"failed"`
	// Profiles lists the first MaxListed due profiles by id.
	Profiles []string `json:"profiles"`
	// More says the run read as many markers as one run may; the rest wait for the next.
	More bool `json:"more,omitempty"`
}

// Note records one due profile in the report.
func (r *RuleReport) Note(profileID string) {
	r.Due++
	if len(r.Profiles) < MaxListed {
		r.Profiles = append(r.Profiles, profileID)
	}
}

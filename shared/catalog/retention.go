package catalog

import (
	"fmt"
	"slices"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// RetentionSettings say how long a tenant keeps a profile nobody acts on (Art. 5(1)(e)).
// How long each purpose keeps its own data is Purpose.RetentionDays.
type RetentionSettings struct {
	// InactiveDays, when set, ends a profile that neither the person nor the brand's systems
	// changed for that many days, by InactiveAction.
	InactiveDays int `json:"inactiveDays,omitempty"`
	// InactiveAction is Erase (the default: as an erasure request) or Anonymise.
	InactiveAction string `json:"inactiveAction,omitempty"`
	// Enforce makes the retention job act on what it finds; without it every run is a dry
	// run that only reports what it would do.
	Enforce bool `json:"enforce,omitempty"`
}

// What retention does with an inactive profile.
const (
	Erase     = "erase"
	Anonymise = "anonymise"
)

// Bounds of retention periods, in days.
const (
	MinInactiveDays  = 30
	MaxRetentionDays = 36500
)

// Action is what happens to an inactive profile.
func (r RetentionSettings) Action() string {
	if r.InactiveAction == "" {
		return Erase
	}
	return r.InactiveAction
}

// PurposeData names the data a purpose holds on a profile: the attributes collected for it
// (Attribute.Purposes) and its topics. Its consent is the profile's consent for the purpose.
func (c *Catalog) PurposeData(purpose string) (attributes, topics []string) {
	for _, a := range c.Attributes {
		if slices.Contains(a.Purposes, purpose) {
			attributes = append(attributes, a.Name)
		}
	}
	for _, t := range c.Topics {
		if t.Purpose == purpose {
			topics = append(topics, t.ID)
		}
	}
	return attributes, topics
}

// validateRetention checks the retention settings and the purposes attributes name.
func (c *Catalog) validateRetention(f *errs.Fields, purposes map[string]bool) {
	r := c.Retention
	if r.InactiveDays != 0 && (r.InactiveDays < MinInactiveDays || r.InactiveDays > MaxRetentionDays) {
		f.Add("retention.inactiveDays", fmt.Sprintf("must be 0 (keep) or %d to %d", MinInactiveDays, MaxRetentionDays))
	}
	switch r.InactiveAction {
	case "", Erase, Anonymise:
	default:
		f.Add("retention.inactiveAction", "must be erase or anonymise")
	}
	for i, p := range c.Purposes {
		if p.RetentionDays > MaxRetentionDays {
			f.Add(fmt.Sprintf("purposes[%d].retentionDays", i), fmt.Sprintf("must be at most %d", MaxRetentionDays))
		}
	}
	for i, a := range c.Attributes {
		if len(a.Purposes) > MaxPurposes {
			f.Add(fmt.Sprintf("attributes[%d].purposes", i), fmt.Sprintf("must have at most %d entries", MaxPurposes))
		}
		for j, p := range a.Purposes {
			if !purposes[p] || slices.Contains(a.Purposes[:j], p) {
				f.Unmet(fmt.Sprintf("attributes[%d].purposes[%d]", i, j), "must name each purpose in purposes once")
			}
		}
	}
}

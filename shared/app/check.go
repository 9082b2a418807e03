package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// MaxChecks is the largest batch of consent checks: one BatchGetItem round.
const MaxChecks = 100

// CheckInput is one consent check as asked: a profile by id or identity, a purpose or a
// topic (whose purpose is then used), and optionally a channel.
type CheckInput struct {
	ProfileID string         `json:"profileId,omitempty"`
	Identity  *IdentityInput `json:"identity,omitempty"`
	Purpose   string         `json:"purpose,omitempty"`
	Topic     string         `json:"topic,omitempty"`
	Channel   string         `json:"channel,omitempty"`
}

// CheckResult is the answer to one check.
type CheckResult struct {
	Allowed   bool           `json:"allowed"`
	Reason    profile.Reason `json:"reason"`
	ProfileID string         `json:"profileId,omitempty"`
	// MergedInto is set when the check named a profile merged into ProfileID.
	MergedInto string `json:"mergedInto,omitempty"`
	Purpose    string `json:"purpose"`
	Topic      string `json:"topic,omitempty"`
	Channel    string `json:"channel,omitempty"`
}

// Check answers up to MaxChecks checks with one storage round. In a batch, fields are
// named checks[i].field; for a single check, just field.
func (s *Service) Check(ctx context.Context, tenant string, in []CheckInput, batch bool) ([]CheckResult, error) {
	cat, err := s.Catalog(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var f errs.Fields
	if len(in) == 0 || len(in) > MaxChecks {
		f.Add("checks", fmt.Sprintf("must hold 1 to %d checks", MaxChecks))
	}
	refs := make([]Ref, len(in))
	checks := make([]profile.Check, len(in))
	for i, c := range in {
		name := func(field string) string {
			if batch {
				return fmt.Sprintf("checks[%d].%s", i, field)
			}
			return field
		}
		refs[i], checks[i] = checkRef(cat, c, name, &f), checkOf(cat, c, name, &f)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	found, err := s.store.Lookup(ctx, tenant, refs)
	if err != nil {
		return nil, fmt.Errorf("look up profiles: %w", err)
	}
	now := s.now()
	out := make([]CheckResult, len(in))
	for i, c := range checks {
		p := found[refs[i]]
		d := profile.Decide(p, cat, c, now)
		out[i] = CheckResult{Allowed: d.Allowed, Reason: d.Reason, Purpose: c.Purpose, Topic: c.Topic, Channel: c.Channel}
		if p != nil {
			out[i].ProfileID = p.ID
			if id := refs[i].ID; id != "" && id != p.ID {
				out[i].MergedInto = p.ID
			}
		}
	}
	return out, nil
}

func checkRef(cat *catalog.Catalog, c CheckInput, name func(string) string, f *errs.Fields) Ref {
	switch {
	case c.ProfileID != "" && c.Identity != nil:
		f.Add(name("identity"), "give either profileId or identity, not both")
	case c.ProfileID != "":
		if !ValidProfileID(c.ProfileID) {
			f.Add(name("profileId"), "is not a profile id")
		}
		return Ref{ID: c.ProfileID}
	case c.Identity != nil:
		id, reason := profile.NormalizeIdentity(cat, c.Identity.Type, c.Identity.Value)
		switch {
		case c.Identity.Type == "":
			f.Add(name("identity.type"), noTypeReason)
		case !identityShape(c.Identity.Value):
			f.Add(name("identity.value"), maxIdentityReason)
		case reason == "unknown identity type":
			f.Unmet(name("identity.type"), reason)
		case reason != "":
			f.Unmet(name("identity.value"), reason)
		}
		return Ref{Identity: id}
	default:
		f.Add(name("profileId"), "profileId or identity is required")
	}
	return Ref{}
}

func checkOf(cat *catalog.Catalog, c CheckInput, name func(string) string, f *errs.Fields) profile.Check {
	out := profile.Check{Purpose: c.Purpose, Topic: c.Topic, Channel: c.Channel}
	if c.Topic != "" {
		t, ok := cat.Topic(c.Topic)
		switch {
		case !ok:
			f.Unmet(name("topic"), "unknown topic")
		case c.Purpose == "":
			out.Purpose = t.Purpose
		case c.Purpose != t.Purpose:
			f.Unmet(name("purpose"), "is not the purpose of the topic")
		}
	}
	if out.Purpose == "" && c.Topic == "" {
		f.Add(name("purpose"), "purpose or topic is required")
	} else if _, ok := cat.Purpose(out.Purpose); !ok && out.Purpose != "" {
		f.Unmet(name("purpose"), "unknown purpose")
	}
	if c.Channel != "" && !cat.HasChannel(c.Channel) {
		f.Unmet(name("channel"), "unknown channel")
	}
	return out
}

// ValidProfileID reports whether s has the shape of an id made by NewID("p_").
func ValidProfileID(s string) bool { return validID("p_", s) }

// ValidMergeID reports whether s has the form of a merge id.
func ValidMergeID(s string) bool { return validID("mg_", s) }

// validID reports whether s is prefix and the 26 characters NewID draws.
func validID(prefix, s string) bool {
	if len(s) != len(prefix)+26 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, r := range s[len(prefix):] {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

package dsr_test

import (
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAddMonths(t *testing.T) {
	tests := []struct {
		from   string
		months int
		want   string
	}{
		{"2026-01-15T10:30:00Z", 1, "2026-02-15T10:30:00Z"},
		{"2026-01-31T09:00:00Z", 1, "2026-02-28T09:00:00Z"}, // not 3 March
		{"2028-01-31T09:00:00Z", 1, "2028-02-29T09:00:00Z"}, // leap year
		{"2026-03-31T23:59:59Z", 1, "2026-04-30T23:59:59Z"},
		{"2026-08-31T00:00:00Z", 1, "2026-09-30T00:00:00Z"},
		{"2026-12-31T12:00:00Z", 1, "2027-01-31T12:00:00Z"},
		{"2026-11-30T12:00:00Z", 3, "2027-02-28T12:00:00Z"},
		{"2026-01-31T12:00:00Z", 3, "2026-04-30T12:00:00Z"},
		{"2026-02-28T12:00:00Z", 1, "2026-03-28T12:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			if got := dsr.AddMonths(day(tt.from), tt.months); !got.Equal(day(tt.want)) {
				t.Fatalf("AddMonths(%s, %d) = %s, want %s", tt.from, tt.months, got.Format(time.RFC3339), tt.want)
			}
		})
	}
}

func newRequest(received string) *dsr.Request {
	return dsr.New("rq_x", "acme", "p_x", dsr.Access, "", dsr.AttestedBrand, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k1"}, day(received))
}

func TestNewIsDueOneMonthLater(t *testing.T) {
	r := newRequest("2026-01-31T08:00:00Z")
	if r.Status != dsr.Pending || !r.DueAt.Equal(day("2026-02-28T08:00:00Z")) || !r.DueAt.Equal(r.Deadline()) {
		t.Fatalf("new request: status %s due %s", r.Status, r.DueAt)
	}
}

const reason = "We need to collect records from two archived systems."

func TestExtend(t *testing.T) {
	tests := []struct {
		name     string
		received string
		prepare  func(r *dsr.Request)
		months   int
		reason   string
		at       string
		field    string    // an Invalid error naming this field
		code     errs.Code // otherwise an error of this code
		due      string    // otherwise the new due date
	}{
		{"one month", "2026-01-10T12:00:00Z", nil, 1, reason, "2026-01-20T12:00:00Z", "", "", "2026-03-10T12:00:00Z"},
		{"two months", "2026-01-10T12:00:00Z", nil, 2, reason, "2026-02-01T12:00:00Z", "", "", "2026-04-10T12:00:00Z"},
		{"two months from a month's end", "2026-01-31T12:00:00Z", nil, 2, reason, "2026-02-01T12:00:00Z", "", "", "2026-04-30T12:00:00Z"},
		{"on the last day of the first month", "2026-01-31T12:00:00Z", nil, 1, reason, "2026-02-28T12:00:00Z", "", "", "2026-03-31T12:00:00Z"},
		{"after the first month", "2026-01-31T12:00:00Z", nil, 1, reason, "2026-02-28T12:00:01Z", "", errs.Conflict, ""},
		{"zero months", "2026-01-10T12:00:00Z", nil, 0, reason, "2026-01-11T12:00:00Z", "months", "", ""},
		{"three months", "2026-01-10T12:00:00Z", nil, 3, reason, "2026-01-11T12:00:00Z", "months", "", ""},
		{"no reason", "2026-01-10T12:00:00Z", nil, 1, "", "2026-01-11T12:00:00Z", "reason", "", ""},
		{"twice", "2026-01-10T12:00:00Z", func(r *dsr.Request) {
			if err := r.Extend(1, reason, day("2026-01-11T12:00:00Z")); err != nil {
				panic(err)
			}
		}, 1, reason, "2026-01-12T12:00:00Z", "", errs.Conflict, ""},
		{"closed", "2026-01-10T12:00:00Z", func(r *dsr.Request) {
			if err := r.Close(dsr.Completed, "", day("2026-01-11T12:00:00Z")); err != nil {
				panic(err)
			}
		}, 1, reason, "2026-01-12T12:00:00Z", "", errs.Conflict, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest(tt.received)
			if tt.prepare != nil {
				tt.prepare(r)
			}
			before := r.DueAt
			err := r.Extend(tt.months, tt.reason, day(tt.at))
			switch {
			case tt.field != "":
				e, ok := errs.As(err)
				if !ok || e.Code != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
					t.Fatalf("err = %v, want Invalid naming %s", err, tt.field)
				}
			case tt.code != "":
				if errs.CodeOf(err) != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !r.DueAt.Equal(day(tt.due)) || r.Extension.Months != tt.months || r.Extension.Notified || r.Extension.Reason != tt.reason {
					t.Fatalf("due %s extension %+v, want due %s", r.DueAt, r.Extension, tt.due)
				}
				return
			}
			if !r.DueAt.Equal(before) {
				t.Fatalf("a refused extension moved the due date to %s", r.DueAt)
			}
		})
	}
}

func TestMarkDeadlines(t *testing.T) {
	tests := []struct {
		name          string
		closed        bool
		at            string
		soon, overdue bool
	}{
		{"fresh", false, "2026-01-11T12:00:00Z", false, false},
		{"eight days left", false, "2026-02-02T12:00:00Z", false, false},
		{"seven days left", false, "2026-02-03T12:00:00Z", true, false},
		{"at the deadline", false, "2026-02-10T12:00:00Z", true, false},
		{"a second late", false, "2026-02-10T12:00:01Z", false, true},
		{"closed and late", true, "2026-03-10T12:00:00Z", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest("2026-01-10T12:00:00Z")
			if tt.closed {
				if err := r.Close(dsr.Cancelled, "", day("2026-01-11T12:00:00Z")); err != nil {
					t.Fatal(err)
				}
			}
			changed := r.MarkDeadlines(day(tt.at))
			if r.DueSoon != tt.soon || r.Overdue != tt.overdue || changed != (tt.soon || tt.overdue) {
				t.Fatalf("soon %v overdue %v changed %v", r.DueSoon, r.Overdue, changed)
			}
			if r.MarkDeadlines(day(tt.at)) {
				t.Fatal("marking again reported a change")
			}
		})
	}
}

func TestClose(t *testing.T) {
	now := day("2026-01-12T12:00:00Z")
	tests := []struct {
		name   string
		status dsr.Status
		reason string
		twice  bool
		field  string
		code   errs.Code
	}{
		{"cancel", dsr.Cancelled, "", false, "", ""},
		{"complete", dsr.Completed, "", false, "", ""},
		{"deny with a reason", dsr.Denied, "The request is manifestly unfounded (Art. 12(5)).", false, "", ""},
		{"deny without a reason", dsr.Denied, "no", false, "reason", ""},
		{"close twice", dsr.Cancelled, "", true, "", errs.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRequest("2026-01-10T12:00:00Z")
			r.NotifyEmail, r.Overdue = "person@example.com", true
			if tt.twice {
				if err := r.Close(tt.status, tt.reason, now); err != nil {
					t.Fatal(err)
				}
			}
			err := r.Close(tt.status, tt.reason, now)
			switch {
			case tt.field != "":
				if e, ok := errs.As(err); !ok || len(e.Fields) != 1 || e.Fields[0].Field != tt.field || r.Status != dsr.Pending {
					t.Fatalf("err = %v status %s, want Invalid naming %s", err, r.Status, tt.field)
				}
			case tt.code != "":
				if errs.CodeOf(err) != tt.code {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != tt.status || r.Status.Open() || r.NotifyEmail != "" || r.Overdue || !r.CompletedAt.Equal(now) || r.DenialReason != tt.reason {
					t.Fatalf("closed request %+v", r)
				}
			}
		})
	}
}

func TestValidateAndDedup(t *testing.T) {
	tests := []struct {
		name    string
		typ     dsr.Type
		purpose string
		v       dsr.Verification
		fields  []string
		dedup   string
	}{
		{"access", dsr.Access, "", dsr.AttestedBrand, nil, "access"},
		{"objection", dsr.Objection, "marketing", dsr.PortalBrandLink, nil, "objection#marketing"},
		{"legacy portal value on a new request", dsr.Access, "", dsr.VerifiedPortal, []string{"verification"}, ""},
		{"objection without purpose", dsr.Objection, "", dsr.Unverified, []string{"purpose"}, ""},
		{"purpose on erasure", dsr.Erasure, "marketing", dsr.Unverified, []string{"purpose"}, ""},
		{"unknown type and verification", "forget_me", "", "trust_me", []string{"type", "verification"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dsr.Request{Type: tt.typ, Purpose: tt.purpose, Verification: tt.v}
			err := r.Validate()
			var got []string
			if e, ok := errs.As(err); ok {
				for _, f := range e.Fields {
					got = append(got, f.Field)
				}
			}
			if len(got) != len(tt.fields) {
				t.Fatalf("fields %v, want %v", got, tt.fields)
			}
			for i := range got {
				if got[i] != tt.fields[i] {
					t.Fatalf("fields %v, want %v", got, tt.fields)
				}
			}
			if tt.dedup != "" && r.DedupKey() != tt.dedup {
				t.Fatalf("dedup key %q, want %q", r.DedupKey(), tt.dedup)
			}
		})
	}
}

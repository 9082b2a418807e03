package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/sweep"
)

// fakeStore keeps requests in memory with the version rule of the real store; the
// integration tests in infra/localstack run the sweeper against the emulator.
type fakeStore struct {
	tenants  []string
	reqs     map[string]*dsr.Request
	broken   map[string]bool // tenants whose listing fails
	events   []ledger.Event
	saves    int
	interfer func(r *dsr.Request) // runs before a save, once
}

func (f *fakeStore) Tenants(context.Context) ([]string, error) { return f.tenants, nil }

func (f *fakeStore) OpenRequests(_ context.Context, tenant string, dueBefore time.Time, _ int) ([]dsr.Request, error) {
	if f.broken[tenant] {
		return nil, errors.New("listing failed")
	}
	var out []dsr.Request
	for _, r := range f.reqs {
		if r.Tenant == tenant && r.Status.Open() && r.DueAt.Before(dueBefore) {
			out = append(out, *r)
		}
	}
	return out, nil
}

// DueTimers lists none: the timers are tested against the emulator (infra/localstack).
func (f *fakeStore) DueTimers(context.Context, string, time.Time, int) ([]string, error) {
	return nil, nil
}

func (f *fakeStore) Request(_ context.Context, _, id string) (*dsr.Request, error) {
	r, ok := f.reqs[id]
	if !ok {
		return nil, errs.E(errs.NotFound, "request not found")
	}
	c := *r
	return &c, nil
}

func (f *fakeStore) SaveRequestWithEvents(_ context.Context, r *dsr.Request, prior dsr.Prior, evs []ledger.Event, t *dsr.Tombstone) error {
	if i := f.interfer; i != nil {
		f.interfer = nil
		i(f.reqs[r.ID])
	}
	if f.reqs[r.ID].Prior() != prior || r.Version != prior.Version+1 || t != nil {
		return &errs.Error{Code: errs.Conflict, Message: "stale", Err: errs.ErrStale}
	}
	c := *r
	f.reqs[r.ID] = &c
	f.events = append(f.events, evs...)
	f.saves++
	return nil
}

var t0 = time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)

func newReq(id, tenant string, received time.Time) *dsr.Request {
	r := dsr.New(id, tenant, "p_"+id, dsr.Access, "", dsr.AttestedBrand, ledger.Actor{Kind: ledger.ActorAPIKey, ID: "k"}, received)
	r.Version = 1
	return r
}

func TestSweep(t *testing.T) {
	st := &fakeStore{tenants: []string{"a", "broken", "b"}, broken: map[string]bool{"broken": true}, reqs: map[string]*dsr.Request{}}
	for _, r := range []*dsr.Request{newReq("r1", "a", t0), newReq("r2", "b", t0.AddDate(0, 0, -40)), newReq("r3", "b", t0.AddDate(0, 0, 20))} {
		st.reqs[r.ID] = r
	}
	now := t0.AddDate(0, 0, 25) // r1 due in 3 days, r2 overdue, r3 due in 26 days
	sw := sweep.New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), func() time.Time { return now })
	res, err := sw.Sweep(context.Background())
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("a failing tenant is not reported: %v", err)
	}
	if res.Tenants != 2 || res.Checked != 2 || res.Marked != 2 || res.Failed != 0 {
		t.Fatalf("result %+v", res)
	}
	if r := st.reqs["r1"]; !r.DueSoon || r.Overdue || r.Version != 2 {
		t.Fatalf("r1 %+v", r)
	}
	if r := st.reqs["r2"]; r.DueSoon || !r.Overdue || r.Version != 2 {
		t.Fatalf("r2 %+v", r)
	}
	if r := st.reqs["r3"]; r.DueSoon || r.Overdue || r.Version != 1 {
		t.Fatalf("r3 %+v", r)
	}
	if len(st.events) != 2 {
		t.Fatalf("%d events", len(st.events))
	}
	for _, e := range st.events {
		var st struct {
			ID      string `json:"id"`
			DueSoon bool   `json:"dueSoon"`
			Overdue bool   `json:"overdue"`
		}
		if err := json.Unmarshal(e.New, &st); err != nil || e.Type != "request.updated" || e.Actor != sweep.Actor || e.Subject != "access" || !strings.HasPrefix(e.ID, "ev_") {
			t.Fatalf("event %+v %v", e, err)
		}
		if st.DueSoon == st.Overdue || !e.At.Equal(now) || e.ProfileID != "p_"+st.ID {
			t.Fatalf("event %+v: %s", e, e.New)
		}
	}
	// Again: nothing changes.
	st.broken = nil
	if res, err := sw.Sweep(context.Background()); err != nil || res.Marked != 0 || st.saves != 2 {
		t.Fatalf("second sweep %+v %v (saves %d)", res, err, st.saves)
	}
}

func TestSweepRejudgesAfterAConcurrentChange(t *testing.T) {
	now := t0.AddDate(0, 0, 25)
	cases := []struct {
		name      string
		interfere func(r *dsr.Request)
		marked    int
		version   int64
		dueSoon   bool
	}{
		{"extended meanwhile: no longer due soon", func(r *dsr.Request) {
			if err := r.Extend(1, "a concurrent extension", now); err != nil {
				panic(err)
			}
			r.Version++
		}, 0, 2, false},
		{"touched meanwhile: flagged on the fresh copy", func(r *dsr.Request) { r.Version++ }, 1, 3, true},
		{"closed meanwhile: left alone", func(r *dsr.Request) {
			if err := r.Close(dsr.Cancelled, "", now); err != nil {
				panic(err)
			}
			r.Version++
		}, 0, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &fakeStore{tenants: []string{"a"}, reqs: map[string]*dsr.Request{"r1": newReq("r1", "a", t0)}, interfer: c.interfere}
			sw := sweep.New(st, slog.New(slog.NewJSONHandler(io.Discard, nil)), func() time.Time { return now })
			res, err := sw.Sweep(context.Background())
			if err != nil || res.Marked != c.marked || res.Failed != 0 {
				t.Fatalf("result %+v %v", res, err)
			}
			if r := st.reqs["r1"]; r.Version != c.version || r.DueSoon != c.dueSoon {
				t.Fatalf("request %+v", r)
			}
			if len(st.events) != c.marked {
				t.Fatalf("%d events for %d changes", len(st.events), c.marked)
			}
		})
	}
}

package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/infra/seed"
	"github.com/livingprofile/livingprofile/shared/apikey"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/sweep"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// sweepClock is a controllable clock for the sweeper and the use cases.
type sweepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *sweepClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *sweepClock) at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	return t
}

// oneTenant narrows the store to one tenant, so a sweep with a clock months ahead touches
// only this test's requests; beforeSave, when set, runs before each save.
type oneTenant struct {
	*dynamo.Store
	tenant     string
	mu         sync.Mutex
	beforeSave func(r *dsr.Request)
}

func (o *oneTenant) Tenants(context.Context) ([]string, error) { return []string{o.tenant}, nil }

func (o *oneTenant) SaveRequestWithEvents(ctx context.Context, r *dsr.Request, prior dsr.Prior, evs []ledger.Event, t *dsr.Tombstone) error {
	o.mu.Lock()
	hook := o.beforeSave
	o.beforeSave = nil
	o.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	return o.Store.SaveRequestWithEvents(ctx, r, prior, evs, t)
}

// deadlineTenant seeds a tenant of its own with the demo catalog and an admin key (role
// "deadlines" for do).
func deadlineTenant(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("dl-%d", time.Now().UnixNano())
	st := dynamo.New(env.db, env.stack.Table)
	if err := seed.Tenant(ctx, st, id, id); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.LoadCatalog(ctx, app.New(st, time.Now, 0), id, seed.DemoCatalog); err != nil {
		t.Fatal(err)
	}
	plain, _, err := seed.Key(ctx, st, id, "deadlines", []apikey.Scope{apikey.Admin})
	if err != nil {
		t.Fatal(err)
	}
	env.keys["deadlines"] = plain
	return id
}

// sweepEvent is the New value of the sweeper's request.updated events.
type sweepEvent struct {
	ID      string     `json:"id"`
	Status  dsr.Status `json:"status"`
	DueAt   time.Time  `json:"dueAt"`
	DueSoon bool       `json:"dueSoon"`
	Overdue bool       `json:"overdue"`
}

// TestDeadlineSweeper drives the sweeper with a controllable clock against the emulator:
// nothing before the window, due soon within a week, overdue after the deadline, an
// extended deadline, a closed request left alone, a concurrent change re-judged, each
// change saved once with one request.updated event, and a second sweep changing nothing.
func TestDeadlineSweeper(t *testing.T) {
	ctx := context.Background()
	tn := deadlineTenant(t)
	clk := &sweepClock{}
	st := dynamo.New(env.db, env.stack.Table)
	svc := app.New(st, clk.now, 0)
	store := &oneTenant{Store: st, tenant: tn}
	sw := sweep.New(store, slog.New(slog.NewJSONHandler(io.Discard, nil)), clk.now)
	operatorWrite := app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "deadline-test"}}

	rc := newReceiver(t)
	res := must(t, do(t, call{method: "POST", path: "/v1/webhooks", key: "deadlines",
		body: map[string]any{"url": rc.srv.URL + "/hook", "eventTypes": []string{"request.updated"}}}), 201).json(t)
	rc.mu.Lock()
	rc.secret = res["secret"].(string)
	rc.mu.Unlock()
	t.Cleanup(func() { do(t, call{method: "DELETE", path: "/v1/webhooks/" + res["id"].(string), key: "deadlines"}) })

	create := func(at, name string) *dsr.Request {
		t.Helper()
		clk.at(at)
		p, err := svc.CreateProfile(ctx, tn, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: name + "@example.com"}}},
			app.Write{Actor: operatorWrite.Actor})
		if err != nil {
			t.Fatal(err)
		}
		r, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: p.Profile.ID, Type: dsr.Rectification, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"}, operatorWrite)
		if err != nil {
			t.Fatal(err)
		}
		return r.Request
	}
	stored := func(id string) *dsr.Request {
		t.Helper()
		r, err := st.Request(ctx, tn, id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// Received 31 January: due on the last day of February.
	r1 := create("2026-01-31T10:00:00Z", "due")
	if !r1.DueAt.Equal(clk.at("2026-02-28T10:00:00Z")) {
		t.Fatalf("due %v", r1.DueAt)
	}
	// Extended by two months within the first month: due 30 April.
	r2 := create("2026-01-31T10:00:00Z", "extended")
	clk.at("2026-02-05T09:00:00Z")
	if _, err := svc.ExtendRequest(ctx, tn, r2.ID, 2, "We need to collect records from two archived systems.", operatorWrite); err != nil {
		t.Fatal(err)
	}
	// Cancelled: never swept.
	r3 := create("2026-01-31T10:00:00Z", "cancelled")
	if _, err := svc.CancelRequest(ctx, tn, r3.ID, operatorWrite); err != nil {
		t.Fatal(err)
	}
	// Received 10 February, due 10 March; extended while the sweeper is saving it.
	r4 := create("2026-02-10T08:00:00Z", "raced")

	steps := []struct {
		name                    string
		at                      string
		before                  func()
		checked, marked         int
		soon, over              []string // requests expected due soon / overdue afterwards
		notSoon, notOver        []string
		wantEventsFor           map[string]int // cumulative request.updated events from the sweeper
		extendAfterMonthRefused bool
	}{
		{name: "a day after receipt: nothing due within the week", at: "2026-02-01T10:00:00Z", checked: 0, marked: 0,
			notSoon: []string{r1.ID, r2.ID, r4.ID}, notOver: []string{r1.ID, r2.ID, r4.ID}, wantEventsFor: map[string]int{}},
		{name: "six days before the deadline: due soon", at: "2026-02-22T10:00:00Z", checked: 1, marked: 1,
			soon: []string{r1.ID}, notOver: []string{r1.ID}, wantEventsFor: map[string]int{r1.ID: 1}},
		{name: "the same sweep again changes nothing", at: "2026-02-22T10:00:00Z", checked: 1, marked: 0,
			soon: []string{r1.ID}, wantEventsFor: map[string]int{r1.ID: 1}},
		{name: "an hour after the deadline: overdue, no longer due soon", at: "2026-02-28T11:00:00Z", checked: 1, marked: 1,
			over: []string{r1.ID}, notSoon: []string{r1.ID}, wantEventsFor: map[string]int{r1.ID: 2}},
		{name: "an extension after the first month is refused", at: "2026-03-02T10:00:00Z", checked: 1, marked: 0,
			over: []string{r1.ID}, extendAfterMonthRefused: true, wantEventsFor: map[string]int{r1.ID: 2}},
		{name: "a request extended while being saved is judged again", at: "2026-03-05T10:00:00Z",
			before: func() {
				store.mu.Lock()
				store.beforeSave = func(r *dsr.Request) {
					if r.ID != r4.ID {
						t.Errorf("first save of %s, want %s", r.ID, r4.ID)
					}
					if _, err := svc.ExtendRequest(ctx, tn, r4.ID, 1, "A concurrent extension while the sweeper saves.", operatorWrite); err != nil {
						t.Error(err)
					}
				}
				store.mu.Unlock()
			},
			checked: 2, marked: 0, over: []string{r1.ID}, notSoon: []string{r4.ID}, notOver: []string{r4.ID},
			wantEventsFor: map[string]int{r1.ID: 2}},
		{name: "the extended deadline comes close; the raced one passed", at: "2026-04-25T10:00:00Z", checked: 3, marked: 2,
			soon: []string{r2.ID}, over: []string{r1.ID, r4.ID}, wantEventsFor: map[string]int{r1.ID: 2, r2.ID: 1, r4.ID: 1}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.at(s.at)
			if s.before != nil {
				s.before()
			}
			got, err := sw.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Tenants != 1 || got.Checked != s.checked || got.Marked != s.marked || got.Failed != 0 {
				t.Fatalf("sweep %+v, want checked %d marked %d", got, s.checked, s.marked)
			}
			for _, id := range s.soon {
				if r := stored(id); !r.DueSoon || r.Overdue {
					t.Errorf("%s: due soon %v overdue %v, want due soon", id, r.DueSoon, r.Overdue)
				}
			}
			for _, id := range s.over {
				if r := stored(id); !r.Overdue || r.DueSoon {
					t.Errorf("%s: due soon %v overdue %v, want overdue", id, r.DueSoon, r.Overdue)
				}
			}
			for _, id := range s.notSoon {
				if stored(id).DueSoon {
					t.Errorf("%s is due soon", id)
				}
			}
			for _, id := range s.notOver {
				if stored(id).Overdue {
					t.Errorf("%s is overdue", id)
				}
			}
			if r := stored(r3.ID); r.Status != dsr.Cancelled || r.DueSoon || r.Overdue {
				t.Errorf("the cancelled request was touched: %+v", r)
			}
			if s.extendAfterMonthRefused {
				_, err := svc.ExtendRequest(ctx, tn, r1.ID, 1, "Too late to extend this request now.", operatorWrite)
				if errs.CodeOf(err) != errs.Conflict {
					t.Errorf("extension after the first month: %v", err)
				}
			}
			// The events reach the webhook; each change is announced once, with its flags.
			want := 0
			for _, n := range s.wantEventsFor {
				want += n
			}
			var evs []webhook.Event
			eventually(t, 10*time.Second, "the sweeper's events", func() bool {
				evs = nil
				for _, e := range rc.events() {
					if e.Source == sweep.Actor {
						evs = append(evs, e)
					}
				}
				return len(evs) >= want
			})
			time.Sleep(200 * time.Millisecond) // a duplicate would arrive now
			perRequest, ids := map[string]int{}, map[string]bool{}
			for _, e := range rc.events() {
				if e.Source != sweep.Actor {
					continue
				}
				var ne sweepEvent
				if err := json.Unmarshal(e.Data.New, &ne); err != nil {
					t.Fatal(err)
				}
				if e.Type != "request.updated" || e.Data.Subject != string(dsr.Rectification) || ids[e.ID] {
					t.Errorf("event %+v", e)
				}
				ids[e.ID] = true
				perRequest[ne.ID]++
				if ne.DueSoon == ne.Overdue {
					t.Errorf("event flags: %+v", ne)
				}
			}
			if fmt.Sprint(perRequest) != fmt.Sprint(s.wantEventsFor) {
				t.Errorf("events per request %v, want %v", perRequest, s.wantEventsFor)
			}
		})
	}
}

// TestSweepDeadlinesScheduled: the local stack runs SweepDeadlines as built by wire from
// template.yaml; firing its schedule flags a request that is overdue by the real clock.
func TestSweepDeadlinesScheduled(t *testing.T) {
	ctx := context.Background()
	tn := deadlineTenant(t)
	st := dynamo.New(env.db, env.stack.Table)
	received := time.Now().AddDate(0, -2, 0)
	svc := app.New(st, func() time.Time { return received }, 0)
	w := app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "deadline-test"}}
	p, err := svc.CreateProfile(ctx, tn, app.Create{Identities: []app.IdentityInput{{Type: "email", Value: "late@example.com"}}}, app.Write{Actor: w.Actor})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.CreateRequest(ctx, tn, app.RequestInput{ProfileID: p.Profile.ID, Type: dsr.Rectification, Verification: dsr.AttestedBrand, AttestationReason: "identity checked by the support desk"}, w)
	if err != nil {
		t.Fatal(err)
	}
	if r.Request.Overdue {
		t.Fatal("overdue at creation")
	}
	if err := env.stack.FireSchedule(ctx, "SweepDeadlines"); err != nil {
		t.Fatal(err)
	}
	got, err := st.Request(ctx, tn, r.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Overdue || got.DueSoon || got.Version != r.Request.Version+1 {
		t.Fatalf("after the scheduled sweep: overdue %v due soon %v version %d", got.Overdue, got.DueSoon, got.Version)
	}
}

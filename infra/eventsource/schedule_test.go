package eventsource

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// fakeClock is a clock that moves only when Schedule waits (or a test advances it).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// wait advances the clock instead of sleeping.
func (c *fakeClock) wait(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	c.advance(d)
	return true
}

func TestScheduleRun(t *testing.T) {
	clock := &fakeClock{now: utc("2024-03-10T07:55:00Z")}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var rec recorder[events.EventBridgeEvent]
	var arns recorder[string]
	s := &Schedule{
		Expression: "rate(5 minutes)", Name: "nightly-rule", Region: "eu-central-1", FunctionName: "Reminders",
		Now: clock.Now, wait: clock.wait, Log: testLog(),
		Handler: func(ctx context.Context, ev events.EventBridgeEvent) error {
			lc, _ := lambdacontext.FromContext(ctx)
			arns.add(lc.InvokedFunctionArn)
			if rec.add(ev) == 2 {
				return errors.New("a failed run does not stop the schedule")
			}
			if len(rec.all()) == 3 {
				cancel()
			}
			return nil
		},
	}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	evs := rec.all()
	want := []string{"2024-03-10T08:00:00Z", "2024-03-10T08:05:00Z", "2024-03-10T08:10:00Z"}
	if len(evs) != len(want) {
		t.Fatalf("handler invoked %d times, want %d", len(evs), len(want))
	}
	ids := map[string]bool{}
	for i, ev := range evs {
		if !ev.Time.Equal(utc(want[i])) {
			t.Errorf("event %d time = %s, want %s", i, ev.Time.Format(time.RFC3339), want[i])
		}
		ids[ev.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("event ids %v are not distinct", ids)
	}
	b, err := json.Marshal(evs[0])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	delete(got, "id")
	wantJSON := `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","account":"000000000000",
		"time":"2024-03-10T08:00:00Z","region":"eu-central-1",
		"resources":["arn:aws:events:eu-central-1:000000000000:rule/nightly-rule"],"detail":{}}`
	var wantMap map[string]any
	if err := json.Unmarshal([]byte(wantJSON), &wantMap); err != nil {
		t.Fatal(err)
	}
	if gb, wb := mustJSON(t, got), mustJSON(t, wantMap); gb != wb {
		t.Errorf("event = %s\nwant %s", gb, wb)
	}
	if a := arns.all()[0]; a != "arn:aws:lambda:eu-central-1:000000000000:function:Reminders" {
		t.Errorf("InvokedFunctionArn = %q", a)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScheduleSkipsPassedFireTimes(t *testing.T) {
	clock := &fakeClock{now: utc("2024-03-10T08:00:00Z")}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var rec recorder[time.Time]
	s := &Schedule{
		Expression: "rate(5 minutes)", Now: clock.Now, wait: clock.wait, Log: testLog(),
		Handler: func(_ context.Context, ev events.EventBridgeEvent) error {
			if rec.add(ev.Time) == 1 {
				clock.advance(12 * time.Minute) // a slow run: 08:10 and 08:15 pass meanwhile
			} else {
				cancel()
			}
			return nil
		},
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got := rec.all()
	if len(got) != 2 || !got[0].Equal(utc("2024-03-10T08:05:00Z")) || !got[1].Equal(utc("2024-03-10T08:20:00Z")) {
		t.Errorf("fired at %v, want 08:05 and then 08:20 (08:10 and 08:15 skipped)", got)
	}
}

func TestScheduleInputReplacesTheEvent(t *testing.T) {
	var got events.EventBridgeEvent
	s := &Schedule{
		Expression: "rate(1 hour)", Input: `{"detail-type":"Cleanup","detail":{"olderThanDays":30},"extra":true}`, Log: testLog(),
		Handler: func(_ context.Context, ev events.EventBridgeEvent) error { got = ev; return nil },
	}
	if err := s.Fire(t.Context(), utc("2024-03-10T08:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if got.DetailType != "Cleanup" || string(got.Detail) != `{"olderThanDays":30}` || got.Source != "" || got.ID != "" {
		t.Errorf("event = %+v, want exactly the Input decoded", got)
	}
}

func TestScheduleFireFailures(t *testing.T) {
	tests := []struct {
		name    string
		s       Schedule
		wantErr string
	}{
		{"handler error", Schedule{Handler: func(context.Context, events.EventBridgeEvent) error { return errors.New("boom") }}, "boom"},
		{"panic", Schedule{Handler: func(context.Context, events.EventBridgeEvent) error { panic("kaput") }}, "handler panicked: kaput"},
		{"timeout", Schedule{Timeout: 20 * time.Millisecond, Handler: func(context.Context, events.EventBridgeEvent) error {
			time.Sleep(50 * time.Millisecond)
			return nil
		}}, "Task timed out"},
		{"input that does not decode", Schedule{Input: `{"time":"yesterday"}`, Handler: func(context.Context, events.EventBridgeEvent) error {
			return nil
		}}, "decode Input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.Log = testLog()
			err := tt.s.Fire(t.Context(), utc("2024-03-10T08:00:00Z"))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Fire = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestScheduleConfigErrors(t *testing.T) {
	h := func(context.Context, events.EventBridgeEvent) error { return nil }
	tests := []struct {
		name string
		s    Schedule
		want string
	}{
		{"no handler", Schedule{Expression: "rate(1 minute)"}, "Handler is nil"},
		{"bad expression", Schedule{Expression: "rate(1 minutes)", Handler: h}, "singular"},
		{"cron expression", Schedule{Expression: "cron(0 8 * * ? *)", Handler: h}, "not emulated"},
		{"input not JSON", Schedule{Expression: "rate(1 minute)", Input: "{", Handler: h}, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Run(t.Context()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestScheduleRunStopsOnCancel(t *testing.T) {
	// The real clock and sleep: Run must return promptly when cancelled mid-wait.
	ctx, cancel := context.WithCancel(t.Context())
	s := &Schedule{Expression: "rate(1 day)", Log: testLog(),
		Handler: func(context.Context, events.EventBridgeEvent) error { t.Error("fired"); return nil }}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

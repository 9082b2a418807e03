package eventsource

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// ScheduleHandler is the handler of a function with a Schedule event.
type ScheduleHandler = func(context.Context, events.EventBridgeEvent) error

// Schedule invokes Handler at the times of a rate expression, as an EventBridge rule (SAM
// Schedule) does, with the event a scheduled rule sends (a fresh id, "Scheduled Event" from
// "aws.events", the scheduled time to the second, the rule's ARN, an empty detail), or with
// Input instead. Invocations run one after the other; a fire time that passed meanwhile (or
// while the machine slept) is skipped, not caught up. A failed invocation is not retried.
type Schedule struct {
	// Expression is rate(...); see [ParseRate].
	Expression string
	// Input is the JSON the function receives instead of the scheduled event, if any.
	Input   string
	Handler ScheduleHandler
	// Name is the rule's name in the event's resources ARN; empty means FunctionName.
	Name string
	// Region and Account default to us-east-1 and DefaultAccount.
	Region  string
	Account string
	// FunctionName names the function in logs and in the lambdacontext's InvokedFunctionArn.
	FunctionName string
	// Timeout is the function's timeout; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the schedule's log; nil means slog.Default().
	Log *slog.Logger

	// wait sleeps d or until ctx is done, reporting whether it slept; tests replace it.
	wait func(ctx context.Context, d time.Duration) bool
}

// maxWait bounds one sleep, so that a clock that jumps (a laptop waking up) is noticed.
const maxWait = 30 * time.Second

// Run invokes the handler at every fire time from now on until ctx is cancelled. It returns
// an error at once when the schedule is misconfigured.
func (s *Schedule) Run(ctx context.Context) error {
	if s.Handler == nil {
		return fmt.Errorf("schedule %q: Handler is nil", s.Expression)
	}
	if s.Input != "" && !json.Valid([]byte(s.Input)) {
		return fmt.Errorf("schedule %q: Input is not JSON", s.Expression)
	}
	rate, err := ParseRate(s.Expression)
	if err != nil {
		return err
	}
	now, wait := s.Now, s.wait
	if now == nil {
		now = time.Now
	}
	if wait == nil {
		wait = sleep
	}
	at := now().Add(rate)
	for {
		for d := at.Sub(now()); d > 0; d = at.Sub(now()) {
			if !wait(ctx, min(d, maxWait)) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		// Fire logs a failed invocation.
		_ = s.Fire(ctx, at)
		n, skipped := at.Add(rate), 0
		for t := now(); !n.After(t); n = n.Add(rate) {
			skipped++
		}
		if skipped > 0 {
			s.logger().WarnContext(ctx, "schedule: fire times skipped because they passed", "function", s.FunctionName,
				"expression", s.Expression, "skipped", skipped)
		}
		at = n
	}
}

// Fire invokes the handler once, as the schedule does at the fire time at, and returns the
// invocation's error.
func (s *Schedule) Fire(ctx context.Context, at time.Time) error {
	if s.Handler == nil {
		return errors.New("schedule: Handler is nil")
	}
	region, account, name := cmp.Or(s.Region, "us-east-1"), cmp.Or(s.Account, DefaultAccount), cmp.Or(s.Name, s.FunctionName)
	ev := events.EventBridgeEvent{
		Version:    "0",
		ID:         uuid.NewString(),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  account,
		Time:       at.UTC().Truncate(time.Second),
		Region:     region,
		Resources:  []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", region, account, name)},
		Detail:     json.RawMessage(`{}`),
	}
	var err error
	if s.Input != "" {
		// The runtime would fail to decode the input before calling the handler.
		ev = events.EventBridgeEvent{}
		if err = json.Unmarshal([]byte(s.Input), &ev); err != nil {
			err = fmt.Errorf("decode Input: %w", err)
		}
	}
	if err == nil {
		h := func(ctx context.Context, ev events.EventBridgeEvent) (struct{}, error) {
			return struct{}{}, s.Handler(ctx, ev)
		}
		_, err = invoke(ctx, NewFunction(s.FunctionName, region, account, s.Timeout), h, ev)
	}
	if err != nil {
		s.logger().ErrorContext(ctx, "schedule: invocation failed",
			append([]any{"function", s.FunctionName, "expression", s.Expression, "time", ev.Time}, ErrorAttrs(err)...)...)
		return fmt.Errorf("invoke %s: %w", s.FunctionName, err)
	}
	return nil
}

func (s *Schedule) logger() *slog.Logger { return cmp.Or(s.Log, slog.Default()) }

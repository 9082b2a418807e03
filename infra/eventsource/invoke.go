// Package eventsource emulates, for the local stack, how AWS Lambda invokes in-process
// handlers from event sources: [SQS] (an event source mapping with partial batch failures),
// [Schedule] (an EventBridge rate() rule) and [Outbox] (DynamoDB stream INSERT records of a
// transactional outbox, read from an index, because the embedded emulator's stream does not
// record TransactWriteItems writes).
//
// Every invocation runs as the Lambda runtime would run it: the event passes through JSON
// (so the handler sees exactly what a deployed function would decode), the context carries a
// deadline at the function's timeout and a lambdacontext with a fresh request id, and is
// detached from the caller's cancellation. A panic counts as a failed invocation, and so
// does a handler that returns after its deadline ("Task timed out"); an in-process handler
// cannot be stopped, though: one that ignores its deadline holds its poller until it returns.
//
// Each source has Run, which blocks until its context is cancelled and returns an error only
// for a misconfiguration, and a single step for tests and benchmarks (Once, or Fire).
package eventsource

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"
)

// DefaultAccount is the account id of ARNs and events when none is known, as emulators use.
const DefaultAccount = "000000000000"

// DefaultTimeout is Lambda's default function timeout, used when a source's is zero.
const DefaultTimeout = 3 * time.Second

// Function is what the Lambda runtime tells a handler about the function it runs in.
type Function struct {
	Name    string
	ARN     string
	Timeout time.Duration
}

// NewFunction describes the function name in region and account (DefaultAccount when
// empty), with its timeout (DefaultTimeout when not positive). An empty name has no ARN.
func NewFunction(name, region, account string, timeout time.Duration) Function {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	f := Function{Name: name, Timeout: timeout}
	if name != "" {
		f.ARN = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, cmp.Or(account, DefaultAccount), name)
	}
	return f
}

// String names the function in errors.
func (f Function) String() string { return cmp.Or(f.Name, "handler") }

// PanicError is a handler panic, recovered, with the stack it happened on.
type PanicError struct {
	Value any
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }

// Invoke calls h with ev in the context the Lambda runtime gives a handler (see the package
// documentation) and returns a panic as a *PanicError. Unlike the event sources, it passes
// ev as it is and returns what h returns even after its deadline.
func Invoke[E, R any](parent context.Context, fn Function, h func(context.Context, E) (R, error), ev E) (resp R, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), fn.Timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       uuid.NewString(),
		InvokedFunctionArn: fn.ARN,
	})
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: string(debug.Stack())}
		}
	}()
	return h(ctx, ev)
}

// invoke runs h with ev the way the Lambda runtime would; see the package documentation.
func invoke[E, R any](parent context.Context, fn Function, h func(context.Context, E) (R, error), ev E) (R, error) {
	var zero R
	in, err := ViaJSON(ev)
	if err != nil {
		return zero, fmt.Errorf("encode event: %w", err)
	}
	// Taken before Invoke sets the context's deadline, so never later than it.
	deadline := time.Now().Add(fn.Timeout)
	resp, err := Invoke(parent, fn, h, in)
	if time.Now().After(deadline) {
		// Lambda would have stopped the function at its deadline, whatever it returned.
		return zero, fmt.Errorf("Task timed out after %.2f seconds", fn.Timeout.Seconds())
	}
	return resp, err
}

// ViaJSON round-trips v through JSON, as an event does on its way to a deployed function.
func ViaJSON[T any](v T) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(b, &out)
	return out, err
}

// ErrorAttrs returns log attributes for a failed invocation: the error and a panic's stack.
func ErrorAttrs(err error) []any {
	attrs := []any{"err", err.Error()}
	if p, ok := errors.AsType[*PanicError](err); ok {
		attrs = append(attrs, "stack", p.Stack)
	}
	return attrs
}

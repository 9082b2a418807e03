package dynamo_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/infra/testenv"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/dynamo"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
)

// opCounter counts the DynamoDB requests of a client by operation, through an SDK
// middleware on the client itself.
type opCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *opCounter) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID {
			c.mu.Lock()
			c.ops[awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
		}
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

// take returns the counts since the last take and resets them.
func (c *opCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = map[string]int{}
	return out
}

// countedStore is a store on the test table whose requests are counted.
func countedStore() (*dynamo.Store, *opCounter) {
	c := &opCounter{ops: map[string]int{}}
	db := dynamodb.NewFromConfig(env.e.AWS, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, c.option) })
	return dynamo.New(db, env.table), c
}

// TestSaveRequestReadsNothing: an update writes from the prior state its caller read, with
// no GetItem, and still releases the duplicate marker exactly when an open request closes
// and moves the timer item exactly when the timer changes; a stale prior state (or a
// request that is not stored) fails with ErrStale and writes nothing. The steps run in
// order on one request.
func TestSaveRequestReadsNothing(t *testing.T) {
	ctx := context.Background()
	st, count := countedStore()
	tn := "sv" + strings.ReplaceAll(testenv.Unique("t"), "-", "")[:12]
	t0 := time.Now().UTC().Truncate(time.Second)
	verifyBy, coolOff := t0.Add(time.Hour), t0.Add(48*time.Hour)
	r := dsr.New(app.NewID("rq_"), tn, app.NewID("p_"), dsr.Erasure, "", dsr.Unverified, ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}, t0)
	r.Status, r.VerifyBy, r.Version = dsr.AwaitingVerification, &verifyBy, 1
	if err := st.SaveRequest(ctx, r, dsr.Prior{}); err != nil {
		t.Fatal(err)
	}
	if ops := count.take(); ops["GetItem"] != 0 || ops["TransactWriteItems"] != 1 {
		t.Fatalf("creating made %v, want one TransactWriteItems", ops)
	}
	// timerAt reports whether the request's timer item is due by at, and before.
	timerAt := func(t *testing.T, at time.Time) (dueBy, dueBefore bool) {
		t.Helper()
		by, err := env.store.DueTimers(ctx, tn, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		before, err := env.store.DueTimers(ctx, tn, at.Add(-time.Second), 10)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(by, r.ID), slices.Contains(before, r.ID)
	}
	tests := []struct {
		name       string
		change     func(r *dsr.Request) error
		stalePrior bool // save from a prior state one version behind the stored one
		withEvents bool // SaveRequestWithEvents rather than SaveRequest
		wantOps    map[string]int
		wantErr    error
		wantMarker bool
		wantTimer  time.Time // zero: no timer item
	}{
		{"flags only", func(r *dsr.Request) error { r.DueSoon = true; return nil },
			false, false, map[string]int{"PutItem": 1}, nil, true, verifyBy},
		{"confirmed: the timer moves to the cool-off's end", func(r *dsr.Request) error {
			r.Status, r.VerifyBy, r.CoolOffUntil = dsr.Pending, nil, &coolOff
			return nil
		},
			false, false, map[string]int{"TransactWriteItems": 1}, nil, true, coolOff},
		{"a stale prior state writes nothing", func(r *dsr.Request) error {
			r.Status, r.CoolOffUntil = dsr.InProgress, nil
			return nil
		},
			true, false, map[string]int{"TransactWriteItems": 1}, errs.ErrStale, true, coolOff},
		{"a stale prior state with events writes nothing", func(r *dsr.Request) error { return r.Close(dsr.Cancelled, "", t0) },
			true, true, map[string]int{"TransactWriteItems": 1}, errs.ErrStale, true, coolOff},
		{"an open request changed while open keeps its marker", func(r *dsr.Request) error { r.Status = dsr.Failed; return nil },
			false, true, map[string]int{"TransactWriteItems": 1}, nil, true, coolOff},
		{"closing releases the marker and drops the timer", func(r *dsr.Request) error { return r.Close(dsr.Completed, "", t0) },
			false, true, map[string]int{"TransactWriteItems": 1}, nil, false, time.Time{}},
		{"a closed request saved again writes only itself", func(r *dsr.Request) error { r.Recipients = []dsr.Recipient{}; return nil },
			false, false, map[string]int{"PutItem": 1}, nil, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, err := env.store.Request(ctx, tn, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			prior := cur.Prior()
			if tt.stalePrior {
				prior.Version--
			}
			next := *cur
			if err := tt.change(&next); err != nil {
				t.Fatal(err)
			}
			next.Version = prior.Version + 1
			count.take()
			if tt.withEvents {
				err = st.SaveRequestWithEvents(ctx, &next, prior, nil, nil)
			} else {
				err = st.SaveRequest(ctx, &next, prior)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("save: %v, want %v", err, tt.wantErr)
			}
			if ops := count.take(); !maps.Equal(ops, tt.wantOps) {
				t.Errorf("the save made %v, want %v", ops, tt.wantOps)
			}
			after, err := env.store.Request(ctx, tn, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := cur.Version + 1; tt.wantErr != nil && after.Version != cur.Version || tt.wantErr == nil && after.Version != want {
				t.Errorf("stored version %d (was %d)", after.Version, cur.Version)
			}
			_, err = env.store.DuplicateOf(ctx, tn, r.ProfileID, r.DedupKey())
			if marker := err == nil; marker != tt.wantMarker {
				t.Errorf("duplicate marker held: %v (%v), want %v", marker, err, tt.wantMarker)
			}
			if tt.wantTimer.IsZero() {
				if by, _ := timerAt(t, t0.AddDate(1, 0, 0)); by {
					t.Error("the closed request still has a timer item")
				}
			} else if by, before := timerAt(t, tt.wantTimer); !by || before {
				t.Errorf("the timer item is not at %v (due by it %v, before it %v)", tt.wantTimer, by, before)
			}
		})
	}
	t.Run("a request that is not stored is stale", func(t *testing.T) {
		ghost := *r
		ghost.ID, ghost.Version = app.NewID("rq_"), 4
		err := st.SaveRequest(ctx, &ghost, dsr.Prior{Version: 3, Status: dsr.Pending})
		if !errors.Is(err, errs.ErrStale) {
			t.Fatalf("save: %v, want ErrStale", err)
		}
		if _, err := env.store.Request(ctx, tn, ghost.ID); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("the save stored the request: %v", err)
		}
		if due, err := env.store.DueTimers(ctx, tn, verifyBy, 10); err != nil || slices.Contains(due, ghost.ID) {
			t.Fatalf("the save stored the timer item: %v %v", due, err)
		}
	})
}

package localstack_test

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/wire"
)

// jobBudget is, per job worker, the DynamoDB requests one warm job of a person with a short
// history makes, by operation.
var jobBudget = map[string]map[string]int{
	// The request is read once and written twice: marked in progress, then completed from
	// the request as saved (each write conditioned on the version it replaces, so nothing is
	// read again unless it is stale); between them, the profile, the tenant, its webhooks
	// (the recipients), the person's requests (a Query of the pointers, a BatchGetItem of the
	// requests) and one page of the ledger.
	"ProcessExport": {"GetItem": 3, "PutItem": 1, "Query": 3, "BatchGetItem": 1, "TransactWriteItems": 1},
	// The eleven steps of the erasure (start, lock, tombstone, suppress, outbox, requests,
	// delete, exports, records, notify, complete), each idempotent and each reading what it
	// needs anew, so that a redelivered job resumes at any of them: the request is read by
	// start, notify and complete, and each write of it reads nothing more.
	"ProcessErasure": {"BatchGetItem": 2, "BatchWriteItem": 1, "DeleteItem": 2, "GetItem": 3, "PutItem": 3, "Query": 7,
		"TransactWriteItems": 2, "UpdateItem": 1},
}

// TestJobRequestCounts runs an export and an erasure through the stack's queues and workers
// and asserts the DynamoDB requests each job made, as TestRequestCounts does for the routes.
func TestJobRequestCounts(t *testing.T) {
	ctx := context.Background()
	// returned counts the job workers' invocations that have returned: a job's requests are
	// all made once the invocation that completed it has returned.
	var returned atomic.Int64
	wrap := func(id string, h any) any {
		next, ok := h.(wire.QueueHandler)
		if !ok || id != "ProcessExport" && id != "ProcessErasure" {
			return h
		}
		return wire.QueueHandler(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			defer returned.Add(1)
			return next(ctx, ev)
		})
	}
	_, counter, _, svc := countedStack(t, "jc", wrap)
	operator := app.RequestWrite{Actor: ledger.Actor{Kind: ledger.ActorOperator, ID: "test"}}
	job := func(typ dsr.Type, fn string) map[string]int {
		t.Helper()
		created, err := svc.CreateProfile(ctx, tenant, app.Create{
			Identities: []app.IdentityInput{{Type: "email", Value: fmt.Sprintf("job-%d@example.com", time.Now().UnixNano())}},
			Patch:      app.Patch{Attributes: map[string]any{"givenName": "Ada", "locale": "pl"}},
			Consents:   map[string]profile.ConsentInput{"marketing": {Status: profile.Granted, NoticeVersion: 2}},
		}, app.Write{Actor: operator.Actor})
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.CreateRequest(ctx, tenant, app.RequestInput{ProfileID: created.Profile.ID, Type: typ, Verification: dsr.AttestedBrand,
			AttestationReason: "identity checked by the support desk"}, operator)
		if err != nil {
			t.Fatal(err)
		}
		before := returned.Load()
		eventually(t, 20*time.Second, string(typ)+" job", func() bool {
			r, err := svc.GetRequest(ctx, tenant, res.Request.ID)
			return err == nil && r.Status == dsr.Completed && returned.Load() > before
		})
		return counter.take(fn)
	}
	for _, j := range []struct {
		typ dsr.Type
		fn  string
	}{{dsr.Access, "ProcessExport"}, {dsr.Erasure, "ProcessErasure"}} {
		fn := j.fn
		t.Run(fn, func(t *testing.T) {
			job(j.typ, fn) // warm-up: a cold container also reads the catalog
			if got := job(j.typ, fn); !maps.Equal(got, jobBudget[fn]) {
				t.Errorf("%s made %v, want %v", fn, got, jobBudget[fn])
			}
		})
	}
}

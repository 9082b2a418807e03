package main

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// ddbCounter counts the DynamoDB requests the function handlers make, per operation name,
// while it is on. It is installed as an SDK API option (localstack.Options.APIOptions), so
// it sees every call of every DynamoDB client built from the handlers' aws.Config.
//
// Calls are counted in the Initialize step (one per SDK operation call); attempts in the
// Finalize step after the retry middleware (one per HTTP request sent, retries included).
// With capacity on, it asks for ReturnConsumedCapacity=TOTAL on every call that accepts it
// and sums the ConsumedCapacity the service returns, if any.
type ddbCounter struct {
	on       atomic.Bool
	capacity bool

	mu       sync.Mutex
	calls    map[string]int64
	attempts map[string]int64
	// responses counts successful calls; reported counts those that carried ConsumedCapacity.
	responses, reported int64
	readUnits           float64
	writeUnits          float64
}

// ddbSnapshot is what a ddbCounter saw during one measured phase.
type ddbSnapshot struct {
	Calls      map[string]int64
	Attempts   map[string]int64
	Responses  int64
	Reported   int64
	ReadUnits  float64
	WriteUnits float64
}

func newDDBCounter(capacity bool) *ddbCounter {
	return &ddbCounter{capacity: capacity, calls: map[string]int64{}, attempts: map[string]int64{}}
}

// start clears the counts and starts counting.
func (c *ddbCounter) start() {
	c.mu.Lock()
	c.calls, c.attempts = map[string]int64{}, map[string]int64{}
	c.responses, c.reported, c.readUnits, c.writeUnits = 0, 0, 0, 0
	c.mu.Unlock()
	c.on.Store(true)
}

// stop stops counting and returns what was counted since start.
func (c *ddbCounter) stop() ddbSnapshot {
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	return ddbSnapshot{
		Calls: maps.Clone(c.calls), Attempts: maps.Clone(c.attempts),
		Responses: c.responses, Reported: c.reported, ReadUnits: c.readUnits, WriteUnits: c.writeUnits,
	}
}

func isDynamoDB(ctx context.Context) bool {
	return awsmiddleware.GetServiceID(ctx) == dynamodb.ServiceID
}

// apiOption adds the counting middleware to an SDK operation's stack.
func (c *ddbCounter) apiOption(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchCountDynamoDBCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if !c.on.Load() || !isDynamoDB(ctx) {
				return next.HandleInitialize(ctx, in)
			}
			op := awsmiddleware.GetOperationName(ctx)
			if c.capacity {
				in.Parameters = withCapacity(in.Parameters)
			}
			c.mu.Lock()
			c.calls[op]++
			c.mu.Unlock()
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil {
				read, write, ok := consumed(out.Result)
				c.mu.Lock()
				c.responses++
				if ok {
					c.reported++
					c.readUnits += read
					c.writeUnits += write
				}
				c.mu.Unlock()
			}
			return out, md, err
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("BenchCountDynamoDBAttempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if c.on.Load() && isDynamoDB(ctx) {
				op := awsmiddleware.GetOperationName(ctx)
				c.mu.Lock()
				c.attempts[op]++
				c.mu.Unlock()
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// withCapacity returns a shallow copy of a DynamoDB operation input that asks for the
// total consumed capacity, unless the caller already asked for something. The caller's
// struct is never modified.
func withCapacity(params any) any {
	const total = types.ReturnConsumedCapacityTotal
	switch v := params.(type) {
	case *dynamodb.GetItemInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.BatchGetItemInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.QueryInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.ScanInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.TransactGetItemsInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.TransactWriteItemsInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.PutItemInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.UpdateItemInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.DeleteItemInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	case *dynamodb.BatchWriteItemInput:
		if v.ReturnConsumedCapacity == "" {
			cp := *v
			cp.ReturnConsumedCapacity = total
			return &cp
		}
	}
	return params
}

// consumed sums the capacity units an operation output reports, split into read and write
// units by the kind of operation; ok is false when the output carries no ConsumedCapacity.
func consumed(result any) (read, write float64, ok bool) {
	sum := func(cs ...types.ConsumedCapacity) (float64, bool) {
		var total float64
		for _, c := range cs {
			if c.CapacityUnits != nil {
				total += *c.CapacityUnits
			}
		}
		return total, len(cs) > 0
	}
	one := func(c *types.ConsumedCapacity) (float64, bool) {
		if c == nil {
			return 0, false
		}
		return sum(*c)
	}
	switch v := result.(type) {
	case *dynamodb.GetItemOutput:
		read, ok = one(v.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		read, ok = one(v.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		read, ok = one(v.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		read, ok = sum(v.ConsumedCapacity...)
	case *dynamodb.TransactGetItemsOutput:
		read, ok = sum(v.ConsumedCapacity...)
	case *dynamodb.TransactWriteItemsOutput:
		write, ok = sum(v.ConsumedCapacity...)
	case *dynamodb.PutItemOutput:
		write, ok = one(v.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		write, ok = one(v.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		write, ok = one(v.ConsumedCapacity)
	case *dynamodb.BatchWriteItemOutput:
		write, ok = sum(v.ConsumedCapacity...)
	}
	return read, write, ok
}

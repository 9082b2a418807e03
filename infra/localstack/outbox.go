package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// The embedded emulator's table stream misses TransactWriteItems writes, so the local stack
// finds the outbox items its dispatcher would get from the stream on the table's GSI1
// instead: indexOutbox adds the index attributes to every outbox item a client of the local
// stack writes, and an eventsource.Outbox polls OutboxPartitions. Deployed functions write no
// such attributes, so in AWS the index holds no outbox item and no hot partition.
//
// The item layout is the profile table's (shared/dynamo): outbox items have the sort key
// "O" and their JSON document in "doc", with the profile's id in "profileId".
const (
	outboxIndex    = "GSI1"
	outboxShards   = 4
	outboxSortKey  = "O"
	attrSK         = "SK"
	attrPK         = "PK"
	attrDoc        = "doc"
	attrIndexPK    = "GSI1PK"
	attrIndexSK    = "GSI1SK"
	outboxPKPrefix = "OUTBOX#"
)

// OutboxPartitions are the GSI1 partition keys outbox items are indexed under on the local
// stack, oldest first within each.
func OutboxPartitions() []string {
	out := make([]string, outboxShards)
	for i := range out {
		out[i] = outboxPKPrefix + strconv.Itoa(i)
	}
	return out
}

// indexOutbox is the aws.Config APIOptions entry that indexes outbox items in PutItem and
// TransactWriteItems requests. A profile's items share a partition, in the order they were
// written, so the poller hands them to the dispatcher in that order, as the stream would.
func indexOutbox(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("IndexLocalOutbox",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetServiceID(ctx) != dynamodb.ServiceID {
				return next.HandleInitialize(ctx, in)
			}
			var err error
			// Copies, so that the caller's input and items stay as it built them.
			switch p := in.Parameters.(type) {
			case *dynamodb.PutItemInput:
				cp := *p
				if cp.Item, err = indexed(cp.Item); err == nil {
					in.Parameters = &cp
				}
			case *dynamodb.TransactWriteItemsInput:
				cp := *p
				cp.TransactItems = slices.Clone(p.TransactItems)
				for i, it := range cp.TransactItems {
					if it.Put == nil || err != nil {
						continue
					}
					put := *it.Put
					put.Item, err = indexed(put.Item)
					cp.TransactItems[i].Put = &put
				}
				in.Parameters = &cp
			}
			if err != nil {
				return middleware.InitializeOutput{}, middleware.Metadata{}, fmt.Errorf("local stack: index outbox item: %w", err)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// indexed returns item with the index attributes when it is an outbox item, else item.
func indexed(item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	if sk, ok := item[attrSK].(*types.AttributeValueMemberS); !ok || sk.Value != outboxSortKey {
		return item, nil
	}
	pk, _ := item[attrPK].(*types.AttributeValueMemberS)
	doc, _ := item[attrDoc].(*types.AttributeValueMemberS)
	if pk == nil || doc == nil {
		return nil, fmt.Errorf("outbox item without string %s and %s", attrPK, attrDoc)
	}
	var o struct {
		ProfileID string `json:"profileId"`
	}
	if err := json.Unmarshal([]byte(doc.Value), &o); err != nil {
		return nil, fmt.Errorf("decode outbox document: %w", err)
	}
	h := fnv.New32a()
	h.Write([]byte(o.ProfileID))
	at := time.Now().UnixNano()
	out := maps.Clone(item)
	out[attrIndexPK] = &types.AttributeValueMemberS{Value: OutboxPartitions()[h.Sum32()%outboxShards]}
	out[attrIndexSK] = &types.AttributeValueMemberS{Value: fmt.Sprintf("%020d#%s", at, pk.Value)}
	return out, nil
}

package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// The erasure job's storage. An erasure removes, for one profile: the identity items (each a
// copy of the profile), every item of the profile's partition (profile, ledger events,
// request pointers and duplicate markers) except the tombstone, and the idempotency records
// whose stored answers show the profile (listed on GSI1 under "T#<t>#PREC#<profileId>").
// It keeps the tombstone (SK "ERASED"), the pseudonymous record that the erasure happened.

// skErased is the sort key of an erased profile's tombstone, in the profile's partition.
const skErased = "ERASED"

// lockedVersion is the version attribute of a profile whose erasure has begun: no Commit
// (which is conditioned on the version it read, always at least 1) can match it again.
const lockedVersion = -1

// recordsIndexPK is the GSI1 partition listing the idempotency records of one profile.
func recordsIndexPK(t, profileID string) string { return "T#" + t + "#PREC#" + profileID }

// LockProfile freezes a profile for its erasure and returns it as frozen, with one
// UpdateItem: from then on every Commit to it fails as stale (so no identity, event, outbox
// item or idempotency record can be added), while reads still see it until it is deleted.
// It is idempotent. NotFound when the profile does not exist (any more).
func (st *Store) LockProfile(ctx context.Context, tenant, id string) (*profile.Profile, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: key(profilePK(tenant, id), skProfile),
		UpdateExpression:          aws.String("SET ver = :locked"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":locked": n(lockedVersion)},
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, notFound("profile")
	}
	if err != nil {
		return nil, fmt.Errorf("lock profile: %w", err)
	}
	item := out.Attributes
	if str(item, attrDoc) == "" {
		if item, err = st.get(ctx, profilePK(tenant, id), skProfile); err != nil {
			return nil, fmt.Errorf("locked profile: %w", err)
		}
		if item == nil {
			return nil, notFound("profile")
		}
	}
	return decode[profile.Profile](item)
}

// Tombstone reads an erased profile's tombstone; NotFound when there is none.
func (st *Store) Tombstone(ctx context.Context, tenant, profileID string) (*dsr.Tombstone, error) {
	item, err := st.get(ctx, profilePK(tenant, profileID), skErased)
	if err != nil {
		return nil, fmt.Errorf("tombstone: %w", err)
	}
	if item == nil {
		return nil, notFound("tombstone")
	}
	return decode[dsr.Tombstone](item)
}

// PutTombstone writes t. With create it keeps a tombstone that exists (the first erasure
// attempt's time and count stand) and returns the stored one; without, it replaces it.
func (st *Store) PutTombstone(ctx context.Context, t *dsr.Tombstone, create bool) (*dsr.Tombstone, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode tombstone: %w", err)
	}
	it := key(profilePK(t.Tenant, t.ProfileID), skErased)
	it[attrDoc] = s(string(doc))
	in := &dynamodb.PutItemInput{TableName: &st.table, Item: it}
	if create {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	}
	_, err = st.db.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if create && errors.As(err, &ccf) {
		return st.Tombstone(ctx, t.Tenant, t.ProfileID)
	}
	if err != nil {
		return nil, fmt.Errorf("put tombstone: %w", err)
	}
	out := *t
	return &out, nil
}

// PendingOutbox counts the outbox items of a profile's ledger events that the dispatcher has
// not yet handed on (and deleted): a strongly consistent BatchGetItem of the outbox key of
// every event in the partition (an outbox item is keyed by its commit's first event). Items
// past their TTL, which the dispatcher will never hand on, are deleted instead of counted.
// The profile should be locked first, so that no new one can appear.
func (st *Store) PendingOutbox(ctx context.Context, tenant, profileID string) (int, error) {
	var keys []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName:              &st.table,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(profilePK(tenant, profileID)), ":e": s(skEventPfx),
		},
		ProjectionExpression: aws.String("doc"),
		ConsistentRead:       aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("query ledger: %w", err)
		}
		for _, it := range page.Items {
			var e struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(str(it, attrDoc)), &e); err != nil || e.ID == "" {
				return 0, fmt.Errorf("decode stored ledger event: %v", err)
			}
			keys = append(keys, key(outboxPK(tenant, e.ID), skOutbox))
		}
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return 0, fmt.Errorf("pending outbox: %w", err)
	}
	now, pending := st.now().Unix(), 0
	var expired []map[string]types.AttributeValue
	for _, it := range items {
		if exp := expiry(it); exp > 0 && exp < now {
			expired = append(expired, key(str(it, attrPK), str(it, attrSK)))
			continue
		}
		pending++
	}
	if err := st.batchDelete(ctx, expired); err != nil {
		return 0, fmt.Errorf("delete expired outbox: %w", err)
	}
	return pending, nil
}

// DeleteProfileData deletes a (locked) profile's data from the table and returns how many
// items it deleted: the identity items of ids that still belong to the profile (each a
// conditional DeleteItem), every item of the profile's partition except the tombstone
// (BatchWriteItem, 25 at a time, unprocessed items retried with backoff), and the profile
// item last, so that a run cut short finds the profile, and with it the identities, again.
// Running it again is safe; without ids it clears what is left of the partition.
func (st *Store) DeleteProfileData(ctx context.Context, tenant, profileID string, ids []profile.Identity) (int, error) {
	deleted := 0
	for _, id := range ids {
		_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &st.table, Key: key(identityPK(tenant, id), skIdentity),
			ConditionExpression:       aws.String("pid = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(profileID)},
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf): // gone, or another profile's: not ours to delete
		case err != nil:
			return deleted, fmt.Errorf("delete identity: %w", err)
		default:
			deleted++
		}
	}
	var keys []map[string]types.AttributeValue
	hasProfile := false
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(profilePK(tenant, profileID))},
		ProjectionExpression:      aws.String("PK, SK"),
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return deleted, fmt.Errorf("query profile partition: %w", err)
		}
		for _, it := range page.Items {
			switch sk := str(it, attrSK); sk {
			case skErased:
			case skProfile:
				hasProfile = true
			default:
				keys = append(keys, key(str(it, attrPK), sk))
			}
		}
	}
	if err := st.batchDelete(ctx, keys); err != nil {
		return deleted, fmt.Errorf("delete profile partition: %w", err)
	}
	deleted += len(keys)
	if hasProfile {
		if _, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.table, Key: key(profilePK(tenant, profileID), skProfile)}); err != nil {
			return deleted, fmt.Errorf("delete profile: %w", err)
		}
		deleted++
	}
	return deleted, nil
}

// DeleteProfileRecords deletes the idempotency records whose stored answers show the
// profile (one Query of GSI1 per page, then BatchWriteItem) and returns how many.
func (st *Store) DeleteProfileRecords(ctx context.Context, tenant, profileID string) (int, error) {
	var keys []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName: &st.table, IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(recordsIndexPK(tenant, profileID))},
		ProjectionExpression:      aws.String("PK, SK"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("query profile records: %w", err)
		}
		for _, it := range page.Items {
			keys = append(keys, key(str(it, attrPK), str(it, attrSK)))
		}
	}
	if err := st.batchDelete(ctx, keys); err != nil {
		return 0, fmt.Errorf("delete profile records: %w", err)
	}
	return len(keys), nil
}

// PutOutbox writes one outbox item for events about a profile that are not part of its
// ledger (the profile may be gone), as Commit writes one, so the dispatcher hands them to
// every subscribed webhook. The item is keyed by the first event's id: writing the same
// events again while the item is pending writes nothing.
func (st *Store) PutOutbox(ctx context.Context, tenant, profileID string, evs []ledger.Event) error {
	if len(evs) == 0 {
		return nil
	}
	it, err := st.outboxItem(tenant, profileID, 0, evs)
	if err != nil {
		return err
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("put outbox: %w", err)
	}
	return nil
}

// expiry is an item's TTL attribute (Unix seconds), 0 when it has none.
func expiry(item map[string]types.AttributeValue) int64 {
	v, ok := item[attrTTL].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	t, _ := strconv.ParseInt(v.Value, 10, 64)
	return t
}

// deleteParallel bounds the BatchWriteItem requests batchDelete has in flight.
const deleteParallel = 8

// batchDelete deletes keys with BatchWriteItem, 25 per request and up to deleteParallel
// requests at once, retrying unprocessed items with backoff; deleting a missing item is no
// error. On error some keys may be deleted: running it again is safe.
func (st *Store) batchDelete(ctx context.Context, keys []map[string]types.AttributeValue) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, deleteParallel)
	)
	for start := 0; start < len(keys); start += 25 {
		chunk := keys[start:min(start+25, len(keys))]
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := st.deleteChunk(ctx, chunk); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// deleteChunk deletes up to 25 keys with BatchWriteItem, retrying unprocessed items.
func (st *Store) deleteChunk(ctx context.Context, chunk []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(chunk))
	for i, k := range chunk {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	req := map[string][]types.WriteRequest{st.table: reqs}
	for attempt := 0; len(req[st.table]) > 0; attempt++ {
		if attempt > 0 {
			if attempt > 8 {
				return errs.E(errs.TooManyRequests, "the store is busy; retry")
			}
			t := time.NewTimer(time.Duration(10<<attempt) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		out, err := st.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		req = out.UnprocessedItems
	}
	return nil
}

// SaveRequestWithEvents saves r in place of prior as SaveRequest does (r.Version =
// prior.Version+1, prior.Version at least 1: it only updates, and reads nothing) and, in
// the same TransactWriteItems, writes one outbox item for evs (see PutOutbox) and, when t
// is set, the tombstone t: the request's new state and its events are stored together or
// not at all. A concurrent change of the request, a request no longer stored (or events
// already written under the same ids) fails it with errs.ErrStale, writing nothing.
func (st *Store) SaveRequestWithEvents(ctx context.Context, r *dsr.Request, prior dsr.Prior, evs []ledger.Event, t *dsr.Tombstone) error {
	if prior.Version < 1 {
		return fmt.Errorf("request %s: SaveRequestWithEvents only updates stored requests", r.ID)
	}
	writes, _, err := st.requestWrites(r.Tenant, r, prior)
	if err != nil {
		return err
	}
	if len(evs) > 0 && !st.noOutbox {
		it, err := st.outboxItem(r.Tenant, r.ProfileID, 0, evs)
		if err != nil {
			return err
		}
		writes = append(writes, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}})
	}
	if t != nil {
		doc, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("encode tombstone: %w", err)
		}
		it := key(profilePK(t.Tenant, t.ProfileID), skErased)
		it[attrDoc] = s(string(doc))
		writes = append(writes, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: it}})
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, reason := range tce.CancellationReasons {
			switch aws.ToString(reason.Code) {
			case "ConditionalCheckFailed", "TransactionConflict":
				return staleRequest()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("save request with events: %w", err)
	}
	return nil
}

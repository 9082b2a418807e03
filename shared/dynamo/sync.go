package dynamo

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Sort keys of the sync items.
const (
	skSuppression = "SUP"
	skSyncMark    = "SYNC"
)

// syncMarkTTL is how long a source's change id is remembered: a replay within it is a
// duplicate, a replay after it is judged by the change's time alone.
const syncMarkTTL = 30 * 24 * time.Hour

// suppressionPK keys an erased person's identity by its salted hash, so the list of
// erased people holds no identifier in clear and cannot be checked without the salt.
func suppressionPK(t, digest string) string { return "T#" + t + "#SUP#" + digest }

// syncMarkPK keys a source's change id by its digest (ids are the source's, and may hold anything).
func syncMarkPK(t, source, change string) string {
	sum := sha256.Sum256([]byte(change))
	return "T#" + t + "#SYNC#" + source + "#" + hex.EncodeToString(sum[:])
}

// NewSuppressionSalt returns a fresh random salt for a tenant: 32 bytes, base64.
func NewSuppressionSalt() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// salt returns the tenant's suppression salt, from the warm cache when known. A tenant
// created before salts existed has none: with create it gets one (written once, under a
// condition, so concurrent writers agree); without, salt returns nil.
func (st *Store) salt(ctx context.Context, tenant string, create bool) ([]byte, error) {
	if v, ok := st.salts.Load(tenant); ok {
		return v.([]byte), nil
	}
	for range 5 {
		item, err := st.get(ctx, tenantPK(tenant), skTenant)
		if err != nil {
			return nil, fmt.Errorf("tenant: %w", err)
		}
		if item == nil {
			return nil, notFound("tenant")
		}
		t, err := decode[Tenant](item)
		if err != nil {
			return nil, err
		}
		if t.SuppressionSalt != "" {
			b, err := base64.StdEncoding.DecodeString(t.SuppressionSalt)
			if err != nil || len(b) < 16 {
				return nil, fmt.Errorf("tenant %s has a malformed suppression salt", tenant)
			}
			st.salts.Store(tenant, b)
			return b, nil
		}
		if !create {
			return nil, nil
		}
		t.SuppressionSalt = NewSuppressionSalt()
		doc, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("encode tenant: %w", err)
		}
		_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &st.table, Key: key(tenantPK(tenant), skTenant),
			UpdateExpression:          aws.String("SET doc = :new"),
			ConditionExpression:       aws.String("doc = :old"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":new": s(string(doc)), ":old": item[attrDoc]},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return nil, fmt.Errorf("set suppression salt: %w", err)
		}
		// Read it back: a concurrent writer may have set another one first.
	}
	return nil, errs.E(errs.TooManyRequests, "the tenant is being changed; retry")
}

func suppressionKey(tenant string, salt []byte, id profile.Identity) map[string]types.AttributeValue {
	mac := hmac.New(sha256.New, salt)
	mac.Write([]byte(id.String()))
	return key(suppressionPK(tenant, hex.EncodeToString(mac.Sum(nil))), skSuppression)
}

// Suppress records identities (normalized) of an erased person, so that no sync re-creates
// them. The erasure job calls it before deleting the profile. It is idempotent.
func (st *Store) Suppress(ctx context.Context, tenant string, ids []profile.Identity) error {
	items, err := st.suppressionItems(ctx, tenant, ids)
	if err != nil {
		return err
	}
	for _, it := range items {
		if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it}); err != nil {
			return fmt.Errorf("put suppression: %w", err)
		}
	}
	return nil
}

// suppressionItems returns the suppression item of each of ids, in order.
func (st *Store) suppressionItems(ctx context.Context, tenant string, ids []profile.Identity) ([]map[string]types.AttributeValue, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	salt, err := st.salt(ctx, tenant, true)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(map[string]any{"at": st.now().UTC()})
	if err != nil {
		return nil, fmt.Errorf("encode suppression: %w", err)
	}
	items := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		items[i] = suppressionKey(tenant, salt, id)
		items[i][attrDoc] = s(string(doc))
	}
	return items, nil
}

// SuppressUnheld records those of ids (normalized) that no profile holds, each with one
// TransactWriteItems: the suppression and a ConditionCheck that no identity item exists.
// So a profile that took one of them first keeps it (that one is not suppressed), and a write
// that comes later is refused by the suppression; nothing can slip in between. The erasure
// job calls it for the identities a person had removed before. It is idempotent.
func (st *Store) SuppressUnheld(ctx context.Context, tenant string, ids []profile.Identity) error {
	items, err := st.suppressionItems(ctx, tenant, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		it := items[i]
		_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &st.table, Item: it}},
			{ConditionCheck: &types.ConditionCheck{TableName: &st.table, Key: key(identityPK(tenant, id), skIdentity),
				ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		}})
		if cancelReason(err, 1) == condCheckFailed {
			continue // another profile holds it now: it is that person's
		}
		if err != nil {
			return fmt.Errorf("put suppression: %w", err)
		}
	}
	return nil
}

// Suppressed reports whether any of ids (normalized) was recorded by Suppress, with one
// BatchGetItem (the tenant's salt is read once per warm container).
func (st *Store) Suppressed(ctx context.Context, tenant string, ids []profile.Identity) (bool, error) {
	got, err := st.Suppressions(ctx, tenant, ids)
	return len(got) > 0, err
}

// Suppressions returns those of ids (normalized) that were recorded by Suppress, with one
// BatchGetItem per 100 (the tenant's salt is read once per warm container).
func (st *Store) Suppressions(ctx context.Context, tenant string, ids []profile.Identity) ([]profile.Identity, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	salt, err := st.salt(ctx, tenant, false)
	if errs.CodeOf(err) == errs.NotFound || (err == nil && salt == nil) {
		return nil, nil // nothing can have been suppressed without a salt
	}
	if err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = suppressionKey(tenant, salt, id)
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("suppressions: %w", err)
	}
	found := make(map[string]bool, len(items))
	for _, it := range items {
		found[str(it, attrPK)] = true
	}
	var out []profile.Identity
	for i, id := range ids {
		if found[str(keys[i], attrPK)] {
			out = append(out, id)
		}
	}
	return out, nil
}

// lifts returns a delete per identity of its suppression, conditioned on it existing.
func (st *Store) lifts(ctx context.Context, tenant string, ids []profile.Identity) ([]*types.Delete, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	salt, err := st.salt(ctx, tenant, false)
	if err != nil {
		return nil, err
	}
	if salt == nil {
		return nil, &errs.Error{Code: errs.Conflict, Message: "the identity was re-admitted concurrently", Err: errs.ErrStale}
	}
	out := make([]*types.Delete, len(ids))
	for i, id := range ids {
		out[i] = &types.Delete{TableName: &st.table, Key: suppressionKey(tenant, salt, id),
			ConditionExpression: aws.String("attribute_exists(PK)")}
	}
	return out, nil
}

// notErased returns a condition check per identity that it is not suppressed; none when
// the tenant has no salt (then nothing can have been suppressed).
func (st *Store) notErased(ctx context.Context, tenant string, ids []profile.Identity) ([]*types.ConditionCheck, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	salt, err := st.salt(ctx, tenant, false)
	if errs.CodeOf(err) == errs.NotFound || (err == nil && salt == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]*types.ConditionCheck, len(ids))
	for i, id := range ids {
		out[i] = &types.ConditionCheck{TableName: &st.table, Key: suppressionKey(tenant, salt, id),
			ConditionExpression: aws.String("attribute_not_exists(PK)")}
	}
	return out, nil
}

type markDoc struct {
	Source    string    `json:"source"`
	ProfileID string    `json:"profileId"`
	At        time.Time `json:"at"`
}

// markPut writes a sync mark unless an unexpired one exists (TTL deletion lags, so an
// expired mark may still be in the table).
func (st *Store) markPut(tenant string, m app.SyncMark, profileID string) *types.Put {
	now := st.now()
	doc, _ := json.Marshal(markDoc{Source: m.Source, ProfileID: profileID, At: now.UTC()}) // cannot fail
	it := key(syncMarkPK(tenant, m.Source, m.Change), skSyncMark)
	it[attrDoc], it[attrTTL] = s(string(doc)), n(now.Add(syncMarkTTL).Unix())
	return &types.Put{
		TableName: &st.table, Item: it,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #ttl < :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(now.Unix())},
	}
}

// PutSyncMark records a sync change that changed nothing, with one conditional PutItem;
// it fails with errs.ErrReplay if the change is already recorded.
func (st *Store) PutSyncMark(ctx context.Context, tenant string, m app.SyncMark, profileID string) error {
	p := st.markPut(tenant, m, profileID)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &errs.Error{Code: errs.Conflict, Message: "the sync change was already applied", Err: errs.ErrReplay}
	}
	if err != nil {
		return fmt.Errorf("put sync mark: %w", err)
	}
	return nil
}

// SyncMarks reads the marks of changeIDs with BatchGetItem (100 per request) and returns,
// for each unexpired one, the profile id it recorded.
func (st *Store) SyncMarks(ctx context.Context, tenant, source string, changeIDs []string) (map[string]string, error) {
	byPK := make(map[string]string, len(changeIDs))
	keys := make([]map[string]types.AttributeValue, 0, len(changeIDs))
	for _, id := range changeIDs {
		pk := syncMarkPK(tenant, source, id)
		if _, dup := byPK[pk]; !dup {
			keys = append(keys, key(pk, skSyncMark))
		}
		byPK[pk] = id
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("sync marks: %w", err)
	}
	now := st.now().Unix()
	out := map[string]string{}
	for _, it := range items {
		if v, ok := it[attrTTL].(*types.AttributeValueMemberN); ok {
			if exp, err := strconv.ParseInt(v.Value, 10, 64); err == nil && exp < now {
				continue
			}
		}
		d, err := decode[markDoc](it)
		if err != nil {
			return nil, err
		}
		out[byPK[str(it, attrPK)]] = d.ProfileID
	}
	return out, nil
}

// batchGet reads keys with strongly consistent BatchGetItem requests of up to 100 keys,
// retrying unprocessed keys (under throttling) with backoff; missing items are absent from
// the result.
func (st *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), 100)]
		keys = keys[len(chunk):]
		req := map[string]types.KeysAndAttributes{st.table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 0 {
				if attempt > 8 {
					return nil, errs.E(errs.TooManyRequests, "the store is busy; retry")
				}
				time.Sleep(time.Duration(10<<attempt) * time.Millisecond)
			}
			res, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("batch get: %w", err)
			}
			out = append(out, res.Responses[st.table]...)
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/errs"
)

// The hosted portal's own items, all under the tenant and all but the GPC marker expiring
// by TTL:
//
//   - "T#<t>#PN#<sha256(nonce)>" / "PN": a used single-use portal token nonce, until the
//     token expires (one conditional PutItem per use, one GetItem per check);
//   - "T#<t>#RL#<key>#<window start>" / "RL": a fixed-window rate-limit counter (one
//     UpdateItem ADD per hit); keys are pseudonyms, never an address or an IP in clear;
//   - "T#<t>#PS#<session id>" / "PS": a session ended by logout, until its absolute end;
//   - "T#<t>#P#<profile id>" / "GPC": the purposes a Global Privacy Control signal was
//     honoured for, in the profile's partition, so an erasure removes it with the profile.
const (
	skPortalNonce   = "PN"
	skPortalRate    = "RL"
	skPortalSession = "PS"
	skPortalGPC     = "GPC"
	attrCount       = "n"
)

func portalNoncePK(t, nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return "T#" + t + "#PN#" + hex.EncodeToString(sum[:16])
}

func portalRatePK(t, key string, window int64) string {
	return "T#" + t + "#RL#" + key + "#" + strconv.FormatInt(window, 10)
}

func portalSessionPK(t, sid string) string { return "T#" + t + "#PS#" + sid }

// portalExpired reports whether an item with a TTL attribute has passed it (TTL deletion lags by
// up to days, so reads must check).
func (st *Store) portalExpired(item map[string]types.AttributeValue) bool {
	ttl := num(item, attrTTL)
	return ttl > 0 && st.now().Unix() >= ttl
}

// UsePortalNonce records a portal token's nonce as used until until, with one conditional
// PutItem. A nonce used before (and not yet expired) fails with an *errs.Error wrapping
// errs.ErrReplay: the token is single-use.
func (st *Store) UsePortalNonce(ctx context.Context, tenant, nonce string, until time.Time) error {
	it := key(portalNoncePK(tenant, nonce), skPortalNonce)
	it[attrTTL] = n(until.Unix() + 1)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &st.table, Item: it,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #ttl < :now"),
		ExpressionAttributeNames:  map[string]string{"#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(st.now().Unix())},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &errs.Error{Code: errs.Conflict, Message: "this link was already used", Err: errs.ErrReplay}
	}
	if err != nil {
		return fmt.Errorf("use portal nonce: %w", err)
	}
	return nil
}

// PortalNonceUsed reports whether a portal token's nonce was used (one GetItem).
func (st *Store) PortalNonceUsed(ctx context.Context, tenant, nonce string) (bool, error) {
	item, err := st.get(ctx, portalNoncePK(tenant, nonce), skPortalNonce)
	if err != nil {
		return false, fmt.Errorf("portal nonce: %w", err)
	}
	return item != nil && !st.portalExpired(item), nil
}

// CountPortalHit adds one to the rate-limit counter for the fixed window of length
// window that holds now, and returns the window's count including this hit (one UpdateItem).
// The counter expires an hour after its window ends.
func (st *Store) CountPortalHit(ctx context.Context, tenant, counter string, window time.Duration, now time.Time) (int64, error) {
	w := int64(window / time.Second)
	if w < 1 {
		return 0, errors.New("count portal hit: window must be at least a second")
	}
	start := now.Unix() / w * w
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &st.table, Key: key(portalRatePK(tenant, counter, start), skPortalRate),
		UpdateExpression:          aws.String("ADD #n :one SET #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#n": attrCount, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":ttl": n(start + w + 3600)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("count portal hit: %w", err)
	}
	return num(out.Attributes, attrCount), nil
}

// RevokePortalSession records that session sid was ended (logout) until until, its
// absolute end (one PutItem).
func (st *Store) RevokePortalSession(ctx context.Context, tenant, sid string, until time.Time) error {
	it := key(portalSessionPK(tenant, sid), skPortalSession)
	it[attrTTL] = n(until.Unix() + 1)
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it}); err != nil {
		return fmt.Errorf("revoke portal session: %w", err)
	}
	return nil
}

// PortalSessionRevoked reports whether session sid was ended by logout (one GetItem).
func (st *Store) PortalSessionRevoked(ctx context.Context, tenant, sid string) (bool, error) {
	item, err := st.get(ctx, portalSessionPK(tenant, sid), skPortalSession)
	if err != nil {
		return false, fmt.Errorf("portal session: %w", err)
	}
	return item != nil && !st.portalExpired(item), nil
}

type gpcMarker struct {
	Purposes []string  `json:"purposes"`
	At       time.Time `json:"at"`
}

// PortalGPC returns the purposes a Global Privacy Control signal was already honoured for
// on the profile, nil when never (one GetItem).
func (st *Store) PortalGPC(ctx context.Context, tenant, profileID string) ([]string, error) {
	item, err := st.get(ctx, profilePK(tenant, profileID), skPortalGPC)
	if err != nil {
		return nil, fmt.Errorf("gpc marker: %w", err)
	}
	if item == nil {
		return nil, nil
	}
	m, err := decode[gpcMarker](item)
	if err != nil {
		return nil, err
	}
	return m.Purposes, nil
}

// PutPortalGPC records the purposes a Global Privacy Control signal was honoured for on
// the profile (one PutItem, replacing the previous record).
func (st *Store) PutPortalGPC(ctx context.Context, tenant, profileID string, purposes []string, at time.Time) error {
	doc, err := json.Marshal(gpcMarker{Purposes: purposes, At: at.UTC()})
	if err != nil {
		return fmt.Errorf("encode gpc marker: %w", err)
	}
	it := key(profilePK(tenant, profileID), skPortalGPC)
	it[attrDoc] = s(string(doc))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it}); err != nil {
		return fmt.Errorf("put gpc marker: %w", err)
	}
	return nil
}

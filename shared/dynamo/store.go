// Package dynamo stores living profiles in one DynamoDB table, keyed for the access
// patterns in docs/architecture.md: every key starts with the tenant, a profile and each
// of its identities are one item each (the identity items carry a copy of the profile so
// a check by identity is one read), and every change is one TransactWriteItems.
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

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Attribute names. Documents are stored as one JSON string: the table never needs to
// filter on their insides, and one attribute keeps items compact.
const (
	attrPK      = "PK"
	attrSK      = "SK"
	attrGSI1PK  = "GSI1PK"
	attrGSI1SK  = "GSI1SK"
	attrDoc     = "doc"
	attrVersion = "ver"
	attrProfile = "pid"
	attrTTL     = "ttl"
)

// Sort keys of the item kinds.
const (
	skProfile  = "P"
	skIdentity = "I"
	skCatalog  = "CATALOG"
	skTenant   = "TENANT"
	skRecord   = "R"
	skOutbox   = "O"
	skKey      = "K"
	skEventPfx = "E#"
)

// Retention of items that expire by TTL.
const (
	recordTTL   = 24 * time.Hour
	outboxTTL   = 7 * 24 * time.Hour
	deliveryTTL = 30 * 24 * time.Hour
)

// maxProfileBytes keeps a profile item, and each identity copy, well under DynamoDB's
// 400 KB item limit.
const maxProfileBytes = 300 << 10

// Store is the DynamoDB adapter. It is safe for concurrent use.
type Store struct {
	db    *dynamodb.Client
	table string
	now   func() time.Time
	salts sync.Map // tenant -> suppression salt ([]byte); a tenant's salt never changes

	noOutbox bool
}

// New returns a Store over table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, now: time.Now}
}

// DisableOutbox makes this store's commits write no outbox item, so their events reach no
// webhook. It exists only so benchmarks can measure what the outbox costs; call it on a
// store of its own before use.
func (st *Store) DisableOutbox() { st.noOutbox = true }

func tenantPK(t string) string                        { return "T#" + t }
func profilePK(t, id string) string                   { return "T#" + t + "#P#" + id }
func identityPK(t string, id profile.Identity) string { return "T#" + t + "#I#" + id.Hash() }
func recordPK(t, key string) string                   { return "T#" + t + "#R#" + key }
func outboxPK(t, id string) string                    { return "T#" + t + "#O#" + id }
func eventSK(seq int64) string                        { return fmt.Sprintf("%s%012d", skEventPfx, seq) }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: s(pk), attrSK: s(sk)}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func decode[T any](item map[string]types.AttributeValue) (*T, error) {
	var v T
	if err := json.Unmarshal([]byte(str(item, attrDoc)), &v); err != nil {
		return nil, fmt.Errorf("decode stored %T: %w", v, err)
	}
	return &v, nil
}

// Codes of a cancelled transaction's reasons that the store tells apart.
const (
	condCheckFailed = "ConditionalCheckFailed"
	txConflict      = "TransactionConflict"
)

// cancelReason returns the code of why item i of a cancelled TransactWriteItems was refused
// (condCheckFailed, txConflict, "None" for an item that was fine), or "" when err is no
// cancelled transaction.
func cancelReason(err error, i int) string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || i >= len(tce.CancellationReasons) {
		return ""
	}
	return aws.ToString(tce.CancellationReasons[i].Code)
}

func notFound(what string) error { return errs.E(errs.NotFound, what+" not found") }

// Reads are strongly consistent: a consent check right after a withdrawal must see it.
func (st *Store) get(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get item: %w", err)
	}
	return out.Item, nil
}

// Profile reads one profile with one GetItem.
func (st *Store) Profile(ctx context.Context, tenant, id string) (*profile.Profile, error) {
	item, err := st.get(ctx, profilePK(tenant, id), skProfile)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if item == nil {
		return nil, notFound("profile")
	}
	return decode[profile.Profile](item)
}

// ProfileByIdentity reads the identity item, which carries the whole profile: one GetItem.
func (st *Store) ProfileByIdentity(ctx context.Context, tenant string, id profile.Identity) (*profile.Profile, error) {
	item, err := st.get(ctx, identityPK(tenant, id), skIdentity)
	if err != nil {
		return nil, fmt.Errorf("profile by identity: %w", err)
	}
	if item == nil {
		return nil, notFound("profile")
	}
	return decode[profile.Profile](item)
}

func refKey(tenant string, r app.Ref) map[string]types.AttributeValue {
	if r.ID != "" {
		return key(profilePK(tenant, r.ID), skProfile)
	}
	return key(identityPK(tenant, r.Identity), skIdentity)
}

// Lookup resolves up to 100 references with one BatchGetItem; unprocessed keys (under
// throttling) are retried with backoff.
func (st *Store) Lookup(ctx context.Context, tenant string, refs []app.Ref) (map[app.Ref]*profile.Profile, error) {
	byPK := map[string][]app.Ref{}
	var keys []map[string]types.AttributeValue
	for _, r := range refs {
		k := refKey(tenant, r)
		pk := str(k, attrPK)
		if _, dup := byPK[pk]; !dup {
			keys = append(keys, k)
		}
		byPK[pk] = append(byPK[pk], r)
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[app.Ref]*profile.Profile, len(refs))
	for _, item := range items {
		p, err := decode[profile.Profile](item)
		if err != nil {
			return nil, err
		}
		for _, r := range byPK[str(item, attrPK)] {
			out[r] = p
		}
	}
	return out, nil
}

type itemKind int

const (
	kindProfile itemKind = iota
	kindIdentity
	kindRemoved
	kindEvent
	kindOutbox
	kindRecord
	kindMark
	kindErased
	kindLift
	kindRequest      // a data-subject request (see requests.go)
	kindRequestPtr   // its pointer in the profile's partition
	kindDedup        // its duplicate marker, created
	kindDedupRelease // its duplicate marker, released
	kindTimer        // its timer item, put or deleted
	kindAlias        // an absorbed id's profile item, carrying the survivor
	kindMergeRecord  // a merge's record, put by the merge or deleted by its split
	kindCandidate    // a merge candidate, decided
	kindRetention    // a retention marker, put or deleted (see retention.go)
)

// Commit writes a profile change in one TransactWriteItems: the profile (conditioned on its
// version), a copy in every identity item (conditioned on belonging to this profile or
// being new), deletes of removed identities, the sealed ledger events, one outbox item for
// the events, the idempotency record and the sync marks (each conditioned on not existing),
// checks that no identity in c.NotErased is suppressed, and deletes the suppressions of
// c.Lift (each conditioned on existing).
func (st *Store) Commit(ctx context.Context, tenant string, c app.Commit) error {
	p := c.Profile
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	if len(doc) > maxProfileBytes {
		return errs.E(errs.Invalid, "the profile would exceed its size limit; remove attributes or identities first")
	}
	pid := s(p.ID)
	var items []types.TransactWriteItem
	var kinds []itemKind
	var idOf []profile.Identity
	add := func(k itemKind, id profile.Identity, it types.TransactWriteItem) {
		items, kinds, idOf = append(items, it), append(kinds, k), append(idOf, id)
	}
	profileItem := key(profilePK(tenant, p.ID), skProfile)
	profileItem[attrDoc], profileItem[attrVersion] = s(string(doc)), n(p.Version)
	put := &types.Put{TableName: &st.table, Item: profileItem}
	if c.PrevVersion == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		// An alias item (it has a pid) is never a profile of its own: a writer that read the
		// absorbed profile before its merge is stale however the versions compare.
		put.ConditionExpression = aws.String("ver = :v AND attribute_not_exists(pid)")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": n(c.PrevVersion)}
	}
	add(kindProfile, profile.Identity{}, types.TransactWriteItem{Put: put})
	// A merge takes over the absorbed profile's identity and alias items.
	owners, vals := "pid = :p", map[string]types.AttributeValue{":p": pid}
	if c.Merge != nil {
		owners, vals = "pid = :p OR pid = :a", map[string]types.AttributeValue{":p": pid, ":a": s(c.Merge.Absorbed.ID)}
	}
	for _, id := range p.Identities {
		it := key(identityPK(tenant, id), skIdentity)
		it[attrDoc], it[attrVersion], it[attrProfile] = s(string(doc)), n(p.Version), pid
		add(kindIdentity, id, types.TransactWriteItem{Put: &types.Put{
			TableName: &st.table, Item: it,
			ConditionExpression: aws.String("attribute_not_exists(PK) OR " + owners), ExpressionAttributeValues: vals,
		}})
	}
	for _, a := range p.Aliases {
		it := key(profilePK(tenant, a), skProfile)
		it[attrDoc], it[attrVersion], it[attrProfile] = s(string(doc)), n(p.Version), pid
		w := &types.Put{TableName: &st.table, Item: it, ConditionExpression: aws.String(owners), ExpressionAttributeValues: vals}
		if c.Merge != nil && a == c.Merge.Absorbed.ID {
			w.ConditionExpression = aws.String("ver = :av AND attribute_not_exists(pid)")
			w.ExpressionAttributeValues = map[string]types.AttributeValue{":av": n(c.Merge.PrevVersion)}
		}
		add(kindAlias, profile.Identity{}, types.TransactWriteItem{Put: w})
	}
	for _, id := range c.Removed {
		add(kindRemoved, id, types.TransactWriteItem{Delete: &types.Delete{
			TableName: &st.table, Key: key(identityPK(tenant, id), skIdentity),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR pid = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": pid},
		}})
	}
	if err := st.eventWrites(tenant, p.ID, c.Events, add); err != nil {
		return err
	}
	st.retentionWrites(tenant, p, c.Events, add)
	if err := st.resolutionWrites(tenant, c, add); err != nil {
		return err
	}
	if len(c.Events) > 0 && !st.noOutbox {
		it, err := st.outboxOf(Outbox{Tenant: tenant, ProfileID: p.ID, Version: p.Version, Events: c.Events, Quiet: c.Quiet})
		if err != nil {
			return err
		}
		add(kindOutbox, profile.Identity{}, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: it}})
	}
	if c.Record != nil {
		it, err := st.recordItem(tenant, c.Record)
		if err != nil {
			return err
		}
		add(kindRecord, profile.Identity{}, types.TransactWriteItem{Put: &types.Put{
			TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}})
	}
	for _, m := range c.Marks {
		add(kindMark, profile.Identity{}, types.TransactWriteItem{Put: st.markPut(tenant, m, p.ID)})
	}
	checks, err := st.notErased(ctx, tenant, c.NotErased)
	if err != nil {
		return err
	}
	for i, ck := range checks {
		add(kindErased, c.NotErased[i], types.TransactWriteItem{ConditionCheck: ck})
	}
	lifts, err := st.lifts(ctx, tenant, c.Lift)
	if err != nil {
		return err
	}
	for i, d := range lifts {
		add(kindLift, c.Lift[i], types.TransactWriteItem{Delete: d})
	}
	for _, r := range c.Requests {
		writes, ks, err := st.requestWrites(tenant, r.Request, r.Prior)
		if err != nil {
			return err
		}
		for i, w := range writes {
			add(ks[i], profile.Identity{}, w)
		}
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		if err != nil {
			return fmt.Errorf("commit profile: %w", err)
		}
		return nil
	}
	// The first failed condition decides; a record clash means a replay won the race.
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) != "ConditionalCheckFailed" || i >= len(kinds) {
			continue
		}
		switch kinds[i] {
		case kindProfile, kindAlias, kindMergeRecord:
			return &errs.Error{Code: errs.Conflict, Message: "the profile changed concurrently", Err: errs.ErrStale}
		case kindCandidate:
			return errs.E(errs.Conflict, "the merge candidate was decided concurrently")
		case kindRecord:
			return &errs.Error{Code: errs.Conflict, Message: "idempotency key already used", Err: errs.ErrReplay}
		case kindMark:
			return &errs.Error{Code: errs.Conflict, Message: "the sync change was already applied", Err: errs.ErrReplay}
		case kindErased:
			return app.Erased(idOf[i])
		case kindLift:
			return &errs.Error{Code: errs.Conflict, Message: "the identity was re-admitted concurrently", Err: errs.ErrStale}
		case kindDedup:
			return duplicateRequest()
		case kindRequest:
			return staleRequest()
		case kindIdentity:
			return &errs.Error{Code: errs.Conflict, Message: "an identity belongs to another profile",
				Fields: []errs.FieldError{{Field: "identities", Reason: "a " + idOf[i].Type + " identity belongs to another profile"}},
				Err:    errs.ErrIdentityTaken}
		}
	}
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed", "TransactionConflict":
			return &errs.Error{Code: errs.Conflict, Message: "the profile changed concurrently", Err: errs.ErrStale}
		}
	}
	return fmt.Errorf("commit profile: %w", err)
}

// Events returns up to limit ledger events from sequence number from, in order.
func (st *Store) Events(ctx context.Context, tenant, profileID string, from int64, limit int) ([]ledger.Event, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &st.table,
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(profilePK(tenant, profileID)), ":from": s(eventSK(from)), ":to": s(skEventPfx + "999999999999"),
		},
		Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	evs := make([]ledger.Event, 0, len(out.Items))
	for _, it := range out.Items {
		e, err := decode[ledger.Event](it)
		if err != nil {
			return nil, err
		}
		evs = append(evs, *e)
	}
	return evs, nil
}

// Catalog reads the tenant's catalog.
func (st *Store) Catalog(ctx context.Context, tenant string) (*catalog.Catalog, error) {
	item, err := st.get(ctx, tenantPK(tenant), skCatalog)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if item == nil {
		return nil, notFound("catalog")
	}
	return decode[catalog.Catalog](item)
}

// PutCatalog writes the catalog if the stored one is at prevVersion (0: none stored),
// together with the idempotency record when given.
func (st *Store) PutCatalog(ctx context.Context, tenant string, c *catalog.Catalog, prevVersion int, rec *app.Record) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	it := key(tenantPK(tenant), skCatalog)
	it[attrDoc], it[attrVersion] = s(string(doc)), n(int64(c.Version))
	put := &types.Put{TableName: &st.table, Item: it}
	if prevVersion == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		put.ConditionExpression = aws.String("ver = :v")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": n(int64(prevVersion))}
	}
	items := []types.TransactWriteItem{{Put: put}}
	if rec != nil {
		ri, err := st.recordItem(tenant, rec)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: ri, ConditionExpression: aws.String("attribute_not_exists(PK)")}})
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if cancelReason(err, 1) == condCheckFailed {
			return &errs.Error{Code: errs.Conflict, Message: "idempotency key already used", Err: errs.ErrReplay}
		}
		return &errs.Error{Code: errs.Conflict, Message: "the catalog changed concurrently", Err: errs.ErrStale}
	}
	if err != nil {
		return fmt.Errorf("put catalog: %w", err)
	}
	return nil
}

func (st *Store) recordItem(tenant string, r *app.Record) (map[string]types.AttributeValue, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	it := key(recordPK(tenant, r.Key), skRecord)
	it[attrDoc], it[attrTTL] = s(string(b)), n(r.CreatedAt.Add(recordTTL).Unix())
	if r.ProfileID != "" {
		// Listed per profile, so the erasure job can find the answers that show it.
		it[attrGSI1PK], it[attrGSI1SK] = s(recordsIndexPK(tenant, r.ProfileID)), s(r.Key)
	}
	return it, nil
}

// Record reads an idempotency record. Expired records still in the table (TTL deletion
// lags) are treated as absent.
func (st *Store) Record(ctx context.Context, tenant, key string) (*app.Record, error) {
	item, err := st.get(ctx, recordPK(tenant, key), skRecord)
	if err != nil {
		return nil, fmt.Errorf("idempotency record: %w", err)
	}
	if item == nil {
		return nil, notFound("idempotency record")
	}
	r, err := decode[app.Record](item)
	if err != nil {
		return nil, err
	}
	if st.now().After(r.CreatedAt.Add(recordTTL)) {
		return nil, notFound("idempotency record")
	}
	return r, nil
}

// PutRecord stores an idempotency record unless one exists for the key.
func (st *Store) PutRecord(ctx context.Context, tenant string, r *app.Record) error {
	it, err := st.recordItem(tenant, r)
	if err != nil {
		return err
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &errs.Error{Code: errs.Conflict, Message: "idempotency key already used", Err: errs.ErrReplay}
	}
	if err != nil {
		return fmt.Errorf("put idempotency record: %w", err)
	}
	return nil
}

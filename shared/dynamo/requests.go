package dynamo

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// Data-subject requests. A request is its own partition (PK "T#<tenant>#Q#<id>", SK "Q"),
// so it survives the erasure of the person's partition as the pseudonymous record of what
// was asked and done. On GSI1 it sits under "T#<tenant>#REQ#open" or "…#REQ#closed", sorted
// by "<dueAt, fixed-width UTC>#<id>": a tenant's open requests by due date are one Query.
// In the profile's partition, "Q#<id>" points at each of the person's requests (written once,
// at creation, never changed), and "QOPEN#<dedup key>" names the one open request of that
// kind, created under attribute_not_exists with the request and deleted in the transaction
// that closes it: a second open request of the same kind cannot be created.
//
// A request with a timer (dsr.Request.Timer: its confirmation expiry, the end of its
// cool-off) also has a timer item in its own partition (SK "TIMER"), on GSI1 under
// "T#<tenant>#REQ#timer" sorted by "<when>#<id>", written and deleted in the same write as
// the request: the sweeper's due timers are one Query, never a scan.
const (
	skTimer         = "TIMER"
	skRequest       = "Q"
	skRequestPtrPfx = "Q#"
	skOpenPfx       = "QOPEN#"
	attrStatus      = "st"
	attrRequestID   = "rq"
	attrExportKey   = "xk" // dsr.Export.Key is not part of the JSON document
	attrNoRecipient = "nr" // Recipients is empty, not absent (the JSON document omits both)
)

// tenantsIndex is the GSI1 partition under which every tenant item is listed.
const tenantsIndex = "TENANTS"

// dueLayout renders due dates fixed-width, so that they sort as strings.
const dueLayout = "2006-01-02T15:04:05.000000000Z"

func requestPK(t, id string) string { return "T#" + t + "#Q#" + id }

func requestsIndexPK(t string, open bool) string {
	if open {
		return "T#" + t + "#REQ#open"
	}
	return "T#" + t + "#REQ#closed"
}

func timersIndexPK(t string) string { return "T#" + t + "#REQ#timer" }

// timerWrite puts r's timer item, or deletes it when r has none.
func (st *Store) timerWrite(r *dsr.Request) types.TransactWriteItem {
	k := key(requestPK(r.Tenant, r.ID), skTimer)
	at := r.Timer()
	if at.IsZero() {
		return types.TransactWriteItem{Delete: &types.Delete{TableName: &st.table, Key: k}}
	}
	k[attrGSI1PK], k[attrGSI1SK], k[attrRequestID] = s(timersIndexPK(r.Tenant)), s(dueKey(at, r.ID)), s(r.ID)
	return types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: k}}
}

func dueKey(due time.Time, id string) string { return due.UTC().Format(dueLayout) + "#" + id }

func dedupKey(t string, r *dsr.Request) map[string]types.AttributeValue {
	return key(profilePK(t, r.ProfileID), skOpenPfx+r.DedupKey())
}

func num(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func requestItem(r *dsr.Request) (map[string]types.AttributeValue, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	it := key(requestPK(r.Tenant, r.ID), skRequest)
	it[attrDoc], it[attrVersion], it[attrProfile], it[attrStatus] = s(string(doc)), n(r.Version), s(r.ProfileID), s(string(r.Status))
	it[attrGSI1PK], it[attrGSI1SK] = s(requestsIndexPK(r.Tenant, r.Status.Open())), s(dueKey(r.DueAt, r.ID))
	if r.Export != nil && r.Export.Key != "" {
		it[attrExportKey] = s(r.Export.Key)
	}
	if r.Recipients != nil && len(r.Recipients) == 0 {
		it[attrNoRecipient] = &types.AttributeValueMemberBOOL{Value: true}
	}
	return it, nil
}

func decodeRequest(item map[string]types.AttributeValue) (*dsr.Request, error) {
	r, err := decode[dsr.Request](item)
	if err != nil {
		return nil, err
	}
	if r.Export != nil {
		r.Export.Key = str(item, attrExportKey)
	}
	if _, ok := item[attrNoRecipient]; ok && r.Recipients == nil {
		r.Recipients = []dsr.Recipient{}
	}
	return r, nil
}

// Request reads one request with one GetItem; NotFound when absent. It returns what
// SaveRequest wrote, including Export.Key and an empty (not nil) Recipients.
func (st *Store) Request(ctx context.Context, tenant, id string) (*dsr.Request, error) {
	item, err := st.get(ctx, requestPK(tenant, id), skRequest)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if item == nil {
		return nil, notFound("request")
	}
	return decodeRequest(item)
}

// requestWrites returns the writes that store r in place of prior (the zero Prior: it does
// not exist), with their kinds, conditioned on the stored version being prior's. Creating
// writes the request, its pointer in the profile's partition and, while open, the duplicate
// marker; closing an open request deletes the marker; a changed timer moves its item. It
// reads nothing: the version condition means the writes only land on the state prior
// describes, so what the caller read is what is stored whenever they succeed.
func (st *Store) requestWrites(tenant string, r *dsr.Request, prior dsr.Prior) ([]types.TransactWriteItem, []itemKind, error) {
	if r.Tenant != tenant || r.ID == "" || r.ProfileID == "" {
		return nil, nil, fmt.Errorf("request %q of tenant %q cannot be saved under tenant %q", r.ID, r.Tenant, tenant)
	}
	if r.Version != prior.Version+1 {
		return nil, nil, fmt.Errorf("request %s: version %d must be the previous version %d plus one", r.ID, r.Version, prior.Version)
	}
	it, err := requestItem(r)
	if err != nil {
		return nil, nil, err
	}
	put := &types.Put{TableName: &st.table, Item: it}
	writes := []types.TransactWriteItem{{Put: put}}
	kinds := []itemKind{kindRequest}
	if prior.Version == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(PK)")
		ptr := key(profilePK(tenant, r.ProfileID), skRequestPtrPfx+r.ID)
		ptr[attrRequestID] = s(r.ID)
		writes, kinds = append(writes, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: ptr}}), append(kinds, kindRequestPtr)
		if r.Status.Open() {
			mark := dedupKey(tenant, r)
			mark[attrRequestID] = s(r.ID)
			writes = append(writes, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: mark,
				ConditionExpression: aws.String("attribute_not_exists(PK)")}})
			kinds = append(kinds, kindDedup)
		}
		if !r.Timer().IsZero() {
			writes, kinds = append(writes, st.timerWrite(r)), append(kinds, kindTimer)
		}
		return writes, kinds, nil
	}
	put.ConditionExpression = aws.String("ver = :v")
	put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": n(prior.Version)}
	if prior.Status.Open() && !r.Status.Open() {
		// While the request was open, the marker (if the erasure did not take it with the
		// profile's partition) can only be this request's.
		writes = append(writes, types.TransactWriteItem{Delete: &types.Delete{TableName: &st.table, Key: dedupKey(tenant, r)}})
		kinds = append(kinds, kindDedupRelease)
	}
	if !prior.Timer.Equal(r.Timer()) {
		writes, kinds = append(writes, st.timerWrite(r)), append(kinds, kindTimer)
	}
	return writes, kinds, nil
}

func staleRequest() error {
	return &errs.Error{Code: errs.Conflict, Message: "the request changed concurrently", Err: errs.ErrStale}
}

func duplicateRequest() error {
	return &errs.Error{Code: errs.Conflict, Message: "an open request of this type exists for the person", Err: app.ErrDuplicateRequest}
}

// SaveRequest writes r in place of the stored state prior (dsr.Request.Prior as read; the
// zero Prior creates r, with its pointer in the profile's partition and, while open, its
// duplicate marker), conditioned on the stored version being prior's, with one PutItem, or
// one TransactWriteItems when it creates r or the marker or timer item changes too: it
// reads nothing.
// A version mismatch, or a request no longer stored, returns an *errs.Error wrapping
// errs.ErrStale, having written nothing; a new open request that duplicates an open one
// returns one wrapping app.ErrDuplicateRequest. The indexes follow r.Status and r.DueAt, and
// closing an open request releases its marker. It writes nothing into a profile's partition
// except when creating or closing.
func (st *Store) SaveRequest(ctx context.Context, r *dsr.Request, prior dsr.Prior) error {
	writes, kinds, err := st.requestWrites(r.Tenant, r, prior)
	if err != nil {
		return err
	}
	if len(writes) == 1 {
		p := writes[0].Put
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item,
			ConditionExpression: p.ConditionExpression, ExpressionAttributeValues: p.ExpressionAttributeValues})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return staleRequest()
		}
		if err != nil {
			return fmt.Errorf("save request: %w", err)
		}
		return nil
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		if err != nil {
			return fmt.Errorf("save request: %w", err)
		}
		return nil
	}
	for i, reason := range tce.CancellationReasons {
		if aws.ToString(reason.Code) == "ConditionalCheckFailed" && i < len(kinds) && kinds[i] == kindDedup {
			return duplicateRequest()
		}
	}
	for _, reason := range tce.CancellationReasons {
		switch aws.ToString(reason.Code) {
		case "ConditionalCheckFailed", "TransactionConflict":
			return staleRequest()
		}
	}
	return fmt.Errorf("save request: %w", err)
}

// DuplicateOf returns the id of the open request holding the profile's marker for dedupKey
// (dsr.Request.DedupKey) with one GetItem; NotFound when there is none.
func (st *Store) DuplicateOf(ctx context.Context, tenant, profileID, dedupKey string) (string, error) {
	item, err := st.get(ctx, profilePK(tenant, profileID), skOpenPfx+dedupKey)
	if err != nil {
		return "", fmt.Errorf("duplicate marker: %w", err)
	}
	if item == nil {
		return "", notFound("open request")
	}
	return str(item, attrRequestID), nil
}

// ClearDuplicate deletes the profile's marker for dedupKey if it still names requestID.
func (st *Store) ClearDuplicate(ctx context.Context, tenant, profileID, dedupKey, requestID string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &st.table, Key: key(profilePK(tenant, profileID), skOpenPfx+dedupKey),
		ConditionExpression:       aws.String("rq = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": s(requestID)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("clear duplicate marker: %w", err)
	}
	return nil
}

// RequestsOfProfile returns every request of a person, oldest first: one Query of the
// pointers in the profile's partition and one BatchGetItem per 100 requests. After an
// erasure (which deletes the partition) it returns none.
func (st *Store) RequestsOfProfile(ctx context.Context, tenant, profileID string) ([]dsr.Request, error) {
	var keys []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName:              &st.table,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :q)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(profilePK(tenant, profileID)), ":q": s(skRequestPtrPfx),
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query requests of profile: %w", err)
		}
		for _, it := range page.Items {
			keys = append(keys, key(requestPK(tenant, str(it, attrRequestID)), skRequest))
		}
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("requests of profile: %w", err)
	}
	out := make([]dsr.Request, 0, len(items))
	for _, it := range items {
		r, err := decodeRequest(it)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b dsr.Request) int {
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// OpenRequests returns a tenant's open requests (pending, in_progress, failed) in due-date
// order, due before dueBefore (zero: all), at most limit (0: all) — Queries of GSI1.
func (st *Store) OpenRequests(ctx context.Context, tenant string, dueBefore time.Time, limit int) ([]dsr.Request, error) {
	var out []dsr.Request
	cursor := ""
	for {
		n := openRequestsPage
		if limit > 0 {
			n = min(n, limit-len(out))
		}
		page, err := st.ListRequests(ctx, tenant, app.RequestFilter{Open: true, DueBefore: dueBefore, Limit: n, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Requests...)
		cursor = page.Cursor
		if cursor == "" || limit > 0 && len(out) >= limit {
			return out, nil
		}
	}
}

// openRequestsPage is the most requests OpenRequests reads per Query.
const openRequestsPage = 500

// maxFilteredPages bounds the Queries one ListRequests makes when a status filter skips
// items, so a page always answers promptly (possibly short, with a cursor).
const maxFilteredPages = 8

// ListRequests reads one page of a tenant's requests from GSI1 in due-date order: one
// Query, or a few when a status filter skips items. The status is filtered here rather than
// by a FilterExpression (which would read as much), so the page's last item read is always
// at hand to make the cursor. The cursor is opaque to callers; a malformed one is Invalid
// (field "cursor").
func (st *Store) ListRequests(ctx context.Context, tenant string, f app.RequestFilter) (app.RequestPage, error) {
	if f.Limit < 1 {
		return app.RequestPage{}, errs.Field("limit", "must be at least 1")
	}
	gpk := requestsIndexPK(tenant, f.Open)
	cond := "GSI1PK = :pk"
	vals := map[string]types.AttributeValue{":pk": s(gpk)}
	if !f.DueBefore.IsZero() {
		cond += " AND GSI1SK < :due"
		vals[":due"] = s(f.DueBefore.UTC().Format(dueLayout))
	}
	in := &dynamodb.QueryInput{TableName: &st.table, IndexName: aws.String("GSI1"), KeyConditionExpression: &cond, ExpressionAttributeValues: vals}
	if f.Cursor != "" {
		start, err := decodeCursor(tenant, gpk, f.Cursor)
		if err != nil {
			return app.RequestPage{}, err
		}
		in.ExclusiveStartKey = start
	}
	var page app.RequestPage
	last := "" // GSI1SK of the last item read
	for range maxFilteredPages {
		in.Limit = aws.Int32(int32(f.Limit - len(page.Requests)))
		res, err := st.db.Query(ctx, in)
		if err != nil {
			return app.RequestPage{}, fmt.Errorf("query requests: %w", err)
		}
		for _, it := range res.Items {
			last = str(it, attrGSI1SK)
			if f.Status != "" && str(it, attrStatus) != string(f.Status) {
				continue
			}
			r, err := decodeRequest(it)
			if err != nil {
				return app.RequestPage{}, err
			}
			page.Requests = append(page.Requests, *r)
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
		if res.LastEvaluatedKey == nil || len(page.Requests) >= f.Limit {
			break
		}
	}
	if lek := in.ExclusiveStartKey; lek != nil {
		// An index Query's LastEvaluatedKey holds the index keys; an emulator's may hold only
		// the table's. Without a filter, the last item read is the one it names.
		gsk := cmp.Or(str(lek, attrGSI1SK), last)
		page.Cursor = base64.RawURLEncoding.EncodeToString([]byte(gsk))
	}
	return page, nil
}

// decodeCursor turns a cursor (the encoded GSI1SK of the last item read) back into the
// start key of the tenant's index partition gpk.
func decodeCursor(tenant, gpk, cursor string) (map[string]types.AttributeValue, error) {
	bad := errs.Unmet("cursor", "is not a cursor from this API")
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad
	}
	due, id, ok := strings.Cut(string(b), "#")
	if !ok || !app.ValidRequestID(id) {
		return nil, bad
	}
	if _, err := time.Parse(dueLayout, due); err != nil || len(due) != len(dueLayout) {
		return nil, bad
	}
	k := key(requestPK(tenant, id), skRequest)
	k[attrGSI1PK], k[attrGSI1SK] = s(gpk), s(string(b))
	return k, nil
}

// Tenants returns every tenant id, sorted: Queries of GSI1 under tenantsIndex, where
// PutTenant lists each tenant item.
func (st *Store) Tenants(ctx context.Context) ([]string, error) {
	var out []string
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName: &st.table, IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(tenantsIndex)},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, it := range page.Items {
			out = append(out, str(it, attrGSI1SK))
		}
	}
	slices.Sort(out)
	return out, nil
}

// DueTimers returns the ids of a tenant's requests whose timer (dsr.Request.Timer) is at or
// before now, earliest first, at most limit: Queries of GSI1.
func (st *Store) DueTimers(ctx context.Context, tenant string, now time.Time, limit int) ([]string, error) {
	var out []string
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName: &st.table, IndexName: aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :pk AND GSI1SK <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(timersIndexPK(tenant)), ":now": s(now.UTC().Format(dueLayout) + "#~"),
		},
		Limit: aws.Int32(int32(min(limit, openRequestsPage))),
	})
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query request timers: %w", err)
		}
		for _, it := range page.Items {
			if len(out) < limit {
				out = append(out, str(it, attrRequestID))
			}
		}
	}
	return out, nil
}

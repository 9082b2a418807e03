package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
	"github.com/livingprofile/livingprofile/shared/retention"
)

// Retention clocks are marker items in the profile's partition, each on GSI1 under its
// tenant and clock, spread over retentionShards partitions by profile id, sorted by the
// clock's time: the retention job finds what is past a cutoff with a few Queries, never a
// scan. A commit by the person or the brand moves the activity marker; a consent change
// moves the marker of when its consent ended, or takes it off the index while it holds.
const (
	skRetentionPfx  = "RET#"
	retentionShards = 16
	skRetentionRun  = "RETRUN#"
	skRetentionWM   = "RETENTION"
	retentionRunTTL = 400 * 24 * time.Hour
	maxRetentionRun = 100 // runs a listing returns
)

func retentionIndexPfx(tenant, clock string) string { return "T#" + tenant + "#RET#" + clock + "#" }

// retentionWrites adds the profile's retention markers a commit moves.
func (st *Store) retentionWrites(tenant string, p *profile.Profile, evs []ledger.Event, add func(itemKind, profile.Identity, types.TransactWriteItem)) {
	// A marker without a time is put without index keys, which takes it off the index: a
	// Put, not a Delete, so that every writer of profiles needs no more than it has.
	marker := func(clock string, at *time.Time) {
		k := key(profilePK(tenant, p.ID), skRetentionPfx+clock)
		if at != nil {
			k[attrGSI1PK] = s(shard(retentionIndexPfx(tenant, clock), retentionShards, p.ID))
			k[attrGSI1SK] = s(indexTime(*at) + "#" + p.ID)
		}
		add(kindRetention, profile.Identity{}, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: k}})
	}
	if !p.ActiveAt.IsZero() && p.ActiveAt.Equal(p.UpdatedAt) {
		at := p.ActiveAt
		marker(retention.ActivityClock, &at)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		// retention.erased removed the consent with the rest of its purpose's data.
		if e.Type != profile.EventConsentChanged && e.Type != retention.EventErased || seen[e.Subject] {
			continue
		}
		seen[e.Subject] = true
		var end *time.Time
		if c, ok := p.Consents[e.Subject]; ok {
			end = retention.ConsentEnd(c)
		}
		marker(retention.ConsentClock(e.Subject), end)
	}
}

// RetentionMarks lists, oldest first, up to limit markers of clock in one shard whose
// time is after the sort key after ("" for the start) and at or before cutoff.
func (st *Store) RetentionMarks(ctx context.Context, tenant, clock string, shardNo int, after string, cutoff time.Time, limit int) ([]retention.Mark, error) {
	start := after + " " // just past after: no sort key continues it with a byte below a space
	if after == "" {
		start = ""
	}
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName: &st.table, IndexName: aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(retentionIndexPfx(tenant, clock) + strconv.Itoa(shardNo)),
			":a":  s(start), ":b": s(indexTime(cutoff) + "#~"),
		},
		Limit: aws.Int32(int32(limit)),
	})
	var out []retention.Mark
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query retention marks: %w", err)
		}
		for _, it := range page.Items {
			sk := str(it, attrGSI1SK)
			at, id, ok := strings.Cut(sk, "#")
			ns, err := strconv.ParseInt(at, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("retention mark %q is malformed", sk)
			}
			out = append(out, retention.Mark{ProfileID: id, At: time.Unix(0, ns).UTC(), Key: sk})
		}
	}
	return out, nil
}

// RetentionShards is how many shards each clock's markers are spread over.
func (st *Store) RetentionShards() int { return retentionShards }

// DeleteRetentionMark deletes a marker that names no profile of its own any more (the
// profile was merged into another, whose own markers count).
func (st *Store) DeleteRetentionMark(ctx context.Context, tenant, profileID, clock string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.table, Key: key(profilePK(tenant, profileID), skRetentionPfx+clock)})
	if err != nil {
		return fmt.Errorf("delete retention mark: %w", err)
	}
	return nil
}

// RedactEvents redacts (ledger.Redact) every not yet redacted event of the profile's chain
// that match selects, each with one PutItem conditioned on the event existing, and returns
// how many it redacted. Hashes do not change, so the chain verifies as before.
func (st *Store) RedactEvents(ctx context.Context, tenant, profileID string, match func(ledger.Event) bool) (int, error) {
	p := dynamodb.NewQueryPaginator(st.db, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(profilePK(tenant, profileID)), ":e": s(skEventPfx)},
		ConsistentRead:            aws.Bool(true),
	})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("read ledger: %w", err)
		}
		for _, it := range page.Items {
			e, err := decode[ledger.Event](it)
			if err != nil {
				return n, err
			}
			if e.Redacted() || (len(e.Old) == 0 && len(e.New) == 0) || !match(*e) {
				continue
			}
			ledger.Redact(e)
			b, err := json.Marshal(e)
			if err != nil {
				return n, fmt.Errorf("encode event: %w", err)
			}
			_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: &st.table, Item: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK], attrDoc: s(string(b))},
				ConditionExpression: aws.String("attribute_exists(SK)"),
			})
			var ccf *types.ConditionalCheckFailedException
			switch {
			case errors.As(err, &ccf): // erased meanwhile
			case err != nil:
				return n, fmt.Errorf("redact event: %w", err)
			default:
				n++
			}
		}
	}
	return n, nil
}

// RetentionState reads the tenant's retention watermarks (empty before the first
// enforced run).
func (st *Store) RetentionState(ctx context.Context, tenant string) (*retention.State, error) {
	item, err := st.get(ctx, tenantPK(tenant), skRetentionWM)
	if err != nil {
		return nil, fmt.Errorf("retention state: %w", err)
	}
	if item == nil {
		return &retention.State{Watermarks: map[string]string{}}, nil
	}
	return decode[retention.State](item)
}

// PutRetentionState saves the tenant's retention watermarks.
func (st *Store) PutRetentionState(ctx context.Context, tenant string, state *retention.State) error {
	doc, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode retention state: %w", err)
	}
	it := key(tenantPK(tenant), skRetentionWM)
	it[attrDoc] = s(string(doc))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it}); err != nil {
		return fmt.Errorf("put retention state: %w", err)
	}
	return nil
}

// PutRetentionRun saves a run's report (created, then replaced as the run goes on); runs
// expire after about 13 months.
func (st *Store) PutRetentionRun(ctx context.Context, r *retention.Run) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode retention run: %w", err)
	}
	it := key(tenantPK(r.Tenant), skRetentionRun+r.ID)
	it[attrDoc], it[attrTTL] = s(string(doc)), n(r.StartedAt.Add(retentionRunTTL).Unix())
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it}); err != nil {
		return fmt.Errorf("put retention run: %w", err)
	}
	return nil
}

// RetentionRuns lists the tenant's latest runs, newest first (one Query). Run ids sort
// by their start time.
func (st *Store) RetentionRuns(ctx context.Context, tenant string, limit int) ([]retention.Run, error) {
	if limit <= 0 || limit > maxRetentionRun {
		limit = maxRetentionRun
	}
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &st.table,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :r)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(tenantPK(tenant)), ":r": s(skRetentionRun),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("list retention runs: %w", err)
	}
	runs := make([]retention.Run, 0, len(out.Items))
	for _, it := range out.Items {
		r, err := decode[retention.Run](it)
		if err != nil {
			return nil, err
		}
		runs = append(runs, *r)
	}
	return runs, nil
}

package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/ledger"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// Items of identity resolution.
const (
	skMergePfx  = "M#" // a merge record, in the survivor's partition
	skCandidate = "C"
)

func candidatePK(t, id string) string { return "T#" + t + "#MC#" + id }

func candidatesIndexPK(t string, status app.CandidateStatus) string {
	return "T#" + t + "#MC#" + string(status)
}

func candidateItem(tenant string, c *app.Candidate) (map[string]types.AttributeValue, error) {
	doc, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode merge candidate: %w", err)
	}
	it := key(candidatePK(tenant, c.ID), skCandidate)
	it[attrDoc], it[attrVersion] = s(string(doc)), n(c.Version)
	it[attrGSI1PK], it[attrGSI1SK] = s(candidatesIndexPK(tenant, c.Status)), s(c.CreatedAt.UTC().Format(time.RFC3339Nano)+"#"+c.ID)
	return it, nil
}

// ProposeCandidate stores c unless its pair of profiles has a candidate already (one
// conditional PutItem), and returns the stored candidate.
func (st *Store) ProposeCandidate(ctx context.Context, tenant string, c app.Candidate) (*app.Candidate, error) {
	it, err := candidateItem(tenant, &c)
	if err != nil {
		return nil, err
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return st.Candidate(ctx, tenant, c.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("put merge candidate: %w", err)
	}
	return &c, nil
}

// Candidate reads a merge candidate with one GetItem.
func (st *Store) Candidate(ctx context.Context, tenant, id string) (*app.Candidate, error) {
	item, err := st.get(ctx, candidatePK(tenant, id), skCandidate)
	if err != nil {
		return nil, fmt.Errorf("merge candidate: %w", err)
	}
	if item == nil {
		return nil, notFound("merge candidate")
	}
	return decode[app.Candidate](item)
}

// Candidates reads one page of a tenant's candidates in status, oldest first: one Query of
// GSI1. The cursor is opaque to callers; a malformed one is Invalid (field "cursor").
func (st *Store) Candidates(ctx context.Context, tenant string, status app.CandidateStatus, cursor string, limit int) ([]app.Candidate, string, error) {
	gpk := candidatesIndexPK(tenant, status)
	in := &dynamodb.QueryInput{TableName: &st.table, IndexName: aws.String("GSI1"), Limit: aws.Int32(int32(limit)),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(gpk)}}
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		at, id, ok := strings.Cut(string(b), "#")
		if _, terr := time.Parse(time.RFC3339Nano, at); err != nil || !ok || terr != nil || !strings.HasPrefix(id, "mc_") || len(id) > 64 {
			return nil, "", errs.Unmet("cursor", "is not a cursor from this API")
		}
		k := key(candidatePK(tenant, id), skCandidate)
		k[attrGSI1PK], k[attrGSI1SK] = s(gpk), s(string(b))
		in.ExclusiveStartKey = k
	}
	res, err := st.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query merge candidates: %w", err)
	}
	out := make([]app.Candidate, 0, len(res.Items))
	last := ""
	for _, it := range res.Items {
		c, err := decode[app.Candidate](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *c)
		last = str(it, attrGSI1SK)
	}
	next := ""
	if res.LastEvaluatedKey != nil && last != "" {
		next = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	return out, next, nil
}

// MergeRecord reads merge mergeID of survivor with one GetItem.
func (st *Store) MergeRecord(ctx context.Context, tenant, survivor, mergeID string) (*app.MergeRecord, error) {
	item, err := st.get(ctx, profilePK(tenant, survivor), skMergePfx+mergeID)
	if err != nil {
		return nil, fmt.Errorf("merge record: %w", err)
	}
	if item == nil {
		return nil, notFound("merge")
	}
	return decode[app.MergeRecord](item)
}

// resolutionWrites returns the writes of a commit's merge, split and candidate decision,
// beyond the survivor's own items.
func (st *Store) resolutionWrites(tenant string, c app.Commit, add func(itemKind, profile.Identity, types.TransactWriteItem)) error {
	p := c.Profile
	pid := s(p.ID)
	if m := c.Merge; m != nil {
		if err := st.eventWrites(tenant, m.Absorbed.ID, m.Events, add); err != nil {
			return err
		}
		doc, err := json.Marshal(m.Record)
		if err != nil {
			return fmt.Errorf("encode merge record: %w", err)
		}
		it := key(profilePK(tenant, p.ID), skMergePfx+m.Record.ID)
		it[attrDoc] = s(string(doc))
		add(kindMergeRecord, profile.Identity{}, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")}})
		for _, r := range c.Requests {
			ptr := key(profilePK(tenant, p.ID), skRequestPtrPfx+r.Request.ID)
			ptr[attrRequestID] = s(r.Request.ID)
			add(kindRequestPtr, profile.Identity{}, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: ptr}})
		}
	}
	if sp := c.Split; sp != nil {
		r := sp.Restored
		doc, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode restored profile: %w", err)
		}
		owned := func(k itemKind, id profile.Identity, it map[string]types.AttributeValue) {
			add(k, id, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: it,
				ConditionExpression: aws.String("pid = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": pid}}})
		}
		it := key(profilePK(tenant, r.ID), skProfile)
		it[attrDoc], it[attrVersion] = s(string(doc)), n(r.Version)
		owned(kindAlias, profile.Identity{}, it)
		for _, id := range r.Identities {
			it := key(identityPK(tenant, id), skIdentity)
			it[attrDoc], it[attrVersion], it[attrProfile] = s(string(doc)), n(r.Version), s(r.ID)
			owned(kindIdentity, id, it)
		}
		for _, a := range r.Aliases {
			it := key(profilePK(tenant, a), skProfile)
			it[attrDoc], it[attrVersion], it[attrProfile] = s(string(doc)), n(r.Version), s(r.ID)
			owned(kindAlias, profile.Identity{}, it)
		}
		if err := st.eventWrites(tenant, r.ID, sp.Events, add); err != nil {
			return err
		}
		add(kindMergeRecord, profile.Identity{}, types.TransactWriteItem{Delete: &types.Delete{TableName: &st.table,
			Key: key(profilePK(tenant, p.ID), skMergePfx+sp.MergeID), ConditionExpression: aws.String("attribute_exists(PK)")}})
	}
	if cd := c.Candidate; cd != nil {
		it, err := candidateItem(tenant, cd)
		if err != nil {
			return err
		}
		add(kindCandidate, profile.Identity{}, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: it,
			ConditionExpression: aws.String("ver = :v"), ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(cd.Version - 1)}}})
	}
	return nil
}

// eventWrites adds the puts of sealed events in profileID's partition, each conditioned on
// its sequence number being free.
func (st *Store) eventWrites(tenant, profileID string, evs []ledger.Event, add func(itemKind, profile.Identity, types.TransactWriteItem)) error {
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		it := key(profilePK(tenant, profileID), eventSK(e.Seq))
		it[attrDoc] = s(string(b))
		add(kindEvent, profile.Identity{}, types.TransactWriteItem{Put: &types.Put{
			TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(SK)"),
		}})
	}
	return nil
}

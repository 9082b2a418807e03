package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/app"
)

// Filings of the request protocols (app.Filing): each is its own item (PK
// "T#<tenant>#F#<protocol>#<external id>", SK "F"), written once under attribute_not_exists
// and then given its request id. It holds ids and URLs, no personal data, and lives as long
// as the request it names.
const skFiling = "F"

func filingPK(t, protocol, id string) string { return "T#" + t + "#F#" + protocol + "#" + id }

// ReserveFiling stores f unless a filing with its protocol and external id exists
// (app.ErrFilingExists); one PutItem.
func (st *Store) ReserveFiling(ctx context.Context, tenant string, f app.Filing) error {
	err := st.putFiling(ctx, tenant, f, aws.String("attribute_not_exists(PK)"))
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return app.ErrFilingExists
	}
	return err
}

// SetFilingRequest records the request of a reserved filing; one PutItem.
func (st *Store) SetFilingRequest(ctx context.Context, tenant string, f app.Filing) error {
	return st.putFiling(ctx, tenant, f, aws.String("attribute_exists(PK)"))
}

func (st *Store) putFiling(ctx context.Context, tenant string, f app.Filing, cond *string) error {
	doc, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode filing: %w", err)
	}
	it := key(filingPK(tenant, f.Protocol, f.ExternalID), skFiling)
	it[attrDoc] = s(string(doc))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it, ConditionExpression: cond}); err != nil {
		return fmt.Errorf("put filing: %w", err)
	}
	return nil
}

// Filing reads one filing (one GetItem); NotFound when absent.
func (st *Store) Filing(ctx context.Context, tenant, protocol, id string) (*app.Filing, error) {
	item, err := st.get(ctx, filingPK(tenant, protocol, id), skFiling)
	if err != nil {
		return nil, fmt.Errorf("filing: %w", err)
	}
	if item == nil {
		return nil, notFound("request")
	}
	return decode[app.Filing](item)
}

// DeleteFiling removes a filing; one DeleteItem.
func (st *Store) DeleteFiling(ctx context.Context, tenant, protocol, id string) error {
	if _, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.table, Key: key(filingPK(tenant, protocol, id), skFiling)}); err != nil {
		return fmt.Errorf("delete filing: %w", err)
	}
	return nil
}

// DRP agents (app.Agent): one item each (PK "T#<tenant>#AG#<id>", SK "AG"), holding the
// verify key and the hash of the pairing token.
const skAgent = "AG"

func agentPK(t, id string) string { return "T#" + t + "#AG#" + id }

// PutAgent stores an agent; one PutItem.
func (st *Store) PutAgent(ctx context.Context, tenant string, a app.Agent) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode agent: %w", err)
	}
	it := key(agentPK(tenant, a.ID), skAgent)
	it[attrDoc] = s(string(doc))
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it}); err != nil {
		return fmt.Errorf("put agent: %w", err)
	}
	return nil
}

// Agent reads an agent (one GetItem); NotFound when absent.
func (st *Store) Agent(ctx context.Context, tenant, id string) (*app.Agent, error) {
	item, err := st.get(ctx, agentPK(tenant, id), skAgent)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if item == nil {
		return nil, notFound("agent")
	}
	return decode[app.Agent](item)
}

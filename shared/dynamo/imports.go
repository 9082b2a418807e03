package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/app"
	"github.com/livingprofile/livingprofile/shared/errs"
)

const (
	skImport = "IMPORT"
	// importTTL is how long an import record is kept after its last write.
	importTTL = 90 * 24 * time.Hour
	attrVer   = "ver"
)

func importPK(t, id string) string { return "T#" + t + "#IMP#" + id }

// CreateImport stores a new import record (one PutItem).
func (st *Store) CreateImport(ctx context.Context, im *app.Import) error {
	it, err := st.importItem(im)
	if err != nil {
		return err
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if err != nil {
		return fmt.Errorf("put import: %w", err)
	}
	return nil
}

// Import reads an import record (one GetItem).
func (st *Store) Import(ctx context.Context, tenant, id string) (*app.Import, error) {
	item, err := st.get(ctx, importPK(tenant, id), skImport)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if item == nil {
		return nil, notFound("import")
	}
	im, err := decode[app.Import](item)
	if err != nil {
		return nil, err
	}
	im.Tenant = tenant
	return im, nil
}

// SaveImport replaces an import record that is still at prevVersion (one PutItem); if it
// moved on, it fails with errs.ErrStale and writes nothing.
func (st *Store) SaveImport(ctx context.Context, im *app.Import, prevVersion int64) error {
	it, err := st.importItem(im)
	if err != nil {
		return err
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.table, Item: it,
		ConditionExpression:       aws.String("#v = :prev"),
		ExpressionAttributeNames:  map[string]string{"#v": attrVer},
		ExpressionAttributeValues: map[string]types.AttributeValue{":prev": n(prevVersion)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &errs.Error{Code: errs.Conflict, Message: "the import changed concurrently", Err: errs.ErrStale}
	}
	if err != nil {
		return fmt.Errorf("save import: %w", err)
	}
	return nil
}

func (st *Store) importItem(im *app.Import) (map[string]types.AttributeValue, error) {
	b, err := json.Marshal(im)
	if err != nil {
		return nil, fmt.Errorf("encode import: %w", err)
	}
	it := key(importPK(im.Tenant, im.ID), skImport)
	it[attrDoc], it[attrVer] = s(string(b)), n(im.Version)
	it[attrTTL] = n(st.now().Add(importTTL).Unix())
	return it, nil
}

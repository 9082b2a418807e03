package dynamo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/ledger"
)

// Outbox is one committed change's events, written in the change's transaction. The
// table's stream hands it to the dispatcher, which deletes it once every event is queued
// for delivery; until then it is on the outbox view of GSI1 (see StaleOutbox).
type Outbox struct {
	Tenant    string         `json:"tenant"`
	ProfileID string         `json:"profileId"`
	Version   int64          `json:"version"`
	Events    []ledger.Event `json:"events"`
	// Quiet events reach no webhook endpoint (an import's, by default); they are still in
	// the ledger, and request jobs still start from them.
	Quiet bool `json:"quiet,omitempty"`
	// PK and SK locate the item, for deleting it after dispatch.
	PK string `json:"-"`
	SK string `json:"-"`
}

func (st *Store) outboxItem(tenant, profileID string, version int64, evs []ledger.Event) (map[string]types.AttributeValue, error) {
	return st.outboxOf(Outbox{Tenant: tenant, ProfileID: profileID, Version: version, Events: evs})
}

// outboxOf is the item of o, which holds at least one event.
func (st *Store) outboxOf(o Outbox) (map[string]types.AttributeValue, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode outbox: %w", err)
	}
	now := st.now()
	pk := outboxPK(o.Tenant, o.Events[0].ID)
	it := key(pk, skOutbox)
	it[attrDoc], it[attrTTL] = s(string(b)), n(now.Add(outboxTTL).Unix())
	indexOutbox(it, o.ProfileID, pk, now)
	return it, nil
}

// OutboxFromStream decodes an outbox item from a stream record's new image.
func OutboxFromStream(r events.DynamoDBEventRecord) (*Outbox, error) {
	img := r.Change.NewImage
	pk, sk, doc := img[attrPK], img[attrSK], img[attrDoc]
	if pk.DataType() != events.DataTypeString || sk.DataType() != events.DataTypeString || doc.DataType() != events.DataTypeString || sk.String() != skOutbox {
		return nil, fmt.Errorf("stream record %s is not an outbox item", r.EventID)
	}
	var o Outbox
	if err := json.Unmarshal([]byte(doc.String()), &o); err != nil {
		return nil, fmt.Errorf("decode outbox item: %w", err)
	}
	o.PK, o.SK = pk.String(), sk.String()
	return &o, nil
}

// DeleteOutbox removes a dispatched outbox item. Deleting one already gone is not an error.
func (st *Store) DeleteOutbox(ctx context.Context, o *Outbox) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.table, Key: key(o.PK, o.SK)})
	if err != nil {
		return fmt.Errorf("delete outbox item: %w", err)
	}
	return nil
}

package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/webhook"
)

// Webhook endpoints live in the tenant's partition (SK "WH#<id>"), so listing them is one
// Query; deliveries live in the endpoint's own partition, newest last by id. The tenant's
// webhook version marker (SK "WHVER", outside the "WH#" range the Query reads) counts the
// writes of its endpoints, so a reader can keep the list until the count moves, and a
// registration can be conditioned on the list it checked the cap against. It is never
// deleted: a count that started again could repeat a value a reader cached.
const (
	skWebhookPfx     = "WH#"
	skWebhookVersion = "WHVER"
)

func deliveriesPK(tenant, endpointID string) string { return "T#" + tenant + "#WH#" + endpointID }

// bumpWebhooks is the transaction item that increments tenant's webhook version; ADD creates
// the marker at 1 for a tenant that has none. With at >= 0 it holds only while the version
// is at (0: no marker).
func (st *Store) bumpWebhooks(tenant string, at int64) types.TransactWriteItem {
	u := &types.Update{
		TableName: &st.table, Key: key(tenantPK(tenant), skWebhookVersion),
		UpdateExpression:          aws.String("ADD ver :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
	}
	switch {
	case at == 0:
		u.ConditionExpression = aws.String("attribute_not_exists(ver)")
	case at > 0:
		u.ConditionExpression = aws.String("ver = :at")
		u.ExpressionAttributeValues[":at"] = n(at)
	}
	return types.TransactWriteItem{Update: u}
}

// writeEndpoint runs w (the endpoint's write, conditioned) and bump, the bump of the
// tenant's webhook version, in one TransactWriteItems, so the version moves exactly when an
// endpoint changed. It reports whether w's condition failed, and returns errs.ErrStale when
// bump's did (the version moved). Two writes of one tenant's endpoints at once can cancel one
// another on the marker; such a write is tried again (three attempts in all) before that is
// an error.
func (st *Store) writeEndpoint(ctx context.Context, w, bump types.TransactWriteItem) (condFailed bool, err error) {
	items := []types.TransactWriteItem{w, bump}
	for attempt := 1; ; attempt++ {
		_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		switch {
		case cancelReason(err, 0) == condCheckFailed:
			return true, nil
		case cancelReason(err, 1) == condCheckFailed:
			return false, &errs.Error{Code: errs.Conflict, Message: "the tenant's webhooks changed concurrently", Err: errs.ErrStale}
		case attempt < 3 && (cancelReason(err, 0) == txConflict || cancelReason(err, 1) == txConflict):
			continue
		}
		return false, err
	}
}

// WebhooksVersion returns tenant's webhook version with one strongly consistent GetItem. It
// grows with every PutEndpoint and DeleteEndpoint, in the same transaction as the endpoint,
// so an unchanged version means an unchanged endpoint list. It is 0 for a tenant whose
// endpoints, if any, were all written before the marker existed.
func (st *Store) WebhooksVersion(ctx context.Context, tenant string) (int64, error) {
	item, err := st.get(ctx, tenantPK(tenant), skWebhookVersion)
	if err != nil {
		return 0, fmt.Errorf("webhook version: %w", err)
	}
	return num(item, attrVersion), nil
}

// PutEndpoint stores a webhook endpoint and bumps the tenant's webhook version in one
// TransactWriteItems. Create refuses to overwrite an existing id (errs.Conflict); an update
// of a missing id is errs.NotFound. Either refusal writes nothing.
func (st *Store) PutEndpoint(ctx context.Context, ep *webhook.Endpoint, create bool) error {
	return st.putEndpoint(ctx, ep, create, -1)
}

// CreateEndpoint is PutEndpoint's create, only while the tenant's webhook version is still
// at (as EndpointsAt read it): a registration checked against a list of endpoints commits
// only if that list is still the tenant's. A moved version is an error wrapping
// errs.ErrStale, and writes nothing.
func (st *Store) CreateEndpoint(ctx context.Context, ep *webhook.Endpoint, at int64) error {
	return st.putEndpoint(ctx, ep, true, max(at, 0))
}

func (st *Store) putEndpoint(ctx context.Context, ep *webhook.Endpoint, create bool, at int64) error {
	doc, err := json.Marshal(ep)
	if err != nil {
		return fmt.Errorf("encode webhook: %w", err)
	}
	it := key(tenantPK(ep.Tenant), skWebhookPfx+ep.ID)
	it[attrDoc] = s(string(doc))
	put := &types.Put{TableName: &st.table, Item: it}
	if create {
		put.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		put.ConditionExpression = aws.String("attribute_exists(PK)")
	}
	failed, err := st.writeEndpoint(ctx, types.TransactWriteItem{Put: put}, st.bumpWebhooks(ep.Tenant, at))
	switch {
	case failed && create:
		return errs.E(errs.Conflict, "a webhook with this id exists")
	case failed:
		return notFound("webhook")
	case errors.Is(err, errs.ErrStale):
		return err
	case err != nil:
		return fmt.Errorf("put webhook: %w", err)
	}
	return nil
}

// Endpoint reads one webhook endpoint.
func (st *Store) Endpoint(ctx context.Context, tenant, id string) (*webhook.Endpoint, error) {
	item, err := st.get(ctx, tenantPK(tenant), skWebhookPfx+id)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if item == nil {
		return nil, notFound("webhook")
	}
	return decode[webhook.Endpoint](item)
}

// Endpoints lists a tenant's webhook endpoints with one strongly consistent Query, so the
// list holds every endpoint write that WebhooksVersion counted when read before it (the
// dispatcher keeps the list under that version).
func (st *Store) Endpoints(ctx context.Context, tenant string) ([]webhook.Endpoint, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &st.table,
		ConsistentRead:         aws.Bool(true),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :wh)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(tenantPK(tenant)), ":wh": s(skWebhookPfx),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	eps := make([]webhook.Endpoint, 0, len(out.Items))
	for _, it := range out.Items {
		ep, err := decode[webhook.Endpoint](it)
		if err != nil {
			return nil, err
		}
		eps = append(eps, *ep)
	}
	return eps, nil
}

// EndpointsAt is Endpoints with the tenant's webhook version read before it (one GetItem,
// then the Query): the list holds at least what that version counted, so a create
// conditioned on it (CreateEndpoint) fails as stale whenever another endpoint write came
// between. (One Query of both would not do: a Query is no snapshot of the items it reads.)
func (st *Store) EndpointsAt(ctx context.Context, tenant string) ([]webhook.Endpoint, int64, error) {
	version, err := st.WebhooksVersion(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	eps, err := st.Endpoints(ctx, tenant)
	return eps, version, err
}

// DeleteEndpoint removes a webhook endpoint and bumps the tenant's webhook version in one
// TransactWriteItems; a missing id is errs.NotFound and writes nothing. Its delivery log
// expires by TTL.
func (st *Store) DeleteEndpoint(ctx context.Context, tenant, id string) error {
	failed, err := st.writeEndpoint(ctx, types.TransactWriteItem{Delete: &types.Delete{
		TableName: &st.table, Key: key(tenantPK(tenant), skWebhookPfx+id),
		ConditionExpression: aws.String("attribute_exists(PK)"),
	}}, st.bumpWebhooks(tenant, -1))
	if failed {
		return notFound("webhook")
	}
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// PutDelivery writes a delivery log entry. With onlyNew it keeps an existing entry, so a
// re-dispatched event does not reset a delivery's progress. A pending or retrying entry
// with its Message stays on the delivery view of GSI1 (see StaleDeliveries) until the
// delivery is written in any other state.
func (st *Store) PutDelivery(ctx context.Context, tenant string, d *webhook.Delivery, onlyNew bool) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	it := key(deliveriesPK(tenant, d.EndpointID), "D#"+d.ID)
	it[attrDoc], it[attrTTL] = s(string(doc)), n(d.CreatedAt.Add(deliveryTTL).Unix())
	if err := indexDelivery(it, d); err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: &st.table, Item: it}
	if onlyNew {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	}
	_, err = st.db.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !(onlyNew && errors.As(err, &ccf)) {
		return fmt.Errorf("put delivery: %w", err)
	}
	return nil
}

// Delivery reads one delivery log entry.
func (st *Store) Delivery(ctx context.Context, tenant, endpointID, id string) (*webhook.Delivery, error) {
	item, err := st.get(ctx, deliveriesPK(tenant, endpointID), "D#"+id)
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	if item == nil {
		return nil, notFound("delivery")
	}
	return decode[webhook.Delivery](item)
}

// DeliveryAndEndpoint reads a delivery log entry and its endpoint with one strongly
// consistent BatchGetItem, so a worker signs every attempt with the endpoint as it is now
// (a rotated secret, a deleted endpoint) at no more requests than the log read alone. A
// missing entry is a nil *webhook.Delivery; a missing endpoint is errs.NotFound.
func (st *Store) DeliveryAndEndpoint(ctx context.Context, tenant, endpointID, id string) (*webhook.Delivery, *webhook.Endpoint, error) {
	dk, ek := key(deliveriesPK(tenant, endpointID), "D#"+id), key(tenantPK(tenant), skWebhookPfx+endpointID)
	items, err := st.batchGet(ctx, []map[string]types.AttributeValue{dk, ek})
	if err != nil {
		return nil, nil, fmt.Errorf("delivery and webhook: %w", err)
	}
	var (
		d  *webhook.Delivery
		ep *webhook.Endpoint
	)
	for _, it := range items {
		switch str(it, attrPK) {
		case deliveriesPK(tenant, endpointID):
			d, err = decode[webhook.Delivery](it)
		case tenantPK(tenant):
			ep, err = decode[webhook.Endpoint](it)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if ep == nil {
		return d, nil, notFound("webhook")
	}
	return d, ep, nil
}

// Deliveries returns an endpoint's most recent deliveries, newest first, up to limit.
func (st *Store) Deliveries(ctx context.Context, tenant, endpointID string, limit int) ([]webhook.Delivery, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :d)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(deliveriesPK(tenant, endpointID)), ":d": s("D#")},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	ds := make([]webhook.Delivery, 0, len(out.Items))
	for _, it := range out.Items {
		d, err := decode[webhook.Delivery](it)
		if err != nil {
			return nil, err
		}
		ds = append(ds, *d)
	}
	return ds, nil
}

package eventsource

import (
	"fmt"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ConvertItem converts an item read with the SDK into a stream image, as a DynamoDB stream
// record presents it to Lambda.
func ConvertItem(item map[string]ddbtypes.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		c, err := ConvertAttribute(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = c
	}
	return out, nil
}

// ConvertAttribute converts one SDK attribute value (S, N, B, BOOL, NULL, L, M, SS, NS, BS)
// into the stream representation. Slices and byte strings are copied, and empty lists,
// maps and binaries stay empty rather than becoming null in JSON.
func ConvertAttribute(v ddbtypes.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *ddbtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *ddbtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(slices.Clone(nonNil(v.Value))), nil
	case *ddbtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *ddbtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *ddbtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			c, err := ConvertAttribute(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, fmt.Errorf("list element %d: %w", i, err)
			}
			l[i] = c
		}
		return events.NewListAttribute(l), nil
	case *ddbtypes.AttributeValueMemberM:
		m, err := ConvertItem(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	case *ddbtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(slices.Clone(nonNil(v.Value))), nil
	case *ddbtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(slices.Clone(nonNil(v.Value))), nil
	case *ddbtypes.AttributeValueMemberBS:
		bs := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			bs[i] = slices.Clone(nonNil(b))
		}
		return events.NewBinarySetAttribute(bs), nil
	case nil:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("nil attribute value")
	default:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
	}
}

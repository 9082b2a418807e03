package eventsource

import (
	"fmt"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
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

// streamImage converts an image the DynamoDB Streams API returned into the Lambda event's
// form; nil stays nil (the record has no such image). A value of a type the API does not
// define is left out.
func streamImage(item map[string]streamtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		if c, ok := streamAttribute(v); ok {
			out[k] = c
		}
	}
	return out
}

func streamAttribute(v streamtypes.AttributeValue) (events.DynamoDBAttributeValue, bool) {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), true
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), true
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(slices.Clone(nonNil(v.Value))), true
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), true
	case *streamtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute(), true
	case *streamtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, 0, len(v.Value))
		for _, e := range v.Value {
			if c, ok := streamAttribute(e); ok {
				l = append(l, c)
			}
		}
		return events.NewListAttribute(l), true
	case *streamtypes.AttributeValueMemberM:
		return events.NewMapAttribute(streamImage(nonNilMap(v.Value))), true
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(slices.Clone(nonNil(v.Value))), true
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(slices.Clone(nonNil(v.Value))), true
	case *streamtypes.AttributeValueMemberBS:
		bs := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			bs[i] = slices.Clone(nonNil(b))
		}
		return events.NewBinarySetAttribute(bs), true
	default:
		return events.DynamoDBAttributeValue{}, false
	}
}

func nonNilMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

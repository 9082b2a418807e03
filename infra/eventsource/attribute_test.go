package eventsource

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestConvertAttribute(t *testing.T) {
	tests := []struct {
		name string
		in   ddbtypes.AttributeValue
		want string // DynamoDB JSON, as a stream record carries it
	}{
		{"S", &ddbtypes.AttributeValueMemberS{Value: "héllo"}, `{"S":"héllo"}`},
		{"empty S", &ddbtypes.AttributeValueMemberS{Value: ""}, `{"S":""}`},
		{"N", &ddbtypes.AttributeValueMemberN{Value: "1e+3"}, `{"N":"1e+3"}`},
		{"B", &ddbtypes.AttributeValueMemberB{Value: []byte{0xff, 0}}, `{"B":"/wA="}`},
		{"nil B", &ddbtypes.AttributeValueMemberB{}, `{"B":""}`},
		{"BOOL", &ddbtypes.AttributeValueMemberBOOL{Value: false}, `{"BOOL":false}`},
		{"NULL", &ddbtypes.AttributeValueMemberNULL{Value: true}, `{"NULL":true}`},
		{"SS", &ddbtypes.AttributeValueMemberSS{Value: []string{"a"}}, `{"SS":["a"]}`},
		{"NS", &ddbtypes.AttributeValueMemberNS{Value: []string{"1", "-0.5"}}, `{"NS":["1","-0.5"]}`},
		{"BS", &ddbtypes.AttributeValueMemberBS{Value: [][]byte{{1}, nil}}, `{"BS":["AQ==",""]}`},
		{"nil L", &ddbtypes.AttributeValueMemberL{}, `{"L":[]}`},
		{"nil M", &ddbtypes.AttributeValueMemberM{}, `{"M":{}}`},
		{"nested", &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
				&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"n": &ddbtypes.AttributeValueMemberN{Value: "7"}}},
				&ddbtypes.AttributeValueMemberSS{Value: []string{"x"}},
			}},
		}}, `{"M":{"l":{"L":[{"M":{"n":{"N":"7"}}},{"SS":["x"]}]}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConvertAttribute(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if compact(t, string(b)) != tt.want {
				t.Errorf("ConvertAttribute = %s, want %s", b, tt.want)
			}
			// What a deployed function decodes is the same value.
			var back events.DynamoDBAttributeValue
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("the stream JSON does not decode: %v", err)
			}
			if back.DataType() != got.DataType() {
				t.Errorf("decoded type %v, want %v", back.DataType(), got.DataType())
			}
		})
	}
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConvertAttributeErrors(t *testing.T) {
	for name, in := range map[string]map[string]ddbtypes.AttributeValue{
		"nil value":        {"a": nil},
		"unknown member":   {"a": &ddbtypes.UnknownUnionMember{Tag: "X"}},
		"nested nil value": {"m": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"x": nil}}},
		"nil in a list":    {"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{nil}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ConvertItem(in); err == nil {
				t.Error("ConvertItem succeeded, want an error")
			}
		})
	}
	// The error names where the bad value is.
	_, err := ConvertItem(map[string]ddbtypes.AttributeValue{"outer": &ddbtypes.AttributeValueMemberM{
		Value: map[string]ddbtypes.AttributeValue{"inner": nil}}})
	if err == nil || !strings.Contains(err.Error(), `"outer"`) || !strings.Contains(err.Error(), `"inner"`) {
		t.Errorf("error = %v, want it to name outer and inner", err)
	}
}

package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/livingprofile/livingprofile/shared/catalog"
	"github.com/livingprofile/livingprofile/shared/profile"
)

// logGuard proves that no classified value reaches a log line: it learns every identity
// value and string attribute value (each of them a data category of the catalog) that the
// functions write to a profile during the suite, from the DynamoDB requests themselves, and
// captures every log line the functions emit. TestMain fails the suite if any line holds
// a value, in any letter case, raw or JSON-escaped. Learning from the writes rather than
// from a list of test data means a test added later is guarded too, and the values of
// profiles erased before the end of the suite are still known.
type logGuard struct {
	mu      sync.Mutex
	partial []byte
	lines   [][]byte
	values  map[string]string // lower-cased value -> its kind and data category
	cat     *catalog.Catalog  // classifies the values in the report
}

func newLogGuard(cat *catalog.Catalog) *logGuard {
	if cat == nil {
		cat = &catalog.Catalog{}
	}
	return &logGuard{values: map[string]string{}, cat: cat}
}

// minGuarded is the shortest value checked: shorter ones ("de", "42", "VIP") also occur in
// log lines by chance, as parts of ids, counts and times.
const minGuarded = 5

// Write implements io.Writer for the functions' slog JSON handler: one line per record.
func (g *logGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.partial = append(g.partial, p...)
	for {
		i := bytes.IndexByte(g.partial, '\n')
		if i < 0 {
			break
		}
		line := slices.Clone(g.partial[:i])
		g.partial = g.partial[i+1:]
		// Only the functions' lines: the local stack's own (the emulated API Gateway and
		// event sources) carry no function attribute, and are not the product's logs.
		if bytes.Contains(line, []byte(`"function":`)) {
			g.lines = append(g.lines, line)
		}
	}
	return len(p), nil
}

// option is an SDK middleware for the functions' DynamoDB clients that learns the values
// of every profile item (and identity copy of one) a request writes.
func (g *logGuard) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("LearnClassifiedValues",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			var items []map[string]types.AttributeValue
			switch v := in.Parameters.(type) {
			case *dynamodb.PutItemInput:
				items = append(items, v.Item)
			case *dynamodb.TransactWriteItemsInput:
				for _, ti := range v.TransactItems {
					if ti.Put != nil {
						items = append(items, ti.Put.Item)
					}
				}
			case *dynamodb.BatchWriteItemInput:
				for _, reqs := range v.RequestItems {
					for _, r := range reqs {
						if r.PutRequest != nil {
							items = append(items, r.PutRequest.Item)
						}
					}
				}
			}
			for _, it := range items {
				g.learnItem(it)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (g *logGuard) learnItem(it map[string]types.AttributeValue) {
	sk, _ := it["SK"].(*types.AttributeValueMemberS)
	doc, _ := it["doc"].(*types.AttributeValueMemberS)
	if sk == nil || doc == nil || sk.Value != "P" && sk.Value != "I" {
		return
	}
	var p profile.Profile
	if json.Unmarshal([]byte(doc.Value), &p) != nil {
		return
	}
	g.learn(&p)
}

// learn records p's identity values and string attribute values with their categories.
func (g *logGuard) learn(p *profile.Profile) {
	cat := g.cat
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, id := range p.Identities {
		g.add(id.Value, "identity "+id.Type+" ("+cat.IdentityCategory(id.Type)+")")
	}
	for name, v := range p.Attributes {
		if s, ok := v.(string); ok {
			g.add(s, "attribute "+name+" ("+cat.AttributeCategory(name)+")")
		}
	}
}

func (g *logGuard) add(v, what string) {
	if len(v) >= minGuarded {
		g.values[strings.ToLower(v)] = what
	}
}

// leaks lists the log lines that hold a classified value, naming the value's kind.
func (g *logGuard) leaks() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	values := slices.Sorted(maps.Keys(g.values))
	for _, line := range g.lines {
		l := strings.ToLower(string(line))
		for _, v := range values {
			esc, _ := json.Marshal(v)
			if strings.Contains(l, v) || strings.Contains(l, strings.ToLower(string(esc[1:len(esc)-1]))) {
				out = append(out, fmt.Sprintf("%s %q in log line %s", g.values[v], v, line))
			}
		}
	}
	return out
}

// verdict is the guard's answer at the end of the suite: an error when a line leaks, or,
// with whole (the whole suite ran, not a -run selection), when it saw no line or no value,
// which would make it pass for nothing.
func (g *logGuard) verdict(whole bool) error {
	if leaks := g.leaks(); len(leaks) > 0 {
		return fmt.Errorf("%d log lines hold classified values:\n%s", len(leaks), strings.Join(leaks, "\n"))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if whole && (len(g.lines) == 0 || len(g.values) == 0) {
		return fmt.Errorf("the log guard saw %d log lines and %d values: it is not wired in", len(g.lines), len(g.values))
	}
	return nil
}

// String summarizes what the guard checked.
func (g *logGuard) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Sprintf("log guard: %d function log lines checked for %d classified values", len(g.lines), len(g.values))
}

// TestLogGuardCatches: the guard fails on a line holding a learnt value, in another letter
// case or JSON-escaped, and passes a line that holds none or only the stack's own line.
func TestLogGuardCatches(t *testing.T) {
	p := &profile.Profile{
		Identities: []profile.Identity{{Type: "email", Value: "ada.lovelace@example.com"}},
		Attributes: map[string]any{"givenName": "Ada<Byron>", "shoe_size": 38.0, "vip": true},
	}
	for _, tc := range []struct {
		name, line string
		leak       bool
	}{
		{"clean", `{"level":"INFO","msg":"request","function":"GetProfile","status":200}` + "\n", false},
		{"identity", `{"level":"ERROR","msg":"x","function":"Sync","err":"no profile for ADA.Lovelace@example.com"}` + "\n", true},
		{"escaped attribute", `{"level":"INFO","msg":"x","function":"UpdateProfile","v":"Ada\u003cByron\u003e"}` + "\n", true},
		{"the stack's own line", `{"level":"INFO","msg":"GET /v1/profiles?identity=email:ada.lovelace@example.com"}` + "\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newLogGuard(nil)
			g.learn(p)
			// Written in two pieces: a line is whole only at its newline.
			_, _ = g.Write([]byte(tc.line[:10]))
			_, _ = g.Write([]byte(tc.line[10:]))
			if got := len(g.leaks()) > 0; got != tc.leak {
				t.Errorf("leak = %v, want %v: %v", got, tc.leak, g.leaks())
			}
		})
	}
	if err := newLogGuard(nil).verdict(true); err == nil {
		t.Error("a guard that saw nothing passes")
	}
	g := newLogGuard(nil)
	g.learnItem(map[string]types.AttributeValue{"SK": &types.AttributeValueMemberS{Value: "P"},
		"doc": &types.AttributeValueMemberS{Value: `{"identities":[{"type":"phone","value":"+48600100200"}]}`}})
	_, _ = g.Write([]byte(`{"function":"CreateProfile","msg":"+48600100200"}` + "\n"))
	if err := g.verdict(false); err == nil || !strings.Contains(err.Error(), "identity phone (contact)") {
		t.Errorf("verdict = %v, want the phone's leak", err)
	}
}

package jsonin_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/livingprofile/livingprofile/shared/jsonin"
)

type identity struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type consent struct {
	Status        string     `json:"status"`
	NoticeVersion int        `json:"noticeVersion"`
	ExpiresAt     *time.Time `json:"expiresAt"`
}

type change struct {
	ID         string             `json:"id"`
	Attributes map[string]any     `json:"attributes"`
	Consents   map[string]consent `json:"consents"`
}

type check struct {
	Channel string `json:"channel,omitempty"`
}

// body stands for the service's request bodies: nested arrays, maps, pointers, an
// embedded struct, free text and every number kind the bodies use.
type body struct {
	check
	Identities []identity        `json:"identities"`
	Changes    []change          `json:"changes"`
	Reason     string            `json:"reason" jsonin:"text"`
	Labels     []string          `json:"labels"`
	Notes      map[string]string `json:"notes" jsonin:"text"`
	Months     int               `json:"months"`
	Small      int8              `json:"small"`
	Count      uint16            `json:"count"`
	Ratio      float64           `json:"ratio"`
	Flag       *bool             `json:"flag"`
	At         time.Time         `json:"at"`
	Ignored    string            `json:"-"`
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name, in, path, reason string
	}{
		{"wrong type in array element", `{"identities":[{"type":1}]}`, "identities[0].type", "must be a string"},
		{"wrong type under map key", `{"changes":[{},{"consents":{"marketing":{"noticeVersion":"2"}}}]}`,
			"changes[1].consents.marketing.noticeVersion", "must be a whole number"},
		{"embedded field named without its Go type", `{"channel":5}`, "channel", "must be a string"},
		{"wrong-typed time", `{"at":5}`, "at", "must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z"},
		{"malformed time", `{"at":"yesterday"}`, "at", "must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z"},
		{"time under a map", `{"changes":[{"consents":{"a.b":{"expiresAt":"2026-13-01T00:00:00Z"}}}]}`,
			`changes[0].consents["a.b"].expiresAt`, "must be a date-time string in RFC 3339 form, such as 2026-05-31T12:00:00Z"},
		{"key with a space is quoted", `{"changes":[{"attributes":{"my key":"\u0001"}}]}`,
			`changes[0].attributes["my key"]`, "must not hold control characters"},
		{"duplicate key at the top", `{"reason":"a","reason":"b"}`, "reason", "appears more than once"},
		{"duplicate key deep", `{"changes":[{"attributes":{"x":{"y":1,"y":2}}}]}`, "changes[0].attributes.x.y", "appears more than once"},
		{"duplicate key in an unknown field still a duplicate", `{"identities":[{"type":"email","type":"email"}]}`,
			"identities[0].type", "appears more than once"},
		{"invalid UTF-8", "{\"reason\":\"a\xff\"}", "reason", "is not valid UTF-8"},
		{"overlong UTF-8", "{\"reason\":\"\xc0\xaf\"}", "reason", "is not valid UTF-8"},
		{"UTF-8 surrogate bytes", "{\"reason\":\"\xed\xa0\x80\"}", "reason", "is not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"a\xff\":1}", "(body)", "is not valid UTF-8"},
		{"lone high surrogate", `{"reason":"\ud800"}`, "reason", "holds a lone surrogate escape"},
		{"high surrogate then letter", `{"reason":"\ud800x"}`, "reason", "holds a lone surrogate escape"},
		{"lone low surrogate", `{"reason":"\udc00"}`, "reason", "holds a lone surrogate escape"},
		{"reversed surrogates", `{"reason":"\udc00\ud800"}`, "reason", "holds a lone surrogate escape"},
		{"two high surrogates", `{"reason":"\ud800\ud800"}`, "reason", "holds a lone surrogate escape"},
		{"escaped NUL in free text", `{"reason":"a\u0000b"}`, "reason", "must not hold control characters"},
		{"escaped C1 in free text", `{"reason":"a\u0085b"}`, "reason", "must not hold control characters"},
		{"raw C1 in free text", "{\"reason\":\"a\u0085b\"}", "reason", "must not hold control characters"},
		{"DEL in free text", "{\"reason\":\"a\x7fb\"}", "reason", "must not hold control characters"},
		{"escape character", `{"reason":"\u001b[31m"}`, "reason", "must not hold control characters"},
		{"raw newline is not JSON", "{\"reason\":\"a\nb\"}", "reason", "must not hold control characters"},
		{"newline outside free text", `{"identities":[{"type":"email","value":"a\nb"}]}`, "identities[0].value", "must not hold control characters"},
		{"tab in a list of strings", `{"labels":["a","b\tc"]}`, "labels[1]", "must not hold control characters"},
		{"control character in a key", `{"changes":[{"attributes":{"a\tb":1}}]}`, "changes[0].attributes", "has a key with a control character"},
		{"NUL in an attribute", `{"changes":[{"attributes":{"x":"\u0000"}}]}`, "changes[0].attributes.x", "must not hold control characters"},
		{"null body", `null`, "(body)", "must not be null"},
		{"null object field", `{"flag":null}`, "flag", "must not be null"},
		{"null array", `{"identities":null}`, "identities", "must not be null"},
		{"null array element", `{"identities":[null]}`, "identities[0]", "must not be null"},
		{"null string", `{"reason":null}`, "reason", "must not be null"},
		{"null map value", `{"notes":{"en":null}}`, "notes.en", "must not be null"},
		{"null time", `{"changes":[{"consents":{"m":{"expiresAt":null}}}]}`, "changes[0].consents.m.expiresAt", "must not be null"},
		{"fraction for an integer", `{"months":2.5}`, "months", "must be a whole number"},
		{"small fraction in exponent form", `{"months":25e-1}`, "months", "must be a whole number"},
		{"tiny exponent", `{"months":1e-99999999999999999999}`, "months", "must be a whole number"},
		{"int out of range", `{"months":9223372036854775808}`, "months", "is out of range"},
		{"int8 out of range", `{"small":128}`, "small", "is out of range"},
		{"int8 out of range in exponent form", `{"small":13e1}`, "small", "is out of range"},
		{"huge exponent", `{"months":1e99999999999999999999}`, "months", "is out of range"},
		{"negative unsigned", `{"count":-1}`, "count", "is out of range"},
		{"uint16 out of range", `{"count":65536}`, "count", "is out of range"},
		{"float out of range", `{"ratio":1e400}`, "ratio", "is out of range"},
		{"string for a number", `{"ratio":"1"}`, "ratio", "must be a number"},
		{"number for a bool", `{"flag":1}`, "flag", "must be true or false"},
		{"object for an array", `{"identities":{}}`, "identities", "must be an array"},
		{"array for an object", `{"identities":[[]]}`, "identities[0]", "must be an object"},
		{"array body", `[]`, "(body)", "must be an object"},
		{"unknown field", `{"identities":[{"type":"email","kind":"x"}]}`, "identities[0].kind", "is not a known field"},
		{"field names are case-sensitive", `{"Reason":"x"}`, "Reason", "is not a known field"},
		{"a json:\"-\" field is unknown", `{"Ignored":"x"}`, "Ignored", "is not a known field"},
		{"trailing value", `{} {}`, "(body)", "holds more than one JSON value"},
		{"trailing garbage", `{}x`, "(body)", "holds more than one JSON value"},
		{"empty", ``, "(body)", "is not valid JSON (it ends too early)"},
		{"cut short", `{"identities":[{"type":"em`, "identities[0].type", "is not valid JSON (it ends too early)"},
		{"syntax error names the path", `{"changes":[{"id":"a"},{"id":tru}]}`, "changes[1].id", "is not valid JSON (at byte 29)"},
		{"missing colon", `{"reason" "x"}`, "reason", "is not valid JSON (at byte 10)"},
		{"trailing comma", `{"labels":["a",]}`, "labels[1]", "is not valid JSON (at byte 15)"},
		{"leading zero", `{"months":02}`, "(body)", "is not valid JSON (at byte 11)"},
		{"bad escape", `{"reason":"\x"}`, "reason", "is not valid JSON (at byte 11)"},
		{"bad unicode escape", `{"reason":"\u12g4"}`, "reason", "is not valid JSON (at byte 13)"},
		{"too deep", strings.Repeat(`{"changes":[`, 20), "changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0].changes[0]", "nests more than 32 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b body
			err := jsonin.Decode([]byte(tt.in), &b)
			var e *jsonin.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) = %v, want a *jsonin.Error", tt.in, err)
			}
			if e.Path != tt.path || e.Reason != tt.reason {
				t.Errorf("Decode(%q) = %q: %q, want %q: %q", tt.in, e.Path, e.Reason, tt.path, tt.reason)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	at := time.Date(2026, 5, 31, 12, 0, 0, 0, time.UTC)
	yes := true
	tests := []struct {
		name string
		in   string
		want body
	}{
		{"integer spellings", `{"months":2.0,"small":20e-1,"count":2e0}`, body{Months: 2, Small: 2, Count: 2}},
		{"more integer spellings", `{"months":-0,"small":-128,"count":65535}`, body{Small: -128, Count: 65535}},
		{"large exponent spelling", `{"months":9.223372036854775807e18}`, body{Months: math.MaxInt64}},
		{"zero with a huge exponent", `{"months":0e99999999999999999999}`, body{}},
		{"negative zero unsigned", `{"count":-0.0}`, body{}},
		{"embedded field", `{"channel":"email"}`, body{check: check{Channel: "email"}}},
		{"free text keeps tab, newline and CR", `{"reason":"line 1\r\n\tline 2","notes":{"en":"a\nb"}}`,
			body{Reason: "line 1\r\n\tline 2", Notes: map[string]string{"en": "a\nb"}}},
		{"surrogate pair", `{"reason":"\ud83d\ude00 \u00e9"}`, body{Reason: "😀 é"}},
		{"null attribute removes", `{"changes":[{"attributes":{"locale":null,"n":2.5,"tags":["a\tb"]}}]}`,
			body{Changes: []change{{Attributes: map[string]any{"locale": nil, "n": 2.5, "tags": []any{"a\tb"}}}}}},
		{"time", `{"at":"2026-05-31T12:00:00Z","flag":true}`, body{At: at, Flag: &yes}},
		{"white space around", " \n{ \"labels\" : [ ] }\t", body{Labels: []string{}}},
		{"same key in different objects", `{"identities":[{"type":"a"},{"type":"b"}]}`,
			body{Identities: []identity{{Type: "a"}, {Type: "b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b body
			if err := jsonin.Decode([]byte(tt.in), &b); err != nil {
				t.Fatalf("Decode(%q) = %v", tt.in, err)
			}
			if !reflect.DeepEqual(b, tt.want) {
				t.Errorf("Decode(%q) = %+v, want %+v", tt.in, b, tt.want)
			}
		})
	}
}

func TestDecodeNotPointer(t *testing.T) {
	var b body
	if err := jsonin.Decode([]byte(`{}`), b); err == nil {
		t.Fatal("Decode into a non-pointer succeeded")
	}
}

// broken reports whether s breaks a rule encoding/json lets through: invalid UTF-8, or a
// control character other than tab, newline and CR.
func broken(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 || 0x7f <= r && r <= 0x9f) && r != '\t' && r != '\n' && r != '\r'
	})
}

// FuzzDecode checks that Decode never panics, that what it accepts encoding/json reads
// the same way and round-trips, and that it refuses what breaks a rule.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"identities":[{"type":"email","value":"a@b.example"}]}`,
		`{"changes":[{"id":"1","attributes":{"x":null,"y":[1,2.5,"z"]},"consents":{"m":{"noticeVersion":2.0}}}]}`,
		`{"reason":"a","reason":"b"}`, `{"reason":"\ud800"}`, "{\"reason\":\"\xff\"}", `null`, `{"months":2.5}`,
		`{"reason":"\u0000"}`, `{"at":"2026-05-31T12:00:00Z"}`, `{"notes":{"en":"a\nb"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b body
		err := jsonin.Decode(in, &b)
		var v any
		verr := jsonin.Valid(in)
		if err == nil {
			if verr != nil {
				t.Fatalf("Decode accepted %q but Valid refused it: %v", in, verr)
			}
			// encoding/json refuses 2.0 for an integer; where it reads the input, it reads it alike.
			var std body
			if jerr := json.Unmarshal(in, &std); jerr == nil && !reflect.DeepEqual(b, std) {
				t.Fatalf("Decode(%q) = %+v, encoding/json %+v", in, b, std)
			}
			out, merr := json.Marshal(b)
			if merr != nil {
				t.Fatalf("Marshal: %v", merr)
			}
			var again body
			if rerr := jsonin.Decode(out, &again); rerr != nil && !strings.Contains(string(out), "null") {
				t.Fatalf("re-decoding %s: %v", out, rerr)
			}
		}
		if verr != nil {
			return
		}
		if jerr := json.Unmarshal(in, &v); jerr != nil {
			t.Fatalf("Valid accepted %q, encoding/json refused it: %v", in, jerr)
		}
		// What Valid accepts has no duplicate key (a re-encoding keeps every member), no
		// invalid UTF-8 and no forbidden control character.
		walk(t, in, v)
		out, _ := json.Marshal(v)
		if !json.Valid(out) || jsonin.Valid(out) != nil {
			t.Fatalf("round trip of %q: %s does not read back", in, out)
		}
		var back any
		_ = json.Unmarshal(out, &back)
		if !reflect.DeepEqual(v, back) {
			t.Fatalf("round trip of %q changed it: %#v, then %#v", in, v, back)
		}
		if members(in) != members(out) {
			t.Fatalf("%q has a duplicate key: %d members, %d after a round trip", in, members(in), members(out))
		}
	})
}

func walk(t *testing.T, in []byte, v any) {
	switch v := v.(type) {
	case string:
		if broken(v) {
			t.Fatalf("Valid accepted %q with the string %q", in, v)
		}
		// encoding/json reads a lone surrogate or invalid UTF-8 as U+FFFD: one that the
		// input does not spell out was made from one.
		if strings.ContainsRune(v, utf8.RuneError) && !strings.Contains(string(in), "\uFFFD") &&
			!strings.Contains(strings.ToLower(string(in)), `\ufffd`) {
			t.Fatalf("Valid accepted %q, which encoding/json reads with U+FFFD: %q", in, v)
		}
	case []any:
		for _, e := range v {
			walk(t, in, e)
		}
	case map[string]any:
		for k, e := range v {
			if broken(k) || strings.ContainsAny(k, "\t\n\r") {
				t.Fatalf("Valid accepted %q with the key %q", in, k)
			}
			walk(t, in, e)
		}
	}
}

// members counts the object members of a JSON document.
func members(b []byte) int {
	type frame struct{ object, wantKey bool }
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var stack []frame
	n := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey && tok != json.Delim('}') {
			n++
			stack[top].wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		if top = len(stack) - 1; top >= 0 && stack[top].object {
			stack[top].wantKey = true // a member's value ended
		}
	}
}

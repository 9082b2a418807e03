package eventsource

import "testing"

func TestFilter(t *testing.T) {
	ev := map[string]any{"eventName": "INSERT", "dynamodb": map[string]any{"Keys": map[string]any{"SK": map[string]any{"S": "O"}}, "n": 1.0}}
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{`{"eventName":["INSERT"],"dynamodb":{"Keys":{"SK":{"S":["O"]}}}}`, true},
		{`{"eventName":["MODIFY","REMOVE"]}`, false},
		{`{"dynamodb":{"Keys":{"SK":{"S":["PROFILE"]}}}}`, false},
		{`{"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"O"}]}}}}`, true},
		{`{"dynamodb":{"Keys":{"PK":[{"exists":false}]}}}`, true},
		{`{"dynamodb":{"Keys":{"SK":{"S":[{"exists":true}]}}}}`, true},
		{`{"eventName":[{"anything-but":["INSERT"]}]}`, false},
		{`{"dynamodb":{"n":[1]}}`, true},
		{`{"missing":["x"]}`, false},
	} {
		f, err := CompileFilter([]string{c.pattern})
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got, err := f.Match(ev); err != nil || got != c.want {
			t.Errorf("%s matches = %v (%v), want %v", c.pattern, got, err, c.want)
		}
	}
	for _, bad := range []string{`{"n":[{"numeric":[">",1]}]}`, `{"a":"x"}`, `not json`} {
		if _, err := CompileFilter([]string{bad}); err == nil {
			t.Errorf("CompileFilter(%s) = nil error, want one: the operator is not emulated or the pattern is malformed", bad)
		}
	}
}

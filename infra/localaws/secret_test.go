package localaws

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/infra/template"
)

func TestGenerateSecretString(t *testing.T) {
	tests := []struct {
		name    string
		gen     template.GenerateSecretString
		check   func(t *testing.T, s string)
		wantErr string
	}{
		{"alphanumeric password", template.GenerateSecretString{Length: 40, ExcludePunctuation: true}, func(t *testing.T, s string) {
			if !regexp.MustCompile(`^[A-Za-z0-9]{40}$`).MatchString(s) {
				t.Errorf("%q is not 40 alphanumerics", s)
			}
		}, ""},
		{"every included type", template.GenerateSecretString{Length: 4}, func(t *testing.T, s string) {
			for _, class := range []string{lowerChars, upperChars, digitChars, punctuationChars} {
				if !strings.ContainsAny(s, class) {
					t.Errorf("%q lacks one of %q", s, class)
				}
			}
		}, ""},
		{"template with key", template.GenerateSecretString{Template: `{"kid":"k1","note":"a<b"}`, Key: "key", Length: 16, ExcludePunctuation: true}, func(t *testing.T, s string) {
			var got map[string]string
			if err := json.Unmarshal([]byte(s), &got); err != nil {
				t.Fatalf("%q is not JSON: %v", s, err)
			}
			if got["kid"] != "k1" || got["note"] != "a<b" || len(got["key"]) != 16 || !strings.Contains(s, "a<b") {
				t.Errorf("secret = %s", s)
			}
		}, ""},
		{"template not JSON", template.GenerateSecretString{Template: "nope", Key: "k", Length: 8}, nil, "not a JSON object"},
		{"too short for every type", template.GenerateSecretString{Length: 3}, nil, "outside 4..4096"},
		{"too short without punctuation", template.GenerateSecretString{Length: 2, ExcludePunctuation: true}, nil, "outside 3..4096"},
		{"too long", template.GenerateSecretString{Length: 4097}, nil, "outside 4..4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := generateSecretString(tt.gen)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestPhysicalRefs(t *testing.T) {
	p := Physical{
		"T": {Type: typeTable, Name: "s-T", ARN: "arn:t", StreamARN: "arn:t/stream/1"},
		"Q": {Type: typeQueue, Name: "s-Q", ARN: "arn:q", URL: "http://h/0/s-Q"},
		"B": {Type: typeBucket, Name: "s-b", ARN: "arn:aws:s3:::s-b"},
		"S": {Type: typeSecret, Name: "s-S", ARN: "arn:s"},
	}
	refs := p.Refs()
	tests := []struct{ key, want string }{
		{"T", "s-T"}, {"T.Arn", "arn:t"}, {"T.StreamArn", "arn:t/stream/1"},
		{"Q", "http://h/0/s-Q"}, {"Q.Arn", "arn:q"}, {"Q.QueueName", "s-Q"},
		{"B", "s-b"}, {"B.Arn", "arn:aws:s3:::s-b"},
		{"S", "arn:s"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := refs[tt.key]; got != tt.want {
				t.Errorf("Refs()[%s] = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

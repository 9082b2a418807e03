package localstack

import (
	"reflect"
	"testing"
)

func TestLinkify(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []textPart
	}{
		{"no link", "hello", []textPart{{Text: "hello"}}},
		{"empty", "", nil},
		{"link with trailing dot", "Sign in: https://x.example/a?b=1&c=2.", []textPart{
			{Text: "Sign in: "}, {URL: "https://x.example/a?b=1&c=2"}, {Text: "."}}},
		{"link in parentheses", "(http://127.0.0.1:4000/p)", []textPart{
			{Text: "("}, {URL: "http://127.0.0.1:4000/p"}, {Text: ")"}}},
		{"two links", "a http://a.example b https://b.example", []textPart{
			{Text: "a "}, {URL: "http://a.example"}, {Text: " b "}, {URL: "https://b.example"}}},
		{"other schemes stay text", "javascript:alert(1) ftp://x", []textPart{{Text: "javascript:alert(1) ftp://x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := linkify(tt.text); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("linkify(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestHTMLLinks(t *testing.T) {
	tests := []struct {
		name string
		html string
		want []string
	}{
		{"none", "<p>hi</p>", nil},
		{"quoted, entity decoded, deduplicated", `<a href="https://a.example/?x=1&amp;y=2">a</a> <A HREF='https://a.example/?x=1&amp;y=2'>again</A>`,
			[]string{"https://a.example/?x=1&y=2"}},
		{"unquoted", `<a href=http://b.example/p>b</a>`, []string{"http://b.example/p"}},
		{"javascript ignored", `<a href="javascript:alert(1)">x</a>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := htmlLinks(tt.html); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("htmlLinks(%q) = %v, want %v", tt.html, got, tt.want)
			}
		})
	}
}

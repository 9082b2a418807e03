package httpapi

import "testing"

// TestMatches covers the path template forms template.yaml does not use yet: a greedy
// variable takes all the rest of the path, if it is not empty.
func TestMatches(t *testing.T) {
	tests := []struct {
		tmpl, path string
		want       bool
	}{
		{"/files/{proxy+}", "/files/a", true},
		{"/files/{proxy+}", "/files/a/b/c", true},
		{"/files/{proxy+}", "/files/a/", true},
		{"/files/{proxy+}", "/files/", false},
		{"/files/{proxy+}", "/files", false},
		{"/{proxy+}", "/anything/at/all", true},
		{"/a/{x}/c", "/a/b/c", true},
		{"/a/{x}/c", "/a//c", false},
		{"/a/{x}/c", "/a/b/c/d", false},
		{"/a/b", "/a/b", true},
		{"/a/b", "/a/B", false},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl+" "+tt.path, func(t *testing.T) {
			if got := matches(tt.tmpl, tt.path); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

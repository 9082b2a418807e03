package eventsource

import (
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
	}{
		{"rate(1 minute)", time.Minute},
		{"rate(5 minutes)", 5 * time.Minute},
		{"rate(1 hour)", time.Hour},
		{"rate(12 hours)", 12 * time.Hour},
		{"rate(1 day)", 24 * time.Hour},
		{"rate(7 days)", 7 * 24 * time.Hour},
		{" rate(2 minutes) ", 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := ParseRate(tt.expr)
			if err != nil || got != tt.want {
				t.Errorf("ParseRate(%q) = %v, %v; want %v", tt.expr, got, err, tt.want)
			}
		})
	}
}

func TestParseRateErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "want rate("},
		{"every 5 minutes", "want rate("},
		{"rate(5 minutes", "want rate("},
		{"Rate(5 minutes)", "want rate("},
		{"rate()", "want rate("},
		{"rate(-1 minutes)", "want rate("},
		{"rate(1.5 hours)", "want rate("},
		{"rate(5 seconds)", "want rate("},
		{"rate(5 weeks)", "want rate("},
		{"rate(0 minutes)", "not an integer in 1..36500"},
		{"rate(99999999 days)", "not an integer in 1..36500"},
		{"rate(1 minutes)", "singular unit for 1"},
		{"rate(5 minute)", "singular unit for 1"},
		{"cron(0 8 * * ? *)", "cron() and at() are not emulated"},
		{"at(2024-03-10T08:00:00)", "cron() and at() are not emulated"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseRate(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRate(%q) = %v, want an error containing %q", tt.expr, err, tt.want)
			}
		})
	}
}

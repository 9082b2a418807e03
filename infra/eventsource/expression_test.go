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

// TestParseExpression checks the fire times each expression yields from a fixed time: want
// lists the next fire times in order, each computed from the previous one; "" is the zero
// time (no further fire time).
func TestParseExpression(t *testing.T) {
	tests := []struct {
		expr string
		from string
		want []string
	}{
		// rate(): from the previous fire time, no phase.
		{"rate(5 minutes)", "2024-03-10T07:58:30Z", []string{"2024-03-10T08:03:30Z", "2024-03-10T08:08:30Z"}},
		{"rate(1 minute)", "2024-03-10T07:58:00Z", []string{"2024-03-10T07:59:00Z", "2024-03-10T08:00:00Z"}},
		{"rate(1 hour)", "2024-03-10T07:58:00Z", []string{"2024-03-10T08:58:00Z"}},
		{"rate(12 hours)", "2024-03-10T07:58:00Z", []string{"2024-03-10T19:58:00Z", "2024-03-11T07:58:00Z"}},
		{"rate(1 day)", "2024-02-28T10:00:00Z", []string{"2024-02-29T10:00:00Z", "2024-03-01T10:00:00Z"}},
		{"rate(7 days)", "2024-03-10T00:00:00Z", []string{"2024-03-17T00:00:00Z"}},
		{" rate(2 minutes) ", "2024-03-10T00:00:00Z", []string{"2024-03-10T00:02:00Z"}},

		// cron(): daily, strictly after the given time.
		{"cron(0 8 * * ? *)", "2024-03-10T07:59:59Z", []string{"2024-03-10T08:00:00Z", "2024-03-11T08:00:00Z", "2024-03-12T08:00:00Z"}},
		{"cron(0 8 * * ? *)", "2024-03-10T08:00:00Z", []string{"2024-03-11T08:00:00Z"}},
		{"cron(0 8 * * ? *)", "2024-03-10T08:00:30Z", []string{"2024-03-11T08:00:00Z"}},
		{"cron(0 8 * * ? *)", "2024-12-31T09:00:00Z", []string{"2025-01-01T08:00:00Z"}},
		// Every minute, across hour, day and year boundaries.
		{"cron(* * * * ? *)", "2024-12-31T23:58:10Z", []string{"2024-12-31T23:59:00Z", "2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z"}},
		// Steps.
		{"cron(*/15 * * * ? *)", "2024-03-10T10:07:00Z", []string{"2024-03-10T10:15:00Z", "2024-03-10T10:30:00Z", "2024-03-10T10:45:00Z", "2024-03-10T11:00:00Z"}},
		{"cron(5/20 * * * ? *)", "2024-03-10T10:00:00Z", []string{"2024-03-10T10:05:00Z", "2024-03-10T10:25:00Z", "2024-03-10T10:45:00Z", "2024-03-10T11:05:00Z"}},
		{"cron(0/30 8-10/2 * * ? *)", "2024-03-10T08:45:00Z", []string{"2024-03-10T10:00:00Z", "2024-03-10T10:30:00Z", "2024-03-11T08:00:00Z"}},
		{"cron(0 0 */10 * ? *)", "2024-01-05T00:00:00Z", []string{"2024-01-11T00:00:00Z", "2024-01-21T00:00:00Z", "2024-01-31T00:00:00Z", "2024-02-01T00:00:00Z"}},
		// Lists and ranges of hours and minutes.
		{"cron(15,45 9,17 * * ? *)", "2024-03-10T09:20:00Z", []string{"2024-03-10T09:45:00Z", "2024-03-10T17:15:00Z", "2024-03-10T17:45:00Z", "2024-03-11T09:15:00Z"}},
		{"cron(0-2 12 * * ? *)", "2024-03-10T11:00:00Z", []string{"2024-03-10T12:00:00Z", "2024-03-10T12:01:00Z", "2024-03-10T12:02:00Z", "2024-03-11T12:00:00Z"}},
		// Day of month and month, with names; short months are skipped.
		{"cron(0 0 1 * ? *)", "2024-01-15T00:00:00Z", []string{"2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"}},
		{"cron(0 0 31 * ? *)", "2024-01-31T00:00:00Z", []string{"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z"}},
		{"cron(0 0 1 JAN,jul ? *)", "2024-01-01T00:00:00Z", []string{"2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"}},
		{"cron(30 6 1 3-5 ? *)", "2024-05-02T00:00:00Z", []string{"2025-03-01T06:30:00Z"}},
		{"cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},
		// Day of week: 1 is Sunday; names; ranges.
		{"cron(0 9 ? * MON-FRI *)", "2024-03-08T09:00:00Z", []string{"2024-03-11T09:00:00Z", "2024-03-12T09:00:00Z"}}, // Fri -> Mon
		{"cron(0 9 ? * 2-6 *)", "2024-03-08T09:00:00Z", []string{"2024-03-11T09:00:00Z"}},
		{"cron(0 0 ? * 1 *)", "2024-03-10T00:00:00Z", []string{"2024-03-17T00:00:00Z"}}, // Sunday
		{"cron(0 0 ? * sat,SUN *)", "2024-03-08T12:00:00Z", []string{"2024-03-09T00:00:00Z", "2024-03-10T00:00:00Z", "2024-03-16T00:00:00Z"}},
		{"cron(0 18 ? * MON,WED,FRI 2024-2025)", "2025-12-29T19:00:00Z", []string{"2025-12-31T18:00:00Z", ""}},
		// Special days of the month.
		{"cron(0 12 L * ? *)", "2024-02-01T00:00:00Z", []string{"2024-02-29T12:00:00Z", "2024-03-31T12:00:00Z", "2024-04-30T12:00:00Z"}},
		{"cron(0 12 LW * ? *)", "2024-08-01T00:00:00Z", []string{"2024-08-30T12:00:00Z", "2024-09-30T12:00:00Z"}}, // Aug 31 is a Saturday
		{"cron(0 12 LW * ? *)", "2024-03-01T00:00:00Z", []string{"2024-03-29T12:00:00Z"}},                         // Mar 31 is a Sunday
		{"cron(0 12 15W * ? *)", "2024-06-01T00:00:00Z", []string{"2024-06-14T12:00:00Z", "2024-07-15T12:00:00Z", "2024-08-15T12:00:00Z", "2024-09-16T12:00:00Z"}},
		{"cron(0 12 1W * ? *)", "2024-05-31T00:00:00Z", []string{"2024-06-03T12:00:00Z"}}, // Jun 1 is a Saturday: Monday the 3rd
		{"cron(0 12 31W * ? *)", "2024-03-01T00:00:00Z", []string{"2024-03-29T12:00:00Z", "2024-05-31T12:00:00Z"}},
		// Special days of the week.
		{"cron(0 10 ? * 6L *)", "2024-03-01T00:00:00Z", []string{"2024-03-29T10:00:00Z", "2024-04-26T10:00:00Z"}}, // last Friday
		{"cron(0 10 ? * FRIL *)", "2024-03-01T00:00:00Z", []string{"2024-03-29T10:00:00Z"}},
		{"cron(0 10 ? * 2#1 *)", "2024-03-31T00:00:00Z", []string{"2024-04-01T10:00:00Z", "2024-05-06T10:00:00Z"}}, // first Monday
		{"cron(15 10 ? * 6#3 2024)", "2024-11-01T00:00:00Z", []string{"2024-11-15T10:15:00Z", "2024-12-20T10:15:00Z", ""}},
		{"cron(0 0 ? * 5#5 *)", "2024-01-01T00:00:00Z", []string{"2024-02-29T00:00:00Z", "2024-05-30T00:00:00Z"}}, // fifth Thursday
		// Years.
		{"cron(0 0 1 1 ? 2030)", "2024-01-01T00:00:00Z", []string{"2030-01-01T00:00:00Z", ""}},
		{"cron(0 0 1 1 ? 2030/5)", "2031-06-01T00:00:00Z", []string{"2035-01-01T00:00:00Z", "2040-01-01T00:00:00Z"}},
		{"cron(59 23 31 12 ? 2199)", "2199-12-31T23:58:00Z", []string{"2199-12-31T23:59:00Z", ""}},
		{"cron(0 0 * * ? *)", "1960-05-05T00:00:00Z", []string{"1970-01-01T00:00:00Z"}},
		// at(): once.
		{"at(2024-03-10T08:00:00)", "2024-03-10T07:00:00Z", []string{"2024-03-10T08:00:00Z", ""}},
		{"at(2024-03-10T08:00:00)", "2024-03-10T08:00:00Z", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" from "+tt.from, func(t *testing.T) {
			next, err := ParseExpression(tt.expr)
			if err != nil {
				t.Fatalf("ParseExpression: %v", err)
			}
			at := utc(tt.from)
			for i, w := range tt.want {
				got := next(at)
				if w == "" {
					if !got.IsZero() {
						t.Fatalf("fire time %d = %s, want none", i+1, got.Format(time.RFC3339))
					}
					return
				}
				if !got.Equal(utc(w)) {
					t.Fatalf("fire time %d = %s, want %s", i+1, got.Format(time.RFC3339), w)
				}
				at = got
			}
		})
	}
}

func TestParseExpressionErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", "want rate(...), cron(...) or at(...)"},
		{"every 5 minutes", "want rate(...), cron(...) or at(...)"},
		{"cron 0 8 * * ? *", "want rate(...), cron(...) or at(...)"},
		{"rate(5 minutes", "want rate(...), cron(...) or at(...)"},
		{"Rate(5 minutes)", "want rate(...), cron(...) or at(...)"},
		{"rate()", "positive integer"},
		{"rate(0 minutes)", "not a positive integer"},
		{"rate(-1 minutes)", "positive integer"},
		{"rate(1.5 hours)", "positive integer"},
		{"rate(5 seconds)", "minute(s), hour(s) or day(s)"},
		{"rate(5 weeks)", "minute(s), hour(s) or day(s)"},
		{"rate(1 minutes)", "singular for 1"},
		{"rate(5 minute)", "singular for 1"},
		{"rate(99999999 days)", "longer than"},
		{"cron(0 8 * * ?)", "6 fields"},
		{"cron(0 8 * * ? * *)", "6 fields"},
		{"cron(0 8 * * * *)", "must be ?"},
		{"cron(0 8 1 * MON *)", "must be ?"},
		{"cron(0 8 ? * ? *)", "cannot both be ?"},
		{"cron(60 8 * * ? *)", "minutes field"},
		{"cron(? 8 * * ? *)", "minutes field"},
		{"cron(0 24 * * ? *)", "hours field"},
		{"cron(0 8 0 * ? *)", "day-of-month field"},
		{"cron(0 8 32 * ? *)", "day-of-month field"},
		{"cron(0 8 * 13 ? *)", "month field"},
		{"cron(0 8 * FOO ? *)", "month field"},
		{"cron(0 8 ? * 0 *)", "day-of-week field"},
		{"cron(0 8 ? * 8 *)", "day-of-week field"},
		{"cron(0 8 ? * MON-FUN *)", "day-of-week field"},
		{"cron(0 8 * * ? 1969)", "year field"},
		{"cron(0 8 * * ? 2200)", "year field"},
		{"cron(5-3 8 * * ? *)", "runs backwards"},
		{"cron(*/0 8 * * ? *)", "step"},
		{"cron(*/x 8 * * ? *)", "step"},
		{"cron(1,,2 8 * * ? *)", "minutes field"},
		{"cron(0 8 1,L * ? *)", "stand alone"},
		{"cron(0 8 32W * ? *)", "between 1 and 31"},
		{"cron(0 8 ? * L *)", "nL or n#k"},
		{"cron(0 8 ? * 2#6 *)", "nL or n#k"},
		{"cron(0 8 ? * 2W *)", "nL or n#k"},
		{"at(2024-13-01T00:00:00)", "yyyy-mm-ddThh:mm:ss"},
		{"at(2024-03-10 08:00:00)", "yyyy-mm-ddThh:mm:ss"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := ParseExpression(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseExpression(%q) = %v, want an error containing %q", tt.expr, err, tt.want)
			}
		})
	}
}

func TestParseExpressionInTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	fires := func(t *testing.T, expr, from string, n int) []time.Time {
		t.Helper()
		next, err := ParseExpressionIn(expr, berlin)
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Time
		for at := utc(from); len(out) < n; {
			at = next(at)
			out = append(out, at)
		}
		return out
	}
	t.Run("local 08:00 across the spring change", func(t *testing.T) {
		got := fires(t, "cron(0 8 * * ? *)", "2024-03-30T00:00:00Z", 3)
		want := []string{"2024-03-30T07:00:00Z", "2024-03-31T06:00:00Z", "2024-04-01T06:00:00Z"}
		for i := range want {
			if !got[i].Equal(utc(want[i])) {
				t.Errorf("fire %d = %s, want %s", i, got[i].UTC().Format(time.RFC3339), want[i])
			}
		}
	})
	t.Run("a skipped local time fires once that day", func(t *testing.T) {
		// 2024-03-31 02:00 CET jumps to 03:00 CEST: 02:30 does not exist.
		got := fires(t, "cron(30 2 * * ? *)", "2024-03-30T12:00:00Z", 2)
		if d := got[0].UTC(); d.Before(utc("2024-03-31T00:00:00Z")) || d.After(utc("2024-03-31T02:00:00Z")) {
			t.Errorf("first fire = %s, want during the night of the change", d.Format(time.RFC3339))
		}
		if want := utc("2024-04-01T00:30:00Z"); !got[1].Equal(want) {
			t.Errorf("second fire = %s, want %s (02:30 CEST)", got[1].UTC().Format(time.RFC3339), want.Format(time.RFC3339))
		}
	})
	t.Run("a repeated local time fires once", func(t *testing.T) {
		// 2024-10-27 03:00 CEST goes back to 02:00 CET: 02:30 happens twice.
		got := fires(t, "cron(30 2 * * ? *)", "2024-10-26T12:00:00Z", 2)
		if d := got[0].UTC(); d != utc("2024-10-27T00:30:00Z") && d != utc("2024-10-27T01:30:00Z") {
			t.Errorf("first fire = %s, want 02:30 local on the 27th", d.Format(time.RFC3339))
		}
		if want := utc("2024-10-28T01:30:00Z"); !got[1].Equal(want) {
			t.Errorf("second fire = %s, want %s: not twice on the 27th", got[1].UTC().Format(time.RFC3339), want.Format(time.RFC3339))
		}
	})
	t.Run("at() is local time", func(t *testing.T) {
		got := fires(t, "at(2024-07-01T09:00:00)", "2024-01-01T00:00:00Z", 1)
		if want := utc("2024-07-01T07:00:00Z"); !got[0].Equal(want) {
			t.Errorf("fire = %s, want %s", got[0].UTC().Format(time.RFC3339), want.Format(time.RFC3339))
		}
	})
	t.Run("rate() ignores the zone", func(t *testing.T) {
		got := fires(t, "rate(1 hour)", "2024-03-31T00:30:00Z", 2)
		if !got[0].Equal(utc("2024-03-31T01:30:00Z")) || !got[1].Equal(utc("2024-03-31T02:30:00Z")) {
			t.Errorf("fires = %v, want hourly in absolute time", got)
		}
	})
}

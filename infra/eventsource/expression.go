package eventsource

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var ratePattern = regexp.MustCompile(`^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)$`)

// ParseRate parses an EventBridge rate expression, rate(value unit), where unit is minute,
// hour or day, singular exactly when value is 1, and returns the interval. A rate has no
// phase: each fire time is the previous one plus the interval. cron() and at() expressions
// are rejected: the template schedules only by rate, so the local stack emulates no more.
func ParseRate(expr string) (time.Duration, error) {
	m := ratePattern.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return 0, fmt.Errorf("schedule expression %q: want rate(value minute(s)|hour(s)|day(s)); cron() and at() are not emulated", expr)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > 36500 {
		return 0, fmt.Errorf("schedule expression %q: rate value is not an integer in 1..36500", expr)
	}
	unit := m[2]
	if plural := strings.HasSuffix(unit, "s"); plural != (n > 1) {
		return 0, fmt.Errorf("schedule expression %q: use the singular unit for 1 and the plural otherwise", expr)
	}
	d := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(unit, "s")]
	return time.Duration(n) * d, nil
}

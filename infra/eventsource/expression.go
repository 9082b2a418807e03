package eventsource

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Cron years EventBridge accepts.
const (
	minYear = 1970
	maxYear = 2199
)

// ParseExpression parses an EventBridge schedule expression evaluated in UTC; see
// [ParseExpressionIn].
func ParseExpression(expr string) (next func(time.Time) time.Time, err error) {
	return ParseExpressionIn(expr, time.UTC)
}

// ParseExpressionIn parses a schedule expression of EventBridge rules and EventBridge
// Scheduler, and returns the function that computes, from a time t, the first fire time
// strictly after t, or the zero time when there is none. loc is the time zone cron() and at()
// are evaluated in (ScheduleExpressionTimezone); nil means UTC.
//
//   - rate(value unit): unit is minute, hour or day, singular exactly when value is 1. A rate
//     has no phase: next(t) is t plus the rate, so the caller chains fire times from a start.
//   - cron(minutes hours day-of-month month day-of-week year), to the minute. Every field
//     takes *, numbers, ranges (a-b), steps (*/n, a/n, a-b/n) and lists of those; months
//     and days of the week also take names (JAN-DEC, SUN-SAT; day-of-week 1 is Sunday). One
//     of day-of-month and day-of-week must be ?, the other is the day condition.
//     Day-of-month also takes L (last day), LW (last weekday) and nW (the weekday nearest to
//     day n, within the month); day-of-week takes nL (last such day of the month) and n#k
//     (the k-th such day of the month), each alone in its field. Years run from 1970 to 2199.
//     A local time that a daylight-saving change skips fires at the instant Go's time.Date
//     maps it to; a repeated local time fires once.
//   - at(yyyy-mm-ddThh:mm:ss): once, at that local time.
func ParseExpressionIn(expr string, loc *time.Location) (next func(time.Time) time.Time, err error) {
	if loc == nil {
		loc = time.UTC
	}
	expr = strings.TrimSpace(expr)
	open := strings.IndexByte(expr, '(')
	if open < 0 || !strings.HasSuffix(expr, ")") {
		return nil, fmt.Errorf("schedule expression %q: want rate(...), cron(...) or at(...)", expr)
	}
	kind, body := expr[:open], expr[open+1:len(expr)-1]
	switch kind {
	case "rate":
		d, err := parseRate(body)
		if err != nil {
			return nil, fmt.Errorf("schedule expression %q: %w", expr, err)
		}
		return func(t time.Time) time.Time { return t.Add(d) }, nil
	case "cron":
		c, err := parseCron(body)
		if err != nil {
			return nil, fmt.Errorf("schedule expression %q: %w", expr, err)
		}
		return func(t time.Time) time.Time { return c.next(t, loc) }, nil
	case "at":
		at, err := time.ParseInLocation("2006-01-02T15:04:05", strings.TrimSpace(body), loc)
		if err != nil {
			return nil, fmt.Errorf("schedule expression %q: at() wants yyyy-mm-ddThh:mm:ss", expr)
		}
		return func(t time.Time) time.Time {
			if at.After(t) {
				return at
			}
			return time.Time{}
		}, nil
	default:
		return nil, fmt.Errorf("schedule expression %q: want rate(...), cron(...) or at(...)", expr)
	}
}

var ratePattern = regexp.MustCompile(`^([0-9]+) (minute|minutes|hour|hours|day|days)$`)

func parseRate(body string) (time.Duration, error) {
	m := ratePattern.FindStringSubmatch(strings.TrimSpace(body))
	if m == nil {
		return 0, fmt.Errorf("rate() wants a positive integer and minute(s), hour(s) or day(s)")
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, fmt.Errorf("rate value %s is not a positive integer", m[1])
	}
	unit := m[2]
	if plural := strings.HasSuffix(unit, "s"); plural != (n > 1) {
		return 0, fmt.Errorf("rate unit %q: use the singular for 1 and the plural otherwise", unit)
	}
	d := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(unit, "s")]
	if n > int(maxRate/d) {
		return 0, fmt.Errorf("rate %d %s is longer than %d days", n, unit, maxRate/(24*time.Hour))
	}
	return time.Duration(n) * d, nil
}

// maxRate keeps a rate well inside time.Duration.
const maxRate = 100 * 365 * 24 * time.Hour

// cron is a parsed cron() expression. Each set holds the allowed values, indexed by value.
type cron struct {
	minutes, hours, months, years []bool
	// days is the day condition: day-of-month when dow is false, else day-of-week.
	dow bool
	// dom and weekdays are the plain sets; special is an L, W or # condition instead.
	dom, weekdays []bool
	special       func(y int, m time.Month, d int) bool
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(body string) (*cron, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron() wants 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	c := &cron{}
	var err error
	if c.minutes, err = parseField(f[0], "minutes", 0, 59, nil); err != nil {
		return nil, err
	}
	if c.hours, err = parseField(f[1], "hours", 0, 23, nil); err != nil {
		return nil, err
	}
	if c.months, err = parseField(f[3], "month", 1, 12, monthNames); err != nil {
		return nil, err
	}
	if c.years, err = parseField(f[5], "year", minYear, maxYear, nil); err != nil {
		return nil, err
	}
	dom, dow := strings.ToUpper(f[2]), strings.ToUpper(f[4])
	switch {
	case dom == "?" && dow == "?":
		return nil, fmt.Errorf("day-of-month and day-of-week cannot both be ?")
	case dom != "?" && dow != "?":
		return nil, fmt.Errorf("one of day-of-month and day-of-week must be ?")
	case dow == "?":
		if c.special, err = domSpecial(dom); err != nil {
			return nil, err
		}
		if c.special == nil {
			if c.dom, err = parseField(dom, "day-of-month", 1, 31, nil); err != nil {
				return nil, err
			}
		}
	default:
		c.dow = true
		if c.special, err = dowSpecial(dow); err != nil {
			return nil, err
		}
		if c.special == nil {
			if c.weekdays, err = parseField(dow, "day-of-week", 1, 7, dayNames); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// parseField parses a list of *, values, ranges and steps into the set of allowed values.
func parseField(field, name string, lo, hi int, names map[string]int) ([]bool, error) {
	set := make([]bool, hi+1)
	for part := range strings.SplitSeq(field, ",") {
		if err := parsePart(set, strings.ToUpper(part), lo, hi, names); err != nil {
			return nil, fmt.Errorf("%s field %q: %w", name, field, err)
		}
	}
	return set, nil
}

func parsePart(set []bool, part string, lo, hi int, names map[string]int) error {
	rng, stepStr, hasStep := strings.Cut(part, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepStr)
		if err != nil || n < 1 {
			return fmt.Errorf("step %q is not a positive integer", stepStr)
		}
		step = n
	}
	var from, to int
	switch {
	case rng == "*":
		from, to = lo, hi
	case strings.Contains(rng, "-"):
		a, b, _ := strings.Cut(rng, "-")
		var err error
		if from, err = value(a, lo, hi, names); err != nil {
			return err
		}
		if to, err = value(b, lo, hi, names); err != nil {
			return err
		}
		if from > to {
			return fmt.Errorf("range %s runs backwards", rng)
		}
	default:
		v, err := value(rng, lo, hi, names)
		if err != nil {
			return err
		}
		// "a/n" starts at a and steps to the end of the field; a plain value is itself.
		from, to = v, v
		if hasStep {
			to = hi
		}
	}
	for v := from; v <= to; v += step {
		set[v] = true
	}
	return nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[s]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a value", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is not between %d and %d", v, lo, hi)
	}
	return v, nil
}

var (
	nearestWeekdayPattern = regexp.MustCompile(`^([0-9]{1,2})W$`)
	lastWeekdayPattern    = regexp.MustCompile(`^([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)L$`)
	nthWeekdayPattern     = regexp.MustCompile(`^([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)#([1-5])$`)
)

// domSpecial parses day-of-month L, LW and nW; it returns nil for a plain field.
func domSpecial(f string) (func(int, time.Month, int) bool, error) {
	switch {
	case f == "L":
		return func(y int, m time.Month, d int) bool { return d == daysIn(y, m) }, nil
	case f == "LW":
		return func(y int, m time.Month, d int) bool { return d == nearestWeekday(y, m, daysIn(y, m)) }, nil
	case nearestWeekdayPattern.MatchString(f):
		n, _ := strconv.Atoi(nearestWeekdayPattern.FindStringSubmatch(f)[1])
		if n < 1 || n > 31 {
			return nil, fmt.Errorf("day-of-month %q: %d is not between 1 and 31", f, n)
		}
		return func(y int, m time.Month, d int) bool {
			return n <= daysIn(y, m) && d == nearestWeekday(y, m, n)
		}, nil
	case strings.ContainsAny(f, "LW#"):
		return nil, fmt.Errorf("day-of-month %q: L, LW and nW stand alone in the field", f)
	}
	return nil, nil
}

// dowSpecial parses day-of-week nL and n#k; it returns nil for a plain field.
func dowSpecial(f string) (func(int, time.Month, int) bool, error) {
	weekday := func(s string) time.Weekday {
		if v, ok := dayNames[s]; ok {
			return time.Weekday(v - 1)
		}
		v, _ := strconv.Atoi(s)
		return time.Weekday(v - 1)
	}
	switch {
	case lastWeekdayPattern.MatchString(f):
		wd := weekday(lastWeekdayPattern.FindStringSubmatch(f)[1])
		return func(y int, m time.Month, d int) bool {
			return date(y, m, d).Weekday() == wd && d+7 > daysIn(y, m)
		}, nil
	case nthWeekdayPattern.MatchString(f):
		sub := nthWeekdayPattern.FindStringSubmatch(f)
		wd := weekday(sub[1])
		k, _ := strconv.Atoi(sub[2])
		return func(y int, m time.Month, d int) bool {
			return date(y, m, d).Weekday() == wd && (d-1)/7+1 == k
		}, nil
	case strings.ContainsAny(f, "L#") || strings.HasSuffix(f, "W"):
		return nil, fmt.Errorf("day-of-week %q: use nL or n#k, alone in the field", f)
	}
	return nil, nil
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func daysIn(y int, m time.Month) int { return date(y, m+1, 0).Day() }

// nearestWeekday is the weekday (Monday to Friday) nearest to day n of the month, not
// leaving the month: Saturday moves to Friday, Sunday to Monday, unless that crosses the
// month's start or end, when it moves two days the other way.
func nearestWeekday(y int, m time.Month, n int) int {
	last := daysIn(y, m)
	switch date(y, m, n).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

func (c *cron) day(y int, m time.Month, d int) bool {
	switch {
	case c.special != nil:
		return c.special(y, m, d)
	case c.dow:
		return c.weekdays[int(date(y, m, d).Weekday())+1]
	default:
		return c.dom[d]
	}
}

// next returns the first time after t whose wall clock in loc matches c, or the zero time.
func (c *cron) next(t time.Time, loc *time.Location) time.Time {
	// Search wall-clock fields, then map them to an instant. A wall time that maps to an
	// instant not after t (a repeated hour when clocks go back) is skipped.
	w := t.In(loc)
	from := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, time.UTC).Add(time.Minute)
	for range 1000 {
		wall, ok := c.nextWall(from)
		if !ok {
			return time.Time{}
		}
		at := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
		if at.After(t) {
			return at
		}
		from = wall.Add(time.Minute)
	}
	return time.Time{}
}

// nextWall returns the first wall-clock minute at or after from (a UTC-coded wall time)
// that matches c.
func (c *cron) nextWall(from time.Time) (time.Time, bool) {
	y0, mo0, d0, h0, mi0 := from.Year(), from.Month(), from.Day(), from.Hour(), from.Minute()
	for y := max(y0, minYear); y <= maxYear; y++ {
		if !c.years[y] {
			continue
		}
		sameY := y == y0
		for mo := time.January; mo <= time.December; mo++ {
			if (sameY && mo < mo0) || !c.months[mo] {
				continue
			}
			sameM := sameY && mo == mo0
			for d := 1; d <= daysIn(y, mo); d++ {
				if (sameM && d < d0) || !c.day(y, mo, d) {
					continue
				}
				sameD := sameM && d == d0
				for h := 0; h < 24; h++ {
					if (sameD && h < h0) || !c.hours[h] {
						continue
					}
					sameH := sameD && h == h0
					for mi := 0; mi < 60; mi++ {
						if (sameH && mi < mi0) || !c.minutes[mi] {
							continue
						}
						return time.Date(y, mo, d, h, mi, 0, 0, time.UTC), true
					}
				}
			}
		}
	}
	return time.Time{}, false
}

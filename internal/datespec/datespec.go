// Package datespec parses the dates people type on the command line:
// ISO dates, RFC 3339 timestamps, "now", "today", "yesterday" and relative
// forms such as "7 days ago", "1 hour ago" or the compact "7d" and "24h".
//
// Every form is resolved against a reference time passed in by the caller
// (normally time.Now()), so parsing is deterministic and testable.
package datespec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("unrecognised date")

// Accepted describes the accepted forms, for error messages and help text.
const Accepted = `an ISO date (2024-01-01), an RFC 3339 timestamp (2024-01-01T15:04:05Z), ` +
	`"now", "today", "yesterday", or a relative form ("7 days ago", "1 hour ago", ` +
	`"30 minutes ago", "2 weeks ago", "3 months ago", "1 year ago", "7d", "24h")`

// maxAmount bounds the number in a relative form; anything larger lands
// outside the years a record can carry anyway.
const maxAmount = 1_000_000

// unit is one relative time unit: either a fixed duration (hours and
// shorter) or a calendar step (days and longer, which follow the calendar
// across daylight-saving changes).
type unit struct {
	d                   time.Duration
	years, months, days int
}

// units maps every accepted spelling to its unit. Compact forms use the
// short spellings: s, m (minutes), h, d, w, mo, y.
var units = map[string]unit{
	"s": {d: time.Second}, "sec": {d: time.Second}, "secs": {d: time.Second},
	"second": {d: time.Second}, "seconds": {d: time.Second},
	"m": {d: time.Minute}, "min": {d: time.Minute}, "mins": {d: time.Minute},
	"minute": {d: time.Minute}, "minutes": {d: time.Minute},
	"h": {d: time.Hour}, "hr": {d: time.Hour}, "hrs": {d: time.Hour},
	"hour": {d: time.Hour}, "hours": {d: time.Hour},
	"d": {days: 1}, "day": {days: 1}, "days": {days: 1},
	"w": {days: 7}, "wk": {days: 7}, "wks": {days: 7}, "week": {days: 7}, "weeks": {days: 7},
	"mo": {months: 1}, "month": {months: 1}, "months": {months: 1},
	"y": {years: 1}, "yr": {years: 1}, "yrs": {years: 1}, "year": {years: 1}, "years": {years: 1},
}

// Parse returns the instant s names, relative to now. Dates without a time
// zone (ISO dates, "today", "yesterday") are taken in now's location and
// mean midnight at the start of that day. Relative forms count back from
// now: hours, minutes and seconds as exact durations, days, weeks, months
// and years as calendar steps. The word "ago" is optional; "a" and "an"
// stand for one ("an hour ago").
func Parse(s string, now time.Time) (time.Time, error) {
	in := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if in == "" {
		return time.Time{}, fail(s, "it is empty")
	}
	switch in {
	case "now":
		return now, nil
	case "today":
		return midnight(now), nil
	case "yesterday":
		return midnight(now).AddDate(0, 0, -1), nil
	}
	if len(in) > 0 && in[0] >= '0' && in[0] <= '9' && strings.Contains(in, "-") {
		return absolute(s, strings.TrimSpace(s), now)
	}
	return relative(s, in, now)
}

// absolute parses the ISO and RFC 3339 forms.
func absolute(orig, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); err == nil {
		return checkYear(orig, t)
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, strings.ToUpper(s), now.Location()); err == nil {
			return checkYear(orig, t)
		}
	}
	// Say what is wrong with something that looks like a date.
	if _, err := time.Parse("2006-01-02", s); err != nil && len(s) == len("2006-01-02") {
		return time.Time{}, fail(orig, "not a valid calendar date")
	}
	return time.Time{}, fail(orig, "")
}

// relative parses "N unit [ago]", "a unit ago" and the compact "Nunit".
func relative(orig, in string, now time.Time) (time.Time, error) {
	words := strings.Fields(in)
	if n := len(words); n > 1 && words[n-1] == "ago" {
		words = words[:n-1]
	}
	var num, name string
	switch len(words) {
	case 1: // compact: 7d, 24h, 30m, 2w, 3mo, 1y
		w := words[0]
		i := 0
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
		}
		num, name = w[:i], w[i:]
	case 2:
		num, name = words[0], words[1]
		if num == "a" || num == "an" {
			num = "1"
		}
	default:
		return time.Time{}, fail(orig, "")
	}
	u, ok := units[name]
	if num == "" || !ok {
		return time.Time{}, fail(orig, "")
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return time.Time{}, fail(orig, "")
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n > maxAmount {
		return time.Time{}, fail(orig, fmt.Sprintf("the number is larger than %d", maxAmount))
	}
	var t time.Time
	if u.d != 0 {
		t = now.Add(-time.Duration(n) * u.d)
	} else {
		t = now.AddDate(-n*u.years, -n*u.months, -n*u.days)
	}
	return checkYear(orig, t)
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

func checkYear(orig string, t time.Time) (time.Time, error) {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, fail(orig, fmt.Sprintf("year %d is out of range", y))
	}
	return t, nil
}

func fail(s, why string) error {
	if why != "" {
		why = " (" + why + ")"
	}
	return fmt.Errorf("%w %q%s: want %s", ErrSyntax, s, why, Accepted)
}

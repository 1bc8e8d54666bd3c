package log

import (
	"math"
	"strings"
	"time"
)

// parseTimestamp reads a timestamp at the start of s:
//
//	YYYY-MM-DD[T| ]HH:MM[:SS][(.|,)fraction][ ][Z | UTC | ±HH[:]MM | ±HH]
//
// It returns the instant in Unix nanoseconds, the number of bytes read, and
// whether the timestamp had no zone (it is then taken in loc).
func parseTimestamp(s string, loc *time.Location) (ns int64, n int, naive, ok bool) {
	if len(s) < 16 {
		return 0, 0, false, false
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ' && s[10] != 't') {
		return 0, 0, false, false
	}
	hour, ok4 := digits(s, 11, 2)
	minute, ok5 := digits(s, 14, 2)
	if !ok4 || !ok5 || s[13] != ':' {
		return 0, 0, false, false
	}
	i := 16
	sec := 0
	if len(s) >= 19 && s[16] == ':' {
		v, ok := digits(s, 17, 2)
		if !ok {
			return 0, 0, false, false
		}
		sec, i = v, 19
	}
	nsec := 0
	if i+1 < len(s) && (s[i] == '.' || s[i] == ',') && isDigit(s[i+1]) {
		i++
		scale := 100_000_000
		for i < len(s) && isDigit(s[i]) {
			nsec += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return 0, 0, false, false
	}
	if day > 28 && day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return 0, 0, false, false // 31 February
	}
	if sec == 60 { // a leap second is read as the last second of the minute
		sec, nsec = 59, 999_999_999
	}
	// zone
	offset, zoned := 0, false
	j := i
	if j < len(s) && s[j] == ' ' {
		j++
	}
	switch {
	case j < len(s) && (s[j] == 'Z' || s[j] == 'z'):
		zoned, i = true, j+1
	case strings.HasPrefix(s[j:], "UTC") || strings.HasPrefix(s[j:], "GMT"):
		zoned, i = true, j+3
	case j+2 < len(s) && (s[j] == '+' || s[j] == '-') && isDigit(s[j+1]) && isDigit(s[j+2]):
		h, _ := digits(s, j+1, 2)
		k := j + 3
		m := 0
		if k < len(s) && s[k] == ':' {
			k++
		}
		if v, ok := digits(s, k, 2); ok {
			m, k = v, k+2
		} else if s[k-1] == ':' {
			k-- // "+01:" is not an offset with minutes
		}
		if h > 14 || m > 59 {
			return 0, 0, false, false
		}
		offset = (h*60 + m) * 60
		if s[j] == '-' {
			offset = -offset
		}
		zoned, i = true, k
	}
	if i < len(s) && isWordByte(s[i]) {
		return 0, 0, false, false // "10:00:00abc" is not a timestamp
	}
	var t time.Time
	if zoned {
		t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	} else {
		t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return 0, 0, false, false // beyond what int64 nanoseconds hold
	}
	return t.UnixNano(), i, !zoned, true
}

// layouts are the other timestamp shapes accepted as whole values (JSON
// and logfmt fields).
var layouts = []string{
	time.RFC1123Z, time.RFC1123, time.RFC850, time.ANSIC, time.UnixDate,
	"02/Jan/2006:15:04:05 -0700", // common log format
}

// parseTimeValue reads a timestamp field value: the ISO form above, one of
// layouts, or a number of seconds, milliseconds, microseconds or
// nanoseconds since 1970 (chosen by magnitude).
func parseTimeValue(s string, loc *time.Location) (ns int64, naive, ok bool) {
	s = strings.TrimSpace(s)
	if ns, n, naive, ok := parseTimestamp(s, loc); ok && n == len(s) {
		return ns, naive, true
	}
	if len(s) > 0 && isDigit(s[0]) {
		if ns, ok := epochString(s); ok {
			return ns, false, true
		}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			if y := t.Year(); y < 1678 || y > 2261 {
				return 0, false, false
			}
			return t.UnixNano(), false, true
		}
	}
	return 0, false, false
}

// epoch turns a number since 1970 into nanoseconds, reading its unit from
// its magnitude: below 1e11 seconds, below 1e14 milliseconds, below 1e17
// microseconds, else nanoseconds.
func epoch(v float64) (int64, bool) {
	if !(v > 0) || math.IsInf(v, 0) {
		return 0, false
	}
	var ns float64
	switch {
	case v < 1e11:
		ns = v * 1e9
	case v < 1e14:
		ns = v * 1e6
	case v < 1e17:
		ns = v * 1e3
	default:
		ns = v
	}
	if ns >= math.MaxInt64 {
		return 0, false
	}
	// a float carries about 16 digits: keep microseconds, drop the noise
	return int64(math.Round(ns/1e3)) * 1e3, true
}

// epochString reads a number since 1970 as epoch does, exactly when it is
// written without an exponent.
func epochString(s string) (int64, bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) == 0 || len(intPart) > 19 || !allDigits(intPart) || (hasFrac && (frac == "" || !allDigits(frac))) {
		if v, ok := parseNumber(s); ok {
			return epoch(v)
		}
		return 0, false
	}
	var n int64
	for i := 0; i < len(intPart); i++ {
		n = n*10 + int64(intPart[i]-'0')
	}
	var unit int64
	switch {
	case n <= 0:
		return 0, false
	case n < 1e11:
		unit = 1e9
	case n < 1e14:
		unit = 1e6
	case n < 1e17:
		unit = 1e3
	default:
		unit = 1
	}
	if n > (1<<63-1)/unit {
		return 0, false
	}
	ns := n * unit
	scale := unit / 10
	for i := 0; i < len(frac) && scale > 0; i++ {
		ns += int64(frac[i]-'0') * scale
		scale /= 10
	}
	return ns, true
}

// parseNumber reads a plain decimal number (digits, an optional fraction
// and exponent).
func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > 40 {
		return 0, false
	}
	var mant float64
	i := 0
	for i < len(s) && isDigit(s[i]) {
		mant = mant*10 + float64(s[i]-'0')
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		scale := 0.1
		for i < len(s) && isDigit(s[i]) {
			mant += float64(s[i]-'0') * scale
			scale /= 10
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		e, start := 0, i
		for i < len(s) && isDigit(s[i]) && e < 400 {
			e = e*10 + int(s[i]-'0')
			i++
		}
		if i == start {
			return 0, false
		}
		if neg {
			e = -e
		}
		mant *= math.Pow10(e)
	}
	return mant, i == len(s)
}

func digits(s string, at, n int) (int, bool) {
	if at+n > len(s) {
		return 0, false
	}
	v := 0
	for i := at; i < at+n; i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// Package canonical writes RFC 8785 (JSON Canonicalization Scheme) bytes.
//
// The byte form of every record hash in ami-audit is the canonical JSON this
// package produces: object members sorted by the UTF-16 code units of their
// names, no insignificant white space, strings with the minimal escaping of
// ECMAScript's JSON.stringify, and numbers in ECMAScript's Number.toString
// form. Any language with an RFC 8785 implementation reproduces the bytes.
//
// The encoder is written for speed on the hot path (hashing a million records
// a second): callers append to a byte slice they own and reuse.
package canonical

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxSafeInteger is the largest integer every JSON implementation represents
// exactly (2^53-1). Integers beyond it are refused: RFC 8785 numbers are IEEE
// doubles, so a larger integer would not survive a round trip through another
// language. Store such values as strings.
const MaxSafeInteger = 1<<53 - 1

// Errors returned for values that have no canonical form.
var (
	ErrInvalidUTF8 = errors.New("string is not valid UTF-8")
	ErrNumber      = errors.New("number has no JSON form (NaN or infinity)")
	ErrUnsafeInt   = errors.New("integer is beyond ±2^53-1 and cannot be represented exactly; store it as a string")
	ErrType        = errors.New("value has no JSON form")
	ErrDepth       = errors.New("value nested deeper than 64 levels")
	ErrDuplicate   = errors.New("duplicate member name")
	ErrSurrogate   = errors.New("string holds a lone UTF-16 surrogate escape")
	ErrTrailing    = errors.New("unexpected data after the JSON value")
)

const maxDepth = 64

// AppendString appends s as a canonical JSON string.
func AppendString(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return dst, ErrInvalidUTF8
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// AppendFloat appends f in ECMAScript Number.prototype.toString form.
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, ErrNumber
	}
	if f == 0 {
		return append(dst, '0'), nil
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-trip digits and exponent: d.ddddde±x.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	mant, exp := e, 0
	for i, c := range e {
		if c == 'e' {
			mant = e[:i]
			x, _ := strconv.Atoi(string(e[i+1:]))
			exp = x
			break
		}
	}
	var digits [24]byte
	d := digits[:0]
	for _, c := range mant {
		if c != '.' {
			d = append(d, c)
		}
	}
	k, n := len(d), exp+1 // value = 0.d × 10^n
	switch {
	case k <= n && n <= 21:
		dst = append(dst, d...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, d[:n]...)
		dst = append(dst, '.')
		dst = append(dst, d[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	default:
		dst = append(dst, d[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst, nil
}

// AppendInt appends an integer, refusing one outside ±(2^53-1).
func AppendInt(dst []byte, i int64) ([]byte, error) {
	if i > MaxSafeInteger || i < -MaxSafeInteger {
		return dst, ErrUnsafeInt
	}
	return strconv.AppendInt(dst, i, 10), nil
}

// AppendUint appends an unsigned integer, refusing one beyond 2^53-1.
func AppendUint(dst []byte, u uint64) ([]byte, error) {
	if u > MaxSafeInteger {
		return dst, ErrUnsafeInt
	}
	return strconv.AppendUint(dst, u, 10), nil
}

// Less reports whether object member name a sorts before b in RFC 8785
// order: by UTF-16 code units, which differs from Go's byte order only when
// characters beyond U+FFFF meet characters in U+E000–U+FFFF.
func Less(a, b string) bool { return Compare(a, b) < 0 }

// Compare orders member names by UTF-16 code units.
func Compare(a, b string) int {
	if isASCII(a) || isASCII(b) {
		// Byte order equals code point order, and a code point order
		// difference against an ASCII character is the same in UTF-16.
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// AppendValue appends any JSON-like Go value in canonical form: nil, bool,
// string, numbers, json.Number, json.RawMessage, map[string]T, []T and
// anything else encoding/json can marshal (through a slower path).
func AppendValue(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

// Marshal returns the canonical form of v.
func Marshal(v any) ([]byte, error) { return AppendValue(nil, v) }

// Transform re-encodes the JSON text b in canonical form.
func Transform(b []byte) ([]byte, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	return AppendValue(nil, v)
}

// hex4 reads four hex digits, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, ErrDepth
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return AppendString(dst, x)
	case float64:
		return AppendFloat(dst, x)
	case float32:
		return AppendFloat(dst, float64(x))
	case int:
		return AppendInt(dst, int64(x))
	case int8:
		return AppendInt(dst, int64(x))
	case int16:
		return AppendInt(dst, int64(x))
	case int32:
		return AppendInt(dst, int64(x))
	case int64:
		return AppendInt(dst, x)
	case uint:
		return AppendUint(dst, uint64(x))
	case uint8:
		return AppendUint(dst, uint64(x))
	case uint16:
		return AppendUint(dst, uint64(x))
	case uint32:
		return AppendUint(dst, uint64(x))
	case uint64:
		return AppendUint(dst, x)
	case json.Number:
		return appendNumber(dst, x)
	case json.RawMessage:
		inner, err := Decode(x)
		if err != nil {
			return dst, err
		}
		return appendValue(dst, inner, depth)
	case map[string]any:
		return appendMap(dst, x, depth)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return appendMap(dst, m, depth)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendString(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return appendReflect(dst, v, depth)
}

// appendReflect handles values of other types by a round trip through
// encoding/json: struct tags and Marshaler implementations are honoured.
func appendReflect(dst []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Func, reflect.Chan, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return dst, fmt.Errorf("%w: %T", ErrType, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("%w: %T: %v", ErrType, v, err)
	}
	inner, err := Decode(b)
	if err != nil {
		return dst, err
	}
	return appendValue(dst, inner, depth)
}

func appendNumber(dst []byte, n json.Number) ([]byte, error) {
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= -MaxSafeInteger && i <= MaxSafeInteger {
		return strconv.AppendInt(dst, i, 10), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return dst, fmt.Errorf("number %q: %w", s, ErrNumber)
	}
	if isIntegerLiteral(s) {
		// Beyond ±(2^53-1) an integer literal is accepted only when it is
		// exactly how AppendFloat writes its double: the canonical form of a
		// large integer-valued double reads back unchanged, and any other
		// integer would silently lose digits.
		c, err := AppendFloat(nil, f)
		if err != nil || string(c) != s {
			return dst, ErrUnsafeInt
		}
		return append(dst, c...), nil
	}
	return AppendFloat(dst, f)
}

func isIntegerLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	var buf [32]string // most objects: no allocation
	keys := buf[:0]
	ascii := true
	for k := range m {
		keys = append(keys, k)
		ascii = ascii && isASCII(k)
	}
	if ascii {
		slices.Sort(keys) // byte order is Compare's order for ASCII
	} else {
		slices.SortFunc(keys, Compare)
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = AppendString(dst, k); err != nil {
			return dst, fmt.Errorf("member name: %w", err)
		}
		dst = append(dst, ':')
		if dst, err = appendValue(dst, m[k], depth+1); err != nil {
			return dst, fmt.Errorf("%s: %w", k, err)
		}
	}
	return append(dst, '}'), nil
}

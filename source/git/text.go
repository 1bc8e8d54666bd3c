package git

import (
	"strings"
	"unicode/utf8"
)

// Escape returns s unchanged when it is valid UTF-8. Otherwise it returns
// a lossless escaped form and true: each backslash is doubled and each byte
// that is not part of a valid UTF-8 sequence is written \xHH. Unescape
// reverses it. Records put the escaped form in the field and set
// "<field>_escaped": true beside it.
func Escape(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, false
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&15])
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String(), true
}

// Unescape reverses Escape for a string that was escaped.
func Unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case s[i+1] == 'x' && i+3 < len(s) && isHexDigit(s[i+2]) && isHexDigit(s[i+3]):
			b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 3
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func isHexDigit(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// putText sets m[key] to s, escaped when needed, with m[key+"_escaped"].
func putText(m map[string]any, key, s string) {
	v, esc := Escape(s)
	m[key] = v
	if esc {
		m[key+"_escaped"] = true
	}
}

// safeText returns s as valid UTF-8 for places that take no flag (an
// actor, a target): escaped when needed.
func safeText(s string) string {
	v, _ := Escape(s)
	return v
}

package postgres

import (
	"bytes"
	"errors"
)

var errBody = errors.New("stored body is not a JSON object")

// topLevel calls fn with each member of the JSON object b, giving the key
// (without quotes, escapes kept) and the raw value. It does not decode the
// values, so reading a few fields of a body costs one pass over it.
func topLevel(b []byte, fn func(key, raw []byte)) error {
	if len(b) < 2 || b[0] != '{' {
		return errBody
	}
	i := 1
	for i < len(b) {
		if b[i] == '}' {
			return nil
		}
		if b[i] != '"' {
			return errBody
		}
		end := skipString(b, i)
		if end < 0 || end >= len(b) || b[end] != ':' {
			return errBody
		}
		key := b[i+1 : end-1]
		vend := skipValue(b, end+1)
		if vend < 0 {
			return errBody
		}
		fn(key, b[end+1:vend])
		i = vend
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
	return errBody
}

// skipString returns the index just past the string starting at b[i] == '"',
// or -1.
func skipString(b []byte, i int) int {
	i++
	for {
		if i > len(b) {
			return -1
		}
		j := bytes.IndexAny(b[i:], "\"\\")
		if j < 0 {
			return -1
		}
		i += j
		if b[i] == '"' {
			return i + 1
		}
		i += 2
	}
}

// skipValue returns the index just past the JSON value starting at b[i], or
// -1 when it is malformed or unterminated.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
				if depth > 10000 {
					return -1
				}
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// jsonText makes canonical JSON acceptable to jsonb, which refuses the
// escaped NUL character: \u0000 becomes U+FFFD in the query copy. The
// body keeps the exact bytes.
func jsonText(raw []byte) []byte {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return raw
	}
	return bytes.ReplaceAll(raw, []byte(`\u0000`), []byte(`\ufffd`))
}

// text makes a string acceptable to a text column, which refuses NUL.
func text(s string) string {
	if !containsNUL(s) {
		return s
	}
	return string(bytes.ReplaceAll([]byte(s), []byte{0}, []byte("\uFFFD")))
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

package file

import (
	"strconv"
	"unicode/utf8"
)

// Record text must be valid UTF-8, and a file name may be any bytes but
// NUL and '/'. A path that is not valid UTF-8, that holds control
// characters (a newline, a tab, an escape) or a backslash is written in
// its escaped form:
// the body of a Go (and, for these characters, JSON) quoted string, as
// strconv.Quote gives it without the outer quotes. The record says so with
// "path_escaped": true in its context, and UnescapePath gives the exact
// bytes back. Paths that need no escaping are written as they are.
//
// Escaping is one to one: a path written as it is holds no backslash, and
// every escaped form holds one, so two names never share a target (the
// name a\nb with a real backslash is escaped to a\\nb, the name with a
// newline to a\nb).

// escapePath returns the record form of p and whether it is escaped.
func escapePath(p string) (string, bool) {
	if !needsEscape(p) {
		return p, false
	}
	q := strconv.Quote(p)
	return q[1 : len(q)-1], true
}

// needsEscape reports whether p is invalid UTF-8 or holds a control
// character or a backslash.
func needsEscape(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return true
		}
		if c >= utf8.RuneSelf {
			return !utf8.ValidString(p[i:]) || hasC1(p[i:])
		}
	}
	return false
}

// oddName reports whether p needs escaping for more than a backslash:
// invalid UTF-8 or a control character, which deserve a warning.
func oddName(p string) bool {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return !utf8.ValidString(p) || hasC1(p)
}

// hasC1 reports whether s holds a C1 control character (U+0080–U+009F),
// which terminals interpret.
func hasC1(s string) bool {
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			return true
		}
	}
	return false
}

// UnescapePath returns the file path a record names: target itself, or,
// when the record's context says "path_escaped": true, the bytes its
// escaped form stands for.
func UnescapePath(target string, escaped bool) (string, error) {
	if !escaped {
		return target, nil
	}
	return strconv.Unquote(`"` + target + `"`)
}

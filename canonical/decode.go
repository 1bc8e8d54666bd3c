package canonical

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError is JSON text that does not parse, with the byte offset
// where it stopped.
type SyntaxError struct {
	Offset int64 // bytes read before the error
	msg    string
}

func (e *SyntaxError) Error() string { return e.msg }

// Decode parses JSON text keeping numbers exact (json.Number), so that
// canonical re-encoding does not depend on Go's float formatting of the
// input. It is strict where encoding/json is lenient and RFC 8785 (I-JSON,
// RFC 7493) is not: invalid UTF-8 (ErrInvalidUTF8), lone surrogate escapes
// (ErrSurrogate), duplicate member names (ErrDuplicate) and nesting deeper
// than 64 levels (ErrDepth) are errors, as is anything after the value
// (ErrTrailing). Malformed text is a *SyntaxError; text that ends early
// wraps io.ErrUnexpectedEOF.
//
// Objects are map[string]any, arrays []any, strings string, numbers
// json.Number (their text), and true, false and null bool and nil.
func Decode(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, ErrInvalidUTF8
	}
	d := decoder{b: b}
	d.space()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.space()
	if d.i != len(d.b) {
		return nil, ErrTrailing
	}
	return v, nil
}

// decoder is a recursive-descent JSON parser over a byte slice.
type decoder struct {
	b []byte
	i int
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) syntax(what string) error {
	if d.i >= len(d.b) {
		return fmt.Errorf("unexpected end of JSON input: %w", io.ErrUnexpectedEOF)
	}
	return &SyntaxError{Offset: int64(d.i), msg: fmt.Sprintf("invalid character %s %s", quoteChar(d.b[d.i]), what)}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// value reads one value; depth counts the containers around it.
func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, ErrDepth
	}
	if d.i >= len(d.b) {
		return nil, d.syntax("")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.syntax("looking for beginning of value")
}

func (d *decoder) literal(word string) error {
	for j := 0; j < len(word); j++ {
		if d.i >= len(d.b) || d.b[d.i] != word[j] {
			return d.syntax("in literal " + word)
		}
		d.i++
	}
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.i++ // '{'
	m := map[string]any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.syntax("looking for beginning of object key string")
		}
		name, err := d.string()
		if err != nil {
			return nil, err
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("%w: %q", ErrDuplicate, name)
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.syntax("after object key")
		}
		d.i++
		d.space()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[name] = v
		if done, err := d.next('}', "after object key:value pair"); done || err != nil {
			return m, err
		}
	}
}

// next reads what follows a member or an element: a ',' (done is false)
// or the closing bracket (done is true).
func (d *decoder) next(close byte, what string) (done bool, err error) {
	d.space()
	switch {
	case d.i >= len(d.b):
		return false, d.syntax("")
	case d.b[d.i] == ',':
		d.i++
		d.space()
		return false, nil
	case d.b[d.i] == close:
		d.i++
		return true, nil
	}
	return false, d.syntax(what)
}

func (d *decoder) array(depth int) (any, error) {
	d.i++ // '['
	a := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := d.next(']', "after array element"); done || err != nil {
			return a, err
		}
	}
}

// number reads a number in JSON's grammar and returns its text.
func (d *decoder) number() (any, error) {
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case digits() == 0:
		return nil, d.syntax("in numeric literal")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.syntax("after decimal point in numeric literal")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.syntax("in exponent of numeric literal")
		}
	}
	return json.Number(d.b[start:d.i]), nil
}

// string reads a string, unescaping it. The input is valid UTF-8 (Decode
// checked); an escaped UTF-16 surrogate must be half of a pair.
func (d *decoder) string() (string, error) {
	d.i++ // '"'
	start := d.i
	// The common case: no escapes.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := string(d.b[start:d.i])
			d.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.syntax("in string literal")
		}
		d.i++
	}
	buf := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf), nil
		case c < 0x20:
			return "", d.syntax("in string literal")
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		d.i++ // '\\'
		if d.i >= len(d.b) {
			break
		}
		switch e := d.b[d.i]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4(d.i + 1)
			if !ok {
				return "", d.syntax("in \\u hexadecimal character escape")
			}
			d.i += 4
			if utf16.IsSurrogate(r) {
				lo, ok := rune(-1), false
				if r < 0xdc00 && d.i+6 < len(d.b) && d.b[d.i+1] == '\\' && d.b[d.i+2] == 'u' {
					lo, ok = d.hex4(d.i + 3)
				}
				if !ok || lo < 0xdc00 || lo >= 0xe000 {
					return "", ErrSurrogate
				}
				r = utf16.DecodeRune(r, lo)
				d.i += 6
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.syntax("in string escape code")
		}
		d.i++
	}
	return "", d.syntax("")
}

// hex4 reads the four hex digits at b[i:].
func (d *decoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.b) {
		return 0, false
	}
	r := hex4(d.b[i:])
	return r, r >= 0
}

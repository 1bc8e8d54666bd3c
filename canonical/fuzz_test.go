package canonical

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

var fuzzSeeds = []string{
	`null`, `true`, `-0`, `1E2`, `1e21`, `1e-7`, `5e-324`, `1.7976931348623157e308`, `0.000001`,
	`9007199254740991`, `9007199254740993`, `1.2345678901234568e20`, `333333333.33333329`,
	`"\u0000\u001f\u007f\u2028"`, `"\ud83d\ude00"`, `"\"\\\/"`, `"A\u030a"`,
	`{"\ue000":1,"\ud83d\ude00":2}`, `{"b":[1,{"d":null,"c":[]}],"a":"x"}`,
	`[56,{"d":true,"10":null,"1":[]}]`, `{"1":{"f":{"f":"hi","F":5},"\n":56.0},"10":{},"":"empty"}`,
	`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001]}`,
	` [ 1 , "a" , { } ] `, `[[[[[[[[[[[]]]]]]]]]]]`,
}

// FuzzCanonical compares Transform with the reference RFC 8785
// implementation (github.com/gowebpki/jcs) byte for byte, and checks that
// every output is canonical JSON that Transform maps to itself.
func FuzzCanonical(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, err := Transform(in)
		ref, refErr := jcs.Transform(in)
		if err != nil {
			// Refusals by design: integers a double cannot hold, nesting
			// beyond 64 levels, invalid UTF-8 (which the reference passes
			// through), duplicate member names and lone surrogates (which
			// RFC 8785's I-JSON forbids). Anything else the reference
			// accepts must be accepted.
			if refErr == nil && !errors.Is(err, ErrUnsafeInt) && !errors.Is(err, ErrDepth) && !errors.Is(err, ErrInvalidUTF8) &&
				!errors.Is(err, ErrDuplicate) && !errors.Is(err, ErrSurrogate) {
				t.Fatalf("Transform(%q) refused valid JSON: %v (reference gives %q)", in, err, ref)
			}
			return
		}
		if refErr == nil && string(ours) != string(ref) {
			t.Fatalf("Transform(%q)\n ours      %q\n reference %q", in, ours, ref)
		}
		if !json.Valid(ours) {
			t.Fatalf("Transform(%q) = %q, not valid JSON", in, ours)
		}
		again, err := Transform(ours)
		if err != nil || string(again) != string(ours) {
			t.Fatalf("Transform is not idempotent on %q: %q, %v", ours, again, err)
		}
	})
}

// FuzzNumber compares AppendFloat with the reference number formatting for
// every bit pattern, and checks that the text reads back as the same double.
func FuzzNumber(f *testing.F) {
	for _, c := range rfc8785Numbers {
		var u uint64
		for _, h := range c.bits {
			u = u<<4 | uint64(hexVal(byte(h)))
		}
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		ours, err := AppendFloat(nil, v)
		ref, refErr := jcs.NumberToJSON(v)
		if (err != nil) != (refErr != nil) {
			t.Fatalf("%x: ours %v, reference %v", bits, err, refErr)
		}
		if err != nil {
			return
		}
		if string(ours) != ref {
			t.Fatalf("%x: ours %q, reference %q", bits, ours, ref)
		}
		var back float64
		if err := json.Unmarshal(ours, &back); err != nil || (back != v && v != 0) {
			t.Fatalf("%x: %q reads back as %v (%v)", bits, ours, back, err)
		}
	})
}

func hexVal(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// FuzzCanonicalGenerated builds JSON documents from the fuzz input: objects
// whose member names mix ASCII, BMP, private-use and astral characters (so
// UTF-16 and code point order disagree), strings written raw or \u-escaped,
// numbers from arbitrary bit patterns in several textual forms. The
// canonical form must equal the reference implementation's.
func FuzzCanonicalGenerated(f *testing.F) {
	f.Add([]byte{6, 3, 3, 9, 12, 3, 10, 5, 1, 1, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, 0})
	f.Add([]byte{7, 4, 3, 1, 8, 4, 2, 9, 3, 6, 2, 5, 2, 0, 1, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4})
	f.Add([]byte("generated document seed with some entropy: 0123456789"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &docGen{data: data}
		var doc []byte
		doc = g.value(doc, 0)
		ours, err := Transform(doc)
		if err != nil {
			t.Fatalf("Transform(%s): %v", doc, err)
		}
		ref, err := jcs.Transform(doc)
		if err != nil {
			t.Fatalf("reference refused %s: %v", doc, err)
		}
		if string(ours) != string(ref) {
			t.Fatalf("Transform(%s)\n ours      %s\n reference %s", doc, ours, ref)
		}
	})
}

// docGen turns bytes into a JSON document.
type docGen struct{ data []byte }

func (g *docGen) next() byte {
	if len(g.data) == 0 {
		return 0
	}
	c := g.data[0]
	g.data = g.data[1:]
	return c
}

var genRunes = []rune{'a', 'b', 'B', '0', ' ', '"', '\\', '/', '\n', '\t', 0, 0x1f, 0x7f, 0xe9, 0x301, 0x20ac,
	0x2028, 0xe000, 0xfb33, 0xffff, 0x1f600, 0x1f602, 0x10ffff}

func (g *docGen) str(dst []byte) []byte {
	dst = append(dst, '"')
	for n := g.next() % 6; n > 0; n-- {
		c := g.next()
		r := genRunes[int(c)%len(genRunes)]
		switch {
		case c&0x80 != 0: // \u escape, as a surrogate pair beyond the BMP
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				dst = fmt.Appendf(dst, `\u%04x\u%04X`, hi, lo)
			} else {
				dst = fmt.Appendf(dst, `\u%04x`, r)
			}
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, r)
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

func (g *docGen) value(dst []byte, depth int) []byte {
	kind := g.next() % 8
	if depth >= 5 && kind >= 5 {
		kind = 2
	}
	switch kind {
	case 0:
		return append(dst, [...]string{"null", "true", "false"}[g.next()%3]...)
	case 1:
		var bits uint64
		for range 8 {
			bits = bits<<8 | uint64(g.next())
		}
		v := math.Float64frombits(bits)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0
		}
		return strconv.AppendFloat(dst, v, "geE"[g.next()%3], -1, 64)
	case 2:
		return strconv.AppendInt(dst, int64(int8(g.next()))*int64(g.next()), 10)
	case 3, 4:
		return g.str(dst)
	case 5:
		dst = append(dst, '[')
		for i := range int(g.next() % 5) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = g.value(dst, depth+1)
		}
		return append(dst, ']')
	}
	dst = append(dst, '{')
	seen := map[string]bool{}
	for range int(g.next() % 6) {
		key := g.str(nil)
		var name string
		if err := json.Unmarshal(key, &name); err != nil || seen[name] {
			continue
		}
		seen[name] = true
		if len(seen) > 1 {
			dst = append(dst, ',')
		}
		dst = append(dst, key...)
		dst = append(dst, ':')
		dst = g.value(dst, depth+1)
	}
	return append(dst, '}')
}

package canonical

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"
)

// decodeReference is the decoder Decode replaced, built on
// encoding/json's tokenizer: the differential fuzz test holds Decode to
// it.
// Decode parses JSON text keeping numbers exact (json.Number), so that
// canonical re-encoding does not depend on Go's float formatting of the input.
func decodeReference(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, ErrInvalidUTF8
	}
	if err := checkSurrogates(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := refValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrTrailing
	}
	return v, nil
}

// decodeValue reads one value, refusing duplicate member names (RFC 8785
// requires I-JSON, RFC 7493 §2.3).
func refValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, ErrDepth
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			name := k.(string)
			if _, dup := m[name]; dup {
				return nil, fmt.Errorf("%w: %q", ErrDuplicate, name)
			}
			if m[name], err = refValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		_, err := dec.Token() // '}'
		return m, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := refValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token() // ']'
		return a, err
	}
	return tok, nil // string, json.Number, bool or nil
}

// checkSurrogates refuses a \u escape of a UTF-16 surrogate that is not
// part of a pair, which encoding/json would silently turn into U+FFFD.
// Backslashes occur only inside strings, so b need not be parsed.
func checkSurrogates(b []byte) error {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] != 'u' {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		r := hex4(b[i+2:])
		i += 5
		switch {
		case r >= 0xdc00 && r < 0xe000:
			return ErrSurrogate
		case r >= 0xd800 && r < 0xdc00:
			if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
				if lo := hex4(b[i+3:]); lo >= 0xdc00 && lo < 0xe000 {
					i += 6
					continue
				}
			}
			return ErrSurrogate
		}
	}
	return nil
}

// FuzzDecode holds Decode to the tokenizer-based decoder it replaced: the
// same value for every input one accepts, and a refusal wherever the
// other refuses.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"a":1,"a":2}`, `"\ud800"`, `"\udc00\ud800"`, `"\ud83d x"`, `"\ud83d\u0041"`, `1]`, `{}}`, `{"a" 1}`,
		`[1,]`, `{"a":1,}`, `-`, `01`, `1.`, `1e`, `"\x"`, "\"a\x01\"", `tru`, `nul`, `[`, `{"a":`, `"\u12`, `  `, ``,
		`{"\u0041ction":"x"}`, `"\ud83d\ude00\ud83d"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Decode(in)
		want, refErr := decodeReference(in)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("Decode(%q) = %v, %v; the reference says %v, %v", in, got, err, want, refErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %#v, reference %#v", in, got, want)
		}
	})
}

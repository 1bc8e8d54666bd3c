package canonical

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/gowebpki/jcs"
)

// rfc8785Numbers is the number serialization table of RFC 8785 Appendix B:
// IEEE 754 bits and the ECMAScript text.
var rfc8785Numbers = []struct{ bits, want string }{
	{"0000000000000000", "0"},
	{"8000000000000000", "0"}, // minus zero
	{"0000000000000001", "5e-324"},
	{"8000000000000001", "-5e-324"},
	{"7fefffffffffffff", "1.7976931348623157e+308"},
	{"ffefffffffffffff", "-1.7976931348623157e+308"},
	{"4340000000000000", "9007199254740992"},
	{"c340000000000000", "-9007199254740992"},
	{"4430000000000000", "295147905179352830000"},
	{"44b52d02c7e14af5", "9.999999999999997e+22"},
	{"44b52d02c7e14af6", "1e+23"},
	{"44b52d02c7e14af7", "1.0000000000000001e+23"},
	{"444b1ae4d6e2ef4e", "999999999999999700000"},
	{"444b1ae4d6e2ef4f", "999999999999999900000"},
	{"444b1ae4d6e2ef50", "1e+21"},
	{"3eb0c6f7a0b5ed8c", "9.999999999999997e-7"},
	{"3eb0c6f7a0b5ed8d", "0.000001"},
	{"41b3de4355555553", "333333333.3333332"},
	{"41b3de4355555554", "333333333.33333325"},
	{"41b3de4355555555", "333333333.3333333"},
	{"41b3de4355555556", "333333333.3333334"},
	{"41b3de4355555557", "333333333.33333343"},
	{"becbf647612f3696", "-0.0000033333333333333333"},
	{"43143ff3c1cb0959", "1424953923781206.2"}, // round to even
}

func TestAppendFloatRFC8785Table(t *testing.T) {
	for _, c := range rfc8785Numbers {
		t.Run(c.bits, func(t *testing.T) {
			u, err := strconv.ParseUint(c.bits, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			f := math.Float64frombits(u)
			got, err := AppendFloat(nil, f)
			if err != nil || string(got) != c.want {
				t.Errorf("AppendFloat(%x) = %q, %v; want %q", u, got, err, c.want)
			}
			if ref, err := jcs.NumberToJSON(f); err != nil || ref != c.want {
				t.Errorf("reference NumberToJSON(%x) = %q, %v; want %q", u, ref, err, c.want)
			}
		})
	}
	for _, bits := range []uint64{0x7fffffffffffffff, 0x7ff0000000000000, 0xfff0000000000000} {
		if got, err := AppendFloat(nil, math.Float64frombits(bits)); !errors.Is(err, ErrNumber) {
			t.Errorf("AppendFloat(%x) = %q, %v; want ErrNumber", bits, got, err)
		}
	}
}

// TestAppendFloatMatchesReference compares the number formatting with the
// reference implementation over random bit patterns and over values near
// the format's boundaries (10^21, 10^-6, 2^53).
func TestAppendFloatMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(8785, 1))
	var vals []float64
	for range 50000 {
		vals = append(vals, math.Float64frombits(rng.Uint64()))
	}
	for _, edge := range []float64{1e21, 1e-6, 1e-7, 1 << 53, 1e20, 123456789012345680000, 0.1, 1.0 / 3} {
		f := edge
		for range 20 {
			vals = append(vals, f, -f)
			f = math.Nextafter(f, math.Inf(1))
		}
		f = edge
		for range 20 {
			f = math.Nextafter(f, 0)
			vals = append(vals, f)
		}
	}
	for _, f := range vals {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		got, err := AppendFloat(nil, f)
		ref, rerr := jcs.NumberToJSON(f)
		if err != nil || rerr != nil || string(got) != ref {
			t.Fatalf("%x: AppendFloat = %q (%v), reference = %q (%v)", math.Float64bits(f), got, err, ref, rerr)
		}
		// The text reads back as the same double.
		if back, err := strconv.ParseFloat(string(got), 64); err != nil || back != f && !(f == 0 && back == 0) {
			t.Fatalf("%q reads back as %v, want %v", got, back, f)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "abc", `"abc"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls in lowercase hex", "\x00\x01\x0b\x1f", `"\u0000\u0001\u000b\u001f"`},
		{"DEL is not escaped", "\x7f", "\"\x7f\""},
		{"slash is not escaped", "</script>", `"</script>"`},
		{"line separators are not escaped", "\u2028\u2029", "\"\u2028\u2029\""},
		{"beyond the BMP is written as UTF-8", "\U0001F600", "\"\U0001F600\""},
		{"no normalization", "A\u030a", "\"A\u030a\""},
		{"empty", "", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendString(nil, tt.in)
			if err != nil || string(got) != tt.want {
				t.Errorf("AppendString(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := AppendString(nil, "a\xffb"); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8: err = %v, want ErrInvalidUTF8", err)
	}
}

func TestCompareUTF16Order(t *testing.T) {
	// Sorted by UTF-16 code units. U+1F600 is the surrogate pair D83D DE00,
	// so it sorts before U+E000 although its code point is larger.
	want := []string{"", "1", "10", "A", "a", "aa", "\u00e9", "\u20ac", "\U0001F600", "\U0010FFFF", "\ue000", "\ufb33", "\uffff"}
	got := slices.Clone(want)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		slices.SortFunc(got, Compare)
		if !slices.Equal(got, want) {
			t.Fatalf("sorted = %q\nwant     %q", got, want)
		}
	}
	if Compare("x", "x") != 0 || !Less("\U0001F600", "\ue000") || Less("\ue000", "\U0001F600") {
		t.Error("Compare/Less disagree with UTF-16 order")
	}
}

func TestIntegerRange(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
		err  error
	}{
		{"max safe", int64(MaxSafeInteger), "9007199254740991", nil},
		{"min safe", int64(-MaxSafeInteger), "-9007199254740991", nil},
		{"2^53 int", int64(MaxSafeInteger + 1), "", ErrUnsafeInt},
		{"-2^53 int", int64(-MaxSafeInteger - 1), "", ErrUnsafeInt},
		{"uint beyond", uint64(1 << 60), "", ErrUnsafeInt},
		{"uint8", uint8(255), "255", nil},
		{"json.Number max safe", json.Number("9007199254740991"), "9007199254740991", nil},
		{"json.Number beyond", json.Number("9007199254740993"), "", ErrUnsafeInt},
		{"json.Number beyond int64", json.Number("123456789012345678901"), "", ErrUnsafeInt},
		{"json.Number float form of 2^53", json.Number("9.007199254740992e15"), "9007199254740992", nil},
		{"json.Number exponent", json.Number("1E2"), "100", nil},
		{"json.Number minus zero", json.Number("-0"), "0", nil},
		{"json.Number underflow", json.Number("1e-400"), "0", nil},
		{"json.Number overflow", json.Number("1e400"), "", ErrNumber},
		{"NaN", math.NaN(), "", ErrNumber},
		{"float32", float32(0.5), "0.5", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.v)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("Marshal(%v) = %q, %v; want error %v", tt.v, got, err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("Marshal(%v) = %q, %v; want %q", tt.v, got, err, tt.want)
			}
		})
	}
}

func TestMarshalGoValues(t *testing.T) {
	type inner struct {
		B string `json:"b"`
		A int    `json:"a"`
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, "null"},
		{"map sorted", map[string]any{"b": 1, "a": []any{true, false, nil}}, `{"a":[true,false,null],"b":1}`},
		{"map of strings", map[string]string{"z": "1", "\ue000": "2", "\U0001F600": "3"}, "{\"z\":\"1\",\"\U0001F600\":\"3\",\"\ue000\":\"2\"}"},
		{"string slice", []string{"x", "\n"}, `["x","\n"]`},
		{"struct through encoding/json", inner{B: "x", A: 2}, `{"a":2,"b":"x"}`},
		{"raw message re-canonicalized", json.RawMessage(`{ "b" : 1.50, "a" : "\u0041" }`), `{"a":"A","b":1.5}`},
		{"empty object and array", map[string]any{"o": map[string]any{}, "a": []any{}}, `{"a":[],"o":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.v)
			if err != nil || string(got) != tt.want {
				t.Errorf("Marshal = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	deep := map[string]any{}
	m := deep
	for range maxDepth + 2 {
		n := map[string]any{}
		m["x"] = n
		m = n
	}
	tests := []struct {
		name string
		v    any
		err  error
	}{
		{"too deep", deep, ErrDepth},
		{"function", func() {}, ErrType},
		{"channel", make(chan int), ErrType},
		{"invalid UTF-8 key", map[string]any{"\xff": 1}, ErrInvalidUTF8},
		{"invalid UTF-8 value", []any{"ok", "\xc3"}, ErrInvalidUTF8},
		{"infinity in a map", map[string]any{"x": math.Inf(1)}, ErrNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Marshal(tt.v); !errors.Is(err, tt.err) {
				t.Errorf("Marshal = %q, %v; want %v", got, err, tt.err)
			}
		})
	}
	for _, in := range []string{"", "{", `{"a":}`, "[1,]", "01", "\xff", `"a" "b"`, "NaN", `{"a":1}x`} {
		if got, err := Transform([]byte(in)); err == nil {
			t.Errorf("Transform(%q) = %q, want an error", in, got)
		}
	}
}

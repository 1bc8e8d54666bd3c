package ledger

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzMembers checks the member scanner against encoding/json: on any
// input it must not panic, and on a JSON object it must find exactly the
// members, with values that are the same JSON.
func FuzzMembers(f *testing.F) {
	b := build(f, 1, 0).rows[0].Body
	for _, seed := range []string{string(b), `{}`, `{"a":1}`, `{"a":"x\"y","b":[1,{"c":"}"}],"d":null}`, `{"a":`, `{"a"}`, `[1]`, `{"\\":"\\\\"}`, `{"a":1,}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got := map[string]json.RawMessage{}
		var keys []string
		err := Members(in, func(key, raw []byte) {
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) == nil {
				keys = append(keys, k)
				got[k] = append(json.RawMessage(nil), raw...)
			}
		})
		var want map[string]json.RawMessage
		if json.Unmarshal(in, &want) != nil || want == nil || !bytes.HasPrefix(in, []byte("{")) || bytes.ContainsAny(in, " \t\r\n") {
			return // only compact objects (canonical bodies) are specified
		}
		if err != nil {
			t.Fatalf("valid object %q: %v", in, err)
		}
		if len(keys) != len(want) && len(got) == len(keys) {
			t.Fatalf("%q: found %d members, want %d", in, len(keys), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("%q: member %q = %s, want %s", in, k, got[k], v)
			}
		}
	})
}

package canonical

import "testing"

func TestTransformStrictAndIdempotent(t *testing.T) {
	for _, in := range []string{`1]`, `{}}`, `{"a":1,"a":2}`, `"\ud800"`, `"\udc00\ud800"`, `"\ud83d x"`} {
		if got, err := Transform([]byte(in)); err == nil {
			t.Errorf("Transform(%s) = %s, want an error", in, got)
		}
	}
	for _, in := range []string{`9.007199254740992e15`, `1e20`, `9007199254740992`, `123456789012345680000`, `"\ud83d\ude00"`} {
		got, err := Transform([]byte(in))
		if err != nil {
			t.Errorf("Transform(%s): %v", in, err)
			continue
		}
		if again, err := Transform(got); err != nil || string(again) != string(got) {
			t.Errorf("%s does not read back: %v", got, err)
		}
	}
}

package secrets

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzMask: Find and Mask never panic, Find finds what the detector of
// all rules finds, Mask is idempotent, and what Mask returns holds no
// secret Find found (markers aside).
func FuzzMask(f *testing.F) {
	for _, p := range planted {
		f.Add(p.text)
	}
	for _, r := range ownRules {
		for _, ex := range r.True {
			f.Add(ex.Text)
		}
		for _, s := range r.False {
			f.Add(s)
		}
	}
	f.Add("password=[REDACTED password-assignment fp:0123abcd]x9y8z7")
	f.Add("postgres://u:[REDACTED url-credentials fp:0123abcd]@h/db")
	d := testDetector(f)
	f.Fuzz(func(t *testing.T, text string) {
		ms := d.Find(text)
		if all := d.find(text, d.finder()); !reflect.DeepEqual(all, ms) {
			t.Fatalf("Find(%q) = %+v, all rules find %+v", text, ms, all)
		}
		last := 0
		for _, m := range ms {
			if m.Start < last || m.End <= m.Start || m.End > len(text) {
				t.Fatalf("bad match %+v in %q", m, text)
			}
			last = m.End
		}
		masked := d.Mask(text)
		if again := d.Mask(masked); again != masked {
			t.Fatalf("not idempotent:\n in  %q\n out %q\n out2 %q", text, masked, again)
		}
		if len(ms) == 0 && masked != text {
			t.Fatalf("nothing found but %q masked to %q", text, masked)
		}
		pieces := markerRe.Split(masked, -1)
		for _, m := range ms {
			sec := text[m.Start:m.End]
			for _, p := range pieces {
				if strings.Contains(p, sec) {
					t.Fatalf("%q masked to %q still holds %q", text, masked, sec)
				}
			}
		}
	})
}

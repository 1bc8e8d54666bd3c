package plural

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Count(0, "file"), "0 files"},
		{Count(1, "file"), "1 file"},
		{Count(int64(2), "file"), "2 files"},
		{Count(uint64(1), "record"), "1 record"},
		{Count(-1, "line"), "-1 line"},
		{Count(3, "entry"), "3 entries"},
		{Count(1, "entry"), "1 entry"},
		{Count(2, "key"), "2 keys"},
		{Count(2, "match"), "2 matches"},
		{Count(2, "address"), "2 addresses"},
		{Count(2, "box"), "2 boxes"},
		{Count(2, "push"), "2 pushes"},
		{Count(2, "analysis", "analyses"), "2 analyses"},
		{Count(1, "analysis", "analyses"), "1 analysis"},
		{Noun(5, "commit"), "commits"},
		{Count(1, "record") + " " + Pick(1, "was", "were"), "1 record was"},
		{Count(0, "record") + " " + Pick(0, "was", "were"), "0 records were"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestSingularUndoesOf(t *testing.T) {
	for _, w := range []string{"file", "record", "commit", "line", "error", "entry", "match", "address", "box", "push", "key", "day", "pattern"} {
		if got := Singular(Of(w)); got != w {
			t.Errorf("Singular(Of(%q)) = %q (Of = %q)", w, got, Of(w))
		}
	}
	for _, w := range []string{"", "s", "less", "data"} {
		if got := Singular(w); got != w {
			t.Errorf("Singular(%q) = %q, want it unchanged", w, got)
		}
	}
}

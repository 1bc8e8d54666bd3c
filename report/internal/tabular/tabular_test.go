package tabular

import "testing"

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{1, "files", "1 file"},
		{1.001, "files", "1 file"},
		{2, "files", "2 files"},
		{0, "entries", "0 entries"},
		{1, "entries", "1 entry"},
		{1.5, "lines", "1.5 lines"},
		{-1, "commits", "-1 commit"},
		{3, "", "3"},
	} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

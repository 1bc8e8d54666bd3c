package terminal

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ami-orchestrator/ami-audit/report"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

func TestGolden(t *testing.T) {
	tests := []struct {
		file string
		opts Options
	}{
		{"sample.txt", Options{}},
		{"sample-colour.txt", Options{Colour: true}},
		{"sample-width60.txt", Options{Width: 60}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := New(tc.opts).Format(&buf, reporttest.Sample()); err != nil {
				t.Fatal(err)
			}
			reporttest.Golden(t, tc.file, buf.Bytes())
		})
	}
}

// Nothing a report holds reaches the terminal as a control character.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2J", "a\nb", "\u202eevil", "\xff\xfe", "\u0085", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := clean(s)
		if !utf8.ValidString(got) {
			t.Fatalf("clean(%q) = %q is not valid UTF-8", s, got)
		}
		if i := strings.IndexFunc(got, isControl); i >= 0 {
			t.Fatalf("clean(%q) = %q holds a control character at %d", s, got, i)
		}
	})
}

func TestFitWidth(t *testing.T) {
	var buf bytes.Buffer
	r := &report.Report{Title: "t", Sections: []report.Section{{
		Title: "s", Columns: []string{"path", "n"},
		Rows: [][]string{{strings.Repeat("very-long-directory/", 10) + "file.go", "1"}},
	}}}
	if err := New(Options{Width: 40}).Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if w := width.StringWidth(line); w > 40 {
			t.Errorf("line %q is %d columns wide, want at most 40", line, w)
		}
	}
	if !strings.Contains(buf.String(), "…") {
		t.Errorf("long cell not cut:\n%s", buf.String())
	}
}

package markdown

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample.md", buf.Bytes())
}

// Whatever a cell holds, it stays one cell on one line: no unescaped pipe,
// no newline, no raw HTML tag opener.
func FuzzInline(f *testing.F) {
	for _, s := range []string{"a|b", "x\ny", `back\|slash`, "<b>", "`code`", "snake_case", "_x_", "\x1b[31m", "\\", "é|\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := inline(s)
		if strings.ContainsAny(got, "\n\r") {
			t.Fatalf("inline(%q) = %q holds a line break", s, got)
		}
		for i := 0; i < len(got); i++ {
			if (got[i] == '|' || got[i] == '<' && !strings.HasPrefix(got[i:], "<br>")) && backslashes(got[:i])%2 == 0 {
				t.Fatalf("inline(%q) = %q: unescaped %q at %d", s, got, got[i], i)
			}
		}
	})
}

// backslashes counts the backslashes ending s.
func backslashes(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\\' {
		n++
	}
	return n
}

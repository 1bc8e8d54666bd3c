package banned

import (
	"os"
	"slices"
	"testing"
)

// naiveHits is the definition matchContent implements: every line (as
// indexLines splits them) against every pattern.
func naiveHits(content []byte, pats []*Pattern) []Hit {
	x := indexLines(content)
	var out []Hit
	for _, p := range pats {
		for ln := range x.starts {
			line := string(content[x.starts[ln]:x.ends[ln]])
			if col, ok, _ := p.MatchLine(line); ok {
				out = append(out, Hit{Pattern: p, Line: ln + 1, Column: col, Text: line})
			}
		}
	}
	return out
}

func sortHits(h []Hit) {
	slices.SortFunc(h, func(a, b Hit) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Pattern.Entry < b.Pattern.Entry {
			return -1
		}
		if a.Pattern.Entry > b.Pattern.Entry {
			return 1
		}
		return 0
	})
}

// FuzzMatchContent checks the one-pass matcher against the naive
// definition on any content.
func FuzzMatchContent(f *testing.F) {
	f.Add([]byte("x = fallback\r\nFALLBACK\rtcgetattr getattr\u2028fall\u2028back\fskip:"))
	f.Add([]byte("reason=\"will skip\"\n\xe2\x80\xa9uuid.uuid4(\x85—"))
	entries := []string{"fallback", "(?<!tc)getattr", "uuid.uuid4(", "if.*skip.*:", `reason=".*skip.*`, "—", `\bmock\b`, "a|b", "Ärger"}
	var pats []*Pattern
	for _, e := range entries {
		pats = append(pats, compile(e, KindGlobal, ""))
	}
	ps := newPatternSet(pats)
	f.Fuzz(func(t *testing.T, content []byte) {
		got, _ := matchContent(content, ps)
		want := naiveHits(content, pats)
		sortHits(got)
		sortHits(want)
		if len(got) != len(want) {
			t.Fatalf("%d hits, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Line != want[i].Line || got[i].Pattern != want[i].Pattern || got[i].Column != want[i].Column {
				t.Fatalf("hit %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("global_banned_words: [a, '(?<!x)b']\ndirectory_specific_banned_words: {tests: [skip]}\n"))
	f.Add([]byte("directory_specific_banned_words: {'': [x]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		p := dir + "/" + WordsFile
		if err := writeBytes(p, b); err != nil {
			t.Skip()
		}
		if c, err := Load(p); err == nil {
			Compile(c) // never panics, never drops an entry
		}
	})
}

func writeBytes(p string, b []byte) error { return os.WriteFile(p, b, 0o644) }

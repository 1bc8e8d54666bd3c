package file

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustParse(t testing.TB, text string) *ignoreFile {
	t.Helper()
	f, warns, err := parseIgnore("test", strings.NewReader(text))
	if err != nil || len(warns) > 0 {
		t.Fatalf("parse %q: %v %v", text, err, warns)
	}
	return f
}

// ignoredWithParents is the walk's rule for one ignore file at the root:
// a path is excluded when a directory above it is, else by its own last
// matching rule. It returns the deciding rule's line (0 for none).
func ignoredWithParents(f *ignoreFile, rel string, isDir bool) (excluded bool, line int) {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if k := f.last(d, parts[i-1], true); k >= 0 && !f.rules[k].negate {
			return true, f.rules[k].line
		}
	}
	if k := f.last(rel, parts[len(parts)-1], isDir); k >= 0 {
		return !f.rules[k].negate, f.rules[k].line
	}
	return false, 0
}

func TestIgnorePatterns(t *testing.T) {
	tests := []struct {
		rules string
		path  string
		dir   bool
		want  bool
	}{
		{"*.o", "a.o", false, true},
		{"*.o", "x/y/a.o", false, true},
		{"*.o", "a.oo", false, false},
		{"build/", "build", true, true},
		{"build/", "build", false, false},
		{"build/", "x/build", true, true},
		{"/build", "x/build", true, false},
		{"/build", "build", false, true},
		{"doc/frotz", "doc/frotz", false, true},
		{"doc/frotz", "a/doc/frotz", false, false},
		{"**/foo", "foo", false, true},
		{"**/foo", "a/b/foo", false, true},
		{"**/foo/bar", "a/foo/bar", false, true},
		{"abc/**", "abc/x/y", false, true},
		{"abc/**", "abc", true, false},
		{"a/**/b", "a/b", false, true},
		{"a/**/b", "a/x/y/b", false, true},
		{"a/**/b", "a/xb", false, false},
		{"a**b", "axyb", false, true},
		{"a**b", "ax/yb", false, false},
		{"*.log\n!keep.log", "keep.log", false, false},
		{"*.log\n!keep.log", "drop.log", false, true},
		{`\#hash`, "#hash", false, true},
		{"#comment", "#comment", false, false},
		{`\!bang`, "!bang", false, true},
		{"trail   ", "trail", false, true},
		{`trail\ `, "trail ", false, true},
		{`trail\ `, "trail", false, false},
		{"[ab].c", "a.c", false, true},
		{"[!ab].c", "a.c", false, false},
		{"[!ab].c", "z.c", false, true},
		{"[^ab].c", "z.c", false, true},
		{"[a-c]x", "bx", false, true},
		{"[[:digit:]]x", "7x", false, true},
		{"[[:digit:]]x", "ax", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "a/c", false, false},
		{"a[/]c", "a/c", false, false},
		{`foo\`, "foo", false, false},                    // a trailing backslash makes the pattern match nothing
		{"[unterminated", "[unterminated", false, false}, // git gives up on the pattern
		{"[[:a]x", "ax", false, true},                    // "[:" without ":]" is an ordinary set
		{"[[:nope:]]", "n", false, false},
		{"[!]-[]", "]", false, false},  // the start of an empty range is still a member
		{"***\\/x", "x", false, false}, // "**\/" needs one directory at least
		{"***\\/x", "d/x", false, true},
		{"\xff*", "\xffname", false, true},
		{"?.txt", "\xff.txt", false, true}, // ? matches one byte, as in git
		{"??.txt", "é.txt", false, true},   // é is two bytes
		{"*.txt\r", "a.txt", false, true},  // CRLF line endings
		{"\ufeff*.bom", "x.bom", false, true},
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.rules)+"/"+strconv.Quote(tc.path), func(t *testing.T) {
			f := mustParse(t, tc.rules)
			if got, _ := ignoredWithParents(f, tc.path, tc.dir); got != tc.want {
				t.Errorf("ignored = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestIgnoreMatchesGit compares the rules with git itself: random ignore
// files over a real tree, asked of `git check-ignore` and of ours.
func TestIgnoreMatchesGit(t *testing.T) {
	needGit(t)
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "b", "ab", "c.txt", "*", "**", "?", "[ab]", "[!a]", "[a-c]", "/", "/", "*.txt", "x", `\*`, ".", "-",
		"***", "[", "]", "[]a]", "[[:alpha:]]", "[[:punct:]]", " ", `\ `, "#", `\`, "é", "[!]", "[^b-]"}
	names := []string{"a", "b", "ab", "c.txt", "x", "a.txt", "ba", "*", "a-b", "[a]", "#x", "a ", "é", "]"}
	trials := 40
	if testing.Short() {
		trials = 10
	}
	for trial := range trials {
		dir := t.TempDir()
		gitRun(t, dir, "init", "-q")
		// a random tree of depth up to 3
		var paths []string
		isDir := map[string]bool{}
		for range 40 {
			depth := 1 + rng.IntN(3)
			var parts []string
			for range depth {
				parts = append(parts, names[rng.IntN(len(names))])
			}
			p := strings.Join(parts, "/")
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				continue // a file already sits where a directory should
			}
			if fi, err := os.Stat(full); err == nil && fi.IsDir() {
				continue
			}
			if err := os.WriteFile(full, nil, 0o644); err != nil {
				continue
			}
		}
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			rel, _ := filepath.Rel(dir, p)
			if err != nil || rel == "." || rel == ".git" || strings.HasPrefix(rel, ".git/") {
				if fi != nil && fi.IsDir() && rel == ".git" {
					return filepath.SkipDir
				}
				return nil
			}
			paths = append(paths, filepath.ToSlash(rel))
			isDir[filepath.ToSlash(rel)] = fi.IsDir()
			return nil
		})
		var rules []string
		for range 1 + rng.IntN(8) {
			var b strings.Builder
			if rng.IntN(4) == 0 {
				b.WriteString("!")
			}
			for range 1 + rng.IntN(4) {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
			rules = append(rules, b.String())
		}
		text := strings.Join(rules, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("git", "check-ignore", "--no-index", "-v", "-n", "-z", "--stdin")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(strings.Join(paths, "\x00") + "\x00")
		out, err := cmd.Output()
		if err != nil && cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("git check-ignore: %v", err)
		}
		// -z -v: source NUL line NUL pattern NUL path NUL
		fields := bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0})
		f := mustParse(t, text)
		for i := 0; i+3 < len(fields); i += 4 {
			p := string(fields[i+3])
			gitLine, _ := strconv.Atoi(string(fields[i+1]))
			gitExcluded := gitLine > 0 && !strings.HasPrefix(string(fields[i+2]), "!")
			ours, ourLine := ignoredWithParents(f, p, isDir[p])
			if ours != gitExcluded || ourLine != gitLine {
				t.Errorf("trial %d: rules %q, path %q (dir %v): git says line %d excluded %v, we say line %d excluded %v",
					trial, rules, p, isDir[p], gitLine, gitExcluded, ourLine, ours)
			}
		}
	}
}

// FuzzIgnore feeds arbitrary ignore files and paths: parsing and matching
// must not panic, must finish quickly, and a pattern that is a path with
// every character escaped must match exactly that path.
func FuzzIgnore(f *testing.F) {
	f.Add("*.o\n!keep.o\nbuild/\n/root\na/**/b\n", "a/x/b")
	f.Add("[[:alpha:]", "a")
	f.Add("\\", "x")
	f.Add("**/**/**/**/**/**/**/**/**/**/a*a*a*a*a*a*a*a*b", strings.Repeat("a/", 30)+strings.Repeat("a", 40))
	f.Add("[!]-]x\n[]]\n[a-]\n[\\]]", "]x")
	f.Add("\xff\xfe*", "\xff\xfe\x00")
	f.Fuzz(func(t *testing.T, rules, path string) {
		start := time.Now()
		file, _, err := parseIgnore("fuzz", strings.NewReader(rules))
		if err != nil {
			t.Fatal(err)
		}
		path = strings.Trim(path, "/")
		if path == "" {
			return
		}
		name := path[strings.LastIndexByte(path, '/')+1:]
		file.decide(path, name, false)
		file.decide(path, name, true)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		if strings.ContainsAny(path, "\n\r\x00") {
			return
		}
		var b strings.Builder
		b.WriteString("/")
		for i := 0; i < len(path); i++ {
			if path[i] != '/' {
				b.WriteByte('\\')
			}
			b.WriteByte(path[i])
		}
		lit, ok, err := compileIgnore(b.String())
		if err != nil || !ok {
			t.Fatalf("escaped literal %q: ok %v err %v", b.String(), ok, err)
		}
		if !lit.match(path, name, false) {
			t.Errorf("escaped literal %q does not match %q", b.String(), path)
		}
		if lit.match(path+"x", name+"x", false) {
			t.Errorf("escaped literal %q matches %q", b.String(), path+"x")
		}
	})
}

func TestIgnoreFileLimits(t *testing.T) {
	long := strings.Repeat("a", maxIgnoreLine+10)
	f, warns, err := parseIgnore("big", strings.NewReader("ok\n"+long+"\nafter\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.rules) != 2 || len(warns) != 1 || !strings.Contains(warns[0], "big:2:") {
		t.Errorf("rules %d warnings %q; want 2 rules and one warning naming line 2", len(f.rules), warns)
	}
	// the longest pattern allowed compiles, and matching it is quick
	f, warns, err = parseIgnore("re", strings.NewReader(strings.Repeat("[a-z]*", 680)+"\nfine\n"))
	if err != nil || len(warns) != 0 || len(f.rules) != 2 {
		t.Fatalf("err %v, warnings %q, %d rules; want no warning and two rules", err, warns, len(f.rules))
	}
	start := time.Now()
	if excluded, _ := f.decide(strings.Repeat("ab", 2000), strings.Repeat("ab", 2000), false); !excluded {
		t.Error("long pattern does not match")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("matching took %v", d)
	}
	// patterns that make backtracking or automaton matchers slow, against
	// the longest path Linux allows: a hundred matches stay well under a
	// second (a regular expression took 180 ms for one)
	path := strings.Repeat("a", 4095)
	for _, pat := range []string{strings.Repeat("*a", 2040) + "b", "*" + strings.Repeat("a", 4000) + "b", strings.Repeat("**/a", 1000) + "b", strings.Repeat("[a-z]*", 680) + "b", "*" + strings.Repeat("a", 2000) + "b*"} {
		f := mustParse(t, pat)
		start := time.Now()
		for range 100 {
			if excluded, _ := f.decide(path, path, false); excluded {
				t.Errorf("%.20q… matches", pat)
			}
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%.20q…: 100 matches took %v", pat, d)
		}
	}
}

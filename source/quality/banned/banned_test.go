package banned

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

const genConfig = `version: "2.0.0"
global_banned_words:
  - "fallback"
  - "placeholder"
  - '(?<!tc)getattr'   # look-behind: regexp2
  - "uuid.uuid4("      # not a regular expression: literal
  - "parent.parent"
  - "—"
  - '\bmock\b'         # Unicode word boundary: regexp2
  - "fallback"         # listed twice, counted once
directory_specific_banned_words:
  tests:
    - "skip"
    - "pytest.skip("
banned_filename_patterns: ["_old", ".bak", "_v2"]
ignored_files:
  - "scripts/config/patterns/banned_words.yaml"
  - "src/ignored_me.py"
`

const genScanner = `ignored_dirs: [node_modules, tests, docs]
ignored_suffixes: [".log"]
ignored_names: ["README.md"]
`

// snippet is a line with the entries it matches, known by construction.
type snippet struct {
	text   string
	global []string
	tests  []string
}

var snippets = []snippet{
	{"x = fallback_value", []string{"fallback"}, nil},
	{"FALLBACK and fallback: one per line", []string{"fallback"}, nil},
	{"v = getattr(o, 'a')", []string{"(?<!tc)getattr"}, nil},
	{"termios.tcgetattr(fd)", nil, nil},
	{"tcgetattr(fd); getattr(x)", []string{"(?<!tc)getattr"}, nil},
	{"id = uuid.uuid4()", []string{"uuid.uuid4("}, nil},
	{"p = Path(__file__).parent.parent", []string{"parent.parent"}, nil},
	{"p = parent_parent", []string{"parent.parent"}, nil},
	{"a — b", []string{"—"}, nil},
	{"from unittest import Mock", []string{`\bmock\b`}, nil},
	{"mockery is fine", nil, nil},
	{"def skip_this(): placeholder", []string{"placeholder"}, []string{"skip"}},
	{`pytest.skip("later")`, nil, []string{"skip", "pytest.skip("}},
	{"clean line", nil, nil},
	{"Ünïcödé mock—", []string{`\bmock\b`, "—"}, nil},
	{"élan_mock", nil, nil}, // \b: "_" is a word character
}

type key struct{ kind, dir, entry string }

// genTree writes a tree with known counts and returns them.
func genTree(t testing.TB, root string, files int) map[key]int {
	t.Helper()
	want := map[key]int{}
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("scripts/config/patterns/banned_words.yaml", genConfig)
	write("scripts/config/patterns/scanner.yaml", genScanner)
	rng := rand.New(rand.NewPCG(1, 2))
	body := func(n int, countGlobal, countTests bool, sep string) string {
		var b strings.Builder
		for range n {
			s := snippets[rng.IntN(len(snippets))]
			b.WriteString(s.text + sep)
			if countGlobal {
				for _, e := range s.global {
					want[key{"global", "", e}]++
				}
			}
			if countTests {
				for _, e := range s.tests {
					want[key{"directory", "tests", e}]++
				}
			}
		}
		return b.String()
	}
	for i := range files {
		switch i % 6 {
		case 0, 1, 2:
			write(fmt.Sprintf("src/pkg%d/mod%d.py", i%7, i), body(20, true, false, "\n"))
		case 3:
			write(fmt.Sprintf("base/tests/unit/test_%d.py", i), body(10, false, true, "\n"))
		case 4:
			write(fmt.Sprintf("node_modules/dep/f%d.js", i), body(5, false, false, "\n"))
		case 5:
			write(fmt.Sprintf("src/crlf%d.py", i), body(8, true, false, "\r\n"))
		}
	}
	// excluded: ignored file, suffix, name, directory; not UTF-8
	write("src/ignored_me.py", "fallback placeholder\n")
	write("src/run.log", "fallback\n")
	write("src/README.md", "fallback\n")
	write("docs/guide.md", "fallback\n")
	write("src/latin1.py", "fallback \xe9\xff\n")
	// line breaks Python's splitlines knows: \r, U+2028, form feed
	write("src/breaks.py", "fallback\rfallback\u2028fall\u2028back\ffallback")
	want[key{"global", "", "fallback"}] += 3
	// file names: banned, the stem quirk, a timestamp, and tests/ (directory-only)
	write("src/util_old.py", "")
	write("src/data.bak", "")
	write("src/kebak.py", "")
	write("src/run_20251004_120205_v2.py", "")
	write("base/tests/x_old.py", "")
	want[key{"filename", "", "_old"}]++
	want[key{"filename", "", ".bak"}] += 2
	// a file in tests/ that matches no global entry but a test entry
	write("tests/test_root.py", "skip\nfallback\n")
	want[key{"directory", "tests", "skip"}]++
	return want
}

func scanAll(t testing.TB, root, base string) []FileResult {
	t.Helper()
	cfgPath, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []FileResult
	err = Compile(cfg).Scan(context.Background(), root, base, Options{Workers: 3}, func(r FileResult) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func counts(res []FileResult) map[key]int {
	got := map[key]int{}
	for _, r := range res {
		for _, h := range r.Hits {
			got[key{string(h.Pattern.Kind), h.Pattern.Dir, h.Pattern.Entry}]++
		}
	}
	return got
}

// hitList is the scan as the oracle prints it: [path, line, kind, dir, entry].
func hitList(res []FileResult) [][]any {
	var out [][]any
	for _, r := range res {
		for _, h := range r.Hits {
			out = append(out, []any{r.Path, float64(h.Line), string(h.Pattern.Kind), h.Pattern.Dir, h.Pattern.Entry})
		}
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

func oracle(t testing.TB, root, base string) [][]any {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed for the reference checker (testdata/oracle.py)")
	}
	cmd := exec.Command(py, "testdata/oracle.py", root, base)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.py: %v (it needs PyYAML: Debian's python3-yaml)", err)
	}
	var out [][]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

func TestGeneratedTreeKnownCounts(t *testing.T) {
	root := t.TempDir()
	want := genTree(t, root, 300)
	res := scanAll(t, root, root)
	if diff := cmp.Diff(want, counts(res)); diff != "" {
		t.Errorf("counts per entry (-known +scanned):\n%s", diff)
	}
	// every engine is exercised
	engines := map[string]Engine{}
	for _, r := range res {
		for _, h := range r.Hits {
			engines[h.Pattern.Entry] = h.Pattern.Engine
		}
	}
	for entry, e := range map[string]Engine{"(?<!tc)getattr": EngineRegexp2, `\bmock\b`: EngineRegexp2, "uuid.uuid4(": EngineLiteral, "parent.parent": EngineRE2} {
		if engines[entry] != e {
			t.Errorf("%s ran on %q, want %q", entry, engines[entry], e)
		}
	}
	// the oracle agrees hit for hit
	if diff := cmp.Diff(oracle(t, root, root), hitList(res)); diff != "" {
		t.Errorf("scan differs from the reference checker (-oracle +scan):\n%s", diff)
	}
	// a base inside the root: only that part, paths still from the root
	sub := scanAll(t, root, filepath.Join(root, "base"))
	for _, r := range sub {
		if !strings.HasPrefix(r.Path, "base/") {
			t.Fatalf("scan of base/ reported %s", r.Path)
		}
	}
	if diff := cmp.Diff(oracle(t, root, filepath.Join(root, "base")), hitList(sub)); diff != "" {
		t.Errorf("base/ scan differs from the reference checker:\n%s", diff)
	}
}

// TestRealAMIConfig runs AMI's own configuration (testdata/ami, copied from
// AMI-ORCHESTRATOR) over AMI's files plus a generated tree written under it.
func TestRealAMIConfig(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("../../../testdata/ami")); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"fallback", "legacy", "tcgetattr(x)", "getattr(x)", "hasattr(x)", "x.hasattr", "hasattr ",
		"vars(x)", "vars ", "self.get(", "uuid.uuid4(", "uuid4()", "uuid4", ": Any", "/home/", "—", "@dataclass",
		"skip", "pytest.skip(", "if a skip:", "# skip this test", "clean", "ignore", "parent.parent", ".__dict__"}
	for i := range 120 {
		dir := []string{"base/backend", "base/tests/unit", "docs", "scripts", "ux/cms/src"}[i%5]
		var b strings.Builder
		for range 12 {
			b.WriteString(words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))] + "\n")
		}
		name := fmt.Sprintf("f%d.py", i)
		if i%17 == 0 {
			name = fmt.Sprintf("f%d_old.py", i)
		}
		p := filepath.Join(root, dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := scanAll(t, root, root)
	got := hitList(res)
	if len(got) < 100 {
		t.Fatalf("only %d hits on AMI's configuration", len(got))
	}
	if diff := cmp.Diff(oracle(t, root, root), got); diff != "" {
		t.Errorf("scan differs from the reference checker on AMI's configuration (-oracle +scan):\n%s", diff)
	}
	// the configuration's own file is ignored; the transcript fixture too
	for _, r := range res {
		if r.Path == "scripts/config/patterns/banned_words.yaml" || strings.HasPrefix(r.Path, "tests/integration/fixtures/") && len(r.Hits) > 0 && !r.DirOnly {
			t.Errorf("%s was scanned", r.Path)
		}
	}
	// every entry of AMI's file compiles to something; none is dropped
	cfg, _ := Load(filepath.Join(root, Dir, WordsFile))
	n := len(cfg.Global) + len(cfg.Filenames)
	for _, ws := range cfg.Directories {
		n += len(ws)
	}
	if got := len(Compile(cfg).Patterns()); got != n {
		t.Errorf("%d patterns compiled from %d entries", got, n)
	}
}

func TestRequiredLiteral(t *testing.T) {
	for expr, want := range map[string]string{
		"(?<!tc)getattr":          "getattr",
		`(?<!\.|\w)hasattr(?!\()`: "hasattr",
		`self\.get\(`:             "self.get(",
		"if.*skip.*:":             "skip",
		`reason=".*skip.*`:        `reason="`,
		"a|b":                     "",
		"colou?r":                 "colo",
		"[abc]def":                "def",
		"ab+c":                    "a",
		`\bmock\b`:                "mock",
		"vars(?!\\()":             "vars",
		"x{2}yy":                  "yy",
		"—":                       "—",
	} {
		if got := requiredLiteral(expr); got != want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestFilenames(t *testing.T) {
	s := Compile(&Config{Filenames: []string{"_v2", "_old", ".bak", "tmp"}})
	for name, want := range map[string]string{
		"a_v2.py": "_v2", "A_OLD.PY": "_old", "x.bak": ".bak", "kebak.py": ".bak",
		"run_20251004_120205_v2.py": "", "mytmpfile": "tmp", "plain.py": "", ".bak": ".bak",
	} {
		h, ok := s.FilenameHit(name)
		got := ""
		if ok {
			got = h.Pattern.Entry
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

// TestNeverReadsExcluded: private key files, git internals and the trail's
// directory are never scanned for words.
func TestNeverReadsExcluded(t *testing.T) {
	root := t.TempDir()
	for rel, content := range map[string]string{
		"scripts/config/patterns/banned_words.yaml": "global_banned_words: [fallback]\nignored_files: [scripts/config/patterns/banned_words.yaml]\n",
		"src/ok.py":        "fallback\n",
		"keys/deploy.pem":  "-----BEGIN OPENSSH PRIVATE KEY-----\nfallback\n-----END OPENSSH PRIVATE KEY-----\n",
		".audit/audit.log": "fallback\n",
		"trail/x.txt":      "fallback\n",
		"sub/.git/config":  "fallback\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	cfg, err := Load(filepath.Join(root, Dir, WordsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = Compile(cfg).Scan(context.Background(), root, root, Options{Exclude: exclude.New(filepath.Join(root, "trail"))}, func(r FileResult) error {
		if len(r.Hits) > 0 {
			got = append(got, r.Path)
		}
		if r.Path == "keys/deploy.pem" && !strings.Contains(r.Skipped, "private key") {
			t.Errorf("private key not skipped: %+v", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"src/ok.py"}, got); diff != "" {
		t.Errorf("files with hits (-want +got):\n%s", diff)
	}
}

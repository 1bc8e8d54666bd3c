package quality

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/secrets"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const wordsYAML = `global_banned_words: ["fallback", '(?<!tc)getattr']
banned_filename_patterns: ["_old"]
ignored_files: ["scripts/config/patterns/banned_words.yaml"]
`

// collect runs the source over root with the trail and returns what it
// appended.
func collect(t *testing.T, trail *memtrail.Trail, root string, cfg Config) ([]*audit.Record, *Run) {
	t.Helper()
	cfg.Trail = trail
	cfg.Root = root
	if cfg.Linters == nil {
		cfg.Linters = []*Linter{}
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*audit.Record
	if err := src.Collect(context.Background(), root, func(r *audit.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		if err := trail.Append(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	return recs, src.LastRun()
}

func actions(recs []*audit.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Action+" "+r.Target+" "+fmt.Sprint(r.Context["rule"]))
	}
	slices.Sort(out)
	return out
}

func TestIncremental(t *testing.T) {
	root := t.TempDir()
	write(t, root, "scripts/config/patterns/banned_words.yaml", wordsYAML)
	write(t, root, "app/a.py", "x = 1\ny = fallback()  # noqa\nv = getattr(o, 'k')\n")
	write(t, root, "app/b_old.py", "tcgetattr(fd)\n")
	trail := &memtrail.Trail{}

	recs, run := collect(t, trail, root, Config{})
	want := []string{
		"quality_run . <nil>",
		"quality_violation app/a.py banned-words:(?<!tc)getattr",
		"quality_violation app/a.py banned-words:fallback",
		"quality_violation app/a.py suppression:noqa",
		"quality_violation app/b_old.py banned-filename:_old",
	}
	if diff := cmp.Diff(want, actions(recs)); diff != "" {
		t.Fatalf("first run (-want +got):\n%s", diff)
	}
	if run.Found != 4 || run.New != 4 || run.AtLeast(audit.SeverityError) != 3 {
		t.Errorf("run: found %d new %d errors %d", run.Found, run.New, run.AtLeast(audit.SeverityError))
	}
	for _, r := range recs {
		if r.Action != ActionViolation {
			continue
		}
		if len(r.Violations) != 1 || r.TargetType != audit.TargetQuality || r.Source != SourceName ||
			r.Context["violation_key"] == "" || r.Context["tool"] == "" || r.Violations[0].Rule != r.Context["rule"] {
			t.Errorf("violation record not as promised: %+v", r)
		}
		if r.Violations[0].FilePath != r.Target {
			t.Errorf("file_path %q, target %q", r.Violations[0].FilePath, r.Target)
		}
	}
	fb := find(recs, "banned-words:fallback")
	if v := fb.Violations[0]; v.LineNumber != 2 || v.ColumnNumber != 5 || v.Severity != audit.SeverityError || fb.Context["line_text"] != "y = fallback()  # noqa" {
		t.Errorf("fallback violation: %+v %v", v, fb.Context["line_text"])
	}

	// unchanged: nothing
	if recs, _ := collect(t, trail, root, Config{}); len(recs) != 0 {
		t.Fatalf("re-run appended %v", actions(recs))
	}
	// the violation moves two lines down: still the same violation
	write(t, root, "app/a.py", "\n\nx = 1\n    y = fallback()  # noqa\nv = getattr(o, 'k')\n")
	if recs, _ := collect(t, trail, root, Config{}); len(recs) != 0 {
		t.Fatalf("moving lines appended %v", actions(recs))
	}
	// fixed: one resolved record per violation fixed, and the summary
	write(t, root, "app/a.py", "x = 1\ny = 2\nv = getattr(o, 'k')\n")
	recs, _ = collect(t, trail, root, Config{})
	want = []string{
		"quality_run . <nil>",
		"quality_violation_resolved app/a.py banned-words:fallback",
		"quality_violation_resolved app/a.py suppression:noqa",
	}
	if diff := cmp.Diff(want, actions(recs)); diff != "" {
		t.Fatalf("fix (-want +got):\n%s", diff)
	}
	res := find(recs, "banned-words:fallback")
	if res.Context["resolves"] != fb.RecordID {
		t.Errorf("resolves %v, want %s", res.Context["resolves"], fb.RecordID)
	}
	// a narrower run (banned words only, one directory) resolves nothing
	// it did not check
	write(t, root, "app/c.py", "fallback # noqa\n")
	recs, _ = collect(t, trail, root, Config{})
	os.Remove(filepath.Join(root, "app/c.py"))
	recs, _ = collect(t, trail, root, Config{BannedWordsOnly: true})
	if diff := cmp.Diff([]string{"quality_run . <nil>", "quality_violation_resolved app/c.py banned-words:fallback"}, actions(recs)); diff != "" {
		t.Errorf("banned-words-only run (-want +got):\n%s", diff)
	}
}

func find(recs []*audit.Record, rule string) *audit.Record {
	for _, r := range recs {
		if r.Context["rule"] == rule {
			return r
		}
	}
	return nil
}

// fakeTool writes an executable script that prints a file and returns
// its directory.
func fakeTool(t *testing.T, name, version, output string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, name+".out")
	if err := os.WriteFile(out, []byte(output), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in --version|-version) echo '%s %s';; *) cat '%s';; esac\n", name, version, out)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLintersThroughMachineOutput(t *testing.T) {
	root := t.TempDir()
	write(t, root, "app/db.py", "import os\n\nq = \"SELECT * FROM t WHERE id = %s\" % uid\n")
	write(t, root, "app/broken.py", "x = (\n")
	write(t, root, "mypy.ini", "[mypy]\n")
	ruffOut, _ := os.ReadFile("testdata/ruff.json")
	ruffDir := fakeTool(t, "ruff", "0.6.9", strings.ReplaceAll(string(ruffOut), "ROOT", root))
	lookPath := func(p string) (string, error) {
		if p == "ruff" {
			return filepath.Join(ruffDir, "ruff"), nil
		}
		return "", os.ErrNotExist
	}
	trail := &memtrail.Trail{}
	recs, run := collect(t, trail, root, Config{Linters: Linters(), LookPath: lookPath})
	s608 := find(recs, "ruff:S608")
	if s608 == nil {
		t.Fatalf("no ruff:S608 in %v", actions(recs))
	}
	if s608.Target != "app/db.py" || s608.Severity != audit.SeverityError || s608.Context["tool_version"] != "0.6.9" ||
		s608.Context["category"] != "security" || s608.Violations[0].LineNumber != 3 || s608.Violations[0].ColumnNumber != 11 {
		t.Errorf("S608: %+v", s608)
	}
	if find(recs, "ruff:F401") == nil || find(recs, "ruff:syntax-error") == nil {
		t.Errorf("missing ruff rules: %v", actions(recs))
	}
	status := map[string]string{}
	for _, ts := range run.Tools {
		status[ts.Tool] = ts.Reason
		if ts.Ran {
			status[ts.Tool] = "ran " + ts.Version
		}
	}
	if status["ruff"] != "ran 0.6.9" || status["mypy"] != NotInstalled {
		t.Errorf("tools: %v", status)
	}
	summary := recs[len(recs)-1]
	if summary.Action != ActionRun || !strings.Contains(fmt.Sprint(summary.Context["tools_not_run"]), "not run: not installed") {
		t.Errorf("summary: %v", summary.Context)
	}
	// gosec does not apply (no Go), so it is not listed as not installed
	if _, ok := status["gosec"]; ok {
		t.Errorf("gosec listed for a tree without Go: %v", status)
	}
}

func TestParsers(t *testing.T) {
	vs, err := parseGosec([]byte(`{"Issues":[{"severity":"HIGH","confidence":"MEDIUM","cwe":{"id":"798"},"rule_id":"G101","details":"Potential hardcoded credentials","file":"/r/m/a.go","code":"5: x","line":"5-6","column":"2"}],"GosecVersion":"2.30.0"}`), "/r", "/r/m", "")
	if err != nil || len(vs) != 1 || vs[0].Rule != "gosec:G101" || vs[0].File != "m/a.go" || vs[0].Line != 5 || vs[0].Severity != audit.SeverityError || vs[0].Extra["cwe"] != "CWE-798" || vs[0].ToolVersion != "2.30.0" {
		t.Errorf("gosec: %+v %v", vs, err)
	}
	vs, err = parseMypy([]byte(`{"file": "a.py", "line": 3, "column": 4, "message": "Argument 1", "hint": null, "code": "arg-type", "severity": "error"}`+"\n"), "/r", "/r", "1.11.2")
	if err != nil || len(vs) != 1 || vs[0].Rule != "mypy:arg-type" || vs[0].Column != 5 || vs[0].File != "a.py" {
		t.Errorf("mypy: %+v %v", vs, err)
	}
	vs, err = parseGolangci([]byte(`{"Issues":[{"FromLinter":"errcheck","Text":"Error return value is not checked","Severity":"","SourceLines":["\tf.Close()"],"Pos":{"Filename":"a.go","Line":7,"Column":9}}],"Report":{}}`), "/r", "/r", "2.1.0")
	if err != nil || len(vs) != 1 || vs[0].Rule != "golangci-lint:errcheck" || vs[0].Text != "\tf.Close()" || vs[0].Severity != audit.SeverityWarning {
		t.Errorf("golangci-lint: %+v %v", vs, err)
	}
	vs, err = parseESLint([]byte(`[{"filePath":"/r/x.js","messages":[{"ruleId":"no-unused-vars","severity":2,"message":"'a' is defined but never used.","line":1,"column":7}]}]`), "/r", "/r", "9.0.0")
	if err != nil || len(vs) != 1 || vs[0].Rule != "eslint:no-unused-vars" || vs[0].Severity != audit.SeverityError {
		t.Errorf("eslint: %+v %v", vs, err)
	}
	for name, bad := range map[string]func() error{
		"ruff":   func() error { _, err := parseRuff([]byte(`{`), "/", "/", ""); return err },
		"mypy":   func() error { _, err := parseMypy([]byte("not json\n"), "/", "/", ""); return err },
		"eslint": func() error { _, err := parseESLint([]byte(`{}`), "/", "/", ""); return err },
	} {
		if bad() == nil {
			t.Errorf("%s: malformed output accepted", name)
		}
	}
}

func TestReviews(t *testing.T) {
	root := t.TempDir()
	write(t, root, "docs/audit/01.11.2025/base/a.py.md", "# Audit\n\n**File**: base/a.py\n**Status**: FAIL\n**Audit Date**: 2025-11-01\n**Execution Time**: 3.2s\n\n- Line 4: Silent exception swallowing (severity: CRITICAL)\n- Line 9: Uses a default value (severity: LOW)\n")
	write(t, root, "docs/audit/01.11.2025/CONSOLIDATED.md", "**File**: x\n- Line 1: y (severity: HIGH)\n")
	write(t, root, "docs/audit/20.10.2025/base/a.py.md", "**File**: base/a.py\n**Status**: FAIL\n- Line 1: old (severity: HIGH)\n")
	write(t, root, "logs/audit-cache/b.json", `{"file_path": "base/b.py", "status": "FAIL", "violations": [{"line": 2, "pattern_id": "exception_swallow", "severity": "HIGH", "message": "m"}], "execution_time": 1.5}`)
	write(t, root, "logs/audit-cache/broken.json", `{`)
	reviews, problems := ReadReviews(root)
	if len(reviews) != 2 || len(problems) != 1 {
		t.Fatalf("reviews %d problems %v", len(reviews), problems)
	}
	a := reviews[0]
	if a.File != "base/a.py" || a.Status != "FAIL" || len(a.Violations) != 2 || a.Violations[0].Severity != audit.SeverityCritical || a.Violations[1].Severity != audit.SeverityInfo {
		t.Errorf("markdown review: %+v", a)
	}
	if b := reviews[1]; b.Violations[0].Rule != "ami-agent:exception_swallow" || b.Violations[0].Severity != audit.SeverityError {
		t.Errorf("cache review: %+v", b)
	}
}

func FuzzReviewMarkdown(f *testing.F) {
	f.Add([]byte("**File**: a.py\n**Status**: PASS\n- Line 3: x (severity: HIGH)\n"))
	f.Add([]byte("- Line 99999999999999999999: x (severity: LOW)\n**File**:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReviewMarkdown(b)
		if err == nil && r.File == "" {
			t.Fatal("review without a file accepted")
		}
	})
}

func FuzzLinterOutput(f *testing.F) {
	ruff, _ := os.ReadFile("testdata/ruff.json")
	f.Add(ruff)
	f.Add([]byte(`{"Issues":[{"line":"x-y"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseRuff(b, "/r", "/r", "")
		parseGosec(b, "/r", "/r", "")
		parseGolangci(b, "/r", "/r", "")
		parseESLint(b, "/r", "/r", "")
		parseMypy(b, "/r", "/r", "")
		parseSARIF(b, "x.sarif", "/r")
	})
}

// TestFixRecordsWhatTheLinterChanged: --fix runs the linter's fix mode
// (here a stand-in ruff that rewrites a file the way ruff --fix would),
// records the file with its hashes before and after, and checks again.
func TestFixRecordsWhatTheLinterChanged(t *testing.T) {
	root := t.TempDir()
	write(t, root, "app/a.py", "import os\nx = 1\n")
	write(t, root, "app/b.py", "y = 2\n")
	dir := t.TempDir()
	script := `#!/bin/sh
case "$1 $2" in
--version*) echo "ruff 0.6.9" ;;
"check --fix") printf 'x = 1\n' > app/a.py ;;
*) if grep -q "import os" app/a.py; then printf '[{"code":"F401","message":"unused","filename":"app/a.py","location":{"row":1,"column":8}}]'; else printf '[]'; fi ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "ruff"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	lookPath := func(p string) (string, error) {
		if p == "ruff" {
			return filepath.Join(dir, "ruff"), nil
		}
		return "", os.ErrNotExist
	}
	trail := &memtrail.Trail{}
	recs, _ := collect(t, trail, root, Config{Linters: []*Linter{ruffLinter()}, LookPath: lookPath})
	if find(recs, "ruff:F401") == nil {
		t.Fatalf("before the fix: %v", actions(recs))
	}
	before := sha256Hex("import os\nx = 1\n")
	recs, run := collect(t, trail, root, Config{Linters: []*Linter{ruffLinter()}, LookPath: lookPath, Fix: true})
	want := []string{"quality_fix app/a.py <nil>", "quality_run . <nil>", "quality_violation_resolved app/a.py ruff:F401"}
	if diff := cmp.Diff(want, actions(recs)); diff != "" {
		t.Fatalf("fix run (-want +got):\n%s", diff)
	}
	for _, r := range recs {
		if r.Action == ActionFix && (r.Context["sha256_before"] != before || r.Context["sha256_after"] != sha256Hex("x = 1\n") ||
			r.Context["tool"] != "ruff" || r.Context["tool_version"] != "0.6.9") {
			t.Errorf("fix record: %v", r.Context)
		}
	}
	if len(run.Fixed) != 1 {
		t.Errorf("fixed %v", run.Fixed)
	}
	// nothing left to fix: nothing appended
	if recs, _ := collect(t, trail, root, Config{Linters: []*Linter{ruffLinter()}, LookPath: lookPath, Fix: true}); len(recs) != 0 {
		t.Errorf("second fix appended %v", actions(recs))
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestIncrementalThroughMasking: records pass the masking step before the
// trail; a violation whose line holds a secret, and every violation key,
// must still be recognised on the next run.
func TestIncrementalThroughMasking(t *testing.T) {
	d, err := secrets.New(secrets.Config{FingerprintKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	write(t, root, "scripts/config/patterns/banned_words.yaml", wordsYAML)
	write(t, root, "app/a.py", "x = fallback()  # noqa\npassword = \"hunter2hunter2hunter2\"  # fallback\napi_key = \"AKIAIOSFODNN7EXAMPLE\"  # noqa\n")
	trail := &memtrail.Trail{}
	run := func() []*audit.Record {
		src, err := New(Config{Root: root, Trail: trail, Linters: []*Linter{}})
		if err != nil {
			t.Fatal(err)
		}
		var recs []*audit.Record
		if err := src.Collect(context.Background(), root, func(r *audit.Record) error {
			d.MaskRecord(r)
			recs = append(recs, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			if err := trail.Append(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
		}
		return recs
	}
	recs := run()
	masked := 0
	for _, r := range recs {
		if k, _ := r.Context["violation_key"].(string); r.Action == ActionViolation && !strings.HasPrefix(k, "sha256:") {
			t.Errorf("violation_key %q did not survive masking", k)
		}
		if s, _ := r.Context["line_text"].(string); strings.Contains(s, "REDACTED") {
			masked++
		}
		if strings.Contains(fmt.Sprint(r.Context), "hunter2hunter2") || strings.Contains(fmt.Sprint(r.Context), "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("a secret reached the record: %v", r.Context)
		}
	}
	if masked == 0 {
		t.Error("no line text was masked")
	}
	if again := run(); len(again) != 0 {
		t.Fatalf("re-run through masking appended %v", actions(again))
	}
	write(t, root, "app/a.py", "x = 1\npassword = \"hunter2hunter2hunter2\"  # fallback\napi_key = \"AKIAIOSFODNN7EXAMPLE\"  # noqa\n")
	want := []string{"quality_run . <nil>", "quality_violation_resolved app/a.py banned-words:fallback", "quality_violation_resolved app/a.py suppression:noqa"}
	if diff := cmp.Diff(want, actions(run())); diff != "" {
		t.Errorf("after a fix (-want +got):\n%s", diff)
	}
}

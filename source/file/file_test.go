package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
)

func TestKnownAnswers(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"README.md":        "# hello\n",
		"src/main.go":      "package main\n",
		"src/lib/util.go":  "package lib\n",
		"data/blob.bin":    "\x00\x01\x02binary",
		"empty.txt":        "",
		"docs/a b/ünï.txt": "unicode name\n",
	}
	writeTree(t, dir, files)
	if err := os.Chmod(filepath.Join(dir, "src/main.go"), 0o750); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "README.md"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	recs, entries := collect(t, Config{Root: dir}, dir, nil)

	// walk order: names sorted, depth first
	want := []string{"README.md", "data/blob.bin", "docs/a b/ünï.txt", "empty.txt", "src/lib/util.go", "src/main.go"}
	if diff := cmp.Diff(want, targets(recs)); diff != "" {
		t.Fatalf("targets (-want +got):\n%s", diff)
	}
	if len(entries) != len(want) {
		t.Errorf("Observe heard %d entries, want %d", len(entries), len(want))
	}
	for _, r := range recs {
		content := files[r.Target]
		t.Run(r.Target, func(t *testing.T) {
			c := r.Context
			if r.Action != ActionHash || r.Source != SourceName || r.TargetType != audit.TargetFile || r.Actor != "tester" {
				t.Errorf("action/source/type/actor = %s/%s/%s/%s", r.Action, r.Source, r.TargetType, r.Actor)
			}
			if r.Severity != audit.SeverityInfo {
				t.Errorf("severity %s, want info (warnings %v)", r.Severity, c["warnings"])
			}
			if c["sha256"] != sha(content) {
				t.Errorf("sha256 %v, want %s", c["sha256"], sha(content))
			}
			if c["size"] != int64(len(content)) {
				t.Errorf("size %v, want %d", c["size"], len(content))
			}
			if got, want := c["binary"], strings.Contains(content, "\x00"); got != want {
				t.Errorf("binary %v, want %v", got, want)
			}
			if c["file_type"] != "file" || c["change"] != "new" {
				t.Errorf("file_type %v change %v", c["file_type"], c["change"])
			}
			wantMode := "0644"
			if r.Target == "src/main.go" {
				wantMode = "0750"
			}
			if c["mode"] != wantMode {
				t.Errorf("mode %v, want %s", c["mode"], wantMode)
			}
			if c["uid"] != int64(os.Getuid()) || c["gid"] != int64(os.Getgid()) {
				t.Errorf("uid/gid %v/%v", c["uid"], c["gid"])
			}
			if os.Getuid() == 0 && (c["owner"] != "root" || c["group"] != "root") {
				t.Errorf("owner/group %v/%v, want root/root", c["owner"], c["group"])
			}
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(r.Target)))
			if err != nil {
				t.Fatal(err)
			}
			// the record's time is the audit's; the file's is in mtime
			if c["mtime"] != audit.FormatTime(fi.ModTime()) || r.Timestamp.Before(started) || r.Timestamp.After(time.Now()) {
				t.Errorf("timestamp %v mtime %v, want the scan time and the file's %v", r.Timestamp, c["mtime"], fi.ModTime())
			}
			if _, ok := c["path_escaped"]; ok {
				t.Error("path_escaped set for a plain name")
			}
		})
	}
	if got := byTarget(recs)["README.md"].Context["mtime"]; got != audit.FormatTime(mtime) {
		t.Errorf("README.md mtime %v, want %v", got, mtime)
	}
}

func TestSingleFileAndRoot(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a/b/c.txt": "c", ".gitignore": "*.txt\n"})
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	// a file named explicitly is audited even when ignored; its target is
	// relative to the repository top found above it
	t.Chdir(filepath.Join(dir, "a"))
	recs, _ := collect(t, Config{}, "b/c.txt", nil)
	if diff := cmp.Diff([]string{"a/b/c.txt"}, targets(recs)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// the directory walk honours the ignore rule
	recs, _ = collect(t, Config{}, ".", nil)
	if len(recs) != 0 {
		t.Errorf("walk of a/ recorded %v, want nothing (ignored)", targets(recs))
	}
	_, _, err := tryCollect(t, Config{}, "missing.txt", nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
	_, _, err = tryCollect(t, Config{Root: filepath.Join(dir, "a", "b")}, filepath.Join(dir, "a"), nil)
	if !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("target outside Root: %v, want ErrOutsideRoot", err)
	}
}

func TestPatterns(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"src/app.py":          "1",
		"src/pkg/mod.py":      "2",
		"src/pkg/deep/x.py":   "3",
		"src/pkg/notes.txt":   "4",
		"test/test_app.py":    "5",
		"setup.py":            "6",
		"src/pkg/deep/y.pyc":  "7",
		"src/other/z.py":      "8",
		"src/other/keep.md":   "9",
		"build/gen.py":        "10",
		".gitignore":          "build/\n",
		"src/pkg/.gitignore":  "deep/\n",
		"docs/{braces}/b.txt": "11",
	})
	t.Chdir(dir)
	tests := []struct {
		pattern string
		want    []string
		err     error
	}{
		{"src/**/*.py", []string{"src/app.py", "src/other/z.py", "src/pkg/mod.py"}, nil},
		{"**/*.py", []string{"setup.py", "src/app.py", "src/other/z.py", "src/pkg/mod.py", "test/test_app.py"}, nil},
		{"src/*.py", []string{"src/app.py"}, nil},
		{"src/*/*.py", []string{"src/other/z.py", "src/pkg/mod.py"}, nil},
		{"src/{pkg,other}/*.{py,md}", []string{"src/other/keep.md", "src/other/z.py", "src/pkg/mod.py"}, nil},
		{"*.py", []string{"setup.py"}, nil},
		{"**/*.rs", nil, ErrNoMatch},
		{"nowhere/**", nil, ErrNoMatch},
		{"src/[", nil, ErrBadPattern},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			recs, _, err := tryCollect(t, Config{Pattern: true}, tc.pattern, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, targets(recs), cmp.Comparer(func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no-ignore", func(t *testing.T) {
		recs, _ := collect(t, Config{Pattern: true, NoIgnore: true}, "**/*.py", nil)
		want := []string{"build/gen.py", "setup.py", "src/app.py", "src/other/z.py", "src/pkg/deep/x.py", "src/pkg/mod.py", "test/test_app.py"}
		if diff := cmp.Diff(want, targets(recs)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestIgnoreRulesInWalk(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".gitignore":            "*.log\n/out/\n!important.log\nsecret*\n",
		"app.log":               "x",
		"important.log":         "x",
		"out/result":            "x",
		"sub/out/kept":          "x", // /out/ is anchored to the root
		"sub/.gitignore":        "!keep.log\n*.tmp\n",
		"sub/keep.log":          "x",
		"sub/drop.log":          "x",
		"sub/a.tmp":             "x",
		"sub/deeper/b.tmp":      "x",
		"sub/deeper/c.txt":      "x",
		"secrets.env":           "x",
		"excluded-by-info":      "x",
		".git/info/exclude":     "excluded-by-info\n",
		".git/config":           "x",
		".audit/audit.db":       "x",
		"nested/.git/HEAD":      "x",
		"nested/.gitignore":     "*.c\n",
		"nested/x.c":            "x",
		"nested/app.log":        "x", // the parent's *.log does not apply in a nested repository
		"nested/.git/info/excl": "x",
	})
	recs, _ := collect(t, Config{Root: dir}, dir, nil)
	want := []string{".gitignore", "important.log", "nested/.gitignore", "nested/app.log", "sub/.gitignore", "sub/deeper/c.txt", "sub/keep.log", "sub/out/kept"}
	if diff := cmp.Diff(want, targets(recs)); diff != "" {
		t.Errorf("honouring ignore rules (-want +got):\n%s", diff)
	}
	recs, _ = collect(t, Config{Root: dir, NoIgnore: true}, dir, nil)
	want = []string{".gitignore", "app.log", "excluded-by-info", "important.log", "nested/.gitignore", "nested/app.log", "nested/x.c", "out/result", "secrets.env",
		"sub/.gitignore", "sub/a.tmp", "sub/deeper/b.tmp", "sub/deeper/c.txt", "sub/drop.log", "sub/keep.log", "sub/out/kept"}
	if diff := cmp.Diff(want, targets(recs)); diff != "" {
		t.Errorf("NoIgnore (-want +got):\n%s", diff)
	}
	// walking a subdirectory still applies the root's rules
	recs, _ = collect(t, Config{Root: dir}, filepath.Join(dir, "sub"), nil)
	want = []string{"sub/.gitignore", "sub/deeper/c.txt", "sub/keep.log", "sub/out/kept"}
	if diff := cmp.Diff(want, targets(recs)); diff != "" {
		t.Errorf("walk of sub/ (-want +got):\n%s", diff)
	}
}

func TestIncremental(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a", "b.txt": "b", "c/d.txt": "d", "e.txt": "e"})
	ageTree(t, dir)
	trail := &memTrail{}
	cfg := Config{Root: dir}

	recs, _ := collect(t, cfg, dir, trail)
	if len(recs) != 4 {
		t.Fatalf("first run recorded %d, want 4", len(recs))
	}
	recs, entries := collect(t, cfg, dir, trail)
	if len(recs) != 0 {
		t.Fatalf("second run with nothing changed recorded %v", targets(recs))
	}
	for _, e := range entries {
		if e.Change != ChangeUnchanged {
			t.Errorf("%s: change %s, want unchanged", e.Path, e.Change)
		}
	}

	// change content, add a file, change a mode, touch a time
	writeTree(t, dir, map[string]string{"a.txt": "a2", "new.txt": "n"})
	if err := os.Chmod(filepath.Join(dir, "b.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(-30 * time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "c/d.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	recs, _ = collect(t, cfg, dir, trail)
	got := map[string]any{}
	for _, r := range recs {
		got[r.Target] = []any{r.Context["change"], r.Context["changed_fields"]}
	}
	want := map[string]any{
		"a.txt":   []any{"changed", []string{"size", "mtime", "sha256"}},
		"b.txt":   []any{"changed", []string{"mode"}},
		"c/d.txt": []any{"changed", []string{"mtime"}},
		"new.txt": []any{"new", nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after changes (-want +got):\n%s", diff)
	}
	if prev := byTarget(recs)["a.txt"].Context["previous_sha256"]; prev != sha("a") {
		t.Errorf("previous_sha256 %v, want %s", prev, sha("a"))
	}
	recs, _ = collect(t, cfg, dir, trail)
	if len(recs) != 0 {
		t.Errorf("run after recording the changes recorded %v", targets(recs))
	}
	// Force records everything again
	recs, _ = collect(t, Config{Root: dir, Force: true}, dir, trail)
	if len(recs) != 5 {
		t.Errorf("Force recorded %d, want 5", len(recs))
	}
	for _, r := range recs {
		if r.Context["change"] != "unchanged" {
			t.Errorf("%s: forced record says change %v", r.Target, r.Context["change"])
		}
	}
}

func TestHashReuse(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"old.txt": "old", "fresh.txt": "fresh"})
	ageTree(t, dir)
	trail := &memTrail{}
	collect(t, Config{Root: dir}, dir, trail)

	// fresh.txt is rewritten with the same size and its old mtime put back:
	// only ctime tells, and the file must be read again.
	fi, _ := os.Stat(filepath.Join(dir, "fresh.txt"))
	writeTree(t, dir, map[string]string{"fresh.txt": "FRESH"})
	os.Chtimes(filepath.Join(dir, "fresh.txt"), fi.ModTime(), fi.ModTime())

	var opened []string
	src, err := New(Config{Root: dir, Force: true, Trail: trail, Actor: "t"})
	if err != nil {
		t.Fatal(err)
	}
	src.testHookBeforeRead = func(abs string) { opened = append(opened, filepath.Base(abs)) }
	recs := map[string]*audit.Record{}
	err = src.Collect(context.Background(), dir, func(r *audit.Record) error { recs[r.Target] = r; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fresh.txt"}, opened); diff != "" {
		t.Errorf("files read (-want +got):\n%s", diff)
	}
	if recs["old.txt"].Context["hash_reused"] != true || recs["old.txt"].Context["sha256"] != sha("old") {
		t.Errorf("old.txt: hash_reused %v sha %v", recs["old.txt"].Context["hash_reused"], recs["old.txt"].Context["sha256"])
	}
	if recs["fresh.txt"].Context["sha256"] != sha("FRESH") || recs["fresh.txt"].Context["change"] != "changed" {
		t.Errorf("fresh.txt: sha %v change %v; a rewrite behind a restored mtime went unnoticed", recs["fresh.txt"].Context["sha256"], recs["fresh.txt"].Context["change"])
	}

	// a file modified within reuseMargin of the scan that hashed it is
	// racily clean: read again even though its stat did not change
	dir2 := t.TempDir()
	writeTree(t, dir2, map[string]string{"racy.txt": "r"})
	trail2 := &memTrail{}
	collect(t, Config{Root: dir2}, dir2, trail2)
	opened = nil
	src2, _ := New(Config{Root: dir2, Force: true, Trail: trail2, Actor: "t"})
	src2.testHookBeforeRead = func(abs string) { opened = append(opened, filepath.Base(abs)) }
	if err := src2.Collect(context.Background(), dir2, func(*audit.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"racy.txt"}, opened); diff != "" {
		t.Errorf("racily clean file (-want read +got):\n%s", diff)
	}
}

func TestEmitErrorStops(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 300 {
		files[filepath.Join("d", string(rune('a'+i%26)), strings.Repeat("x", 1+i%7)+string(rune('a'+i/26%26))+".txt")] = "x"
	}
	writeTree(t, dir, files)
	boom := errors.New("boom")
	n := 0
	src, _ := New(Config{Root: dir, Actor: "t"})
	err := src.Collect(context.Background(), dir, func(*audit.Record) error {
		n++
		if n == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 10 {
		t.Errorf("Collect = %v after %d records, want boom after 10", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.Collect(ctx, dir, func(*audit.Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Collect = %v", err)
	}
}

func TestTally(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.go": "1", "b.go": "22", "c.md": "333", "Makefile": "4444", ".env": "55555"})
	var tally Tally
	tally.MaxRows = 3
	src, _ := New(Config{Root: dir, Actor: "t", Observe: tally.Observe})
	if err := src.Collect(context.Background(), dir, func(*audit.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if tally.Files != 5 || tally.Bytes != 15 || tally.New != 5 || tally.Recorded != 5 || len(tally.Rows) != 3 || tally.RowsDropped != 2 {
		t.Errorf("tally %+v", tally)
	}
	want := []ExtStat{{"(none)", 2, 9}, {".go", 2, 3}, {".md", 1, 3}}
	if diff := cmp.Diff(want, tally.Extensions()); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}
}

// TestRemovals: a path the trail holds that is gone is recorded removed
// once; one that still exists but is no longer walked, one outside the
// target, and one outside the pattern are not; a path that comes back is
// new.
func TestRemovals(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a", "b.txt": "b", "c/d.txt": "d", "c/e.go": "e", "c/f.go": "f", "keep/k.txt": "k", "x.log": "x"})
	ageTree(t, dir)
	trail := &memTrail{}
	cfg := Config{Root: dir}
	if recs, _ := collect(t, cfg, dir, trail); len(recs) != 7 {
		t.Fatalf("first run recorded %d, want 7", len(recs))
	}
	for _, p := range []string{"a.txt", "c/d.txt", "c/e.go", "keep/k.txt"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	// x.log is ignored now: it exists, it is not removed.
	writeTree(t, dir, map[string]string{".gitignore": "*.log\n"})
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A run over c/ with a pattern sees c/e.go only.
	recs, _ := collect(t, Config{Root: dir, Pattern: true}, filepath.Join(dir, "c")+"/*.go", trail)
	if diff := cmp.Diff([]string{"c/e.go"}, targets(recs)); diff != "" {
		t.Errorf("pattern run (-want +got):\n%s", diff)
	}
	recs, entries := collect(t, cfg, dir, trail)
	got := map[string]string{}
	for _, r := range recs {
		got[r.Target] = r.Action
	}
	want := map[string]string{"a.txt": ActionRemoved, "c/d.txt": ActionRemoved, "keep/k.txt": ActionRemoved, ".gitignore": ActionHash}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("removals (-want +got):\n%s", diff)
	}
	if r := byTarget(recs)["a.txt"]; r.Context["previous_sha256"] != sha("a") || r.Context["previous_mode"] != "0644" {
		t.Errorf("removal of a.txt: %v", r.Context)
	}
	var tally Tally
	for _, e := range entries {
		tally.Observe(e)
	}
	if tally.Removed != 3 {
		t.Errorf("tally counts %d removed, want 3", tally.Removed)
	}
	if recs, _ := collect(t, cfg, dir, trail); len(recs) != 0 {
		t.Errorf("a re-run recorded %v", targets(recs))
	}
	writeTree(t, dir, map[string]string{"a.txt": "a again"})
	recs, _ = collect(t, cfg, dir, trail)
	if len(recs) != 1 || recs[0].Context["change"] != "new" {
		t.Errorf("a path that came back: %v", targets(recs))
	}
}

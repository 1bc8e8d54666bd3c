package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// storedFiles reads the file_hash records of the trail: target → sha256,
// and how many records each target has.
func storedFiles(t *testing.T, auditDir string) (map[string]string, map[string]int) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(auditDir, dbFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sums, counts := map[string]string{}, map[string]int{}
	for r, err := range s.Query(ctx, audit.Filter{Action: "file_hash", Limit: -1}) {
		if err != nil {
			t.Fatal(err)
		}
		sums[r.Target], _ = r.Context["sha256"].(string)
		counts[r.Target]++
	}
	return sums, counts
}

func hexSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func fileSummary(t *testing.T, out string) map[string]string {
	t.Helper()
	r := gitReportJSON(t, out)
	m := map[string]string{}
	for _, it := range r.Summary {
		m[it.Label] = it.Value
	}
	delete(m, "Size")
	delete(m, "Target")
	return m
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileCommand(t *testing.T) {
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	auditDir := filepath.Join(repo, ".audit")
	files := map[string]string{
		"README.md":       "# readme\n",
		"src/app.py":      "print('hi')\n",
		"src/lib/util.py": "def f(): pass\n",
		"data/blob.bin":   "\x00\x01\x02",
		"build/out.o":     "object",
		".gitignore":      "build/\n",
	}
	writeFiles(t, repo, files)
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	// files old enough for the next run to trust their stat
	old := time.Now().Add(-time.Hour)
	for p := range files {
		os.Chtimes(filepath.Join(repo, p), old, old)
	}
	t.Chdir(repo)

	code, out, errOut := runCLI(t, "file", ".", "--format=json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// .git and .audit are excluded, build/ (untracked) ignored
	want := map[string]string{"Files": "5", "New": "5", "Changed": "0", "Unchanged": "0", "Removed": "0", "Skipped": "0", "Excluded": "2", "Ignored (untracked)": "1", "Warnings": "0", "Records appended": "5"}
	if diff := cmp.Diff(want, fileSummary(t, out)); diff != "" {
		t.Errorf("first run summary (-want +got):\n%s", diff)
	}
	sums, _ := storedFiles(t, auditDir)
	wantSums := map[string]string{}
	for p, c := range files {
		if !strings.HasPrefix(p, "build/") {
			wantSums[p] = hexSHA(c)
		}
	}
	if diff := cmp.Diff(wantSums, sums); diff != "" {
		t.Errorf("trail (-want +got):\n%s", diff)
	}
	r := gitReportJSON(t, out)
	var titles []string
	for _, s := range r.Sections {
		titles = append(titles, s.Title)
	}
	if diff := cmp.Diff([]string{"Files", "Not audited", "Files by extension", "Files per extension"}, titles); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	if rows := r.Sections[0].Rows; len(rows) != 5 || rows[0][0] != ".gitignore" || rows[2][2] != "binary" {
		t.Errorf("file rows %q", rows)
	}

	// Nothing changed: nothing appended.
	code, out, errOut = runCLI(t, "file", ".", "--format=json")
	if code != exitOK {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	want = map[string]string{"Files": "5", "New": "0", "Changed": "0", "Unchanged": "5", "Removed": "0", "Skipped": "0", "Excluded": "2", "Ignored (untracked)": "1", "Warnings": "0", "Records appended": "0"}
	if diff := cmp.Diff(want, fileSummary(t, out)); diff != "" {
		t.Errorf("unchanged run summary (-want +got):\n%s", diff)
	}

	// One file changed, one added: exactly those two appended.
	writeFiles(t, repo, map[string]string{"src/app.py": "print('bye')\n", "src/new.py": "new\n"})
	code, out, errOut = runCLI(t, "file", ".", "--format=json")
	if code != exitOK {
		t.Fatalf("third run: exit %d: %s", code, errOut)
	}
	want = map[string]string{"Files": "6", "New": "1", "Changed": "1", "Unchanged": "4", "Removed": "0", "Skipped": "0", "Excluded": "2", "Ignored (untracked)": "1", "Warnings": "0", "Records appended": "2"}
	if diff := cmp.Diff(want, fileSummary(t, out)); diff != "" {
		t.Errorf("run after a change (-want +got):\n%s", diff)
	}
	sums, counts := storedFiles(t, auditDir)
	if sums["src/app.py"] != hexSHA("print('bye')\n") || counts["src/app.py"] != 2 || counts["README.md"] != 1 {
		t.Errorf("trail after the change: sums %v counts %v", sums, counts)
	}

	// --all records everything; the trail still verifies.
	code, out, errOut = runCLI(t, "file", ".", "--all", "--format=json")
	if code != exitOK {
		t.Fatalf("--all: exit %d: %s", code, errOut)
	}
	if got := fileSummary(t, out)["Records appended"]; got != "6" {
		t.Errorf("--all appended %s, want 6", got)
	}
	if code, _, errOut := runCLI(t, "verify"); code != exitOK {
		t.Errorf("verify after file runs: exit %d: %s", code, errOut)
	}

	// A pattern, and --no-ignore; a single file; Markdown to a file.
	code, out, errOut = runCLI(t, "file", "src/**/*.py", "--pattern", "--all", "--format=json")
	if code != exitOK {
		t.Fatalf("pattern: exit %d: %s", code, errOut)
	}
	if got := fileSummary(t, out)["Files"]; got != "3" {
		t.Errorf("pattern matched %s files, want 3", got)
	}
	code, out, _ = runCLI(t, "file", "build", "--no-ignore", "--format=json")
	if code != exitOK || fileSummary(t, out)["New"] != "1" {
		t.Errorf("--no-ignore on build/: exit %d, summary %v", code, fileSummary(t, out))
	}
	md := filepath.Join(tmp, "files.md")
	code, _, errOut = runCLI(t, "file", "README.md", "--all", "--output", md)
	if code != exitOK {
		t.Fatalf("markdown: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "| README.md |") {
		t.Errorf("markdown report: %v\n%s", err, b)
	}
}

func TestFileCommandGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
			"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_COMMITTER_NAME=Alice", "GIT_COMMITTER_EMAIL=alice@example.com",
			"GIT_AUTHOR_DATE=2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	writeFiles(t, repo, map[string]string{"a.py": "a\n", "b.py": "b\n"})
	git("add", ".")
	git("commit", "-q", "-m", "first")
	writeFiles(t, repo, map[string]string{"untracked.py": "u\n"})
	t.Chdir(repo)
	code, out, errOut := runCLI(t, "file", "*.py", "--pattern", "--include-git", "--format=json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := gitReportJSON(t, out)
	var files *report.Section
	for i := range r.Sections {
		if r.Sections[i].Title == "Files" {
			files = &r.Sections[i]
		}
	}
	if files == nil || files.Columns[len(files.Columns)-1] != "Last commit" {
		t.Fatalf("no Last commit column: %+v", r.Sections)
	}
	got := map[string]string{}
	for _, row := range files.Rows {
		got[row[0]] = row[len(row)-1]
	}
	for _, p := range []string{"a.py", "b.py"} {
		if !strings.Contains(got[p], " Alice 2024-01-02T03:04:05+00:00") {
			t.Errorf("%s: last commit %q", p, got[p])
		}
	}
	if got["untracked.py"] != "" {
		t.Errorf("untracked.py: last commit %q", got["untracked.py"])
	}
}

func TestFileCommandErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.txt": "a"})
	t.Chdir(dir)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no argument", []string{"file"}, exitUsage, "one PATH or GLOB"},
		{"two arguments", []string{"file", "a", "b"}, exitUsage, "quote a glob"},
		{"allow-outside alone", []string{"file", ".", "--allow-outside"}, exitUsage, "--follow-symlinks"},
		{"glob without --pattern", []string{"file", "*.go"}, exitError, "add --pattern"},
		{"missing file", []string{"file", "nope.txt"}, exitError, "no such file"},
		{"bad pattern", []string{"file", "[", "--pattern"}, exitUsage, "malformed glob"},
		{"no match", []string{"file", "**/*.rs", "--pattern"}, exitError, "--no-ignore includes them"},
		{"bad format", []string{"file", ".", "--format=pdf"}, exitUsage, "pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append([]string{"--audit-dir", filepath.Join(dir, ".audit")}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.msg)
			}
		})
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// storedBySource counts the records of the trail in auditDir by source and
// action.
func storedBySource(t *testing.T, auditDir string) map[string]int {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(auditDir, dbFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]int{}
	for r, err := range s.Query(ctx, audit.Filter{Limit: -1}) {
		if err != nil {
			t.Fatal(err)
		}
		out[r.Source+" "+r.Action]++
	}
	return out
}

func total(m map[string]int, prefix string) int {
	n := 0
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// sourceRows returns the rows of the report's Sources table by source.
func sourceRows(t *testing.T, r *report.Report) map[string][]string {
	t.Helper()
	for _, s := range r.Sections {
		if s.Title == "Sources" {
			out := map[string][]string{}
			for _, row := range s.Rows {
				out[row[0]] = row
			}
			return out
		}
	}
	t.Fatalf("report has no Sources section")
	return nil
}

// registered lists the names "repo --sources" accepts in this build.
func registered() []string { return availableSources((&App{}).sourceRegistry()) }

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

func TestRepoCommand(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	ans, err := gitgen.Generate(ctx, repo, gitgen.Options{Seed: 5, Commits: 40, SubmoduleCommits: 3})
	if err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(tmp, "trail")
	commits := ans.Commits + ans.Submodule.Commits

	// First run: both sources, everything recorded.
	code, out, errOut := runCLI(t, "--audit-dir", auditDir, "repo", "--format=json", repo)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := gitReportJSON(t, out)
	stored := storedBySource(t, auditDir)
	if got := stored["git_source git_commit"]; got != commits {
		t.Errorf("trail holds %d git_commit records, want %d", got, commits)
	}
	files := stored["file_source file_hash"]
	if files == 0 {
		t.Errorf("trail holds no file_hash records: %v", stored)
	}
	all := total(stored, "")
	if got := summaryValue(t, r, "Records appended"); got != strconv.Itoa(all) {
		t.Errorf("report says %s records appended, trail holds %d", got, all)
	}
	if got := summaryValue(t, r, "Sources"); got != strings.Join(registered(), ", ") {
		t.Errorf("Sources = %q", got)
	}
	if got := summaryValue(t, r, "Commits"); got != strconv.Itoa(commits) {
		t.Errorf("Commits = %s, want %d", got, commits)
	}
	rows := sourceRows(t, r)
	if got, want := rows["git"][1], strconv.Itoa(total(stored, "git_source")); got != want || rows["git"][5] != "ok" {
		t.Errorf("git row %v, want %s records, ok", rows["git"], want)
	}
	if got, want := rows["file"][1], strconv.Itoa(total(stored, "file_source")); got != want || rows["file"][5] != "ok" {
		t.Errorf("file row %v, want %s records, ok", rows["file"], want)
	}
	titles := map[string]bool{}
	for _, s := range r.Sections {
		titles[s.Title] = true
	}
	for _, want := range []string{"Sources", "git summary", "Authors", "Hotspots", "file summary", "Files by extension"} {
		if !titles[want] {
			t.Errorf("report lacks section %q (has %v)", want, titles)
		}
	}

	// Second run: nothing changed, so the git and file sources append
	// nothing (other sources may record a snapshot per run; the report
	// accounts for every record).
	code, out, errOut = runCLI(t, "--audit-dir", auditDir, "repo", "--format=json", repo)
	if code != exitOK {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	r = gitReportJSON(t, out)
	rows = sourceRows(t, r)
	if rows["git"][1] != "0" || rows["file"][1] != "0" {
		t.Errorf("second run: git appended %s, file appended %s; want 0 and 0", rows["git"][1], rows["file"][1])
	}
	before := all
	all = total(storedBySource(t, auditDir), "")
	if got := summaryValue(t, r, "Records appended"); got != strconv.Itoa(all-before) {
		t.Errorf("second run reports %s records appended, the trail grew by %d", got, all-before)
	}

	// A changed file: exactly one file record more, no git record.
	var changed string
	for p := range ans.Blame { // text files at HEAD
		if changed == "" || p < changed {
			changed = p
		}
	}
	if err := os.WriteFile(filepath.Join(repo, changed), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "--audit-dir", auditDir, "repo", "--format=json", repo)
	if code != exitOK {
		t.Fatalf("third run: exit %d: %s", code, errOut)
	}
	rows = sourceRows(t, gitReportJSON(t, out))
	if rows["git"][1] != "0" || rows["file"][1] != "1" {
		t.Errorf("after changing %s: git appended %s, file appended %s; want 0 and 1", changed, rows["git"][1], rows["file"][1])
	}

	// --sources=git on a new trail: only git records.
	gitOnly := filepath.Join(tmp, "trail-git")
	code, _, errOut = runCLI(t, "--audit-dir", gitOnly, "repo", "--sources=git", "--format=json", repo)
	if code != exitOK {
		t.Fatalf("--sources=git: exit %d: %s", code, errOut)
	}
	if got := storedBySource(t, gitOnly); total(got, "file_source") != 0 || got["git_source git_commit"] != commits {
		t.Errorf("--sources=git stored %v", got)
	}

	// An HTML report to a file, chosen by the file's extension.
	page := filepath.Join(tmp, "audit.html")
	code, out, errOut = runCLI(t, "--audit-dir", auditDir, "repo", "--output", page, repo)
	if code != exitOK {
		t.Fatalf("html: exit %d: %s", code, errOut)
	}
	if out != "" || !strings.Contains(errOut, "report written to "+page) {
		t.Errorf("with --output, stdout = %q, stderr = %q", out, errOut)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "<title>Repository audit of repo</title>", "<h2>Authors</h2>", "<svg"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(tmp, ".audit.html.*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	// The trail the runs built verifies, and query sees their records.
	code, _, errOut = runCLI(t, "--audit-dir", auditDir, "verify")
	if code != exitOK {
		t.Fatalf("verify: exit %d: %s", code, errOut)
	}
	code, out, errOut = runCLI(t, "--audit-dir", auditDir, "query", "--action=git_commit", "--limit=0", "--format=jsonl")
	if code != exitOK {
		t.Fatalf("query: exit %d: %s", code, errOut)
	}
	if got := strings.Count(out, "\n"); got != commits {
		t.Errorf("query found %d git_commit records, want %d", got, commits)
	}

	// The default format, piped: plain text, no escapes.
	code, out, errOut = runCLI(t, "--audit-dir", auditDir, "repo", repo)
	if code != exitOK {
		t.Fatalf("terminal: exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "Repository audit of repo\n") || strings.Contains(out, "\x1b") {
		t.Errorf("terminal report:\n%s", out)
	}
}

// A source that fails does not stop the other: in a repository whose
// branch points to a missing commit the git source fails, the file source
// records, the report says which failed and the exit status is 1.
func TestRepoCommandFailingSource(t *testing.T) {
	needGit(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "broken")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"a.txt": "a\n", "sub/b.go": "package b\n", "c.md": "# c\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=a", "-c", "user.email=a@example.com", "commit", "-qm", "one"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "refs", "heads", "main"), []byte(strings.Repeat("12", 20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(tmp, "trail")
	code, out, errOut := runCLI(t, "--audit-dir", auditDir, "repo", "--format=json", dir)
	if code != exitError {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitError, errOut)
	}
	if want := fmt.Sprintf("1 of %d sources failed (git)", len(registered())); !strings.Contains(errOut, want) {
		t.Errorf("stderr does not say which source failed:\n%s", errOut)
	}
	r := gitReportJSON(t, out)
	rows := sourceRows(t, r)
	if !strings.HasPrefix(rows["git"][5], "failed: ") {
		t.Errorf("git row %v, want failed", rows["git"])
	}
	if rows["file"][5] != "ok" || rows["file"][1] != "3" {
		t.Errorf("file row %v, want 3 records, ok", rows["file"])
	}
	if got := summaryValue(t, r, "Sources failed"); got != "1" {
		t.Errorf("Sources failed = %s", got)
	}
	if got := storedBySource(t, auditDir)["file_source file_hash"]; got != 3 {
		t.Errorf("trail holds %d file_hash records, want 3", got)
	}
}

func TestRepoCommandUsage(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "f.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	avail := strings.Join(registered(), ", ")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--sources=svn"}, "unknown source 'svn'; available: " + avail},
		{[]string{"--sources=git,,file"}, "empty source name"},
		{[]string{"--exit-code"}, "--exit-code needs --baseline"},
		{[]string{"--format=pdf"}, `unknown report format "pdf" (want one of terminal, json, yaml, markdown, csv, html, sarif, oscal)`},
		{[]string{filepath.Join(tmp, "missing")}, "no such file or directory"},
		{[]string{file}, "not a directory"},
		{[]string{tmp, tmp}, "accepts at most 1 arg"},
	}
	// The names of the specification that no source answers yet.
	for _, n := range plannedSources {
		if !slices.Contains(registered(), n) {
			tests = append(tests, struct {
				args []string
				want string
			}{[]string{"--sources=git," + n}, "source '" + n + "' is not available yet; available: " + avail})
		}
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			auditDir := filepath.Join(t.TempDir(), "trail")
			code, out, errOut := runCLI(t, append([]string{"--audit-dir", auditDir, "repo"}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not say %q", errOut, tc.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			// A usage error touches nothing.
			if _, err := os.Stat(auditDir); err == nil {
				t.Errorf("a usage error created the trail")
			}
		})
	}
}

// A repository whose file names and messages are not clean text reports in
// every format without failing, and no control character reaches the
// terminal or Markdown output.
func TestRepoCommandHostile(t *testing.T) {
	needGit(t)
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	if _, err := gitgen.Generate(context.Background(), repo, gitgen.Options{Seed: 3, Commits: 20, SubmoduleCommits: -1, Hostile: true}); err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(tmp, "trail")
	for _, format := range []string{"terminal", "json", "yaml", "markdown", "csv", "html"} {
		code, out, errOut := runCLI(t, "--audit-dir", auditDir, "repo", "--format="+format, repo)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, code, errOut)
		}
		if format == "terminal" || format == "markdown" {
			if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
				t.Errorf("%s output holds control character %q near %q", format, out[i], out[max(0, i-30):i])
			}
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// runCLI runs one command line and returns the exit code, stdout and
// stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLIWithInput(t, "", args...)
}

// runCLIWithInput runs one command line in-process with stdin.
func runCLIWithInput(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func summaryValue(t *testing.T, r *report.Report, label string) string {
	t.Helper()
	for _, it := range r.Summary {
		if it.Label == label {
			return it.Value
		}
	}
	t.Fatalf("report has no summary item %q: %+v", label, r.Summary)
	return ""
}

func gitReportJSON(t *testing.T, out string) *report.Report {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return &r
}

// storedCommits reads the git_commit records of the trail in auditDir.
func storedCommits(t *testing.T, auditDir string) map[string]int {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(auditDir, dbFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string]int{}
	for r, err := range s.Query(ctx, audit.Filter{Action: "git_commit", Limit: -1}) {
		if err != nil {
			t.Fatal(err)
		}
		out[r.Target+" "+r.Context["commit"].(string)]++
	}
	return out
}

func TestGitCommand(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	ans, err := gitgen.Generate(ctx, repo, gitgen.Options{Seed: 11, Commits: 80, SubmoduleCommits: 4})
	if err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(tmp, "trail")
	want := ans.Commits + ans.Submodule.Commits

	if code, _, errOut := runCLI(t, "--audit-dir", auditDir, "init"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}

	// First run: every commit is recorded and reported.
	code, out, errOut := runCLI(t, "--audit-dir", auditDir, "git", "--format=json", repo)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := gitReportJSON(t, out)
	if got := summaryValue(t, r, "Commits"); got != strconv.Itoa(want) {
		t.Errorf("Commits = %s, want %d", got, want)
	}
	if got := summaryValue(t, r, "New commits recorded"); got != strconv.Itoa(want) {
		t.Errorf("New commits recorded = %s, want %d", got, want)
	}
	titles := map[string]*report.Section{}
	for i := range r.Sections {
		titles[r.Sections[i].Title] = &r.Sections[i]
	}
	for _, s := range []string{"Authors", "Hotspots", "Commits per week", "Repositories"} {
		if titles[s] == nil {
			t.Errorf("report lacks the %q section", s)
		}
	}
	if a := titles["Authors"]; a != nil {
		// Top repository authors plus the submodule's, by e-mail.
		if len(a.Rows) != len(ans.PerAuthor)+len(ans.Submodule.PerAuthor) {
			t.Errorf("%d author rows, want %d", len(a.Rows), len(ans.PerAuthor)+len(ans.Submodule.PerAuthor))
		}
	}
	stored := storedCommits(t, auditDir)
	if len(stored) != want {
		t.Fatalf("trail holds %d commits, want %d", len(stored), want)
	}

	// Second run: nothing new, nothing appended.
	code, out, errOut = runCLI(t, "--audit-dir", auditDir, "git", "--format=json", "--repo", repo)
	if code != exitOK {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	r = gitReportJSON(t, out)
	if got := summaryValue(t, r, "Records appended"); got != "0" {
		t.Errorf("second run appended %s records", got)
	}
	if got := summaryValue(t, r, "Commits"); got != strconv.Itoa(want) {
		t.Errorf("second run reports %s commits, want %d", got, want)
	}

	// A new commit: exactly it is recorded.
	h, err := gitgen.Commit(ctx, repo, "Carol", "carol@example.com", time.Now().Add(-time.Hour), "late change", map[string]string{"late.txt": "x\n"})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "--audit-dir", auditDir, "git", "--format=json", "--since=2 days ago", repo)
	if code != exitOK {
		t.Fatalf("third run: exit %d: %s", code, errOut)
	}
	r = gitReportJSON(t, out)
	if got := summaryValue(t, r, "Commits"); got != "1" {
		t.Errorf("--since=2 days ago reports %s commits, want 1", got)
	}
	if got := summaryValue(t, r, "New commits recorded"); got != "1" {
		t.Errorf("third run recorded %s commits, want 1", got)
	}
	stored = storedCommits(t, auditDir)
	if len(stored) != want+1 || stored[". "+h] != 1 {
		t.Errorf("trail holds %d commits (new one %d times), want %d", len(stored), stored[". "+h], want+1)
	}
	for k, n := range stored {
		if n != 1 {
			t.Errorf("commit %s recorded %d times", k, n)
		}
	}

	// Blame of a file, written to a Markdown file.
	var file string
	var most int
	for p, m := range ans.Blame {
		if len(m) > most || len(m) == most && p < file {
			file, most = p, len(m)
		}
	}
	mdPath := filepath.Join(tmp, "blame.md")
	code, _, errOut = runCLI(t, "--audit-dir", auditDir, "git", "--repo", repo, "--file", filepath.Join(repo, file), "--blame", "--output", mdPath)
	if code != exitOK {
		t.Fatalf("blame run: exit %d: %s", code, errOut)
	}
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	for email := range ans.Blame[file] {
		if !strings.Contains(string(md), email) {
			t.Errorf("blame report lacks author %s:\n%s", email, md)
		}
	}
	if !strings.Contains(string(md), "## Blame of "+file) {
		t.Errorf("blame report lacks its section:\n%s", md)
	}
}

func TestGitCommandErrors(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	tmp := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"blame without file", []string{"git", "--blame", tmp}, exitUsage, "--blame needs --file"},
		{"bad date", []string{"git", "--since=last tuesday-ish", tmp}, exitUsage, "--since"},
		{"since after until", []string{"git", "--since=2024-02-01", "--until=2024-01-01", tmp}, exitUsage, "before until"},
		{"bad format", []string{"git", "--format=pdf", tmp}, exitUsage, "pdf"},
		{"two repositories", []string{"git", "--repo", tmp, tmp}, exitUsage, "either"},
		{"not a repository", []string{"git", tmp}, exitError, "is not a git repository (nor inside one)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--audit-dir", filepath.Join(tmp, ".audit")}, tt.args...)
			code, _, errOut := runCLI(t, args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.msg)
			}
			if n := strings.Count(errOut, "not a git repository"); n > 1 {
				t.Errorf("stderr says %d times that it is not a git repository:\n%s", n, errOut)
			}
		})
	}
	// A command that fails creates no trail.
	if _, err := os.Stat(filepath.Join(tmp, ".audit")); err == nil {
		t.Errorf("a failing git command created %s", filepath.Join(tmp, ".audit"))
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ami-orchestrator/ami-audit/report"
)

// copyModuleFixture copies the module source's fixture repository.
func copyModuleFixture(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "source", "module", "testdata", "repo")
	dst := filepath.Join(t.TempDir(), "repo")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func sectionByTitle(t *testing.T, r *report.Report, title string) report.Section {
	t.Helper()
	for _, s := range r.Sections {
		if s.Title == title {
			return s
		}
	}
	t.Fatalf("report has no section %q", title)
	return report.Section{}
}

func TestModuleCommand(t *testing.T) {
	repo := copyModuleFixture(t)
	trail := filepath.Join(t.TempDir(), "trail")

	// Every module, with tests and dependencies.
	code, out, errOut := runCLI(t, "--audit-dir", trail, "module", "--all", "--include-tests", "--include-dependencies", "--repo", repo, "--format=json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := gitReportJSON(t, out)
	for label, want := range map[string]string{
		"Modules": "14", "Files": "25", "Tests": "8 in 3 files", "Dependencies": "48",
		"Modules missing": "6", "Records appended": "14",
	} {
		if got := summaryValue(t, r, label); got != want {
			t.Errorf("%s = %q, want %q", label, got, want)
		}
	}
	stored := storedBySource(t, trail)
	if diff := cmp.Diff(map[string]int{"module_source module_audit": 14}, stored); diff != "" {
		t.Errorf("trail (-want +got):\n%s", diff)
	}
	var warned bool
	for _, w := range r.Warnings {
		if strings.HasPrefix(w, "domains/marketing: domains/marketing/pyproject.toml:5:14: ") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning naming the malformed manifest's file and line: %q", r.Warnings)
	}
	mods := sectionByTitle(t, r, "Modules")
	if got := mods.Rows[2]; got[0] != "base" || got[3] != "60" || got[8] != "3" || got[9] != "53.3%" {
		t.Errorf("base row = %v", got)
	}
	if c := sectionByTitle(t, r, "Code lines per module").Chart; c == nil || len(c.Labels) != 8 {
		t.Errorf("chart = %+v", c)
	}
	sectionByTitle(t, r, "Import graph")
	sectionByTitle(t, r, "Dependencies")

	// One module by its last path element, after its dependencies changed.
	changed, err := os.ReadFile(filepath.Join("testdata", "module", "base-pyproject-changed.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "base", "pyproject.toml"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	// and its lock file as uv lock leaves it (loguru gone, httpx in)
	lock, err := os.ReadFile(filepath.Join("testdata", "module", "base-uv-changed.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "base", "uv.lock"), lock, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "--audit-dir", trail, "module", "base", "--include-dependencies", "--repo", repo, "--format=json")
	if code != exitOK {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	r = gitReportJSON(t, out)
	if r.Title != "Module base of repo" || summaryValue(t, r, "Records appended") != "4" || summaryValue(t, r, "Dependency changes") != "3" {
		t.Errorf("second run: title %q, summary %v", r.Title, r.Summary)
	}
	changes := sectionByTitle(t, r, "Dependency changes").Rows
	want := [][]string{
		{"base", "added", "pypi", "httpx", "main", "-", "0.28.1"},
		{"base", "removed", "pypi", "loguru", "main", "0.7.3", "-"},
		{"base", "changed", "pypi", "pydantic", "main", ">=2.11 (2.11.9)", ">=2.12 (2.11.9)"},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("dependency changes (-want +got):\n%s", diff)
	}
	stored = storedBySource(t, trail)
	if diff := cmp.Diff(map[string]int{
		"module_source module_audit": 15, "module_source dependency_added": 1,
		"module_source dependency_removed": 1, "module_source dependency_changed": 1,
	}, stored); diff != "" {
		t.Errorf("trail after the second run (-want +got):\n%s", diff)
	}

	// HTML to a file, chosen by the extension.
	page := filepath.Join(t.TempDir(), "modules.html")
	code, _, errOut = runCLI(t, "--audit-dir", trail, "module", "--all", "--repo", repo, "--output", page)
	if code != exitOK {
		t.Fatalf("html: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "Code lines per module", "<svg", "launcher"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}

	// The trail verifies; query sees the records.
	if code, _, errOut := runCLI(t, "--audit-dir", trail, "verify"); code != exitOK {
		t.Fatalf("verify: exit %d: %s", code, errOut)
	}
	code, out, errOut = runCLI(t, "--audit-dir", trail, "query", "--action=dependency_added", "--format=jsonl")
	if code != exitOK {
		t.Fatalf("query: exit %d: %s", code, errOut)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"httpx"`) {
		t.Errorf("query --action=dependency_added = %q", out)
	}
}

func TestModuleCommandUsage(t *testing.T) {
	repo := copyModuleFixture(t)
	trail := filepath.Join(t.TempDir(), "trail")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"module", "--repo", repo}, "which module?"},
		{[]string{"module", "base", "--all", "--repo", repo}, "not both"},
		{[]string{"module", "nope", "--repo", repo}, `no such module "nope"`},
		{[]string{"module", "--all", "--repo", filepath.Join(repo, "no-such-dir")}, "no-such-dir"},
		{[]string{"module", "--all", "--repo", repo, "--format=nope"}, "nope"},
	} {
		code, _, errOut := runCLI(t, append([]string{"--audit-dir", trail}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut, exitUsage, tc.msg)
		}
	}
}

func TestRepoWithModuleSource(t *testing.T) {
	repo := copyModuleFixture(t)
	trail := filepath.Join(t.TempDir(), "trail")
	code, out, errOut := runCLI(t, "--audit-dir", trail, "repo", "--sources=module", "--analyzers=none", "--format=json", repo)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := gitReportJSON(t, out)
	if got := summaryValue(t, r, "Records appended"); got != "14" {
		t.Errorf("Records appended = %s, want 14", got)
	}
	sectionByTitle(t, r, "module summary")
	sectionByTitle(t, r, "Modules")
	// A repository without modules is not a failure of the source.
	empty := t.TempDir()
	if code, _, errOut := runCLI(t, "--audit-dir", trail, "repo", "--sources=module", "--format=json", empty); code != exitOK {
		t.Errorf("repository without modules: exit %d: %s", code, errOut)
	}
}

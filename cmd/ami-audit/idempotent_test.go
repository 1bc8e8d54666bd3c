package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
)

// recordKeys lists "source action target" of every record of the trail.
func recordKeys(t *testing.T, auditDir string) []string {
	t.Helper()
	var out []string
	for _, r := range allRecords(t, auditDir) {
		out = append(out, r.Source+" "+r.Action+" "+r.Target)
	}
	sort.Strings(out)
	return out
}

// newKeys returns the keys of after that before does not hold (as a
// multiset).
func newKeys(before, after []string) []string {
	n := map[string]int{}
	for _, k := range before {
		n[k]++
	}
	var out []string
	for _, k := range after {
		if n[k] > 0 {
			n[k]--
			continue
		}
		out = append(out, k)
	}
	return out
}

// TestRepoTwiceAppendsNothing: "repo" on an unchanged repository with
// history, logs, modules and a submodule appends nothing the second time;
// one change then appends exactly its records.
func TestRepoTwiceAppendsNothing(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	repo := filepath.Join(t.TempDir(), "repo")
	if _, err := gitgen.Generate(ctx, repo, gitgen.Options{Seed: 9, Commits: 30, SubmoduleCommits: 3}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"logs/app.log":      "2024-05-01 10:00:00 ERROR disk full on /dev/sda1\n2024-05-01 10:00:01 ERROR disk full on /dev/sdb1\n2024-05-01 10:00:02 WARNING queue depth 10 exceeds 5\n",
		"logs/api.json.log": `{"timestamp":"2024-05-01T10:00:00Z","level":"error","message":"timeout calling billing"}` + "\n",
		// a name holding a secret: its targets are masked, and must still
		// be recognised as unchanged
		"logs/upload-AKIAZ3MSJV4WRUWMW4YJ.log": "2024-05-01 10:00:00 ERROR upload failed with key AKIAZ3MSJV4WRUWMW4YJ\n",
		"services/api/pyproject.toml":          "[project]\nname = \"api\"\nversion = \"1.0\"\ndependencies = [\"requests>=2\"]\n",
		"services/api/api/main.py":             "import requests\n\n\ndef main():\n    return requests.get('http://x')\n",
	}
	if _, err := gitgen.Commit(ctx, repo, "Dana", "dana@example.com", time.Now().Add(-time.Hour), "add logs and a service", files); err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(repo, ".audit")
	run := func() {
		t.Helper()
		if code, _, errOut := runCLI(t, "--audit-dir", auditDir, "repo", "--format=json", repo); code != exitOK {
			t.Fatalf("repo: exit %d: %s", code, errOut)
		}
	}
	run()
	first := recordKeys(t, auditDir)
	run()
	second := recordKeys(t, auditDir)
	if added := newKeys(first, second); len(added) > 0 {
		t.Errorf("second run on an unchanged repository appended %d records:\n%q", len(added), added)
	}
	// One more error line in one log: that log's records and the file's,
	// and, the log being tracked by git, the drift analyzer's finding that
	// no commit explains the change.
	f, err := os.OpenFile(filepath.Join(repo, "logs", "app.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("2024-05-01 10:00:03 ERROR disk full on /dev/sdc1\n")
	f.Close()
	run()
	third := recordKeys(t, auditDir)
	want := []string{
		"drift_analyzer drift_finding logs/app.log",
		"file_source file_hash logs/app.log",
		"log_source log_file_summary logs/app.log",
		"log_source log_pattern logs",
	}
	sort.Strings(want)
	added := newKeys(second, third)
	sort.Strings(added)
	if len(added) != len(want) {
		t.Fatalf("after one change appended %q, want %q", added, want)
	}
	for i := range want {
		if added[i] != want[i] {
			t.Errorf("after one change appended %q, want %q", added, want)
			break
		}
	}
}

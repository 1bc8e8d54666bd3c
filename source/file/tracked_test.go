package file

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// TestTrackedFilesIgnoreRules: ignore rules leave out untracked paths
// only; tracked files they match are audited; what is left out is counted
// with its reason, and the trail's directory and git's are excluded.
func TestTrackedFilesIgnoreRules(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".gitignore":           "*backup*/\n*.meta\nbuild/\n",
		"src/a.go":             "package a\n",
		"db_backup/dump.sql":   "tracked dump\n",
		"db_backup/new.sql":    "untracked dump\n",
		"art/model.meta":       "tracked meta\n",
		"art/other.meta":       "untracked meta\n",
		"build/out.bin":        "untracked build\n",
		"trail/audit.db":       "the trail\n",
		"deploy/id_ed25519":    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
		".audit/config.yaml":   "origin: x\n",
		"notes/readme.txt":     "hello\n",
		"notes/old_backup/x.t": "untracked in an ignored dir\n",
	})
	gitRun(t, dir, "init", "-q")
	gitRun(t, dir, "add", "-f", ".gitignore", "src/a.go", "db_backup/dump.sql", "art/model.meta", "deploy/id_ed25519", "notes/readme.txt")
	gitRun(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")

	trail := &memTrail{}
	recs, entries := collect(t, Config{Root: dir, Exclude: exclude.New(filepath.Join(dir, "trail"))}, dir, trail)
	got := targets(recs)
	slices.Sort(got)
	want := []string{".gitignore", "art/model.meta", "db_backup/dump.sql", "deploy/id_ed25519", "notes/readme.txt", "src/a.go"}
	if !slices.Equal(got, want) {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if r := byTarget(recs)["deploy/id_ed25519"]; r == nil || r.Context["private_key"] != true {
		t.Errorf("private key file not marked: %v", r)
	}
	passed := map[string]Change{}
	for _, e := range entries {
		if e.Change == ChangeExcluded || e.Change == ChangeIgnored {
			if e.Reason == "" {
				t.Errorf("%s %s without a reason", e.Path, e.Change)
			}
			passed[e.Path] = e.Change
		}
	}
	wantPassed := map[string]Change{
		".git/": ChangeExcluded, ".audit/": ChangeExcluded, "trail/": ChangeExcluded,
		"db_backup/new.sql": ChangeIgnored, "art/other.meta": ChangeIgnored, "build/": ChangeIgnored,
		"notes/old_backup/": ChangeIgnored,
	}
	for p, c := range wantPassed {
		if passed[p] != c {
			t.Errorf("%s: %q, want %q (all: %v)", p, passed[p], c, passed)
		}
	}
	if len(passed) != len(wantPassed) {
		t.Errorf("passed %v, want %v", passed, wantPassed)
	}
	var tally Tally
	for _, e := range entries {
		tally.Observe(e)
	}
	if tally.Excluded != 3 || tally.Ignored != 4 {
		t.Errorf("tally excluded %d ignored %d, want 3 and 4", tally.Excluded, tally.Ignored)
	}
	// A second run appends nothing.
	if again, _ := collect(t, Config{Root: dir, Exclude: exclude.New(filepath.Join(dir, "trail"))}, dir, trail); len(again) != 0 {
		t.Errorf("second run recorded %q", targets(again))
	}
}

// TestEscapingIsReversible: a name holding a backslash and "n" and a name
// holding a newline get two targets, and a second run records neither.
func TestEscapingIsReversible(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a\\nb", "a\nb"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Skipf("file system refuses %q: %v", n, err)
		}
	}
	ageTree(t, dir)
	trail := &memTrail{}
	recs, _ := collect(t, Config{Root: dir}, dir, trail)
	if len(recs) != 2 || recs[0].Target == recs[1].Target {
		t.Fatalf("targets %q", targets(recs))
	}
	for _, r := range recs {
		raw, err := UnescapePath(r.Target, r.Context["path_escaped"] == true)
		if err != nil || r.Context["sha256"] != sha(raw) {
			t.Errorf("%q does not give its name back: %q %v", r.Target, raw, err)
		}
	}
	if again, _ := collect(t, Config{Root: dir}, dir, trail); len(again) != 0 {
		t.Errorf("second run recorded %q", targets(again))
	}
}

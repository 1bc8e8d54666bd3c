package file

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIncludeGit: the last commit of each file, from one git log pass per
// repository: files changed in different commits, a renamed file (its new
// name's commit), a name with a newline, an uncommitted file, and a nested
// repository with its own history.
func TestIncludeGit(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	commit := func(repo, msg, date string) string {
		t.Helper()
		gitRun(t, repo, "add", "-A")
		gitRun(t, repo, "-c", "user.name=Alice", "-c", "user.email=alice@example.com", "commit", "-q", "-m", msg, "--date", date)
		return strings.TrimSpace(gitRun(t, repo, "rev-parse", "HEAD"))
	}
	gitRun(t, dir, "init", "-q")
	writeTree(t, dir, map[string]string{"a.txt": "a", "b.txt": "b", "old-name.txt": "r", "odd\nname.txt": "n"})
	c1 := commit(dir, "one", "2024-01-01T00:00:00Z")
	writeTree(t, dir, map[string]string{"b.txt": "b2"})
	must(t, os.Rename(filepath.Join(dir, "old-name.txt"), filepath.Join(dir, "new-name.txt")))
	c2 := commit(dir, "two", "2024-02-01T00:00:00Z")
	writeTree(t, dir, map[string]string{"uncommitted.txt": "u"})

	nested := filepath.Join(dir, "mod")
	must(t, os.Mkdir(nested, 0o755))
	gitRun(t, nested, "init", "-q")
	writeTree(t, nested, map[string]string{"m.txt": "m"})
	c3 := commit(nested, "module", "2024-03-01T00:00:00Z")

	recs, entries := collect(t, Config{Root: dir, IncludeGit: true}, dir, nil)
	got := map[string]any{}
	for _, r := range recs {
		got[r.Target] = r.Context["git"]
	}
	at := func(hash, date string) map[string]any {
		return map[string]any{"commit": hash, "author": "Alice", "email": "alice@example.com", "date": date}
	}
	want := map[string]any{
		"a.txt":           at(c1, "2024-01-01T00:00:00Z"),
		"b.txt":           at(c2, "2024-02-01T00:00:00Z"),
		"new-name.txt":    at(c2, "2024-02-01T00:00:00Z"),
		`odd\nname.txt`:   at(c1, "2024-01-01T00:00:00Z"),
		"uncommitted.txt": map[string]any{"committed": false},
		"mod/m.txt":       at(c3, "2024-03-01T00:00:00Z"),
	}
	// git prints dates with the author's zone; normalise "+00:00"
	for k, v := range got {
		if m, ok := v.(map[string]any); ok {
			if d, ok := m["date"].(string); ok {
				m["date"] = strings.Replace(d, "+00:00", "Z", 1)
			}
			got[k] = m
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("git context (-want +got):\n%s", diff)
	}
	for _, e := range entries {
		if e.Change == ChangeNotice {
			t.Errorf("notice: %v", e.Warnings)
		}
	}

	// a single file asks git for one commit of that path
	recs, _ = collect(t, Config{Root: dir, IncludeGit: true}, filepath.Join(dir, "b.txt"), nil)
	if g, _ := recs[0].Context["git"].(map[string]any); g["commit"] != c2 {
		t.Errorf("single file: git %v, want commit %s", recs[0].Context["git"], c2)
	}

	// outside a repository: a notice, no git context, no failure
	plain := t.TempDir()
	writeTree(t, plain, map[string]string{"x": "x"})
	recs, entries = collect(t, Config{Root: plain, IncludeGit: true}, plain, nil)
	if len(recs) != 1 || recs[0].Context["git"] != nil {
		t.Errorf("outside a repository: %v", recs[0].Context["git"])
	}
	if len(entries) != 2 || entries[0].Change != ChangeNotice || !strings.Contains(entries[0].Warnings[0], "not in a git repository") {
		t.Errorf("outside a repository: entries %+v, want a notice first", entries)
	}
}

// TestIncludeGitBrokenRepo: git failing (a corrupt repository) is a
// notice, not a failure of the run.
func TestIncludeGitBrokenRepo(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, ".git"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("garbage"), 0o644))
	writeTree(t, dir, map[string]string{"f.txt": "f"})
	recs, entries := collect(t, Config{Root: dir, IncludeGit: true}, dir, nil)
	if len(recs) != 1 || recs[0].Context["sha256"] != sha("f") {
		t.Fatalf("records %v", targets(recs))
	}
	var notices []string
	for _, e := range entries {
		if e.Change == ChangeNotice {
			notices = append(notices, e.Warnings...)
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "git history unavailable") {
		t.Errorf("notices %q, want one about git", notices)
	}
}

func FuzzGitLogParse(f *testing.F) {
	f.Add("\x00abc\x00A\x00a@b\x002024-01-01T00:00:00Z\x00\nx\x00y\x00\x00def\x00B\x00b@c\x00date\x00\x00")
	f.Add("\x00")
	f.Add("junk")
	f.Fuzz(func(t *testing.T, out string) {
		g := &gitHistory{byPath: map[string]int32{}}
		if err := g.parse(strings.NewReader(out)); err != nil {
			return
		}
		for p, i := range g.byPath {
			if int(i) >= len(g.commits) || p == "" {
				t.Fatalf("path %q points at commit %d of %d", p, i, len(g.commits))
			}
		}
	})
}

// TestIncludeGitUnchanged: a second run with IncludeGit over unchanged
// files appends nothing, and still gives every file its last commit.
func TestIncludeGitUnchanged(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	gitRun(t, dir, "init", "-q")
	writeTree(t, dir, map[string]string{"a.txt": "a", "sub/b.txt": "b"})
	gitRun(t, dir, "add", "-A")
	gitRun(t, dir, "-c", "user.name=Alice", "-c", "user.email=alice@example.com", "commit", "-q", "-m", "one")
	ageTree(t, dir)
	trail := &memTrail{}
	if recs, _ := collect(t, Config{Root: dir, IncludeGit: true}, dir, trail); len(recs) != 2 {
		t.Fatalf("first run: %d records", len(recs))
	}
	recs, entries := collect(t, Config{Root: dir, IncludeGit: true}, dir, trail)
	if len(recs) != 0 {
		t.Errorf("second run appended %q", targets(recs))
	}
	n := 0
	for _, e := range entries {
		if e.Change != ChangeUnchanged {
			continue
		}
		n++
		if !strings.Contains(e.Commit, "Alice") {
			t.Errorf("%s: last commit %q", e.Path, e.Commit)
		}
	}
	if n != 2 {
		t.Errorf("%d unchanged files, want 2", n)
	}
}

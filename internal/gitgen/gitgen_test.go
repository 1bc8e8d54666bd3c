package gitgen

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDeterministic(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := context.Background()
	o := Options{Seed: 42, Commits: 90, Hostile: true}
	a, err := Generate(ctx, filepath.Join(t.TempDir(), "a"), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(ctx, filepath.Join(t.TempDir(), "b"), o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Head != b.Head || a.Submodule.Head != b.Submodule.Head || len(a.Head) != 40 {
		t.Fatalf("same seed, different histories: %s %s", a.Head, b.Head)
	}
	o.Seed = 43
	c, err := Generate(ctx, filepath.Join(t.TempDir(), "c"), o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Head == a.Head {
		t.Fatal("different seeds, same history")
	}
	// The commit count matches git's.
	out, err := exec.Command("git", "-C", a.Dir, "rev-list", "--count", "--all").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(out))); n != a.Commits {
		t.Errorf("git counts %d commits, answers say %d", n, a.Commits)
	}
	if a.Merges == 0 || len(a.Renames) == 0 || a.Submodule.Commits != 20 {
		t.Errorf("history lacks merges, renames or the submodule: %d %d %d", a.Merges, len(a.Renames), a.Submodule.Commits)
	}
}

func TestPlantSecrets(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	if _, err := Generate(ctx, dir, Options{Commits: 20, SubmoduleCommits: 3}); err != nil {
		t.Fatal(err)
	}
	ans, err := PlantSecrets(ctx, dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, s := range ans.Secrets {
		kinds[s.Kind] = true
		repo := filepath.Join(dir, s.Repo)
		data, err := os.ReadFile(filepath.Join(repo, s.Path))
		inTree := err == nil && strings.Contains(string(data), s.Value)
		if inTree != s.InTree {
			t.Errorf("%s in %s: in the working tree %v, answers say %v", s.Kind, s.Path, inTree, s.InTree)
		}
		// Every secret is in its commit, at the line the answers give.
		show, err := output(ctx, repo, "show", s.Commit+":"+s.Path)
		if err != nil {
			t.Fatalf("%s: %v", s.Kind, err)
		}
		lines := strings.Split(string(show), "\n")
		first, _, _ := strings.Cut(s.Value, "\n")
		if s.Line < 1 || s.Line > len(lines) || !strings.Contains(lines[s.Line-1], first) {
			t.Errorf("%s: not at %s:%d in %s", s.Kind, s.Path, s.Line, s.Commit)
		}
	}
	if len(kinds) < 15 {
		t.Errorf("%d kinds of secrets, want at least 15", len(kinds))
	}
	if n := len(ans.InTree()); n == 0 || n == len(ans.Secrets) {
		t.Errorf("%d of %d secrets in the tree; want some in the tree and some only in the history", n, len(ans.Secrets))
	}
	// The same seed plants the same values.
	dir2 := t.TempDir()
	Generate(ctx, dir2, Options{Commits: 20, SubmoduleCommits: 3})
	ans2, err := PlantSecrets(ctx, dir2, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ans.Secrets {
		if ans.Secrets[i].Value != ans2.Secrets[i].Value {
			t.Fatalf("seed 7 planted different values")
		}
	}
}

// TestPatterns checks the planted patterns' answers against git itself.
func TestPatterns(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	ctx := t.Context()
	ans, err := Generate(ctx, filepath.Join(t.TempDir(), "r"), Options{Seed: 3, Commits: 120, Plant: true})
	if err != nil {
		t.Fatal(err)
	}
	p := ans.Patterns
	git := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", ans.Dir}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	commitsOf := func(path string) []string { return git("log", "--format=%H", "main", "--", path) }
	a, b := commitsOf(p.Coupled[0]), commitsOf(p.Coupled[1])
	if len(a) != p.CoupledCommits || strings.Join(a, " ") != strings.Join(b, " ") {
		t.Errorf("coupled files: %d and %d commits, want the same %d", len(a), len(b), p.CoupledCommits)
	}
	if n := len(commitsOf(p.Hotspot)); n != p.HotspotCommits || n < 20 {
		t.Errorf("hotspot: %d commits, answers say %d", n, p.HotspotCommits)
	}
	if got := git("cat-file", "-s", p.LargeBinaryCommit+":"+p.LargeBinary); len(got) != 1 || got[0] != strconv.FormatInt(p.LargeBinarySize, 10) {
		t.Errorf("large binary size %v, want %d", got, p.LargeBinarySize)
	}
	if len(p.BadMessages) != 3 {
		t.Errorf("%d bad messages, want 3", len(p.BadMessages))
	}
	for h, msg := range p.BadMessages {
		if got := git("log", "-1", "--format=%B", h); strings.Join(got, " ") != msg {
			t.Errorf("commit %s: message %q, want %q", h, got, msg)
		}
	}
	authors := git("log", "--format=%ae", "main", "--", p.SoloModule)
	if len(authors) != p.SoloCommits {
		t.Errorf("solo module: %d commits, want %d", len(authors), p.SoloCommits)
	}
	for _, e := range authors {
		if e != p.SoloAuthor {
			t.Errorf("solo module has a commit by %s", e)
		}
	}
	if n := len(git("log", "--format=%H", "--all", "--author="+p.SoloAuthor)); n != p.SoloCommits {
		t.Errorf("the solo author made %d commits, want %d", n, p.SoloCommits)
	}
	out, err := exec.Command("git", "-C", ans.Dir, "rev-list", "--count", "--all").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(out))); n != ans.Commits {
		t.Errorf("git counts %d commits, answers say %d", n, ans.Commits)
	}
}

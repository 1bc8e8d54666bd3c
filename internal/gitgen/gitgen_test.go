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

package gitgen

import (
	"context"
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

package git

import (
	"encoding/json"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"os"
	"slices"
	"strings"

	"context"
	"errors"
	audit "github.com/ami-orchestrator/ami-audit"
	"path/filepath"
	"testing"
	"time"

	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
)

// TestPointerBumpsAreNotChurn: moving a submodule's pointer is counted as
// a pointer bump, not as lines changed, and the submodule is no hotspot.
func TestPointerBumpsAreNotChurn(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	ans, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 4, Commits: 60, SubmoduleCommits: 6})
	if err != nil {
		t.Fatal(err)
	}
	stats := NewStats()
	src, err := New(Config{OnCommit: stats.Add})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(ctx, src, dir, &memTrail{}); err != nil {
		t.Fatal(err)
	}
	sub := ans.Submodule.Path
	if stats.PointerBumps == 0 {
		t.Fatalf("no pointer bumps counted for submodule %s", sub)
	}
	for _, h := range stats.Hotspots(0) {
		if h.Path == sub {
			t.Errorf("submodule %s is a hotspot: %+v", sub, h)
		}
	}
	var added int64
	for p, l := range ans.Files {
		if p != sub {
			added += l.Added
		}
	}
	if stats.Added < added {
		t.Errorf("lines added %d, want at least %d", stats.Added, added)
	}
}

// TestBlameNeverReadsKeys: blame refuses a private key file and a file
// of the trail's directory.
func TestBlameNeverReadsKeys(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	files := map[string]string{
		"deploy/id_ed25519":  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
		".audit/config.yaml": "origin: x\n",
		"ok.txt":             "fine\n",
	}
	if _, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 1, Commits: 3, SubmoduleCommits: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := gitgen.Commit(ctx, dir, "A", "a@example.com", time.Now(), "init", files); err != nil {
		t.Fatal(err)
	}
	for f, excluded := range map[string]bool{"deploy/id_ed25519": true, ".audit/config.yaml": true, "ok.txt": false} {
		src, err := New(Config{Blame: true, File: f})
		if err != nil {
			t.Fatal(err)
		}
		_, err = collect(ctx, src, dir, &memTrail{})
		if got := errors.Is(err, ErrExcluded); got != excluded {
			t.Errorf("blame %s: %v", f, err)
		}
	}
}

// TestSizesAndGitlinks: every file a commit record lists with content
// carries the size of that content, and submodule pointers are flagged.
func TestSizesAndGitlinks(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	ans, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 5, Commits: 40, SubmoduleCommits: 4})
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{NoSubmodules: true})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(ctx, src, dir, &memTrail{})
	if err != nil {
		t.Fatal(err)
	}
	var head *audit.Record
	gitlinks, sized := 0, 0
	for _, r := range byAction(recs, ActionCommit, ".") {
		if r.Context["commit"] == ans.Head {
			head = r
		}
		for _, f := range r.Context["files"].([]any) {
			m := f.(map[string]any)
			if m["path"] == ans.Submodule.Path {
				if m["gitlink"] != true || m["size"] != nil {
					t.Errorf("commit %v: submodule pointer %v", r.Context["commit"], m)
				}
				gitlinks++
			}
			if m["size"] != nil {
				sized++
			}
		}
	}
	if gitlinks == 0 || sized == 0 {
		t.Fatalf("%d gitlinks, %d sized files", gitlinks, sized)
	}
	if head == nil {
		t.Fatal("no record of HEAD")
	}
	// HEAD's changes are what the working tree holds.
	checked := 0
	for _, f := range head.Context["files"].([]any) {
		m := f.(map[string]any)
		p := m["path"].(string)
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil || m["gitlink"] == true {
			continue
		}
		if got := num(m["size"]); got != fi.Size() {
			t.Errorf("%s: size %d, want %d", p, got, fi.Size())
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("HEAD changed no file of the working tree")
	}
}

// TestNoSignatures: without the signature check the records say the
// same, less the signature status.
func TestNoSignatures(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 6, Commits: 30, SubmoduleCommits: -1}); err != nil {
		t.Fatal(err)
	}
	contexts := func(cfg Config) []map[string]any {
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := collect(ctx, src, dir, &memTrail{})
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for _, r := range byAction(recs, ActionCommit, "") {
			delete(r.Context, "signed")
			delete(r.Context, "signature_status")
			out = append(out, r.Context)
		}
		return out
	}
	with, without := contexts(Config{}), contexts(Config{NoSignatures: true})
	if len(with) != 30 {
		t.Fatalf("%d commits", len(with))
	}
	if diff := cmp.Diff(with, without); diff != "" {
		t.Errorf("records with and without the signature check (-with +without):\n%s", diff)
	}
}

// TestCommitOf: a commit read back from its record, after a round trip
// through JSON as a store returns it, is the commit walked (text that is
// not UTF-8 included).
func TestCommitOf(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 7, Commits: 40, SubmoduleCommits: 4, Hostile: true}); err != nil {
		t.Fatal(err)
	}
	walked := map[string]Commit{}
	src, err := New(Config{NoSubmodules: true, OnCommit: func(c *Commit) {
		x := *c
		x.Files = slices.Clone(c.Files)
		x.Parents = slices.Clone(c.Parents)
		for i := range x.Files {
			x.Files[i].Blob = "" // not recorded
		}
		x.New, x.Message = false, strings.TrimSpace(x.Subject()+"\n\n"+x.Body())
		walked[c.Hash] = x
	}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(ctx, src, dir, &memTrail{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var c Commit
	for _, r := range byAction(recs, ActionCommit, "") {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back audit.Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !CommitOf(&back, &c) {
			t.Fatalf("record of %v not read back", r.Context["commit"])
		}
		c.Message = strings.TrimSpace(c.Message)
		if len(c.Files) == 0 {
			c.Files = nil
		}
		want := walked[c.Hash]
		if len(want.Files) == 0 {
			want.Files = nil
		}
		if diff := cmp.Diff(want, c, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("commit %s (-walked +read back):\n%s", c.Hash, diff)
		}
		n++
	}
	if n != len(walked) || n < 40 {
		t.Errorf("%d commits read back, %d walked", n, len(walked))
	}
	if CommitOf(&audit.Record{Source: SourceName, Action: ActionAuthors}, &c) {
		t.Error("an authors record is read as a commit")
	}
}

package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
)

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

// fixture is a generated repository shared by the tests that only read
// it.
var fixture struct {
	once sync.Once
	dir  string
	ans  *gitgen.Answers
	err  error
}

func generated(t *testing.T) (string, *gitgen.Answers) {
	t.Helper()
	needGit(t)
	fixture.once.Do(func() {
		dir, err := os.MkdirTemp("", "gitsrc-fixture-")
		if err != nil {
			fixture.err = err
			return
		}
		fixture.dir = filepath.Join(dir, "repo")
		fixture.ans, fixture.err = gitgen.Generate(context.Background(), fixture.dir, gitgen.Options{Seed: 7, Commits: 400, Hostile: true})
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.dir, fixture.ans
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(filepath.Dir(fixture.dir))
	}
	if benchRepo.tmp != "" {
		os.RemoveAll(benchRepo.tmp)
	}
	os.Exit(code)
}

// text reads a context string, undoing the escape when flagged.
func text(m map[string]any, key string) string {
	s, _ := m[key].(string)
	if esc, _ := m[key+"_escaped"].(bool); esc {
		return Unescape(s)
	}
	return s
}

func num(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	panic(fmt.Sprintf("not a number: %T %v", v, v))
}

func byAction(recs []*audit.Record, action, target string) []*audit.Record {
	var out []*audit.Record
	for _, r := range recs {
		if r.Action == action && (target == "" || r.Target == target) {
			out = append(out, r)
		}
	}
	return out
}

func TestKnownAnswers(t *testing.T) {
	dir, ans := generated(t)
	ctx := context.Background()
	src, err := New(Config{Recorded: &memTrail{}, MaxFiles: -1})
	if err != nil {
		t.Fatal(err)
	}
	trail := &memTrail{}
	src.cfg.Recorded = trail
	recs, err := collect(ctx, src, dir, trail)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			t.Fatalf("record %s %s: %v", r.Action, r.Target, err)
		}
		if r.Source != SourceName || r.TargetType != audit.TargetGit {
			t.Fatalf("record %s: source %q target type %q", r.Action, r.Source, r.TargetType)
		}
	}
	commits := byAction(recs, ActionCommit, ".")

	t.Run("commits per author", func(t *testing.T) {
		got := map[string]int{}
		for _, r := range commits {
			got[text(r.Context, "author_email")]++
			if want, _ := Escape(text(r.Context, "author_email")); r.Actor != want {
				t.Errorf("commit %s: actor %q, want the author e-mail %q", r.Context["commit"], r.Actor, want)
			}
		}
		if diff := cmp.Diff(ans.PerAuthor, got); diff != "" {
			t.Errorf("commits per author (-want +got):\n%s", diff)
		}
		if len(commits) != ans.Commits {
			t.Errorf("%d commit records, want %d", len(commits), ans.Commits)
		}
	})

	t.Run("lines per file", func(t *testing.T) {
		got := map[string]gitgen.Lines{}
		for _, r := range commits {
			for _, f := range r.Context["files"].([]any) {
				fm := f.(map[string]any)
				p := text(fm, "path")
				l := got[p]
				l.Added += num(fm["added"])
				l.Removed += num(fm["removed"])
				l.Commits++
				if b, _ := fm["binary"].(bool); b {
					l.Binary++
				}
				got[p] = l
			}
		}
		if diff := cmp.Diff(ans.Files, got); diff != "" {
			t.Errorf("lines per file (-want +got):\n%s", diff)
		}
	})

	t.Run("renames", func(t *testing.T) {
		var got []gitgen.Rename
		for _, r := range commits {
			for _, f := range r.Context["files"].([]any) {
				fm := f.(map[string]any)
				if _, ok := fm["old_path"]; ok {
					got = append(got, gitgen.Rename{Commit: r.Context["commit"].(string), Old: text(fm, "old_path"), New: text(fm, "path")})
				}
			}
		}
		want := append([]gitgen.Rename(nil), ans.Renames...)
		less := func(s []gitgen.Rename) { sort.Slice(s, func(i, j int) bool { return s[i].Commit < s[j].Commit }) }
		less(want)
		less(got)
		if len(want) == 0 {
			t.Fatal("the generated history has no renames")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("renames (-want +got):\n%s", diff)
		}
	})

	t.Run("merges and timestamps", func(t *testing.T) {
		merges := 0
		for _, r := range commits {
			if r.Context["merge"] == true {
				merges++
				if len(r.Context["parents"].([]any)) != 2 {
					t.Errorf("merge %s has parents %v", r.Context["commit"], r.Context["parents"])
				}
			}
			cd, err := time.Parse(time.RFC3339, r.Context["committer_date"].(string))
			if err != nil || !cd.Equal(r.Timestamp) {
				t.Errorf("commit %s: timestamp %s, committer date %v", r.Context["commit"], r.Timestamp, r.Context["committer_date"])
			}
			if r.Context["signed"] != false || r.Context["signature_status"] != "N" {
				t.Errorf("commit %s: signed %v status %v, want unsigned", r.Context["commit"], r.Context["signed"], r.Context["signature_status"])
			}
		}
		if merges != ans.Merges || merges == 0 {
			t.Errorf("%d merges, want %d", merges, ans.Merges)
		}
		// Oldest first: the trail is in commit order.
		for i := 1; i < len(commits); i++ {
			if commits[i].Timestamp.Before(commits[0].Timestamp) {
				t.Fatalf("commit %d is older than the first one recorded", i)
			}
		}
	})

	t.Run("hostile text is escaped losslessly", func(t *testing.T) {
		found := map[string]bool{}
		for _, r := range commits {
			for _, f := range r.Context["files"].([]any) {
				fm := f.(map[string]any)
				found[text(fm, "path")] = true
				if p := fm["path"].(string); strings.ContainsRune(p, 0xfffd) {
					t.Errorf("path %q lost bytes", p)
				}
			}
			if strings.HasPrefix(text(r.Context, "subject"), "Subject \xff\xfe") {
				found["subject"] = true
				if r.Context["subject_escaped"] != true || r.Context["subject"] != `Subject \xff\xfe not UTF-8` {
					t.Errorf("subject %q escaped=%v", r.Context["subject"], r.Context["subject_escaped"])
				}
			}
		}
		for _, p := range []string{"odd\nname.txt", "bad-\xff\xfe.txt", `back\slash "quoted".txt`, "subject"} {
			if !found[p] {
				t.Errorf("%q not found in the records", p)
			}
		}
	})

	t.Run("submodule history", func(t *testing.T) {
		sub := byAction(recs, ActionCommit, "lib")
		got := map[string]int{}
		for _, r := range sub {
			got[r.Actor]++
		}
		if diff := cmp.Diff(ans.Submodule.PerAuthor, got); diff != "" {
			t.Errorf("submodule commits per author (-want +got):\n%s", diff)
		}
		if len(byAction(recs, ActionAuthors, "lib")) != 1 || len(byAction(recs, ActionRefs, "lib")) != 1 {
			t.Error("want one git_authors and one git_refs record for the submodule")
		}
	})

	t.Run("authors summary", func(t *testing.T) {
		a := byAction(recs, ActionAuthors, ".")
		if len(a) != 1 {
			t.Fatalf("%d git_authors records, want 1", len(a))
		}
		got := map[string]int{}
		for _, x := range a[0].Context["authors"].([]any) {
			m := x.(map[string]any)
			got[text(m, "email")] = int(num(m["commits"]))
		}
		if diff := cmp.Diff(ans.PerAuthor, got); diff != "" {
			t.Errorf("git_authors (-want +got):\n%s", diff)
		}
	})

	t.Run("refs", func(t *testing.T) {
		r := byAction(recs, ActionRefs, ".")
		if len(r) != 1 {
			t.Fatalf("%d git_refs records, want 1", len(r))
		}
		names := func(key string) map[string]string {
			m := map[string]string{}
			for _, x := range r[0].Context[key].([]any) {
				e := x.(map[string]any)
				m[text(e, "name")] = e["commit"].(string)
			}
			return m
		}
		if diff := cmp.Diff(ans.Branches, names("branches")); diff != "" {
			t.Errorf("branches (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(ans.Tags, names("tags")); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
		if r[0].Context["head"] != "refs/heads/main" {
			t.Errorf("head %v", r[0].Context["head"])
		}
	})
}

func TestIncremental(t *testing.T) {
	needGit(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	ans, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 3, Commits: 120, SubmoduleCommits: 5})
	if err != nil {
		t.Fatal(err)
	}
	trail := &memTrail{}
	src, err := New(Config{Recorded: trail})
	if err != nil {
		t.Fatal(err)
	}
	first, err := collect(ctx, src, dir, trail)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(byAction(first, ActionCommit, "")); n != ans.Commits+5 {
		t.Fatalf("first run: %d commits, want %d", n, ans.Commits+5)
	}
	again, err := collect(ctx, src, dir, trail)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second run over an unchanged repository appended %d records, first %s %s", len(again), again[0].Action, again[0].Target)
	}
	when := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h1, err := gitgen.Commit(ctx, dir, "New Person", "new@example.com", when, "one", map[string]string{"new.txt": "a\nb\n"})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := gitgen.Commit(ctx, dir, "New Person", "new@example.com", when.Add(time.Hour), "two", map[string]string{"new.txt": "a\nb\nc\n"})
	if err != nil {
		t.Fatal(err)
	}
	third, err := collect(ctx, src, dir, trail)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range byAction(third, ActionCommit, "") {
		got = append(got, r.Context["commit"].(string))
	}
	if diff := cmp.Diff([]string{h1, h2}, got); diff != "" {
		t.Errorf("third run commits (-want +got):\n%s", diff)
	}
	var actions []string
	for _, r := range third {
		actions = append(actions, r.Action+" "+r.Target)
	}
	want := []string{"git_commit .", "git_commit .", "git_authors .", "git_refs ."}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("third run records (-want +got):\n%s", diff)
	}
	// A filtered run after a full one finds nothing new either.
	src2, _ := New(Config{Recorded: trail, Author: "new@example.com"})
	if recs, err := collect(ctx, src2, dir, trail); err != nil || len(recs) != 0 {
		t.Errorf("filtered run: %d records, %v", len(recs), err)
	}
	// Every commit is in the trail exactly once.
	seen := map[string]bool{}
	for _, r := range trail.Records() {
		if r.Action != ActionCommit {
			continue
		}
		h := r.Target + " " + r.Context["commit"].(string)
		if seen[h] {
			t.Fatalf("commit %s recorded twice", h)
		}
		seen[h] = true
	}
}

// TestIncrementalWithLister runs the incremental check through the
// optional ContextLister capability.
func TestIncrementalWithLister(t *testing.T) {
	dir, ans := generated(t)
	ctx := context.Background()
	trail := &listerTrail{}
	src, _ := New(Config{Recorded: trail})
	first, err := collect(ctx, src, dir, trail)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(byAction(first, ActionCommit, ".")); n != ans.Commits {
		t.Fatalf("first run: %d commits, want %d", n, ans.Commits)
	}
	again, err := collect(ctx, src, dir, trail)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 || trail.listed == 0 || trail.queried != 0 {
		t.Fatalf("second run appended %d records; listed %d times, queried %d times", len(again), trail.listed, trail.queried)
	}
}

func TestFilters(t *testing.T) {
	dir, ans := generated(t)
	ctx := context.Background()
	all := map[string]*audit.Record{}
	src, _ := New(Config{NoSubmodules: true})
	full, err := collect(ctx, src, dir, &memTrail{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range byAction(full, ActionCommit, ".") {
		all[r.Context["commit"].(string)] = r
	}
	since := full[len(full)/4].Timestamp
	until := full[len(full)/2].Timestamp
	tests := []struct {
		name string
		cfg  Config
		keep func(*audit.Record) bool
	}{
		{"author", Config{Author: "author01@example.com"}, func(r *audit.Record) bool { return r.Actor == "author01@example.com" }},
		{"since", Config{Since: since}, func(r *audit.Record) bool { return !r.Timestamp.Before(since) }},
		{"since and until", Config{Since: since, Until: until}, func(r *audit.Record) bool {
			return !r.Timestamp.Before(since) && !r.Timestamp.After(until)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.NoSubmodules = true
			src, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := collect(ctx, src, dir, &memTrail{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, r := range byAction(recs, ActionCommit, ".") {
				got[r.Context["commit"].(string)] = true
			}
			want := map[string]bool{}
			for h, r := range all {
				if tt.keep(r) {
					want[h] = true
				}
			}
			if len(want) == 0 || len(want) == len(all) {
				t.Fatalf("the filter keeps %d of %d commits: not a useful test", len(want), len(all))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("commits (-want +got):\n%s", diff)
			}
		})
	}
	_ = ans
}

// TestFileFollowsRenames checks that --file walks a file's history
// through its renames, and that the records still list whole commits.
func TestFileFollowsRenames(t *testing.T) {
	dir, ans := generated(t)
	ctx := context.Background()
	src, _ := New(Config{NoSubmodules: true, MaxFiles: -1})
	full, err := collect(ctx, src, dir, &memTrail{})
	if err != nil {
		t.Fatal(err)
	}
	commits := byAction(full, ActionCommit, ".")
	// The newest rename whose old path had history of its own.
	var file string
	for i := len(ans.Renames) - 1; i >= 0 && file == ""; i-- {
		r := ans.Renames[i]
		if ans.Files[r.Old].Commits > 1 && ans.Blame[r.New] != nil {
			file = r.New
		}
	}
	if file == "" {
		t.Fatal("no renamed file with history in the generated repository")
	}
	// Expected: walking back from the newest commit, the commits that
	// touched the file under its name at the time.
	want := map[string]bool{}
	name := file
	for i := len(commits) - 1; i >= 0; i-- {
		for _, f := range commits[i].Context["files"].([]any) {
			fm := f.(map[string]any)
			if text(fm, "path") == name {
				want[commits[i].Context["commit"].(string)] = true
				if old := text(fm, "old_path"); old != "" {
					name = old
				}
			}
		}
	}
	fsrc, err := New(Config{File: file, NoSubmodules: true})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(ctx, fsrc, dir, &memTrail{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range byAction(recs, ActionCommit, ".") {
		h := r.Context["commit"].(string)
		got[h] = true
		if num(r.Context["files_changed"]) != num(all(commits, h).Context["files_changed"]) {
			t.Errorf("commit %s: a --file run lists %v files, the full run %v", h, r.Context["files_changed"], all(commits, h).Context["files_changed"])
		}
	}
	if name == file {
		t.Fatalf("expected history walked back past a rename of %s", file)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commits of %s (-want +got):\n%s", file, diff)
	}
}

func all(recs []*audit.Record, hash string) *audit.Record {
	for _, r := range recs {
		if r.Context["commit"] == hash {
			return r
		}
	}
	return nil
}

func TestBlame(t *testing.T) {
	dir, ans := generated(t)
	ctx := context.Background()
	// The file with the most authors, and a renamed one.
	var files []string
	best, most := "", 0
	for p, m := range ans.Blame {
		if len(m) > most || len(m) == most && p < best {
			best, most = p, len(m)
		}
	}
	files = append(files, best)
	for i := len(ans.Renames) - 1; i >= 0; i-- {
		if ans.Blame[ans.Renames[i].New] != nil {
			files = append(files, ans.Renames[i].New)
			break
		}
	}
	files = append(files, "odd\nname.txt")
	if most < 2 || len(files) != 3 {
		t.Fatalf("generated repository lacks a useful blame target: %v (%d authors)", files, most)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			var seen *Blame
			trail := &memTrail{}
			src, err := New(Config{File: file, Blame: true, Recorded: trail, OnBlame: func(b *Blame) { seen = b }})
			if err != nil {
				t.Fatal(err)
			}
			recs, err := collect(ctx, src, dir, trail)
			if err != nil {
				t.Fatal(err)
			}
			b := byAction(recs, ActionBlame, "")
			if len(b) != 1 || seen == nil {
				t.Fatalf("%d git_blame records", len(b))
			}
			if want, _ := Escape(file); b[0].Target != want {
				t.Errorf("target %q, want %q", b[0].Target, want)
			}
			got := map[string]int64{}
			var total int64
			for _, x := range b[0].Context["authors"].([]any) {
				m := x.(map[string]any)
				got[text(m, "email")] = num(m["lines"])
				total += num(m["lines"])
			}
			if diff := cmp.Diff(ans.Blame[file], got); diff != "" {
				t.Errorf("lines per author (-want +got):\n%s", diff)
			}
			var aged int64
			for _, a := range seen.Ages {
				aged += a.Lines
			}
			if aged != total || num(b[0].Context["lines"]) != total {
				t.Errorf("ages count %d lines, authors %d, record %v", aged, total, b[0].Context["lines"])
			}
			// Unchanged: not recorded again.
			again, err := collect(ctx, src, dir, trail)
			if err != nil {
				t.Fatal(err)
			}
			if len(again) != 0 {
				t.Errorf("second blame run appended %d records", len(again))
			}
		})
	}
}

func TestAgeBuckets(t *testing.T) {
	rev := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	commits := map[string]*blameCommit{
		strings.Repeat("a", 40): {name: "A", email: "a@x", time: rev.Add(-24 * time.Hour)},
		strings.Repeat("b", 40): {name: "B", email: "b@x", time: rev.AddDate(0, -3, 0)},
		strings.Repeat("c", 40): {name: "C", email: "c@x", time: rev.AddDate(-3, 0, 0)},
	}
	groups := []blameGroup{
		{strings.Repeat("c", 40), 1, 5},
		{strings.Repeat("a", 40), 6, 2},
		{strings.Repeat("b", 40), 8, 3},
		{strings.Repeat("a", 40), 11, 1},
	}
	b := summarizeBlame(commits, groups, rev)
	want := []BlameAge{{"under 1 month", 3}, {"1-6 months", 3}, {"6-12 months", 0}, {"1-2 years", 0}, {"over 2 years", 5}}
	if diff := cmp.Diff(want, b.Ages); diff != "" {
		t.Errorf("ages (-want +got):\n%s", diff)
	}
	wantAuthors := []BlameAuthor{{"C", "c@x", 5, 1}, {"A", "a@x", 3, 1}, {"B", "b@x", 3, 1}}
	if diff := cmp.Diff(wantAuthors, b.Authors); diff != "" {
		t.Errorf("authors (-want +got):\n%s", diff)
	}
	if b.Lines != 11 || !b.Oldest.Equal(rev.AddDate(-3, 0, 0)) || !b.Newest.Equal(rev.Add(-24*time.Hour)) {
		t.Errorf("lines %d oldest %s newest %s", b.Lines, b.Oldest, b.Newest)
	}
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// corrupt overwrites the loose object of hash with garbage.
func corrupt(t *testing.T, gitDir, hash string) {
	t.Helper()
	p := filepath.Join(gitDir, "objects", hash[:2], hash[2:])
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte("this is not a zlib stream"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHostileRepositories(t *testing.T) {
	needGit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("not a repository", func(t *testing.T) {
		src, _ := New(Config{})
		err := src.Collect(ctx, t.TempDir(), func(*audit.Record) error { return nil })
		if !errors.Is(err, ErrNotRepository) || strings.Count(err.Error(), "not a git repository") != 1 {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("empty repository", func(t *testing.T) {
		dir := t.TempDir()
		gitRun(t, dir, "init", "-q", "-b", "main")
		src, _ := New(Config{})
		recs, err := collect(ctx, src, dir, &memTrail{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Action != ActionRefs {
			t.Fatalf("records: %v", recs)
		}
	})

	t.Run("corrupt blob", func(t *testing.T) {
		dir := t.TempDir()
		gitRun(t, dir, "init", "-q", "-b", "main")
		os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\n"), 0o644)
		gitRun(t, dir, "add", ".")
		gitRun(t, dir, "commit", "-q", "-m", "first")
		os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\ntwo\n"), 0o644)
		gitRun(t, dir, "commit", "-q", "-am", "second")
		corrupt(t, filepath.Join(dir, ".git"), gitRun(t, dir, "rev-parse", "HEAD~1:a.txt"))
		src, _ := New(Config{})
		_, err := collect(ctx, src, dir, &memTrail{})
		if err == nil || !errors.Is(err, ErrGit) && !errors.Is(err, ErrLogFormat) {
			t.Fatalf("err = %v, want a git error", err)
		}
		if !strings.Contains(err.Error(), dir) {
			t.Errorf("error %q does not name the repository", err)
		}
		t.Log(err)
	})

	t.Run("corrupt submodule is a warning", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "repo")
		if _, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 5, Commits: 30, SubmoduleCommits: 4}); err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, ".git", "modules", "lib")
		// Break every object of the submodule.
		objs, _ := filepath.Glob(filepath.Join(sub, "objects", "??", "*"))
		packs, _ := filepath.Glob(filepath.Join(sub, "objects", "pack", "*.pack"))
		if len(objs)+len(packs) == 0 {
			t.Fatal("the submodule has no objects")
		}
		for _, p := range append(objs, packs...) {
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		src, _ := New(Config{})
		recs, err := collect(ctx, src, dir, &memTrail{})
		if err != nil {
			t.Fatal(err)
		}
		w := byAction(recs, ActionWarning, "lib")
		if len(w) != 1 || w[0].Severity != audit.SeverityWarning {
			t.Fatalf("want one git_warning for lib, got %d", len(w))
		}
		t.Log(w[0].Context["error"])
		if len(byAction(recs, ActionCommit, ".")) == 0 {
			t.Error("the top repository's commits were not recorded")
		}
	})

	t.Run("emit error stops the walk", func(t *testing.T) {
		dir, _ := generated(t)
		src, _ := New(Config{})
		stop := errors.New("stop")
		n := 0
		err := src.Collect(ctx, dir, func(*audit.Record) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Fatalf("err = %v after %d records", err, n)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		dir, _ := generated(t)
		src, _ := New(Config{})
		cctx, cancel := context.WithCancel(ctx)
		n := 0
		err := src.Collect(cctx, dir, func(*audit.Record) error {
			n++
			if n == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestSignedCommits checks that an SSH-signed commit is recorded as
// signed, with git's status and the key, next to an unsigned one.
func TestSignedCommits(t *testing.T) {
	needGit(t)
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed: cannot make an SSH-signed commit")
	}
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	gitRun(t, dir, "init", "-q", "-b", "main")
	gitRun(t, dir, "commit", "-q", "--allow-empty", "-m", "unsigned")
	gitRun(t, dir, "-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "commit", "-q", "-S", "--allow-empty", "-m", "signed")
	src, _ := New(Config{})
	recs, err := collect(context.Background(), src, dir, &memTrail{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]any{}
	for _, r := range byAction(recs, ActionCommit, ".") {
		got[r.Context["subject"].(string)] = [2]any{r.Context["signed"], r.Context["signature_status"]}
		if r.Context["subject"] == "signed" && !strings.HasPrefix(fmt.Sprint(r.Context["signing_key"]), "SHA256:") {
			t.Errorf("signing_key = %v", r.Context["signing_key"])
		}
	}
	want := map[string][2]any{"unsigned": {false, "N"}, "signed": {true, "U"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("signatures (-want +got):\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"blame without file", Config{Blame: true}, false},
		{"since after until", Config{Since: now, Until: now.Add(-time.Hour)}, false},
		{"file outside", Config{File: "../x"}, false},
		{"absolute file", Config{File: "/etc/passwd"}, false},
		{"option as revision", Config{Revisions: []string{"--output=/tmp/x"}}, false},
		{"file and blame", Config{File: "a/b.go", Blame: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}

package git

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

// collectInto runs a source over dir and appends what it emits.
func collectInto(t testing.TB, src audit.Source, dir string, tr *memtrail.Trail) {
	t.Helper()
	ctx := context.Background()
	var recs []*audit.Record
	if err := src.Collect(ctx, dir, func(r *audit.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		if err := tr.Append(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
}

// planted builds a repository with the planted patterns and a trail
// holding its history and its modules.
func planted(t *testing.T) (*gitgen.Answers, *memtrail.Trail) {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "repo")
	ans, err := gitgen.Generate(context.Background(), dir, gitgen.Options{Seed: 11, Commits: 150, SubmoduleCommits: 8, Plant: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := &memtrail.Trail{}
	gs, err := gitsource.New(gitsource.Config{Recorded: tr})
	if err != nil {
		t.Fatal(err)
	}
	collectInto(t, gs, dir, tr)
	ms, err := module.New(module.Config{Root: dir, History: tr})
	if err != nil {
		t.Fatal(err)
	}
	collectInto(t, ms, "", tr)
	return ans, tr
}

func run(t *testing.T, a *Analyzer, tr *memtrail.Trail, root string) analyzer.Result {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := analyzer.Run(context.Background(), analyzer.Config{Trail: tr, Appender: tr, Now: func() time.Time { return now }},
		[]audit.Analyzer{a}, analyzer.Input{Target: root})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// byType groups the open findings' targets (or evidence) by type.
func byType(open []*audit.Record) map[string][]*audit.Record {
	m := map[string][]*audit.Record{}
	for _, r := range open {
		m[r.Findings[0].FindingType] = append(m[r.Findings[0].FindingType], r)
	}
	return m
}

func TestPlantedPatterns(t *testing.T) {
	ans, tr := planted(t)
	p := ans.Patterns
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, a, tr, ans.Dir)
	if diff := cmp.Diff(Checks, res.Done); diff != "" {
		t.Fatalf("checks done (-want +got):\n%s\nnotes: %v", diff, a.Notes())
	}
	found := byType(res.Open)

	t.Run("coupling", func(t *testing.T) {
		var planted *audit.Record
		for _, r := range found[TypeCoupling] {
			if r.Context["file"] == p.Coupled[1] && r.Context["coupled"] == p.Coupled[0] ||
				r.Context["file"] == p.Coupled[0] && r.Context["coupled"] == p.Coupled[1] {
				planted = r
			}
			if strings.HasPrefix(r.Context["file"].(string), ans.Submodule.Path) || r.Context["coupled"] == ans.Submodule.Path {
				t.Errorf("the submodule pointer is coupled: %v", r.Context)
			}
		}
		if planted == nil {
			t.Fatalf("the planted pair is not reported; coupling findings: %d", len(found[TypeCoupling]))
		}
		c := planted.Context
		if analyzer.IntMember(c, "degree") != 100 || analyzer.IntMember(c, "shared_revisions") != p.CoupledCommits {
			t.Errorf("planted pair: %v, want degree 100 over %d shared revisions", c, p.CoupledCommits)
		}
		if planted.Severity != audit.SeverityInfo {
			t.Errorf("a pair inside one module is %s", planted.Severity)
		}
	})

	t.Run("hotspot", func(t *testing.T) {
		spots := found[TypeHotspot]
		if len(spots) == 0 {
			t.Fatal("no hotspot")
		}
		var first *audit.Record
		for _, r := range spots {
			if analyzer.IntMember(r.Context, "rank") == 1 {
				first = r
			}
			if r.Target == ans.Submodule.Path {
				t.Errorf("the submodule pointer is a hotspot")
			}
		}
		if first == nil || first.Target != p.Hotspot || analyzer.IntMember(first.Context, "revisions") != p.HotspotCommits {
			t.Fatalf("first hotspot %v, want %s with %d revisions", first, p.Hotspot, p.HotspotCommits)
		}
		if analyzer.IntMember(first.Context, "complexity") < 50 {
			t.Errorf("hotspot complexity %v", first.Context["complexity"])
		}
	})

	t.Run("large files", func(t *testing.T) {
		var got []string
		for _, typ := range []string{TypeLargeFile, TypeLargeBinary} {
			for _, r := range found[typ] {
				got = append(got, typ+" "+r.Target+" "+r.Context["commit"].(string))
			}
		}
		want := []string{TypeLargeBinary + " " + p.LargeBinary + " " + p.LargeBinaryCommit}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("large files (-want +got):\n%s", diff)
		}
	})

	t.Run("messages", func(t *testing.T) {
		got := map[string]string{}
		for _, r := range found[TypeBadMessage] {
			got[r.Context["commit"].(string)] = r.Context["subject"].(string)
		}
		if diff := cmp.Diff(p.BadMessages, got); diff != "" {
			t.Errorf("bad messages (-want +got):\n%s", diff)
		}
	})

	t.Run("ownership", func(t *testing.T) {
		var sole []string
		for _, r := range found[TypeSoleAuthor] {
			sole = append(sole, r.Target)
		}
		if diff := cmp.Diff([]string{p.SoloModule}, sole); diff != "" {
			t.Errorf("modules with one author (-want +got):\n%s", diff)
		}
		var app *audit.Record
		for _, typ := range []string{TypeLowBusFactor, TypeDistribution} {
			for _, r := range found[typ] {
				if r.Target == "app" {
					app = r
				}
			}
		}
		if app == nil || analyzer.IntMember(app.Context, "authors") < 2 {
			t.Errorf("app's author distribution: %v", app)
		}
	})

	t.Run("frequency", func(t *testing.T) {
		var repos []string
		total := 0
		for _, r := range found[TypeFrequency] {
			repos = append(repos, r.Target)
			total += analyzer.IntMember(r.Context, "commits")
		}
		slices.Sort(repos)
		if diff := cmp.Diff([]string{".", ans.Submodule.Path}, repos); diff != "" {
			t.Errorf("repositories (-want +got):\n%s", diff)
		}
		if total != ans.Commits+ans.Submodule.Commits {
			t.Errorf("%d commits counted, want %d", total, ans.Commits+ans.Submodule.Commits)
		}
	})

	// Unchanged input: nothing appended.
	n := tr.Len()
	again := run(t, a, tr, ans.Dir)
	if again.Appended() != 0 || tr.Len() != n {
		t.Errorf("a second run appended %d records", again.Appended())
	}
}

// TestNewCommitsUpdate: a new commit with a bad message adds one finding
// and updates the figures it changes; nothing else is appended.
func TestNewCommitsUpdate(t *testing.T) {
	ans, tr := planted(t)
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, a, tr, ans.Dir)
	when := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	if _, err := gitgen.Commit(context.Background(), ans.Dir, "Sol Owner", ans.Patterns.SoloAuthor, when, "tmp", map[string]string{"solo/more.py": "x = 1\n"}); err != nil {
		t.Fatal(err)
	}
	gs, _ := gitsource.New(gitsource.Config{Recorded: tr})
	collectInto(t, gs, ans.Dir, tr)
	res := run(t, a, tr, ans.Dir)
	// New: the bad message. Changed: the top repository's frequency and
	// the solo module's ownership.
	if res.New != 1 || res.Changed != 2 || res.Resolved != 0 {
		t.Errorf("new %d, changed %d, resolved %d; want 1, 2, 0", res.New, res.Changed, res.Resolved)
	}
}

func TestMessageRules(t *testing.T) {
	cfg := Config{}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		subject string
		body    bool
		lines   int64
		files   int
		want    []string
	}{
		{"", false, 1, 1, []string{RuleEmpty}},
		{"wip", false, 1, 1, []string{RuleShort, RuleVague}},
		{"Fix.", false, 1, 1, []string{RuleShort, RuleVague}},
		{"WIP!!", false, 1, 1, []string{RuleShort, RuleVague}},
		{"Update", false, 1, 1, []string{RuleShort, RuleVague}},
		{"...", false, 1, 1, []string{RuleShort, RuleVague}},
		{"Fix typo", false, 1, 1, nil},
		{"Add the parser for lock files", false, 499, 19, nil},
		{"Add the parser for lock files", false, 500, 1, []string{RuleNoBody}},
		{"Add the parser for lock files", false, 10, 20, []string{RuleNoBody}},
		{"Add the parser for lock files", true, 5000, 200, nil},
		{"", true, 1, 1, []string{RuleShort, RuleVague}},
	}
	for _, tt := range tests {
		h := &history{cfg: cfg}
		h.messageCheck(&commit{subject: tt.subject, hasBody: tt.body, lines: tt.lines, nFiles: tt.files})
		var got []string
		if len(h.bad) > 0 {
			got = h.bad[0].rules
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q body %v lines %d files %d (-want +got):\n%s", tt.subject, tt.body, tt.lines, tt.files, diff)
		}
	}
	// Rules are configurable.
	cfg = Config{Messages: MessageRules{MinSubject: 20, Vague: []string{"tweak"}, Disable: []string{RuleNoBody}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &history{cfg: cfg}
	h.messageCheck(&commit{subject: "tweak", lines: 10000})
	h.messageCheck(&commit{subject: "wip on something long"})
	if len(h.bad) != 1 || !slices.Equal(h.bad[0].rules, []string{RuleShort, RuleVague}) {
		t.Errorf("configured rules: %+v", h.bad)
	}
	if err := (&Config{Messages: MessageRules{Disable: []string{"nope"}}}).Validate(); err == nil {
		t.Error("an unknown rule is accepted")
	}
}

// TestCouplingThresholds checks code-maat's thresholds on a small
// history: a, b always together (5 revisions), c with them only twice,
// d with a in a change set of 31 files (left out).
func TestCouplingThresholds(t *testing.T) {
	cfg := Config{}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &history{cfg: cfg, ids: map[string]int32{}, repos: map[string]*repoStats{}, byModule: map[string]*moduleStats{}}
	add := func(paths ...string) {
		c := &commit{repo: ".", hash: "h", author: "x@example.com", subject: "Change things here", authorDate: time.Unix(0, 0), time: time.Unix(0, 0)}
		for _, p := range paths {
			c.files = append(c.files, change{path: p, added: 1})
		}
		h.add(c)
	}
	for i := range 5 {
		if i < 2 {
			add("a", "b", "c")
		} else {
			add("a", "b")
		}
	}
	add("c")
	big := []string{"a", "d"}
	for i := range 29 {
		big = append(big, "f"+string(rune('A'+i)))
	}
	add(big...)
	for range 4 {
		add("d", "a")
	}
	var got []string
	err := h.coupling("", func(d audit.Detected) error {
		got = append(got, d.Evidence["file"].(string)+"+"+d.Evidence["coupled"].(string)+" "+
			strings.Join([]string{itoa(d.Evidence["degree"]), itoa(d.Evidence["shared_revisions"])}, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// a: 9 kept revisions, b: 5, d: 4 (the 31-file change set left out).
	// a+b: 5 shared, average 7 → 71%. a+d: 4 shared (< 5). c: 3 revisions.
	if diff := cmp.Diff([]string{"a+b 71/5"}, got); diff != "" {
		t.Errorf("coupling (-want +got):\n%s", diff)
	}
}

func itoa(v any) string {
	return strconv.Itoa(analyzer.IntMember(map[string]any{"v": v}, "v"))
}

// TestChurn: churn per file follows renames, leaves pointer bumps out and
// keeps every line the history changed.
func TestChurn(t *testing.T) {
	ans, tr := planted(t)
	churn, err := Churn(context.Background(), tr, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	p := ans.Patterns
	if got := churn[p.Hotspot]; got.Revisions != p.HotspotCommits || got.Lines != ans.Files[p.Hotspot].Added {
		t.Errorf("hotspot churn %+v, want %d revisions, %d lines", got, p.HotspotCommits, ans.Files[p.Hotspot].Added)
	}
	if _, ok := churn[ans.Submodule.Path]; ok {
		t.Error("the submodule pointer has churn")
	}
	var want, got int64
	for path, l := range ans.Files {
		if path != ans.Submodule.Path {
			want += l.Added + l.Removed
		}
	}
	for path, c := range churn {
		if !strings.HasPrefix(path, ans.Submodule.Path+"/") {
			got += c.Lines
		}
	}
	if got != want {
		t.Errorf("%d lines of churn in the top repository, want %d", got, want)
	}
	for _, r := range ans.Renames {
		if _, ok := churn[r.Old]; ok {
			if _, still := churn[r.New]; still {
				t.Errorf("renamed %s still has churn of its own beside %s", r.Old, r.New)
			}
		}
	}
	late, err := Churn(context.Background(), tr, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{})
	if err != nil || len(late) != 0 {
		t.Errorf("churn since 2100: %v, %v", late, err)
	}
}

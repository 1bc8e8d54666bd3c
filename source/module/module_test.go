package module

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/report"
)

// memHistory is an in-memory trail: enough of a store for Config.History.
type memHistory struct {
	mu   sync.Mutex
	recs []*audit.Record
}

func (h *memHistory) Append(_ context.Context, recs []*audit.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return err
		}
		// Store a copy that went through JSON, as a real store would.
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		var c audit.Record
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		h.recs = append(h.recs, &c)
	}
	return nil
}

func (h *memHistory) Query(_ context.Context, f audit.Filter) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		h.mu.Lock()
		recs := slices.Clone(h.recs)
		h.mu.Unlock()
		if f.Newest {
			slices.Reverse(recs)
		}
		n := 0
		for _, r := range recs {
			if !f.Match(r) {
				continue
			}
			if lim := f.EffectiveLimit(); lim >= 0 && n >= lim {
				return
			}
			n++
			if !yield(r, nil) {
				return
			}
		}
	}
}

func fixtureRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("testdata", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// copyTree copies the fixture repository so a test may change it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

type run struct {
	results map[string]*Result
	records []*audit.Record
	files   map[string]FileStat
}

func audit1(t *testing.T, cfg Config, target string) run {
	t.Helper()
	out := run{results: map[string]*Result{}, files: map[string]FileStat{}}
	var mu sync.Mutex
	cfg.OnFile = func(_ string, f FileStat) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := out.files[f.Path]; dup {
			t.Errorf("file %s measured twice", f.Path)
		}
		out.files[f.Path] = f
	}
	cfg.Now = func() time.Time { return time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC) }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Audit(context.Background(), target, func(res *Result, recs []*audit.Record) error {
		out.results[res.Module.Path] = res
		out.records = append(out.records, recs...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.records {
		if err := r.Validate(); err != nil {
			t.Errorf("record %s %s: %v", r.Action, r.Target, err)
		}
	}
	return out
}

func TestDiscover(t *testing.T) {
	mods, warnings := Discover(fixtureRoot(t), 3)
	type row struct {
		Path    string
		FoundBy []string
		Missing bool
		Go      string
	}
	var got []row
	for _, m := range mods {
		got = append(got, row{m.Path, m.FoundBy, m.Missing, m.GoModule})
	}
	want := []row{
		{".", []string{"manifest"}, false, ""},
		{"backend", []string{"modules.yaml:extended"}, true, ""},
		{"base", []string{"gitmodules", "modules.yaml:main", "modules.yaml:extended", "manifest"}, false, ""},
		{"browser", []string{"modules.yaml:main", "modules.yaml:extended"}, true, ""},
		{"compliance", []string{"modules.yaml:main", "modules.yaml:extended"}, true, ""},
		{"domains", []string{"gitmodules", "modules.yaml:main", "modules.yaml:extended", "manifest"}, false, ""},
		{"domains/marketing", []string{"manifest", "gitmodules"}, false, ""},
		{"files", []string{"modules.yaml:main", "modules.yaml:extended"}, true, ""},
		{"launcher", []string{"gitmodules", "manifest"}, false, "github.com/ami-orchestrator/launcher"},
		{"nodes", []string{"modules.yaml:main", "modules.yaml:extended"}, true, ""},
		{"scripts", []string{"manifest"}, false, ""},
		{"streams", []string{"modules.yaml:main", "modules.yaml:extended"}, true, ""},
		{"ux", []string{"gitmodules", "modules.yaml:main", "modules.yaml:extended", "manifest"}, false, ""},
		{"ux/cms", []string{"manifest"}, false, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	for _, m := range mods {
		if m.Path == "ux" && m.URL != "https://deploy:REDACTED@github.com/Independent-AI-Labs/AMI-UX.git" {
			t.Errorf("ux url = %q: credentials must be redacted", m.URL)
		}
		if m.Path == "base" {
			if diff := cmp.Diff([]string{"pyproject.toml", "uv.lock", "requirements-docs.txt"}, m.Manifests); diff != "" {
				t.Errorf("base manifests: %s", diff)
			}
		}
	}
}

// sccFile is one file of "scc --by-file --format json".
type sccFile struct {
	Language, Location                             string
	Lines, Code, Comment, Blank, Complexity, Bytes int64
}

func readSCC(t *testing.T, data []byte, prefix string) map[string]sccFile {
	t.Helper()
	var langs []struct{ Files []sccFile }
	if err := json.Unmarshal(data, &langs); err != nil {
		t.Fatal(err)
	}
	out := map[string]sccFile{}
	for _, l := range langs {
		for _, f := range l.Files {
			out[strings.TrimPrefix(filepath.ToSlash(f.Location), prefix)] = f
		}
	}
	return out
}

func compareWithSCC(t *testing.T, got map[string]FileStat, want map[string]sccFile) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("scc counted no files")
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: counted by scc, not by the module source", p)
			continue
		}
		gc := [6]int64{g.Lines, g.Code, g.Comment, g.Blank, g.Complexity, g.Bytes}
		wc := [6]int64{w.Lines, w.Code, w.Comment, w.Blank, w.Complexity, w.Bytes}
		if gc != wc || g.Language != w.Language {
			t.Errorf("%s: %s lines/code/comment/blank/complexity/bytes %v, scc says %s %v", p, g.Language, gc, w.Language, wc)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: counted by the module source, not by scc", p)
		}
	}
}

// TestLineCountsAgreeWithSCC compares every file's counts with those the
// scc command recorded in testdata/scc-by-file.json (see testdata/README).
func TestLineCountsAgreeWithSCC(t *testing.T) {
	r := audit1(t, Config{Root: fixtureRoot(t), IncludeTests: true, IncludeDependencies: true}, "")
	data, err := os.ReadFile(filepath.Join("testdata", "scc-by-file.json"))
	if err != nil {
		t.Fatal(err)
	}
	compareWithSCC(t, r.files, readSCC(t, data, "repo/"))
	// Module totals are the sums of their files.
	var sum Counts
	for _, res := range r.results {
		sum.add(res.Totals)
	}
	if sum.Files != int64(len(r.files)) {
		t.Errorf("modules hold %d files, %d were measured", sum.Files, len(r.files))
	}
}

// TestLineCountsAgreeWithSCCLive builds the scc command from the module
// cache and compares with a fresh run over the same tree.
func TestLineCountsAgreeWithSCCLive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds scc; skipped with -short (TestLineCountsAgreeWithSCC compares with recorded output)")
	}
	bin := sccBinary(t)
	root := fixtureRoot(t)
	cmd := exec.Command(bin, "--no-gitmodule", "--by-file", "--format", "json", ".")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scc: %v", err)
	}
	r := audit1(t, Config{Root: root}, "")
	compareWithSCC(t, r.files, readSCC(t, out, ""))
}

var sccBuild struct {
	once sync.Once
	path string
	err  error
}

// sccBinary returns the scc command: $SCC_BIN, or one built with "go
// build" from the module cache (scc/v3 is in go.mod).
func sccBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("SCC_BIN"); p != "" {
		return p
	}
	sccBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "scc-bin-")
		if err != nil {
			sccBuild.err = err
			return
		}
		sccBuild.path = filepath.Join(dir, "scc")
		cmd := exec.Command("go", "build", "-o", sccBuild.path, "github.com/boyter/scc/v3")
		if out, err := cmd.CombinedOutput(); err != nil {
			sccBuild.err = &buildError{err, string(out)}
		}
	})
	if sccBuild.err != nil {
		tb.Fatalf("building scc: %v", sccBuild.err)
	}
	return sccBuild.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestModuleKnownAnswers(t *testing.T) {
	r := audit1(t, Config{Root: fixtureRoot(t), IncludeTests: true, IncludeDependencies: true}, "")

	t.Run("records", func(t *testing.T) {
		var got []string
		for _, rec := range r.records {
			got = append(got, rec.Action+" "+rec.Target+" "+string(rec.Severity))
			if rec.Source != SourceName || rec.TargetType != audit.TargetModule || rec.Actor != "system" {
				t.Errorf("record %s: source %q type %q actor %q", rec.Target, rec.Source, rec.TargetType, rec.Actor)
			}
		}
		want := []string{
			"module_audit . info",
			"module_audit backend warning",
			"module_audit base info",
			"module_audit browser warning",
			"module_audit compliance warning",
			"module_audit domains info",
			"module_audit domains/marketing warning",
			"module_audit files warning",
			"module_audit launcher warning", // go.sum lacks a checksum
			"module_audit nodes warning",
			"module_audit scripts warning",
			"module_audit streams warning",
			"module_audit ux info",
			"module_audit ux/cms info",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})

	t.Run("tests", func(t *testing.T) {
		got := map[string][2]int64{}
		for p, res := range r.results {
			if res.Tests != nil && res.Tests.Files > 0 {
				got[p] = [2]int64{res.Tests.Files, res.Tests.Tests}
			}
		}
		want := map[string][2]int64{"base": {1, 3}, "launcher": {1, 2}, "ux/cms": {1, 3}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("test files and tests (-want +got):\n%s", diff)
		}
	})

	t.Run("coverage", func(t *testing.T) {
		type cov struct {
			File    string
			Format  string
			Covered int64
			Total   int64
			Rate    float64
		}
		got := map[string]cov{}
		for p, res := range r.results {
			if c := res.Coverage; c != nil {
				got[p] = cov{c.Reports[0].File, c.Reports[0].Format, c.Covered, c.Total, c.LineRate}
			}
		}
		want := map[string]cov{
			"base":     {"base/coverage.json", "coverage.py", 16, 30, 0.5333},
			"launcher": {"launcher/cover.out", "go", 5, 7, 0.7143},
			"ux/cms":   {"ux/cms/lcov.info", "lcov", 5, 5, 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("coverage (-want +got):\n%s", diff)
		}
		var lowest []string
		for _, f := range r.results["base"].Coverage.Lowest {
			lowest = append(lowest, f.Path)
		}
		if diff := cmp.Diff([]string{"base/backend/dataops.py", "base/backend/models.py"}, lowest); diff != "" {
			t.Errorf("least covered files of base (-want +got):\n%s", diff)
		}
		var uncovered []string
		for _, f := range r.results["base"].Coverage.MostUncovered {
			uncovered = append(uncovered, fmt.Sprintf("%s %d", f.Path, f.Total-f.Covered))
		}
		if diff := cmp.Diff([]string{"base/backend/dataops.py 10", "base/backend/models.py 4"}, uncovered); diff != "" {
			t.Errorf("files of base with most lines not covered (-want +got):\n%s", diff)
		}
		if p := r.results["launcher"].Coverage.Lowest[0].Path; p != "launcher/internal/run/run.go" {
			t.Errorf("go coverage path = %q, want it mapped into the repository", p)
		}
	})

	t.Run("dependencies", func(t *testing.T) {
		var got []string
		for _, d := range r.results["base"].Dependencies {
			got = append(got, strings.Join([]string{d.Ecosystem, d.Group, d.Name, d.Spec, d.Version, d.File}, " "))
		}
		want := []string{
			"pypi group:dev pytest ==8.4.1 8.4.1 base/pyproject.toml",
			"pypi main loguru  0.7.3 base/pyproject.toml",
			"pypi main pydantic >=2.11 2.11.9 base/pyproject.toml",
			"pypi main pyyaml ==6.0.2 6.0.2 base/pyproject.toml",
			"pypi requirements-docs mkdocs ==1.6.1 1.6.1 base/requirements-docs.txt",
			"pypi requirements-docs mkdocs-material >=9.5  base/requirements-docs.txt",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("base dependencies (-want +got):\n%s", diff)
		}
		got = nil
		for _, d := range r.results["ux/cms"].Dependencies {
			got = append(got, d.Group+" "+d.Name+" "+d.Spec+" "+d.Version)
		}
		want = []string{"dev typescript ~5.4.0 5.4.5", "dev vitest ^1.6.0 1.6.0", "main next ^14.2.3 14.2.5", "main react 18.3.1 18.3.1"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ux/cms dependencies (-want +got):\n%s", diff)
		}
		got = nil
		for _, d := range r.results["launcher"].Dependencies {
			got = append(got, d.Group+" "+d.Name+" "+d.Version)
		}
		want = []string{"main github.com/google/uuid v1.6.0", "main golang.org/x/sync v0.25.0"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("launcher dependencies (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"launcher/go.mod:7: go.sum has no checksum for golang.org/x/sync v0.25.0"}, r.results["launcher"].Warnings); diff != "" {
			t.Errorf("launcher warnings (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]LockSummary{{"base/uv.lock", 5}}, r.results["base"].Locks); diff != "" {
			t.Errorf("base locks: %s", diff)
		}
	})

	t.Run("malformed manifests", func(t *testing.T) {
		for mod, want := range map[string]string{
			"domains/marketing": "domains/marketing/pyproject.toml:5:14: basic strings cannot have new lines",
			"scripts":           "scripts/package.json:5:3: invalid character '}'",
		} {
			res := r.results[mod]
			if len(res.Warnings) == 0 || !strings.HasPrefix(res.Warnings[0], want) {
				t.Errorf("%s warnings = %q, want one starting %q", mod, res.Warnings, want)
			}
			if res.Totals.Files == 0 {
				t.Errorf("%s: still measured despite its manifest: got no files", mod)
			}
		}
	})

	t.Run("import graph", func(t *testing.T) {
		type summary struct {
			Edges              []Edge
			Internal, External int64
			ToModules          map[string]int64
		}
		got := map[string]summary{}
		for p, res := range r.results {
			i := res.Imports
			if i.Internal+i.External > 0 {
				got[p] = summary{i.Edges, i.Internal, i.External, i.ToModules}
			}
		}
		want := map[string]summary{
			// dataops.py: os, json external; three imports of its own
			// package. models.py: dataclasses. The test: pytest, and two
			// names from base.backend.dataops.
			"base":              {[]Edge{{"base/tests", "base/backend", 2}}, 5, 4, nil},
			"domains":           {[]Edge{{"domains", "base/backend", 1}}, 1, 0, map[string]int64{"base": 1}},
			"domains/marketing": {[]Edge{{"domains/marketing", "base/backend", 2}}, 2, 0, map[string]int64{"base": 2}},
			// main.go: fmt, os, and internal/run; run.go: errors, uuid;
			// run_test.go: testing.
			"launcher": {[]Edge{{"launcher/cmd/launch", "launcher/internal/run", 1}}, 1, 5, nil},
			"ux":       {nil, 0, 1, nil},
			// scripts/run is Python by its #! line.
			"scripts": {nil, 0, 1, nil},
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []Edge) bool { return cmp.Equal(a, b) || len(a)+len(b) == 0 })); diff != "" {
			t.Errorf("imports (-want +got):\n%s", diff)
		}
	})

	t.Run("totals", func(t *testing.T) {
		res := r.results["base"]
		// dataops.py, models.py, __init__.py, test_dataops.py (Python),
		// pyproject.toml (TOML), coverage.json (JSON), requirements-docs.txt
		// (Plain Text); debug.log is ignored by base/.gitignore.
		if res.Totals.Files != 7 {
			t.Errorf("base files = %d, want 7", res.Totals.Files)
		}
		if res.Languages[0].Language != "Python" || res.Languages[0].Code != 38 {
			t.Errorf("base first language = %+v, want Python with 38 code lines", res.Languages[0])
		}
		if res.TopFiles[0].Path != "base/backend/dataops.py" {
			t.Errorf("base largest file = %s", res.TopFiles[0].Path)
		}
		var complex []string
		for _, f := range res.ComplexFiles {
			complex = append(complex, fmt.Sprintf("%s %d", f.Path, f.Complexity))
		}
		if diff := cmp.Diff([]string{"base/backend/dataops.py 8", "base/backend/models.py 1"}, complex); diff != "" {
			t.Errorf("most complex files of base (-want +got):\n%s", diff)
		}
	})
}

func TestRecordContext(t *testing.T) {
	r := audit1(t, Config{Root: fixtureRoot(t), IncludeTests: true, IncludeDependencies: true}, "ux")
	if len(r.records) != 1 {
		t.Fatalf("%d records, want 1", len(r.records))
	}
	c := r.records[0].Context
	if c["module"] != "ux" || c["url"] != "https://deploy:REDACTED@github.com/Independent-AI-Labs/AMI-UX.git" {
		t.Errorf("module %v url %v", c["module"], c["url"])
	}
	if c["primary_language"] != "Python" || c["dependency_count"] != float64(1) {
		t.Errorf("primary_language %v dependency_count %v", c["primary_language"], c["dependency_count"])
	}
	if _, err := r.records[0].AppendCanonical(nil); err != nil {
		t.Errorf("context is not canonical JSON: %v", err)
	}
	// ux/cms is a module of its own: its files are not ux's.
	for _, f := range c["top_files"].([]any) {
		if p := f.(map[string]any)["path"].(string); strings.HasPrefix(p, "ux/cms/") {
			t.Errorf("ux lists %s, a file of ux/cms", p)
		}
	}
}

func TestTargets(t *testing.T) {
	s, err := New(Config{Root: fixtureRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	mods, _ := s.Modules()
	for target, want := range map[string]string{
		"marketing":          "domains/marketing",
		"domains/marketing/": "domains/marketing",
		"./ux/cms":           "ux/cms",
		"launcher":           "launcher",
		"base/backend":       "base/backend", // a directory, audited as a module
	} {
		got, err := s.selectModules(mods, target)
		if err != nil || len(got) != 1 || got[0].Path != want {
			t.Errorf("%q: %v, %v; want %s", target, got, err, want)
		}
	}
	for _, bad := range []string{"nope", "../outside"} {
		if _, err := s.selectModules(mods, bad); err == nil || !strings.Contains(err.Error(), "no such module") {
			t.Errorf("%q: error %v, want no such module", bad, err)
		}
	}
	all, err := s.selectModules(mods, fixtureRoot(t))
	if err != nil || len(all) != len(mods) {
		t.Errorf("root as target: %d modules, %v", len(all), err)
	}
}

func TestDependencyChanges(t *testing.T) {
	root := copyTree(t, fixtureRoot(t))
	h := &memHistory{}
	cfg := Config{Root: root, History: h, IncludeDependencies: true}
	first := audit1(t, cfg, "base")
	if len(first.records) != 1 {
		t.Fatalf("first run: %d records, want only the module record (nothing to compare with)", len(first.records))
	}
	if err := h.Append(context.Background(), first.records); err != nil {
		t.Fatal(err)
	}
	// Nothing changed: nothing recorded (the module record is the same).
	again := audit1(t, cfg, "base")
	if len(again.records) != 0 {
		t.Fatalf("unchanged run: %d records, want 0", len(again.records))
	}
	if err := h.Append(context.Background(), again.records); err != nil {
		t.Fatal(err)
	}
	py := `[project]
name = "ami-base"
dependencies = [
    "pydantic>=2.12",
    "pyyaml==6.0.2",
    "httpx==0.28.1",
]

[dependency-groups]
dev = ["pytest==8.4.1"]
`
	if err := os.WriteFile(filepath.Join(root, "base", "pyproject.toml"), []byte(py), 0o644); err != nil {
		t.Fatal(err)
	}
	// and the lock file as uv lock leaves it: loguru gone, httpx in
	lock := `version = 1
requires-python = ">=3.12"

[[package]]
name = "ami-base"
version = "0.4.0"
source = { editable = "." }

[[package]]
name = "httpx"
version = "0.28.1"

[[package]]
name = "pydantic"
version = "2.11.9"

[[package]]
name = "pyyaml"
version = "6.0.2"

[[package]]
name = "pytest"
version = "8.4.1"
`
	if err := os.WriteFile(filepath.Join(root, "base", "uv.lock"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	third := audit1(t, cfg, "base")
	var got []string
	for _, rec := range third.records[1:] {
		c := rec.Context
		line := rec.Action + " " + c["name"].(string)
		if o, ok := c["old"].(map[string]any); ok {
			line += " " + o["spec"].(string) + "@" + o["version"].(string)
		}
		if n, ok := c["new"].(map[string]any); ok {
			line += " -> " + n["spec"].(string) + "@" + n["version"].(string)
		}
		got = append(got, line)
	}
	want := []string{
		"dependency_added httpx -> ==0.28.1@0.28.1",
		"dependency_removed loguru @0.7.3",
		"dependency_changed pydantic >=2.11@2.11.9 -> >=2.12@2.11.9",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if n := third.records[0].Context["dependency_changes"]; n != float64(3) {
		t.Errorf("dependency_changes = %v, want 3", n)
	}
}

func TestHostileTree(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("m/pyproject.toml", "[project]\nname = \"m\"\n")
	write("m/a.py", "import m.b\n\xff\xfe invalid utf-8 \x00\n")
	write("m/bin.py", "x = 1\x00\x01\x02binary") // binary to scc: a NUL in code
	write("m/requirements.txt", "-r ../../../etc/passwd\nok==1\n")
	write("m/huge.py", strings.Repeat("x = 1\n", 1000))
	if err := os.Symlink("/etc", filepath.Join(root, "m", "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop", filepath.Join(root, "m", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "m", "unreadable.py"), []byte("x = 1\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	r := audit1(t, Config{Root: root, IncludeTests: true, IncludeDependencies: true, MaxFileBytes: 1000}, "m")
	res := r.results["m"]
	joined := strings.Join(res.Warnings, "\n")
	for _, want := range []string{
		"m/huge.py: 6000 bytes, over the 1000-byte limit; not measured",
		"m/requirements.txt:1: -r ../../../etc/passwd: ",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	if os.Geteuid() != 0 && !strings.Contains(joined, "m/unreadable.py: ") {
		t.Errorf("warnings lack the unreadable file:\n%s", joined)
	}
	if _, ok := r.files["m/bin.py"]; ok {
		t.Error("binary file measured")
	}
	for p := range r.files {
		if strings.HasPrefix(p, "m/escape/") {
			t.Errorf("followed a symbolic link out of the tree: %s", p)
		}
	}
	if _, err := r.records[0].AppendCanonical(nil); err != nil {
		t.Errorf("record with hostile input is not canonical: %v", err)
	}
}

func TestCanceled(t *testing.T) {
	s, err := New(Config{Root: fixtureRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = s.Collect(ctx, "", func(*audit.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error = %v, want context canceled", err)
	}
}

func TestReport(t *testing.T) {
	r := audit1(t, Config{Root: fixtureRoot(t), IncludeTests: true, IncludeDependencies: true}, "")
	var results []*Result
	for _, res := range r.results {
		results = append(results, res)
	}
	slices.SortFunc(results, func(a, b *Result) int { return strings.Compare(a.Module.Path, b.Module.Path) })
	rep := Report("Modules", results, time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC))
	sum := map[string]string{}
	for _, it := range rep.Summary {
		sum[it.Label] = it.Value
	}
	// 14 modules, 6 of them missing; 24 files in all (scc-by-file.json);
	// tests 3+2+3 in 3 files; dependencies: root 33, base 6, domains 2,
	// launcher 2, ux 1, ux/cms 4 (marketing's and scripts' manifests are
	// malformed).
	want := map[string]string{
		"Modules": "14", "Files": "25", "Tests": "8 in 3 files", "Dependencies": "48",
		"Dependency changes": "0", "Import edges": "4", "Modules missing": "6",
	}
	for k, v := range want {
		if sum[k] != v {
			t.Errorf("summary %q = %q, want %q", k, sum[k], v)
		}
	}
	titles := map[string]report.Section{}
	for _, s := range rep.Sections {
		titles[s.Title] = s
	}
	for _, title := range []string{"Modules", "Code lines per module", "Languages", "Largest files", "Coverage", "Least covered files", "Dependencies", "Dependency changes", "Imports between modules", "Import graph"} {
		if _, ok := titles[title]; !ok {
			t.Errorf("no section %q", title)
		}
	}
	mods := titles["Modules"]
	wantCols := []string{"Module", "Language", "Files", "Code", "Comment", "Complexity", "Deps", "Test files", "Tests", "Coverage", "Found by"}
	if diff := cmp.Diff(wantCols, mods.Columns); diff != "" {
		t.Errorf("module columns: %s", diff)
	}
	if diff := cmp.Diff([]string{"launcher", "Go", "3", "42", "3", "11", "2", "1", "2", "71.4%", "gitmodules, manifest"}, mods.Rows[8]); diff != "" {
		t.Errorf("launcher row (-want +got):\n%s", diff)
	}
	chart := titles["Code lines per module"].Chart
	if len(chart.Labels) != 8 || chart.Labels[2] != "domains" || chart.Values[2] != 8 {
		t.Errorf("chart = %v %v", chart.Labels, chart.Values)
	}
	between := titles["Imports between modules"].Rows
	if diff := cmp.Diff([][]string{{"domains/marketing", "base", "2"}, {"domains", "base", "1"}}, between); diff != "" {
		t.Errorf("imports between modules (-want +got):\n%s", diff)
	}
}

// TestLayout reads back what the module records say about paths, after
// a round trip through JSON as a store returns records.
func TestLayout(t *testing.T) {
	r := audit1(t, Config{Root: fixtureRoot(t)}, "")
	tr := &memtrail.Trail{}
	for _, rec := range r.records {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var back audit.Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		back.Source = SourceName
		if err := tr.Append(t.Context(), []*audit.Record{&back}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := ReadLayout(t.Context(), tr)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"base/backend/dataops.py": "base", "ux/cms/src/x.ts": "ux/cms", "ux/app.py": "ux",
		"nowhere/file.txt": ".", "README.md": ".", // the fixture has a root module
	} {
		if got := l.ModuleOf(p); got != want {
			t.Errorf("ModuleOf(%s) = %s, want %s", p, got, want)
		}
	}
	got := l.Files["base/backend/dataops.py"]
	if want := (FileFacts{Module: "base", Code: r.files["base/backend/dataops.py"].Code, Complexity: 8, Coverable: 20, Uncovered: 10}); got != want {
		t.Errorf("dataops.py: %+v, want %+v", got, want)
	}
	if l.Code["base"] != r.results["base"].Totals.Code || len(l.Records) != len(r.results) {
		t.Errorf("code %d, records %d", l.Code["base"], len(l.Records))
	}
	// Without a root module, a path outside every module is its
	// top-level directory's.
	noRoot := &Layout{Modules: []string{"a"}, byLength: []string{"a"}}
	for p, want := range map[string]string{"a/x": "a", "ab/x": "ab", "b/c/d": "b", "top.txt": "."} {
		if got := noRoot.ModuleOf(p); got != want {
			t.Errorf("without a root module, ModuleOf(%s) = %s, want %s", p, got, want)
		}
	}
}

// Runs with other views of a module in between (repo reads dependencies
// and tests, "module" alone does not) do not make it look changed: each
// view's first run records it, and from then on neither does.
func TestViewsInTurnAppendNothing(t *testing.T) {
	root := copyTree(t, fixtureRoot(t))
	h := &memHistory{}
	views := []Config{
		{Root: root, History: h, IncludeDependencies: true, IncludeTests: true},
		{Root: root, History: h},
	}
	for round := range 3 {
		for i, cfg := range views {
			res := audit1(t, cfg, "base")
			want := 0
			if round == 0 {
				want = 1
			}
			if len(res.records) != want {
				t.Fatalf("round %d, view %d: %d records, want %d", round, i, len(res.records), want)
			}
			if err := h.Append(context.Background(), res.records); err != nil {
				t.Fatal(err)
			}
		}
	}
}

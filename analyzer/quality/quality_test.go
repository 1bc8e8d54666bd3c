package quality

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/quality"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

var sorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// fixture writes records as the sources write them.
type fixture struct {
	t    *testing.T
	tr   *memtrail.Trail
	when time.Time
}

func (f *fixture) add(r *audit.Record) {
	f.t.Helper()
	f.when = f.when.Add(time.Minute)
	r.Timestamp = f.when
	r.Normalize()
	if err := f.tr.Append(context.Background(), []*audit.Record{r}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) violation(key, file, rule string) {
	r := audit.New("ci", quality.ActionViolation, file, audit.TargetQuality)
	r.Source = quality.SourceName
	tool, _, _ := strings.Cut(rule, ":")
	r.Context = map[string]any{"violation_key": key, "file": file, "rule": rule, "tool": tool}
	f.add(r)
}

func (f *fixture) resolved(key string) {
	r := audit.New("ci", quality.ActionResolved, ".", audit.TargetQuality)
	r.Source = quality.SourceName
	r.Context = map[string]any{"violation_key": key}
	f.add(r)
}

func (f *fixture) run() {
	r := audit.New("ci", quality.ActionRun, ".", audit.TargetQuality)
	r.Source = quality.SourceName
	r.Context = map[string]any{}
	f.add(r)
}

func (f *fixture) commit(hash string, files map[string]int) {
	r := audit.New("dev@example.com", gitsource.ActionCommit, ".", audit.TargetGit)
	r.Source = gitsource.SourceName
	var list []any
	for p, n := range files {
		list = append(list, map[string]any{"path": p, "added": n, "removed": 0})
	}
	r.Context = map[string]any{"commit": hash, "subject": "Change things in the module", "files": list}
	f.add(r)
}

func (f *fixture) module(path string, code int, complex []any, uncovered []any) {
	r := audit.New("system", module.ActionAudit, path, audit.TargetModule)
	r.Source = module.SourceName
	r.Context = map[string]any{"module": path, "totals": map[string]any{"code": code}, "complex_files": complex}
	if uncovered != nil {
		r.Context["coverage"] = map[string]any{"most_uncovered": uncovered}
	}
	f.add(r)
}

func cx(p string, c int) any { return map[string]any{"path": p, "complexity": c, "code": 100} }
func cov(p string, covered, total int) any {
	return map[string]any{"path": p, "covered": covered, "total": total}
}

func analyze(t *testing.T, a *Analyzer, tr *memtrail.Trail) analyzer.Result {
	t.Helper()
	res, err := analyzer.Run(context.Background(), analyzer.Config{Trail: tr, Appender: tr, Now: func() time.Time { return t0.Add(24 * time.Hour) }},
		[]audit.Analyzer{a}, analyzer.Input{})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// summary is "type target: key=value …" per open finding.
func summary(open []*audit.Record, keys ...string) []string {
	var out []string
	for _, r := range open {
		s := string(r.Severity) + " " + r.Findings[0].FindingType + " " + r.Target
		for _, k := range keys {
			if v, ok := r.Context[k]; ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		out = append(out, s)
	}
	return out
}

func TestQualityAnalyzer(t *testing.T) {
	f := &fixture{t: t, tr: &memtrail.Trail{}, when: t0}
	f.module("api", 2000, []any{cx("api/handler.py", 40), cx("api/util.py", 5)}, []any{cov("api/handler.py", 50, 200), cov("api/util.py", 0, 20)})
	f.module("web", 500, []any{cx("web/app.js", 10)}, nil)
	for i := range 6 {
		f.commit(fmt.Sprintf("%040d", i), map[string]int{"api/handler.py": 50})
	}
	f.commit(fmt.Sprintf("%040d", 6), map[string]int{"api/util.py": 10, "web/app.js": 100})

	// Three runs: api 2 → 5 → 6 open violations, web 1 → 0.
	f.violation("k1", "api/handler.py", "ruff:E501")
	f.violation("k2", "api/util.py", "ruff:S608")
	f.violation("k3", "web/app.js", "eslint:no-eval")
	f.run()
	for i := range 3 {
		f.violation(fmt.Sprintf("m%d", i), "api/handler.py", "mypy:arg-type")
	}
	f.resolved("k3")
	f.run()
	f.violation("s1", "api/handler.py", "suppression:noqa")
	f.run()

	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	res := analyze(t, a, f.tr)
	if diff := cmp.Diff(Checks, res.Done); diff != "" {
		t.Fatalf("checks done (-want +got):\n%s\nnotes: %v", diff, a.Notes())
	}
	got := summary(res.Open, "open", "change", "per_kloc", "minutes", "rank", "score", "violations")
	want := []string{
		"warning coverage_gap api/handler.py rank=1 score=45000",
		"warning coverage_gap api/util.py rank=2 score=200",
		"warning refactoring_candidate api/handler.py rank=1 score=12000 violations=5",
		"warning refactoring_candidate api/util.py rank=3 score=50 violations=1",
		"warning module_getting_worse api open=6 change=4",
		"warning quality_trend . open=6 change=3",
		"info quality_debt . minutes=95 violations=6",
		"info quality_debt api minutes=95 violations=6",
		"info violation_density api per_kloc=3 violations=6",
		"info refactoring_candidate web/app.js rank=2 score=1000 violations=0",
	}
	if diff := cmp.Diff(want, got, sorted); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}

	// Unchanged input: nothing appended.
	if again := analyze(t, a, f.tr); again.Appended() != 0 {
		t.Errorf("a second run appended %d records", again.Appended())
	}

	// Every violation of api fixed: api is no longer getting worse, its
	// density and debt are resolved, the trend falls.
	for _, k := range []string{"k1", "k2", "m0", "m1", "m2", "s1"} {
		f.resolved(k)
	}
	f.run()
	res = analyze(t, a, f.tr)
	got = summary(res.Open, "open", "change", "minutes")
	want = []string{
		"warning coverage_gap api/handler.py",
		"warning coverage_gap api/util.py",
		"info quality_trend . open=0 change=-3",
		"info refactoring_candidate api/handler.py",
		"info refactoring_candidate web/app.js",
		"info refactoring_candidate api/util.py",
	}
	if diff := cmp.Diff(want, got, sorted); diff != "" {
		t.Errorf("after the fixes (-want +got):\n%s", diff)
	}
	if res.Resolved != 4 {
		t.Errorf("%d findings resolved, want 4 (worse, density and debt of api, the total debt)", res.Resolved)
	}
}

// TestNotChecked: without runs, modules, coverage or history the checks
// that need them are not done, and say why.
func TestNotChecked(t *testing.T) {
	f := &fixture{t: t, tr: &memtrail.Trail{}, when: t0}
	f.violation("k1", "x.py", "ruff:E501")
	f.run()
	a, _ := New(Config{})
	res := analyze(t, a, f.tr)
	if diff := cmp.Diff([]string{CheckDebt}, res.Done); diff != "" {
		t.Errorf("checks done (-want +got):\n%s", diff)
	}
	if len(a.Notes()) != 4 {
		t.Errorf("notes: %q", a.Notes())
	}
}

func TestDebtRules(t *testing.T) {
	c := Config{}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for rule, want := range map[string]int{"ruff:S608": 30, "ruff:E501": 5, "mypy:arg-type": 10, "suppression:noqa": 30,
		"sarif:semgrep:x": 15, "banned-words:fallback": 5, "unknown:thing": 15} {
		if got := c.minutes(rule); got != want {
			t.Errorf("%s: %d minutes, want %d", rule, got, want)
		}
	}
	c = Config{Debt: []DebtRule{{"ruff:*", 1}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.minutes("ruff:S608") != 1 || c.minutes("mypy:x") != 0 {
		t.Error("configured rules are not used alone")
	}
	if err := (&Config{Debt: []DebtRule{{"[", 1}}}).Validate(); err == nil {
		t.Error("a malformed pattern is accepted")
	}
}

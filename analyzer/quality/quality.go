// Package quality is the quality analyzer (SPEC §7): what the quality
// source's violations say over time and against the code they are in —
// trends across runs, modules getting worse, violations per 1,000 lines
// of code, a debt estimate, test-coverage gaps where the code changes
// most, and refactoring candidates. It reports through package analyzer
// (actions quality_finding and quality_finding_resolved).
//
// # Evidence
//
// Everything comes from the trail: the quality source's records, replayed
// in order (a violation is open from its quality_violation record to its
// quality_violation_resolved record; each quality_run record closes a run,
// and the open violations then are that run's), the newest module records
// (module.ReadLayout: which module a file is in, its lines of code, the
// complexity and the lines not covered of the files they list) and the git
// source's commits (git.Churn: the lines changed per file). A path belongs
// to the module with the longest path that holds it, else to a root
// module, else to its top-level directory.
//
// # Checks
//
//   - trends: one quality_trend finding for the repository (open
//     violations after each of the last runs, and the direction), and a
//     module_getting_worse finding (warning) for each module with more
//     open violations after the last run than after the run WindowRuns
//     runs before it (the first run when there are fewer). Needs two runs.
//   - density: one violation_density finding per module with open
//     violations and lines of code: violations per 1,000 lines, warning
//     from DensityWarn (10) up, info below.
//   - debt: one quality_debt finding per module with open violations and
//     one for the whole repository: the minutes each open violation would
//     take to fix, by rule (Debt, first matching rule wins; DefaultDebt
//     documents the estimates).
//   - coverage_gaps: the files with the most lines not covered ×
//     lines changed (the module source lists, per module, the files with
//     the most lines not covered); the Top highest are coverage_gap
//     findings (warning). Needs a coverage report and the git history.
//   - refactoring: the files with the highest complexity × lines changed
//     (the module source lists each module's most complex files); the Top
//     highest are refactoring_candidate findings (info; warning when the
//     file also has open violations). Needs module records and the git
//     history.
//
// A check without what it needs is not done, and its findings stay as
// they are (Notes say why).
//
// # Settings
//
// Config's fields have YAML names: the command line reads them from the
// analyzers.quality section of the trail's config.yaml (package collect).
package quality

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	gitanalyzer "github.com/ami-orchestrator/ami-audit/analyzer/git"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/quality"
)

// Name is the analyzer's name.
const Name = "quality"

// Checks.
const (
	CheckTrends      = "trends"
	CheckDensity     = "density"
	CheckDebt        = "debt"
	CheckCoverage    = "coverage_gaps"
	CheckRefactoring = "refactoring"
)

// Checks lists every check, in the order they report.
var Checks = []string{CheckTrends, CheckDensity, CheckDebt, CheckCoverage, CheckRefactoring}

// Finding types.
const (
	TypeTrend       = "quality_trend"
	TypeWorse       = "module_getting_worse"
	TypeDensity     = "violation_density"
	TypeDebt        = "quality_debt"
	TypeCoverageGap = "coverage_gap"
	TypeRefactor    = "refactoring_candidate"
)

// DebtRule estimates the minutes one violation of the rules matching
// Pattern takes to fix. Pattern is matched against the violation's rule
// ("<tool>:<rule id>", e.g. "ruff:S608") with path.Match: "*" matches any
// run of characters but "/".
type DebtRule struct {
	Pattern string `json:"pattern" yaml:"pattern"`
	Minutes int    `json:"minutes" yaml:"minutes"`
}

// DefaultDebt are the estimates used when Config.Debt is nil, first match
// wins. They are deliberately round figures, in the spirit of SonarQube's
// remediation costs: a style or lint finding is a few minutes, a type
// error ten, a security rule or a suppressed finding (the real problem is
// still there, and the suppression must go too) half an hour, an AI
// review's finding (usually a design problem) an hour.
var DefaultDebt = []DebtRule{
	{"ruff:S*", 30},           // bandit's security rules
	{"gosec:*", 30},           // security
	{"suppression:*", 30},     // a silenced finding: fix it and drop the comment
	{"ami-agent:*", 60},       // review findings: design problems
	{"mypy:*", 10},            // type errors
	{"golangci-lint:*", 10},   // Go linters
	{"banned-filename:*", 10}, // rename and update references
	{"banned-words:*", 5},     // reword
	{"ruff:*", 5},             // lint and style
	{"eslint:*", 5},
	{"sarif:*", 15},
	{"*", 15}, // anything else
}

// Config configures the analyzer. The zero value uses every default.
type Config struct {
	// WindowRuns is how many runs back the trend compares (5).
	WindowRuns int `yaml:"window_runs"`
	// DensityWarn is the violations per 1,000 lines of code from which a
	// module's density is a warning (10).
	DensityWarn float64 `yaml:"density_warn"`
	// Debt are the minutes per violation by rule (DefaultDebt when nil).
	Debt []DebtRule `yaml:"debt"`
	// Top is how many coverage gaps and refactoring candidates are
	// reported (10).
	Top int `yaml:"top"`
	// ChurnSince limits the lines changed weighed to the commits since
	// then; zero: the whole history.
	ChurnSince time.Time `yaml:"churn_since"`
	// Skip lists checks not to run (their findings stay as they are).
	Skip []string `yaml:"skip"`
}

// Validate checks the configuration and fills the defaults.
func (c *Config) Validate() error {
	if c.WindowRuns < 0 || c.DensityWarn < 0 || c.Top < 0 {
		return errors.New("quality analyzer: thresholds must not be negative")
	}
	for _, r := range c.Debt {
		if _, err := path.Match(r.Pattern, ""); err != nil || r.Pattern == "" {
			return fmt.Errorf("quality analyzer: debt rule %q is not a pattern", r.Pattern)
		}
		if r.Minutes < 0 {
			return fmt.Errorf("quality analyzer: debt rule %q: minutes must not be negative", r.Pattern)
		}
	}
	for _, s := range c.Skip {
		if !slices.Contains(Checks, s) {
			return fmt.Errorf("quality analyzer: unknown check %q (checks: %v)", s, Checks)
		}
	}
	c.WindowRuns = cmp.Or(c.WindowRuns, 5)
	c.DensityWarn = cmp.Or(c.DensityWarn, 10)
	c.Top = cmp.Or(c.Top, 10)
	if c.Debt == nil {
		c.Debt = DefaultDebt
	}
	return nil
}

// minutes estimates the minutes to fix one violation of rule.
func (c *Config) minutes(rule string) int {
	for _, r := range c.Debt {
		if ok, _ := path.Match(r.Pattern, rule); ok {
			return r.Minutes
		}
	}
	return 0
}

// Analyzer is the quality analyzer. One Analyzer serves one run at a
// time; Notes describe the last run.
type Analyzer struct {
	cfg Config

	mu    sync.Mutex
	notes []string
}

var _ audit.Analyzer = (*Analyzer)(nil)

// New returns a quality analyzer.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Analyzer{cfg: cfg}, nil
}

// Name returns "quality".
func (a *Analyzer) Name() string { return Name }

// Understands returns the quality, module and git sources.
func (a *Analyzer) Understands() []string {
	return []string{quality.SourceName, module.SourceName, gitsource.SourceName}
}

// Notes are what the last run wants a reader to know: checks that could
// not run and why.
func (a *Analyzer) Notes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.notes)
}

// errNotChecked says a check lacked what it needs.
var errNotChecked = analyzer.ErrNotChecked

// Analyze reads the evidence and runs every check.
func (a *Analyzer) Analyze(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	var notes []string
	defer func() {
		a.mu.Lock()
		a.notes = notes
		a.mu.Unlock()
	}()
	layout, err := module.ReadLayout(ctx, in.Trail)
	if err != nil {
		return nil, err
	}
	ev := &evidence{cfg: &a.cfg, layout: layout}
	if err := ev.replay(ctx, in.Trail); err != nil {
		return nil, err
	}
	done, more, err := analyzer.RunChecks(ctx, []analyzer.Check{
		{Name: CheckTrends, Run: func() error { return ev.trends(report) }},
		{Name: CheckDensity, Run: func() error { return ev.density(report) }},
		{Name: CheckDebt, Run: func() error { return ev.debt(report) }},
		{Name: CheckCoverage, Run: func() error { return ev.coverageGaps(ctx, in.Trail, report) }},
		{Name: CheckRefactoring, Run: func() error { return ev.refactoring(ctx, in.Trail, report) }},
	}, a.cfg.Skip)
	notes = more
	if err != nil {
		return nil, err
	}
	return done, nil
}

// churn reads the lines changed per file once, for the checks that
// weigh by it.
func (e *evidence) churn(ctx context.Context, tr audit.Reader) (map[string]gitanalyzer.FileChurn, error) {
	if e.churnRead {
		return e.churnMap, e.churnErr
	}
	e.churnRead = true
	e.churnMap, e.churnErr = gitanalyzer.Churn(ctx, tr, e.cfg.ChurnSince, time.Time{})
	if e.churnErr == nil && len(e.churnMap) == 0 {
		e.churnErr = fmt.Errorf("%w: no git history in the trail to weigh files by how much they change (run the git source)", errNotChecked)
	}
	return e.churnMap, e.churnErr
}

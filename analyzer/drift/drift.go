// Package drift is the drift analyzer (SPEC §7): how the audited state
// moved away from a saved baseline or an earlier point of the trail, how
// fast each module changes, and changes no commit explains. It reports
// through package analyzer (actions drift_finding and
// drift_finding_resolved).
//
// # Checks
//
//   - baseline: the state the trail holds now (package state) against the
//     reference — a verified baseline (Config.Baseline), else the state the
//     trail recorded at Config.Since. One finding per change, of the
//     change's kind: file_added, file_removed, file_changed (by hash),
//     permissions_changed, config_added, config_removed, config_changed
//     (files matching Config.ConfigPatterns), dependency_added,
//     dependency_removed, dependency_upgraded, dependency_downgraded (in the
//     ecosystem's version order), dependency_changed (a constraint),
//     service_added, service_removed. Severity: warning for configuration,
//     permissions, downgrades and removed services; info otherwise. A
//     change that is undone resolves its finding. Not done without a
//     reference.
//   - velocity: per module, the lines changed in the git history over the
//     last VelocityWindow of the history (ending at its newest commit, so
//     the finding moves only when the history does; with a baseline, from
//     the baseline's creation), against the weekly average of the three
//     windows before. A change_velocity finding per module that changed
//     (info; warning when the rate is SpikeFactor times the average or
//     more, and at least 100 lines a week). Not done without git records.
//   - unexpected: changes git does not account for, read from the working
//     tree of the repository and its initialised submodules:
//     uncommitted_change (warning) for each tracked file that differs from
//     HEAD (modified, deleted, staged); hidden_change (error) for each file
//     git was told not to look at (assume-unchanged or skip-worktree) whose
//     content differs from the index: git says nothing changed, the
//     content did. Not done outside a git repository.
//
// # Keys
//
// A change is keyed by what it is about: a file's content by its path (a
// file changed, then removed, is one finding updated), its permissions
// apart, a dependency by module, ecosystem, group and name, a service by
// name; velocity by module; an unexpected change by path.
//
// # Settings
//
// Config's fields have YAML names: the command line reads them from the
// analyzers.drift section of the trail's config.yaml (package collect).
package drift

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/baseline"
	"github.com/ami-orchestrator/ami-audit/source/file"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/service"
	"github.com/ami-orchestrator/ami-audit/state"
)

// Name is the analyzer's name.
const Name = "drift"

// Checks.
const (
	CheckBaseline   = "baseline"
	CheckVelocity   = "velocity"
	CheckUnexpected = "unexpected"
)

// Checks lists every check, in the order they report.
var Checks = []string{CheckBaseline, CheckVelocity, CheckUnexpected}

// Finding types beside the kinds of state.Change.
const (
	TypeVelocity    = "change_velocity"
	TypeUncommitted = "uncommitted_change"
	TypeHidden      = "hidden_change"
)

// Config configures the analyzer.
type Config struct {
	// Baseline is the reference, already verified (baseline.Load).
	Baseline *baseline.Baseline `yaml:"-"`
	// Since is the reference when there is no baseline: the state the
	// trail recorded then. Zero: no reference (the baseline check is
	// not done).
	Since time.Time `yaml:"-"`
	// ConfigPatterns name the configuration files (state.DefaultConfig
	// when nil).
	ConfigPatterns []string `yaml:"config_patterns"`
	// VelocityWindow is the period velocity is measured over (30 days).
	VelocityWindow time.Duration `yaml:"velocity_window"`
	// SpikeFactor makes a rate a warning (3).
	SpikeFactor float64 `yaml:"spike_factor"`
	// Skip lists checks not to run.
	Skip []string `yaml:"skip"`
}

// Validate checks the configuration and fills the defaults.
func (c *Config) Validate() error {
	if c.VelocityWindow < 0 || c.SpikeFactor < 0 {
		return errors.New("drift analyzer: the window and the factor must not be negative")
	}
	for _, s := range c.Skip {
		if !slices.Contains(Checks, s) {
			return fmt.Errorf("drift analyzer: unknown check %q (checks: %v)", s, Checks)
		}
	}
	c.VelocityWindow = cmp.Or(c.VelocityWindow, 30*24*time.Hour)
	c.SpikeFactor = cmp.Or(c.SpikeFactor, 3)
	if c.ConfigPatterns == nil {
		c.ConfigPatterns = state.DefaultConfig
		if c.Baseline != nil && c.Baseline.ConfigPatterns != nil {
			c.ConfigPatterns = c.Baseline.ConfigPatterns
		}
	}
	return nil
}

// Analyzer is the drift analyzer. One Analyzer serves one run at a time.
type Analyzer struct {
	cfg Config

	mu    sync.Mutex
	notes []string
	diff  *state.Diff
}

var _ audit.Analyzer = (*Analyzer)(nil)

// New returns a drift analyzer.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Analyzer{cfg: cfg}, nil
}

// Name returns "drift".
func (a *Analyzer) Name() string { return Name }

// Understands returns the file, module, service and git sources.
func (a *Analyzer) Understands() []string {
	return []string{file.SourceName, module.SourceName, service.SourceName, gitsource.SourceName}
}

// Notes say what the last run could not check.
func (a *Analyzer) Notes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.notes)
}

// Diff is the comparison of the last run's baseline check; nil when it
// did not run.
func (a *Analyzer) Diff() *state.Diff {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.diff
}

var errNotChecked = analyzer.ErrNotChecked

// Analyze runs every check.
func (a *Analyzer) Analyze(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	var notes []string
	var diff *state.Diff
	defer func() {
		a.mu.Lock()
		a.notes, a.diff = notes, diff
		a.mu.Unlock()
	}()
	done, more, err := analyzer.RunChecks(ctx, []analyzer.Check{
		{Name: CheckBaseline, Run: func() (err error) {
			diff, err = a.baseline(ctx, in.Trail, report)
			return err
		}},
		{Name: CheckVelocity, Run: func() error { return a.velocity(ctx, in.Trail, report) }},
		{Name: CheckUnexpected, Run: func() error { return unexpected(ctx, in.Target, report) }},
	}, a.cfg.Skip)
	notes = more
	if err != nil {
		return nil, err
	}
	return done, nil
}

// reference returns the state to compare with and says what it is.
func (a *Analyzer) reference(ctx context.Context, tr audit.Reader) (*state.State, map[string]any, error) {
	if b := a.cfg.Baseline; b != nil {
		return b.State, map[string]any{"baseline_created": audit.FormatTime(b.Created), "baseline_tree_size": b.Trail.Size}, nil
	}
	if !a.cfg.Since.IsZero() {
		st, err := state.At(ctx, tr, a.cfg.Since)
		return st, map[string]any{"since": audit.FormatTime(a.cfg.Since)}, err
	}
	return nil, nil, fmt.Errorf("%w: no baseline or earlier point to compare with (repo --baseline=FILE)", errNotChecked)
}

// baseline reports each change from the reference to the state now.
func (a *Analyzer) baseline(ctx context.Context, tr audit.Reader, report func(audit.Detected) error) (*state.Diff, error) {
	ref, about, err := a.reference(ctx, tr)
	if err != nil {
		return nil, err
	}
	now, err := state.At(ctx, tr, time.Time{})
	if err != nil {
		return nil, err
	}
	d := state.Compare(ref, now, state.Options{Config: a.cfg.ConfigPatterns})
	for _, c := range d.Changes {
		if err := report(Detected(c, about)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Detected is the finding of one change; about says what the reference
// was (evidence).
func Detected(c state.Change, about map[string]any) audit.Detected {
	ev := map[string]any{"change": c.Kind}
	for k, v := range about {
		ev[k] = v
	}
	if c.Old != "" {
		ev["old"] = c.Old
	}
	if c.New != "" {
		ev["new"] = c.New
	}
	key := "content:" + c.Target
	sev, rec := audit.SeverityInfo, ""
	switch c.Kind {
	case state.PermissionsChanged:
		key = "mode:" + c.Target
		sev, rec = audit.SeverityWarning, "Check who changed the permissions and why; restore them if the change was not intended."
	case state.ConfigAdded, state.ConfigRemoved, state.ConfigChanged:
		sev, rec = audit.SeverityWarning, "A configuration change should come with a commit and a review; compare it with the baseline."
	case state.ServiceAdded, state.ServiceRemoved:
		key = "service:" + c.Target
		if c.Kind == state.ServiceRemoved {
			sev, rec = audit.SeverityWarning, "A service left the launcher manifest since the baseline: confirm it was retired on purpose."
		}
	}
	if dep := c.Dependency; dep != nil {
		key = "dependency:" + dep.Key()
		ev["ecosystem"], ev["package"], ev["group"], ev["module"] = dep.Ecosystem, dep.Name, dep.Group, dep.Module
		if c.Kind == state.DependencyDowngraded {
			sev, rec = audit.SeverityWarning, "A dependency went back to an older version: check that no fix was lost."
		}
	}
	if c.TargetType == audit.TargetFile {
		ev["file"] = c.Target
	}
	return audit.Detected{
		Key: key, Check: CheckBaseline, Target: c.Target, TargetType: c.TargetType,
		Finding:  audit.Finding{FindingType: c.Kind, Severity: sev, Description: c.Describe(), Recommendation: rec},
		Evidence: ev,
	}
}

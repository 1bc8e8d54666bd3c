package drift

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	gitanalyzer "github.com/ami-orchestrator/ami-audit/analyzer/git"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

// minSpike is the weekly rate, in lines, below which no rate is a
// warning.
const minSpike = 100

// Velocity is one module's change over a period.
type Velocity struct {
	Module      string
	Lines       int64 // lines added and removed
	FileChanges int   // file changes (a file changed by three commits counts three)
	PerWeek     float64
	// Before is the weekly average of the three periods before.
	Before float64
}

// Velocities measures each module's change in [from, to) against the
// three periods of the same length before it.
func Velocities(ctx context.Context, tr audit.Reader, layout *module.Layout, from, to time.Time) ([]Velocity, error) {
	now, err := gitanalyzer.Churn(ctx, tr, from, to)
	if err != nil {
		return nil, err
	}
	span := to.Sub(from)
	before, err := gitanalyzer.Churn(ctx, tr, from.Add(-3*span), from)
	if err != nil {
		return nil, err
	}
	weeks := max(span.Hours()/24/7, 1.0/7)
	by := map[string]*Velocity{}
	for p, c := range now {
		m := layout.ModuleOf(p)
		v := by[m]
		if v == nil {
			v = &Velocity{Module: m}
			by[m] = v
		}
		v.Lines += c.Lines
		v.FileChanges += c.Revisions
	}
	prior := map[string]int64{}
	for p, c := range before {
		prior[layout.ModuleOf(p)] += c.Lines
	}
	var out []Velocity
	for _, m := range slices.Sorted(maps.Keys(by)) {
		v := by[m]
		v.PerWeek = round(float64(v.Lines) / weeks)
		v.Before = round(float64(prior[m]) / (3 * weeks))
		out = append(out, *v)
	}
	return out, nil
}

func round(f float64) float64 { return math.Round(f*10) / 10 }

// newestCommit is the time of the newest commit the trail recorded: of
// each repository (the top one and each submodule, named by their
// git_refs records), the commit recorded last, which git's walk from the
// oldest makes the newest.
func newestCommit(ctx context.Context, tr audit.Reader) (time.Time, error) {
	repos := map[string]bool{}
	for r, err := range tr.Query(ctx, audit.Filter{TargetType: audit.TargetGit, Action: gitsource.ActionRefs, Limit: -1}) {
		if err != nil {
			return time.Time{}, err
		}
		repos[r.Target] = true
	}
	filters := []audit.Filter{{TargetType: audit.TargetGit, Action: gitsource.ActionCommit, Limit: 1, Newest: true}}
	for repo := range repos {
		filters = append(filters, audit.Filter{TargetType: audit.TargetGit, Action: gitsource.ActionCommit, Target: repo, Limit: 1, Newest: true})
	}
	var newest time.Time
	for _, f := range filters {
		for r, err := range tr.Query(ctx, f) {
			if err != nil {
				return time.Time{}, err
			}
			if r.Timestamp.After(newest) {
				newest = r.Timestamp
			}
		}
	}
	return newest, nil
}

// velocity reports each module's rate of change.
func (a *Analyzer) velocity(ctx context.Context, tr audit.Reader, report func(audit.Detected) error) error {
	end, err := newestCommit(ctx, tr)
	if err != nil {
		return err
	}
	if end.IsZero() {
		return fmt.Errorf("%w: no git history in the trail (run the git source)", errNotChecked)
	}
	end = end.Add(time.Second) // the newest commit is in the period
	from := end.Add(-a.cfg.VelocityWindow)
	if b := a.cfg.Baseline; b != nil && b.Created.Before(end) {
		from = b.Created.Truncate(time.Second) // commit dates have seconds
	}
	layout, err := module.ReadLayout(ctx, tr)
	if err != nil {
		return err
	}
	vs, err := Velocities(ctx, tr, layout, from, end)
	if err != nil {
		return err
	}
	days := int(math.Round(end.Sub(from).Hours() / 24))
	for _, v := range vs {
		sev, rec := audit.SeverityInfo, ""
		if v.PerWeek >= minSpike && v.PerWeek >= a.cfg.SpikeFactor*v.Before {
			sev = audit.SeverityWarning
			rec = "This module changes much faster than it used to: make sure its reviews and tests keep up."
		}
		if err := report(audit.Detected{
			Key: "velocity:" + v.Module, Check: CheckVelocity, Target: v.Module, TargetType: audit.TargetModule,
			Finding: audit.Finding{FindingType: TypeVelocity, Severity: sev, Recommendation: rec,
				Description: fmt.Sprintf("%d lines changed in %d file changes over %d days up to %s (%g a week; %g a week in the %d days before)",
					v.Lines, v.FileChanges, days, end.UTC().Format("2006-01-02"), v.PerWeek, v.Before, 3*days)},
			Evidence: map[string]any{"module": v.Module, "lines": v.Lines, "file_changes": v.FileChanges, "per_week": v.PerWeek,
				"per_week_before": v.Before, "from": audit.FormatTime(from), "until": audit.FormatTime(end)},
		}); err != nil {
			return err
		}
	}
	return nil
}

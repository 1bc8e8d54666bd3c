package quality

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	gitanalyzer "github.com/ami-orchestrator/ami-audit/analyzer/git"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/quality"
)

// violation is an open violation.
type violation struct {
	file, rule, module string
}

// snapshot is the open violations after one run, per module.
type snapshot struct {
	when     time.Time
	recordID string
	total    int
	byModule map[string]int
}

// evidence is what the checks read.
type evidence struct {
	cfg    *Config
	layout *module.Layout

	open  map[string]violation // by violation_key, after the last record
	runs  []snapshot
	files map[string]int // open violations per file

	churnRead bool
	churnMap  map[string]gitanalyzer.FileChurn
	churnErr  error
}

// replay reads the quality source's records in order.
func (e *evidence) replay(ctx context.Context, tr audit.Reader) error {
	e.open = map[string]violation{}
	for r, err := range tr.Query(ctx, audit.Filter{TargetType: audit.TargetQuality, Limit: -1}) {
		if err != nil {
			return fmt.Errorf("read quality records: %w", err)
		}
		if r.Source != quality.SourceName {
			continue
		}
		key, _ := r.Context["violation_key"].(string)
		switch r.Action {
		case quality.ActionViolation:
			if key == "" {
				continue
			}
			file, _ := r.Context["file"].(string)
			rule, _ := r.Context["rule"].(string)
			if rule == "" && len(r.Violations) > 0 {
				rule = r.Violations[0].Rule
			}
			mod := e.layout.ModuleOf(file)
			if file == "" {
				mod = "."
			}
			e.open[key] = violation{file: file, rule: rule, module: mod}
		case quality.ActionResolved:
			delete(e.open, key)
		case quality.ActionRun:
			s := snapshot{when: r.Timestamp, recordID: r.RecordID, total: len(e.open), byModule: map[string]int{}}
			for _, v := range e.open {
				s.byModule[v.module]++
			}
			e.runs = append(e.runs, s)
		}
	}
	e.files = map[string]int{}
	for _, v := range e.open {
		if v.file != "" {
			e.files[v.file]++
		}
	}
	return nil
}

// maxSeries bounds the runs a trend finding lists.
const maxSeries = 10

// trends reports the repository's trend and the modules getting worse.
func (e *evidence) trends(report func(audit.Detected) error) error {
	if len(e.runs) < 2 {
		return fmt.Errorf("%w: %s of the quality source in the trail, two are needed for a trend", errNotChecked, plural.Count(len(e.runs), "run"))
	}
	last := e.runs[len(e.runs)-1]
	refIdx := max(0, len(e.runs)-1-e.cfg.WindowRuns)
	ref := e.runs[refIdx]
	back := len(e.runs) - 1 - refIdx
	series := e.runs[max(0, len(e.runs)-maxSeries):]
	totals := make([]any, len(series))
	for i, s := range series {
		totals[i] = map[string]any{"run": audit.FormatTime(s.when), "open": s.total}
	}
	dir, sev := direction(last.total - ref.total)
	if err := report(audit.Detected{
		Key: "trend", Check: CheckTrends, Target: ".", TargetType: audit.TargetQuality,
		Finding: audit.Finding{FindingType: TypeTrend, Severity: sev,
			Description: fmt.Sprintf("%s open after the last of %s: %s (%+d) since %s before",
				plural.Count(last.total, "violation"), plural.Count(len(e.runs), "run"), dir, last.total-ref.total, plural.Count(back, "run"))},
		Evidence: map[string]any{"runs": len(e.runs), "open": last.total, "reference_open": ref.total, "change": last.total - ref.total,
			"direction": dir, "series": totals, "window_runs": e.cfg.WindowRuns},
		Records: []string{last.recordID},
	}); err != nil {
		return err
	}
	for _, mod := range modulesOf(last, ref) {
		now, before := last.byModule[mod], ref.byModule[mod]
		if now <= before {
			continue
		}
		var points []any
		for _, s := range series {
			points = append(points, s.byModule[mod])
		}
		if err := report(audit.Detected{
			Key: "worse:" + mod, Check: CheckTrends, Target: mod, TargetType: audit.TargetModule,
			Finding: audit.Finding{FindingType: TypeWorse, Severity: audit.SeverityWarning,
				Description:    fmt.Sprintf("%s is getting worse: %s open, %+d since %s before", mod, plural.Count(now, "violation"), now-before, plural.Count(back, "run")),
				Recommendation: "Look at what the last changes to this module introduced, and fix the new violations while they are fresh."},
			Evidence: map[string]any{"module": mod, "open": now, "reference_open": before, "change": now - before, "series": points},
			Records:  []string{last.recordID},
		}); err != nil {
			return err
		}
	}
	return nil
}

// direction names a change in the count of open violations.
func direction(change int) (string, audit.Severity) {
	switch {
	case change > 0:
		return "rising", audit.SeverityWarning
	case change < 0:
		return "falling", audit.SeverityInfo
	}
	return "steady", audit.SeverityInfo
}

func modulesOf(snaps ...snapshot) []string {
	set := map[string]bool{}
	for _, s := range snaps {
		for m := range s.byModule {
			set[m] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// openByModule counts the open violations per module, and per rule.
func (e *evidence) openByModule() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, v := range e.open {
		if out[v.module] == nil {
			out[v.module] = map[string]int{}
		}
		out[v.module][v.rule]++
	}
	return out
}

// density reports violations per 1,000 lines of code per module.
func (e *evidence) density(report func(audit.Detected) error) error {
	if len(e.layout.Modules) == 0 {
		return fmt.Errorf("%w: no module records, so no lines of code to divide by (run the module source)", errNotChecked)
	}
	by := e.openByModule()
	for _, mod := range slices.Sorted(maps.Keys(by)) {
		code := e.layout.Code[mod]
		if code <= 0 {
			continue
		}
		n := sum(by[mod])
		d := math.Round(float64(n)*1000/float64(code)*100) / 100
		sev := audit.SeverityInfo
		rec := ""
		if d >= e.cfg.DensityWarn {
			sev = audit.SeverityWarning
			rec = fmt.Sprintf("More than %g violations per 1,000 lines: plan time to bring this module back to its linters' standards.", e.cfg.DensityWarn)
		}
		if err := report(audit.Detected{
			Key: "density:" + mod, Check: CheckDensity, Target: mod, TargetType: audit.TargetModule,
			Finding: audit.Finding{FindingType: TypeDensity, Severity: sev, Recommendation: rec,
				Description: fmt.Sprintf("%g violations per 1,000 lines of code in %s (%d in %d lines)", d, mod, n, code)},
			Evidence: map[string]any{"module": mod, "violations": n, "code": code, "per_kloc": d, "by_rule": topRules(by[mod], 10)},
		}); err != nil {
			return err
		}
	}
	return nil
}

// debt reports the estimated minutes to fix the open violations.
func (e *evidence) debt(report func(audit.Detected) error) error {
	by := e.openByModule()
	total, totalN := 0, 0
	byRule := map[string]int{}
	for _, mod := range slices.Sorted(maps.Keys(by)) {
		minutes := 0
		mins := map[string]int{}
		for rule, n := range by[mod] {
			m := n * e.cfg.minutes(rule)
			mins[rule] += m
			byRule[rule] += m
			minutes += m
		}
		n := sum(by[mod])
		total += minutes
		totalN += n
		if err := report(debtFinding("debt:module:"+mod, mod, audit.TargetModule, mod, n, minutes, mins)); err != nil {
			return err
		}
	}
	if totalN == 0 {
		return nil // nothing open: no debt to state (an earlier estimate is resolved)
	}
	return report(debtFinding("debt:total", ".", audit.TargetQuality, "the repository", totalN, total, byRule))
}

func debtFinding(key, target string, tt audit.TargetType, what string, n, minutes int, byRule map[string]int) audit.Detected {
	return audit.Detected{
		Key: key, Check: CheckDebt, Target: target, TargetType: tt,
		Finding: audit.Finding{FindingType: TypeDebt, Severity: audit.SeverityInfo,
			Description: fmt.Sprintf("about %s to fix the %s open in %s", duration(minutes), plural.Count(n, "violation"), what)},
		Evidence: map[string]any{"violations": n, "minutes": minutes, "by_rule_minutes": topRules(byRule, 10)},
	}
}

// duration says minutes as hours or days of work (8 hours a day).
func duration(minutes int) string {
	switch {
	case minutes < 60:
		return plural.Count(minutes, "minute")
	case minutes < 8*60:
		return fmt.Sprintf("%.1f hours", float64(minutes)/60)
	}
	return fmt.Sprintf("%.1f days", float64(minutes)/60/8)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// topRules lists the n largest entries, largest first.
func topRules(m map[string]int, n int) []any {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	var out []any
	for _, k := range keys[:min(len(keys), n)] {
		out = append(out, map[string]any{"rule": k, "value": m[k]})
	}
	return out
}

// scored is a file weighed for a ranking.
type scored struct {
	path  string
	facts module.FileFacts
	churn gitanalyzer.FileChurn
	score int64
}

// weigh scores the files the module records list by factor (files whose
// factor is not positive are left out) times the lines changed in them
// (files that did not change are left out too). The error wraps
// errNotChecked, saying none, when no file has a factor.
func (e *evidence) weigh(ctx context.Context, tr audit.Reader, factor func(module.FileFacts) int64, none string) ([]scored, error) {
	var list []scored
	for p, f := range e.layout.Files {
		if factor(f) > 0 {
			list = append(list, scored{path: p, facts: f})
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: %s", errNotChecked, none)
	}
	churn, err := e.churn(ctx, tr)
	if err != nil {
		return nil, err
	}
	var kept []scored
	for _, s := range list {
		s.churn = churn[s.path]
		if s.churn.Lines == 0 {
			continue
		}
		s.score = factor(s.facts) * s.churn.Lines
		kept = append(kept, s)
	}
	return kept, nil
}

func rank(list []scored, top int) []scored {
	slices.SortFunc(list, func(a, b scored) int { return cmp.Or(cmp.Compare(b.score, a.score), strings.Compare(a.path, b.path)) })
	return list[:min(len(list), top)]
}

// coverageGaps reports the files with the most lines not covered × lines
// changed.
func (e *evidence) coverageGaps(ctx context.Context, tr audit.Reader, report func(audit.Detected) error) error {
	kept, err := e.weigh(ctx, tr, func(f module.FileFacts) int64 { return f.Uncovered * min(f.Coverable, 1) },
		"no coverage report among the module records (the module source reads coverage.xml, lcov.info, coverage.out, …)")
	if err != nil {
		return err
	}
	for i, s := range rank(kept, e.cfg.Top) {
		if err := report(audit.Detected{
			Key: "coverage:" + s.path, Check: CheckCoverage, Target: s.path, TargetType: audit.TargetFile,
			Finding: audit.Finding{FindingType: TypeCoverageGap, Severity: audit.SeverityWarning,
				Description: fmt.Sprintf("coverage gap #%d: %d of %d lines not covered by tests, and %d lines changed in %s",
					i+1, s.facts.Uncovered, s.facts.Coverable, s.churn.Lines, plural.Count(s.churn.Revisions, "commit")),
				Recommendation: "Code that changes often and is not tested is where regressions slip through: add tests here first."},
			Evidence: map[string]any{"file": s.path, "module": s.facts.Module, "rank": i + 1, "uncovered": s.facts.Uncovered,
				"coverable": s.facts.Coverable, "churn": s.churn.Lines, "revisions": s.churn.Revisions, "score": s.score},
		}); err != nil {
			return err
		}
	}
	return nil
}

// refactoring reports the files with the highest complexity × lines
// changed.
func (e *evidence) refactoring(ctx context.Context, tr audit.Reader, report func(audit.Detected) error) error {
	kept, err := e.weigh(ctx, tr, func(f module.FileFacts) int64 { return f.Complexity },
		"no module records with complexity (run the module source)")
	if err != nil {
		return err
	}
	for i, s := range rank(kept, e.cfg.Top) {
		v := e.files[s.path]
		sev := audit.SeverityInfo
		desc := fmt.Sprintf("refactoring candidate #%d: complexity %d, %d lines changed in %s",
			i+1, s.facts.Complexity, s.churn.Lines, plural.Count(s.churn.Revisions, "commit"))
		if v > 0 {
			sev = audit.SeverityWarning
			desc += ", " + plural.Count(v, "open violation")
		}
		if err := report(audit.Detected{
			Key: "refactor:" + s.path, Check: CheckRefactoring, Target: s.path, TargetType: audit.TargetFile,
			Finding: audit.Finding{FindingType: TypeRefactor, Severity: sev, Description: desc,
				Recommendation: "Split the most complex functions of this file, with tests around them, before its next change."},
			Evidence: map[string]any{"file": s.path, "module": s.facts.Module, "rank": i + 1, "complexity": s.facts.Complexity,
				"code": s.facts.Code, "churn": s.churn.Lines, "revisions": s.churn.Revisions, "violations": v, "score": s.score},
		}); err != nil {
			return err
		}
	}
	return nil
}

package collect

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/quality"
)

// QualityRequest asks for the code-quality violations of a tree.
type QualityRequest struct {
	// Dir is the tree checked.
	Dir string
	// Config configures the quality source (Trail and Exclude are set
	// here).
	Config quality.Config
	// List lists every violation in the report.
	List bool
	// Progress counts the records appended.
	Progress Progress
}

// QualityResult is a Result with the quality run, for gates.
type QualityResult struct {
	Result
	Run *quality.Run
}

// Quality checks a tree for every quality rule that applies, appends what
// changed and reports on it.
func Quality(ctx context.Context, env *Env, req QualityRequest) (*QualityResult, error) {
	if _, err := os.Stat(req.Dir); err != nil {
		return nil, usererr.Usagef("quality: %v", err)
	}
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	cfg := req.Config
	cfg.Trail = store
	cfg.KeepViolations = cfg.KeepViolations || req.List
	cfg.Exclude = env.Exclusion()
	src, err := quality.New(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	res := &QualityResult{}
	col, err := env.Collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) {
		res.Appended += len(recs)
		req.Progress.add(int64(len(recs)))
	}})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res.Summary, err = col.Run(ctx, req.Dir, []audit.Source{src})
	if err != nil {
		return res, err
	}
	res.Run = src.LastRun()
	res.Report = qualityReport(res.Run, res.Appended, req.List, now)
	return res, nil
}

// qualityReport builds the report of one quality run.
func qualityReport(run *quality.Run, appended int, list bool, now time.Time) *report.Report {
	r := &report.Report{Title: "Code quality of " + filepath.Join(filepath.Base(run.Root), run.Target), Generated: now.UTC()}
	itoa := strconv.Itoa
	r.Summary = []report.Item{
		{Label: "Violations", Value: itoa(run.Found)},
		{Label: "New", Value: itoa(run.New)},
		{Label: "Resolved", Value: itoa(run.Resolved)},
		{Label: "Errors or worse", Value: itoa(run.AtLeast(audit.SeverityError))},
		{Label: "Files scanned", Value: itoa(run.Files)},
		{Label: "Suppressions exempted", Value: itoa(run.SuppressionsExempt)},
		{Label: "Records appended", Value: itoa(appended)},
		{Label: "Duration", Value: run.Duration.Round(time.Millisecond).String()},
	}
	if len(run.Fixed) > 0 {
		r.Summary = append(r.Summary, report.Item{Label: "Files fixed", Value: itoa(len(run.Fixed))})
	}
	tools := report.Section{Title: "Tools", Columns: []string{"Tool", "Version", "Status", "Violations"}}
	for _, t := range run.Tools {
		status := "ran"
		if !t.Ran {
			status = t.Reason
			if strings.HasPrefix(t.Reason, "not run: failed") {
				r.Warnings = append(r.Warnings, t.Tool+": "+t.Reason)
			}
		}
		tools.Rows = append(tools.Rows, []string{t.Tool, t.Version, status, itoa(t.Violations)})
	}
	r.Sections = append(r.Sections, tools)
	rules := report.Section{Title: "Violations by rule", Columns: []string{"Rule", "Count"}}
	names := make([]string, 0, len(run.Counts))
	for k := range run.Counts {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if run.Counts[names[i]] != run.Counts[names[j]] {
			return run.Counts[names[i]] > run.Counts[names[j]]
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		rules.Rows = append(rules.Rows, []string{n, itoa(run.Counts[n])})
	}
	r.Sections = append(r.Sections, rules)
	if len(run.Fixed) > 0 {
		fx := report.Section{Title: "Files fixed", Columns: []string{"File", "Tool", "SHA-256 before", "SHA-256 after"}}
		for _, f := range run.Fixed {
			fx.Rows = append(fx.Rows, []string{f.File, f.Tool, f.Before, f.After})
		}
		r.Sections = append(r.Sections, fx)
	}
	if list {
		vs := report.Section{Title: "Violations", Columns: []string{"Location", "Rule", "Severity", "Message"}}
		for _, v := range run.Violations {
			loc := v.File
			if v.Line > 0 {
				loc += ":" + itoa(v.Line)
				if v.Column > 0 {
					loc += ":" + itoa(v.Column)
				}
			}
			vs.Rows = append(vs.Rows, []string{loc, v.Rule, string(v.Severity), v.Message})
		}
		r.Sections = append(r.Sections, vs)
	}
	if len(run.LiteralPatterns) > 0 {
		r.Warnings = append(r.Warnings, "banned-words entries matched as literal text (not valid regular expressions): "+strings.Join(run.LiteralPatterns, ", "))
	}
	r.Warnings = append(r.Warnings, run.Problems...)
	return r
}

// qualityRun is the quality source of a "repo" run.
type qualityRun struct{ *quality.Source }

// qualityRepoSource builds the quality source for "repo": the whole
// repository, linters included, incremental against the trail.
func qualityRepoSource(ctx context.Context, env *Env, opts SourceOptions) (audit.Source, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	src, err := quality.New(quality.Config{Root: opts.Root, Trail: store, Exclude: env.Exclusion()})
	if err != nil {
		return nil, err
	}
	return &qualityRun{src}, nil
}

func (q *qualityRun) RunReport() ReportPart {
	run := q.LastRun()
	if run == nil {
		return ReportPart{}
	}
	return PartOf(qualityReport(run, 0, false, time.Now()), "quality")
}

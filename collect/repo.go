package collect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/git"
)

// genericTop is the number of targets a generic source report lists.
const genericTop = 20

// headlines is the number of a source's summary figures shown in the
// report's summary.
const headlines = 4

// RepoRequest asks for a whole-repository audit.
type RepoRequest struct {
	// Dir is the repository (relative to the working directory).
	Dir string
	// Sources is a comma-separated list of source names; empty: every
	// available source.
	Sources string
	// Registry is the sources to choose from; nil: Registry().
	Registry map[string]SourceFactory
	// Options are passed to every source factory (Root is set here).
	Options SourceOptions
	// Analyzers, when set, chooses the analyzers of the run once its
	// sources are known (ran: their record sources, e.g. "git_source");
	// they examine the trail after the sources, and the report lists
	// their findings.
	Analyzers func(ctx context.Context, root string, ran []string) ([]audit.Analyzer, error)
	// Progress counts the records appended.
	Progress Progress
}

// GitToplevel returns the root of the git repository holding dir; the
// error wraps git.ErrNotRepository when there is none.
func GitToplevel(ctx context.Context, dir string) (string, error) {
	src, err := git.New(git.Config{})
	if err != nil {
		return "", err
	}
	return src.Toplevel(ctx, dir)
}

// Repo runs the chosen sources over a repository in parallel, appends
// their records and combines what each found into one report. A source
// that fails does not stop the others: the error then says which failed,
// and the Result's report says why. When ctx ends during the run, the
// Result has no report and the error is the run's.
func Repo(ctx context.Context, env *Env, req RepoRequest) (*Result, error) {
	reg := req.Registry
	if reg == nil {
		reg = Registry()
	}
	names, err := SelectSources(req.Sources, reg)
	if err != nil {
		return nil, usererr.WithHint(err, "ami-audit repo --sources="+strings.Join(AvailableSources(reg), ","))
	}
	dir := req.Dir
	if dir == "" {
		dir = "."
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, usererr.Usagef("repository %s: %v", dir, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return nil, usererr.Usagef("repository %s: not a directory", dir)
	}
	// Outside a git repository the sources that need one cannot run:
	// asked for by name, that is an error; by default, the others run.
	// Either way this is known before the trail is opened or created.
	noGit := false
	if slices.ContainsFunc(names, NeedsGit) {
		if _, err := GitToplevel(ctx, root); errors.Is(err, git.ErrNotRepository) {
			others := slices.DeleteFunc(slices.Clone(names), NeedsGit)
			if req.Sources != "" || len(others) == 0 {
				if len(others) == 0 {
					others = slices.DeleteFunc(AvailableSources(reg), NeedsGit)
				}
				return nil, usererr.WithHint(fmt.Errorf("%w; the git source needs one", err), "ami-audit repo --sources="+strings.Join(others, ","))
			}
			names, noGit = others, true
			env.notice("note: %s is not a git repository: running %s without the git source (no history, authors or blame)",
				root, strings.Join(names, ", "))
		}
	}

	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	opts := req.Options
	opts.Root = root
	runs := make([]*repoRun, len(names))
	srcs := make([]audit.Source, len(names))
	byName := map[string]*repoRun{}
	for i, n := range names {
		src, err := reg[n](ctx, env, opts)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", n, err)
		}
		r := &repoRun{name: n, src: src}
		if _, ok := src.(RunReporter); !ok {
			r.tally = batch.NewTally()
		}
		if _, dup := byName[src.Name()]; dup {
			return nil, fmt.Errorf("sources %s and %s both call themselves %s", byName[src.Name()].name, n, src.Name())
		}
		runs[i], srcs[i], byName[src.Name()] = r, src, r
	}

	var analyzers []audit.Analyzer
	if req.Analyzers != nil {
		ran := make([]string, len(srcs))
		for i, s := range srcs {
			ran[i] = s.Name()
		}
		if analyzers, err = req.Analyzers(ctx, root, ran); err != nil {
			return nil, err
		}
	}

	col, err := env.Collector(store, batch.Config{Analyzers: analyzers, Trail: store, OnAppend: func(source string, recs []*audit.Record) {
		req.Progress.add(int64(len(recs)))
		r := byName[source]
		if r == nil {
			return
		}
		if o, ok := r.src.(RunObserver); ok {
			o.ObserveAppended(recs)
		}
		if r.tally != nil {
			r.tally.Add(recs)
		}
	}})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	sum, runErr := col.Run(ctx, root, srcs)
	res := &Result{Summary: sum, Appended: sum.Records()}
	if ctx.Err() != nil {
		return res, runErr
	}
	rep := repoReport(root, runs, sum, now)
	if noGit {
		rep.Summary = slices.Insert(rep.Summary, 1, report.Item{Label: "Git", Value: "not a git repository: the git source did not run"})
	}
	AnalyzersReport(rep, analyzers, sum.Analyzers)
	res.Report = rep
	var failed []string
	for i, s := range sum.Sources {
		if s.Err != nil {
			failed = append(failed, runs[i].name)
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%d of %s failed (%s); what they recorded before failing is in the trail: %w",
			len(failed), plural.Count(len(sum.Sources), "source"), strings.Join(failed, ", "), runErr)
	}
	return res, runErr
}

// repoRun is one source of a repo run.
type repoRun struct {
	name  string // registry name: git, file
	src   audit.Source
	tally *batch.Tally // generic report, for sources without their own
}

// repoReport combines the collector's summary and each source's report.
func repoReport(root string, runs []*repoRun, sum *batch.Summary, now time.Time) *report.Report {
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.name
	}
	r := &report.Report{
		Title:     "Repository audit of " + filepath.Base(root),
		Generated: now.UTC(),
		Summary: []report.Item{
			{Label: "Repository", Value: root},
			{Label: "Sources", Value: strings.Join(names, ", ")},
			{Label: "Records appended", Value: strconv.Itoa(sum.Records() + analyzerRecords(sum.Analyzers))},
			{Label: "Duration", Value: sum.Duration.Round(time.Millisecond).String()},
		},
	}
	if failed := sum.Failed(); len(failed) > 0 {
		r.Summary = append(r.Summary, report.Item{Label: "Sources failed", Value: strconv.Itoa(len(failed))})
	}

	// Each source reports once.
	parts := make([]*ReportPart, len(runs))
	for i, run := range runs {
		if rep, ok := run.src.(RunReporter); ok {
			p := rep.RunReport()
			parts[i] = &p
		}
	}
	table := report.Section{
		Title: "Sources",
		Text: "What each source appended to the trail in this run, and the problems of the run itself: " +
			"run warnings are problems a source met and went past (a file it could not read, a malformed line; " +
			"listed under Warnings), run errors the one that stopped it (see Status). " +
			"Warnings and errors found in the repository are records, counted in the sections below.",
		Columns: []string{"Source", "Records appended", "Run warnings", "Run errors", "Duration", "Status"},
	}
	for i, s := range sum.Sources {
		status, failed := "ok", 0
		if s.Err != nil {
			status, failed = "failed: "+s.Err.Error(), 1
			r.Warnings = append(r.Warnings, runs[i].name+" failed: "+s.Err.Error())
		}
		warned := 0
		if parts[i] != nil {
			warned = parts[i].warningCount()
		}
		table.Rows = append(table.Rows, []string{runs[i].name, strconv.Itoa(s.Records), strconv.Itoa(warned),
			strconv.Itoa(failed), s.Duration.Round(time.Millisecond).String(), status})
	}
	r.Sections = append(r.Sections, table)

	for i, run := range runs {
		if p := parts[i]; p != nil {
			// The first figures of each source are headlines; all of them
			// are in the source's summary table.
			for _, it := range p.Summary[:min(len(p.Summary), headlines)] {
				if slices.ContainsFunc(r.Summary, func(x report.Item) bool { return x.Label == it.Label }) {
					it.Label = run.name + ": " + it.Label // "module: Files" beside the file source's
				}
				r.Summary = append(r.Summary, it)
			}
			if len(p.Summary) > 0 {
				sec := report.Section{Title: run.name + " summary", Columns: []string{"Measure", "Value"}}
				for _, it := range p.Summary {
					sec.Rows = append(sec.Rows, []string{it.Label, it.Value})
				}
				r.Sections = append(r.Sections, sec)
			}
			r.Sections = append(r.Sections, p.Sections...)
			r.Warnings = append(r.Warnings, p.Warnings...)
			continue
		}
		r.Sections = append(r.Sections, run.tally.Sections(run.name+": ", genericTop)...)
	}
	return r
}

// analyzerNotes is implemented by analyzers with remarks about their run
// that are not findings (a check that could not run).
type analyzerNotes interface {
	Notes() []string
}

// AnalyzersReport adds what the analyzers did to r: their summary, sections,
// warnings and notes, and the open findings.
func AnalyzersReport(r *report.Report, analyzers []audit.Analyzer, results []analyzer.Result) {
	if len(results) == 0 {
		return
	}
	summary, sections, warnings, findings := analyzer.ReportPart(results)
	r.Summary = append(r.Summary, summary...)
	r.Sections = append(r.Sections, sections...)
	r.Warnings = append(r.Warnings, warnings...)
	for _, an := range analyzers {
		if n, ok := an.(analyzerNotes); ok {
			for _, note := range n.Notes() {
				r.Warnings = append(r.Warnings, an.Name()+": "+note)
			}
		}
	}
	r.Findings = findings
}

// analyzerRecords counts the records the analyzers appended.
func analyzerRecords(results []analyzer.Result) int {
	n := 0
	for _, r := range results {
		n += r.Appended()
	}
	return n
}

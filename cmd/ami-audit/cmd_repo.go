package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/git"
)

// repoFlags are the flags of "ami-audit repo".
type repoFlags struct {
	sources   string
	analyzers string
	osvDB     string
	failOn    failOnFlag
	baseline  string
	out       outputFlags
}

// genericTop is the number of targets a generic source report lists.
const genericTop = 20

// headlines is the number of a source's summary figures shown in the
// report's summary.
const headlines = 4

func (a *App) repoCommand() *cobra.Command {
	var f repoFlags
	cmd := &cobra.Command{
		Use:   "repo [PATH]",
		Short: "Audit a whole repository with every available source",
		Long: `Audit the repository in the current directory (or PATH): run the chosen
sources over it in parallel, append their records to the trail, and print a
report combining what each source found.

By default every available source runs: git, file, log, module, quality
(banned words, suppressions, the installed linters) and service (the launcher
manifest's services, when the repository has one). Runs are incremental: what is already in the trail (a commit, a
file whose content and metadata did not change) is not recorded again, so a
second run on an unchanged repository appends nothing.

Outside a git repository the git source does not run: the others do, and
the report says the directory is not a git repository. Naming the git
source with --sources there is an error.

Then every analyzer that understands a source that ran examines the trail
(` + "`--analyzers`" + ` chooses, ` + "`--analyzers=none`" + ` runs none); new, changed and
resolved findings are appended to the trail, and the report lists the open
findings. --fail-on=SEVERITY makes the command exit with status 4 when an
open finding reaches that severity.

A source that fails does not stop the others; what it recorded before
failing stays in the trail, the report says which source failed and why,
and the command exits with status 1.`,
		Example: `  ami-audit repo
  ami-audit repo --sources=git
  ami-audit repo --analyzers=security --osv-db ~/osv --fail-on=high
  ami-audit repo --analyzers=none
  ami-audit repo --format=html --output=audit.html
  ami-audit repo ../other-repo --format=json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return a.runRepo(cmd, dir, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.sources, "sources", "", "comma-separated sources to run: "+strings.Join(plannedSources, ", ")+" (default: every available one)")
	fl.StringVar(&f.analyzers, "analyzers", "", "comma-separated analyzers to run: "+strings.Join(availableAnalyzers(a.analyzerRegistry()), ", ")+", or none (default: every one that understands a source that ran)")
	fl.StringVar(&f.osvDB, "osv-db", "", "local OSV database DIR for the security analyzer's dependency check (osv-scanner's offline database, or <Ecosystem>/all.zip)")
	fl.StringVar(&f.failOn.value, "fail-on", "", failOnHelp)
	fl.StringVar(&f.baseline, "baseline", "", "compare with a saved baseline FILE (drift; not available yet)")
	addOutputFlags(cmd, &f.out)
	return cmd
}

func (a *App) runRepo(cmd *cobra.Command, dir string, f repoFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	if f.baseline != "" {
		return withHint(usagef("--baseline: drift comparison with a baseline is not available yet"), "run 'ami-audit repo' without --baseline")
	}
	if _, err := f.failOn.severity(); err != nil {
		return err
	}
	reg := a.sourceRegistry()
	names, err := selectSources(f.sources, reg)
	if err != nil {
		return withHint(err, "ami-audit repo --sources="+strings.Join(availableSources(reg), ","))
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(root); err != nil {
		return usagef("repository %s: %v", dir, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return usagef("repository %s: not a directory", dir)
	}
	// Outside a git repository the sources that need one cannot run:
	// asked for by name, that is an error; by default, the others run.
	// Either way this is known before the trail is opened or created.
	noGit := false
	if slices.ContainsFunc(names, needsGit) {
		if _, err := gitToplevel(ctx, root); errors.Is(err, git.ErrNotRepository) {
			others := slices.DeleteFunc(slices.Clone(names), needsGit)
			if f.sources != "" || len(others) == 0 {
				if len(others) == 0 {
					others = slices.DeleteFunc(availableSources(reg), needsGit)
				}
				return withHint(fmt.Errorf("%w; the git source needs one", err), "ami-audit repo --sources="+strings.Join(others, ","))
			}
			names, noGit = others, true
			a.notice("note: %s is not a git repository: running %s without the git source (no history, authors or blame)",
				root, strings.Join(names, ", "))
		}
	}

	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	runs := make([]*repoRun, len(names))
	srcs := make([]audit.Source, len(names))
	byName := map[string]*repoRun{}
	for i, n := range names {
		src, err := reg[n](ctx, a, sourceOptions{Root: root})
		if err != nil {
			return fmt.Errorf("source %s: %w", n, err)
		}
		r := &repoRun{name: n, src: src}
		if _, ok := src.(runReporter); !ok {
			r.tally = batch.NewTally()
		}
		if _, dup := byName[src.Name()]; dup {
			return fmt.Errorf("sources %s and %s both call themselves %s", byName[src.Name()].name, n, src.Name())
		}
		runs[i], srcs[i], byName[src.Name()] = r, src, r
	}
	ran := make([]string, len(srcs))
	for i, s := range srcs {
		ran[i] = s.Name()
	}
	analyzers, err := a.selectAnalyzers(ctx, f.analyzers, analyzerOptions{Root: root, Ran: ran, OSVDB: f.osvDB})
	if err != nil {
		return err
	}

	meter := progress.New(a.stderr, a.progress(), "repo", "records", 0)
	defer meter.Done()
	col, err := a.collector(store, batch.Config{Analyzers: analyzers, Trail: store, OnAppend: func(source string, recs []*audit.Record) {
		meter.Add(int64(len(recs)))
		r := byName[source]
		if r == nil {
			return
		}
		if o, ok := r.src.(runObserver); ok {
			o.ObserveAppended(recs)
		}
		if r.tally != nil {
			r.tally.Add(recs)
		}
	}})
	if err != nil {
		return err
	}
	now := time.Now()
	sum, runErr := col.Run(ctx, root, srcs)
	meter.Done()
	if ctx.Err() != nil {
		a.notice("interrupted: %s appended before the interruption; run again to continue", plural.Count(sum.Records(), "record")+" "+plural.Pick(sum.Records(), "was", "were"))
		return runErr
	}
	rep := repoReport(root, runs, sum, now)
	if noGit {
		rep.Summary = slices.Insert(rep.Summary, 1, report.Item{Label: "Git", Value: "not a git repository: the git source did not run"})
	}
	analyzersReport(rep, analyzers, sum.Analyzers)
	if err := a.render(f.out, rep); err != nil {
		return err
	}
	var failed []string
	for i, s := range sum.Sources {
		if s.Err != nil {
			failed = append(failed, runs[i].name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %s failed (%s); what they recorded before failing is in the trail: %w",
			len(failed), plural.Count(len(sum.Sources), "source"), strings.Join(failed, ", "), runErr)
	}
	if runErr != nil {
		return runErr
	}
	return f.failOn.gate(rep.Findings)
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
	parts := make([]*reportPart, len(runs))
	for i, run := range runs {
		if rep, ok := run.src.(runReporter); ok {
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

package collect

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/file"
	"github.com/ami-orchestrator/ami-audit/source/git"
)

// SourceOptions is what a source is built with for a whole-repository run.
type SourceOptions struct {
	// Root is the absolute path of the repository being audited.
	Root string
	// EngineHosts are the container engine endpoints the service source
	// tries (empty: the docker and podman sockets).
	EngineHosts []string
}

// SourceFactory builds a configured source for one run, appending into
// the Env's trail (for instance to collect incrementally against it).
//
// What it returns may also implement RunReporter, to put its own summary
// and sections in the "repo" report, and RunObserver, to see its records
// as they are appended. A source that implements neither is reported
// generically: its records per action, severity and target type, and the
// targets with the most records.
type SourceFactory func(ctx context.Context, env *Env, opts SourceOptions) (audit.Source, error)

// Registry lists the sources a repository run can run, by name. It is
// the one place a source is made available to the front ends: each source
// package adds its line here.
func Registry() map[string]SourceFactory {
	return map[string]SourceFactory{
		"git":     gitRepoSource,
		"file":    fileRepoSource,
		"log":     logRepoSource,
		"module":  moduleRepoSource,
		"quality": qualityRepoSource,
		"service": serviceRepoSource,
	}
}

// NeedsGit reports whether the named source needs a git repository;
// outside one, a repository run runs the others.
func NeedsGit(name string) bool { return name == "git" }

// ReportPart is one source's part of a run's report.
type ReportPart struct {
	Summary  []report.Item
	Sections []report.Section
	// Warnings are the first problems the source met and went past (a
	// file it could not read, a malformed line), each prefixed with the
	// source's name; WarningCount counts them all (0: len(Warnings)).
	Warnings     []string
	WarningCount int
}

// warningCount is the number of problems the source met and went past.
func (p ReportPart) warningCount() int { return max(p.WarningCount, len(p.Warnings)) }

// RunReporter is implemented by sources that report on their own run. It
// is called once, after the run.
type RunReporter interface {
	RunReport() ReportPart
}

// RunObserver is implemented by sources that want to see their records
// after they are appended (one call at a time).
type RunObserver interface {
	ObserveAppended(recs []*audit.Record)
}

// PartOf turns a command's report into a source's part of a "repo"
// report: the summary without the run's own bookkeeping (records
// appended, duration), the sections, and the warnings named after the
// source.
func PartOf(rep *report.Report, source string) ReportPart {
	p := ReportPart{Sections: rep.Sections}
	for _, it := range rep.Summary {
		if it.Label != "Records appended" && it.Label != "Duration" {
			p.Summary = append(p.Summary, it)
		}
	}
	for _, w := range rep.Warnings {
		p.Warnings = append(p.Warnings, source+": "+w)
	}
	return p
}

// MaxReportWarnings caps the warnings a source puts in a report; the
// summary still counts them all.
const MaxReportWarnings = 200

// gitRun is the git source of a "repo" run with what it reports: the
// statistics of every commit walked (recorded now or before) and the
// warnings recorded.
type gitRun struct {
	*git.Source
	stats    *git.Stats
	warnings []string
	nWarn    int
}

// gitRepoSource builds the git source for "repo": every commit of every
// branch, tag and submodule, incremental against the trail.
func gitRepoSource(ctx context.Context, env *Env, _ SourceOptions) (audit.Source, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	run := &gitRun{stats: git.NewStats()}
	src, err := git.New(git.Config{Recorded: store, OnCommit: run.stats.Add, Exclude: env.Exclusion()})
	if err != nil {
		return nil, err
	}
	run.Source = src
	return run, nil
}

func (g *gitRun) ObserveAppended(recs []*audit.Record) {
	for _, r := range recs {
		if r.Action != git.ActionWarning {
			continue
		}
		g.nWarn++
		if len(g.warnings) < MaxReportWarnings {
			msg, _ := r.Context["error"].(string)
			g.warnings = append(g.warnings, "git: "+r.Target+": "+msg)
		}
	}
}

func (g *gitRun) RunReport() ReportPart {
	p := ReportPart{Summary: g.stats.Summary(), Sections: g.stats.Sections(), Warnings: g.warnings, WarningCount: g.nWarn}
	if g.nWarn > len(g.warnings) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("git: %s more in the trail (action %s)", plural.Count(g.nWarn-len(g.warnings), "warning"), git.ActionWarning))
	}
	return p
}

// fileRun is the file source of a "repo" run with its tally.
type fileRun struct {
	*file.Source
	tally *file.Tally
}

// fileRepoSource builds the file source for "repo": every file of the
// repository that .gitignore does not exclude, incremental against the
// trail.
func fileRepoSource(ctx context.Context, env *Env, opts SourceOptions) (audit.Source, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	run := &fileRun{tally: &file.Tally{MaxRows: MaxReportWarnings, MaxWarnings: MaxReportWarnings}}
	src, err := file.New(file.Config{Root: opts.Root, Trail: store, Observe: run.tally.Observe, Exclude: env.Exclusion()})
	if err != nil {
		return nil, err
	}
	run.Source = src
	return run, nil
}

func (f *fileRun) RunReport() ReportPart {
	t := f.tally
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	p := ReportPart{
		Summary: []report.Item{
			{Label: "Files", Value: i64(t.Files)},
			{Label: "Size", Value: humanize.IBytes(uint64(max(t.Bytes, 0)))},
			{Label: "New files", Value: i64(t.New)},
			{Label: "Changed files", Value: i64(t.Changed)},
			{Label: "Unchanged files", Value: i64(t.Unchanged)},
			{Label: "Removed files", Value: i64(t.Removed)},
			{Label: "Files skipped", Value: i64(t.Skipped)},
			{Label: "Files excluded", Value: i64(t.Excluded)},
			{Label: "Files ignored (untracked)", Value: i64(t.Ignored)},
		},
		Warnings:     t.Warnings,
		WarningCount: int(t.WarningCount),
	}
	for i := range p.Warnings {
		p.Warnings[i] = "file: " + p.Warnings[i]
	}
	if t.WarningCount > int64(len(t.Warnings)) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("file: %s more in the trail", plural.Count(t.WarningCount-int64(len(t.Warnings)), "warning")))
	}
	if sec, ok := notAudited(t); ok {
		p.Sections = append(p.Sections, sec)
	}
	p.Sections = append(p.Sections, extensionSections(t)...)
	return p
}

// PlannedSources are the source names of the specification, in the order
// they run and are listed. A name here that is not in the registry is
// refused as "not available yet".
var PlannedSources = []string{"git", "file", "log", "module", "quality", "service"}

// AvailableSources lists the registered names: planned ones first, in
// their order, then any other, sorted.
func AvailableSources(reg map[string]SourceFactory) []string {
	return RegistryNames(reg, PlannedSources)
}

// RegistryNames lists the names of a registry: those of planned first, in
// that order, then any other, sorted.
func RegistryNames[F any](reg map[string]F, planned []string) []string {
	var out, extra []string
	for _, n := range planned {
		if _, ok := reg[n]; ok {
			out = append(out, n)
		}
	}
	for n := range reg {
		if !slices.Contains(planned, n) {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// SelectSources parses a --sources value ("git,file"; empty means every
// available source) into registered names, in the order given, without
// duplicates. Its errors are usage errors.
func SelectSources(spec string, reg map[string]SourceFactory) ([]string, error) {
	avail := AvailableSources(reg)
	list := func() string {
		if len(avail) == 0 {
			return "none"
		}
		return strings.Join(avail, ", ")
	}
	if strings.TrimSpace(spec) == "" {
		if len(avail) == 0 {
			return nil, usererr.Usagef("no source is available in this build")
		}
		return avail, nil
	}
	var out []string
	for _, n := range strings.Split(spec, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		switch {
		case n == "":
			return nil, usererr.Usagef("--sources %q: empty source name; available: %s", spec, list())
		case reg[n] != nil:
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		case slices.Contains(PlannedSources, n):
			return nil, usererr.Usagef("source '%s' is not available yet; available: %s", n, list())
		default:
			return nil, usererr.Usagef("unknown source '%s'; available: %s", n, list())
		}
	}
	return out, nil
}

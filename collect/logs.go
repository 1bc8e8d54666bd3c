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
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
)

// LogsRequest asks what a directory of logs says.
type LogsRequest struct {
	// Dir is the log directory or file.
	Dir string
	// Config configures the log source (Trail, Exclude and OnProgress
	// are set here).
	Config logsource.Config
	// Top is the number of patterns the report lists.
	Top int
	// Progress counts the lines read.
	Progress Progress
}

// Logs reads every log file under req.Dir, records its summaries,
// patterns and bursts, and reports on them. Its errors wrap the log
// source's (logsource.ErrNoLogs, ErrUnknownService, ErrNoManifest,
// ErrExcluded).
func Logs(ctx context.Context, env *Env, req LogsRequest) (*Result, error) {
	now := time.Now()
	if _, err := os.Stat(req.Dir); err != nil {
		return nil, usererr.WithHint(fmt.Errorf("log directory: %w", err), "give the logs with --dir=DIR")
	}
	cfg := req.Config
	cfg.OnProgress = req.Progress.add
	cfg.Exclude = env.Exclusion()
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Trail = store
	src, err := logsource.New(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	run := &LogRun{Source: src}
	res := &Result{}
	col, err := env.Collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { res.Appended += len(recs) }})
	if err != nil {
		return nil, err
	}
	res.Summary, err = col.Run(ctx, req.Dir, []audit.Source{run})
	if err != nil {
		return res, err
	}
	res.Report = LogsReport(req.Dir, cfg, run.sum, res.Appended, req.Top, now)
	return res, nil
}

// NewLogRun is the log source of cfg with the summary of its run, for a
// run beside other sources (the service command's).
func NewLogRun(cfg logsource.Config) (*LogRun, error) {
	src, err := logsource.New(cfg)
	if err != nil {
		return nil, err
	}
	return &LogRun{Source: src}, nil
}

// Summary is the summary of the run (nil before, or when there were no
// logs).
func (r *LogRun) Summary() *logsource.Summary { return r.sum }

// LogRun is the log source with the summary of its last run.
type LogRun struct {
	*logsource.Source
	sum *logsource.Summary
	// repo: the target is a repository; its logs are in logs/
	repo    bool
	missing string
}

func (r *LogRun) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	if r.repo {
		dir := filepath.Join(target, "logs")
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			r.missing = dir
			return nil // a repository without logs has nothing to say here
		}
		target = dir
	}
	sum, err := r.Run(ctx, target, emit)
	r.sum = sum
	if r.repo && errors.Is(err, logsource.ErrNoLogs) {
		return nil
	}
	return err
}

// logRepoSource builds the log source for "repo": the repository's logs/
// directory, when it has one.
func logRepoSource(ctx context.Context, env *Env, opts SourceOptions) (audit.Source, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	src, err := logsource.New(logsource.Config{Exclude: env.Exclusion(), Trail: store, Root: opts.Root})
	if err != nil {
		return nil, err
	}
	return &LogRun{Source: src, repo: true}, nil
}

func (r *LogRun) RunReport() ReportPart {
	if r.sum == nil {
		if r.missing != "" {
			return ReportPart{Summary: []report.Item{{Label: "Log files", Value: "0 (no " + r.missing + ")"}}}
		}
		return ReportPart{}
	}
	rep := LogsReport(r.sum.Target, logsource.Config{}, r.sum, 0, 10, time.Now())
	p := ReportPart{Sections: rep.Sections, WarningCount: int(r.sum.WarningCount)}
	for _, it := range rep.Summary {
		if it.Label != "Records appended" {
			p.Summary = append(p.Summary, it)
		}
	}
	for _, w := range rep.Warnings {
		p.Warnings = append(p.Warnings, "log: "+w)
	}
	return p
}

// LogsReport builds the report of one logs run: the figures, the top
// patterns, the error bursts, the errors over time and the files.
func LogsReport(dir string, cfg logsource.Config, sum *logsource.Summary, appended, top int, now time.Time) *report.Report {
	title := "Logs of " + dir
	if sum.Service != "" {
		title = "Logs of service " + sum.Service
	}
	r := &report.Report{Title: title, Generated: now.UTC(), Warnings: sum.Warnings}
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	tstr := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	}
	var formats []string
	for fm, n := range sum.Formats {
		formats = append(formats, fmt.Sprintf("%s %d", fm, n))
	}
	slices.Sort(formats)
	timeRange := "no timestamps"
	if !sum.First.IsZero() {
		timeRange = tstr(sum.First) + " – " + tstr(sum.Last)
	}
	r.Summary = []report.Item{
		{Label: "Files", Value: strconv.Itoa(len(sum.Files))},
		{Label: "Formats", Value: strings.Join(formats, ", ")},
		{Label: "Lines", Value: i64(sum.Lines)},
		{Label: "Entries", Value: i64(sum.Entries)},
	}
	for i, sev := range audit.Severities {
		r.Summary = append(r.Summary, report.Item{Label: strings.ToUpper(string(sev[:1])) + string(sev[1:]), Value: i64(sum.Levels[i])})
	}
	r.Summary = append(r.Summary,
		report.Item{Label: "Time range", Value: timeRange},
		report.Item{Label: "Level", Value: "at least " + string(sum.Level)},
	)
	if !cfg.Since.IsZero() {
		r.Summary = append(r.Summary, report.Item{Label: "Since", Value: tstr(cfg.Since)})
	}
	if !cfg.Until.IsZero() {
		r.Summary = append(r.Summary, report.Item{Label: "Until", Value: tstr(cfg.Until)})
	}
	r.Summary = append(r.Summary,
		report.Item{Label: "Patterns", Value: strconv.Itoa(len(sum.Patterns))},
		report.Item{Label: "Bursts", Value: strconv.Itoa(len(sum.Bursts))},
	)
	if sum.EvictedPatterns > 0 {
		r.Summary = append(r.Summary, report.Item{Label: "Patterns evicted", Value: fmt.Sprintf("%d (%s; recorded when evicted)", sum.EvictedPatterns, plural.Count(sum.EvictedLines, "line"))})
	}
	r.Summary = append(r.Summary, report.Item{Label: "Records appended", Value: strconv.Itoa(appended)})

	// top patterns
	pats := report.Section{
		Title:   "Top patterns",
		Text:    fmt.Sprintf("Entries at level %s or above, grouped into %s; <*> marks a parameter.", sum.Level, plural.Count(len(sum.Patterns), "pattern")),
		Columns: []string{"Count", "Level", "Pattern", "First seen", "Last seen", "Files"},
	}
	for i, p := range sum.Patterns {
		if i == top {
			pats.Text += fmt.Sprintf(" The %d with the most entries are listed.", top)
			break
		}
		pats.Rows = append(pats.Rows, []string{i64(p.Count), string(p.Level), p.Template, tstr(p.First), tstr(p.Last), strconv.Itoa(len(p.Files) + min(int(p.OtherFiles), 1))})
	}
	r.Sections = append(r.Sections, pats)

	// bursts
	bs := report.Section{
		Title: "Error bursts",
		Text: fmt.Sprintf("At least %s of level %s or above within %s, on the timeline merged across files (resolution %s).",
			plural.Count(sum.BurstMin, "entry"), sum.BurstLevel, sum.BurstWindow, sum.Resolution),
		Columns: []string{"Start", "End", "Errors", "Peak in window", "Dominant pattern"},
	}
	for _, b := range sum.Bursts {
		dom := ""
		if len(b.Dominant) > 0 {
			dom = fmt.Sprintf("%s (≥ %d)", b.Dominant[0].Template, b.Dominant[0].AtLeast)
		}
		bs.Rows = append(bs.Rows, []string{tstr(b.Start), tstr(b.End), i64(b.Errors), i64(b.Peak), dom})
	}
	if len(sum.Bursts) == 0 {
		bs.Text += " None found."
	}
	r.Sections = append(r.Sections, bs)

	// timeline
	if tl := sum.Timeline; len(tl.Counts) > 0 {
		chart := &report.Chart{Kind: report.ChartBar, Unit: "errors"}
		layout := "2006-01-02 15:04"
		switch {
		case tl.Step < time.Minute:
			layout = "15:04:05"
		case tl.Step >= 24*time.Hour:
			layout = "2006-01-02"
		}
		for i, n := range tl.Counts {
			chart.Labels = append(chart.Labels, tl.Start.Add(time.Duration(i)*tl.Step).UTC().Format(layout))
			chart.Values = append(chart.Values, float64(n))
		}
		r.Sections = append(r.Sections, report.Section{
			Title: "Errors over time",
			Text:  fmt.Sprintf("Entries of level %s or above per %s, from %s (UTC).", sum.BurstLevel, tl.Step, tstr(tl.Start)),
			Chart: chart,
		})
	}

	// files
	const maxFiles = 50
	fs := report.Section{Title: "Files", Columns: []string{"File", "Format", "Detected from", "Lines", "Entries", "Errors", "Warnings", "First", "Last"}}
	for i, f := range sum.Files {
		if i == maxFiles {
			fs.Text = fmt.Sprintf("The first %d of %d files; every file has its log_file_summary record.", maxFiles, len(sum.Files))
			break
		}
		name := f.Path
		if rel, err := filepath.Rel(sum.Target, f.Path); err == nil && !f.PathEscaped && rel != "." {
			name = rel
		}
		format := string(f.Format)
		if f.Compression != "" {
			format += " (" + f.Compression + ")"
		}
		fs.Rows = append(fs.Rows, []string{name, format, f.Reason, i64(f.Lines), i64(f.InWindow),
			i64(f.Levels[3] + f.Levels[4]), i64(f.Levels[2]), tstr(f.First), tstr(f.Last)})
	}
	r.Sections = append(r.Sections, fs)
	return r
}

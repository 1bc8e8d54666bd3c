package main

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

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/report"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
)

// logsFlags are the flags of "ami-audit logs".
type logsFlags struct {
	dir          string
	level        string
	service      string
	manifest     string
	since, until string
	each         bool
	tz           string
	burstMin     int
	burstWindow  time.Duration
	maxPatterns  int
	top          int
	out          outputFlags
}

func (a *App) logsCommand() *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs [--dir=DIR]",
		Short: "Record what a directory of logs says: error patterns, bursts, per-file summaries",
		Long: `Read every log file under --dir (default ./logs; a single file works too),
recursively, gzip and bzip2 rotations included. Each file's format is
detected from its first lines (JSON lines, agent transcripts, logfmt, loguru,
"timestamp level message", "=== SECTION ===" text, or plain text) and the
report says which was chosen and why. Timestamps are normalised to UTC;
those written without a zone are taken in --tz.

Entries at or above --level are grouped into patterns ("timeout after 30s on
host a" and "timeout after 12s on host b" are one pattern, "timeout after
<*> on host <*>"). Errors from all files are merged on one timeline, and a
burst is reported wherever --burst-window holds at least --burst-min errors.

Appended to the trail: one log_file_summary record per file, one
log_pattern record per pattern, one log_error_burst record per burst, and
with --each one log_entry record per entry that passes the filters.
Runs are incremental: a record that says what the trail's newest record of
the same file, pattern, burst or entry says is not appended again. Targets
are named relative to the repository ("logs" and "./logs/" are one).

Git's internals, the trail's directory and private key files are never
read, and every value is masked for secrets before it is recorded (see
docs/secrets.md).

--service=NAME reads only that service's logs, as named in the services
manifest (scripts/config/services.yaml or scripts/services.yaml, found in
the current directory or above): files under a directory named after the
service, its compose service or its container (container_name in the
compose file), and files named after one of those, such as
data-postgres.log, ami-postgres.log.1.gz or postgres-2025-12-01.log.

Dates are ISO dates, RFC 3339 times, "now", "today", "yesterday" or
relative forms ("1 hour ago", "7d"). --since is inclusive, --until
exclusive; entries without a timestamp are left out when either is given.`,
		Example: `  ami-audit logs --dir=logs/ --level=ERROR --since="1 hour ago" --until=now
  ami-audit logs --dir=logs/agent --format=markdown
  ami-audit logs --service=data-postgres`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runLogs(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "log directory or file (default: logs/, beside the services manifest with --service)")
	fl.StringVar(&f.level, "level", "warning", "least level aggregated into patterns: debug, info, warning, error, critical")
	fl.StringVar(&f.service, "service", "", "only the logs of this service of the services manifest")
	fl.StringVar(&f.manifest, "manifest", "", "services manifest (default: scripts/config/services.yaml or scripts/services.yaml, here or above)")
	fl.StringVar(&f.since, "since", "", "only entries at or after DATE")
	fl.StringVar(&f.until, "until", "", "only entries before DATE")
	fl.BoolVar(&f.each, "each", false, "also record every entry that passes the filters (one record per line)")
	fl.StringVar(&f.tz, "tz", "UTC", "time zone of timestamps written without one (e.g. Europe/Paris, Local)")
	fl.IntVar(&f.burstMin, "burst-min", 20, "errors that make a burst …")
	fl.DurationVar(&f.burstWindow, "burst-window", time.Minute, "… within this window")
	fl.IntVar(&f.maxPatterns, "max-patterns", 2000, "patterns held in memory; the least recent is recorded and dropped beyond")
	fl.IntVar(&f.top, "top", 20, "patterns listed in the report")
	addOutputFlags(cmd, &f.out)
	return cmd
}

// logsConfig turns the flags into a source configuration and the log
// directory.
func logsConfig(f logsFlags, now time.Time) (logsource.Config, string, error) {
	cfg := logsource.Config{
		Each:        f.each,
		Service:     f.service,
		Manifest:    f.manifest,
		BurstMin:    f.burstMin,
		BurstWindow: f.burstWindow,
		MaxPatterns: f.maxPatterns,
	}
	lv, err := audit.ParseSeverity(f.level)
	if err != nil {
		return cfg, "", withHint(usagef("--level: %v", err), "--level=error shows errors and worse")
	}
	cfg.Level = lv
	if cfg.Since, err = parseDateFlag("since", f.since, now); err != nil {
		return cfg, "", err
	}
	if cfg.Until, err = parseDateFlag("until", f.until, now); err != nil {
		return cfg, "", err
	}
	if cfg.Location, err = time.LoadLocation(f.tz); err != nil {
		return cfg, "", withHint(usagef("--tz %q: %v", f.tz, err), "use an IANA zone name such as UTC or Europe/Paris")
	}
	if f.burstMin < 1 || f.burstWindow <= 0 || f.maxPatterns < 1 || f.top < 0 {
		return cfg, "", usagef("--burst-min, --burst-window and --max-patterns must be positive, --top not negative")
	}
	dir := f.dir
	if f.service != "" {
		if cfg.Manifest == "" {
			m, root, err := logsource.LocateManifest(".")
			if err != nil {
				return cfg, "", withHint(usageError{err}, "run from the repository, or give --manifest=FILE")
			}
			cfg.Manifest, cfg.Root = m, root
			if dir == "" {
				dir = filepath.Join(root, "logs")
			}
		}
	}
	if dir == "" {
		dir = "logs"
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", usageError{err}
	}
	return cfg, dir, nil
}

func (a *App) runLogs(cmd *cobra.Command, f logsFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	now := time.Now()
	cfg, dir, err := logsConfig(f, now)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return withHint(fmt.Errorf("log directory: %w", err), "give the logs with --dir=DIR")
	}
	meter := progress.New(a.stderr, a.progress(), "logs", "lines", 0)
	defer meter.Done()
	cfg.OnProgress = meter.Add
	cfg.Exclude = a.exclusion()
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	cfg.Trail = store
	src, err := logsource.New(cfg)
	if err != nil {
		return usageError{err}
	}
	run := &logRun{Source: src}
	appended := 0
	col, err := a.collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { appended += len(recs) }})
	if err != nil {
		return err
	}
	_, err = col.Run(ctx, dir, []audit.Source{run})
	meter.Done()
	if err != nil {
		a.appendedBeforeFailure(appended)
		switch {
		case errors.Is(err, logsource.ErrUnknownService), errors.Is(err, logsource.ErrNoManifest):
			return withHint(usageError{err}, "services are listed in the services manifest")
		case errors.Is(err, logsource.ErrNoLogs):
			return withHint(err, "check --dir and --service")
		case errors.Is(err, logsource.ErrExcluded):
			return withHint(usageError{err}, "git internals, the trail's directory and private keys are never read")
		}
		return err
	}
	return a.render(f.out, logsReport(dir, cfg, run.sum, appended, f.top, now))
}

// logRun is the log source with the summary of its last run.
type logRun struct {
	*logsource.Source
	sum *logsource.Summary
	// repo: the target is a repository; its logs are in logs/
	repo    bool
	missing string
}

func (r *logRun) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
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
func logRepoSource(ctx context.Context, a *App, opts sourceOptions) (audit.Source, error) {
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	src, err := logsource.New(logsource.Config{Exclude: a.exclusion(), Trail: store, Root: opts.Root})
	if err != nil {
		return nil, err
	}
	return &logRun{Source: src, repo: true}, nil
}

func (r *logRun) RunReport() reportPart {
	if r.sum == nil {
		if r.missing != "" {
			return reportPart{Summary: []report.Item{{Label: "Log files", Value: "0 (no " + r.missing + ")"}}}
		}
		return reportPart{}
	}
	rep := logsReport(r.sum.Target, logsource.Config{}, r.sum, 0, 10, time.Now())
	p := reportPart{Sections: rep.Sections, WarningCount: int(r.sum.WarningCount)}
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

// logsReport builds the report of one logs run.
func logsReport(dir string, cfg logsource.Config, sum *logsource.Summary, appended, top int, now time.Time) *report.Report {
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

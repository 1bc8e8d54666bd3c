package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/quality"
)

// qualityFlags are the flags of "ami-audit quality".
type qualityFlags struct {
	violations  bool
	bannedWords bool
	fix         bool
	noLinters   bool
	sarif       []string
	failOn      string
	timeout     time.Duration
	out         outputFlags
}

func (a *App) qualityCommand() *cobra.Command {
	var f qualityFlags
	cmd := &cobra.Command{
		Use:   "quality [PATH]",
		Short: "Record code-quality violations: banned words, suppressions, linters, SARIF",
		Long: `Check PATH (default: the current directory) for every quality rule that
applies and append what changed to the trail:

  - AMI's banned words and banned file names (scripts/config/patterns/
    banned_words.yaml and its siblings scanner.yaml, code_check.yaml,
    exemptions.yaml, found at the repository root);
  - suppression comments (# noqa, # type: ignore, //nolint, eslint-disable …);
  - the linters installed and configured for the tree, through their JSON
    output: ruff (with bandit's rules, S), mypy, gosec, golangci-lint,
    eslint; a linter that applies but is not installed is reported as
    "not run: not installed";
  - SARIF 2.1.0 files of any producer (--sarif);
  - ami-agent --audit reviews (docs/audit/, .cache/audit/, logs/audit-cache/).

Runs are incremental: a violation already in the trail is not recorded again,
one that is gone is recorded as resolved (quality_violation_resolved), and a
re-run on an unchanged tree appends nothing.

--fix runs the fix modes of the linters that have one (ruff check --fix,
eslint --fix, golangci-lint run --fix), records every file they changed with
its hashes before and after, and then checks again. ami-audit never edits a
file itself.

--fail-on=SEVERITY exits with status 4 when violations of that severity or
worse were found (the CI gate's code).`,
		Example: `  ami-audit quality .
  ami-audit quality base/ --banned-words
  ami-audit quality . --violations --format=markdown --output=quality.md
  ami-audit quality . --sarif results/*.sarif
  ami-audit quality . --fix
  ami-audit quality . --fail-on=error`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return a.runQuality(cmd, dir, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.violations, "violations", false, "list every violation in the report")
	fl.BoolVar(&f.bannedWords, "banned-words", false, "check only AMI's banned words and banned file names")
	fl.BoolVar(&f.fix, "fix", false, "run the linters' own fix modes first, record what they changed, then check")
	fl.BoolVar(&f.noLinters, "no-linters", false, "run no linter")
	fl.StringSliceVar(&f.sarif, "sarif", nil, "ingest SARIF 2.1.0 FILE(s) (comma-separated or repeated; globs are expanded)")
	fl.StringVar(&f.failOn, "fail-on", "", "exit with status 4 when violations of this severity or worse are found: debug, info, warning, error, critical")
	fl.DurationVar(&f.timeout, "linter-timeout", 10*time.Minute, "longest time one linter may run")
	addOutputFlags(cmd, &f.out)
	return cmd
}

// expandSARIF expands glob patterns the shell left alone.
func expandSARIF(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, usagef("--sarif %q: %v", a, err)
			}
			if len(m) == 0 {
				return nil, usagef("--sarif %q matches no file", a)
			}
			out = append(out, m...)
			continue
		}
		if _, err := os.Stat(a); err != nil {
			return nil, withHint(usagef("--sarif: %v", err), "give SARIF files a linter wrote, e.g. gosec -fmt=sarif -out=gosec.sarif ./...")
		}
		out = append(out, a)
	}
	return out, nil
}

func parseFailOn(s string) (audit.Severity, error) {
	if s == "" {
		return "", nil
	}
	sev, err := audit.ParseSeverity(s)
	if err != nil {
		return "", withHint(usagef("--fail-on: %v", err), "--fail-on=error fails on errors and critical violations")
	}
	return sev, nil
}

func (a *App) runQuality(cmd *cobra.Command, dir string, f qualityFlags) error {
	ctx := cmd.Context()
	if err := f.out.check(); err != nil {
		return err
	}
	failOn, err := parseFailOn(f.failOn)
	if err != nil {
		return err
	}
	sarifFiles, err := expandSARIF(f.sarif)
	if err != nil {
		return err
	}
	if f.timeout <= 0 {
		return usagef("--linter-timeout must be positive")
	}
	if _, err := os.Stat(dir); err != nil {
		return usagef("quality: %v", err)
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	src, err := quality.New(quality.Config{BannedWordsOnly: f.bannedWords, NoLinters: f.noLinters, SARIF: sarifFiles,
		Fix: f.fix, LinterTimeout: f.timeout, Trail: store, KeepViolations: f.violations, Exclude: a.exclusion()})
	if err != nil {
		return usageError{err}
	}
	meter := progress.New(a.stderr, a.progress(), "quality", "records", 0)
	defer meter.Done()
	appended := 0
	col, err := a.collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) {
		appended += len(recs)
		meter.Add(int64(len(recs)))
	}})
	if err != nil {
		return err
	}
	now := time.Now()
	_, err = col.Run(ctx, dir, []audit.Source{src})
	meter.Done()
	if err != nil {
		if appended > 0 {
			fmt.Fprintf(a.stderr, "ami-audit: %s %s appended before the failure\n", plural.Count(appended, "record"), plural.Pick(appended, "was", "were"))
		}
		return err
	}
	run := src.LastRun()
	if err := a.render(f.out, qualityReport(run, appended, f.violations, now)); err != nil {
		return err
	}
	if failOn != "" {
		if n := run.AtLeast(failOn); n > 0 {
			return gateError{fmt.Errorf("%s of severity %s or worse (--fail-on=%s)", plural.Count(n, "violation"), failOn, failOn)}
		}
	}
	return nil
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
func qualityRepoSource(ctx context.Context, a *App, opts sourceOptions) (audit.Source, error) {
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	src, err := quality.New(quality.Config{Root: opts.Root, Trail: store, Exclude: a.exclusion()})
	if err != nil {
		return nil, err
	}
	return &qualityRun{src}, nil
}

func (q *qualityRun) RunReport() reportPart {
	run := q.LastRun()
	if run == nil {
		return reportPart{}
	}
	return partOf(qualityReport(run, 0, false, time.Now()), "quality")
}

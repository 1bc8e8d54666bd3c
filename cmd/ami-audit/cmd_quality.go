package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
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
	meter := progress.New(a.stderr, a.progress(), "quality", "records", 0)
	defer meter.Done()
	res, err := collect.Quality(ctx, a.env(), collect.QualityRequest{
		Dir: dir,
		Config: quality.Config{BannedWordsOnly: f.bannedWords, NoLinters: f.noLinters, SARIF: sarifFiles,
			Fix: f.fix, LinterTimeout: f.timeout},
		List:     f.violations,
		Progress: meter.Add,
	})
	meter.Done()
	if err != nil {
		if res != nil && res.Appended > 0 {
			fmt.Fprintf(a.stderr, "ami-audit: %s %s appended before the failure\n", plural.Count(res.Appended, "record"), plural.Pick(res.Appended, "was", "were"))
		}
		return err
	}
	if err := a.render(f.out, res.Report); err != nil {
		return err
	}
	if failOn != "" {
		if n := res.Run.AtLeast(failOn); n > 0 {
			return gateError{fmt.Errorf("%s of severity %s or worse (--fail-on=%s)", plural.Count(n, "violation"), failOn, failOn)}
		}
	}
	return nil
}

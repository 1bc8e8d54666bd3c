package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer/drift"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
)

// repoFlags are the flags of "ami-audit repo".
type repoFlags struct {
	sources   string
	analyzers string
	osvDB     string
	failOn    failOnFlag
	drift     driftFlags
	out       outputFlags
}

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
	addDriftFlags(cmd, &f.drift)
	addOutputFlags(cmd, &f.out)
	return cmd
}

func (a *App) runRepo(cmd *cobra.Command, dir string, f repoFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	if f.drift.exitCode && f.drift.baseline == "" {
		return withHint(usagef("--exit-code needs --baseline: it says what drifted since the baseline"), "ami-audit repo --baseline=baseline.json --exit-code")
	}
	if _, err := f.failOn.severity(); err != nil {
		return err
	}
	meter := progress.New(a.stderr, a.progress(), "repo", "records", 0)
	defer meter.Done()
	var driftAn *drift.Analyzer
	res, err := collect.Repo(ctx, a.env(), collect.RepoRequest{
		Dir:      dir,
		Sources:  f.sources,
		Registry: a.sourceRegistry(),
		Options:  collect.SourceOptions{EngineHosts: engineHosts(nil)},
		Analyzers: func(ctx context.Context, root string, ran []string) ([]audit.Analyzer, error) {
			opts := analyzerOptions{Root: root, Ran: ran, OSVDB: f.osvDB, ConfigPatterns: f.drift.config}
			if a.trail != nil {
				opts.Settings = a.trail.Settings().Analyzers
			}
			if f.drift.baseline != "" {
				var err error
				if opts.Baseline, err = a.openBaseline(ctx, f.drift); err != nil {
					return nil, err
				}
			}
			analyzers, err := a.selectAnalyzers(ctx, f.analyzers, opts)
			if err != nil {
				return nil, err
			}
			for _, an := range analyzers {
				if d, ok := an.(*drift.Analyzer); ok {
					driftAn = d
				}
			}
			if opts.Baseline != nil && driftAn == nil {
				return nil, withHint(usagef("--baseline is compared by the drift analyzer, which this run does not run"), "add drift to --analyzers")
			}
			return analyzers, nil
		},
		Progress: meter.Add,
	})
	meter.Done()
	if ctx.Err() != nil && res != nil {
		n := res.Appended
		a.notice("interrupted: %s appended before the interruption; run again to continue", plural.Count(n, "record")+" "+plural.Pick(n, "was", "were"))
		return err
	}
	if res == nil || res.Report == nil {
		return err
	}
	if rerr := a.render(f.out, res.Report); rerr != nil {
		return rerr
	}
	if err != nil {
		return err
	}
	if err := f.failOn.gate(res.Report.Findings); err != nil {
		return err
	}
	if driftAn != nil {
		return f.drift.driftGate(driftAn.Diff(), "the repository")
	}
	return nil
}

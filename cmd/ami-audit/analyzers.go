package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/analyzer/security"
	"github.com/ami-orchestrator/ami-audit/source/git"
)

// analyzerOptions is what an analyzer is built with for a run.
type analyzerOptions struct {
	// Root is the absolute path of the repository being audited.
	Root string
	// Ran lists the record sources of this run ("git_source"); empty when
	// the analyzer runs on its own.
	Ran []string
	// OSVDB is the local OSV database (--osv-db), or "".
	OSVDB string
}

// analyzerFactory builds a configured analyzer for one run. What it
// returns may also implement analyzerNotes, to add what it wants a reader
// to know to the report.
type analyzerFactory func(ctx context.Context, a *App, opts analyzerOptions) (audit.Analyzer, error)

// analyzerNotes is implemented by analyzers with remarks about their run
// that are not findings (a check that could not run).
type analyzerNotes interface {
	Notes() []string
}

// analyzerRegistry lists the analyzers "repo --analyzers" can run, by
// name. It is the one place an analyzer is made available to the command
// line: each analyzer package adds its line here.
func (a *App) analyzerRegistry() map[string]analyzerFactory {
	return map[string]analyzerFactory{
		"security": securityRepoAnalyzer,
	}
}

// plannedAnalyzers are the analyzer names of the specification, in the
// order they run and are listed.
var plannedAnalyzers = []string{"git", "quality", "security", "compliance", "drift"}

// availableAnalyzers lists the registered names: planned ones first, in
// their order, then any other, sorted.
func availableAnalyzers(reg map[string]analyzerFactory) []string {
	return registryNames(reg, plannedAnalyzers)
}

// selectAnalyzers builds the analyzers of a run. spec is the --analyzers
// value: "" runs every available analyzer that understands a source that
// ran, "none" runs none, a list runs those named.
func (a *App) selectAnalyzers(ctx context.Context, spec string, opts analyzerOptions) ([]audit.Analyzer, error) {
	reg := a.analyzerRegistry()
	avail := availableAnalyzers(reg)
	spec = strings.ToLower(strings.TrimSpace(spec))
	if spec == "none" {
		return nil, nil
	}
	var names []string
	if spec == "" {
		names = avail
	} else {
		for n := range strings.SplitSeq(spec, ",") {
			n = strings.TrimSpace(n)
			switch {
			case n == "":
				return nil, withHint(usagef("--analyzers %q: empty analyzer name", spec), "ami-audit repo --analyzers="+strings.Join(avail, ","))
			case n == "none":
				return nil, usagef("--analyzers: none cannot be combined with other analyzers")
			case reg[n] != nil:
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			case slices.Contains(plannedAnalyzers, n):
				return nil, withHint(usagef("analyzer '%s' is not available yet; available: %s", n, strings.Join(avail, ", ")), "ami-audit repo --analyzers="+strings.Join(avail, ","))
			default:
				return nil, withHint(usagef("unknown analyzer '%s'; available: %s", n, strings.Join(avail, ", ")), "ami-audit repo --analyzers="+strings.Join(avail, ","))
			}
		}
	}
	var out []audit.Analyzer
	for _, n := range names {
		an, err := reg[n](ctx, a, opts)
		if err != nil {
			return nil, fmt.Errorf("analyzer %s: %w", n, err)
		}
		out = append(out, an)
	}
	if spec == "" {
		out = analyzer.Select(out, opts.Ran)
	}
	return out, nil
}

// securityRepoAnalyzer builds the security analyzer for a run: secrets
// in the working tree, and in the history when the git source ran.
func securityRepoAnalyzer(_ context.Context, a *App, opts analyzerOptions) (audit.Analyzer, error) {
	det, err := a.securityDetector(opts.Root)
	if err != nil {
		return nil, err
	}
	return security.New(security.Config{Root: opts.Root, OSVDB: opts.OSVDB, Detector: det,
		History: slices.Contains(opts.Ran, git.SourceName)})
}

// failOnFlag is the --fail-on flag of the commands that gate CI.
type failOnFlag struct{ value string }

// severity parses the flag; "" when not given.
func (f failOnFlag) severity() (audit.Severity, error) {
	if f.value == "" {
		return "", nil
	}
	s, err := audit.ParseSeverity(f.value)
	if err != nil {
		return "", withHint(usagef("--fail-on: %v", err), "--fail-on=critical, error (or high), warning (or medium), info (or low)")
	}
	return s, nil
}

const failOnHelp = "exit with status 4 when an open finding reaches this severity: critical, error (high), warning (medium), info (low)"

// gate returns a gateError when an open finding reaches the flag's
// severity.
func (f failOnFlag) gate(open []*audit.Record) error {
	sev, err := f.severity()
	if err != nil || sev == "" {
		return err
	}
	if n := analyzer.Reaching(open, sev); n > 0 {
		return gateError{fmt.Errorf("%d open findings reach severity %s (--fail-on=%s)", n, sev, f.value)}
	}
	return nil
}

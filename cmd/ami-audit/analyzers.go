package main

import (
	"context"
	"fmt"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/collect"
)

// analyzerOptions is what an analyzer is built with for a run
// (collect.AnalyzerOptions).
type analyzerOptions = collect.AnalyzerOptions

// analyzerRegistry lists the analyzers "repo --analyzers" can run, by
// name (collect.AnalyzerRegistry).
func (a *App) analyzerRegistry() map[string]collect.AnalyzerFactory {
	return collect.AnalyzerRegistry()
}

// availableAnalyzers lists the registered names.
func availableAnalyzers(reg map[string]collect.AnalyzerFactory) []string {
	return collect.AvailableAnalyzers(reg)
}

// selectAnalyzers builds the analyzers of a run (collect.SelectAnalyzers).
func (a *App) selectAnalyzers(ctx context.Context, spec string, opts analyzerOptions) ([]audit.Analyzer, error) {
	return collect.SelectAnalyzers(ctx, a.env(), spec, opts)
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

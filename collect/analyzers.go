package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	ancomp "github.com/ami-orchestrator/ami-audit/analyzer/compliance"
	"github.com/ami-orchestrator/ami-audit/analyzer/drift"
	gitanalyzer "github.com/ami-orchestrator/ami-audit/analyzer/git"
	qualityanalyzer "github.com/ami-orchestrator/ami-audit/analyzer/quality"
	"github.com/ami-orchestrator/ami-audit/analyzer/security"
	"github.com/ami-orchestrator/ami-audit/baseline"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/assess"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/source/git"
)

// AnalyzerOptions is what an analyzer is built with for a run.
type AnalyzerOptions struct {
	// Root is the absolute path of the repository being audited.
	Root string
	// Ran lists the record sources of this run ("git_source"); empty when
	// the analyzer runs on its own.
	Ran []string
	// OSVDB is the local OSV database (--osv-db), or "".
	OSVDB string
	// Baseline is the verified baseline the drift analyzer compares the
	// trail with (baseline.Open), or nil; ConfigPatterns name the
	// configuration files (nil: state.DefaultConfig, or the baseline's).
	Baseline       *baseline.Baseline
	ConfigPatterns []string
	// Settings are the trail's settings of each analyzer by name
	// (config.yaml's analyzers section, trail.Settings.Analyzers).
	Settings map[string]yaml.Node
}

func settings(opts AnalyzerOptions, name string, cfg any) error {
	return AnalyzerSettings(opts.Settings, name, cfg)
}

// AnalyzerSettings decodes the section name of the trail's analyzer
// settings (trail.Settings.Analyzers) into cfg, the analyzer's Config; a
// member cfg does not have is an error naming config.yaml. No section
// leaves cfg as it is.
func AnalyzerSettings(all map[string]yaml.Node, name string, cfg any) error {
	node, ok := all[name]
	if !ok {
		return nil
	}
	b, err := yaml.Marshal(&node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return usererr.WithHint(usererr.Usagef("config.yaml, analyzers.%s: %v", name, err), "see the package documentation of analyzer/"+name+" for its settings")
	}
	return nil
}

// AnalyzerFactory builds a configured analyzer for one run. What it
// returns may also implement Notes() []string, to add what it wants a
// reader to know to the report.
type AnalyzerFactory func(ctx context.Context, env *Env, opts AnalyzerOptions) (audit.Analyzer, error)

// AnalyzerRegistry lists the analyzers a repository run can run, by
// name. It is the one place an analyzer is made available to the front
// ends: each analyzer package adds its line here.
func AnalyzerRegistry() map[string]AnalyzerFactory {
	return map[string]AnalyzerFactory{
		"git":        gitRepoAnalyzer,
		"quality":    qualityRepoAnalyzer,
		"security":   securityRepoAnalyzer,
		"compliance": complianceRepoAnalyzer,
		"drift":      driftRepoAnalyzer,
	}
}

// PlannedAnalyzers are the analyzer names of the specification, in the
// order they run and are listed.
var PlannedAnalyzers = []string{"git", "quality", "security", "compliance", "drift"}

// AvailableAnalyzers lists the registered names: planned ones first, in
// their order, then any other, sorted.
func AvailableAnalyzers(reg map[string]AnalyzerFactory) []string {
	return RegistryNames(reg, PlannedAnalyzers)
}

// SelectAnalyzers builds the analyzers of a run. spec is the --analyzers
// value: "" runs every available analyzer that understands a source that
// ran, "none" runs none, a list runs those named. Its errors about spec
// are usage errors.
func SelectAnalyzers(ctx context.Context, env *Env, spec string, opts AnalyzerOptions) ([]audit.Analyzer, error) {
	reg := AnalyzerRegistry()
	avail := AvailableAnalyzers(reg)
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
				return nil, usererr.WithHint(usererr.Usagef("--analyzers %q: empty analyzer name", spec), "ami-audit repo --analyzers="+strings.Join(avail, ","))
			case n == "none":
				return nil, usererr.Usagef("--analyzers: none cannot be combined with other analyzers")
			case reg[n] != nil:
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			case slices.Contains(PlannedAnalyzers, n):
				return nil, usererr.WithHint(usererr.Usagef("analyzer '%s' is not available yet; available: %s", n, strings.Join(avail, ", ")), "ami-audit repo --analyzers="+strings.Join(avail, ","))
			default:
				return nil, usererr.WithHint(usererr.Usagef("unknown analyzer '%s'; available: %s", n, strings.Join(avail, ", ")), "ami-audit repo --analyzers="+strings.Join(avail, ","))
			}
		}
	}
	var out []audit.Analyzer
	for _, n := range names {
		an, err := reg[n](ctx, env, opts)
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
func securityRepoAnalyzer(_ context.Context, env *Env, opts AnalyzerOptions) (audit.Analyzer, error) {
	det, err := SecurityDetector(env, opts.Root)
	if err != nil {
		return nil, err
	}
	return security.New(security.Config{Root: opts.Root, OSVDB: opts.OSVDB, Detector: det,
		History: slices.Contains(opts.Ran, git.SourceName)})
}

// complianceRepoAnalyzer builds the compliance analyzer: the catalogs the
// trail's settings name (all built-in ones by default), the facts from
// the trail itself.
func complianceRepoAnalyzer(ctx context.Context, env *Env, _ AnalyzerOptions) (audit.Analyzer, error) {
	if env.Trail == nil {
		return nil, errors.New("the compliance analyzer judges the trail itself, which this front end does not hand it")
	}
	tr, err := env.Trail(ctx)
	if err != nil {
		return nil, err
	}
	st := tr.Settings().Compliance
	dir := st.Catalogs
	if dir != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(tr.Dir()), dir)
	}
	cats, err := compliance.Load(dir)
	if err != nil {
		return nil, err
	}
	if cats, err = compliance.Select(cats, st.Frameworks); err != nil {
		return nil, err
	}
	return ancomp.New(ancomp.Config{Catalogs: cats, Facts: func(ctx context.Context) (assess.Facts, error) {
		f, _, err := assess.FactsOf(ctx, tr, assess.GatherOptions{})
		return f, err
	}})
}

// gitRepoAnalyzer builds the git analyzer with its defaults (code-maat's
// coupling thresholds, 1 MiB files, 256 KiB binaries).
func gitRepoAnalyzer(_ context.Context, _ *Env, opts AnalyzerOptions) (audit.Analyzer, error) {
	var cfg gitanalyzer.Config
	if err := settings(opts, gitanalyzer.Name, &cfg); err != nil {
		return nil, err
	}
	return gitanalyzer.New(cfg)
}

// qualityRepoAnalyzer builds the quality analyzer with its defaults (the
// documented debt estimates).
func qualityRepoAnalyzer(_ context.Context, _ *Env, opts AnalyzerOptions) (audit.Analyzer, error) {
	var cfg qualityanalyzer.Config
	if err := settings(opts, qualityanalyzer.Name, &cfg); err != nil {
		return nil, err
	}
	return qualityanalyzer.New(cfg)
}

// driftRepoAnalyzer builds the drift analyzer: against the run's verified
// baseline when there is one.
func driftRepoAnalyzer(_ context.Context, _ *Env, opts AnalyzerOptions) (audit.Analyzer, error) {
	var cfg drift.Config
	if err := settings(opts, drift.Name, &cfg); err != nil {
		return nil, err
	}
	cfg.Baseline = opts.Baseline
	if opts.ConfigPatterns != nil {
		cfg.ConfigPatterns = opts.ConfigPatterns
	}
	return drift.New(cfg)
}

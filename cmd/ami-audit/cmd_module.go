package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

// moduleFlags are the flags of "ami-audit module".
type moduleFlags struct {
	includeTests bool
	includeDeps  bool
	all          bool
	repo         string
	out          outputFlags
}

func (a *App) moduleCommand() *cobra.Command {
	var f moduleFlags
	cmd := &cobra.Command{
		Use:   "module NAME | --all",
		Short: "Audit a module: code metrics, tests, coverage, dependencies, imports",
		Long: `Audit one module of the repository (NAME), or every module (--all), and
append one module_audit record per module to the trail, then print a report.

Modules are the submodules of .gitmodules (nested ones too), the names in
config/modules.yaml (main_modules, extended_modules) and the directories
holding a pyproject.toml, package.json or go.mod. NAME is a module's path
("domains/marketing"), its last element when unambiguous ("marketing"), or
any directory of the repository.

Each record holds lines of code, comments, blanks and complexity per
language (counted as the scc tool counts them), the largest files, the
coverage reports found (coverage.py JSON, Cobertura XML, lcov, Go cover
profiles) and the module's imports of the repository's own packages (Go and
Python). --include-tests adds test files and test counts; --include-dependencies
adds the dependencies declared in pyproject.toml, requirements*.txt,
package.json and go.mod with versions resolved from uv.lock and
package-lock.json, and records every dependency added, removed or changed
since the module's previous record (dependency_added, dependency_removed,
dependency_changed).

A malformed manifest does not stop the audit: the module is recorded with
a warning that names the file and line.`,
		Example: `  ami-audit module base --include-tests --include-dependencies
  ami-audit module --all --format=html --output=modules.html
  ami-audit module ux/cms --format=json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			switch {
			case name != "" && f.all:
				return withHint(usagef("give a module NAME or --all, not both"), "ami-audit module --all")
			case name == "" && !f.all:
				return withHint(usagef("which module? give its NAME, or --all for every module"), "ami-audit module --all lists them in its report")
			}
			return a.runModule(cmd, name, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.includeTests, "include-tests", false, "count test files and tests")
	fl.BoolVar(&f.includeDeps, "include-dependencies", false, "read manifests and lock files; record dependency changes")
	fl.BoolVar(&f.all, "all", false, "audit every module of the repository")
	fl.StringVar(&f.repo, "repo", "", "the repository (default: the one containing the current directory)")
	addOutputFlags(cmd, &f.out)
	return cmd
}

func (a *App) runModule(cmd *cobra.Command, name string, f moduleFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	root := f.repo
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		root = repositoryRoot(wd)
	}
	if fi, err := os.Stat(root); err != nil {
		return usagef("repository %s: %v", root, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return usagef("repository %s: not a directory", root)
	}
	if name != "" && !filepath.IsAbs(name) {
		// A path the user typed is relative to the working directory when
		// it names a directory there; otherwise it is a module name.
		if fi, err := os.Stat(name); err == nil && fi.IsDir() {
			if abs, err := filepath.Abs(name); err == nil {
				name = abs
			}
		}
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	meter := progress.New(a.stderr, a.progress(), "module", "modules", 0)
	defer meter.Done()
	run, err := newModuleRun(module.Config{
		Root:                root,
		History:             store,
		IncludeTests:        f.includeTests,
		IncludeDependencies: f.includeDeps,
		Exclude:             a.exclusion(),
	})
	if err != nil {
		return usageError{err}
	}
	run.onResult = func(*module.Result) { meter.Add(1) }
	appended := 0
	col, err := a.collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { appended += len(recs) }})
	if err != nil {
		return err
	}
	target := name
	if f.all {
		target = run.root()
	}
	now := time.Now()
	sum, err := col.Run(ctx, target, []audit.Source{run})
	meter.Done()
	if err != nil {
		if errors.Is(err, module.ErrNoModule) {
			return withHint(usageError{err}, "ami-audit module --all audits every module")
		}
		if sum != nil {
			a.appendedBeforeFailure(sum.Records())
		}
		return err
	}
	title := "Module audit of " + filepath.Base(run.root())
	if !f.all && len(run.results) == 1 {
		title = "Module " + run.results[0].Module.Path + " of " + filepath.Base(run.root())
	}
	rep := module.Report(title, run.results, now)
	rep.Summary = append([]report.Item{{Label: "Repository", Value: run.root()}}, rep.Summary...)
	rep.Summary = append(rep.Summary, report.Item{Label: "Records appended", Value: strconv.Itoa(appended)})
	return a.render(f.out, rep)
}

// repositoryRoot is the nearest directory at or above dir holding a .git
// directory (a superproject, not a submodule's .git file), else the
// nearest holding any .git, else dir.
func repositoryRoot(dir string) string {
	nearest := ""
	for d := dir; ; {
		if fi, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			if fi.IsDir() {
				return d
			}
			if nearest == "" {
				nearest = d
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if nearest != "" {
		return nearest
	}
	return dir
}

// moduleRun is the module source with what a report needs: the result of
// each module audited.
type moduleRun struct {
	*module.Source
	cfg      module.Config
	onResult func(*module.Result)
	// repo: a repository without modules is not an error.
	repo bool

	mu      sync.Mutex
	results []*module.Result
}

func newModuleRun(cfg module.Config) (*moduleRun, error) {
	src, err := module.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &moduleRun{Source: src, cfg: cfg}, nil
}

func (r *moduleRun) root() string { return r.cfg.Root }

// Collect audits like the source's Collect, keeping each result.
func (r *moduleRun) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	err := r.Audit(ctx, target, func(res *module.Result, recs []*audit.Record) error {
		r.mu.Lock()
		r.results = append(r.results, res)
		r.mu.Unlock()
		if r.onResult != nil {
			r.onResult(res)
		}
		for _, rec := range recs {
			if err := emit(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if r.repo && errors.Is(err, module.ErrNoModule) {
		return nil
	}
	return err
}

// RunReport reports the run inside "repo".
func (r *moduleRun) RunReport() reportPart {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := reportPart{Summary: module.Summary(r.results), Sections: module.Sections(r.results), WarningCount: module.WarningCount(r.results)}
	for _, w := range module.Warnings(r.results) {
		if len(p.Warnings) == maxReportWarnings {
			break
		}
		p.Warnings = append(p.Warnings, "module: "+w)
	}
	return p
}

// moduleRepoSource builds the module source for "repo": every module,
// with tests and dependencies, compared with the trail.
func moduleRepoSource(ctx context.Context, a *App, opts sourceOptions) (audit.Source, error) {
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	run, err := newModuleRun(module.Config{Root: opts.Root, History: store, IncludeTests: true, IncludeDependencies: true, Exclude: a.exclusion()})
	if err != nil {
		return nil, err
	}
	run.repo = true
	return run, nil
}

package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
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
	meter := progress.New(a.stderr, a.progress(), "module", "modules", 0)
	defer meter.Done()
	target := name
	if f.all {
		target = ""
	}
	res, err := collect.Modules(ctx, a.env(), collect.ModulesRequest{
		Name:     target,
		Config:   module.Config{Root: root, IncludeTests: f.includeTests, IncludeDependencies: f.includeDeps},
		Progress: meter.Add,
	})
	meter.Done()
	if err != nil {
		if errors.Is(err, module.ErrNoModule) {
			return withHint(err, "ami-audit module --all audits every module")
		}
		if res != nil {
			a.appendedBeforeFailure(res.Appended)
		}
		return err
	}
	return a.render(f.out, res.Report)
}

// repositoryRoot is collect.RepositoryRoot.
func repositoryRoot(dir string) string { return collect.RepositoryRoot(dir) }

package collect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

// ModulesRequest asks for the audit of one module, or of every module.
type ModulesRequest struct {
	// Name is the module: its path, its last element when unambiguous,
	// or a directory of the repository (absolute, or relative to the
	// root). Empty: every module.
	Name string
	// Config configures the module source (History and Exclude are set
	// here); Root is the repository.
	Config module.Config
	// Progress counts the modules audited.
	Progress Progress
}

// Modules audits a module (or every module) of a repository, appends one
// module_audit record per module and reports on them. A name that is no
// module is a usage error wrapping module.ErrNoModule.
func Modules(ctx context.Context, env *Env, req ModulesRequest) (*Result, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	cfg := req.Config
	cfg.History = store
	cfg.Exclude = env.Exclusion()
	run, err := newModuleRun(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	run.onResult = func(*module.Result) { req.Progress.add(1) }
	res := &Result{}
	col, err := env.Collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { res.Appended += len(recs) }})
	if err != nil {
		return nil, err
	}
	target := req.Name
	if target == "" {
		target = run.root()
	}
	now := time.Now()
	res.Summary, err = col.Run(ctx, target, []audit.Source{run})
	if err != nil {
		if errors.Is(err, module.ErrNoModule) {
			return nil, usererr.Usage(err)
		}
		return res, err
	}
	title := "Module audit of " + filepath.Base(run.root())
	if req.Name != "" && len(run.results) == 1 {
		title = "Module " + run.results[0].Module.Path + " of " + filepath.Base(run.root())
	}
	rep := module.Report(title, run.results, now)
	rep.Summary = append([]report.Item{{Label: "Repository", Value: run.root()}}, rep.Summary...)
	rep.Summary = append(rep.Summary, report.Item{Label: "Records appended", Value: strconv.Itoa(res.Appended)})
	res.Report = rep
	return res, nil
}

// RepositoryRoot is the nearest directory at or above dir holding a .git
// directory (a superproject, not a submodule's .git file), else the
// nearest holding any .git, else dir.
func RepositoryRoot(dir string) string {
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
func (r *moduleRun) RunReport() ReportPart {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := ReportPart{Summary: module.Summary(r.results), Sections: module.Sections(r.results), WarningCount: module.WarningCount(r.results)}
	for _, w := range module.Warnings(r.results) {
		if len(p.Warnings) == MaxReportWarnings {
			break
		}
		p.Warnings = append(p.Warnings, "module: "+w)
	}
	return p
}

// moduleRepoSource builds the module source for "repo": every module,
// with tests and dependencies, compared with the trail.
func moduleRepoSource(ctx context.Context, env *Env, opts SourceOptions) (audit.Source, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	run, err := newModuleRun(module.Config{Root: opts.Root, History: store, IncludeTests: true, IncludeDependencies: true, Exclude: env.Exclusion()})
	if err != nil {
		return nil, err
	}
	run.repo = true
	return run, nil
}

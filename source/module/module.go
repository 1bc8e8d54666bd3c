// Package module is the module source (SPEC §6): it finds a repository's
// modules and records, for each, its dependencies with versions, its test
// files and tests, its coverage, its lines of code and complexity per
// language, and its part of the import graph between the repository's
// own packages. One module_audit record is made per module, plus one
// dependency_added, dependency_removed or dependency_changed record per
// dependency that differs from the module's previous record in the trail.
//
// Modules are found in .gitmodules (and nested .gitmodules),
// config/modules.yaml and as directories holding a pyproject.toml,
// package.json or go.mod; see Discover.
//
// Each module_audit record lists, bounded by Config.TopFiles, the largest
// files (top_files), the most complex (complex_files: the hotspot and
// refactoring analyses weigh them against churn) and, with a coverage
// report, the least covered by share (coverage.lowest) and by lines not
// covered (coverage.most_uncovered).
//
// Lines of code and complexity come from scc's library
// (github.com/boyter/scc/v3/processor), over the files scc itself would
// count: the walk uses the same walker with the same settings as the scc
// command, so per-file counts equal "scc --by-file" on the same tree.
// Test counting heuristics are documented in package testcount; import
// extraction in package imports; coverage formats in package coverage.
package module

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/incremental"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// SourceName is the source field of every record this package produces.
const SourceName = "module_source"

// Actions of the records this source produces.
const (
	ActionAudit             = "module_audit"
	ActionDependencyAdded   = "dependency_added"
	ActionDependencyRemoved = "dependency_removed"
	ActionDependencyChanged = "dependency_changed"
)

// History finds earlier records; audit.Store satisfies it. The source
// reads the newest module_audit record of a module to tell which
// dependencies changed since.
type History interface {
	Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error]
}

// Config configures a module source.
type Config struct {
	// Root is the repository's root directory. Required.
	Root string
	// History, when set, is searched for each module's previous record;
	// without it no dependency change records are made.
	History History
	// IncludeTests counts test files and tests.
	IncludeTests bool
	// IncludeDependencies reads manifests and lock files, and records
	// dependency changes.
	IncludeDependencies bool
	// Actor of the records; default "system".
	Actor string
	// ManifestDepth is how many directory levels below the root are
	// searched for manifests; default 3.
	ManifestDepth int
	// TopFiles is how many files are listed per module (largest, most
	// tests, least covered); default 20.
	TopFiles int
	// MaxEdges is how many import edges are listed per module; default 100.
	MaxEdges int
	// MaxDependencies bounds the dependencies kept per module; default 2000.
	MaxDependencies int
	// MaxFileBytes: larger files are not measured (a warning says so);
	// default 64 MiB.
	MaxFileBytes int64
	// Workers measuring files in parallel, per module; default 4 ×
	// GOMAXPROCS, as scc.
	Workers int
	// ParallelModules is how many modules are audited at once; default 4.
	ParallelModules int
	// Now gives the time of the records; default time.Now.
	Now func() time.Time
	// Logger receives debug messages; default slog.Default().
	Logger *slog.Logger
	// Exclude is what is never read (see package exclude): the trail's
	// directory, git internals and private key files are not measured.
	// Nil applies the rules by name and content.
	Exclude *exclude.Rules
	// OnFile, when set, is called with every measured file (from several
	// goroutines at once).
	OnFile func(module string, f FileStat)
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Root == "" {
		return errors.New("module source: Root is required")
	}
	abs, err := filepath.Abs(c.Root)
	if err != nil {
		return fmt.Errorf("module source: root %s: %w", c.Root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("module source: root: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("module source: root %s is not a directory", c.Root)
	}
	c.Root = abs
	if c.Actor == "" {
		c.Actor = "system"
	}
	if c.ManifestDepth == 0 {
		c.ManifestDepth = 3
	}
	if c.TopFiles <= 0 {
		c.TopFiles = 20
	}
	if c.MaxEdges <= 0 {
		c.MaxEdges = 100
	}
	if c.MaxDependencies <= 0 {
		c.MaxDependencies = 2000
	}
	if c.MaxFileBytes <= 0 {
		c.MaxFileBytes = 64 << 20
	}
	if c.Workers <= 0 {
		c.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if c.ParallelModules <= 0 {
		c.ParallelModules = 4
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Source is the module source. It is safe for concurrent use.
type Source struct {
	cfg Config
}

var _ audit.Source = (*Source)(nil)

// New returns a module source.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg}, nil
}

// Name returns "module_source".
func (s *Source) Name() string { return SourceName }

// Describe says what the source collects.
func (s *Source) Describe() string {
	return "modules: dependencies and versions, tests, coverage, lines of code and complexity per language, import graph"
}

// TargetTypes returns module.
func (s *Source) TargetTypes() []audit.TargetType { return []audit.TargetType{audit.TargetModule} }

// Collect records the modules target names: "" (or the root directory
// itself) means every module of the repository; otherwise a module's path
// ("domains/marketing"), its last path element when that is unambiguous
// ("marketing"), or any directory inside the repository, audited as a
// module.
func (s *Source) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	return s.Audit(ctx, target, func(_ *Result, recs []*audit.Record) error {
		for _, r := range recs {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// ErrNoModule is returned when a target names no module.
var ErrNoModule = errors.New("no such module")

// Modules lists the repository's modules and discovery warnings.
func (s *Source) Modules() ([]*Module, []string) {
	return Discover(s.cfg.Root, s.cfg.ManifestDepth)
}

// Audit audits the modules target names (see Collect) in path order,
// calling fn with each module's result and records.
func (s *Source) Audit(ctx context.Context, target string, fn func(*Result, []*audit.Record) error) error {
	mods, warnings := s.Modules()
	for _, w := range warnings {
		s.cfg.Logger.Warn("module discovery", "warning", w)
	}
	selected, err := s.selectModules(mods, target)
	if err != nil {
		return err
	}
	r := newResolver(s.cfg.Root, mods)

	// Modules are audited ParallelModules at a time and handed to fn in
	// path order as each one's turn comes.
	n := len(selected)
	results := make([]*Result, n)
	errs := make([]error, n)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	ctx, cancel := context.WithCancel(ctx)
	var g errgroup.Group
	g.SetLimit(s.cfg.ParallelModules)
	launched := make(chan struct{})
	go func() {
		defer close(launched)
		for i, m := range selected {
			if err := ctx.Err(); err != nil {
				for j := i; j < n; j++ {
					errs[j] = err
					close(done[j])
				}
				return
			}
			g.Go(func() error {
				results[i], errs[i] = s.auditModule(ctx, r, m)
				close(done[i])
				return nil
			})
		}
	}()
	defer func() {
		cancel()
		<-launched
		g.Wait()
	}()
	for i := range selected {
		<-done[i]
		if errs[i] != nil {
			return errs[i]
		}
		res := results[i]
		results[i] = nil
		if i == 0 {
			// Discovery problems belong to the run: the first record
			// carries them.
			res.Warnings = append(slices.Clone(warnings), res.Warnings...)
		}
		recs, err := s.records(ctx, res)
		if err != nil {
			return err
		}
		recs, err = s.unchanged(ctx, recs)
		if err != nil {
			return err
		}
		if err := fn(res, recs); err != nil {
			return err
		}
	}
	return nil
}

// volatile are the context keys of a module record that change from run
// to run without the module changing.
var volatile = []string{"duration_ms"}

// unchanged stamps each record with its content digest and, with
// Config.History, drops a module_audit record whose content equals the
// newest earlier one of its module: a re-run on an unchanged module
// appends nothing.
func (s *Source) unchanged(ctx context.Context, recs []*audit.Record) ([]*audit.Record, error) {
	out := recs[:0]
	for _, r := range recs {
		d := incremental.Stamp(r, volatile...)
		if r.Action == ActionAudit && s.cfg.History != nil {
			prev, err := s.lastDigest(ctx, r.Target)
			if err != nil {
				return nil, err
			}
			if prev == d {
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// lastDigest is the content digest of the module's newest module_audit
// record made with this run's view (with or without dependencies and
// tests), "" when there is none: runs with other views in between (repo
// with dependencies, module without) do not make an unchanged module look
// changed.
func (s *Source) lastDigest(ctx context.Context, module string) (string, error) {
	f := audit.Filter{TargetType: audit.TargetModule, Action: ActionAudit, Target: module, Newest: true, Limit: 20}
	for rec, err := range s.cfg.History.Query(ctx, f) {
		if err != nil {
			return "", fmt.Errorf("module %s: previous record: %w", module, err)
		}
		_, deps := rec.Context["dependencies"]
		_, tests := rec.Context["tests"]
		if rec.Source == SourceName && deps == s.cfg.IncludeDependencies && tests == s.cfg.IncludeTests {
			d, _ := rec.Metadata[incremental.MetaKey].(string)
			return d, nil
		}
	}
	return "", nil
}

func (s *Source) isRoot(target string) bool {
	if target == "" {
		return true
	}
	abs, err := filepath.Abs(target)
	return err == nil && abs == s.cfg.Root && dirExists(abs)
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// selectModules resolves target to modules.
func (s *Source) selectModules(mods []*Module, target string) ([]*Module, error) {
	if s.isRoot(target) {
		if len(mods) == 0 {
			return nil, fmt.Errorf("%w: the repository at %s has no modules (no .gitmodules, config/modules.yaml or manifest)", ErrNoModule, s.cfg.Root)
		}
		return mods, nil
	}
	t := strings.TrimSuffix(filepath.ToSlash(target), "/")
	t = strings.TrimPrefix(t, "./")
	for _, m := range mods {
		if m.Path == t {
			return []*Module{m}, nil
		}
	}
	var byBase []*Module
	for _, m := range mods {
		if filepath.Base(m.Path) == t || m.Submodule == t {
			byBase = append(byBase, m)
		}
	}
	switch len(byBase) {
	case 1:
		return byBase, nil
	case 0:
	default:
		var names []string
		for _, m := range byBase {
			names = append(names, m.Path)
		}
		return nil, fmt.Errorf("%w: %q is ambiguous: %s", ErrNoModule, target, strings.Join(names, ", "))
	}
	// A directory inside the repository, audited as an ad hoc module.
	abs := target
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(s.cfg.Root, filepath.FromSlash(t))
	}
	if rel, err := filepath.Rel(s.cfg.Root, abs); err == nil && !strings.HasPrefix(rel, "..") && dirExists(abs) {
		m := &Module{Path: filepath.ToSlash(rel), Dir: abs, FoundBy: []string{"argument"}}
		fillModule(m)
		return []*Module{m}, nil
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.Path)
	}
	avail := "none"
	if len(names) > 0 {
		avail = strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("%w %q in %s (modules: %s)", ErrNoModule, target, s.cfg.Root, avail)
}

func fillModule(m *Module) {
	d := &discovered{Module: *m}
	d.fill()
	*m = d.Module
}

// rel is the repository-relative slash path of the absolute path p.
func (s *Source) rel(p string) string {
	r, err := filepath.Rel(s.cfg.Root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

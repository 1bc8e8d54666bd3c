package module

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/source/module/coverage"
	"github.com/ami-orchestrator/ami-audit/source/module/manifest"
)

// Result is everything audited of one module.
type Result struct {
	Module *Module
	Time   time.Time
	// Name and Version are the module's own, from its manifest.
	Name, Version string

	Languages []LanguageCounts // most code first
	Totals    Counts
	TopFiles  []FileStat // most code first, at most Config.TopFiles
	// ComplexFiles are the files with the highest complexity, most
	// complex first, at most Config.TopFiles.
	ComplexFiles []FileStat

	Tests    *TestSummary     // nil unless Config.IncludeTests
	Coverage *CoverageSummary // nil when no coverage report was found

	// Dependencies is nil unless Config.IncludeDependencies.
	Dependencies          []manifest.Dependency
	DependenciesTruncated bool
	Locks                 []LockSummary

	Imports ImportSummary
	// Changes are the dependency changes since the previous record.
	Changes []Change
	// Warnings are problems met that did not stop the audit: malformed
	// manifests (naming file and line), unreadable files, … The last one
	// may say how many more were met; UnlistedWarnings counts those.
	Warnings         []string
	UnlistedWarnings int
	// Duration is how long the module took.
	Duration time.Duration
}

// TestSummary counts test files and tests (see package testcount).
type TestSummary struct {
	Files      int64            `json:"files"`
	Tests      int64            `json:"tests"`
	ByLanguage map[string]int64 `json:"by_language,omitempty"`
	TopFiles   []FileStat       `json:"top_files,omitempty"` // most tests first
}

// CoverageReport is one coverage file found in the module.
type CoverageReport struct {
	File    string  `json:"file"`
	Format  string  `json:"format"`
	Files   int     `json:"files"`
	Covered int64   `json:"covered"`
	Total   int64   `json:"total"`
	Rate    float64 `json:"rate"`
}

// CoverageSummary is a module's coverage: the first report found (in the
// order of coverageFiles) is the module's figure; all are listed.
type CoverageSummary struct {
	Reports  []CoverageReport `json:"reports"`
	LineRate float64          `json:"line_rate"`
	Covered  int64            `json:"covered"`
	Total    int64            `json:"total"`
	// Lowest are the least covered files of that report (by share);
	// MostUncovered those with the most lines not covered.
	Lowest        []coverage.File `json:"lowest,omitempty"`
	MostUncovered []coverage.File `json:"most_uncovered,omitempty"`
}

// LockSummary describes one lock file.
type LockSummary struct {
	File     string `json:"file"`
	Packages int    `json:"packages"`
}

// Change is a dependency added, removed or changed since the previous
// record of the module.
type Change struct {
	Action string               `json:"action"`
	Old    *manifest.Dependency `json:"old,omitempty"`
	New    *manifest.Dependency `json:"new,omitempty"`
}

// Dep returns the dependency the change is about (new, else old).
func (c Change) Dep() manifest.Dependency {
	if c.New != nil {
		return *c.New
	}
	return *c.Old
}

// coverageFiles are looked for in a module's directory, in this order.
var coverageFiles = []string{
	"coverage.json", "coverage/coverage.json",
	"coverage.xml", "cobertura.xml", "coverage/cobertura-coverage.xml", "coverage/coverage.xml",
	"lcov.info", "coverage/lcov.info", "coverage.lcov",
	"coverage.out", "cover.out", "coverage.txt", "c.out",
}

// uninitialised reports whether a submodule's directory is empty, as git
// leaves it until the submodule is initialised.
func uninitialised(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return err != nil && len(names) == 0
}

func (s *Source) auditModule(ctx context.Context, r *resolver, m *Module) (*Result, error) {
	start := time.Now()
	res := &Result{Module: m, Time: s.cfg.Now().UTC()}
	if m.Missing {
		res.Warnings = append(res.Warnings, fmt.Sprintf("module %s is listed (%s) but its directory does not exist", m.Path, strings.Join(m.FoundBy, ", ")))
		return res, nil
	}
	if m.Submodule != "" && uninitialised(m.Dir) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("submodule %s is not initialised (its directory is empty): run 'git submodule update --init %s'", m.Path, m.Path))
		return res, nil
	}
	sc := &scan{src: s, mod: m, res: res, graph: newGraph(r, m), langs: map[string]*Counts{}}
	byPath := func(a, b FileStat) int { return strings.Compare(a.Path, b.Path) }
	sc.top = topN[FileStat]{n: s.cfg.TopFiles, less: byPath}
	sc.complex = topN[FileStat]{n: s.cfg.TopFiles, less: byPath}
	sc.testTop = topN[FileStat]{n: s.cfg.TopFiles, less: byPath}
	if s.cfg.IncludeTests {
		res.Tests = &TestSummary{}
	}
	var nested []string
	for _, o := range r.modules {
		if o != m && (m.Path == "." || strings.HasPrefix(o.Path, m.Path+"/")) && o.Path != "." {
			nested = append(nested, o.Dir)
		}
	}
	if err := sc.files(ctx, nested); err != nil {
		return nil, err
	}
	res.Languages, res.Totals = sc.languages()
	res.TopFiles = sc.top.sorted()
	res.ComplexFiles = sc.complex.sorted()
	if res.Tests != nil {
		res.Tests.TopFiles = sc.testTop.sorted()
	}
	res.Imports = sc.graph.summary(s.cfg.MaxEdges)
	s.coverage(m, res)
	if s.cfg.IncludeDependencies {
		s.dependencies(m, res)
		if err := s.changes(ctx, m, res); err != nil {
			return nil, err
		}
	}
	res.Warnings = append(res.Warnings, sc.warnings...)
	if extra := sc.nWarnings - len(sc.warnings); extra > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s more not listed", plural.Count(extra, "warning")))
		res.UnlistedWarnings = extra
	}
	if res.Name == "" {
		s.manifestName(m, res)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// manifestName fills the module's own name and version from its manifest
// when dependencies were not read.
func (s *Source) manifestName(m *Module, res *Result) {
	if data, err := manifest.ReadFile(filepath.Join(m.Dir, "pyproject.toml")); err == nil {
		if p, err := manifest.ParsePyproject("pyproject.toml", data); err == nil && p.Name != "" {
			res.Name, res.Version = p.Name, p.Version
			return
		}
	}
	if data, err := manifest.ReadFile(filepath.Join(m.Dir, "package.json")); err == nil {
		if p, err := manifest.ParsePackageJSON("package.json", data); err == nil && p.Name != "" {
			res.Name, res.Version = p.Name, p.Version
			return
		}
	}
	if m.GoModule != "" {
		res.Name = m.GoModule
	}
}

func (s *Source) coverage(m *Module, res *Result) {
	var best *coverage.Report
	for _, name := range coverageFiles {
		p := filepath.Join(m.Dir, filepath.FromSlash(name))
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		rel := s.rel(p)
		f, err := os.Open(p)
		if err != nil {
			res.Warnings = append(res.Warnings, err.Error())
			continue
		}
		rep, err := coverage.Parse(rel, f)
		f.Close()
		if err != nil {
			if strings.HasSuffix(name, ".txt") && strings.Contains(err.Error(), "not a coverage report") {
				continue // coverage.txt is often something else
			}
			res.Warnings = append(res.Warnings, err.Error())
			continue
		}
		if res.Coverage == nil {
			res.Coverage = &CoverageSummary{}
		}
		res.Coverage.Reports = append(res.Coverage.Reports, CoverageReport{
			File: rel, Format: rep.Format, Files: len(rep.Files),
			Covered: rep.Covered, Total: rep.Total, Rate: round4(rep.Rate()),
		})
		if best == nil {
			best = rep
		}
	}
	if best == nil {
		return
	}
	c := res.Coverage
	c.Covered, c.Total, c.LineRate = best.Covered, best.Total, round4(best.Rate())
	byPath := func(a, b coverage.File) int { return strings.Compare(a.Path, b.Path) }
	low := topN[coverage.File]{n: s.cfg.TopFiles, less: byPath}
	most := topN[coverage.File]{n: s.cfg.TopFiles, less: byPath}
	for _, f := range best.Files {
		if f.Total == 0 {
			continue
		}
		f.Path = s.coveragePath(m, f.Path)
		// Least covered first: rank by uncovered share, in 1/10000.
		low.push(f, int64((1-f.Rate())*10000))
		if u := f.Total - f.Covered; u > 0 {
			most.push(f, u)
		}
	}
	c.Lowest = low.sorted()
	c.MostUncovered = most.sorted()
}

// coveragePath makes a report's file path repository-relative when it
// can: absolute paths inside the repository, Go import paths of the
// module, and paths relative to the module directory that exist.
func (s *Source) coveragePath(m *Module, p string) string {
	if filepath.IsAbs(p) {
		if rel, err := filepath.Rel(s.cfg.Root, p); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
		return p
	}
	if m.GoModule != "" && strings.HasPrefix(p, m.GoModule+"/") {
		return path.Join(m.Path, strings.TrimPrefix(p, m.GoModule+"/"))
	}
	if _, err := os.Stat(filepath.Join(m.Dir, filepath.FromSlash(p))); err == nil {
		return path.Join(m.Path, p)
	}
	return p
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

// dependencies reads the module's manifests and lock files.
func (s *Source) dependencies(m *Module, res *Result) {
	var deps []manifest.Dependency
	warn := func(err error) { res.Warnings = append(res.Warnings, err.Error()) }
	read := func(name string) ([]byte, string, bool) {
		p := filepath.Join(m.Dir, filepath.FromSlash(name))
		data, err := manifest.ReadFile(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				warn(err)
			}
			return nil, "", false
		}
		return data, s.rel(p), true
	}
	if data, rel, ok := read("pyproject.toml"); ok {
		if p, err := manifest.ParsePyproject(rel, data); err != nil {
			warn(err)
		} else {
			deps = append(deps, p.Dependencies...)
			res.Warnings = append(res.Warnings, p.Problems...)
			res.Name, res.Version = p.Name, p.Version
		}
	}
	var pyLock *manifest.Lock
	var pyLockFile, npmLockFile string
	if data, rel, ok := read("uv.lock"); ok {
		if l, err := manifest.ParseUVLock(rel, data); err != nil {
			warn(err)
		} else {
			pyLock, pyLockFile = l, rel
			res.Locks = append(res.Locks, LockSummary{File: rel, Packages: l.Packages})
		}
	}
	for _, name := range requirementFiles(m.Dir) {
		p := filepath.Join(m.Dir, filepath.FromSlash(name))
		r, err := manifest.ParseRequirements(p, s.readInRepo)
		if err != nil {
			warn(err)
			continue
		}
		for _, d := range r.Dependencies {
			d.File = s.rel(d.File)
			deps = append(deps, d)
		}
		for _, pr := range r.Problems {
			res.Warnings = append(res.Warnings, strings.ReplaceAll(pr, s.cfg.Root+string(filepath.Separator), ""))
		}
	}
	if data, rel, ok := read("package.json"); ok {
		if p, err := manifest.ParsePackageJSON(rel, data); err != nil {
			warn(err)
		} else {
			deps = append(deps, p.Dependencies...)
			if res.Name == "" {
				res.Name, res.Version = p.Name, p.Version
			}
		}
	}
	var npmLock *manifest.Lock
	if f, err := os.Open(filepath.Join(m.Dir, "package-lock.json")); err == nil {
		rel := s.rel(f.Name())
		if l, err := manifest.ParsePackageLock(rel, f); err != nil {
			warn(err)
		} else {
			npmLock, npmLockFile = l, rel
			res.Locks = append(res.Locks, LockSummary{File: rel, Packages: l.Packages})
		}
		f.Close()
	}
	var goSum *manifest.GoSum
	if f, err := os.Open(filepath.Join(m.Dir, "go.sum")); err == nil {
		rel := s.rel(f.Name())
		if gs, err := manifest.ParseGoSum(rel, f); err != nil {
			warn(err)
		} else {
			goSum = gs
			res.Locks = append(res.Locks, LockSummary{File: rel, Packages: len(gs.Modules)})
		}
		f.Close()
	}
	if data, rel, ok := read("go.mod"); ok {
		if g, err := manifest.ParseGoMod(rel, data); err != nil {
			warn(err)
		} else {
			deps = append(deps, g.Dependencies...)
			if res.Name == "" {
				res.Name = g.Path
			}
			if goSum != nil {
				for _, d := range g.Dependencies {
					if d.Group == "main" && !goSum.Modules[d.Name+"@"+d.Version] {
						res.Warnings = append(res.Warnings, fmt.Sprintf("%s:%d: go.sum has no checksum for %s %s", rel, d.Line, d.Name, d.Version))
					}
				}
			}
		}
	}
	// Resolved versions from the lock files.
	for i := range deps {
		d := &deps[i]
		var l *manifest.Lock
		switch d.Ecosystem {
		case manifest.PyPI:
			l = pyLock
		case manifest.NPM:
			l = npmLock
		}
		if l != nil {
			if v, ok := l.Versions[d.Name]; ok && v != "" {
				if d.Version != "" && d.Version != v {
					res.Warnings = append(res.Warnings, fmt.Sprintf("%s:%d: %s is pinned to %s but the lock file has %s", d.File, d.Line, d.Name, d.Version, v))
				}
				d.Version = v
			}
		}
	}
	deps = append(deps, lockedOnly(deps, res.Name, []lockFile{
		{manifest.PyPI, pyLockFile, pyLock}, {manifest.NPM, npmLockFile, npmLock}})...)
	// One entry per key, in key order, bounded.
	slices.SortStableFunc(deps, func(a, b manifest.Dependency) int { return strings.Compare(a.Key(), b.Key()) })
	deps = slices.CompactFunc(deps, func(a, b manifest.Dependency) bool { return a.Key() == b.Key() })
	if len(deps) > s.cfg.MaxDependencies {
		deps, res.DependenciesTruncated = deps[:s.cfg.MaxDependencies], true
		res.Warnings = append(res.Warnings, fmt.Sprintf("more than %d dependencies; only the first %d are recorded", s.cfg.MaxDependencies, s.cfg.MaxDependencies))
	}
	if deps == nil {
		deps = []manifest.Dependency{}
	}
	res.Dependencies = deps
}

// readInRepo reads a requirements file, refusing paths outside the
// repository (an include like "-r ../../etc/x" must not escape it).
func (s *Source) readInRepo(name string) ([]byte, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(s.cfg.Root, abs); err != nil || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("%s is outside the repository", name)
	}
	return manifest.ReadFile(abs)
}

// changes compares the module's dependencies with those of its newest
// earlier record that has them.
func (s *Source) changes(ctx context.Context, m *Module, res *Result) error {
	if s.cfg.History == nil {
		return nil
	}
	prev, found, truncated, err := s.previous(ctx, m)
	if err != nil || !found {
		return err
	}
	if truncated || res.DependenciesTruncated {
		res.Warnings = append(res.Warnings, "dependency lists are truncated; changes are not computed")
		return nil
	}
	cur := map[string]manifest.Dependency{}
	for _, d := range res.Dependencies {
		cur[d.Key()] = d
	}
	keys := make([]string, 0, len(cur)+len(prev))
	for k := range cur {
		keys = append(keys, k)
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		o, hadOld := prev[k]
		n, hasNew := cur[k]
		switch {
		case !hadOld:
			res.Changes = append(res.Changes, Change{Action: ActionDependencyAdded, New: &n})
		case !hasNew:
			res.Changes = append(res.Changes, Change{Action: ActionDependencyRemoved, Old: &o})
		case o.Spec != n.Spec || o.Version != n.Version:
			res.Changes = append(res.Changes, Change{Action: ActionDependencyChanged, Old: &o, New: &n})
		}
	}
	return nil
}

// previous finds the dependencies of the module's newest earlier
// module_audit record that lists them.
func (s *Source) previous(ctx context.Context, m *Module) (deps map[string]manifest.Dependency, found, truncated bool, err error) {
	f := audit.Filter{TargetType: audit.TargetModule, Action: ActionAudit, Target: m.Path, Newest: true, Limit: 50}
	for rec, err := range s.cfg.History.Query(ctx, f) {
		if err != nil {
			return nil, false, false, fmt.Errorf("module %s: previous record: %w", m.Path, err)
		}
		if rec.Source != SourceName {
			continue
		}
		raw, ok := rec.Context["dependencies"]
		if !ok {
			continue
		}
		// Read it back through JSON: the store may give it as []any of
		// map[string]any.
		b, err := json.Marshal(raw)
		if err != nil {
			continue
		}
		var list []manifest.Dependency
		if json.Unmarshal(b, &list) != nil {
			continue
		}
		deps = make(map[string]manifest.Dependency, len(list))
		for _, d := range list {
			deps[d.Key()] = d
		}
		t, _ := rec.Context["dependencies_truncated"].(bool)
		return deps, true, t, nil
	}
	return nil, false, false, nil
}

func specVersion(d *manifest.Dependency) string {
	if d == nil {
		return "-"
	}
	switch {
	case d.Version != "" && d.Spec != "" && d.Spec != d.Version && d.Spec != "=="+d.Version:
		return d.Spec + " (" + d.Version + ")"
	case d.Version != "":
		return d.Version
	case d.Spec != "":
		return d.Spec
	}
	return "any"
}

// GroupLocked is the group of the packages a lock file resolves that no
// manifest declares: the transitive dependencies, checked for
// vulnerabilities like the declared ones.
const GroupLocked = "locked"

// lockFile is a parsed lock file of an ecosystem.
type lockFile struct {
	ecosystem, file string
	lock            *manifest.Lock
}

// lockedOnly returns, in name order, the packages the lock files resolve
// that deps does not declare, as dependencies of group GroupLocked (the
// module itself left out). A package locked at several versions is one
// entry per version, the second and later in group "locked@VERSION" so
// that each keeps its own key.
func lockedOnly(deps []manifest.Dependency, self string, locks []lockFile) []manifest.Dependency {
	declared := map[string]bool{}
	for _, d := range deps {
		declared[d.Ecosystem+"|"+d.Name] = true
	}
	var out []manifest.Dependency
	for _, lf := range locks {
		if lf.lock == nil {
			continue
		}
		own := self
		if lf.ecosystem == manifest.PyPI {
			own = manifest.NormalizePyName(self)
		}
		for _, name := range slices.Sorted(maps.Keys(lf.lock.Versions)) {
			if name == "" || name == own || declared[lf.ecosystem+"|"+name] {
				continue
			}
			for i, v := range strings.Split(lf.lock.Versions[name], " | ") {
				group := GroupLocked
				if i > 0 {
					group += "@" + v
				}
				out = append(out, manifest.Dependency{Name: name, Ecosystem: lf.ecosystem, Group: group, Version: v, File: lf.file})
			}
		}
	}
	return out
}

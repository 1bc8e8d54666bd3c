package module

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ami-orchestrator/ami-audit/source/module/imports"
)

// Edge is an import dependency between two packages of the repository,
// each named by its directory relative to the repository root.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int64  `json:"count"` // import statements (Python: imported names) behind it
}

// ImportSummary is a module's part of the import graph.
type ImportSummary struct {
	// Edges are the heaviest edges leaving the module's packages, at most
	// Config.MaxEdges, most imports first.
	Edges []Edge `json:"edges"`
	// EdgeCount is the number of distinct edges; Truncated says Edges
	// does not hold them all.
	EdgeCount int  `json:"edge_count"`
	Truncated bool `json:"truncated"`
	// Internal counts imports resolved to the repository's own packages,
	// External the others (standard library, third party).
	Internal int64 `json:"internal"`
	External int64 `json:"external"`
	// ToModules counts the imports of other modules' packages, by module.
	ToModules map[string]int64 `json:"to_modules,omitempty"`
}

// resolver maps import statements to the repository's own packages. It is
// shared by the modules of one run and safe for concurrent use.
type resolver struct {
	root    string
	modules []*Module // not missing, sorted by path
	goMods  []*Module // those with a go.mod, longest module path first
	kinds   sync.Map  // absolute path -> pathKind
}

type pathKind uint8

const (
	kindNone pathKind = iota
	kindDir
	kindFile
)

func newResolver(root string, mods []*Module) *resolver {
	r := &resolver{root: root}
	for _, m := range mods {
		if m.Missing {
			continue
		}
		r.modules = append(r.modules, m)
		if m.GoModule != "" {
			r.goMods = append(r.goMods, m)
		}
	}
	slices.SortFunc(r.goMods, func(a, b *Module) int { return len(b.GoModule) - len(a.GoModule) })
	return r
}

// kind says whether p is a package directory, a Python module file
// (p.py) or neither. Answers are cached: imports repeat a lot.
func (r *resolver) kind(p string) pathKind {
	if k, ok := r.kinds.Load(p); ok {
		return k.(pathKind)
	}
	k := kindNone
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		k = kindDir
	} else if fi, err := os.Stat(p + ".py"); err == nil && fi.Mode().IsRegular() {
		k = kindFile
	}
	r.kinds.Store(p, k)
	return k
}

// owner is the module holding the repository-relative path p, or nil.
func (r *resolver) owner(p string) *Module {
	var best *Module
	for _, m := range r.modules {
		if m.Path == "." || p == m.Path || strings.HasPrefix(p, m.Path+"/") {
			if best == nil || len(m.Path) > len(best.Path) || best.Path == "." {
				best = m
			}
		}
	}
	return best
}

// goPackage maps a Go import path to a repository-relative package
// directory through the go.mod module paths of the repository's modules.
func (r *resolver) goPackage(imp string) (string, bool) {
	for _, m := range r.goMods {
		if imp == m.GoModule || strings.HasPrefix(imp, m.GoModule+"/") {
			return path.Join(m.Path, strings.TrimPrefix(imp, m.GoModule)), true
		}
	}
	return "", false
}

// descend follows dotted parts from the package directory dir and
// returns the deepest package directory they reach. The first part must
// exist; later ones that do not exist are attributes of the package.
func (r *resolver) descend(dir string, parts []string) (string, bool) {
	cur := dir
	for i, p := range parts {
		if p == "" {
			return "", false
		}
		next := filepath.Join(cur, p)
		switch r.kind(next) {
		case kindDir:
			cur = next
		case kindFile:
			return cur, true
		default:
			if i == 0 {
				return "", false
			}
			return cur, true
		}
	}
	return cur, true
}

// pyPackage maps one Python import of the file at repository-relative
// path file (in module m) to a package directory of the repository.
// Absolute imports are looked up under the module's directory, its src/
// directory and the repository root, in that order.
func (r *resolver) pyPackage(m *Module, file string, imp imports.PyImport) (string, bool) {
	var parts []string
	if imp.Module != "" {
		parts = strings.Split(imp.Module, ".")
	}
	withName := parts
	if imp.Name != "" && imp.Name != "*" {
		withName = append(slices.Clone(parts), imp.Name)
	}
	var abs string
	var ok bool
	if imp.Level > 0 {
		base := filepath.Join(r.root, filepath.FromSlash(path.Dir(file)))
		for range imp.Level - 1 {
			base = filepath.Dir(base)
		}
		if !strings.HasPrefix(base+string(filepath.Separator), r.root+string(filepath.Separator)) {
			return "", false // above the repository
		}
		abs, ok = base, true
		if len(withName) > 0 {
			if d, found := r.descend(base, withName); found {
				abs = d
			}
		}
	} else {
		for _, root := range []string{m.Dir, filepath.Join(m.Dir, "src"), r.root} {
			if abs, ok = r.descend(root, withName); ok {
				break
			}
		}
	}
	if !ok {
		return "", false
	}
	rel, err := filepath.Rel(r.root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// graph accumulates one module's import edges.
type graph struct {
	r   *resolver
	mod *Module

	// py caches Python import resolutions: files import the same
	// modules over and over.
	py sync.Map // key -> pyResolved

	mu       sync.Mutex
	edges    map[[2]string]int64
	internal int64
	external int64
}

func newGraph(r *resolver, m *Module) *graph {
	return &graph{r: r, mod: m, edges: map[[2]string]int64{}}
}

func (g *graph) goFile(file string, imps []string) {
	from := path.Dir(file)
	var local map[[2]string]int64
	var in, ex int64
	for _, imp := range imps {
		to, ok := g.r.goPackage(imp)
		if !ok {
			ex++
			continue
		}
		in++
		if to != from {
			if local == nil {
				local = map[[2]string]int64{}
			}
			local[[2]string{from, to}]++
		}
	}
	g.merge(local, in, ex)
}

func (g *graph) pyFile(file string, imps []imports.PyImport) {
	from := path.Dir(file)
	var local map[[2]string]int64
	var in, ex int64
	for _, imp := range imps {
		to, ok := g.pyResolve(file, from, imp)
		if !ok {
			ex++
			continue
		}
		in++
		if to != from {
			if local == nil {
				local = map[[2]string]int64{}
			}
			local[[2]string{from, to}]++
		}
	}
	g.merge(local, in, ex)
}

type pyResolved struct {
	to string
	ok bool
}

func (g *graph) pyResolve(file, dir string, imp imports.PyImport) (string, bool) {
	key := imp.Module + "\x00" + imp.Name
	if imp.Level > 0 {
		// Relative imports depend on the importing file's directory.
		key = dir + "\x00" + strconv.Itoa(imp.Level) + "\x00" + key
	}
	if v, ok := g.py.Load(key); ok {
		r := v.(pyResolved)
		return r.to, r.ok
	}
	to, ok := g.r.pyPackage(g.mod, file, imp)
	g.py.Store(key, pyResolved{to, ok})
	return to, ok
}

func (g *graph) merge(local map[[2]string]int64, in, ex int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.internal += in
	g.external += ex
	for k, n := range local {
		g.edges[k] += n
	}
}

// summary returns the module's import summary with at most max edges.
func (g *graph) summary(max int) ImportSummary {
	s := ImportSummary{Internal: g.internal, External: g.external, EdgeCount: len(g.edges)}
	all := make([]Edge, 0, len(g.edges))
	for k, n := range g.edges {
		all = append(all, Edge{From: k[0], To: k[1], Count: n})
		if o := g.r.owner(k[1]); o != nil && o.Path != g.mod.Path {
			if s.ToModules == nil {
				s.ToModules = map[string]int64{}
			}
			s.ToModules[o.Path] += n
		}
	}
	slices.SortFunc(all, func(a, b Edge) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	if len(all) > max {
		all, s.Truncated = all[:max], true
	}
	s.Edges = all
	return s
}

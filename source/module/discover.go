package module

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ami-orchestrator/ami-audit/source/module/manifest"
)

// Module is one module of a repository.
type Module struct {
	// Path is the module's directory relative to the repository root,
	// slash-separated; "." for the root itself. It is the target of the
	// module's records and its name on the command line.
	Path string
	// Dir is the absolute directory.
	Dir string
	// FoundBy says how the module was found: "gitmodules",
	// "modules.yaml:main", "modules.yaml:extended", "manifest", "argument".
	FoundBy []string
	// Submodule is the [submodule "name"] of .gitmodules, URL its url
	// (credentials redacted).
	Submodule string
	URL       string
	// Manifests lists the manifest files in the module's directory.
	Manifests []string
	// GoModule is the module path of its go.mod, if any.
	GoModule string
	// Missing is set when the module is listed (in .gitmodules or
	// config/modules.yaml) but its directory does not exist.
	Missing bool
}

// manifestNames are the files that make a directory a module.
var manifestNames = []string{"pyproject.toml", "package.json", "go.mod"}

// skipDirs are never searched for manifests: dependencies, virtual
// environments, build output and test data.
var skipDirs = map[string]bool{
	"node_modules": true, "vendor": true, "venv": true, "__pycache__": true,
	"site-packages": true, "dist": true, "build": true, "target": true,
	"testdata": true, "fixtures": true,
}

// Discover lists the modules of the repository at root: the submodules of
// .gitmodules (and of the .gitmodules of those submodules: nested
// modules), the names of config/modules.yaml (main_modules and
// extended_modules), and every directory down to depth levels below the
// root holding a pyproject.toml, package.json or go.mod (the root itself
// included). Problems with these files are returned as warnings naming the
// file and line; they do not stop discovery. Modules are sorted by path.
func Discover(root string, depth int) ([]*Module, []string) {
	d := &discovery{root: root, byPath: map[string]*discovered{}}
	d.gitmodules("")
	d.modulesYAML()
	d.manifests(".", depth)
	// Submodules of submodules: nested modules like domains/marketing.
	for i := 0; i < 8; i++ { // bounded nesting
		before := len(d.byPath)
		for _, m := range d.sorted() {
			if m.Path != "." && !m.Missing && !m.nestedDone {
				m.nestedDone = true
				d.gitmodules(m.Path)
			}
		}
		if len(d.byPath) == before {
			break
		}
	}
	mods := d.sorted()
	out := make([]*Module, 0, len(mods))
	for _, m := range mods {
		m.fill()
		out = append(out, &m.Module)
	}
	return out, d.warnings
}

type discovered struct {
	Module
	nestedDone bool
}

type discovery struct {
	root     string
	byPath   map[string]*discovered
	warnings []string
}

func (d *discovery) add(rel, how string) *discovered {
	rel = path.Clean(strings.TrimPrefix(filepath.ToSlash(rel), "./"))
	if rel == "" || strings.HasPrefix(rel, "../") || rel == ".." || path.IsAbs(rel) {
		d.warnings = append(d.warnings, "module path "+quote(rel)+" ("+how+") is outside the repository; ignored")
		return nil
	}
	m := d.byPath[rel]
	if m == nil {
		m = &discovered{Module: Module{Path: rel, Dir: filepath.Join(d.root, filepath.FromSlash(rel))}}
		d.byPath[rel] = m
	}
	if !slices.Contains(m.FoundBy, how) {
		m.FoundBy = append(m.FoundBy, how)
	}
	return m
}

func (d *discovery) sorted() []*discovered {
	out := make([]*discovered, 0, len(d.byPath))
	for _, m := range d.byPath {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *discovered) int { return strings.Compare(a.Path, b.Path) })
	return out
}

func (d *discovery) gitmodules(under string) {
	rel := path.Join(under, ".gitmodules")
	data, err := manifest.ReadFile(filepath.Join(d.root, filepath.FromSlash(rel)))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.warnings = append(d.warnings, err.Error())
		}
		return
	}
	subs, err := manifest.ParseGitmodules(rel, data)
	if err != nil {
		d.warnings = append(d.warnings, err.Error())
		return
	}
	for _, s := range subs {
		m := d.add(path.Join(under, s.Path), "gitmodules")
		if m == nil {
			continue
		}
		m.Submodule, m.URL = s.Name, s.URL
	}
}

func (d *discovery) modulesYAML() {
	const rel = "config/modules.yaml"
	data, err := manifest.ReadFile(filepath.Join(d.root, "config", "modules.yaml"))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.warnings = append(d.warnings, err.Error())
		}
		return
	}
	l, err := manifest.ParseModulesYAML(rel, data)
	if err != nil {
		d.warnings = append(d.warnings, err.Error())
		return
	}
	for _, n := range l.Main {
		d.add(n, "modules.yaml:main")
	}
	for _, n := range l.Extended {
		d.add(n, "modules.yaml:extended")
	}
}

// manifests finds directories holding a manifest, down to depth levels.
func (d *discovery) manifests(rel string, depth int) {
	dir := filepath.Join(d.root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		if rel == "." {
			d.warnings = append(d.warnings, err.Error())
		}
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && slices.Contains(manifestNames, e.Name()) {
			d.add(rel, "manifest")
			break
		}
	}
	if depth <= 0 {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || skipDirs[name] {
			continue
		}
		d.manifests(path.Join(rel, name), depth-1)
	}
}

// fill completes a module from its directory: whether it exists, which
// manifests it holds, its Go module path.
func (m *discovered) fill() {
	fi, err := os.Stat(m.Dir)
	if err != nil || !fi.IsDir() {
		m.Missing = true
		return
	}
	for _, name := range append(slices.Clone(manifestNames), "uv.lock", "package-lock.json", "go.sum") {
		if fi, err := os.Stat(filepath.Join(m.Dir, name)); err == nil && fi.Mode().IsRegular() {
			m.Manifests = append(m.Manifests, name)
		}
	}
	for _, req := range requirementFiles(m.Dir) {
		m.Manifests = append(m.Manifests, req)
	}
	if slices.Contains(m.Manifests, "go.mod") {
		if data, err := manifest.ReadFile(filepath.Join(m.Dir, "go.mod")); err == nil {
			if g, err := manifest.ParseGoMod("go.mod", data); err == nil {
				m.GoModule = g.Path
			}
		}
	}
}

// requirementFiles lists requirements*.txt in dir and *.txt in
// dir/requirements, relative to dir, sorted.
func requirementFiles(dir string) []string {
	var out []string
	if ms, _ := filepath.Glob(filepath.Join(dir, "requirements*.txt")); len(ms) > 0 {
		for _, m := range ms {
			out = append(out, filepath.Base(m))
		}
	}
	if ms, _ := filepath.Glob(filepath.Join(dir, "requirements", "*.txt")); len(ms) > 0 {
		for _, m := range ms {
			out = append(out, "requirements/"+filepath.Base(m))
		}
	}
	slices.Sort(out)
	return out
}

func quote(s string) string { return `"` + s + `"` }

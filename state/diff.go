package state

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/osvdb"
	"github.com/ami-orchestrator/ami-audit/source/module/manifest"
)

// Kinds of change.
const (
	FileAdded            = "file_added"
	FileRemoved          = "file_removed"
	FileChanged          = "file_changed"
	PermissionsChanged   = "permissions_changed"
	ConfigAdded          = "config_added"
	ConfigRemoved        = "config_removed"
	ConfigChanged        = "config_changed"
	DependencyAdded      = "dependency_added"
	DependencyRemoved    = "dependency_removed"
	DependencyUpgraded   = "dependency_upgraded"
	DependencyDowngraded = "dependency_downgraded"
	DependencyChanged    = "dependency_changed"
	ServiceAdded         = "service_added"
	ServiceRemoved       = "service_removed"
)

// Change is one difference between two states.
type Change struct {
	Kind       string           `json:"kind"`
	Target     string           `json:"target"`
	TargetType audit.TargetType `json:"target_type"`
	// Old and New say what it was and what it is (a hash, a mode, a
	// version); empty on the side where it does not exist.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Dependency is set for a dependency change.
	Dependency *Dependency `json:"dependency,omitempty"`
}

// Added reports whether the change adds something, Removed whether it
// takes something away; every other change changes something.
func (c Change) Added() bool   { return strings.HasSuffix(c.Kind, "_added") }
func (c Change) Removed() bool { return strings.HasSuffix(c.Kind, "_removed") }

// DefaultConfig are the patterns of configuration files: YAML and TOML
// files, compose files, .env.example and CI definitions. A pattern without
// a slash matches a file's name anywhere; one with a slash matches the
// whole path (path.Match, "*" not crossing "/", plus a leading "**/" for
// any directories).
var DefaultConfig = []string{
	"*.yaml", "*.yml", "*.toml",
	"compose.*", "docker-compose*", "*.compose.yaml", "*.compose.yml",
	".env.example", "*.env.example", "Dockerfile", "Containerfile",
	".gitlab-ci.yml", ".github/workflows/*", ".circleci/config.yml", "Jenkinsfile", ".drone.yml",
	"azure-pipelines.yml", "bitbucket-pipelines.yml", ".ci/*",
}

// Options configure Compare.
type Options struct {
	// Config are the patterns of configuration files (DefaultConfig when
	// nil).
	Config []string
}

// IsConfig reports whether p is a configuration file for the patterns.
func IsConfig(patterns []string, p string) bool {
	base := path.Base(p)
	for _, pat := range patterns {
		if !strings.Contains(pat, "/") {
			if ok, _ := path.Match(pat, base); ok {
				return true
			}
			continue
		}
		if rest, ok := strings.CutPrefix(pat, "**/"); ok {
			for q := p; ; {
				if m, _ := path.Match(rest, q); m {
					return true
				}
				i := strings.IndexByte(q, '/')
				if i < 0 {
					break
				}
				q = q[i+1:]
			}
			continue
		}
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// Diff is what changed from one state to another.
type Diff struct {
	From, To *State
	// Changes, by kind then target.
	Changes []Change
}

// Compare lists what changed from a to b.
func Compare(a, b *State, o Options) *Diff {
	if o.Config == nil {
		o.Config = DefaultConfig
	}
	d := &Diff{From: a, To: b}
	add := func(c Change) { d.Changes = append(d.Changes, c) }
	for _, p := range union(a.Files, b.Files) {
		old, inA := a.Files[p]
		nw, inB := b.Files[p]
		cfg := IsConfig(o.Config, p)
		kind := func(file, config string) string {
			if cfg {
				return config
			}
			return file
		}
		switch {
		case !inA:
			add(Change{Kind: kind(FileAdded, ConfigAdded), Target: p, TargetType: audit.TargetFile, New: nw.SHA256})
		case !inB:
			add(Change{Kind: kind(FileRemoved, ConfigRemoved), Target: p, TargetType: audit.TargetFile, Old: old.SHA256})
		default:
			if old.SHA256 != nw.SHA256 || old.Type != nw.Type {
				add(Change{Kind: kind(FileChanged, ConfigChanged), Target: p, TargetType: audit.TargetFile, Old: old.SHA256, New: nw.SHA256})
			}
			if old.Mode != nw.Mode {
				add(Change{Kind: PermissionsChanged, Target: p, TargetType: audit.TargetFile, Old: old.Mode, New: nw.Mode})
			}
		}
	}
	for _, k := range union(a.Dependencies, b.Dependencies) {
		old, inA := a.Dependencies[k]
		nw, inB := b.Dependencies[k]
		switch {
		case !inA:
			add(depChange(DependencyAdded, nw, "", version(nw)))
		case !inB:
			add(depChange(DependencyRemoved, old, version(old), ""))
		default:
			if ov, nv := version(old), version(nw); ov != nv {
				if kind := dependencyOrder(nw.Ecosystem, old, nw); kind != "" {
					add(depChange(kind, nw, ov, nv))
				}
			}
		}
	}
	for _, n := range union(a.Services, b.Services) {
		_, inA := a.Services[n]
		nw, inB := b.Services[n]
		switch {
		case !inA:
			add(Change{Kind: ServiceAdded, Target: n, TargetType: audit.TargetService, New: nw.State})
		case !inB:
			add(Change{Kind: ServiceRemoved, Target: n, TargetType: audit.TargetService, Old: a.Services[n].State})
		}
	}
	slices.SortStableFunc(d.Changes, func(x, y Change) int {
		return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Target, y.Target))
	})
	return d
}

func depChange(kind string, d Dependency, old, nw string) Change {
	return Change{Kind: kind, Target: d.Module, TargetType: audit.TargetModule, Old: old, New: nw, Dependency: &d}
}

// version is what a dependency is at: its resolved version, else its
// constraint.
func version(d Dependency) string { return cmp.Or(d.Version, d.Spec) }

// osvEcosystems maps the module source's ecosystems to OSV's names, which
// osvdb orders versions by.
var osvEcosystems = map[string]string{manifest.PyPI: osvdb.PyPI, manifest.NPM: osvdb.NPM, manifest.Go: osvdb.Go}

// dependencyOrder says whether a dependency went up or down in its
// ecosystem's version order; a change that is not a pair of versions
// (a constraint changed, a version that does not parse) is a change, and
// two spellings of one version ("1.0", "1.0.0") are none ("").
func dependencyOrder(ecosystem string, old, nw Dependency) string {
	if old.Version == "" || nw.Version == "" {
		return DependencyChanged
	}
	n, err := osvdb.Compare(osvEcosystems[ecosystem], old.Version, nw.Version)
	switch {
	case err != nil:
		return DependencyChanged
	case n == 0:
		return ""
	case n < 0:
		return DependencyUpgraded
	}
	return DependencyDowngraded
}

func union[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Counts are the changes per kind.
func (d *Diff) Counts() map[string]int {
	m := map[string]int{}
	for _, c := range d.Changes {
		m[c.Kind]++
	}
	return m
}

// Bits of the exit-code mask, in AIDE's style.
const (
	BitAdded   = 1
	BitRemoved = 2
	BitChanged = 4
)

// Bits is AIDE's summary of a comparison: BitAdded when something was
// added, BitRemoved when something was removed, BitChanged when something
// changed; 0 when the states are the same.
func (d *Diff) Bits() int {
	bits := 0
	for _, c := range d.Changes {
		switch {
		case c.Added():
			bits |= BitAdded
		case c.Removed():
			bits |= BitRemoved
		default:
			bits |= BitChanged
		}
	}
	return bits
}

// Describe says a change in a sentence.
func (c Change) Describe() string {
	shortHash := func(h string) string { return h[:min(len(h), 12)] }
	switch c.Kind {
	case FileAdded, ConfigAdded:
		return fmt.Sprintf("%s added (sha256 %s)", c.Target, shortHash(c.New))
	case FileRemoved, ConfigRemoved:
		return fmt.Sprintf("%s removed (was sha256 %s)", c.Target, shortHash(c.Old))
	case FileChanged, ConfigChanged:
		return fmt.Sprintf("%s changed: sha256 %s → %s", c.Target, shortHash(c.Old), shortHash(c.New))
	case PermissionsChanged:
		return fmt.Sprintf("%s: mode %s → %s", c.Target, c.Old, c.New)
	case ServiceAdded:
		return fmt.Sprintf("service %s added (%s)", c.Target, c.New)
	case ServiceRemoved:
		return fmt.Sprintf("service %s removed", c.Target)
	}
	if d := c.Dependency; d != nil {
		name := fmt.Sprintf("%s %s (%s, %s)", d.Ecosystem, d.Name, d.Group, c.Target)
		switch c.Kind {
		case DependencyAdded:
			return fmt.Sprintf("dependency %s added at %s", name, c.New)
		case DependencyRemoved:
			return fmt.Sprintf("dependency %s removed (was %s)", name, c.Old)
		}
		return fmt.Sprintf("dependency %s %s: %s → %s", name, strings.TrimPrefix(c.Kind, "dependency_"), c.Old, c.New)
	}
	return c.Kind + " " + c.Target
}

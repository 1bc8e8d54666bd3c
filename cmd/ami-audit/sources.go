package main

import (
	"context"
	"slices"
	"sort"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// sourceOptions is what a source is built with for a whole-repository run.
type sourceOptions struct {
	// Root is the absolute path of the repository being audited.
	Root string
}

// sourceFactory builds a configured source for one run. It may use the
// App (for instance its store, to collect incrementally).
type sourceFactory func(ctx context.Context, a *App, opts sourceOptions) (audit.Source, error)

// sourceRegistry lists the sources "repo --sources" can run, by name. It is
// the one place a source is made available to the command line: each
// source package adds its line here.
func (a *App) sourceRegistry() map[string]sourceFactory {
	return map[string]sourceFactory{
		"git": gitSource,
	}
}

// plannedSources are the source names of the specification, in the order
// they run and are listed. A name here that is not in the registry is
// refused as "not available yet".
var plannedSources = []string{"git", "file", "log", "module", "quality", "service"}

// availableSources lists the registered names: planned ones first, in
// their order, then any other, sorted.
func availableSources(reg map[string]sourceFactory) []string {
	var out, extra []string
	for _, n := range plannedSources {
		if reg[n] != nil {
			out = append(out, n)
		}
	}
	for n := range reg {
		if !slices.Contains(plannedSources, n) {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// selectSources parses a --sources value ("git,file"; empty means every
// available source) into registered names, in the order given, without
// duplicates.
func selectSources(spec string, reg map[string]sourceFactory) ([]string, error) {
	avail := availableSources(reg)
	list := func() string {
		if len(avail) == 0 {
			return "none"
		}
		return strings.Join(avail, ", ")
	}
	if strings.TrimSpace(spec) == "" {
		if len(avail) == 0 {
			return nil, usagef("no source is available in this build")
		}
		return avail, nil
	}
	var out []string
	for _, n := range strings.Split(spec, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		switch {
		case n == "":
			return nil, usagef("--sources %q: empty source name; available: %s", spec, list())
		case reg[n] != nil:
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		case slices.Contains(plannedSources, n):
			return nil, usagef("source '%s' is not available yet; available: %s", n, list())
		default:
			return nil, usagef("unknown source '%s'; available: %s", n, list())
		}
	}
	return out, nil
}

package main

import (
	"github.com/ami-orchestrator/ami-audit/collect"
)

// sourceFactory builds a configured source for one run of "repo"
// (collect.SourceFactory).
type sourceFactory = collect.SourceFactory

// sourceRegistry lists the sources "repo --sources" can run, by name: the
// library's registry (collect.Registry), where each source package adds its
// line.
func (a *App) sourceRegistry() map[string]sourceFactory { return collect.Registry() }

// plannedSources are the source names of the specification, in the order
// they run and are listed.
var plannedSources = collect.PlannedSources

// availableSources lists the registered names: planned ones first, in
// their order, then any other, sorted.
func availableSources(reg map[string]sourceFactory) []string { return collect.AvailableSources(reg) }

// registryNames lists the names of a registry: those of planned first, in
// that order, then any other, sorted (collect.RegistryNames).
func registryNames[F any](reg map[string]F, planned []string) []string {
	return collect.RegistryNames(reg, planned)
}

// selectSources parses a --sources value ("git,file"; empty means every
// available source) into registered names.
func selectSources(spec string, reg map[string]sourceFactory) ([]string, error) {
	return collect.SelectSources(spec, reg)
}

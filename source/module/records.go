package module

import (
	"context"
	"encoding/json"
	"fmt"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/source/module/manifest"
)

// moduleContext is the context of a module_audit record. Lists are
// bounded (Config.TopFiles, MaxEdges, MaxDependencies), so a record stays
// small whatever the module's size.
type moduleContext struct {
	Module    string   `json:"module"`
	FoundBy   []string `json:"found_by"`
	Submodule string   `json:"submodule,omitempty"`
	URL       string   `json:"url,omitempty"`
	Missing   bool     `json:"missing,omitempty"`
	Name      string   `json:"name,omitempty"`
	Version   string   `json:"version,omitempty"`
	GoModule  string   `json:"go_module,omitempty"`
	Manifests []string `json:"manifests"`

	PrimaryLanguage string           `json:"primary_language,omitempty"`
	Totals          Counts           `json:"totals"`
	Languages       []LanguageCounts `json:"languages"`
	TopFiles        []fileEntry      `json:"top_files"`
	ComplexFiles    []fileEntry      `json:"complex_files"`

	Tests    *testsContext    `json:"tests,omitempty"`
	Coverage *CoverageSummary `json:"coverage,omitempty"`

	Dependencies          []manifest.Dependency `json:"dependencies,omitempty"`
	DependencyCount       *int                  `json:"dependency_count,omitempty"`
	DependenciesTruncated bool                  `json:"dependencies_truncated,omitempty"`
	Locks                 []LockSummary         `json:"locks,omitempty"`
	DependencyChanges     *int                  `json:"dependency_changes,omitempty"`

	Imports    ImportSummary `json:"imports"`
	Warnings   []string      `json:"warnings,omitempty"`
	DurationMS float64       `json:"duration_ms"`
}

type fileEntry struct {
	Path       string `json:"path"`
	Language   string `json:"language"`
	Code       int64  `json:"code"`
	Complexity int64  `json:"complexity"`
}

type testsContext struct {
	Files      int64            `json:"files"`
	Tests      int64            `json:"tests"`
	ByLanguage map[string]int64 `json:"by_language,omitempty"`
	TopFiles   []testFileEntry  `json:"top_files,omitempty"`
}

type testFileEntry struct {
	Path  string `json:"path"`
	Tests int    `json:"tests"`
}

// toContext turns v into the free JSON object a record holds (numbers as
// float64, as they come back from a store).
func toContext(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// records builds a module's records: its module_audit record, then one
// record per dependency change.
func (s *Source) records(_ context.Context, res *Result) ([]*audit.Record, error) {
	m := res.Module
	c := moduleContext{
		Module: m.Path, FoundBy: m.FoundBy, Submodule: m.Submodule, URL: m.URL, Missing: m.Missing,
		Name: res.Name, Version: res.Version, GoModule: m.GoModule, Manifests: m.Manifests,
		Totals: res.Totals, Languages: res.Languages, Coverage: res.Coverage, Imports: res.Imports,
		Warnings: res.Warnings, DurationMS: float64(res.Duration.Microseconds()) / 1000,
	}
	if c.Manifests == nil {
		c.Manifests = []string{}
	}
	if c.Languages == nil {
		c.Languages = []LanguageCounts{}
	}
	c.PrimaryLanguage = PrimaryLanguage(res.Languages)
	c.TopFiles = []fileEntry{}
	for _, f := range res.TopFiles {
		c.TopFiles = append(c.TopFiles, fileEntry{Path: f.Path, Language: f.Language, Code: f.Code, Complexity: f.Complexity})
	}
	c.ComplexFiles = []fileEntry{}
	for _, f := range res.ComplexFiles {
		c.ComplexFiles = append(c.ComplexFiles, fileEntry{Path: f.Path, Language: f.Language, Code: f.Code, Complexity: f.Complexity})
	}
	if res.Tests != nil {
		t := &testsContext{Files: res.Tests.Files, Tests: res.Tests.Tests, ByLanguage: res.Tests.ByLanguage}
		for _, f := range res.Tests.TopFiles {
			t.TopFiles = append(t.TopFiles, testFileEntry{Path: f.Path, Tests: f.Tests})
		}
		c.Tests = t
	}
	if res.Dependencies != nil {
		c.Dependencies = res.Dependencies
		n := len(res.Dependencies)
		c.DependencyCount = &n
		c.DependenciesTruncated = res.DependenciesTruncated
		c.Locks = res.Locks
		k := len(res.Changes)
		c.DependencyChanges = &k
	}
	ctxMap, err := toContext(c)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", m.Path, err)
	}
	// Dependencies must be present (even empty) when they were read, so
	// the next run can compare.
	if res.Dependencies != nil {
		if _, ok := ctxMap["dependencies"]; !ok {
			ctxMap["dependencies"] = []any{}
		}
	}
	rec := &audit.Record{
		Timestamp: res.Time, Actor: s.cfg.Actor, Action: ActionAudit,
		Target: m.Path, TargetType: audit.TargetModule, Source: SourceName, Context: ctxMap,
	}
	if len(res.Warnings) > 0 || m.Missing {
		rec.Severity = audit.SeverityWarning
	}
	rec.Normalize()
	recs := []*audit.Record{rec}
	for _, ch := range res.Changes {
		d := ch.Dep()
		cc := map[string]any{
			"module": m.Path, "ecosystem": d.Ecosystem, "name": d.Name, "group": d.Group, "file": d.File,
		}
		if ch.Old != nil {
			cc["old"] = map[string]any{"spec": ch.Old.Spec, "version": ch.Old.Version}
		}
		if ch.New != nil {
			cc["new"] = map[string]any{"spec": ch.New.Spec, "version": ch.New.Version}
		}
		r := &audit.Record{
			Timestamp: res.Time, Actor: s.cfg.Actor, Action: ch.Action,
			Target: m.Path, TargetType: audit.TargetModule, Source: SourceName, Context: cc,
		}
		r.Normalize()
		recs = append(recs, r)
	}
	return recs, nil
}

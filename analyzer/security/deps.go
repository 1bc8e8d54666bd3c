package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"deps.dev/util/semver"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/internal/osvdb"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/module/manifest"
)

// Finding types of the dependencies check.
const (
	TypeVulnerableDependency = "vulnerable_dependency"
	TypeVulnerableRange      = "vulnerable_dependency_range"
	TypeNotChecked           = "dependencies_not_checked"
)

// ecosystems maps the module source's ecosystems to OSV's, in check order.
var ecosystems = []struct{ module, osv string }{
	{manifest.PyPI, osvdb.PyPI},
	{manifest.NPM, osvdb.NPM},
	{manifest.Go, osvdb.Go},
}

// dependencyCheck is the check of one module-source ecosystem.
func dependencyCheck(eco string) string { return CheckDependencies + ":" + eco }

// moduleDeps is the dependencies of one module's newest record.
type moduleDeps struct {
	record    *audit.Record
	module    string
	deps      []manifest.Dependency
	truncated bool
}

// currentModules reads the newest module_audit record of every module
// that recorded its dependencies.
func currentModules(ctx context.Context, tr audit.Reader) ([]moduleDeps, error) {
	recs, err := analyzer.Latest(ctx, tr, audit.Filter{Action: module.ActionAudit, TargetType: audit.TargetModule}, module.SourceName)
	if err != nil {
		return nil, fmt.Errorf("read module records: %w", err)
	}
	var out []moduleDeps
	for _, r := range recs {
		raw, ok := r.Context["dependencies"]
		if !ok {
			continue // audited without --include-dependencies
		}
		var deps []manifest.Dependency
		b, err := json.Marshal(raw)
		if err == nil {
			err = json.Unmarshal(b, &deps)
		}
		if err != nil {
			return nil, fmt.Errorf("module record %s (%s): dependencies: %w", r.RecordID, r.Target, err)
		}
		trunc, _ := r.Context["dependencies_truncated"].(bool)
		out = append(out, moduleDeps{record: r, module: r.Target, deps: deps, truncated: trunc})
	}
	slices.SortFunc(out, func(a, b moduleDeps) int { return strings.Compare(a.module, b.module) })
	return out, nil
}

// dependencies is the dependencies check of every ecosystem.
func (a *Analyzer) dependencies(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	report = reporter(report)
	mods, err := currentModules(ctx, in.Trail)
	if err != nil {
		return nil, err
	}
	byEco := map[string][]depRef{}
	for _, m := range mods {
		if m.truncated {
			a.note("dependencies: module %s lists only part of its dependencies (dependencies_truncated); the rest were not checked", m.module)
		}
		for _, d := range m.deps {
			byEco[d.Ecosystem] = append(byEco[d.Ecosystem], depRef{mod: m, dep: d})
		}
	}
	total := 0
	for _, ds := range byEco {
		total += len(ds)
	}
	a.count(func(s *Stats) { s.Dependencies = total })
	if len(mods) == 0 {
		a.note("dependencies: the trail holds no module records with dependencies; run 'ami-audit module --all --include-dependencies' (or 'ami-audit repo') first")
	}

	var db *osvdb.DB
	if a.cfg.OSVDB != "" {
		if db, err = osvdb.Open(a.cfg.OSVDB); err != nil {
			return nil, err
		}
	} else if total > 0 {
		a.note("dependencies were NOT checked for known vulnerabilities: no OSV database was given (--osv-db DIR)")
	}
	var done []string
	for _, eco := range ecosystems {
		refs := byEco[eco.module]
		if db == nil {
			if len(refs) > 0 {
				if err := report(notChecked(eco.module, eco.osv, len(refs), "no OSV database was given (--osv-db DIR)")); err != nil {
					return nil, err
				}
			}
			continue
		}
		if _, err := db.Archive(eco.osv); err != nil {
			if len(refs) > 0 {
				a.note("dependencies: %d %s dependencies NOT checked: %v", len(refs), eco.osv, err)
				if err := report(notChecked(eco.module, eco.osv, len(refs), "the OSV database has no "+eco.osv+"/all.zip")); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := a.checkEcosystem(ctx, db, eco.module, eco.osv, refs, report); err != nil {
			return nil, err
		}
		done = append(done, dependencyCheck(eco.module))
	}
	return done, nil
}

type depRef struct {
	mod moduleDeps
	dep manifest.Dependency
}

func notChecked(eco, osvEco string, n int, why string) audit.Detected {
	return audit.Detected{
		Key: "dependencies-not-checked|" + eco, Check: dependencyCheck(eco),
		Target: ".", TargetType: audit.TargetModule,
		Finding: audit.Finding{
			FindingType: TypeNotChecked, Severity: audit.SeverityInfo,
			Description:    fmt.Sprintf("%d %s dependencies were not checked for known vulnerabilities: %s.", n, osvEco, why),
			Recommendation: "Give a local OSV database with --osv-db DIR (osv-scanner's offline database, or the osv.dev export <Ecosystem>/all.zip).",
		},
		Evidence: map[string]any{"ecosystem": eco, "dependencies": n, "reason": why},
	}
}

// checkEcosystem compares one ecosystem's dependencies with its advisories.
func (a *Analyzer) checkEcosystem(ctx context.Context, db *osvdb.DB, eco, osvEco string, refs []depRef, report func(audit.Detected) error) error {
	if len(refs) == 0 {
		return nil
	}
	names := map[string]bool{}
	for _, r := range refs {
		names[osvdb.NormalizeName(osvEco, r.dep.Name)] = true
	}
	loaded, err := db.Load(osvEco, names)
	if err != nil {
		return err
	}
	for _, p := range loaded.Problems {
		a.note("dependencies: skipped an advisory: %s", p)
	}
	n := 0
	for _, es := range loaded.ByName {
		n += len(es)
	}
	a.count(func(s *Stats) { s.Advisories += n })
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries := loaded.ByName[osvdb.NormalizeName(osvEco, r.dep.Name)]
		switch {
		case r.dep.Version != "":
			for _, e := range entries {
				m, hit, err := e.Affects(osvEco, r.dep.Name, r.dep.Version)
				if errors.Is(err, osvdb.ErrVersion) {
					a.note("dependencies: %s %s in %s: version %q does not parse as a %s version; not compared", r.dep.Name, r.dep.Version, r.dep.File, r.dep.Version, osvEco)
					break
				}
				if err != nil || !hit {
					continue
				}
				if err := report(vulnerable(r, e, osvEco, m, "")); err != nil {
					return err
				}
			}
		case r.dep.Spec != "" && eco != manifest.Go:
			var partial []*osvdb.Entry
			for _, e := range entries {
				all, some, err := e.SpecOverlap(osvEco, r.dep.Name, r.dep.Spec)
				if errors.Is(err, osvdb.ErrVersion) {
					a.note("dependencies: %s %s in %s: the constraint does not parse; not compared", r.dep.Name, r.dep.Spec, r.dep.File)
					break
				}
				switch {
				case err != nil:
				case all:
					m := osvdb.Match{Range: "every version " + r.dep.Spec + " allows"}
					m.Fixed = fixedOf(e, osvEco, r.dep.Name)
					if err := report(vulnerable(r, e, osvEco, m, r.dep.Spec)); err != nil {
						return err
					}
				case some:
					partial = append(partial, e)
				}
			}
			if len(partial) > 0 {
				if err := report(vulnerableRange(r, osvEco, partial)); err != nil {
					return err
				}
			}
		default:
			a.count(func(s *Stats) { s.Unchecked++ })
		}
	}
	return nil
}

// fixedOf lists the fixed versions of e's ranges for the package.
func fixedOf(e *osvdb.Entry, eco, name string) []string {
	var out []string
	for _, af := range e.Affected {
		if !af.Is(eco, name) {
			continue
		}
		for _, r := range af.Ranges {
			for _, ev := range r.Events {
				if ev.Fixed != "" && !slices.Contains(out, ev.Fixed) {
					out = append(out, ev.Fixed)
				}
			}
		}
	}
	return out
}

// upgradeTo is the smallest fixed version above version, or "".
func upgradeTo(eco, version string, fixed []string) string {
	sys := map[string]semver.System{osvdb.PyPI: semver.PyPI, osvdb.NPM: semver.NPM, osvdb.Go: semver.Go}[eco]
	cur, err := sys.Parse(osvdb.Canonical(eco, version))
	best := ""
	var bestV *semver.Version
	for _, f := range fixed {
		v, perr := sys.Parse(osvdb.Canonical(eco, f))
		if perr != nil || (err == nil && v.Compare(cur) <= 0) {
			continue
		}
		if bestV == nil || v.Compare(bestV) < 0 {
			best, bestV = f, v
		}
	}
	return best
}

func depKey(r depRef, rest string) string {
	return "dependency|" + r.mod.module + "|" + r.dep.Ecosystem + "|" + r.dep.Name + "|" + r.dep.Group + "|" + rest
}

// summary is a record's summary, else the first line of its details,
// bounded.
func summary(e *osvdb.Entry) string {
	s := e.Summary
	if s == "" {
		s, _, _ = strings.Cut(strings.TrimSpace(e.Details), "\n")
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func vulnerable(r depRef, e *osvdb.Entry, osvEco string, m osvdb.Match, spec string) audit.Detected {
	d := r.dep
	rated := e.Rate(osvEco, d.Name)
	ids := append([]string{e.ID}, e.Aliases...)
	what := d.Name + " " + d.Version
	if spec != "" {
		what = d.Name + " " + spec
	}
	desc := fmt.Sprintf("%s (%s, %s) is affected by %s", what, osvEco, d.File, strings.Join(ids, ", "))
	if s := summary(e); s != "" {
		desc += ": " + s
	}
	fix := upgradeTo(osvEco, d.Version, m.Fixed)
	rec := "No fixed version is known: remove or replace " + d.Name + ", or accept the risk."
	if fix != "" {
		rec = "Upgrade " + d.Name + " to " + fix + " or later."
	}
	ev := map[string]any{
		analyzer.EvidenceFile: d.File, analyzer.EvidenceRule: e.ID,
		"advisory": e.ID, "aliases": orEmpty(e.Aliases), "ecosystem": d.Ecosystem, "package": d.Name,
		"group": d.Group, "module": r.mod.module, "affected_range": m.Range, "fixed_versions": orEmpty(m.Fixed),
		"severity_source": rated.Source,
	}
	if d.Line > 0 {
		ev[analyzer.EvidenceLine] = d.Line
	}
	if d.Version != "" {
		ev["version"] = d.Version
	}
	if d.Spec != "" {
		ev["spec"] = d.Spec
	}
	if fix != "" {
		ev["fixed"] = fix
	}
	if rated.Vector != "" {
		ev["cvss_vector"] = rated.Vector
		ev["cvss_score"] = strconv.FormatFloat(rated.Score, 'f', 1, 64)
	}
	if e.Modified != "" {
		ev["advisory_modified"] = e.Modified
	}
	return audit.Detected{
		Key: depKey(r, e.ID), Check: dependencyCheck(d.Ecosystem),
		Target: r.mod.module, TargetType: audit.TargetModule,
		Finding: audit.Finding{
			FindingType: TypeVulnerableDependency, Severity: rated.Severity, Description: desc,
			Location: location(d), Recommendation: rec,
		},
		Evidence: ev, Records: []string{r.mod.record.RecordID},
	}
}

func vulnerableRange(r depRef, osvEco string, es []*osvdb.Entry) audit.Detected {
	d := r.dep
	var ids []string
	worst := audit.SeverityInfo
	for _, e := range es {
		ids = append(ids, e.ID)
		if s := e.Rate(osvEco, d.Name).Severity; s.Rank() > worst.Rank() {
			worst = s
		}
	}
	return audit.Detected{
		Key: depKey(r, "range"), Check: dependencyCheck(d.Ecosystem),
		Target: r.mod.module, TargetType: audit.TargetModule,
		Finding: audit.Finding{
			FindingType: TypeVulnerableRange, Severity: audit.SeverityWarning,
			Description: fmt.Sprintf("%s %s (%s, %s) is not pinned, and allows versions affected by %s",
				d.Name, d.Spec, osvEco, d.File, strings.Join(ids, ", ")),
			Location:       location(d),
			Recommendation: "Pin " + d.Name + " (a lock file) to a version that none of these advisories affect.",
		},
		Evidence: map[string]any{
			analyzer.EvidenceFile: d.File, analyzer.EvidenceRule: TypeVulnerableRange, "advisories": ids,
			"ecosystem": d.Ecosystem, "package": d.Name, "spec": d.Spec, "group": d.Group, "module": r.mod.module,
			"worst_severity": string(worst),
		},
		Records: []string{r.mod.record.RecordID},
	}
}

func location(d manifest.Dependency) string {
	if d.Line > 0 {
		return d.File + ":" + strconv.Itoa(d.Line)
	}
	return d.File
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

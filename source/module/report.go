package module

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
)

// maxReportRows bounds the rows of a report table built here.
const maxReportRows = 1000

// Summary returns the headline figures of a set of module results.
func Summary(results []*Result) []report.Item {
	var tot Counts
	var tests, testFiles, deps, changes, edges, warnings, missing int64
	withTests, withDeps := false, false
	for _, r := range results {
		tot.add(r.Totals)
		if r.Tests != nil {
			withTests = true
			tests += r.Tests.Tests
			testFiles += r.Tests.Files
		}
		if r.Dependencies != nil {
			withDeps = true
			deps += int64(len(r.Dependencies))
		}
		changes += int64(len(r.Changes))
		edges += int64(r.Imports.EdgeCount)
		warnings += int64(len(r.Warnings))
		if r.Module.Missing {
			missing++
		}
	}
	items := []report.Item{
		{Label: "Modules", Value: strconv.Itoa(len(results))},
		{Label: "Files", Value: itoa(tot.Files)},
		{Label: "Code lines", Value: itoa(tot.Code)},
		{Label: "Complexity", Value: itoa(tot.Complexity)},
	}
	if withTests {
		items = append(items, report.Item{Label: "Tests", Value: fmt.Sprintf("%d in %s", tests, plural.Count(testFiles, "file"))})
	}
	if withDeps {
		items = append(items,
			report.Item{Label: "Dependencies", Value: itoa(deps)},
			report.Item{Label: "Dependency changes", Value: itoa(changes)})
	}
	items = append(items, report.Item{Label: "Import edges", Value: itoa(edges)})
	if missing > 0 {
		items = append(items, report.Item{Label: "Modules missing", Value: itoa(missing)})
	}
	if warnings > 0 {
		items = append(items, report.Item{Label: "Warnings", Value: itoa(warnings)})
	}
	return items
}

// Sections returns the report sections of a set of module results: the
// module table, a chart of code lines per module, languages, coverage,
// dependencies and their changes, and the import graph.
func Sections(results []*Result) []report.Section {
	var out []report.Section
	withTests, withDeps := false, false
	for _, r := range results {
		withTests = withTests || r.Tests != nil
		withDeps = withDeps || r.Dependencies != nil
	}

	mods := report.Section{Title: "Modules", Columns: []string{"Module", "Language", "Files", "Code", "Comment", "Complexity"}}
	if withDeps {
		mods.Columns = append(mods.Columns, "Deps")
	}
	if withTests {
		mods.Columns = append(mods.Columns, "Test files", "Tests")
	}
	mods.Columns = append(mods.Columns, "Coverage", "Found by")
	chart := &report.Chart{Kind: report.ChartBar, Unit: "lines"}
	for _, r := range results {
		m := r.Module
		lang := "-"
		if len(r.Languages) > 0 {
			lang = PrimaryLanguage(r.Languages)
		}
		if m.Missing {
			lang = "missing"
		}
		row := []string{m.Path, lang, itoa(r.Totals.Files), itoa(r.Totals.Code), itoa(r.Totals.Comment), itoa(r.Totals.Complexity)}
		if withDeps {
			row = append(row, dash(r.Dependencies != nil, strconv.Itoa(len(r.Dependencies))))
		}
		if withTests {
			if r.Tests != nil {
				row = append(row, itoa(r.Tests.Files), itoa(r.Tests.Tests))
			} else {
				row = append(row, "-", "-")
			}
		}
		cov := "-"
		if r.Coverage != nil {
			cov = pct(r.Coverage.LineRate)
		}
		row = append(row, cov, strings.Join(m.FoundBy, ", "))
		mods.Rows = append(mods.Rows, row)
		if !m.Missing {
			chart.Labels = append(chart.Labels, m.Path)
			chart.Values = append(chart.Values, float64(r.Totals.Code))
		}
	}
	out = append(out, mods)
	if len(chart.Labels) > 0 {
		out = append(out, report.Section{Title: "Code lines per module", Chart: chart})
	}

	// Languages across modules.
	byLang := map[string]*Counts{}
	for _, r := range results {
		for _, l := range r.Languages {
			c := byLang[l.Language]
			if c == nil {
				c = &Counts{}
				byLang[l.Language] = c
			}
			c.add(l.Counts)
		}
	}
	if len(byLang) > 0 {
		langs := report.Section{Title: "Languages", Text: "Counted with scc's rules: code, comment and blank lines; complexity counts branch and loop keywords.",
			Columns: []string{"Language", "Files", "Lines", "Code", "Comment", "Blank", "Complexity"}}
		names := make([]string, 0, len(byLang))
		for n := range byLang {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			if d := byLang[b].Code - byLang[a].Code; d != 0 {
				return sign(d)
			}
			return strings.Compare(a, b)
		})
		for _, n := range names {
			c := byLang[n]
			langs.Rows = append(langs.Rows, []string{n, itoa(c.Files), itoa(c.Lines), itoa(c.Code), itoa(c.Comment), itoa(c.Blank), itoa(c.Complexity)})
		}
		out = append(out, langs)
	}

	// Largest files across modules.
	var files []FileStat
	for _, r := range results {
		files = append(files, r.TopFiles...)
	}
	if len(files) > 0 {
		slices.SortFunc(files, func(a, b FileStat) int {
			if a.Code != b.Code {
				return sign(b.Code - a.Code)
			}
			return strings.Compare(a.Path, b.Path)
		})
		sec := report.Section{Title: "Largest files", Columns: []string{"File", "Language", "Code", "Complexity"}}
		for _, f := range files[:min(len(files), 20)] {
			sec.Rows = append(sec.Rows, []string{f.Path, f.Language, itoa(f.Code), itoa(f.Complexity)})
		}
		out = append(out, sec)
	}

	// Coverage.
	cov := report.Section{Title: "Coverage", Text: "Line rate (Go: statement rate) from the coverage reports found in each module.",
		Columns: []string{"Module", "Report", "Format", "Files", "Covered", "Total", "Rate"}}
	low := report.Section{Title: "Least covered files", Columns: []string{"Module", "File", "Covered", "Total", "Rate"}}
	for _, r := range results {
		if r.Coverage == nil {
			continue
		}
		for _, rep := range r.Coverage.Reports {
			cov.Rows = append(cov.Rows, []string{r.Module.Path, rep.File, rep.Format, strconv.Itoa(rep.Files), itoa(rep.Covered), itoa(rep.Total), pct(rep.Rate)})
		}
		for _, f := range r.Coverage.Lowest[:min(len(r.Coverage.Lowest), 5)] {
			low.Rows = append(low.Rows, []string{r.Module.Path, f.Path, itoa(f.Covered), itoa(f.Total), pct(f.Rate())})
		}
	}
	if len(cov.Rows) > 0 {
		out = append(out, cov, low)
	}

	if withDeps {
		deps := report.Section{Title: "Dependencies", Text: "Declared dependencies, and in group locked the packages a lock file (uv.lock, package-lock.json) resolves that no manifest declares; Version is the resolved one from the lock file or an exact pin.",
			Columns: []string{"Module", "Ecosystem", "Group", "Name", "Spec", "Version", "File"}}
		n := 0
		for _, r := range results {
			for _, d := range r.Dependencies {
				n++
				if len(deps.Rows) < maxReportRows {
					deps.Rows = append(deps.Rows, []string{r.Module.Path, d.Ecosystem, d.Group, d.Name, d.Spec, d.Version, lineRef(d.File, d.Line)})
				}
			}
		}
		if n > len(deps.Rows) {
			deps.Text += fmt.Sprintf(" The first %d of %d are listed; the records hold them all.", len(deps.Rows), n)
		}
		out = append(out, deps)
		changes := report.Section{Title: "Dependency changes", Text: "Since each module's previous record in the trail.",
			Columns: []string{"Module", "Change", "Ecosystem", "Name", "Group", "Before", "After"}}
		for _, r := range results {
			for _, c := range r.Changes {
				d := c.Dep()
				changes.Rows = append(changes.Rows, []string{r.Module.Path, strings.TrimPrefix(c.Action, "dependency_"), d.Ecosystem, d.Name, d.Group, specVersion(c.Old), specVersion(c.New)})
			}
		}
		if len(changes.Rows) == 0 {
			changes.Text += " None."
		}
		out = append(out, changes)
	}

	// Import graph.
	var edges []Edge
	between := map[[2]string]int64{}
	for _, r := range results {
		edges = append(edges, r.Imports.Edges...)
		for to, n := range r.Imports.ToModules {
			between[[2]string{r.Module.Path, to}] += n
		}
	}
	if len(between) > 0 {
		sec := report.Section{Title: "Imports between modules", Columns: []string{"From module", "To module", "Imports"}}
		keys := make([][2]string, 0, len(between))
		for k := range between {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int {
			if d := between[b] - between[a]; d != 0 {
				return sign(d)
			}
			return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1])
		})
		for _, k := range keys {
			sec.Rows = append(sec.Rows, []string{k[0], k[1], itoa(between[k])})
		}
		out = append(out, sec)
	}
	if len(edges) > 0 {
		slices.SortFunc(edges, func(a, b Edge) int {
			if a.Count != b.Count {
				return sign(b.Count - a.Count)
			}
			return strings.Compare(a.From+"\x00"+a.To, b.From+"\x00"+b.To)
		})
		sec := report.Section{Title: "Import graph", Text: "Edges between the repository's own packages (directories), heaviest first.",
			Columns: []string{"From", "To", "Imports"}}
		for _, e := range edges[:min(len(edges), 100)] {
			sec.Rows = append(sec.Rows, []string{e.From, e.To, itoa(e.Count)})
		}
		out = append(out, sec)
	}
	return out
}

// Warnings lists every module's warnings, prefixed with the module path.
func Warnings(results []*Result) []string {
	var out []string
	for _, r := range results {
		for _, w := range r.Warnings {
			out = append(out, r.Module.Path+": "+w)
		}
	}
	return out
}

// WarningCount counts every warning of the results, listed or not.
func WarningCount(results []*Result) int {
	n := 0
	for _, r := range results {
		n += len(r.Warnings)
		if r.UnlistedWarnings > 0 {
			n += r.UnlistedWarnings - 1 // the "… more not listed" line
		}
	}
	return n
}

// Report is the whole report of a module run.
func Report(title string, results []*Result, now time.Time) *report.Report {
	return &report.Report{
		Title:     title,
		Generated: now.UTC(),
		Summary:   Summary(results),
		Sections:  Sections(results),
		Warnings:  Warnings(results),
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

func sign(d int64) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

func dash(ok bool, s string) string {
	if !ok {
		return "-"
	}
	return s
}

func lineRef(file string, line int) string {
	if line > 0 {
		return file + ":" + strconv.Itoa(line)
	}
	return file
}

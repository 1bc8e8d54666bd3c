package analyzer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
)

// Evidence members every report and the SARIF format understand. An
// analyzer uses them when they apply, and adds any others it needs.
const (
	EvidenceFile   = "file"   // repository-relative slash path
	EvidenceLine   = "line"   // 1-based line
	EvidenceColumn = "column" // 1-based column
	EvidenceCommit = "commit" // full commit hash
	EvidenceRule   = "rule"   // the rule, check or advisory that fired
)

// MaxReportFindings bounds the rows of a report's findings table; the
// summary still counts every finding.
const MaxReportFindings = 500

// Reaching counts the records in open whose severity is sev or above.
func Reaching(open []*audit.Record, sev audit.Severity) int {
	n := 0
	for _, r := range open {
		if r.Severity.Rank() >= sev.Rank() {
			n++
		}
	}
	return n
}

// AllOpen joins the open findings of results.
func AllOpen(results []Result) []*audit.Record {
	var out []*audit.Record
	for _, r := range results {
		out = append(out, r.Open...)
	}
	return out
}

// Location is where a finding record points: its finding's location when
// set, else file:line from its evidence, else its target.
func Location(r *audit.Record) string {
	if len(r.Findings) > 0 && r.Findings[0].Location != "" {
		return r.Findings[0].Location
	}
	file, _ := r.Context[EvidenceFile].(string)
	if file == "" {
		return r.Target
	}
	if line := IntMember(r.Context, EvidenceLine); line > 0 {
		return file + ":" + strconv.Itoa(line)
	}
	return file
}

// IntMember reads a whole number from a record's context, whether it was
// built in this process (int) or read back from a store (float64 or a
// JSON number); 0 when absent.
func IntMember(m map[string]any, key string) int { return int(audit.Int(m, key)) }

// ReportPart is what a run's analyzers add to a report: headline figures,
// a table of the analyzers, a chart and a table of the open findings, the
// analyzers' failures as warnings, and the finding records themselves for
// the machine formats and SARIF.
func ReportPart(results []Result) (summary []report.Item, sections []report.Section, warnings []string, findings []*audit.Record) {
	if len(results) == 0 {
		return nil, nil, nil, nil
	}
	open := AllOpen(results)
	var nNew, nResolved int
	table := report.Section{
		Title:   "Analyzers",
		Text:    "What each analyzer found in this run. New, changed and resolved findings were appended to the trail; open findings are those the trail holds open after the run.",
		Columns: []string{"Analyzer", "Checks done", "Reported", "New", "Changed", "Resolved", "Open", "Duration", "Status"},
	}
	for _, r := range results {
		nNew += r.New
		nResolved += r.Resolved
		status := "ok"
		if r.Err != nil {
			status = "failed: " + r.Err.Error()
			warnings = append(warnings, "analyzer "+r.Analyzer+" failed: "+r.Err.Error())
		}
		checks := strings.Join(r.Done, ", ")
		if checks == "" {
			checks = "none"
		}
		table.Rows = append(table.Rows, []string{r.Analyzer, checks, strconv.Itoa(r.Reported), strconv.Itoa(r.New),
			strconv.Itoa(r.Changed), strconv.Itoa(r.Resolved), strconv.Itoa(len(r.Open)),
			r.Duration.Round(time.Millisecond).String(), status})
	}
	summary = []report.Item{
		{Label: "Open findings", Value: strconv.Itoa(len(open)) + bySeverity(open)},
		{Label: "New findings", Value: strconv.Itoa(nNew)},
		{Label: "Resolved findings", Value: strconv.Itoa(nResolved)},
	}
	sections = append(sections, table)
	sections = append(sections, FindingSections(open)...)
	return summary, sections, warnings, open
}

// FindingSections shows finding records: a chart per severity and a table,
// most severe first (at most MaxReportFindings rows).
func FindingSections(open []*audit.Record) []report.Section {
	if len(open) == 0 {
		return []report.Section{{Title: "Findings", Text: "No open findings."}}
	}
	chart := &report.Chart{Kind: report.ChartBar, Unit: "findings"}
	counts := severityCounts(open)
	for i := len(audit.Severities) - 1; i >= 0; i-- {
		if n := counts[audit.Severities[i]]; n > 0 {
			chart.Labels = append(chart.Labels, string(audit.Severities[i]))
			chart.Values = append(chart.Values, float64(n))
		}
	}
	table := report.Section{
		Title:   "Findings",
		Columns: []string{"Severity", "Analyzer", "Type", "Location", "Description", "Recommendation"},
	}
	for i, r := range open {
		if i == MaxReportFindings {
			table.Text = fmt.Sprintf("The %d most severe of %d open findings; all are in the trail (query --action=<analyzer>_finding).", MaxReportFindings, len(open))
			break
		}
		var f audit.Finding
		if len(r.Findings) > 0 {
			f = r.Findings[0]
		}
		name, _ := r.Context[MemberAnalyzer].(string)
		table.Rows = append(table.Rows, []string{string(r.Severity), name, f.FindingType, Location(r), f.Description, f.Recommendation})
	}
	return []report.Section{{Title: "Open findings per severity", Chart: chart}, table}
}

func severityCounts(recs []*audit.Record) map[audit.Severity]int {
	m := map[audit.Severity]int{}
	for _, r := range recs {
		m[r.Severity]++
	}
	return m
}

// bySeverity is " (2 critical, 1 warning)", or "".
func bySeverity(recs []*audit.Record) string {
	counts := severityCounts(recs)
	var parts []string
	for i := len(audit.Severities) - 1; i >= 0; i-- {
		if n := counts[audit.Severities[i]]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, audit.Severities[i]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// Package tabular holds what the report formats share: the columns a record
// is shown with, number detection for alignment and chart scaling.
package tabular

import (
	"math"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
)

// RecordColumns are the columns human formats show a record with.
var RecordColumns = []string{"sequence", "timestamp", "actor", "action", "target", "target_type", "source", "severity"}

// RecordRow is r as a row of RecordColumns.
func RecordRow(r *audit.Record) []string {
	return []string{
		strconv.FormatUint(r.Sequence, 10),
		r.Timestamp.UTC().Format(time.RFC3339),
		r.Actor, r.Action, r.Target, string(r.TargetType), r.Source, string(r.Severity),
	}
}

// RecordsSection is the records of a report as a section, or false when
// the report holds none.
func RecordsSection(r *report.Report) (report.Section, bool) {
	if len(r.Records) == 0 {
		return report.Section{}, false
	}
	s := report.Section{Title: "Records", Columns: RecordColumns, Rows: make([][]string, len(r.Records))}
	for i, rec := range r.Records {
		s.Rows[i] = RecordRow(rec)
	}
	return s, true
}

// SummarySection is the summary of a report as a two-column section.
func SummarySection(r *report.Report) (report.Section, bool) {
	if len(r.Summary) == 0 {
		return report.Section{}, false
	}
	s := report.Section{Title: "Summary", Columns: []string{"measure", "value"}}
	for _, it := range r.Summary {
		s.Rows = append(s.Rows, []string{it.Label, it.Value})
	}
	return s, true
}

// ChartRows is a chart as rows of label, value (with its unit).
func ChartRows(c *report.Chart) [][]string {
	rows := make([][]string, 0, len(c.Labels))
	for i, l := range c.Labels {
		rows = append(rows, []string{l, FormatValue(ChartValue(c, i), c.Unit)})
	}
	return rows
}

// ChartValue is the i-th value of c, 0 when missing or not finite.
func ChartValue(c *report.Chart, i int) float64 {
	if i >= len(c.Values) {
		return 0
	}
	v := c.Values[i]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// ChartMax is the largest value of c, at least 0.
func ChartMax(c *report.Chart) float64 {
	m := 0.0
	for i := range c.Labels {
		m = max(m, ChartValue(c, i))
	}
	return m
}

// FormatValue prints v with at most two decimals, followed by unit.
func FormatValue(v float64, unit string) string {
	s := strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	if unit != "" {
		if s == "1" || s == "-1" {
			unit = plural.Singular(unit) // "1 file", not "1 files"
		}
		s += " " + unit
	}
	return s
}

// Numeric reports whether every non-empty cell of column col is a number
// (digits with optional sign, separators, fraction or percent sign; "-"
// counts as empty), so that the column can be right-aligned.
func Numeric(rows [][]string, col int) bool {
	seen := false
	for _, row := range rows {
		if c := Cell(row, col); c == "" || c == "-" || c == "—" {
			continue
		}
		if !isNumber(row[col]) {
			return false
		}
		seen = true
	}
	return seen
}

func isNumber(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+"), "%")
	digits := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == ',' || c == '.' || c == '_':
		default:
			return false
		}
	}
	return digits > 0
}

// Cell returns row[i], or "" when the row is short.
func Cell(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

// Width is the number of columns a section's table has: its column count,
// or the longest row when that is longer.
func Width(s report.Section) int {
	n := len(s.Columns)
	for _, r := range s.Rows {
		n = max(n, len(r))
	}
	return n
}

// Package markdown writes a report as GitHub-flavoured Markdown: a heading,
// the summary as a table, one table per section, charts as tables with a
// bar column, records as a table, and warnings as a list.
//
// Every cell is escaped: Markdown punctuation is backslash-escaped (so a
// file name cannot open a link, emphasis, code span or HTML tag), pipes
// cannot split a cell and newlines become <br>.
package markdown

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/internal/tabular"
)

// Formatter writes Markdown.
type Formatter struct{}

// New returns the Markdown formatter.
func New() Formatter { return Formatter{} }

// barWidth is the length of the longest bar of a chart, in characters.
const barWidth = 20

// Format writes r to w.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s\n\n", inline(r.Title))
	if !r.Generated.IsZero() {
		fmt.Fprintf(bw, "Generated %s\n\n", r.Generated.UTC().Format(time.RFC3339))
	}
	if s, ok := tabular.IntegritySection(r); ok {
		section(bw, s)
	}
	if s, ok := tabular.SummarySection(r); ok {
		s.Title = "Summary"
		section(bw, s)
	}
	for _, s := range tabular.Body(r) {
		section(bw, s)
	}
	if s, ok := tabular.RecordsSection(r); ok {
		section(bw, s)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(bw, "## Warnings\n\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(bw, "- %s\n", inline(w))
		}
		fmt.Fprintln(bw)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("markdown report: %w", err)
	}
	return nil
}

func section(w io.Writer, s report.Section) {
	fmt.Fprintf(w, "## %s\n\n", inline(s.Title))
	if s.Text != "" {
		fmt.Fprintf(w, "%s\n\n", inline(s.Text))
	}
	if len(s.Columns) > 0 || len(s.Rows) > 0 {
		table(w, s.Columns, s.Rows)
	}
	if c := s.Chart; c != nil {
		m := tabular.ChartMax(c)
		rows := tabular.ChartRows(c)
		for i := range rows {
			rows[i] = append(rows[i], bar(tabular.ChartValue(c, i), m))
		}
		table(w, []string{"label", "value", ""}, rows)
	}
}

func table(w io.Writer, cols []string, rows [][]string) {
	n := tabular.Width(report.Section{Columns: cols, Rows: rows})
	if n == 0 {
		return
	}
	head := make([]string, n)
	rule := make([]string, n)
	for i := range n {
		head[i] = inline(tabular.Cell(cols, i))
		rule[i] = "---"
		if tabular.Numeric(rows, i) {
			rule[i] = "---:"
		}
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|%s|\n", strings.Join(rule, "|"))
	if len(rows) == 0 {
		fmt.Fprintf(w, "| %s |\n", strings.Join(append([]string{"*(none)*"}, make([]string, n-1)...), " | "))
	}
	cells := make([]string, n)
	for _, row := range rows {
		for i := range n {
			cells[i] = inline(tabular.Cell(row, i))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
}

// bar draws v as a bar of eighth blocks, barWidth long at m.
func bar(v, m float64) string {
	if m <= 0 || v <= 0 {
		return ""
	}
	eighths := int(v/m*barWidth*8 + 0.5)
	return strings.Repeat("█", eighths/8) + []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}[eighths%8]
}

// inline escapes s for use in a table cell or a line of text.
func inline(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, c := range rs {
		switch {
		case c == '\r':
		case c == '\n':
			b.WriteString("<br>")
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\\\x%02x", c)
		case c == '_' && i > 0 && i < len(rs)-1 && isWord(rs[i-1]) && isWord(rs[i+1]):
			// Intraword underscores never emphasise in GFM.
			b.WriteRune(c)
		case strings.ContainsRune("\\`*_[]<>|#!~&", c):
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func isWord(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

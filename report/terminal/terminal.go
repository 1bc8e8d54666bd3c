// Package terminal writes a report for a person at a terminal: headings,
// aligned tables (numbers right-aligned), charts as lines of Unicode bars
// and a list of warnings. With Options.Colour, headings are bold and
// severity names are coloured with ANSI escapes; without it the output is
// plain text, fit for a pipe or a file.
//
// Text from the report is never written raw: control characters (which a
// hostile file name could use to move the cursor or rewrite the screen)
// are shown as Go escapes such as \x1b and \n, and invalid UTF-8 as U+FFFD.
package terminal

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/internal/tabular"
)

// Options configure the terminal formatter.
type Options struct {
	// Colour enables ANSI colour for headings and severities.
	Colour bool
	// Width is the terminal width in columns. When positive, tables wider
	// than it have their widest columns shortened (cut with "…"); zero
	// means no limit.
	Width int
}

// Formatter writes terminal text.
type Formatter struct{ opts Options }

// New returns a terminal formatter.
func New(opts Options) Formatter { return Formatter{opts: opts} }

const (
	indent   = "  "
	gap      = "  "
	barWidth = 40
	minCol   = 8
)

// ANSI escapes.
const (
	reset     = "\x1b[0m"
	bold      = "\x1b[1m"
	titleSGR  = "\x1b[1;4m"
	dim       = "\x1b[2m"
	yellow    = "\x1b[33m"
	red       = "\x1b[31m"
	boldRed   = "\x1b[1;31m"
	cyan      = "\x1b[36m"
	boldWhite = "\x1b[1m"
)

// width measures text as a Western terminal shows it, whatever the locale
// says, so output does not depend on the environment.
var width = &runewidth.Condition{EastAsianWidth: false}

var severityColour = map[audit.Severity]string{
	audit.SeverityDebug:    dim,
	audit.SeverityInfo:     cyan,
	audit.SeverityWarning:  yellow,
	audit.SeverityError:    red,
	audit.SeverityCritical: boldRed,
}

// Format writes r to w.
func (f Formatter) Format(w io.Writer, r *report.Report) error {
	bw := bufio.NewWriter(w)
	p := printer{w: bw, opts: f.opts}
	p.line(p.paint(titleSGR, clean(r.Title)))
	if !r.Generated.IsZero() {
		p.line("Generated " + r.Generated.UTC().Format(time.RFC3339))
	}
	if s, ok := tabular.IntegritySection(r); ok {
		p.heading(s.Title)
		p.table(nil, s.Rows)
	}
	if len(r.Summary) > 0 {
		p.heading("Summary")
		rows := make([][]string, len(r.Summary))
		for i, it := range r.Summary {
			rows[i] = []string{it.Label, it.Value}
		}
		p.table(nil, rows)
	}
	for _, s := range tabular.Body(r) {
		p.section(s)
	}
	if s, ok := tabular.RecordsSection(r); ok {
		p.section(s)
	}
	if len(r.Warnings) > 0 {
		p.heading(fmt.Sprintf("Warnings (%d)", len(r.Warnings)))
		for _, x := range r.Warnings {
			p.line(indent + p.paint(yellow, "!") + " " + clean(x))
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("terminal report: %w", err)
	}
	return nil
}

type printer struct {
	w    *bufio.Writer
	opts Options
}

func (p printer) line(s string) {
	p.w.WriteString(strings.TrimRight(s, " "))
	p.w.WriteByte('\n')
}

func (p printer) paint(sgr, s string) string {
	if !p.opts.Colour || s == "" {
		return s
	}
	return sgr + s + reset
}

func (p printer) heading(s string) {
	p.line("")
	p.line(p.paint(boldWhite, clean(s)))
}

func (p printer) section(s report.Section) {
	p.heading(s.Title)
	if s.Text != "" {
		for _, l := range strings.Split(s.Text, "\n") {
			p.line(indent + clean(l))
		}
	}
	if len(s.Columns) > 0 || len(s.Rows) > 0 {
		if s.Text != "" {
			p.line("")
		}
		if len(s.Rows) == 0 {
			p.line(indent + "(none)")
		} else {
			p.table(s.Columns, s.Rows)
		}
	}
	if s.Chart != nil {
		if s.Text != "" || len(s.Columns) > 0 || len(s.Rows) > 0 {
			p.line("")
		}
		p.chart(s.Chart)
	}
}

// table prints rows aligned under cols (no header line when cols is nil).
func (p printer) table(cols []string, rows [][]string) {
	n := tabular.Width(report.Section{Columns: cols, Rows: rows})
	if n == 0 {
		return
	}
	head := make([]string, n)
	for i := range n {
		head[i] = clean(tabular.Cell(cols, i))
	}
	body := make([][]string, len(rows))
	for r, row := range rows {
		body[r] = make([]string, n)
		for i := range n {
			body[r][i] = clean(tabular.Cell(row, i))
		}
	}
	widths := make([]int, n)
	right := make([]bool, n)
	for i := range n {
		if cols != nil {
			widths[i] = width.StringWidth(head[i])
		}
		for _, row := range body {
			widths[i] = max(widths[i], width.StringWidth(row[i]))
		}
		right[i] = tabular.Numeric(rows, i)
	}
	p.fit(widths)
	if cols != nil {
		p.row(head, widths, right, func(_ string, s string) string { return p.paint(bold, s) })
		rule := make([]string, n)
		for i, w := range widths {
			rule[i] = strings.Repeat("─", w)
		}
		p.row(rule, widths, make([]bool, n), nil)
	}
	for _, row := range body {
		p.row(row, widths, right, p.severity)
	}
}

// fit shortens the widest columns until the table fits opts.Width.
func (p printer) fit(widths []int) {
	if p.opts.Width <= 0 {
		return
	}
	total := func() int {
		t := len(indent) + len(gap)*(len(widths)-1)
		for _, w := range widths {
			t += w
		}
		return t
	}
	for total() > p.opts.Width {
		widest := 0
		for i, w := range widths {
			if w > widths[widest] {
				widest = i
			}
		}
		if widths[widest] <= minCol {
			return
		}
		widths[widest]--
	}
}

func (p printer) row(cells []string, widths []int, right []bool, style func(raw, padded string) string) {
	var b strings.Builder
	b.WriteString(indent)
	for i, c := range cells {
		if i > 0 {
			b.WriteString(gap)
		}
		if width.StringWidth(c) > widths[i] {
			c = width.Truncate(c, widths[i], "…")
		}
		pad := strings.Repeat(" ", widths[i]-width.StringWidth(c))
		styled := c
		if style != nil {
			styled = style(c, c)
		}
		if right[i] {
			b.WriteString(pad + styled)
		} else {
			b.WriteString(styled + pad)
		}
	}
	p.line(b.String())
}

// severity colours a cell that names a severity.
func (p printer) severity(raw, s string) string {
	if c, ok := severityColour[audit.Severity(strings.ToLower(strings.TrimSpace(raw)))]; ok {
		return p.paint(c, s)
	}
	return s
}

func (p printer) chart(c *report.Chart) {
	m := tabular.ChartMax(c)
	labels := make([]string, len(c.Labels))
	lw := 0
	for i, l := range c.Labels {
		labels[i] = clean(l)
		lw = max(lw, width.StringWidth(labels[i]))
	}
	for i, l := range labels {
		v := tabular.ChartValue(c, i)
		b := bar(v, m, barWidth)
		pad := strings.Repeat(" ", lw-width.StringWidth(l))
		bpad := strings.Repeat(" ", barWidth-width.StringWidth(b))
		p.line(indent + l + pad + gap + b + bpad + gap + clean(tabular.FormatValue(v, c.Unit)))
	}
}

// bar draws v as eighth blocks, width long at m.
func bar(v, m float64, width int) string {
	if m <= 0 || v <= 0 {
		return ""
	}
	eighths := int(v/m*float64(width)*8 + 0.5)
	return strings.Repeat("█", eighths/8) + []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}[eighths%8]
}

// clean makes s safe to print: valid UTF-8, control characters escaped.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if isControl(c) {
			q := strconv.QuoteRune(c)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// isControl reports C0 and C1 controls, and the bidirectional formatting
// characters that can make text display differently from what it is.
func isControl(c rune) bool {
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
		c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
}

// Package html writes a report as one self-contained HTML page: styles
// inline, charts as inline SVG, no script, no font or image fetched from
// anywhere (a Content-Security-Policy forbids it), so the file can be
// mailed, archived or opened offline. The page shows the summary as
// figures, a table of contents, each section's table (sticky header,
// numbers right-aligned, severities as coloured badges) and chart, the
// records when the report holds them, and the warnings. It adapts to narrow
// screens and to a dark colour scheme.
//
// All text goes through html/template, so anything a repository puts in a
// report (file names, commit messages) is escaped.
package html

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/internal/tabular"
)

//go:embed report.html.tmpl
var pageText string

var page = template.Must(template.New("report").Parse(pageText))

// Formatter writes HTML.
type Formatter struct{}

// New returns the HTML formatter.
func New() Formatter { return Formatter{} }

// Format writes r to w.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	v := view{Title: clean(r.Title)}
	if s, ok := tabular.IntegritySection(r); ok {
		v.Integrity = &integrityView{Verified: r.Integrity.Verified, Headline: clean(tabular.VerifiedText(r.Integrity)), Section: newSection(-1, s)}
		v.Integrity.Section.ID = "integrity"
	}
	if r.Compliance != nil {
		v.Compliance = newCompliance(r.Compliance)
	}
	for _, it := range r.Summary {
		v.Summary = append(v.Summary, report.Item{Label: clean(it.Label), Value: clean(it.Value)})
	}
	for _, w := range r.Warnings {
		v.Warnings = append(v.Warnings, clean(w))
	}
	if !r.Generated.IsZero() {
		v.Generated = r.Generated.UTC().Format(time.RFC3339)
	}
	for i, s := range r.Sections {
		v.Sections = append(v.Sections, newSection(i, s))
	}
	if s, ok := tabular.RecordsSection(r); ok {
		v.Sections = append(v.Sections, newSection(len(r.Sections), s))
	}
	bw := bufio.NewWriter(w)
	if err := page.Execute(bw, v); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

type view struct {
	Title, Generated string
	Integrity        *integrityView
	Summary          []report.Item
	Compliance       *complianceView
	Sections         []section
	Warnings         []string
}

type integrityView struct {
	Verified bool
	Headline string
	Section  section
}

type section struct {
	ID, Title, Text string
	HasTable        bool
	Columns         []column
	Rows            [][]cell
	Chart           *chart
}

type column struct {
	Name    string
	Numeric bool
}

type cell struct {
	Text     string
	Numeric  bool
	Severity string // a severity name, shown as a badge
}

func newSection(i int, s report.Section) section {
	out := section{ID: "s" + strconv.Itoa(i+1), Title: clean(s.Title), Text: clean(s.Text)}
	if n := tabular.Width(s); n > 0 {
		out.HasTable = true
		out.Columns = make([]column, n)
		for c := range n {
			out.Columns[c] = column{Name: clean(tabular.Cell(s.Columns, c)), Numeric: tabular.Numeric(s.Rows, c)}
		}
		out.Rows = make([][]cell, len(s.Rows))
		for r, row := range s.Rows {
			out.Rows[r] = make([]cell, n)
			for c := range n {
				t := clean(tabular.Cell(row, c))
				x := cell{Text: t, Numeric: out.Columns[c].Numeric}
				if sev := audit.Severity(strings.ToLower(strings.TrimSpace(t))); sev.Valid() {
					x.Severity = string(sev)
				}
				out.Rows[r][c] = x
			}
		}
	}
	if s.Chart != nil && len(s.Chart.Labels) > 0 {
		out.Chart = newChart(s.Chart)
	}
	return out
}

// chart is a chart laid out in SVG user units.
type chart struct {
	Line          bool
	Width, Height int
	Label         string // accessible description
	Bars          []bar
	// line charts
	Points   string
	Dots     []dot
	Ticks    []tick
	Axis     axis
	MaxLabel string
}

type bar struct {
	Label, Short, Value string
	Y, W, TextY, LabelX int
	ValueX              int
}

type dot struct {
	X, Y         int
	Label, Value string
}

type tick struct {
	X, Y  int
	Label string
}

type axis struct{ X0, X1, Y0, Y1 int }

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartWidth = 720
	barRow     = 26
	barHeight  = 18
	labelWidth = 180
	valueRoom  = 110
	lineHeight = 240
	linePad    = 40
	maxTicks   = 12
)

func newChart(c *report.Chart) *chart {
	c = &report.Chart{Kind: c.Kind, Labels: slices.Clone(c.Labels), Values: c.Values, Unit: clean(c.Unit)}
	for i, l := range c.Labels {
		c.Labels[i] = clean(l)
	}
	m := tabular.ChartMax(c)
	if c.Kind == report.ChartLine {
		return lineChart(c, m)
	}
	out := &chart{Width: chartWidth, Height: len(c.Labels)*barRow + 8, Label: "bar chart"}
	span := chartWidth - labelWidth - valueRoom
	for i, l := range c.Labels {
		v := tabular.ChartValue(c, i)
		w := 0
		if m > 0 && v > 0 {
			w = max(1, int(v/m*float64(span)+0.5))
		}
		y := 4 + i*barRow
		out.Bars = append(out.Bars, bar{
			Label: l, Short: shorten(l, 24), Value: tabular.FormatValue(v, c.Unit),
			Y: y, W: w, TextY: y + barHeight - 5, LabelX: labelWidth - 8, ValueX: labelWidth + w + 6,
		})
	}
	return out
}

func lineChart(c *report.Chart, m float64) *chart {
	out := &chart{Line: true, Width: chartWidth, Height: lineHeight, Label: "line chart"}
	x0, x1 := linePad+20, chartWidth-linePad
	y0, y1 := lineHeight-linePad, 16
	out.Axis = axis{X0: x0, X1: x1, Y0: y0, Y1: y1}
	out.MaxLabel = tabular.FormatValue(m, c.Unit)
	n := len(c.Labels)
	step := max(1, (n+maxTicks-1)/maxTicks)
	var pts []string
	for i, l := range c.Labels {
		x := x0
		if n > 1 {
			x = x0 + i*(x1-x0)/(n-1)
		}
		y := y0
		if v := tabular.ChartValue(c, i); m > 0 && v > 0 {
			y = y0 - int(v/m*float64(y0-y1)+0.5)
		}
		pts = append(pts, strconv.Itoa(x)+","+strconv.Itoa(y))
		out.Dots = append(out.Dots, dot{X: x, Y: y, Label: l, Value: tabular.FormatValue(tabular.ChartValue(c, i), c.Unit)})
		if i%step == 0 {
			out.Ticks = append(out.Ticks, tick{X: x, Y: lineHeight - 14, Label: l})
		}
	}
	out.Points = strings.Join(pts, " ")
	return out
}

// clean makes s valid in an HTML document: invalid UTF-8 becomes U+FFFD
// and control characters other than tab and newline are shown as their
// Unicode control pictures (ESC as ␛), which html/template then escapes
// like any other text.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(c rune) rune {
		switch {
		case c == '\t' || c == '\n':
			return c
		case c < 0x20:
			return 0x2400 + c
		case c == 0x7f:
			return 0x2421
		case c >= 0x80 && c < 0xa0:
			return 0xFFFD
		}
		return c
	}, s)
}

// shorten cuts s to n runes, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Package report is the document model every report format renders: a
// title, a summary of key figures, titled sections holding a table or a
// chart, and optionally the records themselves. Commands build a Report
// from what they collected; a Formatter (one package per format under
// report/) writes it.
package report

import (
	"io"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Report is one document.
type Report struct {
	Title     string    `json:"title"`
	Generated time.Time `json:"generated"`
	// Summary holds the headline figures, in order.
	Summary []Item `json:"summary,omitempty"`
	// Sections hold the details, in order.
	Sections []Section `json:"sections,omitempty"`
	// Records are the records the report is about, when the reader needs
	// them (machine formats); human formats may leave them out.
	Records []*audit.Record `json:"records,omitempty"`
	// Findings are the finding records (see package analyzer) the report
	// is about, most severe first: machine formats carry them and the
	// SARIF format is made of them; human formats show them through
	// sections.
	Findings []*audit.Record `json:"findings,omitempty"`
	// Warnings are problems met while collecting that did not stop it.
	Warnings []string `json:"warnings,omitempty"`
}

// Item is one labelled figure.
type Item struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Section is a titled table, a chart, or both.
type Section struct {
	Title   string     `json:"title"`
	Text    string     `json:"text,omitempty"`
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	Chart   *Chart     `json:"chart,omitempty"`
}

// ChartKind names how a chart is drawn.
type ChartKind string

// Chart kinds.
const (
	ChartBar  ChartKind = "bar"
	ChartLine ChartKind = "line"
)

// Chart is a series of labelled values.
type Chart struct {
	Kind   ChartKind `json:"kind"`
	Labels []string  `json:"labels"`
	Values []float64 `json:"values"`
	Unit   string    `json:"unit,omitempty"`
}

// Formatter writes a report in one format.
type Formatter interface {
	Format(w io.Writer, r *Report) error
}

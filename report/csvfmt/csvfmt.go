// Package csvfmt writes a report as CSV (RFC 4180, CRLF-free: lines end in
// "\n").
//
// What is written depends on the report:
//
//   - A report that holds records (a query, an export) is written as one
//     rectangular table, one row per record, with the columns of Columns:
//     ready for a spreadsheet or another program.
//   - Otherwise the report's tables are written one after another. Each
//     table starts with a header row whose first cell is "section",
//     followed by the section's own column names; every data row starts
//     with the section's title. The summary is the first table (section
//     "Summary", columns measure and value) and a chart is a table of
//     label and value. Tables are separated by an empty line, so readers
//     must accept a varying number of fields (encoding/csv:
//     FieldsPerRecord = -1); filtering on the first column yields one
//     section.
//
// Cells that a spreadsheet would run as a formula (starting with =, +, -,
// @, tab or carriage return, and not a plain number) are prefixed with a
// single quote, the usual defence against CSV injection.
package csvfmt

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/internal/tabular"
)

// Columns are the columns of a record row.
var Columns = []string{
	"record_id", "sequence", "timestamp", "actor", "action", "target", "target_type",
	"source", "reason", "severity", "classification", "status", "context", "metadata",
	"findings", "violations", "previous_hash", "record_hash",
}

// Formatter writes CSV.
type Formatter struct{}

// New returns the CSV formatter.
func New() Formatter { return Formatter{} }

// Format writes r to w.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	cw := csv.NewWriter(w)
	var err error
	if len(r.Records) > 0 {
		err = records(cw, r.Records)
	} else {
		err = sections(cw, w, r)
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil {
		return fmt.Errorf("csv report: %w", err)
	}
	return nil
}

func records(cw *csv.Writer, recs []*audit.Record) error {
	if err := cw.Write(Columns); err != nil {
		return err
	}
	for _, r := range recs {
		ctx, err := compact(r.Context)
		if err != nil {
			return fmt.Errorf("record %s: context: %w", r.RecordID, err)
		}
		meta, err := compact(r.Metadata)
		if err != nil {
			return fmt.Errorf("record %s: metadata: %w", r.RecordID, err)
		}
		fs, err := compact(r.Findings)
		if err != nil {
			return fmt.Errorf("record %s: findings: %w", r.RecordID, err)
		}
		vs, err := compact(r.Violations)
		if err != nil {
			return fmt.Errorf("record %s: violations: %w", r.RecordID, err)
		}
		row := []string{
			r.RecordID, strconv.FormatUint(r.Sequence, 10), audit.FormatTime(r.Timestamp),
			r.Actor, r.Action, r.Target, string(r.TargetType), r.Source, r.Reason,
			string(r.Severity), r.Classification, string(r.Status), ctx, meta, fs, vs,
			r.PreviousHash, r.RecordHash,
		}
		if err := cw.Write(safe(row)); err != nil {
			return err
		}
	}
	return nil
}

func sections(cw *csv.Writer, w io.Writer, r *report.Report) error {
	var all []report.Section
	if s, ok := tabular.SummarySection(r); ok {
		all = append(all, s)
	}
	for _, s := range r.Sections {
		if len(s.Columns) > 0 || len(s.Rows) > 0 {
			all = append(all, report.Section{Title: s.Title, Columns: s.Columns, Rows: s.Rows})
		}
		if s.Chart != nil {
			all = append(all, report.Section{Title: s.Title, Columns: []string{"label", "value"}, Rows: tabular.ChartRows(s.Chart)})
		}
	}
	if len(r.Warnings) > 0 {
		ws := report.Section{Title: "Warnings", Columns: []string{"warning"}}
		for _, x := range r.Warnings {
			ws.Rows = append(ws.Rows, []string{x})
		}
		all = append(all, ws)
	}
	for i, s := range all {
		if i > 0 {
			cw.Flush()
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		n := tabular.Width(s)
		head := []string{"section"}
		for c := range n {
			head = append(head, tabular.Cell(s.Columns, c))
		}
		if err := cw.Write(safe(head)); err != nil {
			return err
		}
		for _, row := range s.Rows {
			out := []string{s.Title}
			for c := range n {
				out = append(out, tabular.Cell(row, c))
			}
			if err := cw.Write(safe(out)); err != nil {
				return err
			}
		}
	}
	return nil
}

func compact(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// safe neutralises cells a spreadsheet would evaluate.
func safe(row []string) []string {
	for i, c := range row {
		if len(c) < 2 && c != "=" && c != "@" {
			continue
		}
		switch c[0] {
		case '=', '+', '-', '@', '\t', '\r':
			if _, err := strconv.ParseFloat(c, 64); err != nil {
				row[i] = "'" + c
			}
		}
	}
	return row
}

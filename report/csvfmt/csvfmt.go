// Package csvfmt writes a report as CSV (RFC 4180, CRLF-free: lines end in
// "\n"), one rectangular table per file, ready for a spreadsheet or
// another program.
//
// Format writes one table: the report's records when it holds any (a
// query, an export), one row per record with the columns of Columns;
// otherwise its summary (measure, value). FormatFiles, used when the
// report goes to a file, writes that table to the file and every other
// table of the report to a file of its own beside it, named after the
// table: the integrity facts, each section's table, each chart (label,
// value), the compliance assessment's tables, the warnings.
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

// Format writes the report's main table to w: its records, or else its
// summary.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	cw := csv.NewWriter(w)
	var err error
	if len(r.Records) > 0 {
		err = records(cw, r.Records)
	} else {
		s, _ := tabular.SummarySection(r)
		if len(s.Columns) == 0 {
			s.Columns = []string{"measure", "value"}
		}
		err = table(cw, s)
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

// Table is one of the extra tables FormatFiles writes: Name is what its
// file is called after (lower case, words joined by '-').
type Table struct {
	Name    string
	Section report.Section
}

// Tables are the report's tables other than the main one, in order.
func Tables(r *report.Report) []Table {
	var all []report.Section
	if s, ok := tabular.IntegritySection(r); ok {
		all = append(all, s)
	}
	if len(r.Records) > 0 {
		if s, ok := tabular.SummarySection(r); ok {
			all = append(all, s)
		}
	}
	for _, s := range tabular.Body(r) {
		if len(s.Columns) > 0 || len(s.Rows) > 0 {
			all = append(all, report.Section{Title: s.Title, Columns: s.Columns, Rows: s.Rows})
		}
		if s.Chart != nil {
			t := s.Title
			if len(s.Columns) > 0 {
				t += " chart"
			}
			all = append(all, report.Section{Title: t, Columns: []string{"label", "value"}, Rows: tabular.ChartRows(s.Chart)})
		}
	}
	if len(r.Warnings) > 0 {
		ws := report.Section{Title: "Warnings", Columns: []string{"warning"}}
		for _, x := range r.Warnings {
			ws.Rows = append(ws.Rows, []string{x})
		}
		all = append(all, ws)
	}
	var out []Table
	seen := map[string]int{}
	for _, s := range all {
		name := slug(s.Title)
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		out = append(out, Table{Name: name, Section: s})
	}
	return out
}

// FormatFiles writes the main table to main and each other table (see
// Tables) to the writer create returns for its name.
func (f Formatter) FormatFiles(main io.Writer, r *report.Report, create func(name string) (io.Writer, error)) error {
	if err := f.Format(main, r); err != nil {
		return err
	}
	for _, t := range Tables(r) {
		w, err := create(t.Name)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		if err := table(cw, t.Section); err != nil {
			return fmt.Errorf("csv report: %s: %w", t.Name, err)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("csv report: %s: %w", t.Name, err)
		}
	}
	return nil
}

// slug names a table for a file name: lower-case letters and digits,
// other runs of characters as one '-'.
func slug(title string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(title) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "table"
	}
	return b.String()[:min(b.Len(), 60)]
}

// table writes one section's table: a header row and its rows, all of the
// same width.
func table(cw *csv.Writer, s report.Section) error {
	n := tabular.Width(s)
	head := make([]string, n)
	for c := range n {
		head[c] = tabular.Cell(s.Columns, c)
	}
	if err := cw.Write(safe(head)); err != nil {
		return err
	}
	for _, row := range s.Rows {
		out := make([]string, n)
		for c := range n {
			out[c] = tabular.Cell(row, c)
		}
		if err := cw.Write(safe(out)); err != nil {
			return err
		}
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

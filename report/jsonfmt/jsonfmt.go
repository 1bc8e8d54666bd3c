// Package jsonfmt writes a report as indented JSON: the report model's own
// field names, members in a fixed order (maps sorted by key), records in
// their canonical field set, HTML characters left unescaped, values typed
// (numbers as numbers, times as RFC 3339; see report.Typed). The output is
// stable: the same report always gives the same bytes, and it validates
// against Schema (report.schema.json).
package jsonfmt

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ami-orchestrator/ami-audit/report"
)

// Schema is the JSON Schema (draft 2020-12) of what Format writes,
// published as report/jsonfmt/report.schema.json.
//
//go:embed report.schema.json
var Schema []byte

// Formatter writes JSON.
type Formatter struct{}

// New returns the JSON formatter.
func New() Formatter { return Formatter{} }

// Format writes r to w as one JSON object followed by a newline.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}

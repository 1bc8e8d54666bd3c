// Package jsonfmt writes a report as indented JSON: the report model's own
// field names, members in a fixed order (maps sorted by key), records in
// their canonical field set, HTML characters left unescaped. The output is
// stable: the same report always gives the same bytes.
package jsonfmt

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/ami-orchestrator/ami-audit/report"
)

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

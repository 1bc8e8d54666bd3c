// Package yamlfmt writes a report as YAML with the same field names and
// order as the JSON format (the report is encoded to JSON first and that
// document is re-emitted as block-style YAML), so both formats describe
// the same tree.
package yamlfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"

	"github.com/ami-orchestrator/ami-audit/report"
)

// Formatter writes YAML.
type Formatter struct{}

// New returns the YAML formatter.
func New() Formatter { return Formatter{} }

// Format writes r to w as one YAML document.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("yaml report: %w", err)
	}
	// JSON is YAML: decoding it keeps member order and scalar types.
	var doc yaml.Node
	if err := yaml.Unmarshal(buf.Bytes(), &doc); err != nil {
		return fmt.Errorf("yaml report: %w", err)
	}
	plain(&doc)
	ye := yaml.NewEncoder(w)
	ye.SetIndent(2)
	if err := ye.Encode(&doc); err != nil {
		return fmt.Errorf("yaml report: %w", err)
	}
	return ye.Close()
}

// plain drops the flow and quoting styles the JSON syntax left on every
// node; the encoder quotes whatever still needs it.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

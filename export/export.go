// Package export writes records as JSON lines, a JSON array, YAML or CSV,
// streaming: a million records are written without being held in memory.
//
// The JSON forms write each record in its canonical export form
// (audit.Record.AppendJSON), so that an exported trail can be re-verified
// by any RFC 8785 implementation: drop record_hash, signatures and status
// from each object, canonicalize, hash.
package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/disclose"
)

// Formats lists the format names New accepts.
var Formats = []string{"jsonl", "json", "yaml", "csv"}

// Writer writes a stream of records. Close finishes the document and
// flushes; it does not close the underlying io.Writer.
type Writer interface {
	Write(r *audit.Record) error
	Close() error
}

// New returns a Writer for the named format.
func New(w io.Writer, format string) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch strings.ToLower(format) {
	case "jsonl", "ndjson":
		return &jsonl{w: bw}, nil
	case "json":
		return &jsonArray{w: bw}, nil
	case "yaml", "yml":
		return &yamlw{w: bw}, nil
	case "csv":
		return &csvw{bw: bw, w: csv.NewWriter(bw)}, nil
	}
	return nil, fmt.Errorf("unknown export format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// Valid reports whether New accepts format.
func Valid(format string) bool {
	f := strings.ToLower(format)
	return slices.Contains(Formats, f) || f == "ndjson" || f == "yml"
}

type jsonl struct {
	w   *bufio.Writer
	buf []byte
}

func (j *jsonl) Write(r *audit.Record) error {
	var err error
	if j.buf, err = r.AppendJSON(j.buf[:0]); err != nil {
		return fmt.Errorf("record %d: %w", r.Sequence, err)
	}
	j.buf = append(j.buf, '\n')
	_, err = j.w.Write(j.buf)
	return err
}

func (j *jsonl) Close() error { return j.w.Flush() }

type jsonArray struct {
	w   *bufio.Writer
	buf []byte
	n   int
}

func (j *jsonArray) Write(r *audit.Record) error {
	sep := ",\n"
	if j.n == 0 {
		sep = "[\n"
	}
	j.n++
	var err error
	if j.buf, err = r.AppendJSON(append(j.buf[:0], sep...)); err != nil {
		return fmt.Errorf("record %d: %w", r.Sequence, err)
	}
	_, err = j.w.Write(j.buf)
	return err
}

func (j *jsonArray) Close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	if _, err := j.w.WriteString(end); err != nil {
		return err
	}
	return j.w.Flush()
}

// yamlw writes a YAML sequence of records, one item at a time.
type yamlw struct {
	w *bufio.Writer
	n int
}

func (y *yamlw) Write(r *audit.Record) error {
	b, err := r.AppendJSON(nil)
	if err != nil {
		return fmt.Errorf("record %d: %w", r.Sequence, err)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	out, err := yaml.Marshal([]any{jsonNumbers(m)})
	if err != nil {
		return err
	}
	y.n++
	_, err = y.w.Write(out)
	return err
}

// jsonNumbers turns json.Number into int64 or float64, which YAML writes
// as plain numbers.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func (y *yamlw) Close() error {
	if y.n == 0 {
		if _, err := y.w.WriteString("[]\n"); err != nil {
			return err
		}
	}
	return y.w.Flush()
}

// CSVHeader is the column list of the CSV export. Structured fields are
// JSON text in their cell.
var CSVHeader = []string{"sequence", "record_id", "timestamp", "actor", "action", "target", "target_type",
	"source", "severity", "classification", "status", "reason", "previous_hash", "record_hash", "nonce",
	"context", "metadata", "findings", "violations", "signatures"}

type csvw struct {
	bw     *bufio.Writer
	w      *csv.Writer
	header bool
}

func (c *csvw) Write(r *audit.Record) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	sigs := r.Signatures
	if sigs == nil {
		sigs = []audit.Signature{}
	}
	if r.Pruned != nil {
		// What remains of a pruned record: no time, no fields.
		return c.w.Write([]string{strconv.FormatUint(r.Sequence, 10), r.RecordID, "", "", "pruned: policy " + r.Pruned.Policy, "",
			"", "", "", "", string(r.Status), "", "", r.RecordHash, "", "{}", "{}", "[]", "[]", js(sigs)})
	}
	// Committed values show as disclosed, or masked with their
	// commitment.
	ctx, meta := disclose.Fields(r)
	return c.w.Write([]string{
		strconv.FormatUint(r.Sequence, 10), r.RecordID, audit.FormatTime(r.Timestamp), r.Actor, r.Action, r.Target,
		string(r.TargetType), r.Source, string(r.Severity), r.Classification, string(r.Status), r.Reason,
		r.PreviousHash, r.RecordHash, strconv.FormatUint(r.Nonce, 10),
		js(ctx), js(meta), js(r.Findings), js(r.Violations), js(sigs),
	})
}

func (c *csvw) Close() error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.bw.Flush()
}

// Package jsonl reads records given as JSON lines, one object per line: the
// way scripts and programs in other languages add records to the trail
// ("some-tool --jsonl | ami-audit record --from -").
//
// Each object has the record's JSON fields (SPEC §3). Fields the caller may
// leave out are filled in (record_id, timestamp, severity, classification,
// status); record_hash, previous_hash, sequence, nonce and signatures are
// assigned by the trail and refused. Unknown fields are refused, so a typo
// does not silently drop data. Blank lines are skipped.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
)

// MaxLine is the longest line accepted.
const MaxLine = 16 << 20

// LineError names the line of the input that is wrong, and why.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// input is what a line may hold: a record without the fields the trail
// assigns. Pointers tell "absent" from "zero".
type input struct {
	RecordID       string            `json:"record_id"`
	Timestamp      *json.RawMessage  `json:"timestamp"`
	Actor          string            `json:"actor"`
	Action         string            `json:"action"`
	Target         string            `json:"target"`
	TargetType     string            `json:"target_type"`
	Source         string            `json:"source"`
	Reason         string            `json:"reason"`
	Context        map[string]any    `json:"context"`
	Metadata       map[string]any    `json:"metadata"`
	Findings       []audit.Finding   `json:"findings"`
	Violations     []audit.Violation `json:"violations"`
	Severity       string            `json:"severity"`
	Classification string            `json:"classification"`
	Status         string            `json:"status"`

	RecordHash   *json.RawMessage `json:"record_hash"`
	PreviousHash *json.RawMessage `json:"previous_hash"`
	Sequence     *json.RawMessage `json:"sequence"`
	Nonce        *json.RawMessage `json:"nonce"`
	Signatures   *json.RawMessage `json:"signatures"`
}

// Read yields one validated record per non-blank line of r, with
// defaultSource as the source of records that name none. It stops at the
// first error, which is a *LineError.
func Read(r io.Reader, defaultSource string) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		for line := 1; ; line++ {
			b, err := readLine(br)
			if err == io.EOF && len(b) == 0 {
				return
			}
			if err != nil && err != io.EOF {
				yield(nil, &LineError{Line: line, Err: err})
				return
			}
			if len(bytes.TrimSpace(b)) == 0 {
				if err == io.EOF {
					return
				}
				continue
			}
			rec, perr := Parse(b, defaultSource)
			if perr != nil {
				yield(nil, &LineError{Line: line, Err: perr})
				return
			}
			if !yield(rec, nil) {
				return
			}
			if err == io.EOF {
				return
			}
		}
	}
}

var errLong = fmt.Errorf("longer than %d MiB", MaxLine>>20)

// readLine returns the next line without its end, refusing one over MaxLine
// (the rest of it is consumed so the error names the right line).
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			return nil, errLong
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimRight(buf, "\r\n")
		return buf, err
	}
}

// Parse reads one record object.
func Parse(b []byte, defaultSource string) (*audit.Record, error) {
	// What encoding/json lets through and RFC 8785 forbids: duplicate
	// member names (the last would silently win), lone surrogates and
	// invalid UTF-8 (silently replaced), absurd nesting.
	if _, err := canonical.Decode(b); err != nil {
		switch {
		case errors.Is(err, canonical.ErrDuplicate), errors.Is(err, canonical.ErrSurrogate),
			errors.Is(err, canonical.ErrInvalidUTF8), errors.Is(err, canonical.ErrDepth):
			return nil, err
		}
	}
	var in input
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, describeJSONError(err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	for _, f := range []struct {
		name string
		v    *json.RawMessage
	}{{"record_hash", in.RecordHash}, {"previous_hash", in.PreviousHash}, {"sequence", in.Sequence}, {"nonce", in.Nonce}} {
		if f.v != nil {
			return nil, &audit.FieldError{Field: f.name, Msg: "is assigned by the trail; leave it out"}
		}
	}
	if in.Signatures != nil {
		return nil, &audit.FieldError{Field: "signatures", Msg: "records are signed after they are appended (ami-audit sign); leave it out"}
	}
	rec := &audit.Record{
		RecordID: in.RecordID, Actor: in.Actor, Action: in.Action, Target: in.Target,
		TargetType: audit.TargetType(in.TargetType), Source: in.Source, Reason: in.Reason,
		Context: in.Context, Metadata: in.Metadata, Findings: in.Findings, Violations: in.Violations,
		Classification: in.Classification, Status: audit.Status(in.Status),
	}
	if rec.Source == "" {
		rec.Source = defaultSource
	}
	if in.Severity != "" {
		sev, err := audit.ParseSeverity(in.Severity)
		if err != nil {
			return nil, &audit.FieldError{Field: "severity", Msg: err.Error()}
		}
		rec.Severity = sev
	}
	if in.Timestamp != nil {
		if err := json.Unmarshal(*in.Timestamp, &rec.Timestamp); err != nil {
			return nil, &audit.FieldError{Field: "timestamp", Msg: "want an RFC 3339 time such as 2025-11-01T09:24:02Z"}
		}
	}
	for i, f := range rec.Findings {
		if f.Severity != "" {
			sev, err := audit.ParseSeverity(string(f.Severity))
			if err != nil {
				return nil, &audit.FieldError{Field: fmt.Sprintf("findings[%d].severity", i), Msg: err.Error()}
			}
			rec.Findings[i].Severity = sev
		}
	}
	for i, v := range rec.Violations {
		if v.Severity != "" {
			sev, err := audit.ParseSeverity(string(v.Severity))
			if err != nil {
				return nil, &audit.FieldError{Field: fmt.Sprintf("violations[%d].severity", i), Msg: err.Error()}
			}
			rec.Violations[i].Severity = sev
		}
	}
	rec.Normalize()
	if err := rec.Validate(); err != nil {
		var fe *audit.FieldError
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, err
	}
	return rec, nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return &audit.FieldError{Field: te.Field, Msg: fmt.Sprintf("want a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)}
	case errors.As(err, &se):
		return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &audit.FieldError{Field: name, Msg: "unknown field (see the record fields in 'ami-audit record --help')"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("incomplete JSON object")
	}
	return err
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return "number"
}

// Package jsonl reads records given as JSON lines, one object per line: the
// way scripts and programs in other languages add records to the trail
// ("some-tool --jsonl | ami-audit record --from -").
//
// Each object has the record's JSON fields (SPEC §3). Fields the caller may
// leave out are filled in (record_id, timestamp, severity, classification,
// status); record_hash, previous_hash, sequence, nonce and signatures are
// assigned by the trail and refused. Field names are exact: another
// spelling of a field's name ("Actor", "ſource") is refused rather than
// taken for the field, and so is an unknown field, so that a typo neither
// drops data nor overrides a field. Blank lines are skipped.
package jsonl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"

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

// assigned are the members the trail assigns, refused in input.
var assigned = []string{"previous_hash", "record_hash", "sequence", "nonce"}

// Parse reads one record object, in one strict pass (audit.SetFields):
// member names match exactly, and another spelling of a field's name
// ("Actor", "ACTION", "ſource") is an error naming it, as is an unknown
// member; so are the duplicate names, invalid UTF-8, lone surrogates and
// deep nesting RFC 8785 forbids. The error is an *audit.FieldError when
// it is about one member.
func Parse(b []byte, defaultSource string) (*audit.Record, error) {
	v, err := canonical.Decode(b)
	if err != nil {
		return nil, describeJSONError(err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want a JSON object with the record's fields on each line")
	}
	for _, name := range assigned {
		if _, ok := obj[name]; ok {
			return nil, &audit.FieldError{Field: name, Msg: "is assigned by the trail; leave it out"}
		}
	}
	for _, name := range []string{"canonical_version", "commitments", "disclosures", "pruned"} {
		if _, ok := obj[name]; ok {
			return nil, &audit.FieldError{Field: name, Msg: "is assigned by the trail (it commits the context and metadata values of records whose classification calls for it); leave it out"}
		}
	}
	if _, ok := obj["signatures"]; ok {
		return nil, &audit.FieldError{Field: "signatures", Msg: "records are signed after they are appended (ami-audit sign); leave it out"}
	}
	rec := &audit.Record{}
	if err := rec.SetFields(obj); err != nil {
		var fe *audit.FieldError
		if errors.As(err, &fe) && errors.Is(err, audit.ErrUnknownField) {
			fe.Msg += " (see the record fields in 'ami-audit record --help')"
		}
		return nil, err
	}
	if rec.Source == "" {
		rec.Source = defaultSource
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

// describeJSONError says what is wrong with a line that is not JSON.
func describeJSONError(err error) error {
	var se *canonical.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("incomplete JSON object")
	case errors.Is(err, canonical.ErrTrailing):
		return errors.New("more than one JSON value on the line")
	}
	return err
}

package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ami-orchestrator/ami-audit/canonical"
)

// Reading records from JSON is strict, because whatever enters the trail
// stays there: member names match exactly (encoding/json would also take
// "Actor", "ACTION" or "ſource" for "source", and let the last spelling
// win), a member that is not a record field is refused, and so are the
// duplicate names, invalid UTF-8 and lone surrogates RFC 8785 forbids.

// Errors wrapped by the *FieldError of a member that is not a field.
var (
	// ErrFieldSpelling: the name is another spelling (letter case, or a
	// Unicode case folding such as "ſ" for "s") of a field's name.
	ErrFieldSpelling = errors.New("field names are exact")
	// ErrUnknownField: the name is no field of a record.
	ErrUnknownField = errors.New("unknown field")
)

// UnmarshalJSON reads a record in its JSON form, as exported or stored,
// strictly (see SetFields): a member with another spelling of a field's
// name, or an unknown member, is an error naming it. Severity may be given
// in any letter case ("ERROR") or as a synonym ParseSeverity knows;
// timestamps are RFC 3339 with any precision.
func (r *Record) UnmarshalJSON(b []byte) error {
	v, err := canonical.Decode(b)
	if err != nil {
		return err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("a record is a JSON object, not %s", kindOf(v))
	}
	var rec Record
	if err := rec.SetFields(obj); err != nil {
		return err
	}
	*r = rec
	return nil
}

// recordFields are the JSON member names of a record.
var recordFields = []string{
	"action", "actor", "canonical_version", "classification", "commitments", "context", "disclosures", "findings",
	"metadata", "nonce", "previous_hash", "pruned", "reason", "record_hash", "record_id", "sequence", "severity",
	"signatures", "source", "status", "target", "target_type", "timestamp", "violations",
}

var (
	findingFields   = []string{"description", "finding_id", "finding_type", "location", "metadata", "recommendation", "severity"}
	violationFields = []string{"column_number", "file_path", "line_number", "message", "rule", "severity", "violation_id"}
	signatureFields = []string{"algorithm", "signature", "signer", "timestamp"}
)

// IsRecordField reports whether name is exactly the JSON name of a field
// of Record.
func IsRecordField(name string) bool {
	for _, f := range recordFields {
		if f == name {
			return true
		}
	}
	return false
}

// SetFields sets the fields of r named by the members of obj, a JSON
// object as canonical.Decode returns it (numbers as json.Number). Names
// match exactly; a null member is the same as an absent one. The error is
// a *FieldError naming the member (findings[2].severity for a nested
// one); it wraps ErrFieldSpelling for another spelling of a field's name
// and ErrUnknownField for any other name. A timestamp given as the zero
// time (0001-01-01T00:00:00Z) is refused rather than taken as absent.
func (r *Record) SetFields(obj map[string]any) error {
	d := fieldDecoder{}
	version := ""
	d.members("", obj, recordFields, func(name, _ string, v any) {
		switch name {
		case "canonical_version":
			version = strconv.FormatUint(d.uint(name, v), 10)
		case "commitments":
			r.Commitments = d.commitments(name, v)
		case "disclosures":
			r.Disclosures = d.disclosures(name, v)
		case "pruned":
			r.Pruned = d.pruning(name, v)
		case "action":
			r.Action = d.str(name, v)
		case "actor":
			r.Actor = d.str(name, v)
		case "classification":
			r.Classification = d.str(name, v)
		case "context":
			r.Context = d.object(name, v)
		case "findings":
			for i, e := range d.array(name, v) {
				r.Findings = append(r.Findings, d.finding(fmt.Sprintf("findings[%d]", i), e))
			}
		case "metadata":
			r.Metadata = d.object(name, v)
		case "nonce":
			r.Nonce = d.uint(name, v)
		case "previous_hash":
			r.PreviousHash = d.str(name, v)
		case "reason":
			r.Reason = d.str(name, v)
		case "record_hash":
			r.RecordHash = d.str(name, v)
		case "record_id":
			r.RecordID = d.str(name, v)
		case "sequence":
			r.Sequence = d.uint(name, v)
		case "severity":
			r.Severity = d.severity(name, v)
		case "signatures":
			for i, e := range d.array(name, v) {
				r.Signatures = append(r.Signatures, d.signature(fmt.Sprintf("signatures[%d]", i), e))
			}
		case "source":
			r.Source = d.str(name, v)
		case "status":
			r.Status = Status(d.str(name, v))
		case "target":
			r.Target = d.str(name, v)
		case "target_type":
			r.TargetType = TargetType(d.str(name, v))
		case "timestamp":
			r.Timestamp = d.time(name, v)
		case "violations":
			for i, e := range d.array(name, v) {
				r.Violations = append(r.Violations, d.violation(fmt.Sprintf("violations[%d]", i), e))
			}
		}
	})
	if d.err == nil {
		d.err = r.checkVersion(version)
	}
	return d.err
}

// checkNames refuses a member of obj whose name is not exactly one of
// fields: another spelling of one of them, or an unknown name.
func checkNames(obj map[string]any, fields []string, prefix string) error {
	bad, found := "", false
	for name := range obj {
		if !contains(fields, name) && (!found || name < bad) {
			bad, found = name, true // the first in order: the same error every time
		}
	}
	if name := bad; found {
		path := prefix + name
		for _, f := range fields {
			if strings.EqualFold(name, f) {
				return &FieldError{Field: path, Msg: fmt.Sprintf("%v: did you mean %q?", ErrFieldSpelling, prefix+f), Err: ErrFieldSpelling}
			}
		}
		msg := ErrUnknownField.Error()
		if f := lookalike(name, fields); f != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", prefix+f)
		}
		return &FieldError{Field: path, Msg: msg, Err: ErrUnknownField}
	}
	return nil
}

// lookalike returns the field name that differs from name only in letter
// case and in '-', '_' or their absence ("targetType", "target-type").
func lookalike(name string, fields []string) string {
	squash := func(s string) string { return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s)) }
	for _, f := range fields {
		if squash(name) == squash(f) {
			return f
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fieldDecoder converts decoded JSON values to field values, keeping the
// first error.
type fieldDecoder struct{ err error }

func (d *fieldDecoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

func (d *fieldDecoder) want(field, kind string, v any) {
	d.fail(field, "want a JSON %s, not %s", kind, kindOf(v))
}

func (d *fieldDecoder) str(field string, v any) string {
	s, ok := v.(string)
	if !ok {
		d.want(field, "string", v)
	}
	return s
}

func (d *fieldDecoder) object(field string, v any) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		d.want(field, "object", v)
	}
	return m
}

func (d *fieldDecoder) array(field string, v any) []any {
	a, ok := v.([]any)
	if !ok {
		d.want(field, "array", v)
	}
	return a
}

func (d *fieldDecoder) uint(field string, v any) uint64 {
	n, ok := v.(json.Number)
	if !ok {
		d.want(field, "number", v)
		return 0
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		d.fail(field, "want a whole number from 0 to %d, not %s", uint64(math.MaxUint64), n)
	}
	return u
}

func (d *fieldDecoder) int(field string, v any) int {
	n, ok := v.(json.Number)
	if !ok {
		d.want(field, "number", v)
		return 0
	}
	i, err := strconv.ParseInt(string(n), 10, 0)
	if err != nil {
		d.fail(field, "want a whole number, not %s", n)
	}
	return int(i)
}

func (d *fieldDecoder) severity(field string, v any) Severity {
	s := d.str(field, v)
	if d.err != nil {
		return ""
	}
	sev, err := ParseSeverity(s)
	if err != nil {
		d.fail(field, "%v", err)
	}
	return sev
}

// time reads an RFC 3339 time. The zero time is refused: given, it would
// be taken for "absent" and replaced by the current time.
func (d *fieldDecoder) time(field string, v any) time.Time {
	s := d.str(field, v)
	if d.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	switch {
	case err != nil:
		d.fail(field, "want an RFC 3339 time such as 2025-11-01T09:24:02Z, not %q", s)
	case t.IsZero():
		d.fail(field, "%s is the zero time, not when anything happened; give the real time, or leave %s out for the current time", s, field)
	}
	return t
}

// members checks the member names of the object v at field (the record
// itself when field is "") and calls set with each member that is present
// and not null, in the order of names (the same error every time), until
// an error.
func (d *fieldDecoder) members(field string, v any, names []string, set func(name, path string, v any)) {
	obj := d.object(field, v)
	if d.err != nil {
		return
	}
	prefix := ""
	if field != "" {
		prefix = field + "."
	}
	if err := checkNames(obj, names, prefix); err != nil {
		d.err = err
		return
	}
	for _, name := range names {
		if v := obj[name]; v != nil && d.err == nil {
			set(name, prefix+name, v)
		}
	}
}

func (d *fieldDecoder) finding(field string, v any) (f Finding) {
	d.members(field, v, findingFields, func(name, path string, v any) {
		switch name {
		case "description":
			f.Description = d.str(path, v)
		case "finding_id":
			f.FindingID = d.str(path, v)
		case "finding_type":
			f.FindingType = d.str(path, v)
		case "location":
			f.Location = d.str(path, v)
		case "metadata":
			f.Metadata = d.object(path, v)
		case "recommendation":
			f.Recommendation = d.str(path, v)
		case "severity":
			f.Severity = d.severity(path, v)
		}
	})
	return f
}

func (d *fieldDecoder) violation(field string, v any) (x Violation) {
	d.members(field, v, violationFields, func(name, path string, v any) {
		switch name {
		case "column_number":
			x.ColumnNumber = d.int(path, v)
		case "file_path":
			x.FilePath = d.str(path, v)
		case "line_number":
			x.LineNumber = d.int(path, v)
		case "message":
			x.Message = d.str(path, v)
		case "rule":
			x.Rule = d.str(path, v)
		case "severity":
			x.Severity = d.severity(path, v)
		case "violation_id":
			x.ViolationID = d.str(path, v)
		}
	})
	return x
}

func (d *fieldDecoder) signature(field string, v any) (s Signature) {
	d.members(field, v, signatureFields, func(name, path string, v any) {
		switch name {
		case "algorithm":
			s.Algorithm = d.str(path, v)
		case "signature":
			s.Signature = d.str(path, v)
		case "signer":
			s.Signer = d.str(path, v)
		case "timestamp":
			s.Timestamp = d.time(path, v)
		}
	})
	return s
}

// kindOf names the JSON kind of a decoded value.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

package audit

import (
	"fmt"

	"github.com/ami-orchestrator/ami-audit/canonical"
)

// AppendCanonical appends the bytes the record hash covers: the RFC 8785
// canonical JSON of the record without record_hash, signatures and status.
// The members, in canonical order, are
//
//	action actor classification context findings metadata nonce previous_hash
//	reason record_id sequence severity source target target_type timestamp
//	violations
//
// Call Normalize first: nil maps and slices are written as {} and [], but ids
// and defaults are not invented here. docs/canonical-form.md describes the
// format for implementers in other languages.
func (r *Record) AppendCanonical(dst []byte) ([]byte, error) {
	return r.appendJSON(dst, false)
}

// AppendJSON appends the whole record as canonical JSON, with record_hash,
// signatures and status in their sorted places. It is the export form.
func (r *Record) AppendJSON(dst []byte) ([]byte, error) {
	return r.appendJSON(dst, true)
}

// jsonWriter keeps the first error and lets the encoder read as a list of
// members.
type jsonWriter struct {
	b   []byte
	err error
}

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) str(field, s string) {
	if w.err != nil {
		return
	}
	if w.b, w.err = canonical.AppendString(w.b, s); w.err != nil {
		w.err = fmt.Errorf("%s: %w", field, w.err)
	}
}

func (w *jsonWriter) value(field string, v any) {
	if w.err != nil {
		return
	}
	if w.b, w.err = canonical.AppendValue(w.b, v); w.err != nil {
		w.err = fmt.Errorf("%s: %w", field, w.err)
	}
}

func (w *jsonWriter) object(field string, m map[string]any) {
	if len(m) == 0 {
		w.raw("{}")
		return
	}
	w.value(field, m)
}

func (w *jsonWriter) uint(field string, u uint64) {
	if w.err != nil {
		return
	}
	if w.b, w.err = canonical.AppendUint(w.b, u); w.err != nil {
		w.err = fmt.Errorf("%s: %w", field, w.err)
	}
}

func (r *Record) appendJSON(dst []byte, full bool) ([]byte, error) {
	w := jsonWriter{b: dst}
	w.raw(`{"action":`)
	w.str("action", r.Action)
	w.raw(`,"actor":`)
	w.str("actor", r.Actor)
	w.raw(`,"classification":`)
	w.str("classification", r.Classification)
	w.raw(`,"context":`)
	w.object("context", r.Context)
	w.raw(`,"findings":[`)
	for i := range r.Findings {
		if i > 0 {
			w.raw(",")
		}
		r.Findings[i].appendJSON(&w)
	}
	w.raw(`],"metadata":`)
	w.object("metadata", r.Metadata)
	w.raw(`,"nonce":`)
	w.uint("nonce", r.Nonce)
	w.raw(`,"previous_hash":`)
	w.str("previous_hash", r.PreviousHash)
	w.raw(`,"reason":`)
	w.str("reason", r.Reason)
	if full {
		w.raw(`,"record_hash":`)
		w.str("record_hash", r.RecordHash)
	}
	w.raw(`,"record_id":`)
	w.str("record_id", r.RecordID)
	w.raw(`,"sequence":`)
	w.uint("sequence", r.Sequence)
	w.raw(`,"severity":`)
	w.str("severity", string(r.Severity))
	if full {
		w.raw(`,"signatures":[`)
		for i := range r.Signatures {
			if i > 0 {
				w.raw(",")
			}
			s := &r.Signatures[i]
			w.raw(`{"algorithm":`)
			w.str("signatures.algorithm", s.Algorithm)
			w.raw(`,"signature":`)
			w.str("signatures.signature", s.Signature)
			w.raw(`,"signer":`)
			w.str("signatures.signer", s.Signer)
			w.raw(`,"timestamp":`)
			w.str("signatures.timestamp", FormatTime(s.Timestamp))
			w.raw("}")
		}
		w.raw("]")
	}
	w.raw(`,"source":`)
	w.str("source", r.Source)
	if full {
		w.raw(`,"status":`)
		w.str("status", string(r.Status))
	}
	w.raw(`,"target":`)
	w.str("target", r.Target)
	w.raw(`,"target_type":`)
	w.str("target_type", string(r.TargetType))
	w.raw(`,"timestamp":"`)
	w.b = r.Timestamp.UTC().AppendFormat(w.b, TimeFormat)
	w.raw(`","violations":[`)
	for i := range r.Violations {
		if i > 0 {
			w.raw(",")
		}
		r.Violations[i].appendJSON(&w)
	}
	w.raw("]}")
	return w.b, w.err
}

func (f *Finding) appendJSON(w *jsonWriter) {
	w.raw(`{"description":`)
	w.str("findings.description", f.Description)
	w.raw(`,"finding_id":`)
	w.str("findings.finding_id", f.FindingID)
	w.raw(`,"finding_type":`)
	w.str("findings.finding_type", f.FindingType)
	if f.Location != "" {
		w.raw(`,"location":`)
		w.str("findings.location", f.Location)
	}
	w.raw(`,"metadata":`)
	w.object("findings.metadata", f.Metadata)
	if f.Recommendation != "" {
		w.raw(`,"recommendation":`)
		w.str("findings.recommendation", f.Recommendation)
	}
	w.raw(`,"severity":`)
	w.str("findings.severity", string(f.Severity))
	w.raw("}")
}

func (v *Violation) appendJSON(w *jsonWriter) {
	w.raw("{")
	sep := ""
	if v.ColumnNumber != 0 {
		w.raw(`"column_number":`)
		w.uint("violations.column_number", uint64(v.ColumnNumber))
		sep = ","
	}
	if v.FilePath != "" {
		w.raw(sep + `"file_path":`)
		w.str("violations.file_path", v.FilePath)
		sep = ","
	}
	if v.LineNumber != 0 {
		w.raw(sep + `"line_number":`)
		w.uint("violations.line_number", uint64(v.LineNumber))
		sep = ","
	}
	w.raw(sep + `"message":`)
	w.str("violations.message", v.Message)
	w.raw(`,"rule":`)
	w.str("violations.rule", v.Rule)
	w.raw(`,"severity":`)
	w.str("violations.severity", string(v.Severity))
	w.raw(`,"violation_id":`)
	w.str("violations.violation_id", v.ViolationID)
	w.raw("}")
}

package audit

import (
	"fmt"
	"slices"

	"github.com/ami-orchestrator/ami-audit/canonical"
)

// AppendCanonical appends the bytes the record hash covers: the RFC 8785
// canonical JSON of the record without record_hash, signatures and status
// (nor disclosures). The members, in canonical order, are
//
//	action actor [canonical_version] classification [commitments] context
//	findings metadata nonce previous_hash reason record_id sequence severity
//	source target target_type timestamp violations
//
// canonical_version (2) and commitments are present only in a record with
// commitments (commit.go); without them the form is version 1. A pruned
// record has no canonical form any more (ErrPruned).
//
// Call Normalize first: nil maps and slices are written as {} and [], but ids
// and defaults are not invented here. docs/canonical-form.md describes the
// format for implementers in other languages.
func (r *Record) AppendCanonical(dst []byte) ([]byte, error) {
	return r.appendJSON(dst, false)
}

// ChainSlots are the offsets, in a canonical form written by
// AppendChainTemplate, where the values of the members the chain decides
// go: nonce, previous_hash and sequence, in that order in the form.
type ChainSlots struct {
	Nonce, PreviousHash, Sequence int
}

// AppendChainTemplate appends the record's canonical form without the
// values of nonce, previous_hash and sequence, and says where each goes:
// inserting them there (canonical.AppendUint, canonical.AppendString)
// gives AppendCanonical's bytes. It lets the part of the form that does
// not depend on the chain be written (and hashed up to the nonce) before
// the record's place in the chain is known.
func (r *Record) AppendChainTemplate(dst []byte) ([]byte, ChainSlots, error) {
	var slots ChainSlots
	start := len(dst)
	b, err := r.appendForm(dst, false, func(member string, b []byte) {
		switch member {
		case "nonce":
			slots.Nonce = len(b) - start
		case "previous_hash":
			slots.PreviousHash = len(b) - start
		case "sequence":
			slots.Sequence = len(b) - start
		}
	})
	return b, slots, err
}

// AppendJSON appends the whole record as canonical JSON, with record_hash,
// signatures and status in their sorted places, and the disclosures the
// record holds. It is the export form. What a reader may see is decided
// before (package disclose): a record read from a store holds no
// disclosures unless they were asked for. A pruned record is written as
// its remains (see appendPruned).
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
	return r.appendForm(dst, full, nil)
}

// appendForm writes the record; with slot set, the values of nonce,
// previous_hash and sequence are left out and slot is told where each
// goes instead.
func (r *Record) appendForm(dst []byte, full bool, slot func(member string, b []byte)) ([]byte, error) {
	if r.Pruned != nil {
		if !full {
			return dst, fmt.Errorf("record %d (%s): %w", r.Sequence, r.RecordID, ErrPruned)
		}
		return r.appendPruned(dst)
	}
	w := jsonWriter{b: dst}
	w.raw(`{"action":`)
	w.str("action", r.Action)
	w.raw(`,"actor":`)
	w.str("actor", r.Actor)
	if len(r.Commitments) > 0 {
		w.raw(`,"canonical_version":`)
		w.uint("canonical_version", CommittedFormVersion)
	}
	w.raw(`,"classification":`)
	w.str("classification", r.Classification)
	if len(r.Commitments) > 0 {
		w.raw(`,"commitments":{`)
		for i, k := range sortedKeys(r.Commitments) {
			if i > 0 {
				w.raw(",")
			}
			w.str("commitments", k)
			w.raw(":")
			w.str("commitments."+k, r.Commitments[k])
		}
		w.raw("}")
	}
	w.raw(`,"context":`)
	w.object("context", r.Context)
	if full && len(r.Disclosures) > 0 {
		w.raw(`,"disclosures":{`)
		for i, k := range sortedKeys(r.Disclosures) {
			if i > 0 {
				w.raw(",")
			}
			d := r.Disclosures[k]
			w.str("disclosures", k)
			w.raw(`:{"salt":`)
			w.str("disclosures."+k+".salt", d.Salt)
			w.raw(`,"value":`)
			w.value("disclosures."+k+".value", d.Value)
			w.raw("}")
		}
		w.raw("}")
	}
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
	if slot != nil {
		slot("nonce", w.b)
	} else {
		w.uint("nonce", r.Nonce)
	}
	w.raw(`,"previous_hash":`)
	if slot != nil {
		slot("previous_hash", w.b)
	} else {
		w.str("previous_hash", r.PreviousHash)
	}
	w.raw(`,"reason":`)
	w.str("reason", r.Reason)
	if full {
		w.raw(`,"record_hash":`)
		w.str("record_hash", r.RecordHash)
	}
	w.raw(`,"record_id":`)
	w.str("record_id", r.RecordID)
	w.raw(`,"sequence":`)
	if slot != nil {
		slot("sequence", w.b)
	} else {
		w.uint("sequence", r.Sequence)
	}
	w.raw(`,"severity":`)
	w.str("severity", string(r.Severity))
	if full {
		w.raw(`,"signatures":`)
		r.appendSignatures(&w)
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

// appendSignatures writes the signatures array.
func (r *Record) appendSignatures(w *jsonWriter) {
	w.raw("[")
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

// appendPruned writes what remains of a pruned record: the pruning mark,
// record_hash, record_id, sequence, signatures and status. It has no
// hashed form: its hash is known only as a leaf of the Merkle tree and as
// the previous_hash of the record after it.
func (r *Record) appendPruned(dst []byte) ([]byte, error) {
	w := jsonWriter{b: dst}
	w.raw(`{"pruned":{"policy":`)
	w.str("pruned.policy", r.Pruned.Policy)
	w.raw(`,"retention_sequence":`)
	w.uint("pruned.retention_sequence", r.Pruned.RetentionSequence)
	w.raw(`},"record_hash":`)
	w.str("record_hash", r.RecordHash)
	w.raw(`,"record_id":`)
	w.str("record_id", r.RecordID)
	w.raw(`,"sequence":`)
	w.uint("sequence", r.Sequence)
	w.raw(`,"signatures":`)
	r.appendSignatures(&w)
	w.raw(`,"status":`)
	w.str("status", string(r.Status))
	w.raw("}")
	return w.b, w.err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, canonical.Compare)
	return keys
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

package audit

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ami-orchestrator/ami-audit/canonical"
)

// Field commitments: how a record can forget a value without breaking its
// hash.
//
// A record whose classification calls for it (confidential and restricted
// by default; see DefaultCommitted) is written in canonical form version
// 2: every member of its context and metadata is taken out of the hashed
// form, and the hashed form holds instead, under "commitments", a salted
// commitment to each value, named "context.KEY" or "metadata.KEY". The
// values and their salts (Disclosures) are stored beside the record, never
// in its hashed form. Removing a value and its salt later (redaction)
// leaves the commitment, so the record hash, the chain and the Merkle tree
// are unchanged; a value that remains is checked against its commitment,
// so it cannot be changed either. A commitment without its salt reveals
// nothing of the value (32 random bytes of salt make guessing hopeless,
// even for a value from a short list).
//
// docs/canonical-form.md describes the bytes for implementers in other
// languages.

// CommittedFormVersion is the canonical_version member of a record with
// commitments. A record without commitments has no canonical_version
// member: it is in version 1, byte for byte the form records had before
// commitments existed.
const CommittedFormVersion = 2

// DefaultCommitted lists the classifications whose values are committed
// when a trail's settings do not say otherwise.
var DefaultCommitted = []string{ClassConfidential, ClassRestricted}

// Sections of a record whose members may be committed.
const (
	SectionContext  = "context"
	SectionMetadata = "metadata"
)

// SaltSize is the size of a commitment's salt in bytes.
const SaltSize = 32

// commitmentDomain starts the bytes a commitment hashes, so that they can
// never be taken for anything else ami-audit hashes.
const commitmentDomain = "ami-audit field commitment v1\n"

// Disclosure is the value of a committed field and the salt of its
// commitment. Stores keep disclosures beside the record, never in its
// hashed form; readers see them only when they may (package disclose).
type Disclosure struct {
	Salt  string `json:"salt"` // 64 lowercase hex digits: SaltSize random bytes
	Value any    `json:"value"`
}

// Errors of commitments.
var (
	// ErrCommitment: a disclosed value does not match its commitment.
	ErrCommitment = errors.New("the value does not match its commitment")
	// ErrNotCommitted: the field is hashed in the clear (or does not
	// exist), so it cannot be disclosed or redacted apart from the record.
	ErrNotCommitted = errors.New("the field is not committed")
)

// FieldName names the member key of a section ("context" or "metadata"):
// "context.user_email".
func FieldName(section, key string) string { return section + "." + key }

// SplitField splits a field name into its section and member key. The key
// is everything after the first dot, dots included; it may be empty (""
// is a valid member name).
func SplitField(name string) (section, key string, ok bool) {
	section, key, ok = strings.Cut(name, ".")
	if !ok || (section != SectionContext && section != SectionMetadata) {
		return "", "", false
	}
	return section, key, true
}

// NewSalt returns SaltSize random bytes.
func NewSalt() []byte {
	b := make([]byte, SaltSize)
	rand.Read(b)
	return b
}

// Commitment is the commitment to value as the field named field, with
// salt:
//
//	lowercase hex SHA-256( "ami-audit field commitment v1\n"
//	                       || canonical JSON string of field || "\n"
//	                       || salt (32 bytes)
//	                       || canonical JSON of value )
//
// The field name binds the value to its place; the salt hides it.
func Commitment(field string, salt []byte, value any) (string, error) {
	v, err := canonical.Marshal(value)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return CommitmentOf(field, salt, v)
}

// CommitmentOf is Commitment of a value given as its canonical JSON bytes
// (as stores keep it): bytes that are not the canonical form of the
// committed value do not match.
func CommitmentOf(field string, salt, canonicalValue []byte) (string, error) {
	if len(salt) != SaltSize {
		return "", fmt.Errorf("%s: the salt is %d bytes, want %d", field, len(salt), SaltSize)
	}
	b := append(make([]byte, 0, 96+len(field)+len(canonicalValue)), commitmentDomain...)
	b, err := canonical.AppendString(b, field)
	if err != nil {
		return "", fmt.Errorf("%s: field name: %w", field, err)
	}
	b = append(b, '\n')
	b = append(b, salt...)
	b = append(b, canonicalValue...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Check reports whether the disclosure is the value committed to as
// field by commitment. The error wraps ErrCommitment.
func (d Disclosure) Check(field, commitment string) error {
	salt, err := hex.DecodeString(d.Salt)
	if err != nil || len(salt) != SaltSize || hex.EncodeToString(salt) != d.Salt {
		return fmt.Errorf("%s: %w (its salt is not %d bytes of lowercase hex)", field, ErrCommitment, SaltSize)
	}
	c, err := Commitment(field, salt, d.Value)
	if err != nil {
		return err
	}
	if c != commitment {
		return fmt.Errorf("%s: %w", field, ErrCommitment)
	}
	return nil
}

// Masked returns a copy of the record without its disclosures: committed
// values are left out, their commitments stay. It is what a reader who may
// not see them gets (package disclose), and what is cached.
func (r *Record) Masked() *Record {
	c := r.Clone()
	c.Disclosures = nil
	return c
}

// Committed reports whether the record commits to the field.
func (r *Record) Committed(field string) bool {
	_, ok := r.Commitments[field]
	return ok
}

// CommitsValues reports whether a record of the given classification has
// its values committed under classes.
func CommitsValues(classification string, classes []string) bool {
	return slices.Contains(classes, classification)
}

// CommitValues writes the record in canonical form version 2 when its
// classification is one of classes: every member of its context and
// metadata moves to Disclosures, with a fresh salt, and its commitment to
// Commitments. Stores call it (through ledger.Link) when they append. A
// record that already has commitments (a copy of a stored record) keeps
// them: its disclosures must match them. A record of another
// classification is left as it is.
func (r *Record) CommitValues(classes []string) error {
	if r.Pruned != nil {
		return fmt.Errorf("%w: record %s is a pruned record's remains", ErrInvalid, r.RecordID)
	}
	if len(r.Commitments) > 0 {
		return r.CheckDisclosures()
	}
	if !CommitsValues(r.Classification, classes) || len(r.Context)+len(r.Metadata) == 0 {
		return nil
	}
	commitments := make(map[string]string, len(r.Context)+len(r.Metadata))
	disclosures := make(map[string]Disclosure, len(r.Context)+len(r.Metadata))
	for _, sec := range []struct {
		name string
		m    map[string]any
	}{{SectionContext, r.Context}, {SectionMetadata, r.Metadata}} {
		for k, v := range sec.m {
			field := FieldName(sec.name, k)
			salt := NewSalt()
			c, err := Commitment(field, salt, v)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			commitments[field] = c
			disclosures[field] = Disclosure{Salt: hex.EncodeToString(salt), Value: v}
		}
	}
	r.Commitments, r.Disclosures = commitments, disclosures
	r.Context, r.Metadata = map[string]any{}, map[string]any{}
	return nil
}

// CheckDisclosures checks every disclosure against its commitment. The
// error names the field; it wraps ErrCommitment when a value or salt does
// not match, ErrNotCommitted when a disclosure names no commitment.
func (r *Record) CheckDisclosures() error {
	for _, field := range slices.Sorted(maps.Keys(r.Disclosures)) {
		c, ok := r.Commitments[field]
		if !ok {
			return fmt.Errorf("%s: %w: a value is disclosed that the record does not commit to", field, ErrNotCommitted)
		}
		if err := r.Disclosures[field].Check(field, c); err != nil {
			return err
		}
	}
	return nil
}

// validateCommitments checks the shape of the commitments and
// disclosures: field names of context or metadata members that are not
// also in the clear, commitments of 64 lowercase hex digits, and
// disclosures only of committed fields.
func (r *Record) validateCommitments() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %w", ErrInvalid, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	for _, field := range slices.Sorted(maps.Keys(r.Commitments)) {
		sec, key, ok := SplitField(field)
		if !ok {
			return bad("commitments", "%q does not name a member of context or metadata (context.KEY, metadata.KEY)", field)
		}
		if c := r.Commitments[field]; len(c) != 64 || strings.ToLower(c) != c || !isHex(c) {
			return bad("commitments", "%s: a commitment is 64 lowercase hex digits", field)
		}
		clear := r.Context
		if sec == SectionMetadata {
			clear = r.Metadata
		}
		if _, dup := clear[key]; dup {
			return bad(sec, "%q is both committed and in the clear", key)
		}
	}
	for field := range r.Disclosures {
		if _, ok := r.Commitments[field]; !ok {
			return bad("disclosures", "%s: %v", field, ErrNotCommitted)
		}
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// checkVersion checks the canonical_version member read with the record:
// absent for version 1 (no commitments), 2 with commitments.
func (r *Record) checkVersion(v string) error {
	switch {
	case v == "" && len(r.Commitments) == 0:
		return nil
	case v == "":
		return fmt.Errorf("%w: the record has commitments but no canonical_version", ErrInvalid)
	case v == fmt.Sprint(CommittedFormVersion) && len(r.Commitments) > 0:
		return nil
	case v == fmt.Sprint(CommittedFormVersion):
		return fmt.Errorf("%w: canonical_version %s without commitments", ErrInvalid, v)
	}
	return fmt.Errorf("%w: canonical_version %s was written by a newer ami-audit (this one knows versions 1 and %d)", ErrInvalid, v, CommittedFormVersion)
}

// commitments reads the commitments member: field name to commitment.
func (d *fieldDecoder) commitments(field string, v any) map[string]string {
	obj := d.object(field, v)
	out := make(map[string]string, len(obj))
	for k, c := range obj {
		out[k] = d.str(field+"."+k, c)
	}
	return out
}

// disclosures reads the disclosures member: field name to salt and value.
func (d *fieldDecoder) disclosures(field string, v any) map[string]Disclosure {
	obj := d.object(field, v)
	out := make(map[string]Disclosure, len(obj))
	for k, e := range obj {
		var x Disclosure
		path := field + "." + k
		inner := d.object(path, e)
		if d.err == nil {
			d.err = checkNames(inner, []string{"salt", "value"}, path+".")
		}
		if inner["salt"] == nil || !slices.Contains(slices.Collect(maps.Keys(inner)), "value") {
			d.fail(path, "a disclosure has a salt and a value")
		}
		x.Salt = d.str(path+".salt", inner["salt"])
		x.Value = inner["value"]
		out[k] = x
	}
	return out
}

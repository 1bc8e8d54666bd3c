package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// TargetType says what kind of entity a record is about.
type TargetType string

// The target types of SPEC §3.
const (
	TargetFile    TargetType = "file"
	TargetModule  TargetType = "module"
	TargetService TargetType = "service"
	TargetLog     TargetType = "log"
	TargetGit     TargetType = "git"
	TargetQuality TargetType = "quality"
)

// TargetTypes lists every valid target type.
var TargetTypes = []TargetType{TargetFile, TargetModule, TargetService, TargetLog, TargetGit, TargetQuality}

// Valid reports whether t is one of TargetTypes.
func (t TargetType) Valid() bool { return slices.Contains(TargetTypes, t) }

// Severity grades a record, finding or violation. Severities are ordered:
// debug < info < warning < error < critical.
type Severity string

// The severities of SPEC §3, lowest first.
const (
	SeverityDebug    Severity = "debug"
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityError    Severity = "error"
	SeverityCritical Severity = "critical"
)

// Severities lists every severity, lowest first.
var Severities = []Severity{SeverityDebug, SeverityInfo, SeverityWarning, SeverityError, SeverityCritical}

// Rank is the position of s in Severities, or -1 when s is not valid.
func (s Severity) Rank() int { return slices.Index(Severities, s) }

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool { return s.Rank() >= 0 }

// ParseSeverity accepts a severity in any letter case ("ERROR", "Warning"),
// the common synonyms "warn", "fatal" and "trace", and the names of the
// CVSS and SARIF scales that security tools use: "low" is info, "medium"
// (or "moderate") warning, "high" error and "critical" critical.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	switch v {
	case "warn":
		v = SeverityWarning
	case "fatal", "panic", "crit":
		v = SeverityCritical
	case "trace":
		v = SeverityDebug
	case "err", "high":
		v = SeverityError
	case "medium", "moderate":
		v = SeverityWarning
	case "low":
		v = SeverityInfo
	}
	if !v.Valid() {
		return "", fmt.Errorf("unknown severity %q (want one of %s)", s, joinStrings(Severities))
	}
	return v, nil
}

// Status is a record's lifecycle state. It is not covered by the hash and
// may change after the record is appended.
type Status string

// The statuses of SPEC §3.
const (
	StatusRecorded Status = "recorded"
	StatusAnalyzed Status = "analyzed"
	StatusVerified Status = "verified"
	StatusExported Status = "exported"
)

// Statuses lists every status.
var Statuses = []Status{StatusRecorded, StatusAnalyzed, StatusVerified, StatusExported}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Classifications commonly used for data classification. Other values are
// accepted; these are the ones reports know how to order.
const (
	ClassPublic       = "public"
	ClassInternal     = "internal"
	ClassConfidential = "confidential"
	ClassRestricted   = "restricted"
)

// Record is one entry of the audit trail: who (Actor) did what (Action) to
// what (Target, TargetType), when (Timestamp), how (Source) and why (Reason).
//
// RecordHash is the SHA-256 of the canonical form (see Canonical), which
// covers every field except RecordHash, Signatures and Status. Sequence,
// PreviousHash and RecordHash are assigned by the store when the record is
// appended; a record built by a caller leaves them zero.
type Record struct {
	RecordID       string         `json:"record_id"`
	RecordHash     string         `json:"record_hash"`
	Sequence       uint64         `json:"sequence"`
	Timestamp      time.Time      `json:"timestamp"`
	Actor          string         `json:"actor"`
	Action         string         `json:"action"`
	Target         string         `json:"target"`
	TargetType     TargetType     `json:"target_type"`
	Source         string         `json:"source"`
	Reason         string         `json:"reason"`
	Context        map[string]any `json:"context"`
	Metadata       map[string]any `json:"metadata"`
	PreviousHash   string         `json:"previous_hash"`
	Nonce          uint64         `json:"nonce"`
	Signatures     []Signature    `json:"signatures"`
	Findings       []Finding      `json:"findings"`
	Violations     []Violation    `json:"violations"`
	Severity       Severity       `json:"severity"`
	Classification string         `json:"classification"`
	Status         Status         `json:"status"`

	// Commitments, Disclosures and Pruned are how a record forgets
	// (commit.go): the salted commitments its hash covers instead of
	// confidential values, those values as a reader may see them, and the
	// mark of a record whose body retention removed.
	Commitments map[string]string     `json:"commitments,omitempty"`
	Disclosures map[string]Disclosure `json:"disclosures,omitempty"`
	Pruned      *Pruning              `json:"pruned,omitempty"`
}

// Signature is one signer's Ed25519 signature over a record's hash (see
// SignedMessage). Signatures are not covered by the record hash, so they can
// be added after the record is appended.
type Signature struct {
	Signer    string    `json:"signer"`
	Signature string    `json:"signature"` // standard base64
	Algorithm string    `json:"algorithm"` // "Ed25519"
	Timestamp time.Time `json:"timestamp"`
}

// AlgorithmEd25519 is the only signature algorithm.
const AlgorithmEd25519 = "Ed25519"

// Finding is an analyzer's conclusion about a record's target.
type Finding struct {
	FindingID      string         `json:"finding_id"`
	FindingType    string         `json:"finding_type"`
	Severity       Severity       `json:"severity"`
	Description    string         `json:"description"`
	Location       string         `json:"location,omitempty"`
	Recommendation string         `json:"recommendation,omitempty"`
	Metadata       map[string]any `json:"metadata"`
}

// Violation is a broken rule found in a target, such as a linter message.
type Violation struct {
	ViolationID  string   `json:"violation_id"`
	Rule         string   `json:"rule"`
	Severity     Severity `json:"severity"`
	Message      string   `json:"message"`
	FilePath     string   `json:"file_path,omitempty"`
	LineNumber   int      `json:"line_number,omitempty"`
	ColumnNumber int      `json:"column_number,omitempty"`
}

// GenesisHash is the previous_hash of the first record of a chain.
const GenesisHash = "0"

// TimeFormat is the one text form of every timestamp in the canonical form
// and in exports: UTC with exactly nine fractional digits, so that text order
// is time order.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Int reads a whole number from a context or metadata object, whether the
// record was built in this process (an integer) or read back from a store
// (float64 or json.Number); 0 when absent or not a number.
func Int(m map[string]any, key string) int64 {
	switch v := m[key].(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case int32:
		return int64(v)
	case uint32:
		return int64(v)
	case float64:
		return int64(v)
	case interface{ Int64() (int64, error) }:
		n, _ := v.Int64()
		return n
	}
	return 0
}

// NewID returns a new UUIDv7 string: time-ordered, unique.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// New returns a record with a fresh id, the current time and the defaults
// (severity info, classification internal, status recorded).
func New(actor, action, target string, tt TargetType) *Record {
	return &Record{
		RecordID:   NewID(),
		Timestamp:  time.Now().UTC(),
		Actor:      actor,
		Action:     action,
		Target:     target,
		TargetType: tt,
	}
}

// checkID says what is wrong with an id (of a record, finding or
// violation), or "" when it is a UUID in its one canonical spelling: lower
// case, hyphenated, 36 characters. Other spellings of a UUID ("URN:UUID:…",
// "{…}", upper case, no hyphens) are refused rather than rewritten: an id
// is hashed as given, and one UUID spelled two ways would be two records to
// the hash chain but one to a UUID column (PostgreSQL's), so a second
// spelling could slip a duplicate past one store and break a migration to
// the other.
func checkID(id string) string {
	u, err := uuid.Parse(id)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a UUID", id)
	case u.String() != id:
		return fmt.Sprintf("%q is a UUID, but not in its one spelling: write %s (lower case, hyphenated, 36 characters)", id, u)
	}
	return ""
}

// CanonicalID returns the one spelling of the UUID id (lower case,
// hyphenated), however it is written, for looking a record up; ok is false
// when id is no UUID.
func CanonicalID(id string) (canonical string, ok bool) {
	u, err := uuid.Parse(strings.TrimSpace(id))
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// FieldError is a validation failure naming the offending field.
type FieldError struct {
	Field string
	Msg   string
	// Err, when set, is a sentinel the error wraps (ErrFieldSpelling,
	// ErrUnknownField).
	Err error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return e.Err }

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid record")

// Normalize fills the defaults a caller may leave out: a UUIDv7 id, the
// current time, severity info, classification internal, status recorded and
// empty (not null) context, metadata, findings and violations. Finding and
// violation ids are filled too. It changes nothing that is set: a zero
// Timestamp means "not given" here, so readers of input (SetFields, the
// record command) refuse a zero time given explicitly rather than let it
// become the current time. Ids are not rewritten either; Validate refuses
// one not in its canonical spelling.
func (r *Record) Normalize() {
	if r.RecordID == "" {
		r.RecordID = NewID()
	}
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	r.Timestamp = r.Timestamp.UTC()
	if r.Severity == "" {
		r.Severity = SeverityInfo
	}
	if r.Classification == "" {
		r.Classification = ClassInternal
	}
	if r.Status == "" {
		r.Status = StatusRecorded
	}
	if r.Context == nil {
		r.Context = map[string]any{}
	}
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.FindingID == "" {
			f.FindingID = NewID()
		}
		if f.Severity == "" {
			f.Severity = SeverityInfo
		}
		if f.Metadata == nil {
			f.Metadata = map[string]any{}
		}
	}
	for i := range r.Violations {
		v := &r.Violations[i]
		if v.ViolationID == "" {
			v.ViolationID = NewID()
		}
		if v.Severity == "" {
			v.Severity = SeverityWarning
		}
	}
}

// ValidateFields is Validate without the check that every value has a
// canonical form, for callers that encode the record next anyway (and
// report an encoding error themselves).
func (r *Record) ValidateFields() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %w", ErrInvalid, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if msg := checkID(r.RecordID); msg != "" {
		return bad("record_id", "%s", msg)
	}
	if r.Timestamp.IsZero() {
		return bad("timestamp", "is missing")
	}
	if y := r.Timestamp.UTC().Year(); y < 1 || y > 9999 {
		return bad("timestamp", "year %d is out of range", y)
	}
	for _, f := range []struct{ name, v string }{{"actor", r.Actor}, {"action", r.Action}, {"target", r.Target}} {
		if strings.TrimSpace(f.v) == "" {
			return bad(f.name, "is empty (say who acted, what was done and to what)")
		}
	}
	if !r.TargetType.Valid() {
		return bad("target_type", "unknown target type %q (want one of %s)", r.TargetType, joinStrings(TargetTypes))
	}
	if !r.Severity.Valid() {
		return bad("severity", "unknown severity %q (want one of %s)", r.Severity, joinStrings(Severities))
	}
	if !r.Status.Valid() {
		return bad("status", "unknown status %q (want one of %s)", r.Status, joinStrings(Statuses))
	}
	for i, f := range r.Findings {
		if msg := checkID(f.FindingID); f.FindingID != "" && msg != "" { // Normalize fills an empty one
			return bad(fmt.Sprintf("findings[%d].finding_id", i), "%s", msg)
		}
		if f.FindingType == "" {
			return bad(fmt.Sprintf("findings[%d].finding_type", i), "is empty")
		}
		if !f.Severity.Valid() {
			return bad(fmt.Sprintf("findings[%d].severity", i), "unknown severity %q", f.Severity)
		}
	}
	for i, v := range r.Violations {
		if msg := checkID(v.ViolationID); v.ViolationID != "" && msg != "" { // Normalize fills an empty one
			return bad(fmt.Sprintf("violations[%d].violation_id", i), "%s", msg)
		}
		if v.Rule == "" {
			return bad(fmt.Sprintf("violations[%d].rule", i), "is empty")
		}
		if !v.Severity.Valid() {
			return bad(fmt.Sprintf("violations[%d].severity", i), "unknown severity %q", v.Severity)
		}
		if v.LineNumber < 0 || v.ColumnNumber < 0 {
			return bad(fmt.Sprintf("violations[%d]", i), "line and column numbers must not be negative")
		}
	}
	for i, s := range r.Signatures {
		if s.Algorithm != AlgorithmEd25519 {
			return bad(fmt.Sprintf("signatures[%d].algorithm", i), "unsupported algorithm %q (want Ed25519)", s.Algorithm)
		}
	}
	return r.validateCommitments()
}

// Validate checks the fields a caller supplies and that the record has a
// canonical form. The error is a *FieldError wrapped with ErrInvalid,
// naming the field.
func (r *Record) Validate() error {
	if err := r.ValidateFields(); err != nil {
		return err
	}
	if _, err := r.AppendCanonical(nil); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Hash computes the record hash: SHA-256 of the canonical form, in hex.
func (r *Record) Hash() (string, error) {
	b, err := r.AppendCanonical(nil)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Clone returns a deep copy of the fields a store may change (signatures),
// sharing the immutable maps.
func (r *Record) Clone() *Record {
	c := *r
	c.Signatures = slices.Clone(r.Signatures)
	return &c
}

// MarshalJSON writes the record as canonical JSON, including record_hash,
// signatures and status. Removing those three members from the object and
// canonicalizing the rest yields exactly the bytes the hash covers.
func (r *Record) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil) }

func joinStrings[S ~string](v []S) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

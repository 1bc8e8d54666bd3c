package audit

import (
	"time"
)

// DefaultLimit is the number of records a query returns when Filter.Limit
// is zero.
const DefaultLimit = 100

// Filter selects records. Zero fields match everything; Severity matches
// that severity and above; Since and Until bound the record timestamp
// (Since inclusive, Until exclusive); FromSequence and BeforeSequence bound
// the sequence number (FromSequence inclusive, BeforeSequence exclusive, 0:
// no bound), which is how a reader pages through a trail with a cursor: the
// next page of an oldest-first query starts from the last sequence seen
// plus one, of a newest-first query before the last sequence seen.
// Limit 0 means DefaultLimit and a
// negative Limit means no limit. Results come in sequence order, oldest
// first, unless Newest is set: then the newest Limit matches are returned,
// newest first.
type Filter struct {
	TargetType TargetType `json:"target_type,omitempty"`
	Action     string     `json:"action,omitempty"`
	Actor      string     `json:"actor,omitempty"`
	Target     string     `json:"target,omitempty"`
	Severity   Severity   `json:"severity,omitempty"`
	Since      time.Time  `json:"since,omitzero"`
	Until      time.Time  `json:"until,omitzero"`
	Limit      int        `json:"limit,omitempty"`
	Newest     bool       `json:"newest,omitempty"`

	FromSequence   uint64 `json:"from_sequence,omitempty"`
	BeforeSequence uint64 `json:"before_sequence,omitempty"`
}

// EffectiveLimit is the number of records the filter allows, or -1 for no
// limit.
func (f Filter) EffectiveLimit() int {
	switch {
	case f.Limit == 0:
		return DefaultLimit
	case f.Limit < 0:
		return -1
	}
	return f.Limit
}

// Match reports whether r satisfies every set field of f (Limit aside).
// Stores answer queries natively; Match is the reference they are tested
// against, and what in-memory consumers use.
func (f Filter) Match(r *Record) bool {
	switch {
	case f.TargetType != "" && r.TargetType != f.TargetType,
		f.Action != "" && r.Action != f.Action,
		f.Actor != "" && r.Actor != f.Actor,
		f.Target != "" && r.Target != f.Target,
		f.Severity != "" && r.Severity.Rank() < f.Severity.Rank(),
		!f.Since.IsZero() && r.Timestamp.Before(f.Since),
		!f.Until.IsZero() && !r.Timestamp.Before(f.Until),
		r.Sequence < f.FromSequence,
		f.BeforeSequence != 0 && r.Sequence >= f.BeforeSequence:
		return false
	}
	return true
}

// Validate checks the enumerations and the time window.
func (f Filter) Validate() error {
	if f.TargetType != "" && !f.TargetType.Valid() {
		return &FieldError{Field: "target_type", Msg: "unknown target type " + string(f.TargetType) + " (want one of " + joinStrings(TargetTypes) + ")"}
	}
	if f.Severity != "" && !f.Severity.Valid() {
		return &FieldError{Field: "severity", Msg: "unknown severity " + string(f.Severity) + " (want one of " + joinStrings(Severities) + ")"}
	}
	if f.BeforeSequence != 0 && f.FromSequence >= f.BeforeSequence {
		return &FieldError{Field: "from_sequence", Msg: "from_sequence must be below before_sequence"}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return &FieldError{Field: "since", Msg: "since must be before until"}
	}
	return nil
}

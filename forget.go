package audit

import "errors"

// Forgetting: what a trail may remove, and the records that say so.
//
// A trail forgets in two ways, each recorded in the chain by a record of
// its own, appended in the same transaction as the removal and signed by a
// key allowed to remove (package trail; the log key unless the trail names
// redactor keys):
//
//   - Redaction removes the value and salt of committed fields (see
//     Commitment) of one record and appends a record_redacted record.
//   - Retention removes the bodies of records older than their policy
//     allows, keeping each record's id, record hash and Merkle tree
//     hashes, and appends a retention_applied record naming, per policy,
//     how many records it pruned and a digest of their sequence numbers.
//
// Legal holds (legal_hold records, lifted by legal_hold_released) keep
// records from retention. Verification (package ledger) checks that every
// missing value and every missing body is explained by such a record, and
// reports them as redacted or pruned rather than tampered. The actions are
// stable: the compliance analyzer uses these records as evidence.

// Actions of the records a trail appends when it forgets.
const (
	ActionRecordRedacted    = "record_redacted"
	ActionRetentionApplied  = "retention_applied"
	ActionLegalHold         = "legal_hold"
	ActionLegalHoldReleased = "legal_hold_released"
)

// SourceTrail is the source of the records the trail itself appends.
const SourceTrail = "ami-audit"

// ForgettingActions lists the actions of the records that explain what a
// trail forgot; they are never pruned.
var ForgettingActions = []string{ActionRecordRedacted, ActionRetentionApplied, ActionLegalHold, ActionLegalHoldReleased}

// Pruning marks the remains of a record whose body retention removed: its
// id, record hash, sequence, signatures and status are kept (and its tree
// hashes, in the store), nothing else.
type Pruning struct {
	// Policy names the retention policy that pruned it.
	Policy string `json:"policy"`
	// RetentionSequence is the sequence of the retention_applied record
	// that says so.
	RetentionSequence uint64 `json:"retention_sequence"`
}

// ErrPruned is returned for operations that need the body of a pruned
// record.
var ErrPruned = errors.New("the record was pruned by retention: only its hash remains")

// pruning reads the pruned member of a pruned record's remains.
func (d *fieldDecoder) pruning(field string, v any) *Pruning {
	p := &Pruning{}
	d.members(field, v, []string{"policy", "retention_sequence"}, func(name, path string, v any) {
		switch name {
		case "policy":
			p.Policy = d.str(path, v)
		case "retention_sequence":
			p.RetentionSequence = d.uint(path, v)
		}
	})
	return p
}

package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
)

// What a log forgot, and the proof that it forgot only what its records
// say (see the root package's forget.go for the model).
//
// Verification reads every row in order and checks:
//
//   - a record with commitments: every stored value matches its
//     commitment; a value that is missing must be named by a later
//     record_redacted record of the log;
//   - a row that holds no body (a pruned record): it carries the mark of
//     the retention_applied record that pruned it, which comes later in
//     the log and states, per policy, how many records it pruned and the
//     SHA-256 of their sequence numbers; verification recomputes both;
//   - records that make the log forget (record_redacted,
//     retention_applied, legal_hold_released, of source ami-audit) are
//     signed by a key allowed to (CheckAuthority).
//
// A pruned record's hash cannot be recomputed, but it is a leaf of the
// tree the log key signed and the next record's previous_hash names it,
// so the chain, the Merkle tree, old checkpoints and proofs of kept
// records all still check.

// RedactionClaim is what a record_redacted record says (its context).
type RedactionClaim struct {
	RecordID   string   `json:"record_id"`
	Sequence   uint64   `json:"sequence"`
	RecordHash string   `json:"record_hash"`
	Fields     []string `json:"fields"`
}

// RetentionClaim is what a retention_applied record says (its context).
type RetentionClaim struct {
	// AppliedAt is the time the policies were evaluated at; each policy's
	// cutoff derives from it.
	AppliedAt string `json:"applied_at"`
	// Policies lists every configured policy and what it pruned.
	Policies []PolicyClaim `json:"policies"`
	// Holds are the ids of the legal_hold records in force.
	Holds []string `json:"legal_holds"`
	// KeptByHolds counts expired records kept because a hold protects
	// them.
	KeptByHolds uint64 `json:"kept_by_holds"`
}

// PolicyClaim is what one policy pruned.
type PolicyClaim struct {
	Policy string `json:"policy"`
	// Keep is the policy's retention period as configured ("90d", "7y").
	Keep string `json:"keep"`
	// Cutoff: records of the policy with a timestamp before it expired.
	Cutoff string `json:"cutoff"`
	// Records is how many records the policy pruned; First and Last the
	// smallest and largest of their sequence numbers (0 when none).
	Records uint64 `json:"records"`
	First   uint64 `json:"first_sequence"`
	Last    uint64 `json:"last_sequence"`
	// SequencesSHA256 is the SequenceDigest of the records it pruned.
	SequencesSHA256 string `json:"sequences_sha256"`
}

// ClaimContext is a claim (a struct with JSON tags) as the context of the
// record that makes it.
func ClaimContext(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return m, dec.Decode(&m)
}

// ParseClaim reads a claim from a record's context into v, strictly: a
// member v does not have is an error.
func ParseClaim(r *audit.Record, v any) error {
	b, err := json.Marshal(r.Context)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("record %d (%s): the %s record's context does not say what it says: %w", r.Sequence, r.RecordID, r.Action, err)
	}
	return nil
}

// NewTrailRecord builds a record the trail appends about what it forgets
// or keeps: source ami-audit, classification internal (never committed:
// verification reads its claim), the claim as its context.
func NewTrailRecord(action, target string, tt audit.TargetType, actor, reason string, claim any) (*audit.Record, error) {
	ctx, err := ClaimContext(claim)
	if err != nil {
		return nil, err
	}
	r := audit.New(actor, action, target, tt)
	r.Source, r.Reason, r.Context, r.Classification = audit.SourceTrail, reason, ctx, audit.ClassInternal
	return r, nil
}

// NewRedactionRecord builds the record_redacted record of a claim: actor
// (who redacted), reason (why), about the target of the redacted record.
func NewRedactionRecord(c RedactionClaim, redacted *audit.Record, actor, reason string) (*audit.Record, error) {
	return NewTrailRecord(audit.ActionRecordRedacted, redacted.Target, redacted.TargetType, actor, reason, c)
}

// ParseRedaction reads the claim of a record_redacted record.
func ParseRedaction(r *audit.Record) (RedactionClaim, error) {
	var c RedactionClaim
	if r.Action != audit.ActionRecordRedacted {
		return c, fmt.Errorf("not a %s record", audit.ActionRecordRedacted)
	}
	if err := ParseClaim(r, &c); err != nil {
		return c, err
	}
	if len(c.Fields) == 0 || c.RecordID == "" {
		return c, errors.New("the redaction record names no record or no field")
	}
	return c, nil
}

// NewRetentionRecord builds the retention_applied record of a claim,
// about the log itself (its origin).
func NewRetentionRecord(c RetentionClaim, origin, actor, reason string) (*audit.Record, error) {
	return NewTrailRecord(audit.ActionRetentionApplied, origin, audit.TargetLog, actor, reason, c)
}

// ParseRetention reads the claim of a retention_applied record.
func ParseRetention(r *audit.Record) (RetentionClaim, error) {
	var c RetentionClaim
	if r.Action != audit.ActionRetentionApplied {
		return c, fmt.Errorf("not a %s record", audit.ActionRetentionApplied)
	}
	return c, ParseClaim(r, &c)
}

// SequenceDigest hashes the sequence numbers of pruned records, in
// increasing order: SHA-256 over each as 8 bytes, big-endian.
type SequenceDigest struct {
	h           hash.Hash
	n           uint64
	first, last uint64
	buf         [8]byte
}

// NewSequenceDigest returns an empty digest.
func NewSequenceDigest() *SequenceDigest { return &SequenceDigest{h: sha256.New()} }

// Add adds the next sequence number.
func (d *SequenceDigest) Add(seq uint64) {
	if d.n == 0 {
		d.first = seq
	}
	d.last = seq
	d.n++
	binary.BigEndian.PutUint64(d.buf[:], seq)
	d.h.Write(d.buf[:])
}

// Claim fills the counts and digest of a policy claim.
func (d *SequenceDigest) Claim(p *PolicyClaim) {
	p.Records, p.First, p.Last = d.n, d.first, d.last
	p.SequencesSHA256 = hex.EncodeToString(d.h.Sum(nil))
}

// Forgotten is what verification found the log forgot, and why.
type Forgotten struct {
	// Committed counts the records with commitments.
	Committed uint64 `json:"committed"`
	// RedactedFields counts the fields whose values were redacted.
	RedactedFields uint64 `json:"redacted_fields"`
	// Pruned counts the records whose bodies retention removed.
	Pruned uint64 `json:"pruned"`
	// Redactions and Retentions are the records that say so, in order.
	Redactions []Redaction `json:"redactions,omitempty"`
	Retentions []Retention `json:"retentions,omitempty"`
	// Authority lists the records that made the log forget: each must be
	// signed by a key allowed to (CheckAuthority fills SignedBy).
	Authority []Authority `json:"-"`
}

// Forgetting is what one record that made the log forget says, besides
// its claim.
type Forgetting struct {
	Seq      uint64    `json:"seq"`
	RecordID string    `json:"record_id"`
	Actor    string    `json:"actor"`
	Time     time.Time `json:"time"`
	Reason   string    `json:"reason"`
	SignedBy []string  `json:"signed_by,omitempty"`
}

// Redaction is a record_redacted record.
type Redaction struct {
	Forgetting
	Claim RedactionClaim `json:"claim"`
}

// Retention is a retention_applied record.
type Retention struct {
	Forgetting
	Claim RetentionClaim `json:"claim"`
}

// Authority is a record that must be signed by a key allowed to make the
// log forget.
type Authority struct {
	Seq      uint64
	RecordID string
	Action   string
	index    int // in Redactions or Retentions (by Action), -1 for neither
}

// forgetState is the part of the chain check about forgetting.
type forgetState struct {
	// pending: records whose committed values are missing, until the
	// record_redacted record that says so.
	pending map[uint64]*pendingValues
	// prunes: pruned records counted by the retention record they name
	// and its policy, until that record.
	prunes    map[uint64]map[string]*SequenceDigest
	prunedSet bitset
	out       Forgotten
}

type pendingValues struct {
	id     string
	hash   [32]byte
	fields []string
}

// bitset marks sequence numbers, one bit each.
type bitset []uint64

func (b *bitset) set(i uint64) {
	w := int(i / 64)
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (i % 64)
}

func (b bitset) has(i uint64) bool {
	w := int(i / 64)
	return w < len(b) && b[w]&(1<<(i%64)) != 0
}

// unexplained marks a failure that a store changed by a redaction or a
// retention committed during verification could also cause: the
// verification is then run again.
type unexplained struct{ *ChainError }

func (e *unexplained) Unwrap() error { return e.ChainError }

func failAt(seq uint64, id, format string, args ...any) *ChainError {
	return &ChainError{Seq: seq, RecordID: id, Reason: fmt.Sprintf(format, args...)}
}

// pruned checks a row without a body.
func (s *forgetState) pruned(seq uint64, r *RawRecord) error {
	switch {
	case r.Pruned == nil:
		return failAt(seq, "", "the record's content is gone and no retention record pruned it (it was deleted behind the log's back)")
	case len(r.Body) > 0:
		return failAt(seq, "", "the record is marked pruned but still holds its content")
	case len(r.Values) > 0:
		return failAt(seq, "", "the record is marked pruned but values of its fields are still stored")
	case r.Pruned.RetentionSequence <= seq:
		return failAt(seq, "", "the record is marked pruned by record %d, which does not come after it", r.Pruned.RetentionSequence)
	}
	if r.Indexed != nil {
		for i, col := range r.Indexed {
			if len(col) > 0 {
				return failAt(seq, "", "the record is marked pruned but its %s column still holds a value", IndexedNames[i])
			}
		}
	}
	if s.prunes == nil {
		s.prunes = map[uint64]map[string]*SequenceDigest{}
	}
	by := s.prunes[r.Pruned.RetentionSequence]
	if by == nil {
		by = map[string]*SequenceDigest{}
		s.prunes[r.Pruned.RetentionSequence] = by
	}
	d := by[r.Pruned.Policy]
	if d == nil {
		d = NewSequenceDigest()
		by[r.Pruned.Policy] = d
	}
	d.Add(seq)
	s.prunedSet.set(seq)
	s.out.Pruned++
	return nil
}

// Quoted actions of the records verification reads in full.
var (
	tokRedacted = []byte(`"` + audit.ActionRecordRedacted + `"`)
	tokRetained = []byte(`"` + audit.ActionRetentionApplied + `"`)
	tokReleased = []byte(`"` + audit.ActionLegalHoldReleased + `"`)
)

// record checks the commitments and stored values of a record with a body,
// and what a record that made the log forget says.
func (s *forgetState) record(seq uint64, sum [32]byte, f *chainFields, r *RawRecord) error {
	id := string(f.recordID)
	if f.commitments == nil {
		if f.version != nil {
			return failAt(seq, id, "canonical_version %s without commitments", f.version)
		}
		if len(r.Values) > 0 {
			return failAt(seq, id, "values are stored for the record (%s), which commits to none (they were added behind the log's back)", r.Values[0].Field)
		}
	} else if err := s.committed(seq, id, sum, f, r); err != nil {
		return err
	}
	action := f.indexed[idxAction]
	switch {
	case bytesEqual(action, tokRedacted), bytesEqual(action, tokRetained), bytesEqual(action, tokReleased):
		return s.forgetting(seq, r.Body)
	}
	return nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func (s *forgetState) committed(seq uint64, id string, sum [32]byte, f *chainFields, r *RawRecord) error {
	if string(f.version) != fmt.Sprint(audit.CommittedFormVersion) {
		return failAt(seq, id, "canonical_version %s is not one this ami-audit knows (1, or %d with commitments); upgrade ami-audit", f.version, audit.CommittedFormVersion)
	}
	var commitments map[string]string
	if err := json.Unmarshal(f.commitments, &commitments); err != nil || len(commitments) == 0 {
		return failAt(seq, id, "the commitments member is not an object of commitments")
	}
	s.out.Committed++
	seen := make(map[string]bool, len(r.Values))
	for _, v := range r.Values {
		c, ok := commitments[v.Field]
		if !ok {
			return failAt(seq, id, "a value is stored for %s, which the record does not commit to (added behind the log's back)", v.Field)
		}
		if seen[v.Field] {
			return failAt(seq, id, "two values are stored for %s", v.Field)
		}
		seen[v.Field] = true
		got, err := audit.CommitmentOf(v.Field, v.Salt, v.Value)
		if err != nil || got != c {
			return failAt(seq, id, "the stored value of %s does not match its commitment (the value or its salt was changed)", v.Field)
		}
	}
	if len(seen) == len(commitments) {
		return nil
	}
	p := &pendingValues{id: id, hash: sum}
	for _, field := range slices.Sorted(maps.Keys(commitments)) {
		if !seen[field] {
			p.fields = append(p.fields, field)
		}
	}
	if s.pending == nil {
		s.pending = map[uint64]*pendingValues{}
	}
	s.pending[seq] = p
	return nil
}

// forgetting checks a record that made the log forget against what the
// rows before it show.
func (s *forgetState) forgetting(seq uint64, body []byte) error {
	var rec audit.Record
	if err := json.Unmarshal(body, &rec); err != nil {
		return failAt(seq, "", "the record does not decode: %v", err)
	}
	if rec.Source != audit.SourceTrail {
		return nil // only the trail's own records make it forget
	}
	fg := Forgetting{Seq: seq, RecordID: rec.RecordID, Actor: rec.Actor, Time: rec.Timestamp, Reason: rec.Reason}
	auth := Authority{Seq: seq, RecordID: rec.RecordID, Action: rec.Action, index: -1}
	fail := func(format string, args ...any) error { return failAt(seq, rec.RecordID, format, args...) }
	switch rec.Action {
	case audit.ActionRecordRedacted:
		c, err := ParseRedaction(&rec)
		if err != nil {
			return fail("%v", err)
		}
		if c.Sequence >= seq {
			return fail("the redaction names record %d, which does not come before it", c.Sequence)
		}
		p := s.pending[c.Sequence]
		for _, field := range c.Fields {
			i := -1
			if p != nil {
				i = slices.Index(p.fields, field)
			}
			switch {
			case i >= 0:
				if p.id != c.RecordID || hex.EncodeToString(p.hash[:]) != c.RecordHash {
					return fail("the redaction names record %d as %s (%.16s…), which is not that record", c.Sequence, c.RecordID, c.RecordHash)
				}
				p.fields = slices.Delete(p.fields, i, i+1)
				s.out.RedactedFields++
			case s.prunedSet.has(c.Sequence):
				// The record was pruned since: nothing of it remains.
			default:
				return fail("the redaction of %s of record %d is not what the store holds: the value is still stored, or the record commits to no such field", field, c.Sequence)
			}
		}
		if p != nil && len(p.fields) == 0 {
			delete(s.pending, c.Sequence)
		}
		auth.index = len(s.out.Redactions)
		s.out.Redactions = append(s.out.Redactions, Redaction{Forgetting: fg, Claim: c})
	case audit.ActionRetentionApplied:
		c, err := ParseRetention(&rec)
		if err != nil {
			return fail("%v", err)
		}
		got := s.prunes[seq]
		for _, pc := range c.Policies {
			d := got[pc.Policy]
			if d == nil {
				d = NewSequenceDigest()
			}
			var want PolicyClaim
			d.Claim(&want)
			if want.Records != pc.Records || want.SequencesSHA256 != pc.SequencesSHA256 || want.First != pc.First || want.Last != pc.Last {
				return fail("policy %s says it pruned %d records (%d..%d), but %d records (%d..%d) are marked pruned by it, or not the same ones (records were pruned or restored behind the log's back)",
					pc.Policy, pc.Records, pc.First, pc.Last, want.Records, want.First, want.Last)
			}
			delete(got, pc.Policy)
		}
		for policy, d := range got {
			return fail("%d records (%d..%d) are marked pruned by it under policy %q, which it does not name (pruned behind the log's back)", d.n, d.first, d.last, policy)
		}
		delete(s.prunes, seq)
		auth.index = len(s.out.Retentions)
		s.out.Retentions = append(s.out.Retentions, Retention{Forgetting: fg, Claim: c})
	}
	s.out.Authority = append(s.out.Authority, auth)
	return nil
}

// finish checks that everything missing was explained.
func (s *forgetState) finish(n uint64) (*Forgotten, error) {
	if len(s.pending) > 0 {
		seq := slices.Min(slices.Collect(maps.Keys(s.pending)))
		p := s.pending[seq]
		return nil, &unexplained{failAt(seq, p.id, "the value of %s is gone, and no redaction record of the log says it was redacted (it was deleted behind the log's back)", strings.Join(p.fields, ", "))}
	}
	for _, by := range slices.Sorted(maps.Keys(s.prunes)) {
		for _, policy := range slices.Sorted(maps.Keys(s.prunes[by])) {
			d := s.prunes[by][policy]
			what := fmt.Sprintf("record %d, which is not a retention record", by)
			if by >= n {
				what = fmt.Sprintf("record %d, beyond the log's %d records", by, n)
			}
			return nil, &unexplained{failAt(d.first, "", "%d records (%d..%d) are marked pruned under policy %q by %s (their content was deleted behind the log's back)", d.n, d.first, d.last, policy, what)}
		}
	}
	out := s.out
	return &out, nil
}

// RecordGetter reads a stored record with its signatures.
type RecordGetter interface {
	Get(ctx context.Context, id string) (*audit.Record, error)
}

// CheckAuthority checks that every record of f that made the log forget
// carries a valid signature by one of keys (the keys allowed to redact
// and to apply retention), and notes the signers. The error wraps
// ErrTampered and names the record.
func CheckAuthority(ctx context.Context, g RecordGetter, f *Forgotten, keys []note.Verifier) error {
	if f == nil {
		return nil
	}
	for _, a := range f.Authority {
		r, err := g.Get(ctx, a.RecordID)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return failAt(a.Seq, a.RecordID, "a %s record, and no key allowed to make the log forget is known to check it with", a.Action)
		}
		c := CheckSignatures(r, keys)
		if len(c.Valid) == 0 {
			return failAt(a.Seq, a.RecordID, "a %s record that no key allowed to make the log forget has signed (a forged %s record)", a.Action, a.Action)
		}
		switch {
		case a.index < 0:
		case a.Action == audit.ActionRecordRedacted:
			f.Redactions[a.index].SignedBy = c.Valid
		case a.Action == audit.ActionRetentionApplied:
			f.Retentions[a.index].SignedBy = c.Valid
		}
	}
	return nil
}

// Forgetter is implemented by stores that can forget: remove the values
// of committed fields (redaction) and the bodies of records (retention),
// always together with the record that says so, in one transaction.
type Forgetter interface {
	// Forget runs fn in one write transaction holding the store's append
	// lock: everything fn did, or nothing, is stored. After the commit
	// the store clears the bytes it removed from its files where it can;
	// the result says how.
	Forget(ctx context.Context, fn func(tx ForgetTx) error) (ForgetResult, error)
}

// ForgetResult says how a store cleared what it removed.
type ForgetResult struct {
	// Scrubbed says what was done so that removed bytes are gone from
	// the store's files; Residue what may remain.
	Scrubbed, Residue string
}

// ForgetTx is the transaction of Forgetter.Forget.
type ForgetTx interface {
	// Tip is the chain's tip, read under the store's append lock.
	Tip() audit.Head
	// Scan calls fn with the stored rows with from <= seq < to, in order,
	// as verification reads them (values and pruning marks included).
	Scan(from, to uint64, fn func(*RawRecord) error) error
	// DeleteValues removes the stored values and salts of the named
	// fields of the record at seq; it returns how many it removed.
	DeleteValues(seq uint64, fields []string) (int, error)
	// Prune removes the bodies of the records at seqs, their query
	// columns, values, findings and violations, keeping their record id,
	// record hash, tree hashes, signatures and status, and marks them
	// pruned as mark says. Records already pruned are left alone.
	Prune(seqs []uint64, mark audit.Pruning) error
	// Append links rec after the tip as it is (nothing is committed),
	// calls sign with it once its hash is known, and stores it, its
	// signatures and the new tree head. Call it once, last.
	Append(rec *audit.Record, sign func(*audit.Record) error) error
}

// ValueReader is implemented by stores that keep the values of committed
// fields: reading them is a deliberate act (package disclose decides who
// may), never a side effect of reading records.
type ValueReader interface {
	// FieldValues calls fn with every stored value of the records with
	// the given sequence numbers.
	FieldValues(ctx context.Context, seqs []uint64, fn func(seq uint64, v FieldValue) error) error
}

// Disclosure is the stored value as a record carries it: salt in hex, the
// value decoded.
func (v FieldValue) Disclosure() (audit.Disclosure, error) {
	val, err := canonical.Decode(v.Value)
	if err != nil {
		return audit.Disclosure{}, fmt.Errorf("the stored value of %s does not decode: %w", v.Field, err)
	}
	return audit.Disclosure{Salt: hex.EncodeToString(v.Salt), Value: val}, nil
}

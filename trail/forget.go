package trail

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/retention"
)

// Forgetting: redaction, retention and legal holds. Each removal is
// appended to the chain as a record signed by a key allowed to make the
// trail forget (a redactor: the keys of the settings' redaction.redactors,
// or the log key when none is named), in the transaction that removes;
// nothing is ever removed implicitly.

// ErrNotRedactor: the key is not allowed to make the trail forget.
var ErrNotRedactor = errors.New("the key is not allowed to redact or to apply retention")

// Redactors are the public keys allowed to make the trail forget: the
// settings' redactors, or the log key when the settings name none.
func (t *Trail) Redactors() []note.Verifier {
	var out []note.Verifier
	for _, k := range t.settings.Redaction.Redactors {
		if v, err := note.NewVerifier(k); err == nil {
			out = append(out, v)
		}
	}
	if len(out) == 0 && t.pub != nil {
		out = append(out, t.pub)
	}
	return out
}

// authorize checks that signer is one of the redactors.
func (t *Trail) authorize(signer note.Signer) error {
	if signer == nil {
		return fmt.Errorf("%w: no key was given", ErrNotRedactor)
	}
	for _, v := range t.Redactors() {
		if v.Name() == signer.Name() && v.KeyHash() == signer.KeyHash() {
			return nil
		}
	}
	var names []string
	for _, v := range t.Redactors() {
		names = append(names, Fingerprint(v))
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: this trail names no redactor key (redaction.redactors in %s) and has no log key", ErrNotRedactor, ConfigFile)
	}
	return fmt.Errorf("%w: %s+%08x is not one of the trail's redactor keys (%s; redaction.redactors in %s)", ErrNotRedactor,
		signer.Name(), signer.KeyHash(), strings.Join(names, ", "), ConfigFile)
}

// forgetter is the store's Forgetter, behind the cache when there is one
// (so that the cache drops what was removed).
func (t *Trail) forgetter() (ledger.Forgetter, error) {
	f, ok := t.store.(ledger.Forgetter)
	if !ok {
		return nil, fmt.Errorf("the store at %s cannot redact or prune", t.loc)
	}
	return f, nil
}

// signWith returns the callback that signs a record with signer as it is
// appended.
func signWith(signer note.Signer, now time.Time) func(*audit.Record) error {
	return func(r *audit.Record) error {
		sig, err := ledger.SignRecord(signer, r.RecordHash, now)
		if err != nil {
			return err
		}
		r.Signatures = append(r.Signatures, sig)
		return nil
	}
}

// RedactResult says what Redact did.
type RedactResult struct {
	// Record is the redacted record (without its values).
	Record *audit.Record
	// Redacted lists the fields whose values were removed now; Already
	// those that were gone before.
	Redacted, Already []string
	// Redaction is the record_redacted record appended (nil when nothing
	// was left to redact).
	Redaction *audit.Record
	// Store says how the store cleared the removed bytes.
	Store ledger.ForgetResult
}

// Redact removes the values (and salts) of the named committed fields of
// the record with id, keeping their commitments, and appends in the same
// transaction a record_redacted record saying who (signer) redacted what,
// when and why (reason), signed by signer, which must be a redactor. The
// record is checked first (hash, link, inclusion in the signed tree). A
// field the hash covers in the clear cannot be redacted
// (audit.ErrNotCommitted); fields already redacted are reported, not
// redacted again — a run that has nothing left to do appends nothing.
func (t *Trail) Redact(ctx context.Context, signer note.Signer, id string, fields []string, reason string) (RedactResult, error) {
	var res RedactResult
	if err := t.authorize(signer); err != nil {
		return res, err
	}
	if strings.TrimSpace(reason) == "" {
		return res, fmt.Errorf("%w: a redaction needs a reason", ErrOptions)
	}
	if len(fields) == 0 {
		return res, fmt.Errorf("%w: name the fields to redact (context.KEY or metadata.KEY)", ErrOptions)
	}
	f, err := t.forgetter()
	if err != nil {
		return res, err
	}
	var rep Report
	if err := t.verifyRecord(ctx, id, &rep); err != nil {
		return res, fmt.Errorf("refusing to redact: %w", err)
	}
	r, err := t.raw.Get(ctx, id)
	if err != nil {
		return res, err
	}
	res.Record = r
	if r.Pruned != nil {
		return res, fmt.Errorf("record %d (%s): %w (policy %s)", r.Sequence, r.RecordID, audit.ErrPruned, r.Pruned.Policy)
	}
	for _, field := range fields {
		if !r.Committed(field) {
			return res, fmt.Errorf("record %d (%s): %s: %w: the record hash covers it in the clear, so removing it would break the chain (only the context and metadata values of records whose classification is committed, such as confidential ones, can be redacted)",
				r.Sequence, r.RecordID, field, audit.ErrNotCommitted)
		}
	}
	slices.Sort(fields)
	fields = slices.Compact(fields)
	now := time.Now()
	res.Store, err = f.Forget(ctx, func(tx ledger.ForgetTx) error {
		var stored []string
		err := tx.Scan(r.Sequence, r.Sequence+1, func(raw *ledger.RawRecord) error {
			for _, v := range raw.Values {
				stored = append(stored, v.Field)
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.Redacted, res.Already = nil, nil
		for _, field := range fields {
			if slices.Contains(stored, field) {
				res.Redacted = append(res.Redacted, field)
			} else {
				res.Already = append(res.Already, field)
			}
		}
		if len(res.Redacted) == 0 {
			return errNothing
		}
		n, err := tx.DeleteValues(r.Sequence, res.Redacted)
		if err != nil {
			return err
		}
		if n != len(res.Redacted) {
			return fmt.Errorf("internal: %d values removed, %d expected", n, len(res.Redacted))
		}
		claim := ledger.RedactionClaim{RecordID: r.RecordID, Sequence: r.Sequence, RecordHash: r.RecordHash, Fields: res.Redacted}
		rec, err := ledger.NewRedactionRecord(claim, r, signer.Name(), reason)
		if err != nil {
			return err
		}
		if err := tx.Append(rec, signWith(signer, now)); err != nil {
			return err
		}
		res.Redaction = rec
		return nil
	})
	if errors.Is(err, errNothing) {
		return res, nil
	}
	return res, err
}

// errNothing ends a forgetting transaction that has nothing to do.
var errNothing = errors.New("nothing to forget")

// RetentionOptions tune ApplyRetention.
type RetentionOptions struct {
	// Now is the moment the policies are evaluated at (default now).
	Now time.Time
	// Reason is the retention record's reason (default: the policies).
	Reason string
	// DryRun counts what would be pruned and changes nothing.
	DryRun bool
	// Progress is called with the number of records examined.
	Progress func(n uint64)
}

// RetentionResult says what ApplyRetention did (or would do).
type RetentionResult struct {
	Claim ledger.RetentionClaim
	// Pruned counts the records pruned (or that would be).
	Pruned uint64
	// Record is the retention_applied record appended (nil when nothing
	// was pruned, and in a dry run).
	Record *audit.Record
	Store  ledger.ForgetResult
}

// retentionBlock is how many rows are examined, then pruned, at a time.
const retentionBlock = 8192

// ApplyRetention prunes the records the retention policies no longer keep
// and no legal hold protects: their bodies, query columns and values go,
// their record hashes and tree hashes stay. The whole trail is verified
// first (a record changed behind the log's back is never pruned, which
// would hide the change); then, in one transaction, the records are pruned
// and a retention_applied record is appended saying, per policy, how many
// records it pruned and which (the SHA-256 of their sequence numbers),
// signed by signer, which must be a redactor. With nothing to prune
// nothing is appended. Memory stays flat: rows are examined and pruned a
// block at a time.
func (t *Trail) ApplyRetention(ctx context.Context, signer note.Signer, o RetentionOptions) (RetentionResult, error) {
	var res RetentionResult
	if !o.DryRun {
		if err := t.authorize(signer); err != nil {
			return res, err
		}
	}
	if len(t.settings.Retention.Policies) == 0 {
		return res, fmt.Errorf("%w: the trail has no retention policies (retention.policies in %s)", ErrOptions, t.path(ConfigFile))
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if _, err := t.Verify(ctx, VerifyOptions{Chain: true}); err != nil {
		return res, fmt.Errorf("refusing to apply retention to a log that does not verify: %w", err)
	}
	holds, err := retention.Holds(ctx, t.raw)
	if err != nil {
		return res, err
	}
	ev, err := retention.NewEvaluator(t.settings.Retention, holds, o.Now)
	if err != nil {
		return res, err
	}
	policies, cutoffs := ev.Policies()
	claim := ledger.RetentionClaim{AppliedAt: audit.FormatTime(ev.Now), Holds: []string{}}
	for _, h := range holds {
		claim.Holds = append(claim.Holds, h.ID)
	}
	digests := make(map[string]*ledger.SequenceDigest, len(policies))
	for _, p := range policies {
		digests[p.Name] = ledger.NewSequenceDigest()
	}
	// examine decides a block of rows read through scan and prunes the
	// prunable ones with prune (nil in a dry run).
	examine := func(tip uint64, scan func(from, to uint64, fn func(*ledger.RawRecord) error) error, prune func([]uint64, audit.Pruning) error) error {
		batch := map[string][]uint64{}
		for from := uint64(0); from < tip; from += retentionBlock {
			to := min(from+retentionBlock, tip)
			clear(batch)
			err := scan(from, to, func(r *ledger.RawRecord) error {
				d, err := ev.Decide(r)
				if err != nil {
					return err
				}
				switch {
				case d.Prunable():
					digests[d.Policy.Name].Add(d.Seq)
					batch[d.Policy.Name] = append(batch[d.Policy.Name], d.Seq)
					res.Pruned++
				case d.Expired && d.Hold != nil && !d.Pruned:
					claim.KeptByHolds++
				}
				return nil
			})
			if err != nil {
				return err
			}
			if prune != nil {
				for _, p := range policies {
					if seqs := batch[p.Name]; len(seqs) > 0 {
						if err := prune(seqs, audit.Pruning{Policy: p.Name, RetentionSequence: tip}); err != nil {
							return err
						}
					}
				}
			}
			if o.Progress != nil {
				o.Progress(to)
			}
		}
		return nil
	}
	finish := func() {
		claim.Policies = nil
		for i, p := range policies {
			pc := ledger.PolicyClaim{Policy: p.Name, Keep: p.Keep, Cutoff: audit.FormatTime(cutoffs[i])}
			digests[p.Name].Claim(&pc)
			claim.Policies = append(claim.Policies, pc)
		}
		res.Claim = claim
	}
	if o.DryRun {
		head, err := t.raw.Head(ctx)
		if err != nil {
			return res, err
		}
		err = examine(head.Size, func(from, to uint64, fn func(*ledger.RawRecord) error) error {
			return t.raw.ScanRaw(ctx, from, to, fn)
		}, nil)
		finish()
		return res, err
	}
	f, err := t.forgetter()
	if err != nil {
		return res, err
	}
	now := time.Now()
	res.Store, err = f.Forget(ctx, func(tx ledger.ForgetTx) error {
		if err := examine(tx.Tip().Size, tx.Scan, tx.Prune); err != nil {
			return err
		}
		finish()
		if res.Pruned == 0 {
			return errNothing
		}
		reason := o.Reason
		if reason == "" {
			var names []string
			for _, p := range claim.Policies {
				if p.Records > 0 {
					names = append(names, fmt.Sprintf("%s (%s)", p.Policy, p.Keep))
				}
			}
			reason = "retention policies " + strings.Join(names, ", ")
		}
		rec, err := ledger.NewRetentionRecord(claim, t.id.Origin, signer.Name(), reason)
		if err != nil {
			return err
		}
		if err := tx.Append(rec, signWith(signer, now)); err != nil {
			return err
		}
		res.Record = rec
		return nil
	})
	if errors.Is(err, errNothing) {
		return res, nil
	}
	return res, err
}

// PlaceHold appends a legal_hold record: the records about target (or,
// when target is empty, those with from <= sequence < to) are kept from
// retention until the hold is released. Anyone who may append may place
// a hold (it only keeps data). The target's type is taken from the newest
// record about it, or tt when given.
func (t *Trail) PlaceHold(ctx context.Context, target string, tt audit.TargetType, from, to uint64, actor, reason string) (*audit.Record, error) {
	if target != "" && tt == "" {
		for r, err := range t.raw.Query(ctx, audit.Filter{Target: target, Newest: true, Limit: 1}) {
			if err != nil {
				return nil, err
			}
			tt = r.TargetType
		}
		if tt == "" {
			return nil, fmt.Errorf("%w: no record is about %s yet: give its target type", ErrOptions, target)
		}
	}
	rec, err := retention.NewHoldRecord(target, tt, from, to, t.id.Origin, actor, reason)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	if err := t.store.Append(ctx, []*audit.Record{rec}); err != nil {
		return nil, err
	}
	return rec, nil
}

// ReleaseHold appends the legal_hold_released record lifting the hold
// with id, signed by signer, which must be a redactor (releasing a hold
// lets retention prune what it kept).
func (t *Trail) ReleaseHold(ctx context.Context, signer note.Signer, id, reason string) (*audit.Record, error) {
	if err := t.authorize(signer); err != nil {
		return nil, err
	}
	holds, err := retention.Holds(ctx, t.raw)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(holds, func(h retention.Hold) bool { return h.ID == id }) {
		return nil, fmt.Errorf("%w: %s is not a legal hold in force", ErrOptions, id)
	}
	hold, err := t.raw.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	rec, err := retention.NewReleaseRecord(hold, signer.Name(), reason)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	ss, ok := t.store.(interface {
		AppendStreamSigned(context.Context, iter.Seq2[*audit.Record, error], func(*audit.Record) error) (int, error)
	})
	if !ok {
		return nil, fmt.Errorf("the store at %s cannot sign records as it appends them", t.loc)
	}
	_, err = ss.AppendStreamSigned(ctx, func(yield func(*audit.Record, error) bool) { yield(rec, nil) }, signWith(signer, time.Now()))
	return rec, err
}

// Holds lists the legal holds in force.
func (t *Trail) Holds(ctx context.Context) ([]retention.Hold, error) {
	return retention.Holds(ctx, t.raw)
}

// RetentionKeeps returns what collectors ask before they append a record:
// whether the trail's retention policies keep it at now (see
// retention.Evaluator.Keeps). Nil when the trail has no policies: every
// record is kept.
func (t *Trail) RetentionKeeps(ctx context.Context, now time.Time) (func(*audit.Record) bool, error) {
	if len(t.settings.Retention.Policies) == 0 {
		return nil, nil
	}
	holds, err := retention.Holds(ctx, t.raw)
	if err != nil {
		return nil, err
	}
	ev, err := retention.NewEvaluator(t.settings.Retention, holds, now)
	if err != nil {
		return nil, err
	}
	return ev.Keeps, nil
}

// RetentionSettings are the trail's retention policies.
func (t *Trail) RetentionSettings() retention.Settings { return t.settings.Retention }

package trail

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Selection chooses the records Sign signs. Fields combine: a record is
// signed when it is named in IDs, or when it matches every other field
// that is set.
type Selection struct {
	// IDs names records one by one.
	IDs []string
	// All selects every record (narrowed by the fields below).
	All bool
	// Unsigned leaves out the records the signer has signed already.
	Unsigned bool
	// From and To bound the sequence numbers (To 0: no upper bound).
	From, To uint64
	// Filter narrows by the record fields (target type, action, actor,
	// target, severity, time); its limit is ignored.
	Filter audit.Filter
}

// SignResult says what Sign did.
type SignResult struct {
	Signed  int    // signatures added
	Skipped int    // records already signed by the signer (with Unsigned)
	Pruned  int    // records whose content retention removed: not signed
	Size    uint64 // the log size the selection was taken from
}

// Sign adds signer's signature to the selected records, all in one
// transaction: every signature or none. A signature vouches for a record,
// so the records are checked first: a whole-log selection verifies the
// whole trail (with the log key), a selection by id checks each record
// and its inclusion in the latest signed head.
func (t *Trail) Sign(ctx context.Context, signer note.Signer, sel Selection) (SignResult, error) {
	var res SignResult
	adder, ok := t.store.(audit.SignatureAdder)
	if !ok {
		return res, fmt.Errorf("the store at %s cannot add signatures in one transaction", t.loc)
	}
	recs, from, to, err := t.selected(ctx, sel)
	if err != nil {
		return res, err
	}
	if to != ^uint64(0) {
		res.Size = to
	}
	now := time.Now()
	sigs := func(yield func(audit.RecordSignature, error) bool) {
		for r, err := range recs {
			switch {
			case err != nil:
			case r.Sequence < from || r.Sequence >= to:
				continue
			case r.Pruned != nil:
				res.Pruned++
				continue
			case sel.Unsigned && signedBy(r, signer.Name()):
				res.Skipped++
				continue
			}
			if !yield(signature(r, err, signer, now)) {
				return
			}
		}
	}
	n, err := adder.AddSignatures(ctx, sigs)
	res.Signed = n
	return res, err
}

// selected checks the records a selection names and returns them (from
// the store of record) with the sequence bounds they must lie in: records
// named by id are each checked with their inclusion in the latest signed
// head; any other selection verifies the whole trail first.
func (t *Trail) selected(ctx context.Context, sel Selection) (recs iter.Seq2[*audit.Record, error], from, to uint64, err error) {
	if len(sel.IDs) > 0 && !sel.All {
		var rep Report
		for _, id := range sel.IDs {
			if err := t.verifyRecord(ctx, id, &rep); err != nil {
				return nil, 0, 0, fmt.Errorf("refusing to sign %s: %w", id, err)
			}
		}
		recs = func(yield func(*audit.Record, error) bool) {
			for _, id := range sel.IDs {
				if !yield(t.raw.Get(ctx, id)) {
					return
				}
			}
		}
		return recs, 0, ^uint64(0), nil
	}
	rep, err := t.Verify(ctx, VerifyOptions{Chain: true})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("refusing to sign records of a log that does not verify: %w", err)
	}
	if err := sel.Filter.Validate(); err != nil {
		return nil, 0, 0, err
	}
	to = rep.Integrity.Size
	if sel.To != 0 && sel.To < to {
		to = sel.To
	}
	f := sel.Filter
	f.Limit = -1
	if f == (audit.Filter{Limit: -1}) {
		return t.raw.Range(ctx, sel.From, to), sel.From, to, nil
	}
	return t.raw.Query(ctx, f), sel.From, to, nil
}

func signedBy(r *audit.Record, name string) bool {
	return slices.ContainsFunc(r.Signatures, func(s audit.Signature) bool { return s.Signer == name })
}

// signature signs one record read from the store of record, refusing one
// whose content does not match its hash.
func signature(r *audit.Record, err error, signer note.Signer, now time.Time) (audit.RecordSignature, error) {
	if err != nil {
		return audit.RecordSignature{}, err
	}
	if r.Pruned != nil {
		return audit.RecordSignature{}, fmt.Errorf("record %d (%s): %w: refusing to sign what cannot be read", r.Sequence, r.RecordID, audit.ErrPruned)
	}
	if h, herr := r.Hash(); herr != nil || h != r.RecordHash {
		return audit.RecordSignature{}, fmt.Errorf("%w: record %d (%s) does not match its record_hash; refusing to sign it", ledger.ErrTampered, r.Sequence, r.RecordID)
	}
	sig, err := ledger.SignRecord(signer, r.RecordHash, now)
	return audit.RecordSignature{RecordID: r.RecordID, Signature: sig}, err
}

// Cosign co-signs a checkpoint of the trail with signer, after checking
// that it is signed by the log key and that the log — verified in full —
// extends it: the co-signature then vouches for every record of the
// checkpoint's tree.
func (t *Trail) Cosign(ctx context.Context, signer note.Signer, cpNote []byte) (ledger.Cosignature, error) {
	cs, ok := t.store.(ledger.CosignatureStore)
	if !ok {
		return ledger.Cosignature{}, fmt.Errorf("the store at %s keeps no co-signatures", t.loc)
	}
	rep, err := t.Verify(ctx, VerifyOptions{Checkpoints: []SavedCheckpoint{{Name: "the checkpoint", Note: cpNote}}})
	if err != nil {
		return ledger.Cosignature{}, fmt.Errorf("refusing to co-sign: %w", err)
	}
	if rep.Integrity == nil {
		return ledger.Cosignature{}, errors.New("internal: verification established nothing")
	}
	cp, err := t.openCheckpoint(cpNote)
	if err != nil {
		return ledger.Cosignature{}, err
	}
	c, err := ledger.Cosign(cp, signer, time.Now())
	if err != nil {
		return c, err
	}
	return c, cs.AddCosignature(ctx, c)
}

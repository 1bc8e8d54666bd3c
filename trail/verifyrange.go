package trail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// VerifyRange checks the records with from <= sequence < to without
// reading the whole log: each hashes to its record_hash, names its
// sequence, and links to the record before
// it (the first to record from-1); and the last is in the tree of the
// latest tree head (signed by the log key when there is one), by an
// inclusion proof. The hash links tie every record of the range to that
// tree: none can be changed without breaking a link or the proof. The
// error wraps ledger.ErrTampered when a check fails.
func (t *Trail) VerifyRange(ctx context.Context, from, to uint64) (*Report, error) {
	rep := &Report{}
	err := t.verifyRange(ctx, from, to, rep)
	rep.finish(err)
	return rep, err
}

func (t *Trail) verifyRange(ctx context.Context, from, to uint64, rep *Report) error {
	latest, err := t.raw.LatestTreeHead(ctx)
	if err != nil {
		return err
	}
	if latest == nil {
		return rep.fail("range", fmt.Errorf("%w: the log has no tree head (it is empty, or its heads were deleted)", ErrOptions))
	}
	if from >= to || to > latest.Size {
		return rep.fail("range", fmt.Errorf("%w: range %d..%d: want from < to <= %d, the size of the latest tree head", ErrOptions, from, to, latest.Size))
	}
	prev := audit.GenesisHash
	if from > 0 {
		found := false
		for p, err := range t.raw.Range(ctx, from-1, from) {
			if err != nil {
				return err
			}
			prev, found = p.RecordHash, true
		}
		if !found {
			return rep.fail("range", &ledger.ChainError{Seq: from - 1, Reason: "missing: the record before the range is not in the store"})
		}
	}
	next := from
	var last [32]byte
	err = t.raw.ScanRaw(ctx, from, to, func(raw *ledger.RawRecord) error {
		fail := func(reason string) error { return &ledger.ChainError{Seq: raw.Seq, Reason: reason} }
		if raw.Seq != next {
			return &ledger.ChainError{Seq: next, Reason: "missing: the sequence has a gap"}
		}
		if raw.Pruned != nil && len(raw.Body) == 0 && len(raw.Hash) == 32 {
			// Retention removed the body: the record hash stays, named by
			// the next record's link and covered by the tree.
			prev, last, next = hex.EncodeToString(raw.Hash), [32]byte(raw.Hash), next+1
			return nil
		}
		sum := sha256.Sum256(raw.Body)
		if !bytes.Equal(sum[:], raw.Hash) {
			return fail("record_hash mismatch: the stored content does not hash to the stored record_hash (the record was changed)")
		}
		seq, prevHash, _, err := ledger.ChainFields(raw.Body)
		if err != nil {
			return fail("the stored content is not a record: " + err.Error())
		}
		if seq != raw.Seq {
			return fail(fmt.Sprintf("the record names sequence %d", seq))
		}
		if prevHash != prev {
			return fail("previous_hash mismatch: it does not link to the record before it")
		}
		prev, last, next = hex.EncodeToString(sum[:]), sum, next+1
		return nil
	})
	if err != nil {
		return rep.fail("range", err)
	}
	if next != to {
		return rep.fail("range", &ledger.ChainError{Seq: next, Reason: "missing: the record is not in the store"})
	}
	root, how := latest.Root, "unsigned"
	if t.pub != nil {
		cp, err := ledger.OpenHead(*latest, t.id.Origin, t.pub)
		if err != nil {
			return rep.fail("range", &ledger.ChainError{Seq: latest.Size, Reason: err.Error()})
		}
		root, how = cp.Root, "signed"
	}
	proof, err := tlog.ProveRecord(int64(latest.Size), int64(to-1), t.hashReader(ctx))
	if err == nil {
		err = tlog.CheckRecord(proof, int64(latest.Size), root, int64(to-1), ledger.LeafHash(last))
	}
	if err != nil {
		return rep.fail("range", &ledger.ChainError{Seq: to - 1, Reason: "not included in the tree of the latest tree head: " + err.Error()})
	}
	rep.add("range", true, "records %d..%d (%s): hashes and links intact, the last included in the %s tree head of %s",
		from, to-1, plural.Count(to-from, "record"), how, plural.Count(latest.Size, "record"))
	return nil
}

package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// tamperLog is a signed log of single-record batches (so each record has
// its own tree head) with a checkpoint saved before any tampering.
type tamperLog struct {
	inst *Instance
	v    Verifiable
	recs []*audit.Record
	cp   ledger.Checkpoint
	key  note.Verifier
}

const tamperSize = 12

func newTamperLog(t *testing.T, h Harness) *tamperLog {
	t.Helper()
	opts := defaultOpts()
	signer, key := newLogKey(t, opts.Origin)
	opts.Signer, opts.Verifier = signer, key
	inst, v := open(t, h, opts)
	if inst.Tamper == nil {
		t.Skip("the harness has no Tamperer")
	}
	recs := samples(tamperSize)
	for _, r := range recs {
		if err := inst.Store.Append(context.Background(), []*audit.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	res := verify(t, v)
	return &tamperLog{inst: inst, v: v, recs: recs, key: key,
		cp: ledger.Checkpoint{Origin: v.Origin(), Size: res.Size, Root: res.Root}}
}

// wantChainError checks that err is a *ledger.ChainError naming seq (and
// id, when not empty) with a reason containing reason.
func wantChainError(t *testing.T, what string, err error, seq uint64, id, reason string) {
	t.Helper()
	var ce *ledger.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: error %v, want a ChainError naming record %d", what, err, seq)
	}
	if !errors.Is(err, ledger.ErrTampered) {
		t.Errorf("%s: %v does not wrap ErrTampered", what, err)
	}
	if ce.Seq != seq || (id != "" && ce.RecordID != id) || !strings.Contains(ce.Reason, reason) {
		t.Errorf("%s: got %v; want record %d %s, reason containing %q", what, err, seq, id, reason)
	}
}

// check runs what verify runs: the whole store with the log key, then the
// saved checkpoint (only when the store verified).
func (l *tamperLog) check(ctx context.Context) (store, cp error) {
	res, err := ledger.Verify(ctx, l.v, ledger.Options{Key: l.key, RootsAt: []uint64{l.cp.Size}})
	if err != nil {
		return err, nil
	}
	return nil, ledger.CheckCheckpoint(l.cp, res.VerifyResult, l.v.HashReader(ctx))
}

// checkpointOnly checks the saved checkpoint against the chain alone, as
// a verifier holding only the checkpoint would.
func (l *tamperLog) checkpointOnly(ctx context.Context) error {
	res, err := ledger.VerifyChain(ctx, l.v, ledger.VerifyOptions{Difficulty: l.v.Difficulty(), RootsAt: []uint64{l.cp.Size}})
	if err != nil {
		return err
	}
	return ledger.CheckCheckpoint(l.cp, res, l.v.HashReader(ctx))
}

// appendRefused checks that an append by the log key's holder, in a new
// process (the store opened again), is refused as tampering and stores
// nothing. (A process that built the tree itself extends its own tree,
// which is the one it signed.)
func (l *tamperLog) appendRefused(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if l.inst.Reopen == nil {
		t.Skip("the harness cannot open the store again")
	}
	s, err := l.inst.Reopen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, err := l.v.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Append(ctx, []*audit.Record{Sample(100)})
	if !errors.Is(err, ledger.ErrTampered) {
		t.Fatalf("append over a tampered log: %v, want a refusal wrapping ErrTampered", err)
	}
	after, err := l.v.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Records != before.Records || after.Heads != before.Heads {
		t.Fatalf("the refused append stored something: %d→%d records, %d→%d heads", before.Records, after.Records, before.Heads, after.Heads)
	}
}

// relink recomputes the hashes and tree hashes of the records from seq k
// on after edit changed record k, as an attacker rewriting history would,
// and stores them.
func (l *tamperLog) relink(t *testing.T, k uint64, edit func(*audit.Record)) {
	t.Helper()
	ctx := context.Background()
	tail := collect(t, l.inst.Store.Range(ctx, k, ^uint64(0)))
	edit(tail[0])
	tip := audit.Head{Size: k, Hash: audit.GenesisHash}
	if k > 0 {
		tip.Hash = l.recs[k-1].RecordHash
	}
	for _, r := range tail {
		r.Signatures = nil
	}
	entries, _, err := ledger.Link(tip, tail, ledger.Params{Difficulty: l.v.Difficulty()}, l.v.HashReader(ctx))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		row := Row{Seq: e.Record.Sequence, ID: e.Record.RecordID, Hash: bytes.Clone(e.Hash[:]), Body: e.Body, Tree: e.TreeBlob()}
		if err := l.inst.Tamper.PutRow(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
}

// rewriteHeads replaces the tree heads from size from on with the roots of
// the current (tampered) records, unsigned or signed by signer.
func (l *tamperLog) rewriteHeads(t *testing.T, from uint64, signer note.Signer) {
	t.Helper()
	ctx := context.Background()
	if err := l.inst.Tamper.DeleteHeads(ctx, from); err != nil {
		t.Fatal(err)
	}
	for size := from; size <= tamperSize; size++ {
		root, err := ledger.TreeRoot(size, l.v.HashReader(ctx))
		if err != nil {
			t.Fatal(err)
		}
		var msg []byte
		if signer != nil {
			if msg, err = (ledger.Checkpoint{Origin: l.v.Origin(), Size: size, Root: root}).Sign(signer); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.inst.Tamper.PutHead(ctx, size, root, msg); err != nil {
			t.Fatal(err)
		}
	}
}

func testTamper(t *testing.T, h Harness) {
	const k = 5
	ctx := context.Background()
	t.Run("untouched", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if st, cp := l.check(ctx); st != nil || cp != nil {
			t.Fatalf("an untouched log fails: store %v, checkpoint %v", st, cp)
		}
		// The store still appends, and the log still verifies.
		appendAll(t, l.inst.Store, samples(3))
		if st, cp := l.check(ctx); st != nil || cp != nil {
			t.Fatalf("after appending: store %v, checkpoint %v", st, cp)
		}
	})
	t.Run("body field changed", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		row := readRow(t, l.v, k)
		row.Body = bytes.Replace(row.Body, []byte(`"reason":"reason 5"`), []byte(`"reason":"reason X"`), 1)
		if err := l.inst.Tamper.PutRow(ctx, row); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, l.recs[k].RecordID, "record_hash mismatch")
	})
	for _, field := range []string{"actor", "action", "target", "target_type", "severity", "reason", "source"} {
		t.Run("column "+field+" changed", func(t *testing.T) {
			t.Parallel()
			l := newTamperLog(t, h)
			value := "mallory"
			if field == "target_type" {
				value = string(audit.TargetGit)
			}
			if field == "severity" {
				value = string(audit.SeverityCritical)
			}
			if err := l.inst.Tamper.SetColumn(ctx, k, field, value); err != nil {
				t.Fatal(err)
			}
			st, _ := l.check(ctx)
			wantChainError(t, "verify", st, k, l.recs[k].RecordID, "")
		})
	}
	t.Run("record hash changed", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		row := readRow(t, l.v, k)
		row.Hash[0] ^= 1
		if err := l.inst.Tamper.PutRow(ctx, row); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, l.recs[k].RecordID, "record_hash mismatch")
	})
	t.Run("tree hash changed", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		row := readRow(t, l.v, k)
		row.Tree[len(row.Tree)-1] ^= 1
		if err := l.inst.Tamper.PutRow(ctx, row); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, l.recs[k].RecordID, "Merkle")
	})
	t.Run("middle record deleted", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if err := l.inst.Tamper.DeleteRows(ctx, k, k+1); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, "", "missing")
	})
	t.Run("two records swapped", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if err := l.inst.Tamper.SwapRows(ctx, k, k+2); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, l.recs[k+2].RecordID, "swapped")
	})
	for name, seq := range map[string]int64{"a row with a negative sequence": -1, "a row beyond the tip": tamperSize + 3, "a row just after the tip": tamperSize} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := newTamperLog(t, h)
			if err := l.inst.Tamper.AddStrayRow(ctx, 3, seq); err != nil {
				t.Fatal(err)
			}
			st, _ := l.check(ctx)
			if !errors.Is(st, ledger.ErrTampered) {
				t.Fatalf("verify with a stray row at sequence %d: %v, want a failure", seq, st)
			}
			// Reading the store never panics on such a row.
			for _, err := range l.inst.Store.Query(ctx, audit.Filter{Limit: -1}) {
				if err != nil {
					t.Fatalf("query: %v", err)
				}
			}
			for _, err := range l.inst.Store.Range(ctx, 0, ^uint64(0)) {
				if err != nil {
					t.Fatalf("range: %v", err)
				}
			}
		})
	}
	t.Run("tail truncated", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if err := l.inst.Tamper.DeleteRows(ctx, k, tamperSize); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, "", "removed from the end")
		wantChainError(t, "checkpoint", l.checkpointOnly(ctx), k, "", "removed from the end")
		l.appendRefused(t)
		// The attacker also drops the heads after the new end: the store
		// is then a shorter log that the key signed, and only the saved
		// checkpoint (or a witness) can tell.
		if err := l.inst.Tamper.DeleteHeads(ctx, k+1); err != nil {
			t.Fatal(err)
		}
		st, cp := l.check(ctx)
		if st != nil {
			t.Fatalf("a log truncated at a signed head: %v (only a checkpoint can catch this)", st)
		}
		wantChainError(t, "checkpoint", cp, k, "", "removed from the end")
	})
	t.Run("tail rewritten with recomputed hashes", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Reason = "nothing happened" })
		if err := l.checkpointOnly(ctx); err == nil {
			t.Fatal("a checkpoint of the original log accepts the rewrite")
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, "", "record 5 was changed")
		l.appendRefused(t)
	})
	t.Run("last record rewritten", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, tamperSize-1, func(r *audit.Record) { r.Actor = "mallory" })
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, tamperSize-1, "", "record 11 was changed")
		l.appendRefused(t)
	})
	t.Run("tail and heads rewritten, heads unsigned", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Target = "svc/other" })
		// Without the log key, the attacker stores unsigned heads.
		l.rewriteHeads(t, k+1, nil)
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, tamperSize, "", "not signed")
		l.appendRefused(t)
	})
	t.Run("heads signed by another key", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Target = "svc/other" })
		other, _ := newLogKey(t, l.v.Origin())
		l.rewriteHeads(t, k+1, other)
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, tamperSize, "", "does not check")
		l.appendRefused(t)
	})
	t.Run("tail rewritten and its heads dropped", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Severity = audit.SeverityCritical })
		if err := l.inst.Tamper.DeleteHeads(ctx, k+1); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, k, "", "not covered by any tree head")
		l.appendRefused(t)
	})
	t.Run("every head deleted", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if err := l.inst.Tamper.DeleteHeads(ctx, 0); err != nil {
			t.Fatal(err)
		}
		st, _ := l.check(ctx)
		wantChainError(t, "verify", st, 0, "", "no tree head")
		l.appendRefused(t)
	})
	t.Run("appends after the checkpoint keep it valid", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		appendAll(t, l.inst.Store, samples(9))
		if st, cp := l.check(ctx); st != nil || cp != nil {
			t.Fatalf("store %v, checkpoint %v", st, cp)
		}
	})
}

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
	inst  *Instance
	v     Verifiable
	recs  []*audit.Record
	cp    ledger.Checkpoint
	known note.Verifiers
}

const tamperSize = 12

func newTamperLog(t *testing.T, h Harness) *tamperLog {
	t.Helper()
	opts := defaultOpts()
	signer, known := newLogKey(t, opts.Origin)
	opts.Signer = signer
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
	return &tamperLog{inst: inst, v: v, recs: recs, known: known,
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

// check runs the three checks verify runs: the chain, the stored tree
// heads and the saved checkpoint.
func (l *tamperLog) check(ctx context.Context) (chain, heads, cp error) {
	res, chain := ledger.VerifyChain(ctx, l.v, ledger.VerifyOptions{Difficulty: l.v.Difficulty(), RootsAt: []uint64{l.cp.Size}})
	if chain != nil {
		return chain, nil, nil
	}
	hr := l.v.HashReader(ctx)
	_, heads = ledger.CheckHeads(ctx, l.v, res.Size, hr, l.v.Origin(), l.known)
	cp = ledger.CheckCheckpoint(l.cp, res, hr)
	return chain, heads, cp
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
	entries, _, err := ledger.Link(tip, tail, l.v.Difficulty(), l.v.HashReader(ctx))
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
		chain, heads, cp := l.check(ctx)
		if chain != nil || heads != nil || cp != nil {
			t.Fatalf("an untouched log fails: chain %v, heads %v, checkpoint %v", chain, heads, cp)
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
		chain, _, _ := l.check(ctx)
		wantChainError(t, "chain", chain, k, l.recs[k].RecordID, "record_hash mismatch")
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
			chain, _, _ := l.check(ctx)
			wantChainError(t, "chain", chain, k, l.recs[k].RecordID, "")
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
		chain, _, _ := l.check(ctx)
		wantChainError(t, "chain", chain, k, l.recs[k].RecordID, "record_hash mismatch")
	})
	t.Run("tree hash changed", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		row := readRow(t, l.v, k)
		row.Tree[len(row.Tree)-1] ^= 1
		if err := l.inst.Tamper.PutRow(ctx, row); err != nil {
			t.Fatal(err)
		}
		chain, _, _ := l.check(ctx)
		wantChainError(t, "chain", chain, k, l.recs[k].RecordID, "Merkle")
	})
	t.Run("middle record deleted", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if err := l.inst.Tamper.DeleteRows(ctx, k, k+1); err != nil {
			t.Fatal(err)
		}
		chain, _, _ := l.check(ctx)
		wantChainError(t, "chain", chain, k, "", "missing")
	})
	t.Run("two records swapped", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if err := l.inst.Tamper.SwapRows(ctx, k, k+2); err != nil {
			t.Fatal(err)
		}
		chain, _, _ := l.check(ctx)
		wantChainError(t, "chain", chain, k, l.recs[k+2].RecordID, "swapped")
	})
	t.Run("tail truncated", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		if err := l.inst.Tamper.DeleteRows(ctx, k, tamperSize); err != nil {
			t.Fatal(err)
		}
		chain, heads, cp := l.check(ctx)
		if chain != nil {
			t.Fatalf("chain of the remaining records: %v", chain)
		}
		wantChainError(t, "tree heads", heads, k, "", "removed from the end")
		wantChainError(t, "checkpoint", cp, k, "", "removed from the end")
		// The attacker also drops the heads: the saved checkpoint still
		// catches it.
		if err := l.inst.Tamper.DeleteHeads(ctx, k+1); err != nil {
			t.Fatal(err)
		}
		chain, heads, cp = l.check(ctx)
		if chain != nil || heads != nil {
			t.Fatalf("chain %v, heads %v after dropping the heads too", chain, heads)
		}
		wantChainError(t, "checkpoint", cp, k, "", "removed from the end")
	})
	t.Run("tail rewritten with recomputed hashes", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Reason = "nothing happened" })
		chain, heads, cp := l.check(ctx)
		if chain != nil {
			t.Fatalf("a consistently rewritten chain should pass the chain check (only heads and checkpoints catch it): %v", chain)
		}
		wantChainError(t, "tree heads", heads, k, "", "record 5 was changed")
		wantChainError(t, "checkpoint", cp, 0, "", "rewritten")
	})
	t.Run("last record rewritten", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, tamperSize-1, func(r *audit.Record) { r.Actor = "mallory" })
		_, heads, cp := l.check(ctx)
		wantChainError(t, "tree heads", heads, tamperSize-1, "", "record 11 was changed")
		wantChainError(t, "checkpoint", cp, 0, "", "rewritten")
	})
	t.Run("tail and heads rewritten", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Target = "svc/other" })
		// Without the log key, the attacker stores unsigned heads.
		l.rewriteHeads(t, k+1, nil)
		chain, heads, cp := l.check(ctx)
		if chain != nil || heads != nil {
			t.Fatalf("chain %v, heads %v", chain, heads)
		}
		wantChainError(t, "checkpoint", cp, 0, "", "rewritten")
	})
	t.Run("heads signed by another key", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Target = "svc/other" })
		other, _ := newLogKey(t, l.v.Origin())
		l.rewriteHeads(t, k+1, other)
		_, heads, cp := l.check(ctx)
		wantChainError(t, "tree heads", heads, tamperSize, "", "does not check")
		wantChainError(t, "checkpoint", cp, 0, "", "rewritten")
	})
	t.Run("tail rewritten and heads dropped", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		l.relink(t, k, func(r *audit.Record) { r.Severity = audit.SeverityCritical })
		if err := l.inst.Tamper.DeleteHeads(ctx, k+1); err != nil {
			t.Fatal(err)
		}
		_, heads, cp := l.check(ctx)
		if heads != nil {
			t.Fatalf("heads: %v", heads)
		}
		wantChainError(t, "checkpoint", cp, 0, "", "rewritten")
	})
	t.Run("appends after the checkpoint keep it valid", func(t *testing.T) {
		t.Parallel()
		l := newTamperLog(t, h)
		appendAll(t, l.inst.Store, samples(9))
		chain, heads, cp := l.check(ctx)
		if chain != nil || heads != nil || cp != nil {
			t.Fatalf("chain %v, heads %v, checkpoint %v", chain, heads, cp)
		}
	})
}

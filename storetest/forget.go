package storetest

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// forgetLog is a signed log with confidential records (every third
// sample), a checkpoint saved before anything was forgotten, and the log
// key as the one key allowed to make it forget.
type forgetLog struct {
	t      *testing.T
	inst   *Instance
	v      Verifiable
	recs   []*audit.Record
	cp     ledger.Checkpoint
	signer note.Signer
	key    note.Verifier
}

const forgetSize = 16

func newForgetLog(t *testing.T, h Harness) *forgetLog {
	t.Helper()
	opts := defaultOpts()
	signer, key := newLogKey(t, opts.Origin)
	opts.Signer, opts.Verifier = signer, key
	inst, v := open(t, h, opts)
	recs := samples(forgetSize)
	appendAll(t, inst.Store, recs)
	l := &forgetLog{t: t, inst: inst, v: v, recs: recs, signer: signer, key: key}
	res := verify(t, v)
	l.cp = ledger.Checkpoint{Origin: v.Origin(), Size: res.Size, Root: res.Root}
	return l
}

// check verifies the whole store as 'verify' does (log key, redactors,
// the saved checkpoint).
func (l *forgetLog) check() (ledger.Result, error) {
	ctx := context.Background()
	res, err := ledger.Verify(ctx, l.v, ledger.Options{Key: l.key, Redactors: []note.Verifier{l.key}, RootsAt: []uint64{l.cp.Size}})
	if err != nil {
		return res, err
	}
	return res, ledger.CheckCheckpoint(l.cp, res.VerifyResult, l.v.HashReader(ctx))
}

func (l *forgetLog) verify() ledger.Result {
	l.t.Helper()
	res, err := l.check()
	if err != nil {
		l.t.Fatalf("verify: %v", err)
	}
	return res
}

// forgetter is the store's Forgetter.
func (l *forgetLog) forgetter() ledger.Forgetter {
	l.t.Helper()
	f, ok := l.inst.Store.(ledger.Forgetter)
	if !ok {
		l.t.Fatalf("%T does not implement ledger.Forgetter", l.inst.Store)
	}
	return f
}

func signBy(s note.Signer) func(*audit.Record) error {
	return func(r *audit.Record) error {
		sig, err := ledger.SignRecord(s, r.RecordHash, time.Now())
		r.Signatures = append(r.Signatures, sig)
		return err
	}
}

// redact removes the values of fields of record seq as trail.Redact does,
// the redaction record signed by signer.
func (l *forgetLog) redact(seq uint64, signer note.Signer, fields ...string) *audit.Record {
	l.t.Helper()
	r := l.recs[seq]
	var rec *audit.Record
	_, err := l.forgetter().Forget(context.Background(), func(tx ledger.ForgetTx) error {
		n, err := tx.DeleteValues(seq, fields)
		if err != nil {
			return err
		}
		if n != len(fields) {
			l.t.Errorf("%d values removed, want %d", n, len(fields))
		}
		claim := ledger.RedactionClaim{RecordID: r.RecordID, Sequence: seq, RecordHash: r.RecordHash, Fields: fields}
		if rec, err = ledger.NewRedactionRecord(claim, r, signer.Name(), "erasure request"); err != nil {
			return err
		}
		return tx.Append(rec, signBy(signer))
	})
	if err != nil {
		l.t.Fatalf("redact %v of record %d: %v", fields, seq, err)
	}
	return rec
}

// prune prunes the records seqs under policy as trail.ApplyRetention
// does.
func (l *forgetLog) prune(policy string, seqs ...uint64) *audit.Record {
	l.t.Helper()
	var rec *audit.Record
	_, err := l.forgetter().Forget(context.Background(), func(tx ledger.ForgetTx) error {
		tip := tx.Tip().Size
		if err := tx.Prune(seqs, audit.Pruning{Policy: policy, RetentionSequence: tip}); err != nil {
			return err
		}
		d := ledger.NewSequenceDigest()
		for _, s := range seqs {
			d.Add(s)
		}
		pc := ledger.PolicyClaim{Policy: policy, Keep: "1d", Cutoff: audit.FormatTime(base)}
		d.Claim(&pc)
		claim := ledger.RetentionClaim{AppliedAt: audit.FormatTime(time.Now()), Policies: []ledger.PolicyClaim{pc}, Holds: []string{}}
		var err error
		if rec, err = ledger.NewRetentionRecord(claim, l.v.Origin(), l.signer.Name(), "retention"); err != nil {
			return err
		}
		return tx.Append(rec, signBy(l.signer))
	})
	if err != nil {
		l.t.Fatalf("prune %v: %v", seqs, err)
	}
	return rec
}

// storedValues reads the fields whose values the store keeps for seq.
func (l *forgetLog) storedValues(seq uint64) []string {
	l.t.Helper()
	var out []string
	err := l.inst.Store.(ledger.ValueReader).FieldValues(context.Background(), []uint64{seq}, func(_ uint64, v ledger.FieldValue) error {
		out = append(out, v.Field)
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// proveAgainstCheckpoint proves record seq is in the saved checkpoint's
// tree, from the store's tree hashes and the record's stored hash.
func (l *forgetLog) proveAgainstCheckpoint(seq uint64) {
	l.t.Helper()
	ctx := context.Background()
	r, err := l.inst.Store.Get(ctx, l.recs[seq].RecordID)
	if err != nil {
		l.t.Fatal(err)
	}
	if r.Pruned == nil {
		if h, err := r.Hash(); err != nil || h != l.recs[seq].RecordHash {
			l.t.Fatalf("record %d read back hashes to %s (%v), not its record hash", seq, h, err)
		}
	}
	proof, err := tlog.ProveRecord(int64(l.cp.Size), int64(seq), l.v.HashReader(ctx))
	if err != nil {
		l.t.Fatal(err)
	}
	sum, _ := hex.DecodeString(r.RecordHash)
	if err := tlog.CheckRecord(proof, int64(l.cp.Size), l.cp.Root, int64(seq), ledger.LeafHash([32]byte(sum))); err != nil {
		l.t.Fatalf("record %d is not proven in the checkpoint of size %d: %v", seq, l.cp.Size, err)
	}
}

// confidential is a sample with commitments; its context members are
// "i", "nested" and "refers".
const confidential = 3

func testForget(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("redact", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		if got := l.storedValues(confidential); !slices.Contains(got, "context.refers") {
			t.Fatalf("record %d keeps values %v", confidential, got)
		}
		red := l.redact(confidential, l.signer, "context.refers")
		res := l.verify()
		f := res.Forgotten
		if f == nil || f.RedactedFields != 1 || len(f.Redactions) != 1 {
			t.Fatalf("verify reports %+v, want one redacted field", f)
		}
		r := f.Redactions[0]
		if r.RecordID != red.RecordID || r.Claim.Sequence != confidential || !slices.Equal(r.Claim.Fields, []string{"context.refers"}) ||
			r.Reason != "erasure request" || !slices.Equal(r.SignedBy, []string{l.key.Name()}) {
			t.Errorf("redaction reported as %+v", r)
		}
		if diff := cmp.Diff([]string{"context.i", "context.nested", "metadata.run"}, l.storedValues(confidential)); diff != "" {
			t.Errorf("values left (-want +got):\n%s", diff)
		}
		// The record, its hash and its proof are unchanged.
		l.proveAgainstCheckpoint(confidential)
		got, err := l.inst.Store.Get(ctx, l.recs[confidential].RecordID)
		if err != nil || !got.Committed("context.refers") {
			t.Fatalf("the redacted record read back: %+v, %v", got, err)
		}
		// A value that remains cannot be changed.
		if err := l.inst.Tamper.SetValue(ctx, confidential, "context.i", []byte("42")); err != nil {
			t.Fatal(err)
		}
		_, err = l.check()
		wantChainError(t, "verify", err, confidential, l.recs[confidential].RecordID, "does not match its commitment")
	})
	t.Run("value deleted behind the log's back", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		if err := l.inst.Tamper.DeleteValue(ctx, confidential, "context.i"); err != nil {
			t.Fatal(err)
		}
		_, err := l.check()
		wantChainError(t, "verify", err, confidential, l.recs[confidential].RecordID, "no redaction record")
	})
	t.Run("value added to a record without commitments", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		if err := l.inst.Tamper.SetValue(ctx, 4, "context.i", []byte("4")); err != nil {
			t.Fatal(err)
		}
		_, err := l.check()
		wantChainError(t, "verify", err, 4, l.recs[4].RecordID, "commits to none")
	})
	t.Run("redaction not signed by a redactor", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		other, _ := newLogKey(t, "mallory")
		red := l.redact(confidential, other, "context.i")
		_, err := l.check()
		wantChainError(t, "verify", err, uint64(forgetSize), red.RecordID, "forged")
	})
	t.Run("forged redaction record", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		r := l.recs[confidential]
		claim := ledger.RedactionClaim{RecordID: r.RecordID, Sequence: confidential, RecordHash: r.RecordHash, Fields: []string{"context.i"}}
		rec, err := ledger.NewRedactionRecord(claim, r, "mallory", "cover-up")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.inst.Store.Append(ctx, []*audit.Record{rec}); err != nil {
			t.Fatal(err)
		}
		if err := l.inst.Tamper.DeleteValue(ctx, confidential, "context.i"); err != nil {
			t.Fatal(err)
		}
		_, err = l.check()
		wantChainError(t, "verify", err, uint64(forgetSize), rec.RecordID, "forged")
	})
	t.Run("redaction of a value still stored", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		l.redact(confidential, l.signer, "context.i")
		if err := l.inst.Tamper.SetValue(ctx, confidential, "context.i", []byte("3")); err != nil {
			t.Fatal(err)
		}
		_, err := l.check()
		var ce *ledger.ChainError
		if !errors.As(err, &ce) || !errors.Is(err, ledger.ErrTampered) {
			t.Fatalf("a value back after its redaction: %v", err)
		}
	})
	t.Run("prune", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		pruned := []uint64{0, 1, 2, confidential, 5, 9}
		ret := l.prune("logs", pruned...)
		res := l.verify()
		if f := res.Forgotten; f == nil || f.Pruned != uint64(len(pruned)) || len(f.Retentions) != 1 || f.Retentions[0].RecordID != ret.RecordID ||
			f.Retentions[0].Claim.Policies[0].Records != uint64(len(pruned)) || !slices.Equal(f.Retentions[0].SignedBy, []string{l.key.Name()}) {
			t.Fatalf("verify reports %+v", res.Forgotten)
		}
		for _, seq := range []uint64{4, 6, 10, 15} {
			l.proveAgainstCheckpoint(seq)
		}
		for _, seq := range pruned {
			l.proveAgainstCheckpoint(seq) // by its stored hash
			got, err := l.inst.Store.Get(ctx, l.recs[seq].RecordID)
			if err != nil {
				t.Fatal(err)
			}
			want := audit.Pruning{Policy: "logs", RetentionSequence: forgetSize}
			if got.Pruned == nil || *got.Pruned != want || got.RecordHash != l.recs[seq].RecordHash || got.Actor != "" || len(got.Context) > 0 {
				t.Errorf("record %d read back as %+v", seq, got)
			}
		}
		if v := l.storedValues(confidential); len(v) > 0 {
			t.Errorf("the pruned record %d keeps values %v", confidential, v)
		}
		all := collect(t, l.inst.Store.Range(ctx, 0, forgetSize+1))
		if len(all) != forgetSize+1 || all[1].Pruned == nil {
			t.Errorf("Range yields %d records, record 1 pruned %v", len(all), all[1].Pruned)
		}
		for _, r := range collect(t, l.inst.Store.Query(ctx, audit.Filter{Until: base.Add(24 * time.Hour), Limit: -1})) {
			if r.Pruned != nil {
				t.Errorf("a query by time yields the pruned record %d", r.Sequence)
			}
		}
		// Retention again, later: the records pruned stay as they are.
		l.prune("later", 11)
		l.verify()
	})
	t.Run("redacted, then pruned", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		l.redact(confidential, l.signer, "context.i")
		l.prune("logs", confidential, 4)
		// The redaction still checks; the record it redacted is gone.
		if res := l.verify(); len(res.Forgotten.Redactions) != 1 || res.Forgotten.Pruned != 2 {
			t.Errorf("verify reports %+v", res.Forgotten)
		}
	})
	t.Run("pruned behind the log's back", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		l.prune("logs", 1, 2)
		// Another record marked pruned by the genuine retention record.
		if err := l.inst.Tamper.PruneRow(ctx, 7, audit.Pruning{Policy: "logs", RetentionSequence: forgetSize}); err != nil {
			t.Fatal(err)
		}
		_, err := l.check()
		wantChainError(t, "verify", err, forgetSize, "", "not the same ones")
	})
	t.Run("pruned by no retention record", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		if err := l.inst.Tamper.PruneRow(ctx, 7, audit.Pruning{Policy: "logs", RetentionSequence: 12}); err != nil {
			t.Fatal(err)
		}
		_, err := l.check()
		wantChainError(t, "verify", err, 7, "", "not a retention record")
	})
	t.Run("pruned under another policy", func(t *testing.T) {
		t.Parallel()
		l := newForgetLog(t, h)
		l.prune("logs", 1, 2)
		if err := l.inst.Tamper.PruneRow(ctx, 7, audit.Pruning{Policy: "other", RetentionSequence: forgetSize}); err != nil {
			t.Fatal(err)
		}
		_, err := l.check()
		wantChainError(t, "verify", err, forgetSize, "", "which it does not name")
	})
}

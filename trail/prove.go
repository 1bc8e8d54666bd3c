package trail

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Checkpoint verifies the whole trail and returns its latest tree head as
// a signed checkpoint: the head the log key signed when the records were
// appended. Nothing new is signed, so nothing can be signed that the log
// did not sign when it grew; a trail that does not verify, or whose latest
// head is not signed by its key, gets no checkpoint (the error wraps
// ledger.ErrTampered).
func (t *Trail) Checkpoint(ctx context.Context) ([]byte, ledger.Checkpoint, error) {
	if t.pub == nil {
		return nil, ledger.Checkpoint{}, fmt.Errorf("%w: this trail was created without a log key, so it has no signed checkpoints", ErrNeedPublicKey)
	}
	rep, err := t.Verify(ctx, VerifyOptions{Chain: true})
	if err != nil {
		return nil, ledger.Checkpoint{}, fmt.Errorf("refusing to give a checkpoint of a log that does not verify: %w", err)
	}
	in := rep.Integrity
	if in == nil || in.Size == 0 {
		return nil, ledger.Checkpoint{}, errors.New("the log is empty: there is nothing to checkpoint yet")
	}
	cp, _, err := ledger.OpenCheckpoint([]byte(in.Checkpoint), note.VerifierList(t.pub))
	if err != nil {
		return nil, cp, fmt.Errorf("%w: the latest tree head: %v", ledger.ErrTampered, err)
	}
	return []byte(in.Checkpoint), cp, nil
}

// signedCheckpoint opens cpNote, a checkpoint of this log signed by its
// key; nil stands for the trail's latest signed head, after a full
// verification.
func (t *Trail) signedCheckpoint(ctx context.Context, cpNote []byte) ([]byte, ledger.Checkpoint, error) {
	if cpNote == nil {
		return t.Checkpoint(ctx)
	}
	cp, err := t.openCheckpoint(cpNote)
	return cpNote, cp, err
}

// InclusionProof is the file 'prove' writes: everything a stranger needs,
// with the log's public key, to check that a record is in the log.
type InclusionProof struct {
	Format     string          `json:"format"`
	Checkpoint string          `json:"checkpoint"`
	LeafIndex  uint64          `json:"leaf_index"`
	TreeSize   uint64          `json:"tree_size"`
	Record     json.RawMessage `json:"record"`
	Proof      []string        `json:"inclusion_proof"`
}

// ProofFormat names the format of InclusionProof.
const ProofFormat = "ami-audit-inclusion-proof/v1"

// Prove builds an inclusion proof of the record with id in the tree of a
// signed checkpoint: cpNote, or the trail's latest signed head (after a
// full verification) when cpNote is nil. The proof is built from the
// store's tree hashes and checked against the checkpoint's signed root
// before it is returned, so a store cannot make it prove anything the log
// key did not sign.
func (t *Trail) Prove(ctx context.Context, id string, cpNote []byte) (*InclusionProof, error) {
	cpNote, cp, err := t.signedCheckpoint(ctx, cpNote)
	if err != nil {
		return nil, err
	}
	r, err := t.raw.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Pruned != nil {
		return nil, fmt.Errorf("record %d (%s): %w (policy %s, record %d): there is no content left to prove", r.Sequence, r.RecordID, audit.ErrPruned, r.Pruned.Policy, r.Pruned.RetentionSequence)
	}
	if r.Sequence >= cp.Size {
		return nil, fmt.Errorf("record %s (sequence %d) was appended after the checkpoint (size %d); prove it against a newer checkpoint", id, r.Sequence, cp.Size)
	}
	h, err := r.Hash()
	if err != nil || h != r.RecordHash {
		return nil, fmt.Errorf("%w: record %d (%s) does not match its record_hash", ledger.ErrTampered, r.Sequence, id)
	}
	proof, err := tlog.ProveRecord(int64(cp.Size), int64(r.Sequence), t.hashReader(ctx))
	if err != nil {
		return nil, err
	}
	sum, _ := hex.DecodeString(r.RecordHash)
	if err := tlog.CheckRecord(proof, int64(cp.Size), cp.Root, int64(r.Sequence), ledger.LeafHash([32]byte(sum))); err != nil {
		return nil, fmt.Errorf("%w: the stored tree does not prove the record is in the checkpoint (%v); run 'ami-audit verify'", ledger.ErrTampered, err)
	}
	body, err := r.AppendJSON(nil)
	if err != nil {
		return nil, err
	}
	out := &InclusionProof{Format: ProofFormat, Checkpoint: string(cpNote), LeafIndex: r.Sequence, TreeSize: cp.Size, Record: body}
	for _, h := range proof {
		out.Proof = append(out.Proof, base64.StdEncoding.EncodeToString(h[:]))
	}
	return out, nil
}

// ErrNotAProof: the file is not an inclusion proof.
var ErrNotAProof = errors.New("not an inclusion proof written by 'ami-audit prove'")

// VerifyProof checks an inclusion proof offline, with nothing but the
// log's public key: the checkpoint's signature, the record's hash, and
// the path from its leaf to the signed root. The error wraps
// ledger.ErrTampered when the proof does not check, ErrNotAProof when b is
// not a proof.
func VerifyProof(b []byte, key note.Verifier) (Check, error) {
	var p InclusionProof
	if err := json.Unmarshal(b, &p); err != nil || p.Format != ProofFormat {
		return Check{}, ErrNotAProof
	}
	fail := func(err error) (Check, error) {
		err = fmt.Errorf("%w: %v", ledger.ErrTampered, err)
		return Check{Name: "proof", Detail: err.Error()}, err
	}
	cp, _, err := ledger.OpenCheckpoint([]byte(p.Checkpoint), note.VerifierList(key))
	if err != nil {
		return fail(err)
	}
	if cp.Size != p.TreeSize {
		return fail(fmt.Errorf("tree_size %d differs from the checkpoint's size %d", p.TreeSize, cp.Size))
	}
	sum, claimed, err := RecordHashOf(p.Record)
	if err != nil {
		return fail(err)
	}
	if hex.EncodeToString(sum[:]) != claimed {
		return fail(errors.New("the record does not hash to its record_hash (it was changed)"))
	}
	var hashes tlog.RecordProof
	for _, s := range p.Proof {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != 32 {
			return fail(fmt.Errorf("proof hash %q is not 32 bytes of base64", s))
		}
		hashes = append(hashes, tlog.Hash(h))
	}
	if err := tlog.CheckRecord(hashes, int64(cp.Size), cp.Root, int64(p.LeafIndex), ledger.LeafHash(sum)); err != nil {
		return fail(fmt.Errorf("the record is not in the checkpointed tree: %v", err))
	}
	return Check{Name: "proof", OK: true, Detail: fmt.Sprintf("record %d is in %s of size %d (checkpoint signature valid, %s)", p.LeafIndex, cp.Origin, cp.Size, plural.Count(len(hashes), "proof hash"))}, nil
}

// RecordHashOf recomputes a record's hash from its exported JSON the way
// any RFC 8785 implementation would: drop record_hash, signatures and
// status (and disclosures), canonicalize, SHA-256. Disclosed values, when
// the export holds any, must match their commitments.
func RecordHashOf(raw []byte) (sum [32]byte, claimed string, err error) {
	v, err := canonical.Decode(raw)
	if err != nil {
		return sum, "", fmt.Errorf("record: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return sum, "", errors.New("record is not a JSON object")
	}
	claimed, _ = obj["record_hash"].(string)
	if _, ok := obj["pruned"]; ok {
		return sum, claimed, audit.ErrPruned
	}
	if _, ok := obj["disclosures"]; ok {
		var r audit.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return sum, claimed, fmt.Errorf("record: %w", err)
		}
		if err := r.CheckDisclosures(); err != nil {
			return sum, claimed, fmt.Errorf("a disclosed value: %w", err)
		}
		delete(obj, "disclosures")
	}
	delete(obj, "record_hash")
	delete(obj, "signatures")
	delete(obj, "status")
	b, err := canonical.Marshal(obj)
	if err != nil {
		return sum, "", err
	}
	return sha256.Sum256(b), claimed, nil
}

// ConsistencyProof shows that the log's tree at a signed checkpoint
// extends its tree at an older size: with the log's public key and the
// older checkpoint (or root) kept elsewhere, anyone can check that nothing
// of the older tree was changed or removed.
type ConsistencyProof struct {
	Format string `json:"format"`
	// Checkpoint is the newer tree head, signed by the log key.
	Checkpoint string `json:"checkpoint"`
	OldSize    uint64 `json:"old_size"`
	// OldRoot is the root of the log's first OldSize records (base64):
	// compare it with the root of the checkpoint kept at that size.
	OldRoot string   `json:"old_root"`
	NewSize uint64   `json:"new_size"`
	Proof   []string `json:"consistency_proof"`
}

// ConsistencyFormat names the format of ConsistencyProof.
const ConsistencyFormat = "ami-audit-consistency-proof/v1"

// ProveConsistency builds a consistency proof from the log's tree at
// oldSize to the tree of a signed checkpoint: cpNote, or the trail's
// latest signed head (after a full verification) when cpNote is nil. The
// proof is checked against the checkpoint's signed root before it is
// returned.
func (t *Trail) ProveConsistency(ctx context.Context, oldSize uint64, cpNote []byte) (*ConsistencyProof, error) {
	cpNote, cp, err := t.signedCheckpoint(ctx, cpNote)
	if err != nil {
		return nil, err
	}
	if oldSize == 0 || oldSize > cp.Size {
		return nil, fmt.Errorf("%w: old size %d: want 1 to the checkpoint's size %d", ErrOptions, oldSize, cp.Size)
	}
	hr := t.hashReader(ctx)
	oldRoot, err := ledger.TreeRoot(oldSize, hr)
	if err != nil {
		return nil, err
	}
	var proof tlog.TreeProof
	if oldSize < cp.Size {
		if proof, err = tlog.ProveTree(int64(cp.Size), int64(oldSize), hr); err != nil {
			return nil, err
		}
	}
	if err := tlog.CheckTree(proof, int64(cp.Size), cp.Root, int64(oldSize), oldRoot); err != nil {
		return nil, fmt.Errorf("%w: the stored tree does not prove that the checkpoint extends size %d (%v); run 'ami-audit verify'", ledger.ErrTampered, oldSize, err)
	}
	out := &ConsistencyProof{Format: ConsistencyFormat, Checkpoint: string(cpNote), OldSize: oldSize,
		OldRoot: base64.StdEncoding.EncodeToString(oldRoot[:]), NewSize: cp.Size}
	for _, h := range proof {
		out.Proof = append(out.Proof, base64.StdEncoding.EncodeToString(h[:]))
	}
	return out, nil
}

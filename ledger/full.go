package ledger

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Verifiable is a store that verification can read in full: its rows, its
// tree heads and tree hashes, in one consistent snapshot.
type Verifiable interface {
	RawScanner
	HeadStore
	Snapshotter
	// HashReader serves the stored tree hashes.
	HashReader(ctx context.Context) tlog.HashReader
	// Origin is the log's name in its checkpoints.
	Origin() string
	// Difficulty is the log's proof-of-work difficulty.
	Difficulty() int
}

// Options tune Verify.
type Options struct {
	// Key is the log's public key. With it, the latest tree head must be
	// signed by it and match the records: that is what ties the stored
	// records to the key holder. Without it the heads are compared
	// unsigned, which proves only that the store is self-consistent.
	Key note.Verifier
	// RootsAt asks for the tree hash at these sizes (for checkpoints).
	RootsAt []uint64
	// Progress, when set, is called with the number of records checked.
	Progress func(n uint64)
	// Redactors are the keys allowed to make the log forget: every
	// record_redacted, retention_applied and legal_hold_released record
	// must be signed by one of them (CheckAuthority).
	Redactors []note.Verifier
}

// Result is what a successful Verify establishes.
type Result struct {
	VerifyResult
	// Heads is the number of stored tree heads.
	Heads uint64
	// Latest is the tree head the records build, as the store's latest
	// head states it (nil for an empty log).
	Latest *Checkpoint
	// LatestNote is the latest head's signed note (nil when unsigned).
	LatestNote []byte
	// Signed reports that the latest head's signature was checked with
	// Options.Key.
	Signed bool
}

// Verify checks a whole store as it was at one moment, so that appends by
// other processes while it runs cannot make it fail: it reads the store's
// shape in one snapshot (CheckSnapshot: no row outside the sequence, none
// missing, the latest tree head at the log's size), verifies exactly the
// records of that snapshot (VerifyPrefix: hashes, links, sequence, proof
// of work, tree hashes, query columns), and checks that the latest tree
// head — signed by Options.Key when given — is the root of those records;
// when it is not, the stored heads locate where the rewrite starts.
// Records appended after the snapshot are neither read nor needed.
//
// Every failure wraps ErrTampered, most as a *ChainError naming the
// record.
//
// Redaction and retention change rows in place, always in the
// transaction that appends the record saying so. When a verification
// finds a value or a body missing that no record explains, and the log
// grew meanwhile, it runs again: the change may have been committed while
// it read.
func Verify(ctx context.Context, s Verifiable, opt Options) (Result, error) {
	for attempt := 1; ; attempt++ {
		res, n, err := verifyOnce(ctx, s, opt)
		var ue *unexplained
		if !errors.As(err, &ue) || attempt == 3 {
			return res, err
		}
		snap, serr := s.Snapshot(ctx)
		if serr != nil || snap.Records <= n {
			return res, err
		}
	}
}

func verifyOnce(ctx context.Context, s Verifiable, opt Options) (Result, uint64, error) {
	res, n, err := verifySnapshot(ctx, s, opt)
	if err != nil || res.Forgotten == nil || len(res.Forgotten.Authority) == 0 {
		return res, n, err
	}
	g, ok := s.(RecordGetter)
	if !ok {
		return res, n, fmt.Errorf("the store cannot read the records that made the log forget")
	}
	return res, n, named("forgetting", CheckAuthority(ctx, g, res.Forgotten, opt.Redactors))
}

func verifySnapshot(ctx context.Context, s Verifiable, opt Options) (Result, uint64, error) {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return Result{}, 0, err
	}
	n, err := CheckSnapshot(snap)
	if err != nil {
		return Result{}, n, named("rows", err)
	}
	res, err := VerifyPrefix(ctx, s, n, VerifyOptions{Difficulty: s.Difficulty(), RootsAt: opt.RootsAt, Progress: opt.Progress})
	if err != nil {
		return Result{}, n, named("chain", err)
	}
	if t := snap.Tip; t != nil && n > 0 && t.Hash != res.LastHash {
		return Result{}, n, &ChainError{Seq: n - 1, Check: "rows", Reason: fmt.Sprintf("the store's chain tip names record hash %.16s… but the last record is %.16s… (the tip was changed)", t.Hash, res.LastHash)}
	}
	out := Result{VerifyResult: res, Heads: snap.Heads}
	if n == 0 {
		return out, n, nil
	}
	cp, err := checkLatestHead(ctx, s, snap.Latest, res, s.HashReader(ctx), s.Origin(), opt.Key)
	if err != nil {
		return Result{}, n, named("tree heads", err)
	}
	out.Latest = cp
	out.LatestNote = snap.Latest.Note
	out.Signed = opt.Key != nil
	return out, n, nil
}

// named sets the Check of a *ChainError.
func named(check string, err error) error {
	var ce *ChainError
	if errors.As(err, &ce) && ce.Check == "" {
		ce.Check = check
	}
	return err
}

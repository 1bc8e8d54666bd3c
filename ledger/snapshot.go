package ledger

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
)

// StoredHead is a tree head as a store keeps it: the size and root of the
// tree after a committed batch, and the signed checkpoint note of that
// head when the writer held the log key.
type StoredHead struct {
	Size uint64
	Root tlog.Hash
	Note []byte // nil when the head was stored unsigned
}

// Snapshot is what a store holds, read in one consistent snapshot of the
// database (one statement or one read transaction), so that it describes
// a state the store was really in even while other processes append.
// Every committed batch stores its records and its tree head in one
// transaction; in an untouched store, therefore, the rows are exactly the
// sequences 0..Records-1 and the latest head is at size Records.
type Snapshot struct {
	Records uint64 // record rows, whatever their sequence numbers
	MinSeq  int64  // smallest sequence number (when Records > 0)
	MaxSeq  int64  // largest sequence number (when Records > 0)
	Heads   uint64 // stored tree heads
	// Latest is the stored head of the largest size, nil when there is
	// none.
	Latest *StoredHead
	// Tip is the chain tip a store keeps apart from its record rows (the
	// PostgreSQL store's audit_chain row), nil when it keeps none.
	Tip *audit.Head
	// StraySignatures counts signature rows of no record in
	// 0..Records-1.
	StraySignatures uint64
}

// Snapshotter is implemented by stores that can describe themselves in one
// consistent snapshot.
type Snapshotter interface {
	Snapshot(ctx context.Context) (Snapshot, error)
}

// CheckSnapshot checks the shape of a store in one snapshot and returns
// the number of records to verify: one more than the largest sequence.
// No row may lie outside the sequence (a negative sequence number); the
// latest tree head must be at that size (records beyond it were not
// appended by ami-audit, or their heads were deleted; a head beyond it
// means records were removed from the end); a separately kept tip must
// agree; no signature may hang off a record that is not in the log. Rows
// missing below the largest sequence are left to the chain check, which
// names the first of them.
func CheckSnapshot(s Snapshot) (uint64, error) {
	var n uint64
	if s.Records > 0 {
		if s.MinSeq < 0 {
			return 0, &ChainError{Seq: 0, Reason: fmt.Sprintf("a row outside the sequence: the store holds a record row with sequence %d (rows were added behind the log's back)", s.MinSeq)}
		}
		n = uint64(s.MaxSeq) + 1
	}
	switch l := s.Latest; {
	case l == nil && n > 0:
		return 0, &ChainError{Seq: 0, Reason: fmt.Sprintf("no tree head: the log holds %d records but no tree head at all (the heads were deleted)", n)}
	case l != nil && l.Size > n:
		return 0, &ChainError{Seq: n, Reason: fmt.Sprintf(
			"missing: the log recorded a tree head at size %d but holds only %d records (records %d..%d were removed from the end)",
			l.Size, n, n, l.Size-1)}
	case l != nil && l.Size < n:
		return 0, &ChainError{Seq: l.Size, Reason: fmt.Sprintf(
			"records %d..%d are not covered by any tree head (they were not appended by ami-audit, or the heads after size %d were deleted)",
			l.Size, n-1, l.Size)}
	}
	if t := s.Tip; t != nil && t.Size != n {
		return 0, &ChainError{Seq: min(t.Size, n), Reason: fmt.Sprintf("the store's chain tip says %d records but it holds %d (the tip or the records were changed)", t.Size, n)}
	}
	if s.StraySignatures > 0 {
		return 0, &ChainError{Seq: n, Reason: fmt.Sprintf("%d signature rows belong to no record of the log (rows were added behind the log's back)", s.StraySignatures)}
	}
	return n, nil
}

// OpenHead checks a stored head's signed note with the log key: it must be
// signed by key, name origin and the head's size, and agree with the
// stored root. It returns the checkpoint the note commits to.
func OpenHead(h StoredHead, origin string, key note.Verifier) (Checkpoint, error) {
	if h.Note == nil {
		return Checkpoint{}, fmt.Errorf("the tree head at size %d is not signed", h.Size)
	}
	cp, _, err := OpenCheckpoint(h.Note, note.VerifierList(key))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("the tree head at size %d does not check: %w", h.Size, err)
	}
	if cp.Origin != origin || cp.Size != h.Size {
		return Checkpoint{}, fmt.Errorf("the tree head stored at size %d is signed for %q size %d", h.Size, cp.Origin, cp.Size)
	}
	if cp.Root != h.Root {
		return Checkpoint{}, fmt.Errorf("the tree head at size %d stores a root its signature does not cover", h.Size)
	}
	return cp, nil
}

// GuardAppend is what a store checks, inside its append transaction and
// before it signs a new tree head, when it is about to extend a tree it
// did not build itself in this process: the tree of the tip it read (root,
// computed from the stored tree hashes at size tip) must be the tree the
// log last signed. latest is the stored head of the largest size; key is
// the log's public key (nil for a log whose heads are not signed: then the
// stored root is compared, which keeps the log self-consistent). Without
// this check a writer holding the log key would sign whatever an attacker
// left in the database — a rewritten history included.
//
// The error wraps ErrTampered.
func GuardAppend(latest *StoredHead, tip uint64, root tlog.Hash, origin string, key note.Verifier) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: refusing to append and sign a new tree head: %s; run 'ami-audit verify'", ErrTampered, fmt.Sprintf(format, args...))
	}
	if latest == nil {
		if tip == 0 {
			return nil
		}
		return refuse("the log holds %d records but no tree head", tip)
	}
	if latest.Size != tip {
		if latest.Size > tip {
			return refuse("the log's last tree head is at size %d but it holds %d records (records were removed from the end)", latest.Size, tip)
		}
		return refuse("the log's last tree head is at size %d but it holds %d records (records were added without a tree head, or heads were deleted)", latest.Size, tip)
	}
	if tip == 0 {
		return nil
	}
	signed := latest.Root
	if key != nil {
		cp, err := OpenHead(*latest, origin, key)
		if err != nil {
			return refuse("%v", err)
		}
		signed = cp.Root
	}
	if signed != root {
		return refuse("the stored tree at size %d is not the tree the log signed (records or tree hashes were rewritten)", tip)
	}
	return nil
}

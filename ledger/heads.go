package ledger

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// HeadStore is implemented by stores that keep the tree head of every
// committed batch.
type HeadStore interface {
	// HeadSizes lists the sizes of the stored tree heads, smallest first.
	TreeHeadSizes(ctx context.Context) ([]uint64, error)
	// Head returns the stored root and signed note (nil when the head was
	// not signed) of the head at size.
	TreeHead(ctx context.Context, size uint64) (root tlog.Hash, signed []byte, err error)
}

// CheckHeads compares the tree heads the log kept as it grew with the tree
// the stored records build now. Run it after VerifyChain has succeeded: the
// stored tree hashes (read through hr) then agree with the records, and
// the tree hash at any size costs O(log n) reads.
//
// A head's root is taken from its signed note when it has one, checked
// against known; a head with a bad signature is itself evidence of
// tampering. Heads beyond the log's size mean records were removed from
// the end. Otherwise a rewrite that starts at record k makes every head
// with size > k differ and every other head match, so the last head
// detects it and a binary search over the heads names the batch where it
// starts: the record at the last matching size is the first that can
// differ, exactly when batches were single appends.
func CheckHeads(ctx context.Context, hs HeadStore, size uint64, hr tlog.HashReader, origin string, known note.Verifiers) (stored int, err error) {
	sizes, err := hs.TreeHeadSizes(ctx)
	if err != nil {
		return 0, err
	}
	stored = len(sizes)
	if n := len(sizes); n > 0 && sizes[n-1] > size {
		return 0, &ChainError{Seq: size, Reason: fmt.Sprintf(
			"missing: the log recorded a tree head at size %d but holds only %d records (records %d..%d were removed from the end)",
			sizes[n-1], size, size, sizes[n-1]-1)}
	}
	matches := func(s uint64) (bool, error) {
		root, signed, err := hs.TreeHead(ctx, s)
		if err != nil {
			return false, err
		}
		if signed != nil && known != nil {
			cp, _, err := OpenCheckpoint(signed, known)
			if err != nil {
				return false, &ChainError{Seq: s, Reason: fmt.Sprintf("the tree head stored at size %d does not check: %v (the heads were altered)", s, err)}
			}
			if cp.Size != s || cp.Origin != origin {
				return false, &ChainError{Seq: s, Reason: fmt.Sprintf("the tree head stored at size %d is signed for %q size %d (the heads were altered)", s, cp.Origin, cp.Size)}
			}
			root = cp.Root
		}
		cur, err := TreeRoot(s, hr)
		if err != nil {
			return false, err
		}
		return cur == root, nil
	}
	if len(sizes) == 0 {
		return 0, nil
	}
	ok, err := matches(sizes[len(sizes)-1])
	if err != nil || ok {
		return stored, err
	}
	// Find the first head that differs.
	var searchErr error
	i := sort.Search(len(sizes), func(i int) bool {
		if searchErr != nil {
			return true
		}
		ok, err := matches(sizes[i])
		if err != nil {
			searchErr = err
			return true
		}
		return !ok
	})
	if searchErr != nil {
		return stored, searchErr
	}
	var good uint64
	if i > 0 {
		good = sizes[i-1]
	}
	bad := sizes[i]
	if bad-good == 1 {
		return stored, &ChainError{Seq: good, Reason: fmt.Sprintf(
			"rewritten: the tree head the log signed at size %d does not match the stored records; record %d was changed and the hashes after it recomputed", bad, good)}
	}
	return stored, &ChainError{Seq: good, Reason: fmt.Sprintf(
		"rewritten: the tree head the log signed at size %d does not match the stored records, the one at size %d does; the first changed record is one of %d..%d (appended in one batch), and the hashes after it were recomputed", bad, good, good, bad-1)}
}

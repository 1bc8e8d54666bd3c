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
	// TreeHeadSizes lists the sizes of the stored tree heads, smallest
	// first.
	TreeHeadSizes(ctx context.Context) ([]uint64, error)
	// TreeHead returns the stored root and signed note (nil when the head
	// was not signed) of the head at size.
	TreeHead(ctx context.Context, size uint64) (root tlog.Hash, signed []byte, err error)
	// LatestTreeHead returns the stored head of the largest size, nil when
	// there is none.
	LatestTreeHead(ctx context.Context) (*StoredHead, error)
}

// checkLatestHead compares the latest stored tree head (at size res.Size,
// which CheckSnapshot established) with the tree the verified records
// build. With the log key, the head must be signed by it: a log whose
// latest head is missing, unsigned or signed by another key is not
// covered by the key, whatever its records say. A mismatch is located by
// locateRewrite.
func checkLatestHead(ctx context.Context, hs HeadStore, latest *StoredHead, res VerifyResult, hr tlog.HashReader, origin string, key note.Verifier) (*Checkpoint, error) {
	if res.Size == 0 {
		return nil, nil
	}
	root := latest.Root
	if key != nil {
		cp, err := OpenHead(*latest, origin, key)
		if err != nil {
			return nil, &ChainError{Seq: res.Size, Reason: err.Error() + " (the log key covers no tree head of the current log: the heads were deleted, replaced or rewritten)"}
		}
		root = cp.Root
	}
	if root == res.Root {
		return &Checkpoint{Origin: origin, Size: res.Size, Root: res.Root}, nil
	}
	return nil, locateRewrite(ctx, hs, res.Size, hr, origin, key)
}

// locateRewrite names where a rewrite starts, given that the latest head
// (at size) does not match the stored records. A rewrite that starts at
// record k makes every head with size > k differ and every other head
// match, so a binary search over the heads finds the batch where it
// starts: the record at the last matching size is the first that can
// differ, exactly when batches were single appends. Heads that are not
// signed by the log key (when there is one) are not evidence and are
// read for their stored root only.
func locateRewrite(ctx context.Context, hs HeadStore, size uint64, hr tlog.HashReader, origin string, key note.Verifier) error {
	all, err := hs.TreeHeadSizes(ctx)
	if err != nil {
		return err
	}
	var sizes []uint64
	for _, s := range all {
		if s > 0 && s <= size {
			sizes = append(sizes, s)
		}
	}
	matches := func(s uint64) (bool, error) {
		root, signed, err := hs.TreeHead(ctx, s)
		if err != nil {
			return false, err
		}
		if signed != nil && key != nil {
			if cp, err := OpenHead(StoredHead{Size: s, Root: root, Note: signed}, origin, key); err == nil {
				root = cp.Root
			}
		}
		cur, err := TreeRoot(s, hr)
		if err != nil {
			return false, err
		}
		return cur == root, nil
	}
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
		return searchErr
	}
	var good uint64
	if i > 0 {
		good = sizes[i-1]
	}
	bad := size
	if i < len(sizes) {
		bad = sizes[i]
	}
	if bad-good == 1 {
		return &ChainError{Seq: good, Reason: fmt.Sprintf(
			"rewritten: the tree head the log signed at size %d does not match the stored records; record %d was changed and the hashes after it recomputed", bad, good)}
	}
	return &ChainError{Seq: good, Reason: fmt.Sprintf(
		"rewritten: the tree head the log signed at size %d does not match the stored records, the one at size %d does; the first changed record is one of %d..%d (appended in one batch), and the hashes after it were recomputed", bad, good, good, bad-1)}
}

package ledger

import (
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// Accumulator computes the RFC 6962 root of a growing list of leaves in
// O(log n) memory: it keeps the roots of the complete subtrees on the right
// edge of the tree.
type Accumulator struct {
	size  uint64
	stack []tlog.Hash // subtree roots, largest (leftmost) first
}

// Clone returns an independent copy.
func (a *Accumulator) Clone() *Accumulator {
	return &Accumulator{size: a.size, stack: slices.Clone(a.stack)}
}

// Size is the number of leaves added.
func (a *Accumulator) Size() uint64 { return a.size }

// Add appends a leaf hash and returns the tree hashes it completes: the leaf
// hash, then one parent per level — exactly what tlog stores for that leaf.
// The returned slice is valid until the next call.
func (a *Accumulator) Add(leaf tlog.Hash, out []tlog.Hash) []tlog.Hash {
	out = append(out[:0], leaf)
	h := leaf
	for n := a.size; n&1 == 1; n >>= 1 {
		top := a.stack[len(a.stack)-1]
		a.stack = a.stack[:len(a.stack)-1]
		h = tlog.NodeHash(top, h)
		out = append(out, h)
	}
	a.stack = append(a.stack, h)
	a.size++
	return out
}

// Root is the tree hash of the leaves added so far (the hash of an empty
// tree is SHA-256 of nothing, as RFC 6962 defines).
func (a *Accumulator) Root() tlog.Hash {
	if len(a.stack) == 0 {
		return emptyRoot
	}
	h := a.stack[len(a.stack)-1]
	for i := len(a.stack) - 2; i >= 0; i-- {
		h = tlog.NodeHash(a.stack[i], h)
	}
	return h
}

// emptyRoot is SHA-256("").
var emptyRoot = tlog.Hash{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55}

// TreeRoot is the tree hash of the first n leaves from stored hashes, with
// the empty tree handled.
func TreeRoot(n uint64, r tlog.HashReader) (tlog.Hash, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	return tlog.TreeHash(int64(n), r)
}

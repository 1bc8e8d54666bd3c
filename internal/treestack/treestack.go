// Package treestack keeps the right edge of a log's Merkle tree in memory:
// the roots of the complete subtrees that the next leaf, and the tree hash
// of the current size, are built from. It is a tlog.HashReader for
// ledger.Link that needs O(log n) memory however many records are linked,
// so a store can link a stream of a million records without reading tree
// hashes back from its database.
package treestack

import (
	"fmt"
	"maps"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Stack is the right edge of a tree of Size leaves. The zero value is the
// empty tree.
type Stack struct {
	size   uint64
	hashes map[int64]tlog.Hash // stored hash index → hash
}

// EdgeIndexes lists the stored hash indexes of the complete subtree roots
// of a tree of size n: the hashes Load needs.
func EdgeIndexes(n uint64) []int64 {
	var out []int64
	for level := 63; level >= 0; level-- {
		if n&(1<<uint(level)) == 0 {
			continue
		}
		out = append(out, tlog.StoredHashIndex(level, int64(n>>uint(level))-1))
	}
	return out
}

// Load builds the stack of a tree of size n, reading its edge from r.
func Load(n uint64, r tlog.HashReader) (*Stack, error) {
	s := &Stack{size: n, hashes: map[int64]tlog.Hash{}}
	idx := EdgeIndexes(n)
	if len(idx) == 0 {
		return s, nil
	}
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("tree edge at size %d: %w", n, err)
	}
	for i, h := range hs {
		s.hashes[idx[i]] = h
	}
	return s, nil
}

// Size is the number of leaves.
func (s *Stack) Size() uint64 { return s.size }

// Clone returns an independent copy.
func (s *Stack) Clone() *Stack {
	return &Stack{size: s.size, hashes: maps.Clone(s.hashes)}
}

// Add records the tree hashes of the next leaf (ledger.Entry.Tree) and
// forgets the ones it makes unreachable.
func (s *Stack) Add(tree []tlog.Hash) error {
	if s.hashes == nil {
		s.hashes = map[int64]tlog.Hash{}
	}
	n := s.size
	if len(tree) == 0 {
		return fmt.Errorf("leaf %d has no tree hashes", n)
	}
	for level, h := range tree {
		s.hashes[tlog.StoredHashIndex(level, int64(n>>uint(level)))] = h
	}
	for level := 1; level < len(tree); level++ {
		child := int64(n >> uint(level-1))
		delete(s.hashes, tlog.StoredHashIndex(level-1, child))
		delete(s.hashes, tlog.StoredHashIndex(level-1, child-1))
	}
	s.size++
	return nil
}

// AddEntries adds the leaves of linked entries, in order.
func (s *Stack) AddEntries(entries []ledger.Entry) error {
	for i := range entries {
		if err := s.Add(entries[i].Tree); err != nil {
			return err
		}
	}
	return nil
}

// ReadHashes implements tlog.HashReader for the hashes on the edge.
func (s *Stack) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := s.hashes[idx]
		if !ok {
			level, n := tlog.SplitStoredHashIndex(idx)
			return nil, fmt.Errorf("tree hash (level %d, index %d) is not on the edge of the tree of size %d", level, n, s.size)
		}
		out[i] = h
	}
	return out, nil
}

// Root is the tree hash of the current size.
func (s *Stack) Root() (tlog.Hash, error) { return ledger.TreeRoot(s.size, s) }

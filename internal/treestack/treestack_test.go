package treestack

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/ami-orchestrator/ami-audit/ledger"
)

// memory stores every tree hash, as a database does.
type memory map[int64]tlog.Hash

func (m memory) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = h
	}
	return out, nil
}

// TestStackMatchesFullTree grows a tree leaf by leaf with the stack as the
// only hash reader and checks each leaf's stored hashes and each root
// against a reader that keeps every hash; it also reloads the stack from
// the full store at every size.
func TestStackMatchesFullTree(t *testing.T) {
	full := memory{}
	var s Stack
	for n := int64(0); n < 300; n++ {
		leaf := ledger.LeafHash(sha256.Sum256([]byte(fmt.Sprint(n))))
		want, err := tlog.StoredHashesForRecordHash(n, leaf, full)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tlog.StoredHashesForRecordHash(n, leaf, &s)
		if err != nil {
			t.Fatalf("leaf %d: %v", n, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("leaf %d: stored hashes differ", n)
		}
		for i, h := range want {
			full[tlog.StoredHashIndex(0, n)+int64(i)] = h
		}
		if err := s.Add(got); err != nil {
			t.Fatal(err)
		}
		root, err := s.Root()
		if err != nil {
			t.Fatalf("size %d: %v", n+1, err)
		}
		wantRoot, _ := tlog.TreeHash(n+1, full)
		if root != wantRoot {
			t.Fatalf("size %d: root differs", n+1)
		}
		if len(s.hashes) > 64 {
			t.Fatalf("size %d: stack holds %d hashes", n+1, len(s.hashes))
		}
		loaded, err := Load(uint64(n+1), full)
		if err != nil {
			t.Fatal(err)
		}
		if r2, _ := loaded.Root(); r2 != wantRoot {
			t.Fatalf("size %d: loaded stack root differs", n+1)
		}
	}
}

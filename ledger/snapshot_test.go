package ledger

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
)

func TestCheckSnapshot(t *testing.T) {
	head := func(n uint64) *StoredHead { return &StoredHead{Size: n} }
	cases := []struct {
		name string
		snap Snapshot
		n    uint64
		want string // "" when it passes
	}{
		{"empty", Snapshot{}, 0, ""},
		{"whole", Snapshot{Records: 5, MinSeq: 0, MaxSeq: 4, Latest: head(5), Heads: 3}, 5, ""},
		{"a middle row missing is left to the chain", Snapshot{Records: 4, MinSeq: 0, MaxSeq: 4, Latest: head(5)}, 5, ""},
		{"negative sequence", Snapshot{Records: 6, MinSeq: -1, MaxSeq: 4, Latest: head(5)}, 0, "outside the sequence"},
		{"no heads", Snapshot{Records: 5, MaxSeq: 4}, 0, "no tree head"},
		{"head beyond the records", Snapshot{Records: 3, MaxSeq: 2, Latest: head(5)}, 0, "removed from the end"},
		{"heads emptied with the records", Snapshot{Latest: head(5)}, 0, "removed from the end"},
		{"records beyond the head", Snapshot{Records: 7, MaxSeq: 6, Latest: head(5)}, 0, "not covered by any tree head"},
		{"tip disagrees", Snapshot{Records: 5, MaxSeq: 4, Latest: head(5), Tip: &audit.Head{Size: 4}}, 0, "chain tip"},
		{"stray signature", Snapshot{Records: 5, MaxSeq: 4, Latest: head(5), StraySignatures: 1}, 0, "signature rows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := CheckSnapshot(c.snap)
			if c.want == "" {
				if err != nil || n != c.n {
					t.Fatalf("CheckSnapshot = %d, %v; want %d, nil", n, err, c.n)
				}
				return
			}
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckSnapshot error %v, want one wrapping ErrTampered saying %q", err, c.want)
			}
		})
	}
}

func TestGuardAppend(t *testing.T) {
	const origin = "example.org/guard"
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	key, _ := note.NewVerifier(vkey)
	oskey, _, _ := note.GenerateKey(rand.Reader, origin)
	other, _ := note.NewSigner(oskey)
	root := tlog.Hash{1, 2, 3}
	signed := func(s note.Signer, size uint64, r tlog.Hash) *StoredHead {
		msg, err := Checkpoint{Origin: origin, Size: size, Root: r}.Sign(s)
		if err != nil {
			t.Fatal(err)
		}
		return &StoredHead{Size: size, Root: r, Note: msg}
	}
	cases := []struct {
		name   string
		latest *StoredHead
		tip    uint64
		key    note.Verifier
		want   string
	}{
		{"empty log", nil, 0, key, ""},
		{"the signed tree", signed(signer, 9, root), 9, key, ""},
		{"records without heads", nil, 9, key, "no tree head"},
		{"heads beyond the records", signed(signer, 12, root), 9, key, "removed from the end"},
		{"records beyond the heads", signed(signer, 5, root), 9, key, "added without a tree head"},
		{"unsigned head", &StoredHead{Size: 9, Root: root}, 9, key, "not signed"},
		{"head signed by another key", signed(other, 9, root), 9, key, "does not check"},
		{"another tree than the one signed", signed(signer, 9, tlog.Hash{9}), 9, key, "not the tree the log signed"},
		{"unsigned log, same root", &StoredHead{Size: 9, Root: root}, 9, nil, ""},
		{"unsigned log, another root", &StoredHead{Size: 9, Root: tlog.Hash{9}}, 9, nil, "not the tree the log signed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := GuardAppend(c.latest, c.tip, root, origin, c.key)
			if c.want == "" {
				if err != nil {
					t.Fatalf("GuardAppend: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("GuardAppend error %v, want one wrapping ErrTampered saying %q", err, c.want)
			}
		})
	}
}

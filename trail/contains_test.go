package trail_test

import (
	"context"
	"errors"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// TestContains: the tree a baseline saw is held while the trail grows; a
// tree the trail never held is refused as tampering.
func TestContains(t *testing.T) {
	ctx := context.Background()
	tr, _ := newTrail(t, "")
	appendN := func(n int) {
		for range n {
			if err := tr.Store().Append(ctx, []*audit.Record{audit.New("x", "act", "t", audit.TargetFile)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(5)
	size, root, err := tr.TreeHead(ctx)
	if err != nil || size != 5 {
		t.Fatalf("tree head %d %q %v", size, root, err)
	}
	appendN(3)
	if err := tr.Contains(ctx, size, root); err != nil {
		t.Errorf("the trail no longer holds its own earlier tree: %v", err)
	}
	_, later, _ := tr.TreeHead(ctx)
	for _, bad := range []struct {
		size uint64
		root string
	}{{size, later}, {100, root}, {size, "not base64"}} {
		if err := tr.Contains(ctx, bad.size, bad.root); !errors.Is(err, ledger.ErrTampered) {
			t.Errorf("Contains(%d, %q) = %v, want tampering", bad.size, bad.root, err)
		}
	}
}

package baseline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/baseline"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/source/file"
	"github.com/ami-orchestrator/ami-audit/store/all"
	"github.com/ami-orchestrator/ami-audit/trail"
)

func newTrail(t *testing.T) *trail.Trail {
	t.Helper()
	cfg := trail.Config{Dir: filepath.Join(t.TempDir(), ".audit"), Registry: all.Registry()}
	tr, _, err := trail.Create(context.Background(), cfg, trail.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func hashed(t *testing.T, tr *trail.Trail, path, sha string) {
	t.Helper()
	r := audit.New("tester", file.ActionHash, path, audit.TargetFile)
	r.Source = file.SourceName
	r.Context = map[string]any{"sha256": sha, "mode": "0644", "size": 1}
	r.Normalize()
	if err := tr.Store().Append(context.Background(), []*audit.Record{r}); err != nil {
		t.Fatal(err)
	}
}

// TestSaveAndOpen: a baseline signed with the log key opens on its trail;
// altered, from another trail, or unsigned it is refused as tampering.
func TestSaveAndOpen(t *testing.T) {
	ctx := context.Background()
	tr := newTrail(t)
	hashed(t, tr, "a.txt", strings.Repeat("a", 64))
	b, err := baseline.Save(ctx, tr, nil, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b *baseline.Baseline) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := b.Write(f); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", b)
	hashed(t, tr, "b.txt", strings.Repeat("b", 64)) // the trail grows
	got, signers, err := baseline.Open(ctx, tr, good)
	if err != nil {
		t.Fatal(err)
	}
	if len(signers) != 1 || got.State.Files["a.txt"].SHA256 != strings.Repeat("a", 64) || len(got.State.Files) != 1 {
		t.Errorf("signers %v, files %v", signers, got.State.Files)
	}

	data, _ := os.ReadFile(good)
	tampered := filepath.Join(dir, "tampered.json")
	os.WriteFile(tampered, []byte(strings.Replace(string(data), strings.Repeat("a", 64), strings.Repeat("f", 64), 1)), 0o644)
	other := newTrail(t)
	hashed(t, other, "a.txt", strings.Repeat("a", 64))
	ob, err := baseline.Save(ctx, other, tr.LogSigner(), nil, time.Now()) // signed with this log's key, of another trail
	if err != nil {
		t.Fatal(err)
	}
	b.Signatures = nil
	for name, path := range map[string]string{"tampered": tampered, "other trail": write("other.json", ob), "unsigned": write("unsigned.json", b)} {
		if _, _, err := baseline.Open(ctx, tr, path); !errors.Is(err, ledger.ErrTampered) {
			t.Errorf("%s: %v, want tampering", name, err)
		}
	}
}

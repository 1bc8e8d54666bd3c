package rescan_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/collector/stream/rescan"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/source/file"
)

// TestRescanAfterChanges: the files of a tree are recorded at the start,
// and a burst of changes is recorded once it settles, in one run, only
// the files that changed.
func TestRescanAfterChanges(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.py"), []byte("a = 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.py"), []byte("b = 1\n"), 0o644)
	var tr memtrail.Trail
	src, err := file.New(file.Config{Root: dir, Trail: &tr})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	w, err := rescan.New(rescan.Config{Dir: dir, Source: src, Target: dir, Debounce: 150 * time.Millisecond,
		OnRun: func(start bool) {
			if !start {
				runs.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	col, _ := stream.New(&tr, stream.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, w) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	wait("the first run", func() bool { return runs.Load() == 1 && tr.Len() == 2 })
	time.Sleep(1100 * time.Millisecond) // a clock tick past the first hashes
	os.Mkdir(filepath.Join(dir, "pkg"), 0o755)
	for i := range 5 { // a burst: one run after it
		os.WriteFile(filepath.Join(dir, "a.py"), []byte("a = "+string(rune('2'+i))+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "pkg", "c.py"), []byte("c = 1\n"), 0o644)
		time.Sleep(20 * time.Millisecond)
	}
	wait("the changes", func() bool { return tr.Len() == 4 })
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 2 {
		t.Errorf("%d runs; want the first and one after the burst", runs.Load())
	}
	var targets []string
	for _, r := range tr.Records()[2:] {
		targets = append(targets, r.Target)
		if r.Action != file.ActionHash {
			t.Errorf("record %s %s", r.Action, r.Target)
		}
	}
	if len(targets) != 2 || !(targets[0] == "a.py" && targets[1] == "pkg/c.py" || targets[1] == "a.py" && targets[0] == "pkg/c.py") {
		t.Errorf("recorded after the changes: %v (want a.py and pkg/c.py)", targets)
	}
}

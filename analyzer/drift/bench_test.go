package drift

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/peakmem"
	"github.com/ami-orchestrator/ami-audit/source/file"
	"github.com/ami-orchestrator/ami-audit/state"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// benchTrail builds (or reuses, under AMI_AUDIT_BENCH_DIR) an SQLite trail
// of records file-source records: `paths` files, every one recorded again
// by each of records/paths runs a day apart (the worst case: every file
// changed every day), one in fifty removed in the odd runs.
func benchTrail(b *testing.B, records, paths int) (*sqlite.Store, time.Time) {
	b.Helper()
	ctx := context.Background()
	dir := os.Getenv("AMI_AUDIT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("drift-%d-%d.db", records, paths))
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, Create: true})
	if err != nil {
		b.Fatal(err)
	}
	h, err := s.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if h.Size >= uint64(records) {
		return s, t0
	}
	start := time.Now()
	n := 0
	for run := 0; n < records; run++ {
		when := t0.Add(time.Duration(run) * 24 * time.Hour)
		var batch []*audit.Record
		for i := 0; i < paths && n < records; i++ {
			action := file.ActionHash
			if run%2 == 1 && i%50 == 0 {
				action = file.ActionRemoved
			}
			r := audit.New("dev", action, fmt.Sprintf("src/pkg%d/file%d.go", i%97, i), audit.TargetFile)
			r.Timestamp = when
			r.Source = file.SourceName
			r.Context = map[string]any{"sha256": fmt.Sprintf("%064x", run*1_000_000+i), "size": 1000 + i, "mode": "0644",
				"permissions": "-rw-r--r--", "file_type": "file", "mtime": audit.FormatTime(when), "ctime": audit.FormatTime(when),
				"uid": 1000, "gid": 1000, "owner": "dev", "group": "dev", "inode": strconv.Itoa(i), "device": "2049",
				"binary": false, "change": "changed", "scanned_at": audit.FormatTime(when)}
			r.Metadata = map[string]any{"content_digest": fmt.Sprintf("%064x", n), "content_id": fmt.Sprintf("%032x", i)}
			r.Normalize()
			batch = append(batch, r)
			n++
			if len(batch) == 5000 {
				if err := s.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			if err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("built a trail of %d records over %d paths in %s", records, paths, time.Since(start).Round(time.Second))
	return s, t0
}

// BenchmarkDiff measures diff --from --to (CompareTimes: both states from
// the stored records, their differences, the velocity) over trails of
// 250,000 and 1,000,000 records of the same 50,000 files, and, as the
// baseline of the same run, one pass over every record of the trail (the
// store's Range). Peak live heap is reported for each size: it follows
// the number of files, not of records.
//
//	go test -run '^$' -bench BenchmarkDiff -benchtime 3x -timeout 30m ./analyzer/drift
func BenchmarkDiff(b *testing.B) {
	for _, records := range []int{250_000, 1_000_000} {
		b.Run(strconv.Itoa(records), func(b *testing.B) {
			ctx := context.Background()
			s, t0 := benchTrail(b, records, 50_000)
			defer s.Close()
			runs := records / 50_000
			from, to := t0.Add(time.Duration(runs/4)*24*time.Hour+time.Hour), t0.Add(time.Duration(3*runs/4)*24*time.Hour+time.Hour)
			var diff, scan time.Duration
			var peak float64
			changes := 0
			for b.Loop() {
				p := peakmem.Start()
				t := time.Now()
				c, err := CompareTimes(ctx, s, from, to, state.Options{})
				if err != nil {
					b.Fatal(err)
				}
				diff += time.Since(t)
				peak = max(peak, peakmem.MB(p.Stop().Heap))
				changes = len(c.Diff.Changes)
				t = time.Now()
				n := 0
				for _, err := range s.Range(ctx, 0, uint64(records)) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				scan += time.Since(t)
				if n != records {
					b.Fatalf("scanned %d records", n)
				}
			}
			k := float64(b.N)
			b.ReportMetric(diff.Seconds()/k, "diff-s/op")
			b.ReportMetric(scan.Seconds()/k, "scan-s/op")
			b.ReportMetric(diff.Seconds()/scan.Seconds(), "ratio")
			b.ReportMetric(peak, "peak-heap-MB")
			b.ReportMetric(float64(changes), "changes")
		})
	}
}

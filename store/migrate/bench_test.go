package migrate_test

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/migrate"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// BenchmarkMigrate copies a trail of b.N records from SQLite to
// PostgreSQL, with the full verification of both at the end, and reports
// the peak Go heap during the copy (flat: it does not grow with b.N).
//
//	go test ./store/migrate -run '^$' -bench Migrate -benchtime 1000000x -timeout 30m
func BenchmarkMigrate(b *testing.B) {
	ctx := context.Background()
	src, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "src.db"), Create: true, Origin: "example.org/bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	if _, err := src.AppendStream(ctx, func(yield func(*audit.Record, error) bool) {
		for i := range b.N {
			if !yield(storetest.Sample(i), nil) {
				return
			}
		}
	}); err != nil {
		b.Fatal(err)
	}
	dst := pgtest.Open(b, pgtest.URL(b), store.Options{Create: true, Origin: "example.org/bench"}).Store.(migrate.Store)
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	res, err := migrate.Copy(ctx, src, dst, migrate.Options{Chunk: 2000})
	copied := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()
	if err != nil || res.Size != uint64(b.N) {
		b.Fatalf("migrated %d of %d: %v", res.Size, b.N, err)
	}
	b.ReportMetric(float64(b.N)/copied.Seconds(), "records/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

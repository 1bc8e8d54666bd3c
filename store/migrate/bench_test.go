package migrate_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/peakmem"
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
	const origin = "example.org/bench"
	src, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "src.db"), Create: true, Origin: origin, LogID: logIDFor(origin)})
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
	// The target is made for the same log: a migration copies one trail.
	dst := pgtest.Open(b, pgtest.URL(b), store.Options{Create: true, Origin: origin, LogID: logIDFor(origin)}).Store.(migrate.Store)
	p := peakmem.Start()
	b.ResetTimer()
	start := time.Now()
	res, err := migrate.Copy(ctx, src, dst, migrate.Options{Chunk: 2000})
	copied := time.Since(start)
	b.StopTimer()
	m := p.Stop()
	if err != nil || res.Size != uint64(b.N) {
		b.Fatalf("migrated %d of %d: %v", res.Size, b.N, err)
	}
	b.ReportMetric(float64(b.N)/copied.Seconds(), "records/s")
	b.ReportMetric(peakmem.MB(m.Heap), "peak-heap-MB")
}

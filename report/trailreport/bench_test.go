package trailreport_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/internal/peakmem"
	"github.com/ami-orchestrator/ami-audit/report/trailreport"
	"github.com/ami-orchestrator/ami-audit/store/all"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// benchTrail appends n records (a day of them every 1,000, sources and
// actions mixed) to a new signed SQLite trail.
func benchTrail(b *testing.B, n int, end time.Time) *trail.Trail {
	b.Helper()
	ctx := context.Background()
	cfg := trail.Config{Dir: filepath.Join(b.TempDir(), ".audit"), Registry: all.Registry()}
	tr, _, err := trail.Create(ctx, cfg, trail.CreateOptions{Origin: "example.org/bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	sources := []string{"git_source", "file_source", "log_source", "module_source", "service_source", "schedule"}
	actions := []string{"git_commit", "file_hash", "log_entry", "module_audit", "service_state", "scheduled_run"}
	batch := make([]*audit.Record, 0, 5000)
	for i := range n {
		k := i % len(sources)
		r := audit.New("bench", actions[k], fmt.Sprintf("t/%d", i%500), audit.TargetFile)
		r.Source = sources[k]
		r.Timestamp = end.Add(-time.Duration(n-i) * 86400 * time.Millisecond) // 1,000 records a day
		r.Context = map[string]any{"i": i, "path": "src/module/file.py"}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n-1 {
			if err := tr.Store().Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return tr
}

// BenchmarkReportSince renders the report of the newer half of a trail of
// AMI_AUDIT_BENCH_RECORDS records (default 1,000,000), every built-in
// catalog assessed, and reports in the same run:
//
//   - report-s: trailreport.Build (the whole trail verified, the period
//     read once, assessed, tallied);
//
//   - verify-s: the trail's verification alone, and query-s: reading and
//     decoding the period's records alone (the baselines: what any report
//     must at least do);
//
//   - peak-heap-MB: the largest heap in use during the report, sampled
//     every 10 ms.
//
//     AMI_AUDIT_BENCH_RECORDS=1000000 go test ./report/trailreport -run '^$' -bench ReportSince -benchtime 1x
func BenchmarkReportSince(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("AMI_AUDIT_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	end := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	b.StopTimer()
	tr := benchTrail(b, n, end)
	cats, err := compliance.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	var first, last audit.Record
	for r, err := range tr.Store().Range(ctx, uint64(n/2), uint64(n/2)+1) {
		if err != nil {
			b.Fatal(err)
		}
		first = *r
	}
	for r, err := range tr.Store().Range(ctx, uint64(n-1), uint64(n)) {
		if err != nil {
			b.Fatal(err)
		}
		last = *r
	}
	since := first.Timestamp
	_ = last
	for range b.N {
		t0 := time.Now()
		if _, err := tr.Verify(ctx, trail.VerifyOptions{Chain: true}); err != nil {
			b.Fatal(err)
		}
		verify := time.Since(t0)
		t0 = time.Now()
		var q int
		for _, err := range tr.Store().Query(ctx, audit.Filter{Since: since, Limit: -1}) {
			if err != nil {
				b.Fatal(err)
			}
			q++
		}
		query := time.Since(t0)
		p := peakmem.Start()
		b.StartTimer()
		t0 = time.Now()
		res, err := trailreport.Build(ctx, tr, trailreport.Options{Since: since, Catalogs: cats, Now: end})
		rep := time.Since(t0)
		b.StopTimer()
		m := p.Stop()
		if err != nil {
			b.Fatal(err)
		}
		if res.Count != uint64(q) || !res.Report.Integrity.Verified {
			b.Fatalf("report of %d records, query %d, verified %v", res.Count, q, res.Report.Integrity.Verified)
		}
		b.ReportMetric(rep.Seconds(), "report-s")
		b.ReportMetric(verify.Seconds(), "verify-s")
		b.ReportMetric(query.Seconds(), "query-s")
		b.ReportMetric(float64(q), "period-records")
		b.ReportMetric(peakmem.MB(m.Heap), "peak-heap-MB")
	}
}

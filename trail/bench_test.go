package trail_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"strconv"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/peakmem"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// BenchmarkRetention appends AMI_AUDIT_BENCH_RECORDS records (default
// 1,000,000; every other one a log record 200 days old, every tenth
// confidential) to an SQLite trail, then measures, in the same run:
//
//   - verify-full-s: verifying the whole trail (the baseline);
//
//   - apply-s: 'retention apply' pruning half of it (verification first,
//     then the pruning, the retention record, VACUUM and the WAL);
//
//   - verify-pruned-s: verifying the half-pruned trail;
//
//   - apply-peak-heap-MB: the largest live heap during the apply,
//     sampled every 5 ms (flat: it does not grow with the trail).
//
//     AMI_AUDIT_BENCH_RECORDS=1000000 go test ./trail -run '^$' -bench Retention -benchtime 1x
func BenchmarkRetention(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("AMI_AUDIT_BENCH_RECORDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		tr, dir := newTrail(b, "retention:\n  policies:\n    - name: logs\n      target_type: log\n      keep: 90d\n")
		now := time.Now()
		stream := iter.Seq2[*audit.Record, error](func(yield func(*audit.Record, error) bool) {
			for i := range n {
				r := audit.New("svc", "restart", fmt.Sprintf("svc/%d", i%100), audit.TargetService)
				r.Timestamp = now.Add(-time.Duration(i%1000) * time.Minute)
				if i%2 == 0 {
					r.TargetType, r.Target, r.Timestamp = audit.TargetLog, fmt.Sprintf("logs/%d.log", i%100), now.AddDate(0, 0, -200)
				}
				r.Context = map[string]any{"i": i, "host": "web-1.example.org"}
				if i%10 == 0 {
					r.Classification, r.Context["user"] = audit.ClassConfidential, "ana@example.org"
				}
				if !yield(r, nil) {
					return
				}
			}
		})
		sa := tr.Store().(interface {
			AppendStream(context.Context, iter.Seq2[*audit.Record, error]) (int, error)
		})
		if _, err := sa.AppendStream(ctx, stream); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		if _, err := tr.Verify(ctx, trail.VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
		full := time.Since(start)

		p := peakmem.Start()
		start = time.Now()
		res, err := tr.ApplyRetention(ctx, logKey(b, dir), trail.RetentionOptions{})
		apply := time.Since(start)
		m := p.Stop()
		if err != nil {
			b.Fatal(err)
		}
		if res.Pruned != uint64(n/2) {
			b.Fatalf("pruned %d of %d", res.Pruned, n)
		}

		start = time.Now()
		rep, err := tr.Verify(ctx, trail.VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pruned := time.Since(start)
		if rep.Forgotten.Pruned != uint64(n/2) {
			b.Fatalf("verify reports %d pruned", rep.Forgotten.Pruned)
		}
		b.ReportMetric(full.Seconds(), "verify-full-s")
		b.ReportMetric(apply.Seconds(), "apply-s")
		b.ReportMetric(pruned.Seconds(), "verify-pruned-s")
		b.ReportMetric(peakmem.MB(m.Heap), "apply-peak-heap-MB")
		tr.Close()
	}
}

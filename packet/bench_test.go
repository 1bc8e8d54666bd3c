package packet_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/packet"
	"github.com/ami-orchestrator/ami-audit/store/all"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// BenchmarkPacket writes the evidence packet of a trail of
// AMI_AUDIT_BENCH_RECORDS records (default 100,000), every record with its
// inclusion proof, and reports in the same run:
//
//   - packet-s: packet.Build (the whole trail verified, the records and
//     their proofs written, the manifest signed);
//
//   - export-s: the baseline, the same records exported as JSON lines;
//
//   - proof-bytes-max and proof-bytes-bound: the largest proof against
//     32·⌈log₂ n⌉ bytes.
//
//     AMI_AUDIT_BENCH_RECORDS=100000 go test ./packet -run '^$' -bench Packet -benchtime 1x
func BenchmarkPacket(b *testing.B) {
	n := 100_000
	if s := os.Getenv("AMI_AUDIT_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	b.StopTimer()
	cfg := trail.Config{Dir: filepath.Join(b.TempDir(), ".audit"), Registry: all.Registry()}
	tr, _, err := trail.Create(ctx, cfg, trail.CreateOptions{Origin: "example.org/bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	now := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	batch := make([]*audit.Record, 0, 5000)
	for i := range n {
		r := audit.New("bench", "file_hash", fmt.Sprintf("src/%d.py", i%1000), audit.TargetFile)
		r.Source, r.Timestamp = "file_source", now.Add(-time.Duration(n-i)*time.Second)
		r.Context = map[string]any{"sha256": fmt.Sprintf("%064x", i), "size": i}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n-1 {
			if err := tr.Store().Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	bound := 32 * int(math.Ceil(math.Log2(float64(n))))
	for range b.N {
		t0 := time.Now()
		var buf []byte
		for r, err := range tr.Store().Query(ctx, audit.Filter{Limit: -1}) {
			if err != nil {
				b.Fatal(err)
			}
			buf, _ = r.AppendJSON(buf[:0])
			io.Discard.Write(buf)
		}
		export := time.Since(t0)
		f, err := os.Create(filepath.Join(b.TempDir(), "p.zip"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 = time.Now()
		sum, err := packet.Build(ctx, tr, packet.Options{Now: now}, f)
		took := time.Since(t0)
		b.StopTimer()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if sum.Records != uint64(n) {
			b.Fatalf("%d records in the packet, want %d", sum.Records, n)
		}
		maxProof := 0
		for i := range uint64(n) {
			maxProof = max(maxProof, 32*packet.ProofLen(i, uint64(n)))
		}
		if maxProof > bound {
			b.Fatalf("a proof of %d bytes exceeds %d", maxProof, bound)
		}
		b.ReportMetric(took.Seconds(), "packet-s")
		b.ReportMetric(export.Seconds(), "export-s")
		b.ReportMetric(float64(maxProof), "proof-bytes-max")
		b.ReportMetric(float64(bound), "proof-bytes-bound")
		b.ReportMetric(float64(sum.ProofBytes)/float64(n), "proof-bytes-avg")
	}
}

package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/keys"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// benchRate is the line rate the benchmark writes (lines per second),
// benchSeconds how long; AMI_AUDIT_BENCH_RATE and AMI_AUDIT_BENCH_SECONDS
// change them.
func benchRate() (rate, seconds int) {
	rate, seconds = 50000, 3
	if v, err := strconv.Atoi(os.Getenv("AMI_AUDIT_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("AMI_AUDIT_BENCH_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	return rate, seconds
}

func benchLine(n int, at time.Time) []byte {
	return fmt.Appendf(nil, `{"timestamp":"%s","level":"INFO","logger":"api","message":"request %d served in 12ms"}`+"\n",
		at.UTC().Format(time.RFC3339Nano), n)
}

// cpuTime is the processor time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// signedStore is a signed SQLite trail in dir, as "ami-audit init" makes.
func signedStore(b *testing.B, dir string) *sqlite.Store {
	vkey, err := keys.Generate("bench.example/log", filepath.Join(dir, "log.key"), filepath.Join(dir, "log.pub"))
	if err != nil {
		b.Fatal(err)
	}
	k, err := keys.LoadKey(filepath.Join(dir, "log.key"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "audit.db"), Create: true,
		Origin: "bench.example/log", LogKey: vkey, Signer: k.Signer, Verifier: k.Verifier})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkWatchLogs writes lines to one file at a fixed rate (50,000
// lines/s unless AMI_AUDIT_BENCH_RATE says otherwise) while a tailer and
// the stream collector append them to a signed SQLite trail, and reports
// the latency from the write of a line to its record being durable (p50,
// p99, max) and the rate kept up with. The baseline, in the same run, is
// the rate at which the same lines can be appended to a plain file with
// an fsync after every group (the same groups the collector made): what
// durability alone costs on this disk.
func BenchmarkWatchLogs(b *testing.B) {
	rate, seconds := benchRate()
	total := rate * seconds
	for b.Loop() {
		dir := b.TempDir()
		logs := filepath.Join(dir, "logs")
		os.Mkdir(logs, 0o755)
		path := filepath.Join(logs, "app.log")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		s := signedStore(b, dir)
		src, _ := logsource.New(logsource.Config{Level: audit.SeverityInfo})
		tl, err := New(Config{Root: logs, Parser: src, StateFile: filepath.Join(dir, "state.json"), FromStart: true})
		if err != nil {
			b.Fatal(err)
		}
		lat := make([]time.Duration, 0, total)
		var groups []int
		var got atomic.Int64
		col, _ := stream.New(s, stream.Config{OnAppend: func(recs []*audit.Record) {
			now := time.Now()
			groups = append(groups, len(recs))
			for _, r := range recs {
				// the line's timestamp is when it was written
				lat = append(lat, now.Sub(r.Timestamp))
			}
			got.Add(int64(len(recs)))
		}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- col.Run(ctx, tl) }()
		time.Sleep(100 * time.Millisecond)

		// the writer: lines in 1 ms steps at the rate
		cpu0 := cpuTime()
		start := time.Now()
		perStep := rate / 1000
		var buf []byte
		n := 0
		for step := 1; n < total; step++ {
			buf = buf[:0]
			now := time.Now()
			for range perStep {
				n++
				buf = append(buf, benchLine(n, now)...)
			}
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
			if d := time.Until(start.Add(time.Duration(step) * time.Millisecond)); d > 0 {
				time.Sleep(d)
			}
		}
		wrote := time.Since(start)
		deadline := time.Now().Add(30 * time.Second)
		for got.Load() < int64(total) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		kept := time.Since(start)
		cpu := cpuTime() - cpu0
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		s.Close()
		f.Close()
		if got.Load() != int64(total) {
			b.Fatalf("%d of %d lines recorded", got.Load(), total)
		}
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		b.ReportMetric(float64(total)/wrote.Seconds(), "lines/s-written")
		b.ReportMetric(float64(total)/kept.Seconds(), "lines/s-recorded")
		b.ReportMetric(float64(q(0.5).Milliseconds()), "p50-ms")
		b.ReportMetric(float64(q(0.99).Milliseconds()), "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max-ms")
		b.ReportMetric(float64(total)/float64(len(groups)), "records/append")
		// processor time per line (writer, tailer, parser, collector and
		// store together), which the machine's other load does not change
		// much; 1 s divided by it is what one free core keeps up with
		b.ReportMetric(float64(cpu.Microseconds())/float64(total), "cpu-µs/line")

		// baseline: the same lines, the same groups, to a plain file
		// with an fsync per group
		raw, err := os.OpenFile(filepath.Join(dir, "raw.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		line := benchLine(1, time.Now())
		rstart := time.Now()
		for _, g := range groups {
			if _, err := raw.Write([]byte(strings.Repeat(string(line), g))); err != nil {
				b.Fatal(err)
			}
			if err := raw.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		raw.Close()
		b.ReportMetric(float64(total)/time.Since(rstart).Seconds(), "baseline-fsync-lines/s")
	}
}

//go:build linux

package file

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// The benchmark tree: AMI_AUDIT_BENCH_FILES files (default 100,000) in
// directories of 100, with sizes drawn like a source tree's: 60% between
// 512 B and 8 KiB, 30% up to 32 KiB, 10% up to 128 KiB (about 1.6 GB for
// 100,000 files). It is generated once per run in a new directory under
// $AMI_AUDIT_BENCH_TREE (default: the temporary directory; /dev/shm puts
// the tree in memory, which makes generating it fast) and removed by
// TestMain when the run ends. The trail is always written under the
// temporary directory, where fsync costs what it costs.
var (
	benchOnce sync.Once
	benchDir  string
	benchSize int64
	benchErr  error
)

func benchFiles() int {
	if n, err := strconv.Atoi(os.Getenv("AMI_AUDIT_BENCH_FILES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func benchTree(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp(os.Getenv("AMI_AUDIT_BENCH_TREE"), "file-source-bench-")
		if benchErr != nil {
			return
		}
		benchSize, benchErr = generateTree(benchDir, benchFiles())
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

func generateTree(dir string, n int) (int64, error) {
	var g errgroup.Group
	g.SetLimit(runtime.NumCPU() * 2)
	const perDir = 100
	var mu sync.Mutex
	var total int64
	for d := 0; d*perDir < n; d++ {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(d), 7))
			sub := filepath.Join(dir, fmt.Sprintf("d%03d", d/100), fmt.Sprintf("d%05d", d))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
			buf := make([]byte, 128<<10)
			var sum int64
			for i := d * perDir; i < min(n, (d+1)*perDir); i++ {
				var size int
				switch p := rng.IntN(10); {
				case p < 6:
					size = 512 + rng.IntN(8<<10-512)
				case p < 9:
					size = 8<<10 + rng.IntN(24<<10)
				default:
					size = 32<<10 + rng.IntN(96<<10)
				}
				for j := 0; j < size; j += 8 {
					v := rng.Uint64()
					for k := 0; k < 8 && j+k < size; k++ {
						buf[j+k] = 'a' + byte(v>>(8*k))%26
					}
				}
				ext := []string{".go", ".py", ".md", ".json", ".txt"}[i%5]
				if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d%s", i, ext)), buf[:size], 0o644); err != nil {
					return err
				}
				sum += int64(size)
			}
			mu.Lock()
			total += sum
			mu.Unlock()
			return nil
		})
	}
	return total, g.Wait()
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS starts a new VmHWM measurement (Linux: clear_refs 5).
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// BenchmarkFileSource compares, on the same tree in the same run, the file
// source (walk, hash, build records, append them to a new SQLite trail
// through the batch collector, exactly as "ami-audit file" does) with
// `find DIR -type f -print0 | xargs -0 sha256sum >/dev/null`. It reports
// both times per run, their ratio (target ≤ 0.5) and the peak resident
// memory of the file source's run (target < 200 MB), and the processor
// time each used (user + system; the machine's other load does not count
// there, so these figures are steadier than the wall times). It also times the
// source alone, its records built and dropped (no-store-s/op), to show
// how the time divides between the source and the store.
//
//	go test ./source/file -run '^$' -bench FileSource -benchtime 3x -timeout 60m
func BenchmarkFileSource(b *testing.B) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		b.Skip("sha256sum is not installed")
	}
	dir := benchTree(b)
	ctx := context.Background()
	var baseline, ours, alone, baselineCPU, oursCPU, aloneCPU time.Duration
	var peak int64
	var records int
	iters := 0
	for b.Loop() {
		iters++
		start := time.Now()
		cmd := exec.Command("sh", "-c", `find "$1" -type f -print0 | xargs -0 sha256sum >/dev/null`, "sh", dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("baseline: %v", err)
		}
		baseline += time.Since(start)
		baselineCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()

		trailDir := b.TempDir()
		runtime.GC()
		resetOK := resetPeakRSS()
		start, cpu0 := time.Now(), processCPU()
		n, err := runFileSource(ctx, dir, filepath.Join(trailDir, "audit.db"))
		ours += time.Since(start)
		oursCPU += processCPU() - cpu0
		if err != nil {
			b.Fatal(err)
		}
		if resetOK {
			peak = max(peak, peakRSS())
		}
		records = n

		// the source alone: records built and dropped, no store
		start, cpu0 = time.Now(), processCPU()
		src, err := New(Config{Root: dir, Actor: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if err := src.Collect(ctx, dir, func(*audit.Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
		alone += time.Since(start)
		aloneCPU += processCPU() - cpu0
	}
	if records != benchFiles() {
		b.Fatalf("recorded %d files, want %d", records, benchFiles())
	}
	n := float64(iters)
	b.ReportMetric(ours.Seconds()/n, "source-s/op")
	b.ReportMetric(baseline.Seconds()/n, "sha256sum-s/op")
	b.ReportMetric(ours.Seconds()/baseline.Seconds(), "ratio")
	b.ReportMetric(oursCPU.Seconds()/n, "source-cpu-s/op")
	b.ReportMetric(baselineCPU.Seconds()/n, "sha256sum-cpu-s/op")
	b.ReportMetric(alone.Seconds()/n, "no-store-s/op")
	b.ReportMetric(alone.Seconds()/baseline.Seconds(), "no-store-ratio")
	b.ReportMetric(aloneCPU.Seconds()/n, "no-store-cpu-s/op")
	b.ReportMetric(float64(benchSize)/(1<<20)/(ours.Seconds()/n), "MB/s")
	if peak > 0 {
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
	}
}

// runFileSource is "ami-audit file DIR" without the report: the source,
// the batch collector and a new SQLite trail.
func runFileSource(ctx context.Context, dir, db string) (int, error) {
	store, err := sqlite.Open(ctx, sqlite.Config{Path: db, Create: true, Origin: "bench"})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	src, err := New(Config{Root: dir, Trail: store, Actor: "bench"})
	if err != nil {
		return 0, err
	}
	col, err := batch.New(store, batch.Config{})
	if err != nil {
		return 0, err
	}
	sum, err := col.Run(ctx, dir, []audit.Source{src})
	if err != nil {
		return 0, err
	}
	return sum.Records(), nil
}

package log

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// benchMessages are message shapes of a service log; %d, %s are filled
// with random parameters.
var benchMessages = []string{
	"request %d completed in %dms",
	"user %s logged in from 10.%d.%d.%d",
	"cache miss for key %x",
	"worker %d picked job %d from queue %s",
	"GET /api/v1/items/%d returned %d in %dms",
	"timeout after %ds on host %s",
	"connection to 10.%d.%d.%d:5432 refused",
	"retrying task %x attempt %d of 5",
	"disk usage at %d%% on /data/%s",
	"slow query on table %s took %dms rows=%d",
}

var benchWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"}

// writeJSONLog writes n JSON lines: 70 % info, 15 % debug, 10 % warning,
// 4 % error, 1 % critical, one second apart.
func writeJSONLog(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 7))
	bw := bufio.NewWriterSize(w, 1<<20)
	base := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	var line []byte
	for i := range n {
		lv := "INFO"
		switch x := r.IntN(100); {
		case x < 15:
			lv = "DEBUG"
		case x < 25:
			lv = "WARNING"
		case x < 29:
			lv = "ERROR"
		case x < 30:
			lv = "CRITICAL"
		}
		tmpl := benchMessages[r.IntN(len(benchMessages))]
		var args []any
		for j := 0; j < len(tmpl)-1; j++ {
			if tmpl[j] != '%' {
				continue
			}
			switch tmpl[j+1] {
			case 'd':
				args = append(args, r.IntN(10000))
			case 'x':
				args = append(args, r.Uint64())
			case 's':
				args = append(args, benchWords[r.IntN(len(benchWords))])
			}
			j++
		}
		line = line[:0]
		line = append(line, `{"timestamp":"`...)
		line = base.Add(time.Duration(i)*time.Second).AppendFormat(line, "2006-01-02T15:04:05.000000Z")
		line = append(line, `","level":"`...)
		line = append(line, lv...)
		line = append(line, `","logger":"audit:worker","message":"`...)
		line = fmt.Appendf(line, tmpl, args...)
		line = append(line, `","current":`...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, ",\"status\":\"PASS\"}\n"...)
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// BenchmarkJSONLines measures parse + level filter + template mining over
// one JSON-lines file, and, in the same run, `grep -c ERROR` over the same
// file. It reports lines/s for both and their ratio (ours / grep, in time).
// AMI_AUDIT_BENCH_LINES sets the file's size (default 1,000,000 lines).
func BenchmarkJSONLines(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AMI_AUDIT_BENCH_LINES")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(b.TempDir(), "service.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeJSONLog(f, n, 1); err != nil {
		b.Fatal(err)
	}
	f.Close()
	grep, grepErr := exec.LookPath("grep")
	for _, lv := range []audit.Severity{audit.SeverityError, audit.SeverityDebug} {
		b.Run("level="+string(lv), func(b *testing.B) {
			src, err := New(Config{Level: lv})
			if err != nil {
				b.Fatal(err)
			}
			var ours, theirs, cpu time.Duration
			for b.Loop() {
				cpu0 := processCPU()
				start := time.Now()
				sum, err := src.Run(context.Background(), path, func(*audit.Record) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				ours += time.Since(start)
				cpu += processCPU() - cpu0
				if sum.Lines != int64(n) {
					b.Fatalf("read %d lines of %d", sum.Lines, n)
				}
				if grepErr == nil {
					start = time.Now()
					out, err := exec.Command(grep, "-c", "ERROR", path).Output()
					if err != nil {
						b.Fatal(err)
					}
					theirs += time.Since(start)
					_ = bytes.TrimSpace(out)
				}
			}
			iters := float64(b.N)
			b.ReportMetric(float64(n)*iters/ours.Seconds(), "lines/s")
			// CPU time of this process, for a machine shared with other work
			b.ReportMetric(float64(cpu.Nanoseconds())/(float64(n)*iters), "cpu-ns/line")
			if grepErr == nil {
				b.ReportMetric(float64(n)*iters/theirs.Seconds(), "grep-lines/s")
				b.ReportMetric(ours.Seconds()/theirs.Seconds(), "time/grep")
			}
		})
	}
}

// TestLargeDirectoryMemory reads a generated directory of logs (JSON,
// loguru text and gzip rotations) and checks that peak resident memory,
// measured by the kernel (VmHWM, reset before the run), stays under
// 200 MiB. Set AMI_AUDIT_BIG_LOGS to the directory's size in MiB (e.g.
// 5120 for 5 GiB); the directory is generated once under
// AMI_AUDIT_BIG_LOGS_DIR (default: a temporary directory).
func TestLargeDirectoryMemory(t *testing.T) {
	mib, _ := strconv.Atoi(os.Getenv("AMI_AUDIT_BIG_LOGS"))
	if mib <= 0 {
		t.Skip("set AMI_AUDIT_BIG_LOGS=MiB to run (e.g. 5120)")
	}
	dir := os.Getenv("AMI_AUDIT_BIG_LOGS_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := GenerateLogDir(dir, int64(mib)<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("cannot reset the peak RSS: %v", err)
	}
	src, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sum, err := src.Run(context.Background(), dir, func(*audit.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	hwm := vmHWM(t)
	var bytesRead int64
	for _, f := range sum.Files {
		bytesRead += f.Bytes
	}
	t.Logf("%d files, %d lines, %d MiB of text in %v (%.0f lines/s); %d patterns, %d bursts; peak RSS %d MiB",
		len(sum.Files), sum.Lines, bytesRead>>20, elapsed.Round(time.Millisecond), float64(sum.Lines)/elapsed.Seconds(),
		len(sum.Patterns), len(sum.Bursts), hwm>>20)
	if hwm > 200<<20 {
		t.Errorf("peak RSS %d MiB, want under 200 MiB", hwm>>20)
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func vmHWM(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// GenerateLogDir fills dir with about size bytes of logs, unless a
// previous call already did (it leaves a marker file): JSON-lines files of
// 64 MiB, every fourth one gzipped, and loguru text files. It is used by
// the memory test and by the command-line measurements.
func GenerateLogDir(dir string, size int64) error {
	marker := filepath.Join(dir, ".generated-"+strconv.FormatInt(size, 10))
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	const fileLines = 500_000 // about 64 MiB of JSON lines
	var written int64
	for i := 0; written < size; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("svc%02d", i%8))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		var path string
		switch i % 4 {
		case 3:
			path = filepath.Join(sub, fmt.Sprintf("app-%03d.log.gz", i))
		case 2:
			path = filepath.Join(sub, fmt.Sprintf("agent-%03d.log", i))
		default:
			path = filepath.Join(sub, fmt.Sprintf("app-%03d.log", i))
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		cw := &countWriter{w: f}
		var w io.Writer = cw
		var zw *gzip.Writer
		if i%4 == 3 {
			zw, _ = gzip.NewWriterLevel(cw, gzip.BestSpeed)
			w = zw
		}
		if i%4 == 2 {
			err = writeLoguruLog(w, fileLines, uint64(i))
		} else {
			err = writeJSONLog(w, fileLines, uint64(i))
		}
		if err == nil && zw != nil {
			err = zw.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if zw != nil {
			written += 64 << 20 // count gzip files by their text
		} else {
			written += cw.n
		}
	}
	return os.WriteFile(marker, nil, 0o644)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeLoguruLog(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 9))
	bw := bufio.NewWriterSize(w, 1<<20)
	base := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	levels := []string{"INFO    ", "DEBUG   ", "WARNING ", "ERROR   ", "SUCCESS "}
	for i := range n {
		lv := levels[r.IntN(len(levels))]
		fmt.Fprintf(bw, "%s | %s | ami.agent:step:%d - tool call %d failed: exit status %d\n",
			base.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05.000"), lv, r.IntN(200), i, r.IntN(3))
		if lv == "ERROR   " && i%10 == 0 {
			bw.WriteString("Traceback (most recent call last):\n  File \"agent.py\", line 9, in step\nValueError: boom\n")
		}
	}
	return bw.Flush()
}

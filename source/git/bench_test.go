package git

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/internal/peakmem"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// The benchmark repository: AMI_GIT_BENCH_REPO caches it across runs (it
// is generated there when missing); AMI_GIT_BENCH_COMMITS sets its size
// (default 50,000 main-line commits).
var benchRepo struct {
	once sync.Once
	dir  string
	tmp  string
	err  error
}

func benchDir(b *testing.B) string {
	b.Helper()
	needGit(b)
	benchRepo.once.Do(func() {
		commits := 50000
		if v := os.Getenv("AMI_GIT_BENCH_COMMITS"); v != "" {
			if commits, benchRepo.err = strconv.Atoi(v); benchRepo.err != nil {
				return
			}
		}
		dir := os.Getenv("AMI_GIT_BENCH_REPO")
		if dir == "" {
			tmp, err := os.MkdirTemp("", "gitsrc-bench-")
			if err != nil {
				benchRepo.err = err
				return
			}
			benchRepo.tmp = tmp // removed by TestMain
			dir = filepath.Join(tmp, "repo")
		}
		benchRepo.dir = dir
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return
		}
		start := time.Now()
		_, benchRepo.err = gitgen.Generate(context.Background(), dir, gitgen.Options{Seed: 1, Commits: commits})
		b.Logf("generated %d commits in %s in %s", commits, dir, time.Since(start).Round(time.Millisecond))
	})
	if benchRepo.err != nil {
		b.Fatal(benchRepo.err)
	}
	return benchRepo.dir
}

// gitLogNumstat is the baseline: `git log --numstat` over the same
// revisions the source walks, its output read and dropped.
func gitLogNumstat(ctx context.Context, dir string) (int64, error) {
	cmd := exec.CommandContext(ctx, "git", "log", "--numstat", "--branches", "--tags", "--remotes", "HEAD")
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, bufio.NewReaderSize(out, 1<<20))
	if werr := cmd.Wait(); err == nil {
		err = werr
	}
	return n, err
}

// ingest runs the git source over dir into the SQLite store s through
// the batch collector, as "ami-audit git" does, and returns the records
// appended.
func ingest(ctx context.Context, b *testing.B, s audit.Store, dir string) int {
	src, err := New(Config{Recorded: s})
	if err != nil {
		b.Fatal(err)
	}
	col, err := batch.New(s, batch.Config{})
	if err != nil {
		b.Fatal(err)
	}
	sum, err := col.Run(ctx, dir, []audit.Source{src})
	if err != nil {
		b.Fatal(err)
	}
	return sum.Records()
}

// discard is an appender that keeps nothing: with it the benchmark
// measures the source alone, without the store.
type discard struct{}

func (discard) Append(context.Context, []*audit.Record) error { return nil }

// ingestOnly runs the source alone, records dropped.
func ingestOnly(ctx context.Context, b *testing.B, dir string) {
	src, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	col, err := batch.New(discard{}, batch.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := col.Run(ctx, dir, []audit.Source{src}); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the CPU time (user and system) used so far by this process
// and by its waited-for children.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// BenchmarkGitSource compares, in the same run, ingesting the generated
// history with the git source and appending it to an SQLite trail (the
// path of "ami-audit git") with `git log --numstat` over the same
// history. Each iteration runs both, alternating which goes first, and
// reports both wall-clock times and their ratio, both CPU times (this
// process and its git children) and their ratio, the source's peak memory,
// the time of a second run over the same trail, which appends nothing, and
// the time of the source alone with its records dropped (no store).
//
//	go test -run '^$' -bench BenchmarkGitSource -benchtime 3x ./source/git
func BenchmarkGitSource(b *testing.B) {
	dir := benchDir(b)
	ctx := context.Background()
	var baseline, source, baseCPU, sourceCPU, noop, alone time.Duration
	var heapPeak, goPeak, rssPeak float64
	records := 0
	runtime.GC()
	i := 0
	for b.Loop() {
		runBase := func() {
			t, c := time.Now(), cpuTime()
			if _, err := gitLogNumstat(ctx, dir); err != nil {
				b.Fatal(err)
			}
			baseline += time.Since(t)
			baseCPU += cpuTime() - c
		}
		runSource := func() {
			s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "audit.db"), Create: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			p := peakmem.Start()
			t, c := time.Now(), cpuTime()
			records = ingest(ctx, b, s, dir)
			source += time.Since(t)
			sourceCPU += cpuTime() - c
			m := p.Stop()
			heapPeak, goPeak, rssPeak = max(heapPeak, peakmem.MB(m.Heap)), max(goPeak, peakmem.MB(m.Runtime)), max(rssPeak, peakmem.MB(m.RSS))
			// Again over the same trail: nothing is new.
			t = time.Now()
			if n := ingest(ctx, b, s, dir); n != 0 {
				b.Fatalf("a second run appended %d records", n)
			}
			noop += time.Since(t)
		}
		runAlone := func() {
			t := time.Now()
			ingestOnly(ctx, b, dir)
			alone += time.Since(t)
		}
		if i%2 == 0 {
			runBase()
			runSource()
			runAlone()
		} else {
			runAlone()
			runSource()
			runBase()
		}
		i++
	}
	n := float64(i)
	b.ReportMetric(baseline.Seconds()/n, "git-log-s/op")
	b.ReportMetric(source.Seconds()/n, "source-s/op")
	b.ReportMetric(source.Seconds()/baseline.Seconds(), "ratio")
	b.ReportMetric(baseCPU.Seconds()/n, "git-log-cpu-s/op")
	b.ReportMetric(sourceCPU.Seconds()/n, "source-cpu-s/op")
	b.ReportMetric(sourceCPU.Seconds()/baseCPU.Seconds(), "cpu-ratio")
	b.ReportMetric(noop.Seconds()/n, "rerun-s/op")
	b.ReportMetric(alone.Seconds()/n, "source-no-store-s/op")
	b.ReportMetric(alone.Seconds()/baseline.Seconds(), "no-store-ratio")
	b.ReportMetric(float64(records), "records/op")
	b.ReportMetric(heapPeak, "peak-heap-MB")
	b.ReportMetric(goPeak, "peak-go-MB")
	b.ReportMetric(rssPeak, "peak-rss-MB")
}

// BenchmarkParseLog measures the parser alone over captured output of the
// benchmark repository.
func BenchmarkParseLog(b *testing.B) {
	dir := benchDir(b)
	src, _ := New(Config{})
	cmd := src.command(context.Background(), dir, src.logArgs("--reverse", "--branches", "--tags", "--remotes", "HEAD", "--")...)
	out, err := cmd.Output()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		p := newLogParser(bytes.NewReader(out))
		var c Commit
		for {
			if err := p.Next(&c); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			_ = src.commitRecord(&c)
		}
	}
}

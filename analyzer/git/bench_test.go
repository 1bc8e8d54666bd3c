package git

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// BenchmarkGitAnalyzer measures the git analyzer over a generated history
// (AMI_GIT_BENCH_COMMITS main-line commits, default 20,000, with the
// planted patterns) recorded in an SQLite trail by the git and module
// sources, against `git log --numstat` over the same history, in the same
// run, alternating which goes first. It reports both times and their
// ratio for the analysis alone (Analyze: reading the trail and every
// check) and for a whole run of the pipeline on unchanged input (which
// also reads the open findings and appends nothing).
//
//	go test -run '^$' -bench BenchmarkGitAnalyzer -benchtime 3x ./analyzer/git
func BenchmarkGitAnalyzer(b *testing.B) {
	needGit(b)
	ctx := context.Background()
	commits := 20000
	if v := os.Getenv("AMI_GIT_BENCH_COMMITS"); v != "" {
		var err error
		if commits, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	tmp := b.TempDir()
	dir := filepath.Join(tmp, "repo")
	start := time.Now()
	if _, err := gitgen.Generate(ctx, dir, gitgen.Options{Seed: 1, Commits: commits, Plant: true}); err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(tmp, "audit.db"), Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ingest := func(src audit.Source, target string) {
		var batch []*audit.Record
		err := src.Collect(ctx, target, func(r *audit.Record) error {
			if batch = append(batch, r); len(batch) == 1000 {
				err := s.Append(ctx, batch)
				batch = batch[:0]
				return err
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = s.Append(ctx, batch)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	gs, _ := gitsource.New(gitsource.Config{Recorded: s, NoSignatures: true})
	ingest(gs, dir)
	ms, _ := module.New(module.Config{Root: dir, History: s})
	ingest(ms, "")
	b.Logf("%d commits generated and recorded in %s", commits, time.Since(start).Round(time.Millisecond))

	a, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := analyzer.Config{Trail: s, Appender: s}
	in := analyzer.Input{Target: dir}
	// The first run records the findings; later runs append nothing.
	if _, err := analyzer.Run(ctx, cfg, []audit.Analyzer{a}, in); err != nil {
		b.Fatal(err)
	}
	var base, analysis, pipeline time.Duration
	i := 0
	for b.Loop() {
		runBase := func() {
			t := time.Now()
			if err := gitLogNumstat(ctx, dir); err != nil {
				b.Fatal(err)
			}
			base += time.Since(t)
		}
		runAnalysis := func() {
			t := time.Now()
			_, err := a.Analyze(ctx, &audit.Analysis{Target: dir, Trail: s}, func(audit.Detected) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			analysis += time.Since(t)
			t = time.Now()
			res, err := analyzer.Run(ctx, cfg, []audit.Analyzer{a}, in)
			if err != nil {
				b.Fatal(err)
			}
			if res[0].Appended() != 0 {
				b.Fatalf("a run on unchanged input appended %d records", res[0].Appended())
			}
			pipeline += time.Since(t)
		}
		if i%2 == 0 {
			runBase()
			runAnalysis()
		} else {
			runAnalysis()
			runBase()
		}
		i++
	}
	n := float64(i)
	b.ReportMetric(base.Seconds()/n, "git-log-s/op")
	b.ReportMetric(analysis.Seconds()/n, "analyze-s/op")
	b.ReportMetric(analysis.Seconds()/base.Seconds(), "ratio")
	b.ReportMetric(pipeline.Seconds()/n, "run-s/op")
	b.ReportMetric(pipeline.Seconds()/base.Seconds(), "run-ratio")
	st := a.Stats()
	b.ReportMetric(float64(st.Commits), "commits")
}

// gitLogNumstat is the baseline: `git log --numstat` over every branch
// and tag, its output read and dropped.
func gitLogNumstat(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "log", "--numstat", "--branches", "--tags", "--remotes", "HEAD")
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, out); err != nil {
		return err
	}
	return cmd.Wait()
}

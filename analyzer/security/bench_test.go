package security

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	"github.com/zricethezav/gitleaks/v8/sources"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/internal/peakmem"
)

// The benchmark repository: AMI_AUDIT_BENCH_SECRETS_REPO names one (for
// instance a clone of gitleaks' own repository); without it a history of
// 3,000 commits with the planted secrets is generated.
func benchRepo(b *testing.B) string {
	b.Helper()
	if dir := os.Getenv("AMI_AUDIT_BENCH_SECRETS_REPO"); dir != "" {
		return dir
	}
	dir := filepath.Join(b.TempDir(), "repo")
	if _, err := gitgen.Generate(b.Context(), dir, gitgen.Options{Commits: 3000, SubmoduleCommits: -1}); err != nil {
		b.Fatal(err)
	}
	if _, err := gitgen.PlantSecrets(b.Context(), dir, 1); err != nil {
		b.Fatal(err)
	}
	return dir
}

// gitleaksGit is the baseline: what "gitleaks git DIR" does, through
// gitleaks' library: its configuration (the repository's .gitleaks.toml,
// else the default), decoding to depth 5, .gitleaksignore, and its git
// source over "git log -p -U0 --full-history --all".
func gitleaksGit(ctx context.Context, dir string) (int, error) {
	text := config.DefaultConfig
	if p := filepath.Join(dir, ".gitleaks.toml"); fileOK(p) {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		text = string(b)
	}
	// gitleaks loads its configuration through the global viper, as its
	// command does.
	viper.SetConfigType("toml")
	if err := viper.ReadConfig(strings.NewReader(text)); err != nil {
		return 0, err
	}
	var vc config.ViperConfig
	if err := viper.Unmarshal(&vc); err != nil {
		return 0, err
	}
	cfg, err := vc.Translate()
	if err != nil {
		return 0, err
	}
	cfg.Path = filepath.Join(dir, ".gitleaks.toml")
	d := detect.NewDetectorContext(ctx, cfg)
	d.MaxDecodeDepth = 5
	if p := filepath.Join(dir, ".gitleaksignore"); fileOK(p) {
		if err := d.AddGitleaksIgnore(p); err != nil {
			return 0, err
		}
	}
	cmd, err := sources.NewGitLogCmdContext(ctx, dir, "")
	if err != nil {
		return 0, err
	}
	fs, err := d.DetectGit(cmd, &detect.RemoteInfo{})
	return len(fs), err
}

func fileOK(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// BenchmarkHistory compares the security analyzer's history scan with
// gitleaks' own ("gitleaks git") on the same repository, in the same
// process: time per run of each and their ratio, and the peak live heap
// of each. Run it a few times and take the median:
//
//	go test -run '^$' -bench History -benchtime 3x -count 3 ./analyzer/security
func BenchmarkHistory(b *testing.B) {
	logging.Logger = logging.Logger.Level(zerolog.Disabled) // gitleaks' progress lines
	dir := benchRepo(b)
	det := detector(b, dir)
	a, err := New(Config{Root: dir, Detector: det, History: true, Skip: []string{CheckSecrets, CheckDependencies, CheckPermissions, CheckPatterns}})
	if err != nil {
		b.Fatal(err)
	}
	var glTime, ourTime time.Duration
	var glHeap, ourHeap float64
	var glFound, ourFound int
	for b.Loop() {
		p := peakmem.Start()
		start := time.Now()
		n, err := gitleaksGit(b.Context(), dir)
		glTime += time.Since(start)
		glHeap = max(glHeap, peakmem.MB(p.Stop().Heap))
		if err != nil {
			b.Fatal(err)
		}
		glFound = n

		var mu sync.Mutex
		count := 0
		p = peakmem.Start()
		start = time.Now()
		_, err = a.Analyze(b.Context(), &audit.Analysis{Target: dir}, func(audit.Detected) error {
			mu.Lock()
			count++
			mu.Unlock()
			return nil
		})
		ourTime += time.Since(start)
		ourHeap = max(ourHeap, peakmem.MB(p.Stop().Heap))
		if err != nil {
			b.Fatal(err)
		}
		ourFound = count
	}
	n := float64(b.N)
	b.ReportMetric(glTime.Seconds()/n, "gitleaks-s/op")
	b.ReportMetric(ourTime.Seconds()/n, "security-s/op")
	b.ReportMetric(ourTime.Seconds()/glTime.Seconds(), "time-ratio")
	b.ReportMetric(glHeap, "gitleaks-peak-heap-MB")
	b.ReportMetric(ourHeap, "security-peak-heap-MB")
	b.ReportMetric(float64(glFound), "gitleaks-findings")
	b.ReportMetric(float64(ourFound), "security-findings")
}

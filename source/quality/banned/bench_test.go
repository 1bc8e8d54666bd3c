package banned

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchTree writes a tree of AMI_AUDIT_BENCH_FILES files (100,000 by
// default) under AMI's real pattern configuration.
func benchTree() (string, error) {
	n := 100_000
	if s := os.Getenv("AMI_AUDIT_BENCH_FILES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			return "", err
		}
	}
	root, err := os.MkdirTemp("", "banned-bench")
	if err != nil {
		return "", err
	}
	if err := os.CopyFS(filepath.Join(root, "scripts"), os.DirFS("../../../testdata/ami/scripts")); err != nil {
		return "", err
	}
	rng := rand.New(rand.NewPCG(7, 8))
	lines := []string{
		"def handler(request, response):", "    value = compute(request.args)", "    return response.json(value)",
		"class Repository:", "    def __init__(self, store):", "        self.store = store", "import os", "from typing import Optional",
		"    # keep the cache warm", "    for item in items:", "        total += item.size", "x = fallback_value", "v = getattr(o, name)",
		"    raise ValueError(\"bad input\")", "    logger.info(\"started %s\", name)", "",
	}
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("mod%02d", i%40), fmt.Sprintf("pkg%03d", (i/40)%250))
		if i%1000 == 0 || i < 40*250 {
			os.MkdirAll(dir, 0o755)
		}
		var b strings.Builder
		for range 20 + rng.IntN(20) {
			b.WriteString(lines[rng.IntN(len(lines))])
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d.py", i)), []byte(b.String()), 0o644); err != nil {
			return "", err
		}
	}
	return root, nil
}

// BenchmarkBannedWordsVsGrep scans the tree (or AMI_AUDIT_BENCH_TREE, a
// tree holding scripts/config/patterns/banned_words.yaml) with AMI's
// global words and
// times `grep -rEi` with the same patterns (those RE2 accepts; literal
// entries escaped) over the same tree in the same run. It reports both
// times and grep_time/scan_time: at least 0.5 is the target.
//
//	go test -run '^$' -bench BannedWordsVsGrep -benchtime 3x ./source/quality/banned
func BenchmarkBannedWordsVsGrep(b *testing.B) {
	root := os.Getenv("AMI_AUDIT_BENCH_TREE") // a tree already written (with AMI's patterns)
	if root == "" {
		var err error
		root, err = benchTree()
		if root != "" {
			b.Cleanup(func() { os.RemoveAll(root) })
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	grep, err := exec.LookPath("grep")
	if err != nil {
		b.Fatal("grep is needed for the baseline")
	}
	cfg, err := Load(filepath.Join(root, Dir, WordsFile))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Directories = nil // grep cannot scope patterns by directory
	cfg.Filenames = nil
	sc := Compile(cfg)
	var pats []string
	for _, p := range sc.Patterns() {
		switch p.Engine {
		case EngineRE2:
			pats = append(pats, p.Entry)
		case EngineLiteral:
			pats = append(pats, regexp.QuoteMeta(p.Entry))
		}
	}
	patFile := filepath.Join(b.TempDir(), "patterns")
	os.WriteFile(patFile, []byte(strings.Join(pats, "\n")+"\n"), 0o644)
	args := []string{"-rnEi", "-f", patFile}
	for _, d := range cfg.IgnoredDirs {
		args = append(args, "--exclude-dir="+d)
	}
	args = append(args, root)

	var grepTime, scanTime time.Duration
	var hits int
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(grep, args...)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("grep: %v", err)
		}
		grepTime += time.Since(start)
		grepLines := bytes.Count(out.Bytes(), []byte("\n"))

		start = time.Now()
		hits = 0
		err := sc.Scan(context.Background(), root, root, Options{}, func(r FileResult) error {
			hits += len(r.Hits)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		scanTime += time.Since(start)
		if hits < grepLines {
			b.Fatalf("scan found %d hits, grep %d matching lines", hits, grepLines)
		}
	}
	b.ReportMetric(grepTime.Seconds()/float64(b.N), "grep-s/op")
	b.ReportMetric(scanTime.Seconds()/float64(b.N), "scan-s/op")
	b.ReportMetric(grepTime.Seconds()/scanTime.Seconds(), "speed-vs-grep")
	b.ReportMetric(float64(hits), "hits")
}

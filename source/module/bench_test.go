package module

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/boyter/gocodewalker"
	"github.com/boyter/scc/v3/processor"
	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
)

// genRepo writes a repository of n modules into dir: Python modules
// (pyproject.toml, uv.lock, packages importing each other, pytest files,
// coverage.json), Go modules (go.mod, go.sum, packages, tests, a cover
// profile) and TypeScript modules (package.json, package-lock.json,
// sources, tests, lcov), in turn. Files are 60 to 600 lines, about 80 per
// module. It returns the number of files written.
func genRepo(dir string, n int, seed uint64) (int, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	files := 0
	write := func(rel, content string) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		files++
		return os.WriteFile(p, []byte(content), 0o644)
	}
	for m := range n {
		name := fmt.Sprintf("mod%02d", m)
		var err error
		switch m % 3 {
		case 0:
			err = genPython(write, rng, name, m)
		case 1:
			err = genGo(write, rng, name)
		default:
			err = genTS(write, rng, name)
		}
		if err != nil {
			return files, err
		}
	}
	return files, nil
}

func genPython(write func(string, string) error, rng *rand.Rand, name string, m int) error {
	var deps, lock strings.Builder
	lock.WriteString("version = 1\nrequires-python = \">=3.12\"\n")
	for i := range 40 {
		fmt.Fprintf(&deps, "    \"pkg-%d>=1.%d\",\n", i, i%7)
		fmt.Fprintf(&lock, "\n[[package]]\nname = \"pkg-%d\"\nversion = \"1.%d.%d\"\nsource = { registry = \"https://pypi.org/simple\" }\n", i, i%7, rng.IntN(20))
	}
	if err := write(name+"/pyproject.toml", "[project]\nname = \""+name+"\"\nversion = \"1.0.0\"\ndependencies = [\n"+deps.String()+"]\n\n[dependency-groups]\ndev = [\"pytest==8.4.1\"]\n"); err != nil {
		return err
	}
	if err := write(name+"/uv.lock", lock.String()); err != nil {
		return err
	}
	var cov strings.Builder
	cov.WriteString(`{"meta": {"format": 3}, "files": {`)
	for p := range 6 {
		for f := range 10 {
			var b strings.Builder
			fmt.Fprintf(&b, "\"\"\"Module %s.pkg%d.m%d.\"\"\"\n\nimport os\nimport json\nfrom %s.pkg%d import m%d\n", name, p, f, name, (p+1)%6, (f+3)%10)
			if m > 0 {
				fmt.Fprintf(&b, "from mod%02d.pkg0 import m1\n", m-3+3*(m/3)%1)
			}
			for fn := range 8 + rng.IntN(30) {
				fmt.Fprintf(&b, "\n\ndef func_%d(items, limit=10):\n    \"\"\"Process items.\"\"\"\n    # keep only the ones under the limit\n    out = []\n    for item in items:\n        if item is None:\n            continue\n        elif item > limit and limit:\n            out.append(limit)\n        else:\n            out.append(item)\n    return out\n", fn)
			}
			if err := write(fmt.Sprintf("%s/%s/pkg%d/m%d.py", name, name, p, f), b.String()); err != nil {
				return err
			}
			if p+f > 0 {
				cov.WriteString(",")
			}
			fmt.Fprintf(&cov, `"%s/pkg%d/m%d.py": {"summary": {"covered_lines": %d, "num_statements": 100}}`, name, p, f, rng.IntN(100))
		}
		if err := write(fmt.Sprintf("%s/%s/pkg%d/__init__.py", name, name, p), ""); err != nil {
			return err
		}
	}
	cov.WriteString("}}\n")
	if err := write(name+"/coverage.json", cov.String()); err != nil {
		return err
	}
	for t := range 12 {
		var b strings.Builder
		fmt.Fprintf(&b, "import pytest\n\nfrom %s.pkg%d.m%d import func_1\n", name, t%6, t%10)
		for k := range 10 + rng.IntN(20) {
			fmt.Fprintf(&b, "\n\ndef test_case_%d():\n    assert func_1([1, 2, 3]) == [1, 2, 3]\n\n\nasync def test_async_%d():\n    assert func_1([]) == []\n", k, k)
		}
		if err := write(fmt.Sprintf("%s/tests/test_m%d.py", name, t), b.String()); err != nil {
			return err
		}
	}
	return nil
}

func genGo(write func(string, string) error, rng *rand.Rand, name string) error {
	modPath := "example.com/" + name
	if err := write(name+"/go.mod", "module "+modPath+"\n\ngo 1.26\n\nrequire (\n\tgithub.com/google/uuid v1.6.0\n\tgolang.org/x/sync v0.25.0\n)\n"); err != nil {
		return err
	}
	if err := write(name+"/go.sum", "github.com/google/uuid v1.6.0 h1:x=\ngithub.com/google/uuid v1.6.0/go.mod h1:y=\ngolang.org/x/sync v0.25.0 h1:z=\n"); err != nil {
		return err
	}
	var prof strings.Builder
	prof.WriteString("mode: set\n")
	for p := range 6 {
		for f := range 10 {
			var b strings.Builder
			fmt.Fprintf(&b, "// Package pkg%d does things.\npackage pkg%d\n\nimport (\n\t\"errors\"\n\t\"fmt\"\n\n\t\"%s/pkg%d\"\n)\n\nvar _ = pkg%d.F0\n", p, p, modPath, (p+1)%6, (p+1)%6)
			for fn := range 6 + rng.IntN(25) {
				fmt.Fprintf(&b, "\n// F%d filters values.\nfunc F%d(xs []int, limit int) ([]int, error) {\n\tif limit < 0 {\n\t\treturn nil, errors.New(\"negative\")\n\t}\n\tout := make([]int, 0, len(xs))\n\tfor _, x := range xs {\n\t\tswitch {\n\t\tcase x > limit:\n\t\t\tout = append(out, limit)\n\t\tdefault:\n\t\t\tout = append(out, x)\n\t\t}\n\t}\n\t_ = fmt.Sprint(out)\n\treturn out, nil\n}\n", fn, fn)
				fmt.Fprintf(&prof, "%s/pkg%d/f%d.go:%d.1,%d.2 %d %d\n", modPath, p, f, 10+fn*18, 26+fn*18, 5, rng.IntN(2))
			}
			if err := write(fmt.Sprintf("%s/pkg%d/f%d.go", name, p, f), b.String()); err != nil {
				return err
			}
		}
		var t strings.Builder
		fmt.Fprintf(&t, "package pkg%d\n\nimport \"testing\"\n", p)
		for k := range 15 {
			fmt.Fprintf(&t, "\nfunc TestF%d(t *testing.T) {\n\tif _, err := F0(nil, -1); err == nil {\n\t\tt.Fatal(\"want error\")\n\t}\n}\n", k)
		}
		if err := write(fmt.Sprintf("%s/pkg%d/f_test.go", name, p), t.String()); err != nil {
			return err
		}
	}
	return write(name+"/cover.out", prof.String())
}

func genTS(write func(string, string) error, rng *rand.Rand, name string) error {
	var deps, lock strings.Builder
	for i := range 30 {
		if i > 0 {
			deps.WriteString(",\n")
		}
		fmt.Fprintf(&deps, "    \"lib-%d\": \"^%d.0.0\"", i, i%5+1)
	}
	lock.WriteString("{\n  \"name\": \"" + name + "\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {\"name\": \"" + name + "\"}")
	for i := range 300 {
		fmt.Fprintf(&lock, ",\n    \"node_modules/lib-%d\": {\"version\": \"%d.%d.%d\", \"resolved\": \"https://registry.npmjs.org/lib-%d/-/lib-%d.tgz\"}", i, i%5+1, rng.IntN(9), rng.IntN(9), i, i)
	}
	lock.WriteString("\n  }\n}\n")
	if err := write(name+"/package.json", "{\n  \"name\": \""+name+"\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n"+deps.String()+"\n  }\n}\n"); err != nil {
		return err
	}
	if err := write(name+"/package-lock.json", lock.String()); err != nil {
		return err
	}
	var lcov strings.Builder
	for p := range 5 {
		for f := range 12 {
			var b strings.Builder
			fmt.Fprintf(&b, "import { helper } from \"../pkg%d/f%d\";\n\n", (p+1)%5, f)
			fmt.Fprintf(&lcov, "SF:src/pkg%d/f%d.ts\n", p, f)
			for fn := range 6 + rng.IntN(25) {
				fmt.Fprintf(&b, "/**\n * Clamp values.\n */\nexport function clamp%d(xs: number[], limit: number): number[] {\n  // values over the limit are cut\n  const out: number[] = [];\n  for (const x of xs) {\n    if (x > limit) {\n      out.push(limit);\n    } else {\n      out.push(helper(x));\n    }\n  }\n  return out;\n}\n\n", fn)
				fmt.Fprintf(&lcov, "DA:%d,%d\n", 5+fn*16, rng.IntN(3))
			}
			lcov.WriteString("end_of_record\n")
			if err := write(fmt.Sprintf("%s/src/pkg%d/f%d.ts", name, p, f), b.String()); err != nil {
				return err
			}
		}
	}
	for t := range 10 {
		var b strings.Builder
		fmt.Fprintf(&b, "import { describe, it, expect } from \"vitest\";\nimport { clamp0 } from \"../src/pkg%d/f%d\";\n\ndescribe(\"clamp\", () => {\n", t%5, t)
		for k := range 10 + rng.IntN(15) {
			fmt.Fprintf(&b, "  it(\"case %d\", () => {\n    expect(clamp0([1, 2], 1)).toEqual([1, 1]);\n  });\n", k)
		}
		b.WriteString("});\n")
		if err := write(fmt.Sprintf("%s/test/f%d.test.ts", name, t), b.String()); err != nil {
			return err
		}
	}
	return write(name+"/coverage/lcov.info", lcov.String())
}

func TestGeneratedRepo(t *testing.T) {
	dir := t.TempDir()
	n, err := genRepo(dir, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Root: dir, IncludeTests: true, IncludeDependencies: true})
	if err != nil {
		t.Fatal(err)
	}
	var res []*Result
	if err := s.Audit(context.Background(), "", func(r *Result, _ []*audit.Record) error {
		res = append(res, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("%d modules, want 6", len(res))
	}
	var files int64
	for i, r := range res {
		files += r.Totals.Files
		// TypeScript imports are not part of the graph (Go and Python are).
		wantEdges := i%3 != 2
		if r.Tests == nil || r.Tests.Tests == 0 || r.Coverage == nil || len(r.Dependencies) == 0 || (r.Imports.EdgeCount > 0) != wantEdges {
			t.Errorf("%s: tests %d coverage %v deps %d edges %d", r.Module.Path, r.Tests.Tests, r.Coverage != nil, len(r.Dependencies), r.Imports.EdgeCount)
		}
		if len(r.Warnings) > 0 {
			t.Errorf("%s: warnings %v", r.Module.Path, r.Warnings)
		}
	}
	// Every written file but the lock files, go.sum, cover.out and
	// lcov.info is one scc counts.
	if files < int64(n)*8/10 || files > int64(n) {
		t.Errorf("%d files measured of %d written", files, n)
	}
}

// BenchmarkModuleSourceVsSCC runs the module source (every module, with
// tests and dependencies) over a generated repository of 20 modules, and
// in the same loop, interleaved so that a change of machine load hits all
// three alike, the scc command over the same tree (a subprocess, "scc
// --no-gitmodule DIR", built from the module cache or $SCC_BIN) and scc's
// library pass alone (the same walk and counting, in process). It reports
// each one's time per run and the ratios of the module source to both:
// over the whole run (ratio-cmd, ratio-lib) and the median of the
// per-iteration ratios (median-ratio-cmd, median-ratio-lib).
//
//	go test -run XXX -bench ModuleSourceVsSCC -benchtime 20x ./source/module/
func BenchmarkModuleSourceVsSCC(b *testing.B) {
	dir := b.TempDir()
	nfiles, err := genRepo(dir, 20, 1)
	if err != nil {
		b.Fatal(err)
	}
	bin := sccBinary(b)
	var size int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			size += fi.Size()
		}
		return nil
	})
	b.Logf("generated %d files, %.1f MB in 20 modules", nfiles, float64(size)/1e6)
	s, err := New(Config{Root: dir, IncludeTests: true, IncludeDependencies: true})
	if err != nil {
		b.Fatal(err)
	}
	initSCC()
	runModule := func() {
		n := 0
		if err := s.Collect(context.Background(), "", func(*audit.Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != 20 {
			b.Fatalf("%d records", n)
		}
	}
	runCommand := func() {
		if err := exec.Command(bin, "--no-gitmodule", dir).Run(); err != nil {
			b.Fatal(err)
		}
	}
	runLibrary := func() {
		if sccLibraryPass(b, dir) == 0 {
			b.Fatal("no code counted")
		}
	}
	// Warm the page cache and the processes' first-run costs.
	runModule()
	runCommand()
	runLibrary()
	var tm, tc, tl time.Duration
	var cm, cc time.Duration // CPU time: module source, scc command
	var rc, rl []float64
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	for b.Loop() {
		before := processCPU()
		m := timed(runModule)
		cm += processCPU() - before
		start := time.Now()
		cmd := exec.Command(bin, "--no-gitmodule", dir)
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		c := time.Since(start)
		cc += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		l := timed(runLibrary)
		tm, tc, tl = tm+m, tc+c, tl+l
		rc = append(rc, float64(m)/float64(c))
		rl = append(rl, float64(m)/float64(l))
	}
	b.ReportMetric(float64(cm.Milliseconds())/float64(b.N), "module-cpu-ms/op")
	b.ReportMetric(float64(cc.Milliseconds())/float64(b.N), "scc-cmd-cpu-ms/op")
	b.ReportMetric(float64(cm)/float64(cc), "cpu-ratio-cmd")
	n := float64(b.N)
	b.ReportMetric(float64(tm.Milliseconds())/n, "module-ms/op")
	b.ReportMetric(float64(tc.Milliseconds())/n, "scc-cmd-ms/op")
	b.ReportMetric(float64(tl.Milliseconds())/n, "scc-lib-ms/op")
	b.ReportMetric(float64(tm)/float64(tc), "ratio-cmd")
	b.ReportMetric(float64(tm)/float64(tl), "ratio-lib")
	b.ReportMetric(median(rc), "median-ratio-cmd")
	b.ReportMetric(median(rl), "median-ratio-lib")
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// sccLibraryPass is scc's own work done in process: the same walker with
// the same settings, read each file, CountStats, with scc's default
// number of workers. It is the baseline the module source adds to.
func sccLibraryPass(b *testing.B, dir string) int64 {
	queue := make(chan *gocodewalker.File, 256)
	w := gocodewalker.NewFileWalker(dir, queue)
	w.IncludeHidden = true
	w.ExcludeDirectory = []string{".git", ".hg", ".svn"}
	w.CustomIgnore = []string{".sccignore"}
	go w.Start()
	var g errgroup.Group
	counts := make(chan int64, 64)
	for range 4 * processorWorkers() {
		g.Go(func() error {
			var code int64
			for f := range queue {
				possible, _ := processor.DetectLanguage(f.Filename)
				if len(possible) == 0 {
					continue
				}
				content, err := os.ReadFile(f.Location)
				if err != nil {
					return err
				}
				job := &processor.FileJob{Filename: f.Filename, Location: f.Location, PossibleLanguages: possible, Content: content, Bytes: int64(len(content))}
				job.Language = processor.DetermineLanguage(job.Filename, "", possible, content)
				processor.CountStats(job)
				code += job.Code
			}
			counts <- code
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	close(counts)
	var total int64
	for c := range counts {
		total += c
	}
	return total
}

func processorWorkers() int { return runtime.GOMAXPROCS(0) }

package module

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/boyter/gocodewalker"
	"github.com/boyter/scc/v3/processor"
	"golang.org/x/sync/errgroup"

	"github.com/ami-orchestrator/ami-audit/source/exclude"
	"github.com/ami-orchestrator/ami-audit/source/module/imports"
	"github.com/ami-orchestrator/ami-audit/source/module/testcount"
)

// sccOnce loads scc's language database once per process.
// processor.ProcessConstants appends to global tables, so it must never
// run twice; every user of scc in this program must go through here.
var sccOnce sync.Once

func initSCC() { sccOnce.Do(processor.ProcessConstants) }

// sccExcludeFiles are the scc command's default --exclude-file names
// (lock files), matched as substrings of the file name as scc does.
var sccExcludeFiles = []string{"package-lock.json", "Cargo.lock", "yarn.lock", "pubspec.lock", "Podfile.lock", "pnpm-lock.yaml"}

// Counts are line counts as scc makes them.
type Counts struct {
	Files      int64 `json:"files"`
	Lines      int64 `json:"lines"`
	Code       int64 `json:"code"`
	Comment    int64 `json:"comment"`
	Blank      int64 `json:"blank"`
	Complexity int64 `json:"complexity"`
	Bytes      int64 `json:"bytes"`
}

func (c *Counts) add(o Counts) {
	c.Files += o.Files
	c.Lines += o.Lines
	c.Code += o.Code
	c.Comment += o.Comment
	c.Blank += o.Blank
	c.Complexity += o.Complexity
	c.Bytes += o.Bytes
}

// LanguageCounts are the counts of one language.
type LanguageCounts struct {
	Language string `json:"language"`
	Counts
}

// FileStat is what was measured of one file.
type FileStat struct {
	Path     string `json:"path"` // relative to the repository root, slash-separated
	Language string `json:"language"`
	Counts
	TestLanguage string `json:"test_language,omitempty"` // set for test files
	Tests        int    `json:"tests,omitempty"`
}

// scan is the state of one module's file pass.
type scan struct {
	src *Source
	mod *Module
	res *Result

	graph *graph

	mu        sync.Mutex
	langs     map[string]*Counts
	top       topN[FileStat]
	complex   topN[FileStat]
	testTop   topN[FileStat]
	warnings  []string
	nWarnings int
}

// maxWarnings bounds the warnings kept per module; the rest are counted.
const maxWarnings = 50

func (s *scan) warn(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nWarnings++
	if len(s.warnings) < maxWarnings {
		s.warnings = append(s.warnings, fmt.Sprintf(format, args...))
	}
}

// files walks the module's directory the way the scc command does
// (.gitignore, .ignore and .sccignore honoured, hidden files included,
// .git/.hg/.svn skipped, nested submodules of .gitmodules skipped) and
// measures each file with bounded parallelism. Directories of nested
// modules are left to those modules.
func (s *scan) files(ctx context.Context, nested []string) error {
	initSCC()
	queue := make(chan *gocodewalker.File, 256)
	w := gocodewalker.NewFileWalker(s.mod.Dir, queue)
	w.IncludeHidden = true
	w.ExcludeDirectory = []string{".git", ".hg", ".svn", exclude.TrailDirName}
	w.CustomIgnore = []string{".sccignore"}
	for _, n := range nested {
		w.LocationExcludePattern = append(w.LocationExcludePattern, n+string(filepath.Separator))
	}
	w.SetErrorHandler(func(err error) bool {
		s.warn("walk: %v", err)
		return true
	})
	walkErr := make(chan error, 1)
	go func() { walkErr <- w.Start() }()
	stop := context.AfterFunc(ctx, w.Terminate)
	defer stop()

	g, gctx := errgroup.WithContext(ctx)
	workers := s.src.cfg.Workers
	for range workers {
		g.Go(func() error {
			var buf []byte
			for f := range queue {
				if gctx.Err() != nil {
					continue // drain so the walker can finish
				}
				if inNested(f.Location, nested) {
					continue
				}
				buf = s.file(f, buf)
			}
			return nil
		})
	}
	err := g.Wait()
	if werr := <-walkErr; werr != nil && !errors.Is(werr, gocodewalker.ErrTerminateWalk) && err == nil {
		err = fmt.Errorf("walk %s: %w", s.mod.Path, werr)
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

func inNested(p string, nested []string) bool {
	for _, n := range nested {
		if strings.HasPrefix(p, n+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// file measures one file; buf is a reusable read buffer.
func (s *scan) file(f *gocodewalker.File, buf []byte) []byte {
	rel := s.src.rel(f.Location)
	fi, err := os.Lstat(f.Location)
	if err != nil {
		s.warn("%s: %v", rel, err)
		return buf
	}
	// Like scc: symbolic links and other non-regular files are not counted.
	if !fi.Mode().IsRegular() {
		return buf
	}
	// What no source reads (the trail's directory wherever it is, git's
	// internals) is not read here either.
	if s.src.cfg.Exclude.Path(f.Location) != "" {
		return buf
	}
	for _, x := range sccExcludeFiles {
		if strings.Contains(f.Filename, x) {
			return buf
		}
	}
	possible, _ := processor.DetectLanguage(f.Filename)
	if len(possible) == 0 {
		return buf // unknown to scc, as scc skips it
	}
	for _, l := range possible {
		if l == "ignore" || l == "gitignore" {
			return buf
		}
	}
	if fi.Size() > s.src.cfg.MaxFileBytes {
		s.warn("%s: %d bytes, over the %d-byte limit; not measured", rel, fi.Size(), s.src.cfg.MaxFileBytes)
		return buf
	}
	content, buf, err := readInto(f.Location, fi.Size(), buf)
	if err != nil {
		s.warn("%s: %v", rel, err)
		return buf
	}
	if s.src.cfg.Exclude.Content(content[:min(len(content), exclude.Sniff)]) != "" {
		return buf // a private key is not code, and is not measured
	}
	job := &processor.FileJob{
		Filename:          f.Filename,
		Location:          f.Location,
		PossibleLanguages: possible,
		Content:           content,
		Bytes:             int64(len(content)),
	}
	job.Language = processor.DetermineLanguage(job.Filename, job.Language, job.PossibleLanguages, job.Content)
	if job.Language == processor.SheBang {
		head := content[:min(len(content), 200)]
		lang, err := processor.DetectSheBang(string(head))
		if err != nil {
			return buf // scc skips a #! file it cannot place
		}
		job.Language = lang
	}
	processor.CountStats(job)
	if job.Binary {
		return buf // scc skips binary files
	}
	st := FileStat{Path: rel, Language: job.Language, Counts: Counts{
		Files: 1, Lines: job.Lines, Code: job.Code, Comment: job.Comment,
		Blank: job.Blank, Complexity: job.Complexity, Bytes: job.Bytes,
	}}
	if s.src.cfg.IncludeTests {
		if tl, ok := testcount.Classify(rel); ok {
			st.TestLanguage = tl
			st.Tests = testcount.Count(tl, content)
		}
	}
	switch st.Language {
	case "Go":
		imps, err := imports.Go(rel, content)
		if err != nil && len(imps) == 0 {
			s.warn("%s: imports not read: %v", rel, firstLine(err.Error()))
		}
		s.graph.goFile(rel, imps)
	case "Python":
		s.graph.pyFile(rel, imports.Python(content))
	}
	if s.src.cfg.OnFile != nil {
		s.src.cfg.OnFile(s.mod.Path, st)
	}
	s.mu.Lock()
	c := s.langs[st.Language]
	if c == nil {
		c = &Counts{}
		s.langs[st.Language] = c
	}
	c.add(st.Counts)
	s.top.push(st, st.Code)
	if st.Complexity > 0 {
		s.complex.push(st, st.Complexity)
	}
	if st.TestLanguage != "" {
		s.res.Tests.Files++
		s.res.Tests.Tests += int64(st.Tests)
		if s.res.Tests.ByLanguage == nil {
			s.res.Tests.ByLanguage = map[string]int64{}
		}
		s.res.Tests.ByLanguage[st.TestLanguage] += int64(st.Tests)
		s.testTop.push(st, int64(st.Tests))
	}
	s.mu.Unlock()
	return buf
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// readInto reads the file at p (expected size n) into buf, growing it as
// needed, and returns the content and the (possibly new) buffer.
func readInto(p string, n int64, buf []byte) ([]byte, []byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, buf, err
	}
	defer f.Close()
	want := int(n) + 1 // one more byte to notice a file that grew
	if cap(buf) < want {
		buf = make([]byte, want+want/4)
	}
	buf = buf[:cap(buf)]
	total := 0
	for {
		m, err := f.Read(buf[total:])
		total += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, buf, err
		}
		if total == len(buf) {
			// The file grew while being read: keep what fits in twice its size.
			if len(buf) >= 2*want {
				break
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
	return buf[:total], buf, nil
}

// languages returns the per-language counts, most code first.
func (s *scan) languages() ([]LanguageCounts, Counts) {
	var out []LanguageCounts
	var total Counts
	for l, c := range s.langs {
		out = append(out, LanguageCounts{Language: l, Counts: *c})
		total.add(*c)
	}
	slices.SortFunc(out, func(a, b LanguageCounts) int {
		if a.Code != b.Code {
			return int(b.Code - a.Code)
		}
		return strings.Compare(a.Language, b.Language)
	})
	return out, total
}

// topN keeps the n items with the largest keys; among equal keys the
// ones first by less, so the result does not depend on arrival order.
type topN[T any] struct {
	n     int
	less  func(a, b T) int
	items []T
	keys  []int64
}

// worse reports whether item i ranks below item j.
func (t *topN[T]) worse(ki int64, vi T, kj int64, vj T) bool {
	if ki != kj {
		return ki < kj
	}
	return t.less(vi, vj) > 0
}

func (t *topN[T]) push(v T, key int64) {
	if t.n <= 0 {
		return
	}
	if len(t.items) < t.n {
		t.items = append(t.items, v)
		t.keys = append(t.keys, key)
		return
	}
	// Replace the worst when v beats it (n is small: a linear scan).
	wi := 0
	for i := range t.keys {
		if t.worse(t.keys[i], t.items[i], t.keys[wi], t.items[wi]) {
			wi = i
		}
	}
	if t.worse(t.keys[wi], t.items[wi], key, v) {
		t.items[wi], t.keys[wi] = v, key
	}
}

// sorted returns the items, best first.
func (t *topN[T]) sorted() []T {
	idx := make([]int, len(t.items))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case t.worse(t.keys[b], t.items[b], t.keys[a], t.items[a]):
			return -1
		case t.worse(t.keys[a], t.items[a], t.keys[b], t.items[b]):
			return 1
		}
		return 0
	})
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = t.items[j]
	}
	return out
}

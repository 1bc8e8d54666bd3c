package banned

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// MaxFileSize is the largest file whose content is scanned; a larger one is
// reported in FileResult.Skipped (its name is still checked).
const MaxFileSize = 64 << 20

// AlwaysSkipped are directories never walked, whatever the configuration:
// git's internals and the trail's own directory.
var AlwaysSkipped = []string{".git", ".audit"}

// Hit is one violation: a pattern on a line, or a banned file name.
type Hit struct {
	Pattern *Pattern
	Line    int    // 1-based; 0 for a file name
	Column  int    // 1-based, in characters; 0 for a file name
	Text    string // the line, or the file name
}

// FileResult is what the scan found in one file.
type FileResult struct {
	Path string // relative to the root, slash-separated
	Hits []Hit
	// Words says the content was scanned for words (it was valid UTF-8,
	// not too large and not excluded); DirOnly that only
	// directory-specific entries applied.
	Words, DirOnly bool
	// Skipped says why the content was not read ("not UTF-8", "larger
	// than 64 MiB", an error), empty otherwise.
	Skipped string
	// Extra is what Options.Extra returned for the file.
	Extra any
}

// Options tune a scan.
type Options struct {
	// Workers scan files at once; 0 means twice the CPUs, at least 8.
	Workers int
	// Extra, when set, is called for every file that is not excluded
	// (whether or not a word applies), from a worker goroutine, with its
	// content (nil when it could not be read or was too large); its result
	// is put in FileResult.Extra. It lets another check share the read.
	Extra func(rel string, content []byte) any
	// NoWords skips the banned words and names (only Extra runs).
	NoWords bool
	// Exclude is what is never read (package exclude): the trail's
	// directory, git internals, private key files. Nil applies those rules
	// by name and content only (any .audit and .git).
	Exclude *exclude.Rules
}

// Scanner checks files against a compiled configuration. It is safe for
// concurrent use.
type Scanner struct {
	cfg       *Config
	global    []*Pattern
	filenames []*Pattern
	dirs      map[string][]*Pattern
	dirComps  map[string]bool // every component of a directory key
	ignDirs   map[string]bool
	ignNames  map[string]bool
	ignFiles  map[string]bool
	setsMu    sync.Mutex
	sets      map[string]*patternSet
}

// Compile compiles every entry of c. It never drops an entry (see the
// package documentation); nil c makes a scanner with no words that
// skips only AlwaysSkipped.
func Compile(c *Config) *Scanner {
	if c == nil {
		c = &Config{}
	}
	s := &Scanner{cfg: c, dirs: map[string][]*Pattern{}, dirComps: map[string]bool{}, sets: map[string]*patternSet{},
		ignDirs: set(c.IgnoredDirs), ignNames: set(c.IgnoredNames), ignFiles: set(c.IgnoredFiles)}
	for _, e := range c.Global {
		s.global = append(s.global, compile(e, KindGlobal, ""))
	}
	for _, e := range c.Filenames {
		s.filenames = append(s.filenames, compile(e, KindFilename, ""))
	}
	for _, d := range slices.Sorted(mapsKeys(c.Directories)) {
		for _, e := range c.Directories[d] {
			s.dirs[d] = append(s.dirs[d], compile(e, KindDirectory, d))
		}
		for _, comp := range strings.Split(d, "/") {
			s.dirComps[comp] = true
		}
	}
	return s
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func set(v []string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, s := range v {
		m[s] = true
	}
	return m
}

// Patterns lists every compiled pattern: global, directory-specific (by
// directory), then file names.
func (s *Scanner) Patterns() []*Pattern {
	out := slices.Clone(s.global)
	for _, d := range slices.Sorted(mapsKeys(s.dirs)) {
		out = append(out, s.dirs[d]...)
	}
	return append(out, s.filenames...)
}

// Config is the configuration the scanner was compiled from.
func (s *Scanner) Config() *Config { return s.cfg }

// ErrOutsideRoot: the base to scan is not inside the root.
var ErrOutsideRoot = errors.New("path is outside the repository root")

// classify says how a repository-relative file is treated: skip it,
// check only directory-specific entries, or check everything.
func (s *Scanner) classify(rel string) (skip, dirOnly bool) {
	if s.ignFiles[rel] {
		return true, false
	}
	name := path.Base(rel)
	if s.ignNames[name] {
		return true, false
	}
	for _, suf := range s.cfg.IgnoredSuffixes {
		if suf != "" && strings.HasSuffix(name, suf) {
			return true, false
		}
	}
	for part := range strings.SplitSeq(rel, "/") {
		if !s.ignDirs[part] {
			continue
		}
		if !s.dirComps[part] {
			return true, false
		}
		dirOnly = true
	}
	return false, dirOnly
}

// walkable says whether the walk enters a directory of this name.
func (s *Scanner) walkable(name string) bool {
	if slices.Contains(AlwaysSkipped, name) {
		return false
	}
	return !s.ignDirs[name] || s.dirComps[name]
}

type job struct {
	seq     int
	rel     string
	abs     string
	dirOnly bool
}

// Scan walks base (a directory or a file inside root) and calls fn for
// every file not excluded, in walk order (names sorted, depth first), from
// the calling goroutine. Paths are relative to root. It stops at the first
// error fn returns, or when ctx is done. Unreadable directories and files
// are reported in FileResult.Skipped, not as errors.
func (s *Scanner) Scan(ctx context.Context, root, base string, opts Options, fn func(FileResult) error) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	base, err = filepath.Abs(base)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(root, base); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("banned words: %s: %w %s", base, ErrOutsideRoot, root)
	}
	workers := opts.Workers
	if workers <= 0 {
		// Reading small files waits on the kernel more than on the CPU.
		workers = max(8, 2*runtime.NumCPU())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	window := make(chan struct{}, workers*64)
	jobs := make(chan job, workers*4)
	type numbered struct {
		seq int
		r   FileResult
	}
	results := make(chan numbered, workers*4)
	var walkErr error
	go func() {
		defer close(jobs)
		seq := 0
		walkErr = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if err != nil {
				if d != nil && d.IsDir() && p != base {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if p != base && (!s.walkable(d.Name()) || opts.Exclude.Dir(p) != "") {
					return fs.SkipDir
				}
				return nil
			}
			if opts.Exclude.Path(p) != "" {
				return nil
			}
			if !d.Type().IsRegular() {
				if d.Type()&fs.ModeSymlink == 0 {
					return nil
				}
				fi, err := os.Stat(p)
				if err != nil || !fi.Mode().IsRegular() {
					return nil
				}
			}
			skip, dirOnly := s.classify(rel)
			if skip {
				return nil
			}
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{seq: seq, rel: rel, abs: p, dirOnly: dirOnly}:
			case <-ctx.Done():
				return ctx.Err()
			}
			seq++
			return nil
		})
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw []byte
			for j := range jobs {
				var r FileResult
				r, raw = s.scanFile(j, opts, raw)
				select {
				case results <- numbered{j.seq, r}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	pending := map[int]FileResult{}
	next := 0
	var fnErr error
	for n := range results {
		pending[n.seq] = n.r
		for {
			x, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-window
			if fnErr == nil {
				if fnErr = fn(x); fnErr != nil {
					cancel()
				}
			}
		}
	}
	if fnErr != nil {
		return fnErr
	}
	if walkErr != nil {
		return walkErr
	}
	return ctx.Err()
}

// scanFile reads and checks one file. raw is a reusable buffer for the
// content.
func (s *Scanner) scanFile(j job, opts Options, raw []byte) (FileResult, []byte) {
	r := FileResult{Path: j.rel, DirOnly: j.dirOnly}
	if !opts.NoWords && !j.dirOnly {
		if h, ok := s.FilenameHit(path.Base(j.rel)); ok {
			r.Hits = append(r.Hits, h)
		}
	}
	content, raw, err := readFile(j.abs, raw)
	if err != nil {
		r.Skipped = err.Error()
	}
	if why := opts.Exclude.Content(content[:min(len(content), exclude.Sniff)]); why != "" {
		r.Skipped, content = why+": not read", nil
	}
	if opts.Extra != nil {
		r.Extra = opts.Extra(j.rel, content)
	}
	if content == nil || opts.NoWords {
		return r, raw
	}
	if !utf8.Valid(content) {
		r.Skipped = "not UTF-8"
		return r, raw
	}
	ps := s.setFor(j.rel, j.dirOnly)
	if len(ps.pats) == 0 {
		return r, raw
	}
	r.Words = true
	hits, err := matchContent(content, ps)
	if err != nil {
		r.Skipped = err.Error()
	}
	r.Hits = append(r.Hits, hits...)
	slices.SortStableFunc(r.Hits, func(a, b Hit) int { return a.Line - b.Line })
	return r, raw
}

// patternSet is the patterns applying to a file, with one matcher for
// their literals.
type patternSet struct {
	pats    []*Pattern
	ac      *acMatcher
	acPat   []int // literal index → pattern index
	noLit   []int // patterns with no literal: every line is matched
	maxLine int
}

func newPatternSet(pats []*Pattern) *patternSet {
	ps := &patternSet{pats: pats}
	var lits [][]byte
	for i, p := range pats {
		if p.lit == nil {
			ps.noLit = append(ps.noLit, i)
			continue
		}
		lits = append(lits, p.lit)
		ps.acPat = append(ps.acPat, i)
	}
	ps.ac = newACMatcher(lits)
	return ps
}

// setFor returns the pattern set for a file: the global patterns (unless
// dirOnly) and those of the directories in its path. Sets are built once
// per combination and cached.
func (s *Scanner) setFor(rel string, dirOnly bool) *patternSet {
	var dirs []string
	for d := range s.dirs {
		if strings.HasPrefix(rel, d+"/") || strings.Contains(rel, "/"+d+"/") {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	key := strings.Join(dirs, "\x00")
	if dirOnly {
		key = "dir-only\x00" + key
	}
	s.setsMu.Lock()
	defer s.setsMu.Unlock()
	if ps, ok := s.sets[key]; ok {
		return ps
	}
	var pats []*Pattern
	if !dirOnly {
		pats = append(pats, s.global...)
	}
	for _, d := range dirs {
		pats = append(pats, s.dirs[d]...)
	}
	ps := newPatternSet(pats)
	s.sets[key] = ps
	return ps
}

// lineCursor walks a file's lines forward, with the line breaks of
// Python's str.splitlines (see indexLines).
type lineCursor struct {
	b          []byte
	n          int // 0-based line number
	start, end int // the current line's text
	brk        int // length of the break after it (0 at the end)
}

func newLineCursor(b []byte) *lineCursor {
	c := &lineCursor{b: b}
	c.end, c.brk = nextBreak(b, 0)
	return c
}

// seek moves to the line holding offset off (off >= the current start).
func (c *lineCursor) seek(off int) {
	for off >= c.end+c.brk && c.brk > 0 {
		c.start = c.end + c.brk
		c.n++
		c.end, c.brk = nextBreak(c.b, c.start)
	}
}

// nextBreak finds the first line break at or after i: its offset and
// length (len(b), 0 when none).
func nextBreak(b []byte, i int) (int, int) {
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\n', c == '\v', c == '\f', c == 0x1c, c == 0x1d, c == 0x1e:
			return i, 1
		case c == '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				return i, 2
			}
			return i, 1
		case c == 0xc2 && i+1 < len(b) && b[i+1] == 0x85:
			return i, 2
		case c == 0xe2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xa8 || b[i+2] == 0xa9):
			return i, 3
		case c >= 0xc0:
			// skip the rest of a multi-byte character
			_, sz := utf8.DecodeRune(b[i:])
			i += sz - 1
		}
	}
	return len(b), 0
}

// matchContent finds, for each pattern, the lines of content it matches
// (one hit per pattern and line).
func matchContent(content []byte, ps *patternSet) ([]Hit, error) {
	var hits []Hit
	var firstErr error
	check := func(p *Pattern, ln int, b []byte) {
		line := string(b)
		col, ok, err := p.MatchLine(line)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("line %d: %w", ln+1, err)
		}
		if ok {
			hits = append(hits, Hit{Pattern: p, Line: ln + 1, Column: col, Text: line})
		}
	}
	if len(ps.noLit) > 0 {
		x := indexLines(content)
		for _, i := range ps.noLit {
			for ln := range x.starts {
				check(ps.pats[i], ln, content[x.starts[ln]:x.ends[ln]])
			}
		}
	}
	if len(ps.acPat) == 0 {
		return hits, firstErr
	}
	var cur *lineCursor
	lastLine := make([]int, len(ps.pats))
	for i := range lastLine {
		lastLine[i] = -1
	}
	ps.ac.scan(content, func(id int32, end int) {
		pi := ps.acPat[id]
		if cur == nil {
			cur = newLineCursor(content)
		}
		cur.seek(end - 1)
		start := end - ps.ac.lens[id]
		if start < cur.start || end > cur.end || lastLine[pi] == cur.n {
			return // crosses a line break, or this line was checked
		}
		lastLine[pi] = cur.n
		check(ps.pats[pi], cur.n, content[cur.start:cur.end])
	})
	return hits, firstErr
}

// FilenameHit checks a file name against the banned filename patterns
// and returns the first that matches.
func (s *Scanner) FilenameHit(name string) (Hit, bool) {
	lower := strings.ToLower(name)
	if hasTimestamp(lower) {
		return Hit{}, false
	}
	stem := strings.ToLower(pyStem(name))
	for _, p := range s.filenames {
		e := p.norm
		if strings.HasPrefix(e, "_") || strings.HasPrefix(e, ".") {
			if strings.HasSuffix(stem, strings.TrimLeft(e, ".")) || strings.HasSuffix(lower, e) {
				return Hit{Pattern: p, Text: name}, true
			}
		} else if strings.Contains(lower, e) {
			return Hit{Pattern: p, Text: name}, true
		}
	}
	return Hit{}, false
}

// pyStem is Python's PurePath(name).stem.
func pyStem(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 && i < len(name)-1 {
		return name[:i]
	}
	return name
}

// hasTimestamp reports whether s holds 8 or more digits, "_", and a digit.
func hasTimestamp(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			run++
			continue
		}
		if c == '_' && run >= 8 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			return true
		}
		run = 0
	}
	return false
}

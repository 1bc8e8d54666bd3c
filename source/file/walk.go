package file

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
)

// run is one Collect: a walker goroutine lists paths and starts a hasher
// for each (at most Workers at once); the goroutine that called Collect
// takes the jobs in walk order, waits for each to finish and emits it.
type run struct {
	src       *Source
	plan      *plan
	idx       *Index
	emit      func(*audit.Record) error
	started   time.Time
	scannedAt string // started, formatted

	order   chan *job
	hashers errgroup.Group

	files int64 // jobs for paths (read by the emitter only)

	mu       sync.Mutex
	gitRepos map[string]*gitHistory
	users    map[uint32]string
	groups   map[uint32]string

	gitWarned map[*gitHistory]bool // emitter only
}

type jobKind int

const (
	jobPath   jobKind = iota // a file, link or special file to examine
	jobDirErr                // a directory that could not be listed
	jobNotice                // a warning about no single file
	jobPassed                // a path not examined: excluded or ignored
)

// job is one path in flight. The hasher fills entry and closes done.
type job struct {
	kind    jobKind
	abs     string
	rel     string // slash path relative to the root, raw bytes
	repo    *repoState
	err     error
	notice  string
	done    chan struct{}
	entry   Entry
	gitErr  error
	gitHist *gitHistory
	cycle   bool // a link to a directory being walked
	regular bool // the listing says it is a regular file
	// dir, when set, is the open directory holding the file, name its
	// name there: the file is opened relative to it, which spares the
	// kernel a walk of the whole path for every file.
	dir  *dirRef
	name string
}

// dirRef is an open directory shared by the walker and the hashers of its
// files; the last to release it closes it.
type dirRef struct {
	f    *os.File
	fd   int
	refs atomic.Int32
}

// openDir opens and lists a directory, entries sorted by name. The
// returned dirRef (nil when the directory could not be opened) holds one
// reference, the caller's.
func openDir(abs string) (*dirRef, []os.DirEntry, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, nil, err
	}
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	d := &dirRef{f: f, fd: dirFD(f)}
	d.refs.Store(1)
	return d, entries, err
}

func (d *dirRef) acquire() *dirRef {
	d.refs.Add(1)
	return d
}

func (d *dirRef) release() {
	if d != nil && d.refs.Add(-1) == 0 {
		d.f.Close()
	}
}

// repoState is the git repository a walked directory belongs to.
type repoState struct {
	top     string // absolute
	topRel  string // relative to the root, slash-separated
	hist    *gitHistory
	tracked *tracked // loaded on first need (walker only)
}

// inFlight bounds the jobs between the walker and the emitter.
const inFlight = 512

func (r *run) execute(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	r.order = make(chan *job, inFlight)
	r.hashers.SetLimit(r.src.workers)
	walkErr := make(chan error, 1)
	go func() {
		err := r.walk(ctx)
		r.hashers.Wait()
		close(r.order)
		walkErr <- err
	}()
	var err error
	for j := range r.order {
		<-j.done
		if err != nil {
			continue // drain: the walker and hashers stop on the cancelled ctx
		}
		if err = r.deliver(j); err != nil {
			cancel()
		}
	}
	werr := <-walkErr
	switch {
	case err != nil:
		return err
	case werr != nil:
		return werr
	case parent.Err() != nil:
		// a hasher stopped half way: the run is incomplete
		return parent.Err()
	case r.plan.pattern != "" && r.files == 0:
		return fmt.Errorf("file source: pattern %q: %w (ignored files are left out unless ignore rules are turned off)", r.plan.target, ErrNoMatch)
	}
	return r.removals(parent)
}

// removals records the paths the trail holds that the target covers and
// that no longer exist (see Removed files in the package doc).
func (r *run) removals(ctx context.Context) error {
	if r.idx == nil || r.plan.single {
		return nil
	}
	var gone []*audit.Record
	for _, s := range r.idx.m {
		if s.target == "" {
			continue
		}
		rel := s.target
		if s.escaped {
			var err error
			if rel, err = UnescapePath(s.target, true); err != nil {
				continue
			}
		}
		if _, ok := relTo(r.plan.baseRel, rel); !ok || !r.matches(rel) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(r.plan.root, filepath.FromSlash(rel))); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		c := map[string]any{"change": "removed", "scanned_at": r.scannedAt, "previous_size": s.size}
		if s.hasSum {
			c["previous_sha256"] = hex.EncodeToString(s.sum[:])
		}
		if s.mode != "" {
			c["previous_mode"] = s.mode
		}
		if s.escaped {
			c["path_escaped"] = true
		}
		rec := r.newRecord(ActionRemoved, s.target, r.started, c)
		rec.Normalize()
		gone = append(gone, rec)
	}
	slices.SortFunc(gone, func(a, b *audit.Record) int { return strings.Compare(a.Target, b.Target) })
	for _, rec := range gone {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.emit(rec); err != nil {
			return err
		}
		r.observe(Entry{Path: rec.Target, Change: ChangeRemoved, Record: rec})
	}
	return nil
}

// deliver emits a finished job and tells Observe.
func (r *run) deliver(j *job) error {
	if j.kind == jobPath {
		r.files++
	}
	if j.gitErr != nil && !r.gitWarned[j.gitHist] {
		if r.gitWarned == nil {
			r.gitWarned = map[*gitHistory]bool{}
		}
		r.gitWarned[j.gitHist] = true
		r.observe(Entry{Path: j.entry.Path, Change: ChangeNotice, Warnings: []string{"git history unavailable: " + j.gitErr.Error()}})
	}
	if j.kind == jobNotice {
		r.observe(Entry{Path: j.entry.Path, Change: ChangeNotice, Warnings: []string{j.notice}})
		return nil
	}
	if j.kind == jobPassed {
		r.observe(j.entry)
		return nil
	}
	if rec := j.entry.Record; rec != nil {
		if err := r.emit(rec); err != nil {
			return err
		}
	}
	r.observe(j.entry)
	return nil
}

func (r *run) observe(e Entry) {
	if r.src.cfg.Observe != nil {
		r.src.cfg.Observe(e)
	}
}

// submit queues j in walk order and starts its hasher.
func (r *run) submit(ctx context.Context, j *job) error {
	j.done = make(chan struct{})
	select {
	case r.order <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	if j.kind != jobPath && j.kind != jobDirErr {
		close(j.done)
		return nil
	}
	r.hashers.Go(func() error {
		defer close(j.done)
		defer j.dir.release()
		if j.kind == jobDirErr {
			r.skipDir(j)
			return nil
		}
		r.examine(ctx, j)
		return nil
	})
	return nil
}

func (r *run) notice(ctx context.Context, where, msg string) error {
	p, _ := escapePath(where)
	return r.submit(ctx, &job{kind: jobNotice, notice: msg, entry: Entry{Path: p}})
}

// passed reports a path that is not examined: excluded (never read) or
// ignored. A directory's path ends with a slash.
func (r *run) passed(ctx context.Context, rel string, dir bool, change Change, why string) error {
	p, _ := escapePath(rel)
	if dir {
		p += "/"
	}
	return r.submit(ctx, &job{kind: jobPassed, entry: Entry{Path: p, Change: change, Reason: why}})
}

func (r *run) excluded(ctx context.Context, rel string, dir bool, why string) error {
	return r.passed(ctx, rel, dir, ChangeExcluded, why)
}

// walk lists the plan's paths.
func (r *run) walk(ctx context.Context) error {
	p := r.plan
	repo := r.repoAt(p.root, "")
	ign, err := r.initialIgnores(ctx, &repo)
	if err != nil {
		return err
	}
	if r.src.cfg.IncludeGit && repo == nil {
		where := p.baseRel
		if where == "" {
			where = "."
		}
		if err := r.notice(ctx, where, "not in a git repository: no commit information"); err != nil {
			return err
		}
	}
	if p.single {
		return r.submit(ctx, &job{kind: jobPath, abs: p.base, rel: p.baseRel, repo: repo})
	}
	var ancestors []devIno
	if r.src.cfg.FollowSymlinks {
		if fi, err := os.Stat(p.base); err == nil {
			ancestors = append(ancestors, devInoOf(fi))
		}
	}
	return r.walkDir(ctx, p.base, p.baseRel, ign, repo, ancestors)
}

// repoAt returns the repository state for a top-level directory, or nil
// when dir has no .git.
func (r *run) repoAt(dir, rel string) *repoState {
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err != nil {
		return nil
	}
	rs := &repoState{top: dir, topRel: rel}
	if r.src.cfg.IncludeGit {
		rs.hist = r.history(dir, rel)
	}
	return rs
}

// history returns the shared git history reader of a repository. The
// walk's own repository reads only the history under the walk base; a
// single file asks for one commit.
func (r *run) history(dir, rel string) *gitHistory {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h, ok := r.gitRepos[dir]; ok {
		return h
	}
	h := &gitHistory{dir: dir}
	if sub, ok := relTo(rel, r.plan.baseRel); ok || rel == r.plan.baseRel {
		h.pathspec = sub
		if r.plan.single {
			h.maxCount = 1
		}
	}
	if r.gitRepos == nil {
		r.gitRepos = map[string]*gitHistory{}
	}
	r.gitRepos[dir] = h
	return h
}

// initialIgnores loads the ignore files that apply above the walk base:
// the repository's info/exclude and the .gitignore of each directory from
// the root down to the base's parent. It updates *repo when a nested
// repository lies between the root and the base.
func (r *run) initialIgnores(ctx context.Context, repo **repoState) (*ignoreStack, error) {
	p := r.plan
	var dirs []string // relative to root, outermost first, not including base
	if p.baseRel != "" {
		parts := strings.Split(p.baseRel, "/")
		for i := 1; i < len(parts); i++ {
			dirs = append(dirs, strings.Join(parts[:i], "/"))
		}
	}
	var ign *ignoreStack
	if !r.src.cfg.NoIgnore {
		ign = &ignoreStack{}
		r.loadExclude(ctx, ign, p.root, "")
		if err := r.pushGitignore(ctx, &ign, p.root, ""); err != nil {
			return nil, err
		}
	}
	for _, d := range dirs {
		abs := filepath.Join(p.root, filepath.FromSlash(d))
		if rs := r.repoAt(abs, d); rs != nil {
			*repo = rs
			if ign != nil {
				ign = &ignoreStack{}
				r.loadExclude(ctx, ign, abs, d)
			}
		}
		if ign != nil {
			if err := r.pushGitignore(ctx, &ign, abs, d); err != nil {
				return nil, err
			}
		}
	}
	return ign, nil
}

// loadExclude reads the repository's info/exclude into s.
func (r *run) loadExclude(ctx context.Context, s *ignoreStack, top, topRel string) {
	s.repoDir = topRel
	gd := gitDir(top)
	if gd == "" {
		return
	}
	name := filepath.Join(gd, "info", "exclude")
	f, warns, err := readIgnoreFile(name)
	for _, w := range warns {
		_ = r.notice(ctx, topRel, w)
	}
	if err != nil {
		_ = r.notice(ctx, topRel, err.Error())
	}
	s.exclude = f
}

// gitDir returns the git directory of a top level: .git itself, or where
// a .git file ("gitdir: …", as in submodules and worktrees) points.
func gitDir(top string) string {
	p := filepath.Join(top, ".git")
	fi, err := os.Lstat(p)
	if err != nil {
		return ""
	}
	if fi.IsDir() {
		return p
	}
	if !fi.Mode().IsRegular() || fi.Size() > 4096 {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	d, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir:")
	if !ok {
		return ""
	}
	d = strings.TrimSpace(d)
	if !filepath.IsAbs(d) {
		d = filepath.Join(top, d)
	}
	return d
}

// pushGitignore adds dir's .gitignore, if it has one, to *s.
func (r *run) pushGitignore(ctx context.Context, s **ignoreStack, abs, rel string) error {
	name := filepath.Join(abs, ".gitignore")
	f, warns, err := readIgnoreFile(name)
	where := path.Join(rel, ".gitignore")
	for _, w := range warns {
		if err := r.notice(ctx, where, w); err != nil {
			return err
		}
	}
	if err != nil {
		if err := r.notice(ctx, where, err.Error()); err != nil {
			return err
		}
	}
	if f != nil && len(f.rules) > 0 {
		*s = (*s).push(ignoreLevel{dir: rel, rules: f})
	}
	return nil
}

// readIgnoreFile parses an ignore file. A missing file is no error; like
// git, a .gitignore that is a symbolic link is not read.
func readIgnoreFile(name string) (*ignoreFile, []string, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("ignore rules not read: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("ignore rules not read: %s is not a regular file", filepath.Base(name))
	}
	fh, err := os.OpenFile(name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("ignore rules not read: %w", err)
	}
	defer fh.Close()
	f, warns, err := parseIgnore(filepath.Base(name), bufio.NewReader(fh))
	if err != nil {
		return f, warns, fmt.Errorf("ignore rules partly read: %w", err)
	}
	return f, warns, nil
}

// devIno identifies a directory, to notice a link leading back into the
// walk.
type devIno struct{ dev, ino uint64 }

func devInoOf(fi fs.FileInfo) devIno {
	s := sysStat(fi)
	return devIno{s.dev, s.ino}
}

// walkDir walks one directory, depth first, entries sorted by name.
func (r *run) walkDir(ctx context.Context, abs, rel string, ign *ignoreStack, repo *repoState, ancestors []devIno) error {
	return r.walkDirIn(ctx, abs, rel, ign, repo, ancestors, false)
}

// trackedBy returns what repo's index holds, loading it on first use; a
// repository git cannot list says so once and tracks nothing.
func (r *run) trackedBy(ctx context.Context, repo *repoState) *tracked {
	if repo.tracked == nil {
		repo.tracked = loadTracked(ctx, repo.top)
		if repo.tracked.err != nil {
			_ = r.notice(ctx, cmpOr(repo.topRel, "."), "tracked files unknown, ignore rules applied to every file: "+repo.tracked.err.Error())
		}
	}
	return repo.tracked
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// walkDirIn walks one directory; inIgnored says the directory itself is
// ignored and walked only for the tracked paths in it.
func (r *run) walkDirIn(ctx context.Context, abs, rel string, ign *ignoreStack, repo *repoState, ancestors []devIno, inIgnored bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, entries, err := openDir(abs)
	if err != nil {
		// what was read before the error is walked; a directory that
		// cannot be opened yields nothing
		if err := r.submit(ctx, &job{kind: jobDirErr, abs: abs, rel: rel, err: err}); err != nil {
			dir.release()
			return err
		}
	}
	defer dir.release()
	if (repo == nil || repo.top != abs) && hasEntry(entries, ".git") {
		// a nested repository: its own history and ignore rules
		if rs := r.repoAt(abs, rel); rs != nil {
			repo = rs
			if ign != nil {
				ign = &ignoreStack{}
				r.loadExclude(ctx, ign, abs, rel)
			}
		}
	}
	if ign != nil && hasEntry(entries, ".gitignore") {
		if err := r.pushGitignore(ctx, &ign, abs, rel); err != nil {
			return err
		}
	}
	for _, e := range entries {
		name := e.Name()
		crel := name
		if rel != "" {
			crel = rel + "/" + name
		}
		cabs := filepath.Join(abs, name)
		t := e.Type()
		isDir := t.IsDir()
		why := r.src.cfg.Exclude.Path(cabs)
		if why == "" && isDir {
			why = r.src.cfg.Exclude.Dir(cabs)
		}
		if why != "" {
			if err := r.excluded(ctx, crel, isDir, why); err != nil {
				return err
			}
			continue
		}
		childIgnored := false
		if inIgnored || ign != nil && ign.ignored(crel, isDir) {
			// Ignore rules apply to untracked paths only.
			keep := false
			if repo != nil {
				tr := r.trackedBy(ctx, repo)
				if sub, ok := relTo(repo.topRel, crel); ok {
					keep = tr.has(sub) || isDir && tr.hasUnder(sub)
				}
			}
			if !keep {
				if err := r.passed(ctx, crel, isDir, ChangeIgnored, "untracked, excluded by ignore rules"); err != nil {
					return err
				}
				continue
			}
			childIgnored = isDir
		}
		switch {
		case isDir:
			if !r.couldMatchUnder(crel) {
				continue
			}
			anc := ancestors
			if r.src.cfg.FollowSymlinks {
				if fi, err := os.Lstat(cabs); err == nil {
					anc = append(ancestors[:len(ancestors):len(ancestors)], devInoOf(fi))
				}
			}
			if err := r.walkDirIn(ctx, cabs, crel, ign, repo, anc, childIgnored); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			follow, cycle, id := r.linkedDir(cabs, crel, ancestors)
			if r.matches(crel) {
				if err := r.submit(ctx, &job{kind: jobPath, abs: cabs, rel: crel, repo: repo, cycle: cycle}); err != nil {
					return err
				}
			}
			if follow {
				anc := append(ancestors[:len(ancestors):len(ancestors)], id)
				if err := r.walkDir(ctx, cabs, crel, ign, repo, anc); err != nil {
					return err
				}
			}
		default:
			if r.matches(crel) {
				j := &job{kind: jobPath, abs: cabs, rel: crel, repo: repo, regular: t.IsRegular(), name: name}
				if j.regular && dir != nil {
					j.dir = dir.acquire()
				}
				if err := r.submit(ctx, j); err != nil {
					j.dir.release()
					return err
				}
			}
		}
	}
	return nil
}

// linkedDir decides whether to walk the directory a link points to: links
// are followed, the target is allowed (inside the root, or AllowOutside),
// and it is not a directory being walked already (then cycle is true).
func (r *run) linkedDir(abs, rel string, ancestors []devIno) (follow, cycle bool, id devIno) {
	if !r.src.cfg.FollowSymlinks || !r.couldMatchUnder(rel) {
		return false, false, id
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return false, false, id
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return false, false, id
	}
	if !r.src.cfg.AllowOutside && !within(r.plan.root, resolved) {
		return false, false, id
	}
	id = devInoOf(fi)
	for _, a := range ancestors {
		if a == id {
			return false, true, id
		}
	}
	return true, false, id
}

func hasEntry(entries []os.DirEntry, name string) bool {
	for _, e := range entries {
		if e.Name() == name {
			return true
		}
	}
	return false
}

// within reports whether p is root or inside it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && !isDotDot(rel) && !filepath.IsAbs(rel)
}

// matches reports whether the slash path rel (relative to the root)
// matches the plan's pattern.
func (r *run) matches(rel string) bool {
	if r.plan.pattern == "" {
		return true
	}
	sub, ok := relTo(r.plan.baseRel, rel)
	if !ok {
		return false
	}
	return doublestar.MatchUnvalidated(r.plan.pattern, sub)
}

// couldMatchUnder reports whether a file below the directory rel could
// match the pattern, so that directories that cannot are not walked. It
// compares the directory's elements with the pattern's leading ones, up
// to the first "**" or brace; it never says no wrongly.
func (r *run) couldMatchUnder(rel string) bool {
	if r.plan.pattern == "" {
		return true
	}
	sub, ok := relTo(r.plan.baseRel, rel)
	if !ok {
		return false
	}
	pat := strings.Split(r.plan.pattern, "/")
	dir := strings.Split(sub, "/")
	for i, d := range dir {
		if i >= len(pat)-1 {
			// the pattern's last element names files; a deeper directory
			// can only match through "**"
			return i < len(pat) && hasSuperMeta(pat[i])
		}
		seg := pat[i]
		if hasSuperMeta(seg) {
			return true
		}
		if ok, err := path.Match(seg, d); err != nil || !ok {
			return err != nil // a segment path.Match cannot judge: keep
		}
	}
	return true
}

// hasSuperMeta reports whether a pattern element can match across
// directories or needs doublestar's own rules.
func hasSuperMeta(seg string) bool {
	return strings.Contains(seg, "**") || strings.ContainsAny(seg, "{}")
}

// splitPattern separates the directory without metacharacters from the
// rest of a glob.
func splitPattern(p string) (base, pattern string) {
	base, pattern = doublestar.SplitPattern(p)
	if base == "" {
		base = "."
	}
	return base, pattern
}

func validPattern(p string) bool { return p != "" && doublestar.ValidatePattern(p) }

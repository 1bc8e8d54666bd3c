package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// SourceName is the source field of every record this package produces.
const SourceName = "git_source"

// summaryActor is the actor of summary records: the source observed them.
const summaryActor = "system"

// Source collects records from a git repository. It is safe to call
// Collect from several goroutines.
type Source struct {
	cfg Config
}

// New returns a source configured by cfg.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg}, nil
}

var _ audit.Source = (*Source)(nil)

// Name returns "git_source".
func (s *Source) Name() string { return SourceName }

// Describe says what the source collects.
func (s *Source) Describe() string {
	return "git history: commits with files and lines changed, authors, branches and tags, blame, submodules"
}

// TargetTypes returns git.
func (s *Source) TargetTypes() []audit.TargetType { return []audit.TargetType{audit.TargetGit} }

// repo is one repository walked: the top one or a submodule.
type repo struct {
	dir    string // absolute directory
	target string // "." or the submodule's path from the top, escaped (see Escape)
	path   string // the same path as git has it; "." for the top
}

// Collect records the history of the repository containing the directory
// target ("" means the current directory) and of its initialised
// submodules. A top repository git cannot read is an error; a submodule
// that fails is recorded as a git_warning and the walk goes on.
func (s *Source) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	if target == "" {
		target = "."
	}
	top, prefix, err := s.toplevel(ctx, target)
	if err != nil {
		return err
	}
	repos := []repo{{dir: top, target: ".", path: "."}}
	if !s.cfg.NoSubmodules {
		subs, err := s.submodules(ctx, top, "")
		if err != nil {
			return err
		}
		repos = append(repos, subs...)
	}
	file := ""
	if s.cfg.File != "" {
		full := path.Clean(prefix + filepath.ToSlash(s.cfg.File))
		r := repos[0]
		for _, c := range repos[1:] {
			if strings.HasPrefix(full, c.path+"/") && (r.path == "." || len(c.path) > len(r.path)) {
				r = c
			}
		}
		repos = []repo{r}
		file = full
		if r.path != "." {
			file = strings.TrimPrefix(full, r.path+"/")
		}
	}
	for i, r := range repos {
		if err := s.collectRepo(ctx, r, file, emit); err != nil {
			if i == 0 || ctx.Err() != nil || errors.Is(err, errEmit) {
				return unwrapEmit(err)
			}
			w := audit.New(summaryActor, ActionWarning, r.target, audit.TargetGit)
			w.Timestamp = s.cfg.now()
			w.Source = SourceName
			w.Severity = audit.SeverityWarning
			w.Context = map[string]any{"repository": r.target, "error": safeText(err.Error())}
			w.Normalize()
			if err := emit(w); err != nil {
				return err
			}
		}
	}
	if s.cfg.Blame {
		return s.blame(ctx, repos[0], file, emit)
	}
	return nil
}

// errEmit marks an error returned by emit, which stops everything.
var errEmit = errors.New("emit")

type emitError struct{ err error }

func (e emitError) Error() string   { return e.err.Error() }
func (e emitError) Unwrap() []error { return []error{errEmit, e.err} }
func unwrapEmit(err error) error {
	var e emitError
	if errors.As(err, &e) {
		return e.err
	}
	return err
}

// ErrNotRepository is wrapped by the error for a directory that is not in
// a git repository.
var ErrNotRepository = errors.New("not a git repository (nor inside one)")

// Toplevel returns the root of the git repository holding dir. The error
// wraps ErrNotRepository when there is none.
func (s *Source) Toplevel(ctx context.Context, dir string) (string, error) {
	top, _, err := s.toplevel(ctx, dir)
	return top, err
}

// toplevel returns the repository's root and the path of dir inside it
// ("" or "sub/dir/").
func (s *Source) toplevel(ctx context.Context, dir string) (top, prefix string, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", "", fmt.Errorf("git source: %w", err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("git source: %s is not a directory", dir)
	}
	out, err := s.output(ctx, dir, "rev-parse", "--show-toplevel", "--show-prefix")
	switch {
	case err != nil && strings.Contains(err.Error(), "not a git repository"):
		return "", "", fmt.Errorf("%s is %w", dir, ErrNotRepository)
	case err != nil:
		return "", "", fmt.Errorf("%s: cannot find its git repository: %w", dir, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) < 1 || lines[0] == "" {
		return "", "", fmt.Errorf("%w: rev-parse --show-toplevel in %s printed nothing", ErrGit, dir)
	}
	top = lines[0]
	if len(lines) > 1 {
		prefix = lines[1]
	}
	return top, prefix, nil
}

// gitlinks returns the paths of dir's index that are submodule pointers
// (mode 160000), initialised or not; nil when there are none or git
// cannot list them.
func (s *Source) gitlinks(ctx context.Context, dir string) map[string]bool {
	if _, err := os.Stat(filepath.Join(dir, ".gitmodules")); err != nil {
		return nil
	}
	out, err := s.output(ctx, dir, "ls-files", "--stage", "-z")
	if err != nil {
		return nil
	}
	links := map[string]bool{}
	for entry := range bytes.SplitSeq(out, []byte{0}) {
		if meta, name, ok := bytes.Cut(entry, []byte{'\t'}); ok && bytes.HasPrefix(meta, []byte("160000 ")) {
			links[string(name)] = true
		}
	}
	return links
}

// submodules lists the initialised submodules of the repository in dir,
// recursively. parent is dir's path ("" for the top).
func (s *Source) submodules(ctx context.Context, dir, parent string) ([]repo, error) {
	if _, err := os.Stat(filepath.Join(dir, ".gitmodules")); err != nil {
		return nil, nil
	}
	out, err := s.output(ctx, dir, "ls-files", "--stage", "-z")
	if err != nil {
		return nil, fmt.Errorf("list submodules of %s: %w", dir, err)
	}
	var repos []repo
	for entry := range bytes.SplitSeq(out, []byte{0}) {
		// "160000 <hash> <stage>\t<path>"
		meta, name, ok := bytes.Cut(entry, []byte{'\t'})
		if !ok || !bytes.HasPrefix(meta, []byte("160000 ")) {
			continue
		}
		rel := string(name)
		sub := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(filepath.Join(sub, ".git")); err != nil {
			continue // not initialised
		}
		p := rel
		if parent != "" {
			p = parent + "/" + rel
		}
		repos = append(repos, repo{dir: sub, target: safeText(p), path: p})
		nested, err := s.submodules(ctx, sub, p)
		if err != nil {
			return nil, err
		}
		repos = append(repos, nested...)
	}
	return repos, nil
}

// collectRepo records one repository's new commits and changed
// summaries.
func (s *Source) collectRepo(ctx context.Context, r repo, file string, emit func(*audit.Record) error) error {
	known, err := s.loadKnown(ctx, r.target)
	if err != nil {
		return emitError{err}
	}
	refs, err := s.refsRecord(ctx, r)
	if err != nil {
		return err
	}
	tally := newAuthorTally()
	recorded := 0
	c := &Commit{Repo: r.target}
	links := s.gitlinks(ctx, r.dir)
	// Sizes are read for the commits to record, not for those recorded
	// before (walked for reports only).
	unknown := func(c *Commit) bool { return !known.has(c.Hash) }
	handle := func(c *Commit) error {
		c.Repo = r.target
		c.New = !known.has(c.Hash)
		if len(links) > 0 {
			for i := range c.Files {
				c.Files[i].Gitlink = c.Files[i].Gitlink || links[c.Files[i].Path]
			}
		}
		tally.add(c)
		if s.cfg.OnCommit != nil {
			s.cfg.OnCommit(c)
		}
		if !c.New {
			return nil
		}
		known.add(c.Hash)
		recorded++
		if err := emit(s.commitRecord(c)); err != nil {
			return emitError{err}
		}
		return nil
	}
	revs, err := s.revisions(ctx, r.dir)
	if err != nil {
		return err
	}
	if len(revs) > 0 {
		if file != "" {
			err = s.walkFile(ctx, r.dir, revs, file, c, unknown, handle)
		} else {
			err = s.walk(ctx, r.dir, revs, nil, c, unknown, handle)
		}
		if err != nil {
			return err
		}
	}
	if recorded > 0 {
		if err := emit(s.authorsRecord(r.target, tally)); err != nil {
			return emitError{err}
		}
	}
	if refs != nil {
		if err := emit(refs); err != nil {
			return emitError{err}
		}
	}
	return nil
}

// revisions returns the revisions to walk, or none for a repository
// without commits.
func (s *Source) revisions(ctx context.Context, dir string) ([]string, error) {
	if len(s.cfg.Revisions) > 0 {
		return s.cfg.Revisions, nil
	}
	revs := []string{"--branches", "--tags", "--remotes"}
	if _, err := s.output(ctx, dir, "rev-parse", "--verify", "-q", "HEAD^{commit}"); err == nil {
		revs = append(revs, "HEAD")
	}
	return revs, nil
}

func (s *Source) logArgs(extra ...string) []string {
	format := logFormat
	if s.cfg.NoSignatures {
		format = logFormatNoSig
	}
	args := []string{"log", "-z", "--raw", "--no-abbrev", "--numstat", "-M", "--no-color", "--no-ext-diff", "--no-textconv",
		"--no-mailmap", "--encoding=UTF-8", "--format=" + format}
	if !s.cfg.Since.IsZero() {
		args = append(args, "--since="+s.cfg.Since.UTC().Format(time.RFC3339))
	}
	if !s.cfg.Until.IsZero() {
		args = append(args, "--until="+s.cfg.Until.UTC().Format(time.RFC3339))
	}
	if s.cfg.Author != "" {
		args = append(args, "--author="+s.cfg.Author)
	}
	return append(args, extra...)
}

// walk runs one git log over revs, oldest commit first, and hands each
// commit to handle.
// want, when set, says which commits' file sizes to read (the others keep
// them unknown).
func (s *Source) walk(ctx context.Context, dir string, revs []string, stdin io.Reader, c *Commit, want func(*Commit) bool, handle func(*Commit) error) error {
	args := s.logArgs("--reverse")
	if stdin != nil {
		args = s.logArgs("--no-walk=unsorted", "--stdin")
	}
	if !s.cfg.NoSignatures {
		if _, err := s.output(ctx, dir, "config", "--get", "gpg.ssh.allowedSignersFile"); err != nil {
			// Without this setting git reports SSH-signed commits as
			// unsigned (N); an empty list of trusted signers makes it
			// check them and report U (good signature, unknown signer).
			args = append([]string{"-c", "gpg.ssh.allowedSignersFile=" + os.DevNull}, args...)
		}
	}
	args = append(args, revs...)
	args = append(args, "--")
	sizes := newSizer(ctx, s, dir)
	defer sizes.close()
	// Commits are read in batches: the sizes of a batch's files are
	// asked of git cat-file at once, then each commit is handled in
	// order. The batch's commits (and their slices) are reused.
	batch := make([]Commit, sizeBatch)
	for i := range batch {
		batch[i].Repo = c.Repo
	}
	flush := func(n int) error {
		sizes.resolve(batch[:n], want)
		for i := range batch[:n] {
			if err := handle(&batch[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return s.stream(ctx, dir, stdin, args, func(out io.Reader) error {
		p := newLogParser(out)
		n := 0
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := p.Next(&batch[n])
			if err == io.EOF {
				return flush(n)
			}
			if err != nil {
				// What was read before stays recorded.
				if ferr := flush(n); ferr != nil {
					return ferr
				}
				return fmt.Errorf("git log in %s: %w", dir, err)
			}
			if n++; n == len(batch) {
				if err := flush(n); err != nil {
					return err
				}
				n = 0
			}
		}
	})
}

// walkFile walks the commits that changed file, following renames. git
// cannot follow a file and show each commit's whole diff in one run, so
// a first run lists the commits and a second one reads them in full.
func (s *Source) walkFile(ctx context.Context, dir string, revs []string, file string, c *Commit, want func(*Commit) bool, handle func(*Commit) error) error {
	args := []string{"log", "-z", "--follow", "-M", "--format=%H", "--no-color"}
	if !s.cfg.Since.IsZero() {
		args = append(args, "--since="+s.cfg.Since.UTC().Format(time.RFC3339))
	}
	if !s.cfg.Until.IsZero() {
		args = append(args, "--until="+s.cfg.Until.UTC().Format(time.RFC3339))
	}
	if s.cfg.Author != "" {
		args = append(args, "--author="+s.cfg.Author)
	}
	args = append(args, revs...)
	args = append(args, "--", file)
	out, err := s.output(ctx, dir, args...)
	if err != nil {
		return err
	}
	var hashes []string
	for h := range strings.SplitSeq(string(out), "\x00") {
		h = strings.TrimSpace(h)
		if isHex(h) {
			hashes = append(hashes, h)
		}
	}
	if len(hashes) == 0 {
		return nil
	}
	slices.Reverse(hashes)
	return s.walk(ctx, dir, nil, strings.NewReader(strings.Join(hashes, "\n")+"\n"), c, want, handle)
}

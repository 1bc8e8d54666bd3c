// Package file is the file source: it walks a path, a directory or a glob
// pattern and records, for each file, its SHA-256, size, mode, owner and
// group, modification time, symbolic link target and whether it is binary.
//
// # Records
//
// One record per file, action "file_hash", target type file, target the
// file's path relative to the root (slash-separated; see Config.Root).
// The timestamp is when the file was audited (the run's start), so that
// --since means "audited since"; the file's modification time is in the
// context (mtime), and a warning says when it is not a plausible date. The
// context holds:
//
//	sha256          hex SHA-256 of the content (of the link text for a
//	                symbolic link that is not followed, as git does)
//	size            bytes
//	file_type       "file" or "symlink"
//	mode            octal permission bits with setuid/setgid/sticky, "0644"
//	permissions     the ls form, "-rw-r--r--"
//	uid, gid        numeric owner and group; owner, group: their names
//	                when the system can resolve them
//	mtime, ctime    modification and status-change times (RFC 3339, ns)
//	inode, device   as decimal strings
//	binary          true when the first 8000 bytes hold a NUL byte (git's
//	                rule); text otherwise
//	sparse          true when fewer blocks are allocated than the size needs
//	symlink_target  the link text; symlink_resolved the resolved path when
//	                it is inside the tree; symlink_outside, symlink_dangling,
//	                symlink_loop flag the other outcomes, and symlink_cycle a
//	                followed link back to a directory being walked (not
//	                entered); followed says the content hashed is the link
//	                target's, or that the linked directory was walked
//	change          "new", "changed" (with changed_fields and
//	                previous_sha256) or "unchanged" (recorded on request)
//	hash_reused     the content was not read again (see Incremental)
//	path_escaped    the target is the escaped form of a name that is not
//	                valid UTF-8 or holds control characters (UnescapePath)
//	git             {commit, author, email, date} of the last commit that
//	                touched the file, with Config.IncludeGit (one pass
//	                over each repository's history; unchanged files get
//	                theirs in Entry.Commit, for reports)
//	private_key     true when the content is a private key (its hash and
//	                metadata are recorded, never its content)
//	scanned_at      when the run started
//	warnings        what was odd about the file (the severity is then
//	                warning)
//
// # Removed files
//
// With Config.Trail, a run over a directory or a pattern that finishes
// ends with one "file_removed" record per path whose last record in the
// trail is a file_hash or file_skipped record, that the run's target
// covers (below the directory, or matching the pattern), and that no
// longer exists. The timestamp is the scan time; the context holds
// previous_sha256 and previous_size (what the last record said),
// previous_mode and scanned_at. A path that still exists but is no
// longer walked (ignored since, excluded) is not removed. A path the
// masking step changed in its record cannot be looked for and is left
// alone. The state of the tree at any point of the trail is thus the
// newest record of each path: removed, or its hash, mode and size.
//
// # Warnings
//
// A file that cannot be hashed (unreadable, a named pipe, socket or
// device, vanished between listing and reading, changing while read, too
// large) or a directory that cannot be listed does not stop the run: it
// is recorded in the trail as a record with action "file_skipped",
// severity warning, its timestamp the scan time, and the reason and error
// in its context, so the trail shows that the file was not covered.
// Hashed files with something odd (an escaped name, a link out of the tree
// or in a loop, an implausible time) are recorded normally with severity
// warning and a "warnings" list. Problems not tied to one file (an ignore
// file that cannot be parsed, git failing) are reported to Observe only.
//
// # Incremental
//
// With Config.Trail set, the source first reads the trail once (one query
// streaming the file records; memory grows with the number of recorded
// paths, about 250 bytes each plus the name) and records a file only when it is new or
// its content or metadata (type, size, mode, owner, group, modification
// time, link target, hash) differ from its last record; a skipped file is
// recorded again only when the reason or its metadata changed.
// Config.Force records every file.
//
// Hashing is most of the cost, so a file is not read again when its size,
// modification time, status-change time, inode and device all equal the
// last record's and its modification time was at least two seconds older
// than the scan that recorded it. Rewriting a file changes its modification
// and status-change times, and the status-change time cannot be set back by
// a user (touch -d restores only the modification time). The two seconds
// cover coarse file system clocks: a file modified in the same clock tick
// as it was hashed is always read again (git calls such entries "racily
// clean"). Such records say "hash_reused": true.
//
// # Ignored files
//
// By default the walk honours .gitignore files in every directory from
// the repository root down and .git/info/exclude, with git's rules (see
// ignore.go); the user's global excludes file (core.excludesFile) is not
// read. Config.NoIgnore includes everything. A path named on the command
// line is audited even when ignored. What no source reads (Config.Exclude:
// git internals, the trail's directory) is never walked; it is counted as
// excluded. A nested repository (a directory with its own .git, such
// as a submodule) starts a fresh set of ignore rules, as in git.
//
// # Streams
//
// The walk is streamed: one directory listing per level of the current
// path is held, and at most a few hundred files are in flight between the
// walk, the hashers (Config.Workers at a time) and emit. Records are
// emitted in walk order (directory entries sorted by name, depth first)
// whatever order the hashers finish in.
package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// Names the records carry.
const (
	SourceName    = "file_source"
	ActionHash    = "file_hash"
	ActionSkipped = "file_skipped"
	ActionRemoved = "file_removed"
)

// Errors Collect returns.
var (
	// ErrNoMatch: a pattern matched no file.
	ErrNoMatch = errors.New("no file matches")
	// ErrOutsideRoot: the target is not inside Config.Root.
	ErrOutsideRoot = errors.New("target is outside the root")
	// ErrBadPattern: the glob pattern is malformed.
	ErrBadPattern = errors.New("malformed glob pattern")
)

// Config configures a file source. The zero value audits one path with
// ignore rules honoured, nothing followed out of the tree, and every file
// treated as new.
type Config struct {
	// Root is the directory record targets are relative to. Empty: the
	// top level of the git repository holding the target; outside a
	// repository, the working directory when the target is inside it,
	// else the target's directory.
	Root string
	// Pattern treats the target as a glob pattern ("src/**/*.py"; "**"
	// crosses directories). Only files and links match, not directories.
	Pattern bool
	// NoIgnore includes files that .gitignore rules exclude.
	NoIgnore bool
	// FollowSymlinks hashes the files links point to and walks the
	// directories they point to, as long as the target is inside Root.
	// A link that leads back to a directory being walked is recorded and
	// not entered.
	FollowSymlinks bool
	// AllowOutside, with FollowSymlinks, follows links out of Root too.
	AllowOutside bool
	// IncludeGit adds the last commit that touched each file.
	IncludeGit bool
	// Force records every file, changed or not.
	Force bool
	// Workers is the number of files hashed at once; 0 means
	// runtime.NumCPU().
	Workers int
	// Actor is the records' actor; empty means the user running the scan.
	Actor string
	// Trail is where the previous records are read from for an
	// incremental run; nil means every file is new.
	Trail Querier
	// Observe, when set, is called for every path examined (recorded or
	// not) and for every warning, in walk order, from the goroutine that
	// called Collect.
	Observe func(Entry)
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Exclude is what is never read (see package exclude): directories
	// named .git or .audit, git directories, the trail's directory where
	// it is given, and .git files are not walked; a private key file is
	// recorded (hash, size, mode) with "private_key": true, never its
	// content. Nil applies the rules by name and content.
	Exclude *exclude.Rules
}

// Validate checks the combination of options.
func (c Config) Validate() error {
	if c.AllowOutside && !c.FollowSymlinks {
		return errors.New("file source: AllowOutside needs FollowSymlinks")
	}
	if c.Workers < 0 {
		return fmt.Errorf("file source: Workers %d must not be negative", c.Workers)
	}
	return nil
}

// Change says how a path compares with its last record.
type Change string

// Changes.
const (
	ChangeNew       Change = "new"
	ChangeChanged   Change = "changed"
	ChangeUnchanged Change = "unchanged"
	ChangeSkipped   Change = "skipped" // could not be hashed: a warning
	ChangeNotice    Change = "notice"  // a warning about no single file
	// ChangeExcluded: never read (git internals, the trail's directory);
	// Entry.Reason says which. A directory is one entry.
	ChangeExcluded Change = "excluded"
	// ChangeIgnored: an untracked path that ignore rules exclude. A
	// directory is one entry.
	ChangeIgnored Change = "ignored"
	// ChangeRemoved: a path the trail holds that no longer exists (a
	// file_removed record).
	ChangeRemoved Change = "removed"
)

// Entry is what Observe hears about one path.
type Entry struct {
	Path   string // the record target (escaped when needed)
	Type   string // "file", "symlink", "directory", "other"
	Size   int64
	SHA256 string
	Binary bool
	Change Change
	// Reason says why a path was excluded or ignored.
	Reason   string
	Warnings []string
	// Commit is the last commit that touched the file ("hash author
	// date"), with Config.IncludeGit, for files that were recorded.
	Commit string
	// Record is what was emitted, nil when nothing was (unchanged).
	Record *audit.Record
}

// Source is the file source.
type Source struct {
	cfg     Config
	workers int
	log     *slog.Logger

	// testHookBeforeOpen runs before a file is opened; testHookBeforeRead
	// before its content is read.
	testHookBeforeOpen func(abs string)
	testHookBeforeRead func(abs string)
}

// New returns a file source configured by c.
func New(c Config) (*Source, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Source{cfg: c, workers: c.Workers, log: c.Logger}
	if s.workers == 0 {
		s.workers = runtime.NumCPU()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Actor == "" {
		s.cfg.Actor = currentUser()
	}
	return s, nil
}

// Name is the records' source field.
func (s *Source) Name() string { return SourceName }

// Describe says what the source collects.
func (s *Source) Describe() string {
	return "files: SHA-256, size, mode, owner, times, link targets, binary or text; honours .gitignore"
}

// TargetTypes is the one target type the source produces.
func (s *Source) TargetTypes() []audit.TargetType { return []audit.TargetType{audit.TargetFile} }

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid:" + strconv.Itoa(os.Getuid())
}

// Collect audits target (a path, a directory or, with Config.Pattern, a
// glob) and hands each record to emit in walk order. It stops at the
// first error from emit or when ctx is done; files it cannot read are
// recorded as warnings and do not stop it.
func (s *Source) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	plan, err := s.plan(target)
	if err != nil {
		return err
	}
	var idx *Index
	if s.cfg.Trail != nil {
		if idx, err = LoadIndex(ctx, s.cfg.Trail); err != nil {
			return err
		}
	}
	now := time.Now()
	r := &run{src: s, plan: plan, idx: idx, emit: emit, started: now, scannedAt: audit.FormatTime(now)}
	return r.execute(ctx)
}

// plan is a resolved target.
type plan struct {
	target  string // as given
	root    string // absolute, symlinks resolved
	base    string // absolute path to walk or the single file
	baseRel string // base relative to root, slash-separated ("" for root)
	pattern string // glob relative to base, "" when not a pattern
	single  bool   // base is a file (or link), not a directory
}

func (s *Source) plan(target string) (*plan, error) {
	if target == "" {
		return nil, errors.New("file source: no target given")
	}
	p := &plan{target: target}
	base := target
	if s.cfg.Pattern {
		b, pat := splitPattern(filepath.ToSlash(target))
		if !validPattern(pat) {
			return nil, fmt.Errorf("file source: %q: %w", target, ErrBadPattern)
		}
		base, p.pattern = filepath.FromSlash(b), pat
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return nil, fmt.Errorf("file source: %w", err)
	}
	fi, err := os.Lstat(abs)
	switch {
	case err != nil && s.cfg.Pattern && errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("file source: pattern %q: %w (%s does not exist)", target, ErrNoMatch, base)
	case err != nil:
		return nil, fmt.Errorf("file source: %w", err)
	case s.cfg.Pattern && !fi.IsDir():
		return nil, fmt.Errorf("file source: pattern %q: %w (%s is not a directory)", target, ErrNoMatch, base)
	}
	p.single = !fi.IsDir()
	// Resolve links in the directories above the target (not the target
	// itself, which is audited as what it is).
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("file source: %w", err)
	}
	if abs != filepath.Dir(abs) {
		abs = filepath.Join(parent, filepath.Base(abs))
	}
	if p.single {
		p.base = abs
	} else if p.base, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("file source: %w", err)
	}
	p.root, err = s.findRoot(p.base, p.single)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(p.root, p.base)
	if err != nil || isDotDot(rel) {
		return nil, fmt.Errorf("file source: %s: %w %s", target, ErrOutsideRoot, p.root)
	}
	if rel == "." {
		rel = ""
	}
	p.baseRel = filepath.ToSlash(rel)
	return p, nil
}

// findRoot applies Config.Root's rules.
func (s *Source) findRoot(base string, single bool) (string, error) {
	if s.cfg.Root != "" {
		r, err := filepath.Abs(s.cfg.Root)
		if err == nil {
			r, err = filepath.EvalSymlinks(r)
		}
		if err != nil {
			return "", fmt.Errorf("file source: root: %w", err)
		}
		return r, nil
	}
	dir := base
	if single {
		dir = filepath.Dir(base)
	}
	if top, ok := repoTop(dir); ok {
		return top, nil
	}
	if wd, err := os.Getwd(); err == nil {
		if wd, err = filepath.EvalSymlinks(wd); err == nil {
			if rel, err := filepath.Rel(wd, dir); err == nil && !isDotDot(rel) {
				return wd, nil
			}
		}
	}
	return dir, nil
}

func isDotDot(rel string) bool {
	return rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator)
}

// repoTop returns the nearest directory at or above dir holding .git.
func repoTop(dir string) (string, bool) {
	for {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

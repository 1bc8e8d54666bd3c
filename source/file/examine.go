package file

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/internal/incremental"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// Reasons a path is skipped (the "reason" of a file_skipped record).
const (
	ReasonUnreadable    = "unreadable"
	ReasonVanished      = "vanished"
	ReasonNotRegular    = "not a regular file"
	ReasonTooLarge      = "too large"
	ReasonChanging      = "changed while being read"
	ReasonDirUnreadable = "directory not listed"
)

// binarySniff is how many leading bytes are searched for a NUL byte.
const binarySniff = 8000

// reuseMargin is how much older than the scan that hashed it a file's
// modification time must be for an unchanged stat to be trusted.
const reuseMargin = 2 * time.Second

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// facts is what examining one path found.
type facts struct {
	fileType string
	size     int64
	mode     fs.FileMode
	mtime    time.Time
	sys      sysInfo
	sum      [32]byte
	binary   bool
	// privateKey: the content is a private key (hashed, never recorded)
	privateKey bool
	sparse     bool
	reused     bool
	link       *linkFacts
	warnings   []string
}

type linkFacts struct {
	text     string
	resolved string // relative to the root, when inside
	outside  bool
	dangling bool
	loop     bool
	cycle    bool // leads back to a directory being walked
	followed bool
}

// examine fills j.entry for a path. It never fails: what cannot be read
// becomes a skipped entry.
func (r *run) examine(ctx context.Context, j *job) {
	j.entry.Path, _ = escapePath(j.rel)
	if j.regular {
		// the listing says regular file: open it straight away (one
		// system call fewer); the descriptor's status is checked anyway
		r.examineRegular(ctx, j, nil)
		return
	}
	r.examineAny(ctx, j)
}

// examineAny examines a path of any type, starting from its lstat.
func (r *run) examineAny(ctx context.Context, j *job) {
	fi, err := os.Lstat(j.abs)
	if err != nil {
		r.skip(j, reasonFor(err), err, nil)
		return
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		r.examineRegular(ctx, j, nil)
	case m&fs.ModeSymlink != 0:
		r.examineLink(ctx, j, fi)
	default:
		r.skip(j, ReasonNotRegular, fmt.Errorf("%s", kindOf(m)), fi)
	}
}

func reasonFor(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return ReasonVanished
	}
	return ReasonUnreadable
}

// kindOf names a file type for people.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	}
	return "other"
}

// examineRegular opens and hashes a regular file (or, with link set, the
// file a followed link points to). The file is opened without following a
// link (unless link is set) and without blocking (a file replaced by a
// named pipe since it was listed must not block the open); what is
// recorded is the status of the open descriptor, so a file replaced since
// it was listed is described as what was read.
func (r *run) examineRegular(ctx context.Context, j *job, link *linkFacts) {
	if r.src.testHookBeforeOpen != nil {
		r.src.testHookBeforeOpen(j.abs)
	}
	flags := os.O_RDONLY | openFlags
	if link == nil {
		flags |= noFollowFlag
	}
	var fh *os.File
	var err error
	if j.dir != nil && link == nil {
		fh, err = openAt(j.dir.fd, j.name, j.abs, flags)
	} else {
		fh, err = os.OpenFile(j.abs, flags, 0)
	}
	if err != nil {
		if link == nil && errors.Is(err, syscall.ELOOP) && j.regular {
			// replaced by a link since it was listed: examine what it is now
			j.regular = false
			r.examineAny(ctx, j)
			return
		}
		fi, _ := os.Lstat(j.abs)
		r.skip(j, reasonFor(err), err, fi)
		return
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		r.skip(j, ReasonUnreadable, err, nil)
		return
	}
	if !fi.Mode().IsRegular() {
		r.skip(j, ReasonNotRegular, errors.New(kindOf(fi.Mode())), fi)
		return
	}
	f := &facts{fileType: "file", size: fi.Size(), mode: fi.Mode(), mtime: fi.ModTime(), sys: sysStat(fi), link: link, sparse: isSparse(fi)}
	if link != nil {
		f.fileType = "symlink"
	}
	if f.size > canonical.MaxSafeInteger {
		r.skip(j, ReasonTooLarge, fmt.Errorf("%d bytes", f.size), fi)
		return
	}
	prev := r.idx.lookup(j.entry.Path)
	if prev != nil && r.statUnchanged(prev, f) {
		f.sum, f.reused = prev.sum, true
		// binary is not in the status; it was recorded with the hash
		f.binary, f.privateKey = prev.binary, prev.privateKey
		if !r.src.cfg.Force && len(changedFields(prev, f)) == 0 {
			r.unchanged(ctx, j, f)
			return
		}
		r.finish(ctx, j, f, prev)
		return
	}
	if r.src.testHookBeforeRead != nil {
		r.src.testHookBeforeRead(j.abs)
	}
	cur, err := r.hashOpen(ctx, fh, fi, f)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		var se *skipError
		if errors.As(err, &se) {
			r.skip(j, se.reason, se.err, cur)
			return
		}
		r.skip(j, reasonFor(err), err, cur)
		return
	}
	f.size, f.mode, f.mtime, f.sys, f.sparse = cur.Size(), cur.Mode(), cur.ModTime(), sysStat(cur), isSparse(cur)
	r.finish(ctx, j, f, prev)
}

// skipError carries the reason a file could not be hashed.
type skipError struct {
	reason string
	err    error
}

func (e *skipError) Error() string { return e.reason + ": " + e.err.Error() }

// hashOpen hashes the open regular file fh whose status is before, and
// returns its status after the read. A file that changes while it is read
// (its size, modification or status-change time differ afterwards) is
// read once more; if it changes again it is skipped.
func (r *run) hashOpen(ctx context.Context, fh *os.File, before fs.FileInfo, f *facts) (fs.FileInfo, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if _, err := fh.Seek(0, io.SeekStart); err != nil {
				return before, err
			}
		}
		sum, binary, key, err := hashStream(ctx, fh, *bp, before.Size(), r.src.cfg.Exclude)
		if err != nil {
			return before, err
		}
		after, err := fh.Stat()
		if err != nil {
			return before, err
		}
		if after.Size() == before.Size() && after.ModTime().Equal(before.ModTime()) && sysStat(after).ctime.Equal(sysStat(before).ctime) {
			f.sum, f.binary = sum, binary
			// a private key is hashed like any file; its content never
			// enters a record
			f.privateKey = key
			return after, nil
		}
		if attempt == 1 {
			return after, &skipError{ReasonChanging, errors.New("size or modification time changed during two reads")}
		}
		before = after
		if !before.Mode().IsRegular() || before.Size() > canonical.MaxSafeInteger {
			return before, &skipError{ReasonChanging, errors.New("changed while being read")}
		}
	}
}

// hashStream hashes r with buf, checking ctx between reads, and reports
// whether the first binarySniff bytes hold a NUL and whether the first
// bytes read are a private key (by ex's rules). It stops after size
// bytes (the size the file had when opened; a file that grew is noticed
// by the status check after the read) or at the end of the file; with size
// 0 it reads to the end.
func hashStream(ctx context.Context, r io.Reader, buf []byte, size int64, ex *exclude.Rules) (sum [32]byte, binary, key bool, err error) {
	h := sha256.New()
	sniffed := 0
	var total int64
	for n := 0; size <= 0 || total < size; n++ {
		if n&63 == 63 { // every 16 MB
			if err := ctx.Err(); err != nil {
				return sum, false, false, err
			}
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			if total == 0 {
				key = ex.Content(buf[:min(k, exclude.Sniff)]) != ""
			}
			if sniffed < binarySniff {
				end := min(k, binarySniff-sniffed)
				if bytes.IndexByte(buf[:end], 0) >= 0 {
					binary = true
				}
				sniffed += end
			}
			h.Write(buf[:k])
			total += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sum, false, false, rerr
		}
	}
	h.Sum(sum[:0])
	return sum, binary, key, nil
}

// isSparse reports whether fewer blocks are allocated than the size needs.
func isSparse(fi fs.FileInfo) bool {
	s := sysStat(fi)
	return s.ok && s.blocks*512 < fi.Size()
}

// statUnchanged reports whether the file's stat matches its last record
// closely enough to trust the recorded hash (see the package doc).
func (r *run) statUnchanged(prev *seen, f *facts) bool {
	if prev.skipped || !prev.hasSum || prev.scanned == 0 || !f.sys.ok {
		return false
	}
	return prev.fileType == f.fileType &&
		prev.size == f.size &&
		prev.mtime == f.mtime.UnixNano() &&
		prev.ctime == f.sys.ctime.UnixNano() &&
		prev.ino == f.sys.ino &&
		prev.dev == f.sys.dev &&
		prev.mtime+int64(reuseMargin) <= prev.scanned &&
		(f.link == nil || prev.link == escapedText(f.link.text))
}

// changedFields lists what differs from the last record, in a fixed order.
func changedFields(prev *seen, f *facts) []string {
	var out []string
	add := func(cond bool, name string) {
		if cond {
			out = append(out, name)
		}
	}
	add(prev.fileType != f.fileType, "file_type")
	add(prev.size != f.size, "size")
	add(prev.mode != modeString(f.mode), "mode")
	add(f.sys.ok && (prev.uid != f.sys.uid || prev.gid != f.sys.gid), "owner")
	add(prev.mtime != f.mtime.UnixNano(), "mtime")
	linkText := ""
	if f.link != nil {
		linkText = escapedText(f.link.text)
	}
	add(prev.link != linkText, "symlink_target")
	add(!prev.hasSum || prev.sum != f.sum, "sha256")
	return out
}

func escapedText(s string) string { e, _ := escapePath(s); return e }

// modeString is the octal form of the permission and special bits.
func modeString(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	var b [4]byte
	for i := 3; i >= 0; i-- {
		b[i] = '0' + byte(v&7)
		v >>= 3
	}
	return string(b[:])
}

// examineLink records a symbolic link: its text, where it leads, and
// (when links are followed and the target is allowed) the content of the
// file it points to.
func (r *run) examineLink(ctx context.Context, j *job, fi fs.FileInfo) {
	text, err := os.Readlink(j.abs)
	if err != nil {
		r.skip(j, reasonFor(err), err, fi)
		return
	}
	lf := &linkFacts{text: text}
	resolved, rerr := filepath.EvalSymlinks(j.abs)
	switch {
	case rerr == nil:
		if within(r.plan.root, resolved) {
			rel, _ := filepath.Rel(r.plan.root, resolved)
			lf.resolved, _ = escapePath(filepath.ToSlash(rel))
		} else {
			lf.outside = true
		}
	case errors.Is(rerr, syscall.ELOOP) || isTooManyLinks(rerr):
		lf.loop = true
	case errors.Is(rerr, fs.ErrNotExist):
		lf.dangling = true
	default:
		lf.dangling = true
	}
	if j.cycle {
		lf.cycle = true
	} else if r.src.cfg.FollowSymlinks && rerr == nil && (!lf.outside || r.src.cfg.AllowOutside) {
		if st, err := os.Stat(j.abs); err == nil && st.Mode().IsRegular() {
			lf.followed = true
			r.examineRegular(ctx, j, lf)
			return
		} else if err == nil && st.IsDir() {
			lf.followed = true // the walker walks it
		}
	}
	f := &facts{fileType: "symlink", size: fi.Size(), mode: fi.Mode(), mtime: fi.ModTime(), sys: sysStat(fi), link: lf}
	f.sum = sha256.Sum256([]byte(text))
	r.finish(ctx, j, f, r.idx.lookup(j.entry.Path))
}

// isTooManyLinks recognises filepath.EvalSymlinks' own loop error, which
// has no error value to compare with.
func isTooManyLinks(err error) bool {
	return strings.HasSuffix(err.Error(), "too many links")
}

// unchanged reports a file that needs no record (with its last commit,
// with Config.IncludeGit, for the report).
func (r *run) unchanged(ctx context.Context, j *job, f *facts) {
	e := &j.entry
	e.Type, e.Size, e.SHA256, e.Binary, e.Change = f.fileType, f.size, hex.EncodeToString(f.sum[:]), f.binary, ChangeUnchanged
	r.lastCommit(ctx, j)
}

// lastCommit looks up, with Config.IncludeGit, the last commit that
// touched the job's file in its repository's history (read in one pass,
// on first use), sets the entry's Commit and returns the record's "git"
// context; nil without a repository or on error (j.gitErr says).
func (r *run) lastCommit(ctx context.Context, j *job) map[string]any {
	if j.repo == nil || j.repo.hist == nil {
		return nil
	}
	sub, ok := relTo(j.repo.topRel, j.rel)
	if !ok && j.repo.topRel != j.rel {
		return nil
	}
	commit, err := j.repo.hist.lookup(ctx, sub)
	switch {
	case err != nil:
		j.gitErr, j.gitHist = err, j.repo.hist
		return nil
	case commit == nil:
		return map[string]any{"committed": false}
	}
	j.entry.Commit = commit.Hash[:min(len(commit.Hash), 12)] + " " + commit.Author + " " + commit.Date
	return commit.context()
}

// finish compares with the last record and builds the record when one is
// due.
func (r *run) finish(ctx context.Context, j *job, f *facts, prev *seen) {
	e := &j.entry
	e.Type, e.Size, e.SHA256, e.Binary = f.fileType, f.size, hex.EncodeToString(f.sum[:]), f.binary
	var changed []string
	switch {
	case prev == nil:
		e.Change = ChangeNew
	default:
		changed = changedFields(prev, f)
		if len(changed) == 0 {
			e.Change = ChangeUnchanged
			if !r.src.cfg.Force {
				r.lastCommit(ctx, j)
				return
			}
		} else {
			e.Change = ChangeChanged
		}
	}
	c := r.baseContext(j, f.fileType, f.size, f.mode, f.mtime, f.sys)
	c["sha256"] = e.SHA256
	c["binary"] = f.binary
	if f.privateKey {
		c["private_key"] = true
		f.warnings = append(f.warnings, "a private key: its hash and metadata are recorded, never its content")
	}
	c["change"] = string(e.Change)
	if f.sparse {
		c["sparse"] = true
	}
	if f.reused {
		c["hash_reused"] = true
	}
	if e.Change == ChangeChanged {
		c["changed_fields"] = changed
		if prev.hasSum && prev.sum != f.sum {
			c["previous_sha256"] = hex.EncodeToString(prev.sum[:])
		}
	}
	if l := f.link; l != nil {
		t, esc := escapePath(l.text)
		c["symlink_target"] = t
		if esc {
			c["symlink_target_escaped"] = true
			f.warnings = append(f.warnings, "symbolic link text is not valid UTF-8 or holds control characters; recorded escaped")
		}
		if l.resolved != "" {
			c["symlink_resolved"] = l.resolved
		}
		if l.followed {
			c["followed"] = true
		}
		switch {
		case l.outside:
			c["symlink_outside"] = true
			if !l.followed {
				f.warnings = append(f.warnings, "symbolic link points outside the tree; not followed")
			}
		case l.loop:
			c["symlink_loop"] = true
			f.warnings = append(f.warnings, "symbolic link loop")
		case l.dangling:
			c["symlink_dangling"] = true
		}
		if l.cycle {
			c["symlink_cycle"] = true
			f.warnings = append(f.warnings, "symbolic link leads back to a directory being walked; not followed")
		}
	}
	if _, esc := escapePath(j.rel); esc && oddName(j.rel) {
		f.warnings = append(f.warnings, "file name is not valid UTF-8 or holds control characters; recorded escaped")
	}
	// The record's time is when it was audited (so that --since means
	// "audited since"); the modification time is in the context.
	ts := r.started
	if y := f.mtime.UTC().Year(); y < 1 || y > 9999 || f.mtime.Unix() == 0 && f.mtime.Nanosecond() == 0 {
		f.warnings = append(f.warnings, "modification time is not a plausible date")
	}
	if g := r.lastCommit(ctx, j); g != nil {
		c["git"] = g
	}
	rec := r.newRecord(ActionHash, e.Path, ts, c)
	if len(f.warnings) > 0 {
		c["warnings"] = f.warnings
		rec.Severity = audit.SeverityWarning
		e.Warnings = f.warnings
	}
	rec.Normalize()
	e.Record = rec
}

// baseContext is the context every record of a path carries.
func (r *run) baseContext(j *job, fileType string, size int64, mode fs.FileMode, mtime time.Time, sys sysInfo) map[string]any {
	c := make(map[string]any, 24) // room for what finish adds
	c["file_type"] = fileType
	c["size"] = size
	c["mode"] = modeString(mode)
	c["permissions"] = mode.String()
	c["mtime"] = audit.FormatTime(mtime)
	c["scanned_at"] = r.scannedAt
	if _, esc := escapePath(j.rel); esc {
		c["path_escaped"] = true
	}
	if sys.ok {
		c["uid"] = int64(sys.uid)
		c["gid"] = int64(sys.gid)
		if n := r.userName(sys.uid); n != "" {
			c["owner"] = n
		}
		if n := r.groupName(sys.gid); n != "" {
			c["group"] = n
		}
		c["ctime"] = audit.FormatTime(sys.ctime)
		c["inode"] = strconv.FormatUint(sys.ino, 10)
		c["device"] = strconv.FormatUint(sys.dev, 10)
	}
	return c
}

func (r *run) newRecord(action, target string, ts time.Time, c map[string]any) *audit.Record {
	rec := audit.New(r.src.cfg.Actor, action, target, audit.TargetFile)
	rec.Timestamp = ts.UTC()
	rec.Source = SourceName
	rec.Context = c
	rec.Metadata = map[string]any{incremental.IDKey: incremental.ID(target)}
	return rec
}

// skip records a path that could not be hashed.
func (r *run) skip(j *job, reason string, err error, fi fs.FileInfo) {
	e := &j.entry
	e.Path, _ = escapePath(j.rel)
	e.Change = ChangeSkipped
	msg := errText(err)
	e.Warnings = []string{reason + ": " + msg}
	c := map[string]any{"reason": reason, "error": msg, "scanned_at": r.scannedAt}
	if fi != nil {
		e.Type, e.Size = typeName(fi.Mode()), fi.Size()
		c = r.baseContext(j, e.Type, fi.Size(), fi.Mode(), fi.ModTime(), sysStat(fi))
		c["reason"], c["error"] = reason, msg
	} else if _, esc := escapePath(j.rel); esc {
		c["path_escaped"] = true
	}
	if prev := r.idx.lookup(e.Path); prev != nil && prev.skipped && prev.reason == reason && !r.src.cfg.Force {
		same := fi == nil && prev.fileType == "" ||
			fi != nil && prev.fileType == e.Type && prev.size == fi.Size() && prev.mtime == fi.ModTime().UnixNano() && prev.mode == modeString(fi.Mode())
		if same {
			return // recorded before, nothing new
		}
	}
	rec := r.newRecord(ActionSkipped, e.Path, r.started, c)
	rec.Severity = audit.SeverityWarning
	rec.Normalize()
	e.Record = rec
}

// skipDir records a directory that could not be listed.
func (r *run) skipDir(j *job) {
	fi, _ := os.Lstat(j.abs)
	r.skip(j, ReasonDirUnreadable, j.err, fi)
}

// errText is an error without the path (the record names it), in valid
// UTF-8.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	s, _ := escapePath(err.Error())
	return s
}

func (r *run) userName(uid uint32) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n = escapedText(u.Username)
	}
	if r.users == nil {
		r.users = map[uint32]string{}
	}
	r.users[uid] = n
	return n
}

func (r *run) groupName(gid uint32) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.groups[gid]; ok {
		return n
	}
	n := ""
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		n = escapedText(g.Name)
	}
	if r.groups == nil {
		r.groups = map[uint32]string{}
	}
	r.groups[gid] = n
	return n
}

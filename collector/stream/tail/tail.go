// Package tail is the stream of `watch --logs`: it follows the log files
// of a directory as lines are written, and turns each line into a
// "log_entry" record with the log source's parser (source/log), as
// `logs --each` does for a whole file.
//
// # Positions
//
// Where the reading of each file stands (its device and inode, the byte
// offset after the last line read, that line's number, a fingerprint of
// its first bytes, its format) is kept in a state file, saved atomically
// at most every Config.SaveEvery and when the stream stops, and only ever
// for lines whose records are durable in the trail (the stream collector
// calls back after each append). A restart resumes every file where its
// records end: nothing is read twice or missed, whatever was rotated
// meanwhile. A process killed outright may not have saved the positions
// of its last appends (up to Config.SaveEvery); with Config.Recorded its
// successor takes them from the trail instead: each record holds its
// file's device and inode (file_id) and the offset after its line, and
// the file's newest record moves its position forward.
//
// # Rotation
//
// Files are known by device and inode, not by name. Renaming a file
// (logrotate's default: app.log becomes app.log.1 and a new app.log is
// created) moves the position with it: what the writer still writes to
// the old file is read there, under the name it was written under, and the
// new app.log is read from its start. copytruncate (app.log is copied to
// app.log.1, then emptied in place) is known by the file shrinking below
// the position: the lines written between the last read and the copy are
// read from the copy, found by the fingerprint of its first bytes, and the
// emptied file is read again from its start. A file whose first bytes are
// those of a followed file is a copy of it and is not read again.
// Compressed rotations (.gz, .bz2, .xz, .zst) are not followed.
//
// # Partial lines
//
// Only complete lines (ending in a newline) are read; a line still being
// written is read when its newline arrives. The last line of a copy is
// read whole when the copy is read.
//
// Files under the directory are found through fsnotify, and by a scan
// every Config.Poll whatever fsnotify says (it misses some writes, on
// network file systems for instance).
package tail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
)

// Defaults of Config.
const (
	DefaultPoll      = 250 * time.Millisecond
	DefaultSaveEvery = 100 * time.Millisecond
	// readChunk is how much of a file one read takes.
	readChunk = 1 << 20
)

// Config configures a Tailer.
type Config struct {
	// Root is the directory followed (recursively), or one file.
	Root string
	// Parser parses the lines (its level, zone and actor apply).
	Parser *logsource.Source
	// StateFile keeps the positions between runs.
	StateFile string
	// LogID is the trail's log id, written in the state file and checked
	// when it is read: positions belong to one trail.
	LogID string
	// FromStart reads the files already there when the state file does
	// not exist yet from their start; by default they are read from their
	// end (only what is written from now on is recorded). Files that
	// appear later are always read from their start.
	FromStart bool
	// Name is how records name a file, given its path under Root
	// (default: Root joined with it).
	Name func(rel string) string
	// Poll is the interval of the scan made whatever fsnotify says
	// (DefaultPoll).
	Poll time.Duration
	// SaveEvery is the least interval between two saves of the state
	// (DefaultSaveEvery).
	SaveEvery time.Duration
	// Now gives the timestamp of lines without one (time.Now).
	Now func() time.Time
	// OnLines, when set, is told how many lines were read.
	OnLines func(n int64)
	// Recorded, when set, is the trail the records go to: at the start,
	// each file's newest record there moves its position forward when the
	// state file lags behind it (the process was killed between an
	// append and the save of the positions), so that no line is recorded
	// twice.
	Recorded Querier
	// Exclude is what is never read (see package exclude): the trail's
	// directory, git internals, private key files.
	Exclude *exclude.Rules
	// Logger receives warnings (default: discarded).
	Logger *slog.Logger
}

// Name is the records' source field.
const Name = logsource.Name

// missLimit is how many scans in a row must miss a file that still exists
// before it is forgotten.
const missLimit = 20

// Querier is the part of a store the tailer reads.
type Querier interface {
	Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error]
}

// Tailer follows the log files of a directory. It is a stream.Stream and a
// stream.Closer.
type Tailer struct {
	cfg    Config
	root   string // absolute
	single bool   // Root is a file

	files   map[*tracked]bool // owned by the Follow goroutine
	buf     []byte            // the read buffer, owned by the Follow goroutine
	copyErr error             // what reading a copy met (readCopy)

	mu        sync.Mutex // guards committed, dirty
	committed map[*tracked]fileState
	dropped   map[*tracked]bool
	dirty     bool
	saved     time.Time
}

// tracked is one followed file.
type tracked struct {
	st     fileState // read position (ahead of committed)
	f      *os.File  // nil for a copy
	lines  *logsource.Lines
	size   int64  // size when last looked at
	seen   bool   // found by the current scan
	missed int    // scans in a row that did not find it
	head   []byte // the first bytes read (up to fpMax), read from offset 0
	copyOf *tracked
}

// New returns a tailer; it reads nothing until Follow.
func New(cfg Config) (*Tailer, error) {
	if cfg.Parser == nil {
		return nil, errors.New("tail: no parser")
	}
	if cfg.StateFile == "" {
		return nil, errors.New("tail: no state file")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("tail: %w", err)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.SaveEvery <= 0 {
		cfg.SaveEvery = DefaultSaveEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == nil {
		base := cfg.Root
		cfg.Name = func(rel string) string {
			if rel == "." {
				return filepath.ToSlash(base)
			}
			return filepath.ToSlash(filepath.Join(base, rel))
		}
	}
	return &Tailer{cfg: cfg, root: root, single: !fi.IsDir(), files: map[*tracked]bool{},
		committed: map[*tracked]fileState{}, dropped: map[*tracked]bool{}}, nil
}

// Name returns the log source's name.
func (t *Tailer) Name() string { return Name }

// Follow reads the files until ctx ends, emitting one group of records
// per read of a file.
func (t *Tailer) Follow(ctx context.Context, emit stream.Emit) error {
	states, first, err := loadState(t.cfg.StateFile, t.cfg.LogID, t.root)
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	defer w.Close()
	wake := make(chan struct{}, 1)
	watchDir := func(dir string) {
		if err := w.Add(dir); err != nil {
			t.cfg.Logger.Warn("cannot watch directory; it is scanned every poll", "dir", dir, "err", err)
		}
	}
	if t.single {
		watchDir(filepath.Dir(t.root))
	} else {
		filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if p != t.root && t.cfg.Exclude.Dir(p) != "" {
					return fs.SkipDir
				}
				watchDir(p)
			}
			return nil
		})
	}
	go func() {
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) && !t.single {
					if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() && t.cfg.Exclude.Dir(ev.Name) == "" {
						watchDir(ev.Name)
					}
				}
				select {
				case wake <- struct{}{}:
				default:
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				t.cfg.Logger.Warn("file notifications", "err", err)
			}
		}
	}()

	if err := t.restore(ctx, emit, states, first); err != nil {
		return err
	}
	tick := time.NewTicker(t.cfg.Poll)
	defer tick.Stop()
	for {
		if err := t.cycle(ctx, emit); err != nil {
			return err
		}
		t.maybeSave(false)
		select {
		case <-ctx.Done():
			// What was written before the stop is read and appended.
			return t.cycle(context.WithoutCancel(ctx), emit)
		case <-wake:
		case <-tick.C:
		}
	}
}

// Close saves the positions; the collector calls it after the last
// append.
func (t *Tailer) Close() error {
	for tr := range t.files {
		if tr.f != nil {
			tr.f.Close()
		}
	}
	return t.maybeSave(true)
}

func (t *Tailer) maybeSave(force bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty || (!force && time.Since(t.saved) < t.cfg.SaveEvery) {
		return nil
	}
	var files []*fileState
	for tr, st := range t.committed {
		if t.dropped[tr] {
			continue
		}
		st := st
		files = append(files, &st)
	}
	sortStates(files)
	if err := saveState(t.cfg.StateFile, t.cfg.LogID, t.root, files); err != nil {
		t.cfg.Logger.Warn("cannot save the positions", "file", t.cfg.StateFile, "err", err)
		return fmt.Errorf("save positions: %w", err)
	}
	t.dirty, t.saved = false, time.Now()
	return nil
}

// commit records tr's position once its records are durable.
func (t *Tailer) commit(tr *tracked, st fileState) func() {
	return func() {
		t.mu.Lock()
		t.committed[tr] = st
		t.dirty = true
		t.mu.Unlock()
	}
}

// entry is one file found by a scan.
type found struct {
	rel      string
	path     string
	dev, ino uint64
	size     int64
}

// scan lists the files followed.
func (t *Tailer) scan() []found {
	var out []found
	add := func(path string) {
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || compressed(path) || t.cfg.Exclude.Path(path) != "" {
			return
		}
		rel, _ := filepath.Rel(t.root, path)
		if t.single {
			rel = "."
		}
		dev, ino := identity(fi)
		out = append(out, found{rel: rel, path: path, dev: dev, ino: ino, size: fi.Size()})
	}
	if t.single {
		add(t.root)
		// a rotated copy of the file sits beside it
		dir, base := filepath.Dir(t.root), filepath.Base(t.root)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != base && strings.HasPrefix(e.Name(), base) {
				p := filepath.Join(dir, e.Name())
				fi, err := os.Stat(p)
				if err != nil || !fi.Mode().IsRegular() || compressed(p) {
					continue
				}
				dev, ino := identity(fi)
				out = append(out, found{rel: "." + strings.TrimPrefix(e.Name(), base), path: p, dev: dev, ino: ino, size: fi.Size()})
			}
		}
		return out
	}
	filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != t.root && t.cfg.Exclude.Dir(p) != "" {
				return fs.SkipDir
			}
			return nil
		}
		add(p)
		return nil
	})
	return out
}

func compressed(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4":
		return true
	}
	return false
}

// restore matches the saved positions with the files found at start.
func (t *Tailer) restore(ctx context.Context, emit stream.Emit, states []*fileState, first bool) error {
	list := t.scan()
	claimed := map[int]bool{}
	byIno := map[[2]uint64]int{}
	for i, f := range list {
		byIno[[2]uint64{f.dev, f.ino}] = i
	}
	var lost []*fileState // positions whose file was truncated or replaced
	var moved []*fileState
	type restarted struct {
		f  found
		st *fileState
	}
	var restart []restarted
	for _, st := range states {
		i, ok := byIno[[2]uint64{st.Dev, st.Ino}]
		if !ok || claimed[i] {
			moved = append(moved, st)
			continue
		}
		f := list[i]
		tr, err := t.open(f, *st)
		if err != nil {
			continue
		}
		if !tr.st.Copy && (f.size < st.Offset || !t.sameStart(tr.f, st)) {
			// truncated while we were away: the same file, from its
			// start, once the lines it lost are read from its copy
			tr.f.Close()
			lost = append(lost, st)
			claimed[i] = true
			restart = append(restart, restarted{f, st})
			continue
		}
		claimed[i] = true
		if err := t.reconcile(ctx, tr, f.size); err != nil {
			tr.f.Close()
			return err
		}
		t.adopt(tr, f)
	}
	// a position whose inode is gone may be in a file that moved to
	// another inode (copied elsewhere, restored)
	for _, st := range moved {
		if st.Copy || st.FPLen < fpMin {
			continue
		}
		for i, f := range list {
			if claimed[i] || f.size < st.Offset {
				continue
			}
			if fp := fpOfPath(f.path, st.FPLen); fp == st.FP {
				tr, err := t.open(f, *st)
				if err != nil {
					continue
				}
				tr.st.Dev, tr.st.Ino = f.dev, f.ino
				claimed[i] = true
				t.adopt(tr, f)
				break
			}
		}
	}
	for _, st := range lost {
		if err := t.readLostTail(ctx, emit, st, list, claimed); err != nil {
			return err
		}
	}
	for _, r := range restart {
		tr, err := t.open(r.f, fileState{Name: r.st.Name, Dev: r.f.dev, Ino: r.f.ino})
		if err != nil {
			continue
		}
		t.adopt(tr, r.f)
	}
	for i, f := range list {
		if claimed[i] {
			continue
		}
		if err := t.addNew(f, first && !t.cfg.FromStart); err != nil {
			t.cfg.Logger.Warn("cannot follow", "file", f.path, "err", err)
		}
	}
	return nil
}

// reconcile moves tr's position forward to the line of its newest record
// in the trail, when the saved position is behind it.
func (t *Tailer) reconcile(ctx context.Context, tr *tracked, size int64) error {
	if t.cfg.Recorded == nil || tr.st.Copy || tr.f == nil {
		return nil
	}
	id := fmt.Sprintf("%d:%d", tr.st.Dev, tr.st.Ino)
	for r, err := range t.cfg.Recorded.Query(ctx, audit.Filter{Action: logsource.ActionEntry, Target: tr.st.Name, Newest: true, Limit: 1}) {
		if err != nil {
			return fmt.Errorf("tail: the newest record of %s: %w", tr.st.Name, err)
		}
		if r.Context["file_id"] != id {
			return nil // another file of that name
		}
		off, ok1 := integer(r.Context["offset"])
		line, ok2 := integer(r.Context["line"])
		if ok1 && ok2 && off > tr.st.Offset && off <= size && line > tr.st.Line {
			t.cfg.Logger.Info("positions behind the trail: resuming after the last recorded line", "file", tr.st.Name, "line", line)
			tr.st.Offset, tr.st.Line = off, line
			t.updateFP(tr)
		}
	}
	return nil
}

// integer reads a number of a record's context, as stores give it back.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// adopt starts following tr, found as f.
func (t *Tailer) adopt(tr *tracked, f found) {
	tr.st.Path = f.rel
	tr.size = f.size
	tr.seen = true
	t.files[tr] = true
	t.mu.Lock()
	t.committed[tr] = tr.st
	t.dirty = true
	t.mu.Unlock()
}

// open opens f for reading at st.
func (t *Tailer) open(f found, st fileState) (*tracked, error) {
	tr := &tracked{st: st}
	if st.Copy {
		return tr, nil
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if dev, ino := identity(fi); dev != f.dev || ino != f.ino {
		fh.Close()
		return nil, errors.New("replaced while opened")
	}
	tr.f = fh
	if st.Format != "" {
		tr.lines = t.cfg.Parser.Lines(st.Name, logsource.Format(st.Format))
	}
	return tr, nil
}

// sameStart reports whether the file still starts with the bytes st's
// fingerprint covers.
func (t *Tailer) sameStart(r io.ReaderAt, st *fileState) bool {
	if st.FPLen == 0 {
		return true
	}
	fp, ok := fingerprint(r, st.FPLen)
	return ok && fp == st.FP
}

func fpOfPath(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fp, ok := fingerprint(f, n)
	if !ok {
		return "-"
	}
	return fp
}

// addNew starts following a file not seen before: from its end when
// atEnd, else from its start — unless it is a copy of a followed file.
func (t *Tailer) addNew(f found, atEnd bool) error {
	orig, undecided := t.copyOf(f)
	if undecided {
		return nil // looked at again by the next scan
	}
	if orig != nil {
		tr := &tracked{st: fileState{Name: orig.st.Name, Path: f.rel, Dev: f.dev, Ino: f.ino, Offset: f.size, Copy: true,
			FP: orig.st.FP, FPLen: orig.st.FPLen}, copyOf: orig}
		t.adopt(tr, f)
		return nil
	}
	if why := t.cfg.Exclude.File(f.path); why != "" {
		// known, never read
		t.cfg.Logger.Warn("not followed", "file", f.path, "reason", why)
		t.adopt(&tracked{st: fileState{Name: t.cfg.Name(f.rel), Dev: f.dev, Ino: f.ino, Offset: f.size, Copy: true, Excluded: why}}, f)
		return nil
	}
	tr, err := t.open(f, fileState{Name: t.cfg.Name(f.rel), Dev: f.dev, Ino: f.ino})
	if err != nil {
		return err
	}
	if atEnd && f.size > 0 {
		// count the lines already there, for the line numbers
		n, off, err := countLines(tr.f, f.size)
		if err != nil {
			tr.f.Close()
			return err
		}
		tr.st.Offset, tr.st.Line = off, n
		if err := t.detect(tr); err != nil {
			tr.f.Close()
			return err
		}
		t.updateFP(tr)
	}
	t.adopt(tr, f)
	return nil
}

// copyOf returns the followed file f is a copy of, if any. It is
// undecided while f is empty, or holds nothing but the first bytes of a
// followed file: a copy being written, or a new file that says too little
// yet.
func (t *Tailer) copyOf(f found) (orig *tracked, undecided bool) {
	if f.size == 0 {
		return nil, true
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, false
	}
	head := make([]byte, min(f.size, fpMax))
	k, _ := io.ReadFull(fh, head)
	fh.Close()
	head = head[:k]
	other := make([]byte, len(head))
	for tr := range t.files {
		if tr.st.Copy || (tr.st.Dev == f.dev && tr.st.Ino == f.ino) {
			continue
		}
		if tr.st.FPLen >= fpMin && int64(len(head)) >= tr.st.FPLen {
			sum := sha256.Sum256(head[:tr.st.FPLen])
			if hex.EncodeToString(sum[:]) == tr.st.FP {
				return tr, false
			}
		}
		if len(head) < fpMax && tr.f != nil {
			if n, _ := tr.f.ReadAt(other, 0); n == len(head) && bytes.Equal(head, other) {
				undecided = true
			}
		}
	}
	return nil, undecided
}

// countLines counts the complete lines of the first size bytes, returning
// the offset after the last.
func countLines(r io.ReaderAt, size int64) (n, end int64, err error) {
	buf := make([]byte, 256<<10)
	for off := int64(0); off < size; {
		k, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && err != io.EOF {
			return 0, 0, err
		}
		if k == 0 {
			break
		}
		b := buf[:k]
		n += int64(bytes.Count(b, []byte{'\n'}))
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			end = off + int64(i) + 1
		}
		off += int64(k)
	}
	return n, end, nil
}

// detect chooses tr's format from its first bytes, once it has some.
func (t *Tailer) detect(tr *tracked) error {
	if tr.lines != nil {
		return nil
	}
	buf := make([]byte, 64<<10)
	k, err := tr.f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return err
	}
	buf = buf[:k]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1]
	} else {
		return nil // not one complete line yet
	}
	format, _ := logsource.Detect(buf, false, nil)
	tr.st.Format = string(format)
	tr.lines = t.cfg.Parser.Lines(tr.st.Name, format)
	return nil
}

// updateFP extends tr's fingerprint as the file grows.
func (t *Tailer) updateFP(tr *tracked) {
	n := min(tr.st.Offset, fpMax)
	if n <= tr.st.FPLen {
		return
	}
	if int64(len(tr.head)) >= n {
		sum := sha256.Sum256(tr.head[:n])
		tr.st.FP, tr.st.FPLen = hex.EncodeToString(sum[:]), n
		return
	}
	if fp, ok := fingerprint(tr.f, n); ok {
		tr.st.FP, tr.st.FPLen = fp, n
	}
}

// cycle scans the directory, handles rotations and reads what is new.
func (t *Tailer) cycle(ctx context.Context, emit stream.Emit) error {
	list := t.scan()
	byIno := map[[2]uint64]*tracked{}
	for tr := range t.files {
		tr.seen = false
		byIno[[2]uint64{tr.st.Dev, tr.st.Ino}] = tr
	}
	var fresh []found
	for _, f := range list {
		tr := byIno[[2]uint64{f.dev, f.ino}]
		if tr == nil {
			fresh = append(fresh, f)
			continue
		}
		tr.seen = true
		tr.st.Path = f.rel
		if tr.st.Copy {
			continue
		}
		if f.size < tr.st.Offset || (f.size != tr.size && !t.sameStart(tr.f, &tr.st)) {
			// copytruncate: the lines after the position are in the copy
			st := tr.st
			if err := t.readLostTail(ctx, emit, &st, list, nil); err != nil {
				return err
			}
			tr.st.Offset, tr.st.Line, tr.st.FP, tr.st.FPLen, tr.head = 0, 0, "", 0, nil
			t.cfg.Logger.Info("file truncated: reading it again from its start", "file", tr.st.Name)
		}
		tr.size = f.size
	}
	// Files not found: read to their end through the open file. A scan
	// can miss a file being renamed (listed under its old name, gone by
	// the time it is looked at), so one is forgotten only when it is
	// deleted, or has not been found for missLimit scans (moved away).
	for tr := range t.files {
		if tr.seen {
			tr.missed = 0
			continue
		}
		tr.missed++
		if tr.f != nil {
			if err := t.read(ctx, emit, tr); err != nil {
				return err
			}
			if fi, err := tr.f.Stat(); err == nil && links(fi) > 0 && tr.missed < missLimit {
				continue
			}
			tr.f.Close()
		} else if tr.missed < missLimit {
			continue
		}
		delete(t.files, tr)
		t.mu.Lock()
		t.dropped[tr] = true
		delete(t.committed, tr)
		t.dirty = true
		t.mu.Unlock()
	}
	for _, f := range fresh {
		if t.trackedAt(f) != nil {
			continue // the copy a truncated file's tail was read from
		}
		if err := t.addNew(f, false); err != nil {
			t.cfg.Logger.Warn("cannot follow", "file", f.path, "err", err)
		}
	}
	for tr := range t.files {
		if tr.st.Copy {
			continue
		}
		if err := t.read(ctx, emit, tr); err != nil {
			return err
		}
	}
	return nil
}

// readLostTail reads, from a copy of the file st was the position of, the
// lines after the position: what copytruncate moved away before it was
// read. The copy is then known as one.
func (t *Tailer) readLostTail(ctx context.Context, emit stream.Emit, st *fileState, list []found, claimed map[int]bool) error {
	if st.FPLen < fpMin && st.Offset > 0 {
		t.cfg.Logger.Warn("file truncated, and too short to find its copy: lines written before the truncation may be missing", "file", st.Name)
		return nil
	}
	for pass := 0; pass < 2; pass++ {
		if pass == 1 {
			if claimed != nil {
				break // at the start: the listing is the one the positions were matched with
			}
			// The listing may predate the copy (made, and the file
			// truncated, between the directory read and the look at the
			// file): list again.
			list = t.scan()
		}
		if t.readCopy(ctx, emit, st, list, claimed) {
			return t.copyErr
		}
	}
	if st.Offset > 0 {
		t.cfg.Logger.Warn("file truncated and no copy found: lines written after the last read and before the truncation may be missing", "file", st.Name)
	}
	return nil
}

// readCopy looks for the copy of st in list and reads the lines after the
// position from it; it reports whether it found one (t.copyErr says
// whether reading it failed).
func (t *Tailer) readCopy(ctx context.Context, emit stream.Emit, st *fileState, list []found, claimed map[int]bool) bool {
	t.copyErr = nil
	for i, f := range list {
		if (claimed != nil && claimed[i]) || (f.dev == st.Dev && f.ino == st.Ino) || f.size < st.FPLen {
			continue
		}
		if byIno := t.trackedAt(f); byIno != nil && !byIno.st.Copy {
			continue // a file followed in its own right
		}
		if fpOfPath(f.path, st.FPLen) != st.FP {
			continue
		}
		tr, err := t.open(found{rel: f.rel, path: f.path, dev: f.dev, ino: f.ino, size: f.size}, fileState{Name: st.Name, Path: f.rel,
			Dev: f.dev, Ino: f.ino, Offset: st.Offset, Line: st.Line, Format: st.Format, FP: st.FP, FPLen: st.FPLen})
		if err != nil {
			continue
		}
		// The copy may end before the position (the file grew between
		// the copy and the truncation, and those lines were read from
		// it): then nothing is read from the copy.
		if err := t.readWhole(ctx, emit, tr); err != nil {
			tr.f.Close()
			t.copyErr = err
			return true
		}
		tr.f.Close()
		tr.f = nil
		tr.st.Copy = true
		if old := t.trackedAt(f); old != nil {
			delete(t.files, old)
			t.mu.Lock()
			t.dropped[old] = true
			delete(t.committed, old)
			t.mu.Unlock()
		}
		if claimed != nil {
			claimed[i] = true
		}
		t.adopt(tr, f)
		return true
	}
	return false
}

func (t *Tailer) trackedAt(f found) *tracked {
	for tr := range t.files {
		if tr.st.Dev == f.dev && tr.st.Ino == f.ino {
			return tr
		}
	}
	return nil
}

// read reads tr's complete lines after its position.
func (t *Tailer) read(ctx context.Context, emit stream.Emit, tr *tracked) error {
	return t.readFrom(ctx, emit, tr, false)
}

// readWhole reads to the end of tr, its last line even without a newline.
func (t *Tailer) readWhole(ctx context.Context, emit stream.Emit, tr *tracked) error {
	return t.readFrom(ctx, emit, tr, true)
}

func (t *Tailer) readFrom(ctx context.Context, emit stream.Emit, tr *tracked, whole bool) error {
	if err := t.detect(tr); err != nil {
		return err
	}
	if tr.lines == nil && whole {
		// a copy whose only line has no newline
		buf := make([]byte, 64<<10)
		k, _ := tr.f.ReadAt(buf, 0)
		format, _ := logsource.Detect(buf[:k], true, nil)
		tr.st.Format = string(format)
		tr.lines = t.cfg.Parser.Lines(tr.st.Name, format)
	}
	if tr.lines == nil {
		return nil // no complete line yet
	}
	if tr.lines.Format() == logsource.FormatBinary {
		return nil
	}
	if t.buf == nil {
		t.buf = make([]byte, readChunk)
	}
	buf := t.buf
	for {
		k, err := tr.f.ReadAt(buf, tr.st.Offset)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", tr.st.Name, err)
		}
		if k == 0 {
			return nil
		}
		b := buf[:k]
		end := bytes.LastIndexByte(b, '\n') + 1
		switch {
		case end > 0:
			b = b[:end]
		case k == len(buf) || whole && err == io.EOF:
			end = k // a line longer than a read, or a copy's last line
		default:
			return nil
		}
		// the first bytes, for the fingerprint, from what was read rather
		// than read again: the file may be truncated meanwhile
		if start := tr.st.Offset; start < fpMax && int64(len(tr.head)) == start {
			tr.head = append(tr.head, b[:min(int64(len(b)), fpMax-start)]...)
		}
		var recs []*audit.Record
		now := t.cfg.Now()
		fileID := fmt.Sprintf("%d:%d", tr.st.Dev, tr.st.Ino)
		off := tr.st.Offset
		lines := int64(0)
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			line := b
			if i >= 0 {
				line, b = b[:i], b[i+1:]
				off += int64(i) + 1
			} else {
				off += int64(len(b))
				b = nil
			}
			tr.st.Line++
			lines++
			if r := tr.lines.Entry(line, tr.st.Line, now); r != nil {
				r.Context["offset"] = off
				r.Context["file_id"] = fileID
				recs = append(recs, r)
			}
		}
		tr.st.Offset = off
		t.updateFP(tr)
		if t.cfg.OnLines != nil {
			t.cfg.OnLines(lines)
		}
		if err := emit(recs, t.commit(tr, tr.st)); err != nil {
			return err
		}
		if k < len(buf) {
			return nil
		}
	}
}

// sortStates orders states by path, for a stable file.
func sortStates(s []*fileState) {
	slices.SortFunc(s, func(a, b *fileState) int { return strings.Compare(a.Path, b.Path) })
}

// Package log is the log source (SPEC §6): it reads a directory of log
// files, or one file, and records what they say without recording every
// line.
//
// Each file's format is detected from its first lines (see Format): JSON
// lines, agent transcripts, logfmt, loguru text, "timestamp level message"
// text, AMI's sectioned text, or unstructured text; binary files are
// skipped with a warning. gzip and bzip2 files (rotated logs) are read
// through. Timestamps in any zone are normalised to UTC; timestamps without
// a zone are taken in Config.Location (UTC unless set).
//
// Entries at or above Config.Level, inside the time window, are grouped
// into templates by a Drain miner (internal/drain), and the errors among
// them are counted on one timeline merged across files, where bursts are
// found (see Config.BurstMin). The source emits
//
//   - one "log_file_summary" record per file: format and why it was
//     chosen, lines and entries per level, time range, problems met;
//   - one "log_pattern" record per template: count, levels, first and last
//     seen, example lines, files;
//   - one "log_error_burst" record per burst;
//   - with Config.Each, one "log_entry" record per entry that passes the
//     level and time filters.
//
// Memory stays flat whatever the size of the logs: lines are streamed and
// cut at Config.MaxLineBytes, the miner holds at most Config.MaxPatterns
// templates (a template pushed out is recorded at that moment, marked
// evicted), and the error timeline holds at most Config.MaxBuckets buckets
// (its resolution doubles when it would hold more).
package log

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/drain"
	"github.com/ami-orchestrator/ami-audit/internal/incremental"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
	"golang.org/x/sync/errgroup"
)

// Name is the records' source field.
const Name = "log_source"

// Actions of the records the source emits.
const (
	ActionFile    = "log_file_summary"
	ActionPattern = "log_pattern"
	ActionBurst   = "log_error_burst"
	ActionEntry   = "log_entry"
)

// Config configures the log source. The zero value is usable: Validate
// fills the defaults.
type Config struct {
	// Level is the least severity aggregated into patterns (default
	// warning). Files' per-level counts cover every level.
	Level audit.Severity
	// Since and Until bound entries' timestamps: Since inclusive, Until
	// exclusive. Entries without a timestamp are left out when either is
	// set (and counted as such).
	Since, Until time.Time
	// Service limits the files read to one service's (see ServiceMatcher).
	// Manifest is the services manifest; empty: found under Root.
	Service  string
	Manifest string
	// Root is the repository root, where the manifest is looked for.
	// Default: the working directory.
	Root string
	// Each emits a record for every entry that passes the filters.
	Each bool
	// Location is the zone of timestamps written without one (default UTC).
	Location *time.Location
	// BurstLevel is the least severity counted on the error timeline
	// (default error). Entries below Level are never counted.
	BurstLevel audit.Severity
	// A burst is a run of time in which some window of BurstWindow holds at
	// least BurstMin timeline entries (defaults 20 in 1 minute). Windows
	// are evaluated on the timeline's buckets (1 s unless coarsened).
	BurstWindow time.Duration
	BurstMin    int
	// MaxLineBytes cuts longer lines (default 1 MiB); a cut is a warning.
	MaxLineBytes int
	// MaxMessageBytes cuts messages kept as examples and in records
	// (default 1 KiB).
	MaxMessageBytes int
	// MaxPatterns caps the templates held (default 2000).
	MaxPatterns int
	// MaxBuckets caps the error timeline's buckets (default 131072).
	MaxBuckets int
	// Examples is the number of example lines kept per pattern (default 3).
	Examples int
	// Drain tunes the miner (Depth, SimThreshold, MaxChildren, MaxTokens);
	// its MaxClusters is MaxPatterns.
	Drain drain.Config
	// Jobs is the number of files read at once (default GOMAXPROCS).
	Jobs int
	// Actor is the records' actor (default: the service name, else the
	// base name of the target).
	Actor string
	// OnProgress, when set, is called with the number of lines read since
	// the last call, from the goroutine that called Collect.
	OnProgress func(lines int64)
	// Logger receives warnings as they happen (default: discarded).
	Logger *slog.Logger
	// Trail, when set, makes the source incremental: a record whose
	// content equals the newest record of its key in the trail (the same
	// file summary, pattern, burst or entry) is not emitted again (see
	// package internal/incremental). audit.Store satisfies it.
	Trail incremental.Querier
	// Exclude is what is never read (see package exclude): the trail's
	// directory, git internals and private key files. Nil applies the
	// rules by name and content.
	Exclude *exclude.Rules
}

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	if c.Level == "" {
		c.Level = audit.SeverityWarning
	}
	if !c.Level.Valid() {
		return fmt.Errorf("level %q: want one of debug, info, warning, error, critical", c.Level)
	}
	if c.BurstLevel == "" {
		c.BurstLevel = audit.SeverityError
	}
	if !c.BurstLevel.Valid() {
		return fmt.Errorf("burst level %q: want one of debug, info, warning, error, critical", c.BurstLevel)
	}
	if !c.Since.IsZero() && !c.Until.IsZero() && !c.Since.Before(c.Until) {
		return fmt.Errorf("since (%s) must be before until (%s)", c.Since.UTC().Format(time.RFC3339), c.Until.UTC().Format(time.RFC3339))
	}
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.BurstWindow <= 0 {
		c.BurstWindow = time.Minute
	}
	if c.BurstMin <= 0 {
		c.BurstMin = 20
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 1 << 20
	}
	if c.MaxLineBytes < 256 {
		c.MaxLineBytes = 256
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 10
	}
	if c.MaxPatterns <= 0 {
		c.MaxPatterns = 2000
	}
	if c.MaxBuckets <= 0 {
		c.MaxBuckets = 1 << 17
	}
	if c.MaxBuckets < 16 {
		c.MaxBuckets = 16
	}
	if c.Examples <= 0 {
		c.Examples = 3
	}
	if c.Jobs <= 0 {
		c.Jobs = runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Drain.MaxClusters = c.MaxPatterns
	return nil
}

// Source is the log source. It is safe to call Collect from several
// goroutines; each call has its own state.
type Source struct {
	cfg Config
}

// New returns a log source configured by cfg.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg}, nil
}

// Name returns "log_source".
func (s *Source) Name() string { return Name }

// Describe says what the source collects.
func (s *Source) Describe() string {
	return "log files (JSON lines, logfmt, loguru, plain text, transcripts; gzip too): per-file summaries, error patterns, error bursts"
}

// TargetTypes returns log.
func (s *Source) TargetTypes() []audit.TargetType { return []audit.TargetType{audit.TargetLog} }

// Collect reads the log file or directory target and emits its records.
func (s *Source) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	_, err := s.Run(ctx, target, emit)
	return err
}

// Errors Run returns.
var (
	// ErrNoLogs: the target holds no file to read.
	ErrNoLogs = errors.New("no log files")
	// ErrExcluded: the target is something no source reads (see package
	// exclude).
	ErrExcluded = errors.New("never read by ami-audit")
)

// entry is one log entry passed from a file reader to the aggregator.
type entry struct {
	ns      int64
	hasTime bool
	lv      level
	line    int64
	msg     string
	logger  string
	section string
}

// batch is a slice of one file's entries; the last batch of a file
// carries its summary.
type batch struct {
	entries []entry
	lines   int64
	file    *FileSummary
}

const batchSize = 512

type fileJob struct {
	path, display string
	out           chan batch
}

// Run is Collect that also returns what it found, for reports.
func (s *Source) Run(ctx context.Context, target string, emit func(*audit.Record) error) (*Summary, error) {
	cfg := s.cfg
	if target == "" {
		return nil, errors.New("log source: no target (a log file or directory)")
	}
	info, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("log source: %w", err)
	}
	if why := cfg.Exclude.Path(target); why != "" {
		return nil, fmt.Errorf("log source: %s is %s: %w", target, why, ErrExcluded)
	}
	var match func(rel string) bool
	if cfg.Service != "" {
		names, err := ServiceNames(cfg.Manifest, cfg.Root, cfg.Service)
		if err != nil {
			return nil, err
		}
		match = ServiceMatcher(names)
	}
	actor := cfg.Actor
	if actor == "" {
		actor = cmp.Or(cfg.Service, filepath.Base(filepath.Clean(target)))
	}
	norm := targetNamer(cfg.Root, target)
	idx, err := s.loadIndex(ctx)
	if err != nil {
		return nil, fmt.Errorf("log source: reading the trail: %w", err)
	}
	var unchanged int64
	// A pattern's id is the order the miner met it in (a new pattern in
	// one file renumbers those of the files after it): what a record
	// says is the rest, the pattern_hash of its template included.
	emit = idx.Filter(recordKey, emit, &unchanged, "pattern_id")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan *fileJob, cfg.Jobs)
	var walkMu sync.Mutex
	var walkWarnings []string
	var excluded atomic.Int64
	// dispatcher: walk in lexical order, start a reader per file (at most
	// Jobs at once) and queue the files in walk order for the aggregator.
	g.Go(func() error {
		defer close(jobs)
		readers, rctx := errgroup.WithContext(gctx)
		readers.SetLimit(cfg.Jobs)
		start := func(path, display string) error {
			job := &fileJob{path: path, display: display, out: make(chan batch, 8)}
			readers.Go(func() error {
				defer close(job.out)
				return s.readFile(rctx, job, &cfg)
			})
			select {
			case jobs <- job:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		var err error
		if !info.IsDir() {
			err = start(target, norm(target))
		} else {
			err = filepath.WalkDir(target, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					walkMu.Lock()
					walkWarnings = append(walkWarnings, fmt.Sprintf("%s: %v (skipped)", displayPath(path), err))
					walkMu.Unlock()
					if d != nil && d.IsDir() && path != target {
						return fs.SkipDir
					}
					return nil
				}
				if d.IsDir() {
					if path != target && cfg.Exclude.Dir(path) != "" {
						excluded.Add(1)
						return fs.SkipDir
					}
					return nil
				}
				if cfg.Exclude.Path(path) != "" {
					excluded.Add(1)
					return nil
				}
				rel, _ := filepath.Rel(target, path)
				if match != nil && !match(rel) {
					return nil
				}
				if !d.Type().IsRegular() {
					fi, err := os.Stat(path) // a symlink to a file is read
					if err != nil || !fi.Mode().IsRegular() {
						walkMu.Lock()
						walkWarnings = append(walkWarnings, fmt.Sprintf("%s: not a regular file (skipped)", displayPath(path)))
						walkMu.Unlock()
						return nil
					}
				}
				return start(path, norm(path))
			})
		}
		if werr := readers.Wait(); err == nil {
			err = werr
		}
		return err
	})

	agg := newAggregator(&cfg, norm(target), actor, emit)
	sum := &Summary{Target: norm(target), Service: cfg.Service, Formats: map[Format]int{}}
	var aggErr error
	for job := range jobs {
		for b := range job.out {
			if aggErr != nil {
				continue // drain so the reader can finish
			}
			if cfg.OnProgress != nil && b.lines > 0 {
				cfg.OnProgress(b.lines)
			}
			for i := range b.entries {
				if aggErr = agg.add(job.display, &b.entries[i]); aggErr != nil {
					cancel()
					break
				}
			}
			if b.file != nil && aggErr == nil {
				sum.addFile(b.file)
				if aggErr = agg.emitFile(b.file); aggErr != nil {
					cancel()
				}
			}
		}
	}
	gerr := g.Wait()
	if aggErr != nil {
		return nil, aggErr
	}
	if gerr != nil {
		return nil, gerr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sum.Warnings = append(walkWarnings, sum.Warnings...)
	sum.WarningCount += int64(len(walkWarnings))
	sum.Excluded = excluded.Load()
	defer func() { sum.Unchanged = unchanged }()
	if len(sum.Files) == 0 {
		if cfg.Service != "" {
			return sum, fmt.Errorf("%w for service %s under %s", ErrNoLogs, cfg.Service, target)
		}
		return sum, fmt.Errorf("%w under %s", ErrNoLogs, target)
	}
	if err := agg.finish(sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// loadIndex reads the digests of the source's earlier records.
func (s *Source) loadIndex(ctx context.Context) (*incremental.Index, error) {
	if s.cfg.Trail == nil {
		return nil, nil
	}
	fs := []audit.Filter{
		{TargetType: audit.TargetLog, Action: ActionFile},
		{TargetType: audit.TargetLog, Action: ActionPattern},
		{TargetType: audit.TargetLog, Action: ActionBurst},
	}
	if s.cfg.Each {
		fs = append(fs, audit.Filter{TargetType: audit.TargetLog, Action: ActionEntry})
	}
	return incremental.Load(ctx, s.cfg.Trail, Name, recordKey, fs...)
}

// recordKey is what a record is about: a file's summary, one pattern, one
// burst or one entry of a log target, as seen with one set of filters
// (level, time window, service, log root), so that runs with other
// filters in between do not make an unchanged log look changed.
func recordKey(r *audit.Record) string {
	k := r.Action + "\x00" + r.Target
	for _, f := range []string{"log_root", "level_filter", "since", "until", "service"} {
		k += "\x00" + fmt.Sprint(r.Context[f])
	}
	switch r.Action {
	case ActionPattern:
		k += "\x00" + fmt.Sprint(r.Context["pattern_hash"])
	case ActionBurst:
		k += "\x00" + fmt.Sprint(r.Context["start"])
	case ActionEntry:
		k += "\x00" + fmt.Sprint(r.Context["line"])
	}
	return k
}

// targetNamer returns how records name a path: relative to the
// repository (root, else the git top level above target, else the working
// directory when target is inside it), slash-separated and cleaned, so
// that "logs", "logs/", "./logs" and the absolute path are one target;
// the absolute path when it is outside. Names that are not valid UTF-8
// are Go-quoted.
func targetNamer(root, target string) func(string) string {
	if root == "" {
		if abs, err := filepath.Abs(target); err == nil {
			root = repoTop(abs)
		}
	}
	if root == "" {
		root, _ = os.Getwd()
	}
	if r, err := filepath.Abs(root); err == nil {
		root = r
		if real, err := filepath.EvalSymlinks(r); err == nil {
			root = real
		}
	}
	return func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			return displayPath(p)
		}
		if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(dir, filepath.Base(abs))
		}
		if rel, err := filepath.Rel(root, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return displayPath(filepath.ToSlash(rel))
		}
		return displayPath(abs)
	}
}

// repoTop returns the nearest directory at or above dir holding .git, or
// "".
func repoTop(dir string) string {
	for {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// readFile reads one file and sends its entries, then its summary.
func (s *Source) readFile(ctx context.Context, job *fileJob, cfg *Config) error {
	fsum := &FileSummary{Path: job.display, PathEscaped: !utf8.ValidString(job.path)}
	defer func() {
		// the summary always goes last, whatever happened
		select {
		case job.out <- batch{file: fsum}:
		case <-ctx.Done():
		}
	}()
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		cfg.Logger.Warn(msg, "file", job.display)
		if len(fsum.Warnings) < maxFileWarnings {
			fsum.Warnings = append(fsum.Warnings, msg)
		} else {
			fsum.moreWarnings++
		}
	}
	if fi, err := os.Stat(job.path); err == nil {
		fsum.Modified = fi.ModTime().UTC()
	}
	r, compression, closeFn, err := openLog(job.path)
	fsum.Compression = compression
	if err != nil {
		fsum.Skipped = true
		warn("cannot read: %v", err)
		return nil
	}
	defer closeFn()
	br := bufio.NewReaderSize(r, readBufSize)
	peek, perr := br.Peek(readBufSize)
	if perr != nil && perr != io.EOF && perr != bufio.ErrBufferFull {
		if len(peek) == 0 {
			fsum.Skipped = true
			warn("cannot read: %v", perr)
			return nil
		}
	}
	if why := cfg.Exclude.Content(peek); why != "" {
		fsum.Format, fsum.Reason, fsum.Skipped = FormatExcluded, why+": never read", true
		warn("%s: not read", why)
		return nil
	}
	if looksBinary(peek) {
		fsum.Format, fsum.Reason, fsum.Skipped = FormatBinary, "the first bytes are not text", true
		warn("binary data, not a log (skipped)")
		return nil
	}
	fsum.Format, fsum.Reason = detect(sampleLines(peek, perr != nil), cfg.Location)
	p := newParser(fsum.Format, cfg.Location)
	lr := &lineReader{br: br, max: cfg.MaxLineBytes}

	minLv := levelOf(cfg.Level)
	since, until := int64(0), int64(0)
	hasSince, hasUntil := !cfg.Since.IsZero(), !cfg.Until.IsZero()
	if hasSince {
		since = cfg.Since.UnixNano()
	}
	if hasUntil {
		until = cfg.Until.UnixNano()
	}
	window := hasSince || hasUntil
	var first, last int64
	var anyTime bool
	var out parsed
	b := batch{entries: make([]entry, 0, batchSize)}
	send := func() error {
		select {
		case job.out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		b = batch{entries: make([]entry, 0, batchSize)}
		return nil
	}
	var lineNo int64
	keyLines := 0 // inside a private key block: lines so far
	for {
		line, size, err := lr.next()
		if err != nil && len(line) == 0 {
			if err != io.EOF {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					warn("%s stream ends early after line %d (truncated file?)", cmp.Or(compression, "file"), lineNo)
				} else {
					warn("read error after line %d: %v", lineNo, err)
				}
				fsum.Incomplete = true
			}
			break
		}
		lineNo++
		b.lines++
		fsum.Lines++
		fsum.Bytes += size
		if size > int64(len(line)) {
			fsum.Truncated++
			if fsum.Truncated <= 3 {
				warn("line %d is %d bytes, cut to %d", lineNo, size, len(line))
			}
		}
		line = stripANSI(line)
		// The lines of a private key block written into a log are never
		// kept: they are not entries, and masking could not recognise a
		// key body line on its own. (The BEGIN line is an entry; its
		// record is masked.)
		if keyLines > 0 {
			fsum.KeyLines++
			if keyLines++; bytes.Contains(line, pemEnd) || keyLines > maxKeyLines {
				keyLines = 0
			}
			goto next
		}
		if i := bytes.Index(line, pemBegin); i >= 0 && bytes.Contains(line[i:], []byte("PRIVATE KEY")) && !bytes.Contains(line[i:], pemEnd) {
			keyLines = 1
		}
		switch p.parse(line, &out) {
		case lkBlank:
			fsum.Blank++
			goto next
		case lkHeader:
			fsum.Headers++
			goto next
		case lkContinuation:
			fsum.Continuation++
			goto next
		case lkMalformed:
			fsum.Malformed++
			if fsum.Malformed <= 3 {
				warn("line %d is not %s", lineNo, fsum.Format)
			}
			if fsum.Format != FormatTranscript && fsum.Format != FormatJSON {
				goto next
			}
			if len(out.msg) == 0 {
				goto next
			}
			// a cut or broken JSON line still counts with what it says
		}
		fsum.Entries++
		if out.unknownLevel {
			fsum.UnknownLevel++
		}
		if out.naive {
			fsum.NaiveTimes++
		}
		if !out.hasTime {
			fsum.Untimed++
			if window {
				fsum.OutsideWindow++
				goto next
			}
		} else {
			if (hasSince && out.ns < since) || (hasUntil && out.ns >= until) {
				fsum.OutsideWindow++
				goto next
			}
			if !anyTime || out.ns < first {
				first = out.ns
			}
			if !anyTime || out.ns > last {
				last = out.ns
			}
			anyTime = true
		}
		fsum.Levels[out.lv]++
		fsum.InWindow++
		if out.lv >= minLv {
			msg := out.msg
			if !utf8.Valid(msg) {
				fsum.InvalidUTF8++
				if fsum.InvalidUTF8 == 1 {
					warn("line %d is not valid UTF-8 (bytes replaced by U+FFFD)", lineNo)
				}
			}
			b.entries = append(b.entries, entry{
				ns: out.ns, hasTime: out.hasTime, lv: out.lv, line: lineNo,
				msg:     clip(msg, cfg.MaxMessageBytes),
				logger:  clip(out.logger, 200),
				section: out.section,
			})
			if len(b.entries) == batchSize {
				if err := send(); err != nil {
					return err
				}
			}
		} else if !utf8.Valid(out.msg) {
			fsum.InvalidUTF8++
		}
	next:
		if b.lines >= 4*batchSize && len(b.entries) > 0 || b.lines >= 64*batchSize {
			if err := send(); err != nil {
				return err
			}
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				warn("%s stream ends early after line %d (truncated file?)", cmp.Or(compression, "file"), lineNo)
			} else if err != io.EOF {
				warn("read error after line %d: %v", lineNo, err)
			}
			fsum.Incomplete = true
			break
		}
	}
	if anyTime {
		fsum.First, fsum.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	if fsum.Entries > 0 && fsum.Untimed == fsum.Entries {
		if window {
			warn("no timestamps: %s left out by the time window", plural.Count(fsum.Untimed, "entry"))
		} else {
			warn("no timestamps: entries are counted but not placed on the timeline")
		}
	}
	if fsum.Truncated > 3 {
		warn("%d lines in all were cut to %d bytes", fsum.Truncated, cfg.MaxLineBytes)
	}
	if fsum.Malformed > 3 {
		warn("%d lines in all were not %s", fsum.Malformed, fsum.Format)
	}
	if fsum.NaiveTimes > 0 {
		fsum.AssumedZone = cfg.Location.String()
	}
	if len(b.entries) > 0 || b.lines > 0 {
		return send()
	}
	return nil
}

const maxFileWarnings = 12

// A private key block in a log: from its BEGIN line to its END line, at
// most maxKeyLines lines.
var (
	pemBegin = []byte("-----BEGIN ")
	pemEnd   = []byte("-----END ")
)

const maxKeyLines = 200

// clip copies b into a string of at most n bytes, on a rune boundary,
// with invalid UTF-8 replaced.
func clip(b []byte, n int) string {
	cut := false
	if len(b) > n {
		n0 := n
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		if n == 0 {
			n = n0
		}
		b, cut = b[:n], true
	}
	var s string
	if utf8.Valid(b) {
		s = string(b)
	} else {
		s = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	if cut {
		s += "…"
	}
	return s
}

// displayPath is path as records show it: itself when valid UTF-8, else
// its Go-quoted form (lossless).
func displayPath(path string) string {
	if utf8.ValidString(path) {
		return path
	}
	return strconv.Quote(path)
}

package log

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/drain"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
)

// FileSummary is what the source learned about one file.
type FileSummary struct {
	Path        string // as shown in records: Go-quoted when not valid UTF-8
	PathEscaped bool
	Format      Format
	Reason      string // why the format was chosen
	Compression string // "gzip", "bzip2" or empty
	Skipped     bool   // not read (binary, unreadable, unsupported)
	Incomplete  bool   // reading stopped early (truncated stream, I/O error)
	Modified    time.Time

	Bytes   int64 // bytes of text read (after decompression)
	Lines   int64 // physical lines
	Entries int64 // log entries (a traceback's lines are one entry)
	// KeyLines are lines inside a private key block, never kept.
	KeyLines int64
	// InWindow is the entries inside the time window; Levels counts them
	// by severity (index: audit.Severities).
	InWindow int64
	Levels   [5]int64

	Blank, Headers, Continuation, Malformed, Truncated, InvalidUTF8 int64
	Untimed, OutsideWindow, UnknownLevel, NaiveTimes                int64

	First, Last time.Time // timestamps of the entries in the window
	AssumedZone string    // zone given to timestamps without one, if any

	Warnings     []string
	moreWarnings int
}

// LevelCounts returns Levels by severity name.
func (f *FileSummary) LevelCounts() map[string]any { return levelMap(f.Levels) }

func levelMap(l [5]int64) map[string]any {
	m := make(map[string]any, len(l))
	for i, n := range l {
		m[string(audit.Severities[i])] = n
	}
	return m
}

// Example is one line of a pattern.
type Example struct {
	File string
	Line int64
	Time time.Time // zero when the line had no timestamp
	Text string
}

// Pattern is one template found by the miner.
type Pattern struct {
	ID       int64  // unique within one run
	Key      string // first 16 hex digits of SHA-256(template): stable across runs
	Template string
	Count    int64
	Level    audit.Severity // the highest level among its lines
	Levels   [5]int64
	First    time.Time
	Last     time.Time
	Untimed  int64
	Examples []Example
	// Files counts lines per file for the first maxPatternFiles files;
	// OtherFiles counts the rest.
	Files      map[string]int64
	OtherFiles int64
	Evicted    bool
}

const maxPatternFiles = 8

// Burst is a run of time with many errors.
type Burst struct {
	Start, End time.Time
	Errors     int64 // timeline entries in the burst
	Peak       int64 // the most in one window
	Dominant   []DominantPattern
}

// DominantPattern is a pattern frequent in a burst. AtLeast is a lower
// bound of its lines in the burst (a Misra–Gries summary of three patterns
// per timeline bucket: exact when a bucket holds at most three).
type DominantPattern struct {
	ID       int64
	Template string
	AtLeast  int64
}

// Timeline is the count of error entries per time step, merged across
// files.
type Timeline struct {
	Start  time.Time
	Step   time.Duration
	Counts []int64
}

// Summary is what one run found, for reports.
type Summary struct {
	Target  string
	Service string
	Files   []*FileSummary
	Formats map[Format]int
	Lines   int64
	Entries int64 // in the window
	Levels  [5]int64
	First   time.Time
	Last    time.Time
	// Patterns held at the end, most lines first. Patterns evicted earlier
	// were recorded when evicted and are counted in Evicted*.
	Patterns        []*Pattern
	EvictedPatterns int64
	EvictedLines    int64
	Mined           int64 // entries at or above the level
	Bursts          []Burst
	Timeline        Timeline
	// Resolution is the timeline's bucket width, which bursts are found at.
	Resolution time.Duration
	Records    int64
	// Unchanged counts records not emitted because the trail's newest
	// record of the same key says the same (with Config.Trail).
	Unchanged int64
	// Warnings are the first problems met that did not stop the run;
	// WarningCount counts them all.
	Warnings     []string
	WarningCount int64
	// Excluded counts the files and directories not read because no
	// source reads them (git internals, the trail's directory).
	Excluded int64
	// The rule bursts were found with.
	BurstWindow time.Duration
	BurstMin    int
	BurstLevel  audit.Severity
	Level       audit.Severity
}

// LevelCounts returns Levels by severity name.
func (s *Summary) LevelCounts() map[string]any { return levelMap(s.Levels) }

const maxSummaryWarnings = 200

func (s *Summary) addFile(f *FileSummary) {
	s.Files = append(s.Files, f)
	s.Formats[f.Format]++
	s.Lines += f.Lines
	s.Entries += f.InWindow
	for i, n := range f.Levels {
		s.Levels[i] += n
	}
	if !f.First.IsZero() && (s.First.IsZero() || f.First.Before(s.First)) {
		s.First = f.First
	}
	if !f.Last.IsZero() && f.Last.After(s.Last) {
		s.Last = f.Last
	}
	s.WarningCount += int64(len(f.Warnings) + f.moreWarnings)
	for _, w := range f.Warnings {
		if len(s.Warnings) < maxSummaryWarnings {
			s.Warnings = append(s.Warnings, f.Path+": "+w)
		}
	}
	if f.moreWarnings > 0 && len(s.Warnings) < maxSummaryWarnings {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %s more", f.Path, plural.Count(f.moreWarnings, "warning")))
	}
}

// patternStats is what the aggregator keeps per cluster.
type patternStats struct {
	first, last int64
	hasTime     bool
	levels      [5]int64
	untimed     int64
	examples    []Example
	files       map[string]int64
	otherFiles  int64
}

// aggregator mines entries, keeps the timeline and builds records. It
// runs on the goroutine that called Run.
type aggregator struct {
	cfg    *Config
	target string
	actor  string
	emit   func(*audit.Record) error
	now    time.Time

	miner   *drain.Miner[*patternStats]
	hist    *histogram
	burstLv level
	err     error // from emitting an evicted pattern
	// templates of evicted patterns, for naming them in bursts
	evicted      map[int64]string
	evictedLines int64
	records      int64
	mined        int64
}

func newAggregator(cfg *Config, target, actor string, emit func(*audit.Record) error) *aggregator {
	a := &aggregator{
		cfg: cfg, target: target, actor: actor, emit: emit, now: time.Now().UTC(),
		miner:   drain.New[*patternStats](cfg.Drain),
		hist:    newHistogram(cfg.MaxBuckets),
		burstLv: levelOf(cfg.BurstLevel),
		evicted: map[int64]string{},
	}
	a.miner.OnEvict = func(c *drain.Cluster[*patternStats]) {
		p := a.pattern(c)
		p.Evicted = true
		a.evictedLines += p.Count
		if len(a.evicted) < cfg.MaxPatterns {
			a.evicted[c.ID] = p.Template
		}
		if a.err == nil {
			a.err = a.send(a.patternRecord(p))
		}
	}
	return a
}

func (a *aggregator) send(r *audit.Record) error {
	a.records++
	return a.emit(r)
}

// add takes one entry at or above the level.
func (a *aggregator) add(file string, e *entry) error {
	a.mined++
	c, created := a.miner.Add(e.msg)
	if a.err != nil {
		return a.err
	}
	ps := c.Value
	if created || ps == nil {
		ps = &patternStats{files: map[string]int64{}}
		c.Value = ps
	}
	ps.levels[e.lv]++
	if e.hasTime {
		if !ps.hasTime || e.ns < ps.first {
			ps.first = e.ns
		}
		if !ps.hasTime || e.ns > ps.last {
			ps.last = e.ns
		}
		ps.hasTime = true
	} else {
		ps.untimed++
	}
	if _, ok := ps.files[file]; ok || len(ps.files) < maxPatternFiles {
		ps.files[file]++
	} else {
		ps.otherFiles++
	}
	if len(ps.examples) < a.cfg.Examples {
		ex := Example{File: file, Line: e.line, Text: e.msg}
		if e.hasTime {
			ex.Time = time.Unix(0, e.ns).UTC()
		}
		ps.examples = append(ps.examples, ex)
	}
	if e.hasTime && e.lv >= a.burstLv {
		a.hist.add(e.ns, c.ID)
	}
	if a.cfg.Each {
		return a.send(a.entryRecord(file, e, c.ID))
	}
	return nil
}

// templateHash is a pattern's stable name: the first 16 hex digits of
// SHA-256(template).
func templateHash(tmpl string) string {
	sum := sha256.Sum256([]byte(tmpl))
	return hex.EncodeToString(sum[:8])
}

// pattern turns a cluster into a Pattern.
func (a *aggregator) pattern(c *drain.Cluster[*patternStats]) *Pattern {
	ps := c.Value
	tmpl := c.Template()
	p := &Pattern{
		ID: c.ID, Key: templateHash(tmpl), Template: tmpl, Count: c.Size,
		Levels: ps.levels, Untimed: ps.untimed, Examples: ps.examples,
		Files: ps.files, OtherFiles: ps.otherFiles,
	}
	for i := len(ps.levels) - 1; i >= 0; i-- {
		if ps.levels[i] > 0 {
			p.Level = audit.Severities[i]
			break
		}
	}
	if ps.hasTime {
		p.First, p.Last = time.Unix(0, ps.first).UTC(), time.Unix(0, ps.last).UTC()
	}
	return p
}

func (a *aggregator) emitFile(f *FileSummary) error {
	return a.send(a.fileRecord(f))
}

// finish emits the patterns and bursts and completes the summary.
func (a *aggregator) finish(sum *Summary) error {
	var pats []*Pattern
	a.miner.All(func(c *drain.Cluster[*patternStats]) bool {
		pats = append(pats, a.pattern(c))
		return true
	})
	slices.SortFunc(pats, func(x, y *Pattern) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.ID, y.ID))
	})
	for _, p := range pats {
		if err := a.send(a.patternRecord(p)); err != nil {
			return err
		}
	}
	names := map[int64]string{}
	for _, p := range pats {
		names[p.ID] = p.Template
	}
	for id, t := range a.evicted {
		names[id] = t
	}
	bursts := a.hist.bursts(a.cfg.BurstWindow, a.cfg.BurstMin, names)
	for _, b := range bursts {
		if err := a.send(a.burstRecord(b)); err != nil {
			return err
		}
	}
	sum.Patterns = pats
	sum.EvictedPatterns = a.miner.Evicted()
	sum.EvictedLines = a.evictedLines
	sum.Mined = a.mined
	sum.Bursts = bursts
	sum.Timeline = a.hist.timeline(60)
	sum.Resolution = time.Duration(a.hist.res)
	sum.Records = a.records
	sum.BurstWindow, sum.BurstMin, sum.BurstLevel, sum.Level = a.cfg.BurstWindow, a.cfg.BurstMin, a.cfg.BurstLevel, a.cfg.Level
	return nil
}

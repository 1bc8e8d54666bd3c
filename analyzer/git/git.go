// Package git is the git analyzer (SPEC §7): judgements over the history
// the git source recorded — when and how regularly work happens, who
// owns each module, where change and complexity meet, which files change
// together, which commits explain themselves badly, and which commits
// brought large files in. It reports through package analyzer (actions
// git_finding and git_finding_resolved).
//
// # Evidence
//
// The analyzer reads the trail, never the repository's history itself:
// every git_commit record of the git source (one streaming query, oldest
// first), and the newest module_audit record of each module of the module
// source (module paths; the complexity scc measured for each module's most
// complex files). Memory grows with the number of distinct paths, modules
// and authors, and by four bytes per file change kept for the coupling
// analysis; not with the size of the records.
//
// A path belongs to the module with the longest path that holds it (a
// module of the module source, or a submodule: commits of a submodule are
// its own), else to its top-level directory ("." for a file at the top).
// Submodule pointer changes (gitlink in the commit records) are counted as
// pointer bumps: they are no churn, no revision of a file, no line of any
// author. Merges list no files; they count as commits only.
//
// # Checks
//
//   - frequency: per repository (the top one and each submodule), one
//     commit_frequency finding (info): commits per weekday and hour in the
//     author's own time zone, the share outside working hours (weekends,
//     before 07:00 and from 20:00), and the trend: commits in the last
//     TrendWindow of the history (ending at its newest commit, so the
//     finding changes only when the history does) against the window
//     before. Severity warning when activity fell below a quarter of the
//     window before (with at least 20 commits then).
//   - ownership: per module with at least Ownership.MinCommits commits, its
//     author distribution (commits and lines changed per author) and bus
//     factor: the fewest authors whose lines together exceed half of the
//     module's (commits, in a module of binaries only). sole_author
//     (warning) when one author made every commit, low_bus_factor (info)
//     when one author did more than half of the work, author_distribution
//     (info) otherwise.
//   - hotspots: files by revisions × complexity (Adam Tornhill's hotspot),
//     with the complexity the module source measured (its complex_files
//     and top_files lists); the Hotspots.Top highest with at least
//     Hotspots.MinRevisions revisions are hotspot findings (warning). Not
//     done without module records.
//   - coupling: code-maat's logical coupling with its published defaults:
//     change sets of more than MaxChangeset files are left out; revisions
//     are counted over the rest; a pair's degree is its shared revisions
//     over the average of the two files' revisions, in percent (floored);
//     a pair is reported when that average is at least MinRevisions, the
//     shared revisions at least MinShared and the degree at least
//     MinDegree. One change_coupling finding per pair, the strongest
//     Coupling.Max of them (info; warning when the two files are in
//     different modules: a dependency no module boundary shows). Files no
//     longer in the working tree are left out.
//   - messages: each commit (merges aside) whose message breaks a rule of
//     Messages: empty, a subject shorter than MinSubject characters, a
//     subject that is only a vague word ("wip", "fix", …), no body on a
//     change of LargeLines lines or LargeFiles files. One
//     bad_commit_message finding per commit, naming every rule broken
//     (warning for an empty message, info otherwise).
//   - large_files: each file change whose content is LargeFile bytes or
//     more (large_file), or a binary of LargeBinary bytes or more
//     (large_binary), warning. Sizes come from the git source (size in the
//     commit records); commits recorded without sizes are not judged.
//
// # Keys
//
// A frequency finding is keyed by repository, an ownership finding by
// module, a hotspot by path, a coupling finding by its two paths, a
// message finding by repository and commit, a large file by repository,
// commit and path: a hotspot that stays one is updated (its figures are
// evidence), one that drops out of the top is resolved.
//
// # Settings
//
// Config's fields have YAML names: the command line reads them from the
// analyzers.git section of the trail's config.yaml (package collect).
package git

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

// Name is the analyzer's name.
const Name = "git"

// Checks.
const (
	CheckFrequency  = "frequency"
	CheckOwnership  = "ownership"
	CheckHotspots   = "hotspots"
	CheckCoupling   = "coupling"
	CheckMessages   = "messages"
	CheckLargeFiles = "large_files"
)

// Checks lists every check, in the order they report.
var Checks = []string{CheckFrequency, CheckOwnership, CheckHotspots, CheckCoupling, CheckMessages, CheckLargeFiles}

// Finding types.
const (
	TypeFrequency     = "commit_frequency"
	TypeSoleAuthor    = "sole_author"
	TypeLowBusFactor  = "low_bus_factor"
	TypeDistribution  = "author_distribution"
	TypeHotspot       = "hotspot"
	TypeCoupling      = "change_coupling"
	TypeBadMessage    = "bad_commit_message"
	TypeLargeFile     = "large_file"
	TypeLargeBinary   = "large_binary"
	defaultTrendDays  = 90
	defaultLargeFile  = 1 << 20
	defaultLargeBlob  = 256 << 10
	defaultMinSubject = 8
)

// CouplingConfig are the thresholds of the coupling check. Zero fields
// take code-maat's defaults.
type CouplingConfig struct {
	MinRevisions int `yaml:"min_revisions"` // 5: the pair's average revisions
	MinShared    int `yaml:"min_shared"`    // 5: revisions with both files
	MinDegree    int `yaml:"min_degree"`    // 30: percent
	MaxChangeset int `yaml:"max_changeset"` // 30: larger change sets are left out
	Max          int `yaml:"max"`           // 50: findings reported, strongest first
}

// HotspotConfig configures the hotspots check.
type HotspotConfig struct {
	Top          int `yaml:"top"`           // 10: hotspots reported
	MinRevisions int `yaml:"min_revisions"` // 5
}

// OwnershipConfig configures the ownership check.
type OwnershipConfig struct {
	MinCommits int `yaml:"min_commits"` // 5: modules with fewer commits are not judged
}

// MessageRules are the rules of the messages check. Zero fields take the
// defaults; a rule named in Disable is not applied.
type MessageRules struct {
	// MinSubject is the shortest acceptable subject, in characters (8).
	MinSubject int `yaml:"min_subject"`
	// Vague are subjects that say nothing, compared without case,
	// surrounding spaces and punctuation (DefaultVague when nil).
	Vague []string `yaml:"vague"`
	// LargeLines and LargeFiles make a change large enough to need a
	// body (500 lines, 20 files).
	LargeLines int `yaml:"large_lines"`
	LargeFiles int `yaml:"large_files"`
	// Disable lists rules not applied: empty, too_short, vague, no_body.
	Disable []string `yaml:"disable"`
}

// Message rules.
const (
	RuleEmpty    = "empty"
	RuleShort    = "too_short"
	RuleVague    = "vague"
	RuleNoBody   = "no_body"
	defaultLines = 500
	defaultFiles = 20
)

// DefaultVague are the subjects the vague rule flags by default.
var DefaultVague = []string{"wip", "fix", "fixes", "fixed", "fixup", "update", "updates", "updated", "change",
	"changes", "misc", "stuff", "tmp", "temp", "test", "tests", "cleanup", "asdf", "commit", "save", "work", "more", "minor", "oops"}

// Config configures the analyzer. The zero value uses every default.
type Config struct {
	Coupling  CouplingConfig  `yaml:"coupling"`
	Hotspots  HotspotConfig   `yaml:"hotspots"`
	Ownership OwnershipConfig `yaml:"ownership"`
	Messages  MessageRules    `yaml:"messages"`
	// LargeFile and LargeBinary are the sizes, in bytes, from which a
	// file change is reported (1 MiB, and 256 KiB for binaries).
	LargeFile   int64 `yaml:"large_file"`
	LargeBinary int64 `yaml:"large_binary"`
	// TrendWindow is the period the frequency trend compares (90 days;
	// "2160h" in YAML).
	TrendWindow time.Duration `yaml:"trend_window"`
	// Skip lists checks not to run (their findings stay as they are).
	Skip []string `yaml:"skip"`
}

// Validate checks the configuration and fills the defaults.
func (c *Config) Validate() error {
	for _, n := range []int{c.Coupling.MinRevisions, c.Coupling.MinShared, c.Coupling.MinDegree, c.Coupling.MaxChangeset,
		c.Coupling.Max, c.Hotspots.Top, c.Hotspots.MinRevisions, c.Ownership.MinCommits,
		c.Messages.MinSubject, c.Messages.LargeLines, c.Messages.LargeFiles} {
		if n < 0 {
			return errors.New("git analyzer: thresholds must not be negative")
		}
	}
	if c.LargeFile < 0 || c.LargeBinary < 0 || c.TrendWindow < 0 {
		return errors.New("git analyzer: sizes and the trend window must not be negative")
	}
	if c.Coupling.MinDegree > 100 {
		return fmt.Errorf("git analyzer: coupling degree %d%% is over 100%%", c.Coupling.MinDegree)
	}
	for _, s := range c.Skip {
		if !slices.Contains(Checks, s) {
			return fmt.Errorf("git analyzer: unknown check %q (checks: %v)", s, Checks)
		}
	}
	for _, r := range c.Messages.Disable {
		if !slices.Contains([]string{RuleEmpty, RuleShort, RuleVague, RuleNoBody}, r) {
			return fmt.Errorf("git analyzer: unknown message rule %q", r)
		}
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Coupling.MinRevisions, 5)
	def(&c.Coupling.MinShared, 5)
	def(&c.Coupling.MinDegree, 30)
	def(&c.Coupling.MaxChangeset, 30)
	def(&c.Coupling.Max, 50)
	def(&c.Hotspots.Top, 10)
	def(&c.Hotspots.MinRevisions, 5)
	def(&c.Ownership.MinCommits, 5)
	def(&c.Messages.MinSubject, defaultMinSubject)
	def(&c.Messages.LargeLines, defaultLines)
	def(&c.Messages.LargeFiles, defaultFiles)
	if c.Messages.Vague == nil {
		c.Messages.Vague = DefaultVague
	}
	c.LargeFile = cmp.Or(c.LargeFile, defaultLargeFile)
	c.LargeBinary = cmp.Or(c.LargeBinary, defaultLargeBlob)
	c.TrendWindow = cmp.Or(c.TrendWindow, defaultTrendDays*24*time.Hour)
	return nil
}

// Analyzer is the git analyzer. One Analyzer serves one run at a time;
// Notes and Stats describe the last run.
type Analyzer struct {
	cfg Config

	mu    sync.Mutex
	notes []string
	stats Stats
}

// Stats counts what the last run read.
type Stats struct {
	Commits      int // commit records read
	Repositories int
	FileChanges  int // file changes (pointer bumps aside)
	PointerBumps int // submodule pointer changes
	Modules      int // modules the module source recorded
}

var _ audit.Analyzer = (*Analyzer)(nil)

// New returns a git analyzer.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Analyzer{cfg: cfg}, nil
}

// Name returns "git".
func (a *Analyzer) Name() string { return Name }

// Understands returns the git and module sources.
func (a *Analyzer) Understands() []string {
	return []string{gitsource.SourceName, module.SourceName}
}

// Notes are what the last run wants a reader to know that is not a
// finding: a check that could not run.
func (a *Analyzer) Notes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.notes)
}

// Stats says what the last run read.
func (a *Analyzer) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// Analyze reads the history from the trail and runs every check.
func (a *Analyzer) Analyze(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	h, err := readHistory(ctx, in.Trail, a.cfg)
	if err != nil {
		return nil, err
	}
	var notes []string
	a.mu.Lock()
	a.stats = h.stats
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.notes = notes
		a.mu.Unlock()
	}()
	if h.stats.Commits == 0 {
		notes = append(notes, "no git_commit records in the trail: run the git source first (ami-audit git, or repo)")
		return nil, nil
	}
	done, more, err := analyzer.RunChecks(ctx, []analyzer.Check{
		{Name: CheckFrequency, Run: func() error { return h.frequency(report) }},
		{Name: CheckOwnership, Run: func() error { return h.ownership(report) }},
		{Name: CheckHotspots, Run: func() error { return h.hotspots(report) }},
		{Name: CheckCoupling, Run: func() error { return h.coupling(in.Target, report) }},
		{Name: CheckMessages, Run: func() error { return h.reportMessages(report) }},
		{Name: CheckLargeFiles, Run: func() error { return h.reportLarge(report) }},
	}, a.cfg.Skip)
	notes = append(notes, more...)
	if err != nil {
		return nil, err
	}
	return done, nil
}

// errNotChecked says a check lacked what it needs; it is a note, not a
// failure.
var errNotChecked = analyzer.ErrNotChecked

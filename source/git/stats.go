package git

import (
	"cmp"
	"slices"
	"time"
)

// Stats accumulates what reports show about the commits walked: totals,
// contributions per author, change hotspots per file and commits per
// week. Feed it from Config.OnCommit. It is not safe for concurrent use.
// Memory grows with the number of distinct authors, files and weeks, not
// with the number of commits.
type Stats struct {
	Commits int64 // commits walked
	New     int64 // of which recorded by this run
	Merges  int64
	Added   int64
	Removed int64
	Renames int64
	Binary  int64 // binary file changes
	First   time.Time
	Last    time.Time // committer dates
	Signed  int64
	// PointerBumps counts changes of submodule pointers (gitlinks): a
	// submodule moved to another commit. They are not churn: neither in
	// the line counts nor in the hotspots.
	PointerBumps int64
	Repos        map[string]int64 // commits per repository target
	authors      *authorTally
	files        map[string]*FileStats
	weeks        map[time.Time]int64
}

// FileStats is the change history of one path.
type FileStats struct {
	Path    string // from the top repository; may be invalid UTF-8
	Commits int64
	Added   int64
	Removed int64
	Authors int64 // distinct authors
	authors map[string]struct{}
}

// WeekCount is the number of commits in the week starting at Week
// (Monday, UTC).
type WeekCount struct {
	Week    time.Time
	Commits int64
}

// NewStats returns empty stats.
func NewStats() *Stats {
	return &Stats{
		Repos:   map[string]int64{},
		authors: newAuthorTally(),
		files:   map[string]*FileStats{},
		weeks:   map[time.Time]int64{},
	}
}

// Add counts one commit.
func (s *Stats) Add(c *Commit) {
	s.Commits++
	if c.New {
		s.New++
	}
	if c.Merge() {
		s.Merges++
	}
	if c.Signature != "" && c.Signature != "N" {
		s.Signed++
	}
	s.Repos[c.Repo]++
	s.authors.add(c)
	author := c.Author()
	for _, f := range c.Files {
		if f.Gitlink {
			s.PointerBumps++
			continue
		}
		s.Added += f.Added
		s.Removed += f.Removed
		if f.OldPath != "" {
			s.Renames++
		}
		if f.Binary {
			s.Binary++
		}
		p := f.Path
		if c.Repo != "." && c.Repo != "" {
			p = c.Repo + "/" + p
		}
		fs := s.files[p]
		if fs == nil {
			fs = &FileStats{Path: p, authors: map[string]struct{}{}}
			s.files[p] = fs
		}
		fs.Commits++
		fs.Added += f.Added
		fs.Removed += f.Removed
		if _, ok := fs.authors[author]; !ok {
			fs.authors[author] = struct{}{}
			fs.Authors++
		}
	}
	t := c.CommitTime
	if t.IsZero() {
		return
	}
	if s.First.IsZero() || t.Before(s.First) {
		s.First = t
	}
	if t.After(s.Last) {
		s.Last = t
	}
	s.weeks[weekOf(t)]++
}

// Authors returns the contributions per author, most commits first.
func (s *Stats) Authors() []*AuthorStats { return s.authors.sorted() }

// Files returns the number of distinct paths changed.
func (s *Stats) Files() int { return len(s.files) }

// Hotspots returns the n files changed by the most commits (then the most
// lines changed); n <= 0 returns all.
func (s *Stats) Hotspots(n int) []FileStats {
	out := make([]FileStats, 0, len(s.files))
	for _, f := range s.files {
		c := *f
		c.authors = nil
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b FileStats) int {
		if c := cmp.Compare(b.Commits, a.Commits); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Added+b.Removed, a.Added+a.Removed); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// File returns the stats of one path from the top repository.
func (s *Stats) File(path string) (FileStats, bool) {
	f, ok := s.files[path]
	if !ok {
		return FileStats{}, false
	}
	c := *f
	c.authors = nil
	return c, true
}

// Weeks returns commits per week from the first week to the last, weeks
// without commits included.
func (s *Stats) Weeks() []WeekCount {
	if len(s.weeks) == 0 {
		return nil
	}
	var out []WeekCount
	for w := weekOf(s.First); !w.After(weekOf(s.Last)); w = w.AddDate(0, 0, 7) {
		out = append(out, WeekCount{Week: w, Commits: s.weeks[w]})
	}
	return out
}

// weekOf returns the Monday 00:00 UTC starting t's week.
func weekOf(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	off := (int(d.Weekday()) + 6) % 7
	return d.AddDate(0, 0, -off)
}

package git

import (
	"context"
	"fmt"

	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

// change is one file of a commit record, with its repository-relative
// path.
type change struct {
	path, oldPath   string
	added, removed  int64
	binary, gitlink bool
	size            int64
	sized           bool
}

// commit is what the checks read of a git_commit record.
type commit struct {
	recordID    string
	repo, hash  string
	author      string
	authorDate  time.Time // in the author's own zone
	time        time.Time // the record's timestamp: the committer date
	subject     string
	hasBody     bool
	merge       bool
	files       []change
	nFiles      int // every file, even past a truncated list
	lines       int64
	truncated   bool
	gitlinkOnly bool
}

// repoStats is the frequency check's tally of one repository.
type repoStats struct {
	matrix                [7][24]int // Monday first, author's local time
	commits, merges       int
	pointerBumps          int
	offHours              int
	first, last           time.Time
	times                 []int64 // committer times, Unix seconds
	authorsSeen           map[string]bool
	recent, previousCount int
}

// entity is one file across renames.
type entity struct {
	name      string // its newest path
	revisions int    // commits that changed it
	churn     int64  // lines added and removed
	module    string
	revsCS    int // revisions in change sets the coupling check keeps
}

// authorShare is one author's part of a module.
type authorShare struct {
	commits int
	lines   int64
}

type moduleStats struct {
	commits int
	lines   int64
	authors map[string]*authorShare
}

// badMessage and largeFile are findings noted while reading.
type badMessage struct {
	recordID, repo, hash, subject, author string
	rules                                 []string
	lines                                 int64
	files                                 int
	when                                  time.Time
}

type largeFile struct {
	recordID, repo, hash, path, author string
	size                               int64
	binary                             bool
	when                               time.Time
}

// history is everything the checks need, gathered in one pass.
type history struct {
	cfg   Config
	stats Stats

	layout   *module.Layout
	haveMods bool

	repos    map[string]*repoStats
	ids      map[string]int32 // path -> entity
	entities []entity
	byModule map[string]*moduleStats
	// changeSets holds the entity ids of every change set the coupling
	// check keeps, each list ended by -1.
	changeSets []int32
	bad        []badMessage
	large      []largeFile
	seen       map[string]bool // repo + hash: a commit read once
}

// readHistory reads the module records, then streams the commit records.
func readHistory(ctx context.Context, tr audit.Reader, cfg Config) (*history, error) {
	h := &history{cfg: cfg, repos: map[string]*repoStats{},
		ids: map[string]int32{}, byModule: map[string]*moduleStats{}, seen: map[string]bool{}}
	if err := h.readModules(ctx, tr); err != nil {
		return nil, err
	}
	f := audit.Filter{TargetType: audit.TargetGit, Action: gitsource.ActionCommit, Limit: -1}
	var c commit
	var g gitsource.Commit
	for r, err := range tr.Query(ctx, f) {
		if err != nil {
			return nil, fmt.Errorf("read git_commit records: %w", err)
		}
		if !parseCommit(r, &g, &c) {
			continue
		}
		key := c.repo + "\x00" + c.hash
		if h.seen[key] {
			continue
		}
		h.seen[key] = true
		h.add(&c)
	}
	h.seen = nil
	h.stats.Repositories = len(h.repos)
	return h, nil
}

// readModules reads the module records' layout.
func (h *history) readModules(ctx context.Context, tr audit.Reader) error {
	l, err := module.ReadLayout(ctx, tr)
	if err != nil {
		return err
	}
	h.layout = l
	h.haveMods = len(l.Modules) > 0
	h.stats.Modules = len(l.Modules)
	return nil
}

// moduleOf names the module of a repository-relative path.
func (h *history) moduleOf(p string) string { return h.layout.ModuleOf(p) }

// parseCommit reads a git_commit record into c (reusing its slices, and
// g's); false when the record is not one the git source wrote.
func parseCommit(r *audit.Record, g *gitsource.Commit, c *commit) bool {
	if !gitsource.CommitOf(r, g) {
		return false
	}
	files := c.files[:0]
	*c = commit{recordID: r.RecordID, repo: g.Repo, hash: g.Hash, author: strings.ToLower(r.Actor), time: r.Timestamp,
		authorDate: g.AuthorTime, merge: g.Merge(), subject: g.Subject(), hasBody: g.Body() != ""}
	ctx := r.Context
	c.nFiles = max(analyzer.IntMember(ctx, "files_changed"), len(g.Files))
	c.lines = int64(analyzer.IntMember(ctx, "lines_added") + analyzer.IntMember(ctx, "lines_removed"))
	c.truncated, _ = ctx["files_truncated"].(bool)
	prefix := ""
	if c.repo != "." && c.repo != "" {
		prefix = c.repo + "/"
	}
	links := 0
	for _, f := range g.Files {
		ch := change{path: prefix + f.Path, added: f.Added, removed: f.Removed, binary: f.Binary,
			gitlink: f.Gitlink, size: f.Size, sized: f.Sized}
		if f.OldPath != "" {
			ch.oldPath = prefix + f.OldPath
		}
		if ch.gitlink {
			links++
		}
		files = append(files, ch)
	}
	c.files = files
	c.gitlinkOnly = links > 0 && links == len(files)
	return true
}

// add folds one commit into every tally.
func (h *history) add(c *commit) {
	h.stats.Commits++
	rs := h.repos[c.repo]
	if rs == nil {
		rs = &repoStats{}
		h.repos[c.repo] = rs
	}
	rs.commits++
	if c.merge {
		rs.merges++
	}
	wd := (int(c.authorDate.Weekday()) + 6) % 7 // Monday first
	hr := c.authorDate.Hour()
	rs.matrix[wd][hr]++
	if wd >= 5 || hr < 7 || hr >= 20 {
		rs.offHours++
	}
	if rs.first.IsZero() || c.time.Before(rs.first) {
		rs.first = c.time
	}
	if c.time.After(rs.last) {
		rs.last = c.time
	}
	rs.times = append(rs.times, c.time.Unix())

	// Files: entities, churn, modules, coupling.
	touched := map[string]bool{}
	var set []int32
	for i := range c.files {
		f := &c.files[i]
		if f.gitlink {
			rs.pointerBumps++
			h.stats.PointerBumps++
			continue
		}
		h.stats.FileChanges++
		id := h.entityOf(f)
		e := &h.entities[id]
		e.revisions++
		e.churn += f.added + f.removed
		if !slices.Contains(set, id) {
			set = append(set, id)
		}
		mod := h.module(c.repo, f.path)
		touched[mod] = true
		ms := h.moduleStats(mod)
		ms.lines += f.added + f.removed
		h.authorShare(ms, c.author).lines += f.added + f.removed
		h.largeCheck(c, f)
	}
	for mod := range touched {
		ms := h.moduleStats(mod)
		ms.commits++
		h.authorShare(ms, c.author).commits++
	}
	if !c.merge && len(set) > 0 && len(set) <= h.cfg.Coupling.MaxChangeset && !c.truncated {
		for _, id := range set {
			h.entities[id].revsCS++
		}
		if len(set) > 1 {
			h.changeSets = append(h.changeSets, set...)
			h.changeSets = append(h.changeSets, -1)
		}
	}
	if !c.merge && !c.gitlinkOnly {
		h.messageCheck(c)
	}
}

// module is the module of a path of a commit: a submodule's commits are
// its own, unless a module lies inside it.
func (h *history) module(repo, p string) string {
	m := h.moduleOf(p)
	if repo != "." && repo != "" && !strings.HasPrefix(m, repo+"/") && m != repo {
		return repo
	}
	return m
}

func (h *history) moduleStats(mod string) *moduleStats {
	ms := h.byModule[mod]
	if ms == nil {
		ms = &moduleStats{authors: map[string]*authorShare{}}
		h.byModule[mod] = ms
	}
	return ms
}

func (h *history) authorShare(ms *moduleStats, author string) *authorShare {
	a := ms.authors[author]
	if a == nil {
		a = &authorShare{}
		ms.authors[author] = a
	}
	return a
}

// entityOf returns the entity of a change, following a rename: the new
// path continues the old one's entity.
func (h *history) entityOf(f *change) int32 {
	if f.oldPath != "" {
		if id, ok := h.ids[f.oldPath]; ok {
			delete(h.ids, f.oldPath)
			h.ids[f.path] = id
			h.entities[id].name = f.path
			return id
		}
	}
	if id, ok := h.ids[f.path]; ok {
		return id
	}
	id := int32(len(h.entities))
	h.entities = append(h.entities, entity{name: f.path})
	h.ids[f.path] = id
	return id
}

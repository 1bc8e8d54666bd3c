package git

import (
	"cmp"
	"slices"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// commitRecord builds the git_commit record of c.
func (s *Source) commitRecord(c *Commit) *audit.Record {
	r := audit.New(safeText(c.Author()), ActionCommit, c.Repo, audit.TargetGit)
	r.Source = SourceName
	r.Timestamp = c.CommitTime
	if r.Timestamp.IsZero() {
		r.Timestamp = c.AuthorTime
	}
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Unix(0, 0).UTC()
	}
	ctx := map[string]any{
		"repository": c.Repo,
		"commit":     c.Hash,
		"merge":      c.Merge(),
	}
	parents := make([]any, len(c.Parents))
	for i, p := range c.Parents {
		parents[i] = p
	}
	ctx["parents"] = parents
	putText(ctx, "author_name", c.AuthorName)
	putText(ctx, "author_email", c.AuthorEmail)
	putText(ctx, "committer_name", c.CommitterName)
	putText(ctx, "committer_email", c.CommitterEmail)
	putTime(ctx, "author_date", c.AuthorTime)
	putTime(ctx, "committer_date", c.CommitTime)
	putText(ctx, "subject", c.Subject())
	putText(ctx, "body", c.Body())
	if c.Signature != "" {
		ctx["signed"] = c.Signature != "N"
		putText(ctx, "signature_status", c.Signature)
		if c.Signer != "" {
			putText(ctx, "signer", c.Signer)
		}
		if c.SigningKey != "" {
			putText(ctx, "signing_key", c.SigningKey)
		}
	}
	added, removed := c.Lines()
	ctx["files_changed"] = len(c.Files)
	ctx["lines_added"] = added
	ctx["lines_removed"] = removed
	renames := 0
	limit := s.cfg.maxFiles()
	files := make([]any, 0, min(len(c.Files), limit))
	for i, f := range c.Files {
		if f.OldPath != "" {
			renames++
		}
		if i >= limit {
			continue
		}
		m := map[string]any{"added": f.Added, "removed": f.Removed}
		putText(m, "path", f.Path)
		if f.OldPath != "" {
			putText(m, "old_path", f.OldPath)
		}
		if f.Binary {
			m["binary"] = true
		}
		if f.Gitlink {
			m["gitlink"] = true
		}
		if f.Sized {
			m["size"] = f.Size
		}
		files = append(files, m)
	}
	ctx["files"] = files
	ctx["renames"] = renames
	if len(c.Files) > limit {
		ctx["files_truncated"] = true
	}
	r.Context = ctx
	r.Normalize()
	return r
}

func putTime(m map[string]any, key string, t time.Time) {
	if t.IsZero() {
		m[key] = ""
		return
	}
	m[key] = t.Format(time.RFC3339)
}

// AuthorStats are one author's contributions over the commits walked.
type AuthorStats struct {
	Name, Email  string
	Commits      int64
	Added        int64
	Removed      int64
	First, Last  time.Time // author dates
	FilesTouched int64     // file changes, counted per commit
}

// authorTally counts contributions per author (keyed by e-mail, else
// name).
type authorTally struct {
	by map[string]*AuthorStats
}

func newAuthorTally() *authorTally { return &authorTally{by: map[string]*AuthorStats{}} }

func (t *authorTally) add(c *Commit) {
	key := c.Author()
	a := t.by[key]
	if a == nil {
		a = &AuthorStats{Name: c.AuthorName, Email: c.AuthorEmail}
		t.by[key] = a
	}
	a.Commits++
	added, removed := c.Lines()
	a.Added += added
	a.Removed += removed
	a.FilesTouched += int64(len(c.Files))
	if at := c.AuthorTime; !at.IsZero() {
		if a.First.IsZero() || at.Before(a.First) {
			a.First = at
		}
		if at.After(a.Last) {
			a.Last = at
		}
	}
}

// sorted returns the authors, most commits first.
func (t *authorTally) sorted() []*AuthorStats {
	out := make([]*AuthorStats, 0, len(t.by))
	for _, a := range t.by {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *AuthorStats) int {
		if c := cmp.Compare(b.Commits, a.Commits); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Email, b.Email); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// authorsRecord summarises the contributions per author of one
// repository over the commits this run walked.
func (s *Source) authorsRecord(target string, t *authorTally) *audit.Record {
	r := audit.New(summaryActor, ActionAuthors, target, audit.TargetGit)
	r.Source = SourceName
	r.Timestamp = s.cfg.now()
	authors := make([]any, 0, len(t.by))
	var commits int64
	for _, a := range t.sorted() {
		m := map[string]any{
			"commits":       a.Commits,
			"lines_added":   a.Added,
			"lines_removed": a.Removed,
			"file_changes":  a.FilesTouched,
		}
		putText(m, "name", a.Name)
		putText(m, "email", a.Email)
		putTime(m, "first", a.First)
		putTime(m, "last", a.Last)
		authors = append(authors, m)
		commits += a.Commits
	}
	r.Context = map[string]any{
		"repository": target,
		"commits":    commits,
		"authors":    authors,
		"window":     s.window(),
	}
	r.Normalize()
	return r
}

// window describes the filters of the run, for summary records.
func (s *Source) window() map[string]any {
	w := map[string]any{}
	if !s.cfg.Since.IsZero() {
		w["since"] = s.cfg.Since.UTC().Format(time.RFC3339)
	}
	if !s.cfg.Until.IsZero() {
		w["until"] = s.cfg.Until.UTC().Format(time.RFC3339)
	}
	if s.cfg.Author != "" {
		putText(w, "author", s.cfg.Author)
	}
	if s.cfg.File != "" {
		putText(w, "file", s.cfg.File)
	}
	return w
}

// CommitOf reads a git_commit record this source wrote back into c
// (reusing c's slices): what other packages (analyzers) read of a commit.
// Text the record escaped is unescaped; paths stay relative to the
// commit's repository (c.Repo, the record's target); sizes are known where
// the record has them. It reports false for a record that is not a commit
// record of this source. Numbers may be Go integers, float64 or
// json.Number, as records come back from stores.
func CommitOf(r *audit.Record, c *Commit) bool {
	if r.Source != SourceName || r.Action != ActionCommit {
		return false
	}
	ctx := r.Context
	hash, _ := ctx["commit"].(string)
	if hash == "" {
		return false
	}
	files, parents := c.Files[:0], c.Parents[:0]
	*c = Commit{Repo: r.Target, Hash: hash, Signature: recordText(ctx, "signature_status"),
		Signer: recordText(ctx, "signer"), SigningKey: recordText(ctx, "signing_key"),
		AuthorName: recordText(ctx, "author_name"), AuthorEmail: recordText(ctx, "author_email"),
		CommitterName: recordText(ctx, "committer_name"), CommitterEmail: recordText(ctx, "committer_email"),
		AuthorTime: parseGitTime(recordText(ctx, "author_date")), CommitTime: parseGitTime(recordText(ctx, "committer_date"))}
	if c.CommitTime.IsZero() {
		c.CommitTime = r.Timestamp
	}
	if c.AuthorTime.IsZero() {
		c.AuthorTime = c.CommitTime
	}
	c.Message = recordText(ctx, "subject")
	if body := recordText(ctx, "body"); body != "" {
		c.Message += "\n\n" + body
	}
	ps, _ := ctx["parents"].([]any)
	for _, p := range ps {
		if s, ok := p.(string); ok {
			parents = append(parents, s)
		}
	}
	list, _ := ctx["files"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		p := recordText(m, "path")
		if p == "" {
			continue
		}
		f := FileChange{Path: p, OldPath: recordText(m, "old_path"), Added: audit.Int(m, "added"), Removed: audit.Int(m, "removed")}
		f.Binary, _ = m["binary"].(bool)
		f.Gitlink, _ = m["gitlink"].(bool)
		if _, ok := m["size"]; ok {
			f.Size, f.Sized = audit.Int(m, "size"), true
		}
		files = append(files, f)
	}
	c.Files, c.Parents = files, parents
	return true
}

// recordText reads a text member, undoing the escape the record flags.
func recordText(m map[string]any, key string) string {
	s, _ := m[key].(string)
	if esc, _ := m[key+"_escaped"].(bool); esc {
		return Unescape(s)
	}
	return s
}

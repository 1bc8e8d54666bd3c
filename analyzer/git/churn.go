package git

import (
	"context"
	"fmt"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
)

// FileChurn is how much a file changed over a period of the history.
type FileChurn struct {
	Revisions int   // commits that changed it
	Lines     int64 // lines added and removed
}

// Churn reads the git source's commit records committed in [since, until)
// (zero times leave that side open) and returns each file's churn under
// its newest path (repository-relative; a rename continues the old
// path's), merges and submodule pointer bumps aside. Other analyzers weigh
// their findings by it (coverage gaps, refactoring candidates, change
// velocity).
func Churn(ctx context.Context, tr audit.Reader, since, until time.Time) (map[string]FileChurn, error) {
	f := audit.Filter{TargetType: audit.TargetGit, Action: gitsource.ActionCommit, Since: since, Until: until, Limit: -1}
	out := map[string]FileChurn{}
	seen := map[string]bool{}
	var c gitsource.Commit
	for r, err := range tr.Query(ctx, f) {
		if err != nil {
			return nil, fmt.Errorf("read git_commit records: %w", err)
		}
		if !gitsource.CommitOf(r, &c) || c.Merge() || seen[c.Repo+"\x00"+c.Hash] {
			continue
		}
		seen[c.Repo+"\x00"+c.Hash] = true
		prefix := ""
		if c.Repo != "." && c.Repo != "" {
			prefix = c.Repo + "/"
		}
		for _, fc := range c.Files {
			if fc.Gitlink {
				continue
			}
			p := prefix + fc.Path
			fch := out[p]
			if fc.OldPath != "" {
				if old, ok := out[prefix+fc.OldPath]; ok {
					delete(out, prefix+fc.OldPath)
					fch.Revisions += old.Revisions
					fch.Lines += old.Lines
				}
			}
			fch.Revisions++
			fch.Lines += fc.Added + fc.Removed
			out[p] = fch
		}
	}
	return out, nil
}

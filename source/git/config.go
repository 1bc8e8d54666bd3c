package git

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// Recorded is the part of the trail the source reads to know what it
// recorded before. An audit.Store is a Recorded.
type Recorded interface {
	Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error]
}

// Config configures a Source. The zero value walks every branch, tag and
// remote-tracking branch of the repository and its initialised submodules
// and records every commit.
type Config struct {
	// Since and Until bound the commits walked by committer date (git's
	// --since and --until). Zero means unbounded.
	Since, Until time.Time
	// Author keeps the commits whose author name or e-mail matches this
	// regular expression (git's --author).
	Author string
	// File keeps the commits that changed this file, following renames
	// (git's --follow). It is relative to the directory Collect is given,
	// uses forward slashes and may lie inside a submodule. The commit
	// records still list every file each commit changed.
	File string
	// Blame records who wrote each line of File at Revision (HEAD when
	// empty), summarised by author and by age.
	Blame bool
	// Revision is the revision blamed; HEAD when empty.
	Revision string
	// Revisions are the revisions walked; when empty: every branch, tag
	// and remote-tracking branch, and HEAD.
	Revisions []string
	// NoSubmodules walks only the top repository.
	NoSubmodules bool
	// NoSignatures skips the signature check (git's %G?), which runs gpg
	// once per signed commit; commit records then carry no signature
	// status.
	NoSignatures bool
	// MaxFiles bounds the files listed in one commit record (the totals
	// always count every file); 0 means 1000, negative means no bound.
	MaxFiles int
	// Recorded is the trail read to skip commits already recorded and
	// summaries that did not change. Nil records everything walked.
	Recorded Recorded
	// Exclude is what is never read (see package exclude): blame refuses
	// a file inside the trail's directory or git's, or a private key.
	// Nil applies the rules by name and content.
	Exclude *exclude.Rules
	// OnCommit, when set, is called for every commit walked, recorded now
	// or before (Commit.New tells which), before its record is emitted.
	// The commit and its slices are reused after OnCommit returns.
	OnCommit func(*Commit)
	// OnBlame, when set, is called with the blame of File, recorded now
	// or not (an unchanged blame is not recorded again).
	OnBlame func(*Blame)
	// Now is the clock of summary records; time.Now when nil.
	Now func() time.Time
	// Git is the git program; "git" (found in PATH) when empty.
	Git string
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid git source configuration")

// Validate checks the options.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if !c.Since.IsZero() && !c.Until.IsZero() && !c.Since.Before(c.Until) {
		return bad("since (%s) must be before until (%s)", c.Since.Format(time.RFC3339), c.Until.Format(time.RFC3339))
	}
	if c.Blame && c.File == "" {
		return bad("blame needs a file")
	}
	if c.File != "" {
		f := path.Clean(strings.ReplaceAll(c.File, `\`, "/"))
		if path.IsAbs(f) || f == ".." || strings.HasPrefix(f, "../") || f == "." {
			return bad("file %q must be a path inside the repository", c.File)
		}
	}
	for _, r := range append([]string{c.Revision}, c.Revisions...) {
		if strings.HasPrefix(r, "-") {
			return bad("revision %q must not start with '-'", r)
		}
	}
	if strings.ContainsRune(c.Author, 0) {
		return bad("author must not contain NUL")
	}
	return nil
}

func (c *Config) maxFiles() int {
	switch {
	case c.MaxFiles == 0:
		return 1000
	case c.MaxFiles < 0:
		return int(^uint(0) >> 1)
	}
	return c.MaxFiles
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Config) git() string {
	if c.Git != "" {
		return c.Git
	}
	return "git"
}

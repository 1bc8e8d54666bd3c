package main

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/source/git"
)

// gitFlags are the flags of "ami-audit git".
type gitFlags struct {
	since, until string
	author       string
	file         string
	blame        bool
	repo         string
	noSubmodules bool
	noSignatures bool
	out          outputFlags
}

func (a *App) gitCommand() *cobra.Command {
	var f gitFlags
	cmd := &cobra.Command{
		Use:   "git [REPO]",
		Short: "Record a repository's git history and report on it",
		Long: `Record the git history of the repository in the current directory (or REPO):
one git_commit record per commit of every branch, tag and initialised
submodule, with the files and lines changed, renames and signature status;
a git_authors summary; the branches and tags (git_refs); with --blame, who
wrote each line of --file (git_blame).

Runs are incremental: a commit already in the trail is not recorded again,
so running it twice appends nothing the second time. The report covers
every commit the filters select, recorded now or before.

Dates are ISO dates (2024-01-31), RFC 3339 times, "now", "today",
"yesterday" or relative forms ("30 days ago", "2w").`,
		Example: `  ami-audit git
  ami-audit git --since="30 days ago" --format=markdown --output=git-history.md
  ami-audit git --author=alice --since=2024-01-01
  ami-audit git --file=src/app.py --blame`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if f.repo != "" {
					return usagef("give the repository either as an argument or with --repo, not both")
				}
				f.repo = args[0]
			}
			return a.runGit(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "only commits committed at or after DATE")
	fl.StringVar(&f.until, "until", "", "only commits committed before DATE")
	fl.StringVar(&f.author, "author", "", "only commits whose author name or e-mail matches NAME (a regular expression)")
	fl.StringVar(&f.file, "file", "", "only commits that changed PATH (following renames)")
	fl.BoolVar(&f.blame, "blame", false, "also record who wrote each line of --file, by author and age")
	fl.StringVar(&f.repo, "repo", "", "the repository (default: the current directory)")
	fl.BoolVar(&f.noSubmodules, "no-submodules", false, "do not walk submodules")
	fl.BoolVar(&f.noSignatures, "no-signatures", false, "do not check commit signatures (faster when many commits are signed)")
	addOutputFlags(cmd, &f.out)
	return cmd
}

// gitToplevel returns the root of the git repository holding dir; the
// error wraps git.ErrNotRepository when there is none.
func gitToplevel(ctx context.Context, dir string) (string, error) {
	return collect.GitToplevel(ctx, dir)
}

func (a *App) runGit(cmd *cobra.Command, f gitFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	now := time.Now()
	cfg := git.Config{
		Author:       f.author,
		Blame:        f.blame,
		NoSubmodules: f.noSubmodules,
		NoSignatures: f.noSignatures,
		Exclude:      a.exclusion(),
	}
	var err error
	if cfg.Since, err = parseDateFlag("since", f.since, now); err != nil {
		return err
	}
	if cfg.Until, err = parseDateFlag("until", f.until, now); err != nil {
		return err
	}
	if f.blame && f.file == "" {
		return withHint(usagef("--blame needs --file"), "ami-audit git --file=PATH --blame")
	}
	dir := f.repo
	if dir == "" {
		dir = "."
	}
	if f.file != "" {
		// --file is relative to the current directory, like any path the
		// user types; the source wants it relative to dir.
		rel, err := relativeTo(dir, f.file)
		if err != nil {
			return usagef("--file %s: %v", f.file, err)
		}
		cfg.File = rel
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	meter := progress.New(a.stderr, a.progress(), "git", "commits", 0)
	defer meter.Done()
	res, err := collect.Git(ctx, a.env(), collect.GitRequest{Dir: dir, Config: cfg, Progress: meter.Add})
	meter.Done()
	if errors.Is(err, git.ErrNotRepository) {
		return withHint(err, "run it inside a git repository, or name one: ami-audit git PATH")
	}
	if err != nil {
		if res != nil {
			a.appendedBeforeFailure(res.Appended)
		}
		return err
	}
	return a.render(f.out, res.Report)
}

// parseDateFlag parses a --since or --until value; empty means unset.
func parseDateFlag(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := datespec.Parse(v, now)
	if err != nil {
		return time.Time{}, withHint(usagef("--%s: %v", name, err), "dates look like 2024-01-31, \"30 days ago\" or now")
	}
	return t, nil
}

// relativeTo turns p, relative to the working directory, into a path
// relative to dir.
func relativeTo(dir, p string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absP, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if d, err := filepath.EvalSymlinks(absDir); err == nil {
		absDir = d
		if q, err := filepath.EvalSymlinks(filepath.Dir(absP)); err == nil {
			absP = filepath.Join(q, filepath.Base(absP))
		}
	}
	rel, err := filepath.Rel(absDir, absP)
	if err != nil {
		return "", err
	}
	if rel == "." || rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
		return "", errors.New("is not inside the repository")
	}
	return filepath.ToSlash(rel), nil
}

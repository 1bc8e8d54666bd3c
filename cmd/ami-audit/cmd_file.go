package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/source/file"
)

// fileFlags are the flags of "ami-audit file".
type fileFlags struct {
	pattern        bool
	includeGit     bool
	noIgnore       bool
	all            bool
	followSymlinks bool
	allowOutside   bool
	root           string
	rows           int
	out            outputFlags
}

// defaultFileRows is how many files the report's table lists.
const defaultFileRows = 500

func (a *App) fileCommand() *cobra.Command {
	var f fileFlags
	cmd := &cobra.Command{
		Use:   "file PATH|GLOB",
		Short: "Record files' hashes and metadata and report on them",
		Long: `Record a file, every file under a directory, or (with --pattern) every file
matching a glob: one file_hash record per file with its SHA-256, size, mode,
owner and group, modification time, symbolic link target and whether it is
binary. Paths in the records are relative to the top of the git repository
holding them (or to --root).

Every file git tracks is audited. Untracked files that .gitignore excludes
are left out (--no-ignore includes them); git's internals and the trail's
own directory are never read. Both are counted and listed in the report
("Not audited"). A private key file is recorded (hash, size, mode) with
private_key: true, never its content. Each record's time is when it was
audited; the file's modification time is in its context (mtime).
Symbolic links are recorded as links and
never followed unless --follow-symlinks is given, and never out of the tree
unless --allow-outside is given too.

Runs are incremental: a file whose content and metadata did not change
since its last record is not recorded again (--all records it anyway).
Files that cannot be read (permissions, named pipes, sockets, files removed
while the run goes) do not stop the run: each is recorded as a file_skipped
warning, and listed in the report.

In a pattern, "*" matches within a directory and "**" across directories;
quote it so that the shell does not expand it.`,
		Example: `  ami-audit file README.md
  ami-audit file src/
  ami-audit file "src/**/*.py" --pattern --include-git
  ami-audit file . --all --format=json --output=files.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return withHint(usagef("file takes one PATH or GLOB, got %d arguments", len(args)), `quote a glob so the shell does not expand it: ami-audit file "src/**/*.py" --pattern`)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runFile(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.pattern, "pattern", false, `treat the argument as a glob ("**" crosses directories)`)
	fl.BoolVar(&f.includeGit, "include-git", false, "add the last commit (hash, author, date) that touched each file")
	fl.BoolVar(&f.noIgnore, "no-ignore", false, "include files that .gitignore excludes")
	fl.BoolVar(&f.all, "all", false, "record every file, even those unchanged since their last record")
	fl.BoolVar(&f.followSymlinks, "follow-symlinks", false, "hash the files links point to and walk linked directories (inside the tree)")
	fl.BoolVar(&f.allowOutside, "allow-outside", false, "with --follow-symlinks, follow links out of the tree too")
	fl.StringVar(&f.root, "root", "", "directory record paths are relative to (default: the git repository's top, else the current directory)")
	fl.IntVar(&f.rows, "rows", defaultFileRows, "list at most N files in the report's file table")
	addOutputFlags(cmd, &f.out)
	return cmd
}

func (a *App) runFile(cmd *cobra.Command, target string, f fileFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	if f.allowOutside && !f.followSymlinks {
		return withHint(usagef("--allow-outside needs --follow-symlinks"), "ami-audit file PATH --follow-symlinks --allow-outside")
	}
	if f.rows < 0 {
		return usagef("--rows %d must not be negative", f.rows)
	}
	if !f.pattern {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) && strings.ContainsAny(target, "*?[{") {
			return withHint(fmt.Errorf("%s: no such file or directory", target), "to use it as a glob, add --pattern")
		}
	}
	meter := progress.New(a.stderr, a.progress(), "file", "files", 0)
	defer meter.Done()
	res, err := collect.Files(ctx, a.env(), collect.FilesRequest{
		Target: target,
		Config: file.Config{
			Root:           f.root,
			Pattern:        f.pattern,
			NoIgnore:       f.noIgnore,
			FollowSymlinks: f.followSymlinks,
			AllowOutside:   f.allowOutside,
			IncludeGit:     f.includeGit,
			Force:          f.all,
		},
		Rows:     f.rows,
		Progress: meter.Add,
	})
	meter.Done()
	if err != nil {
		if res != nil {
			a.appendedBeforeFailure(res.Appended)
		}
		switch {
		case errors.Is(err, file.ErrBadPattern):
			return withHint(usageError{err}, `"*" matches within a directory, "**" across, "[abc]" one of a set, "{a,b}" either`)
		case errors.Is(err, file.ErrNoMatch) && !f.noIgnore:
			return withHint(err, "files .gitignore excludes are left out; --no-ignore includes them")
		case errors.Is(err, file.ErrOutsideRoot):
			return usageError{err}
		}
		return err
	}
	return a.render(f.out, res.Report)
}

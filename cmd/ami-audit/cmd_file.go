package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/report"
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
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	tally := &file.Tally{MaxRows: max(f.rows, 1), MaxWarnings: maxReportWarnings}
	meter := progress.New(a.stderr, a.progress(), "file", "files", 0)
	defer meter.Done()
	src, err := file.New(file.Config{
		Root:           f.root,
		Pattern:        f.pattern,
		NoIgnore:       f.noIgnore,
		FollowSymlinks: f.followSymlinks,
		AllowOutside:   f.allowOutside,
		IncludeGit:     f.includeGit,
		Force:          f.all,
		Trail:          store,
		Exclude:        a.exclusion(),
		Observe: func(e file.Entry) {
			tally.Observe(e)
			if e.Change != file.ChangeNotice {
				meter.Add(1)
			}
		},
	})
	if err != nil {
		return usageError{err}
	}
	appended := 0
	col, err := a.collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { appended += len(recs) }})
	if err != nil {
		return err
	}
	_, err = col.Run(ctx, target, []audit.Source{src})
	meter.Done()
	if err != nil {
		a.appendedBeforeFailure(appended)
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
	if f.rows == 0 {
		tally.Rows, tally.RowsDropped = nil, tally.RowsDropped+int64(len(tally.Rows))
	}
	return a.render(f.out, fileReport(target, f, tally, appended, now))
}

// fileReport builds the report of one file run: the figures, the files
// (up to the cap) and the files per extension.
func fileReport(target string, f fileFlags, t *file.Tally, appended int, now time.Time) *report.Report {
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	r := &report.Report{
		Title:     "Files: " + target,
		Generated: now.UTC(),
		Summary: []report.Item{
			{Label: "Target", Value: target},
			{Label: "Files", Value: i64(t.Files)},
			{Label: "Size", Value: humanize.IBytes(uint64(max(t.Bytes, 0))) + " (" + i64(t.Bytes) + " bytes)"},
			{Label: "New", Value: i64(t.New)},
			{Label: "Changed", Value: i64(t.Changed)},
			{Label: "Unchanged", Value: i64(t.Unchanged)},
			{Label: "Skipped", Value: i64(t.Skipped)},
			{Label: "Excluded", Value: i64(t.Excluded)},
			{Label: "Ignored (untracked)", Value: i64(t.Ignored)},
			{Label: "Warnings", Value: i64(t.WarningCount)},
			{Label: "Records appended", Value: strconv.Itoa(appended)},
		},
		Warnings: t.Warnings,
	}
	if t.WarningCount > int64(len(t.Warnings)) {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s more in the trail (query --action=%s, or severity warning)", plural.Count(t.WarningCount-int64(len(t.Warnings)), "warning"), file.ActionSkipped))
	}

	files := report.Section{Title: "Files", Columns: []string{"Path", "Change", "Type", "Size", "SHA-256"}}
	if f.includeGit {
		files.Columns = append(files.Columns, "Last commit")
	}
	for _, e := range t.Rows {
		kind := e.Type
		if kind == "file" {
			kind = "text"
			if e.Binary {
				kind = "binary"
			}
		}
		sum := e.SHA256
		if len(sum) > 16 {
			sum = sum[:16]
		}
		row := []string{e.Path, string(e.Change), kind, humanize.IBytes(uint64(max(e.Size, 0))), sum}
		if f.includeGit {
			row = append(row, e.Commit)
		}
		files.Rows = append(files.Rows, row)
	}
	shown := int64(len(t.Rows))
	total := shown + t.RowsDropped
	switch {
	case total == 0:
		files.Text = "No files."
	case t.RowsDropped > 0:
		files.Text = fmt.Sprintf("The first %d of %d paths, in walk order (--rows changes the cap; every file is in the trail).", shown, total)
	}
	if total > 0 {
		r.Sections = append(r.Sections, files)
	}

	if sec, ok := notAudited(t); ok {
		r.Sections = append(r.Sections, sec)
	}

	exts := t.Extensions()
	if len(exts) > 0 {
		table := report.Section{Title: "Files by extension", Columns: []string{"Extension", "Files", "Size", "Bytes"}}
		chart := &report.Chart{Kind: report.ChartBar, Unit: "files"}
		for i, e := range exts {
			if i == maxFileExtensions {
				table.Text = fmt.Sprintf("The %d extensions with the most files, of %d.", maxFileExtensions, len(exts))
				break
			}
			table.Rows = append(table.Rows, []string{e.Ext, i64(e.Files), humanize.IBytes(uint64(max(e.Bytes, 0))), i64(e.Bytes)})
			if i < maxChartBars {
				chart.Labels = append(chart.Labels, e.Ext)
				chart.Values = append(chart.Values, float64(e.Files))
			}
		}
		r.Sections = append(r.Sections, table, report.Section{Title: "Files per extension", Chart: chart})
	}
	return r
}

// notAudited lists the paths the file source passed over: never read
// (git internals, the trail's directory) or untracked and ignored. Files
// that could not be hashed are in the trail as file_skipped records.
func notAudited(t *file.Tally) (report.Section, bool) {
	if len(t.Passed) == 0 {
		return report.Section{}, false
	}
	sec := report.Section{Title: "Not audited", Columns: []string{"Path", "Why"}}
	for _, e := range t.Passed {
		sec.Rows = append(sec.Rows, []string{e.Path, string(e.Change) + ": " + e.Reason})
	}
	if t.PassedDropped > 0 {
		sec.Text = fmt.Sprintf("The first %d of %d paths (a directory counts once).", len(t.Passed), int64(len(t.Passed))+t.PassedDropped)
	}
	return sec, true
}

// Caps of the extension table and chart.
const (
	maxFileExtensions = 25
	maxChartBars      = 12
)

package collect

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/file"
)

// FilesRequest asks for the hashes and metadata of files.
type FilesRequest struct {
	// Target is a file, a directory, or with Pattern a glob.
	Target string
	// Config configures the file source (Trail, Exclude and Observe are
	// set here).
	Config file.Config
	// Rows caps the files the report lists (0: none).
	Rows int
	// Progress counts the files hashed.
	Progress Progress
}

// Files records the files of req.Target and reports on them. Its errors
// wrap the file source's (file.ErrBadPattern, file.ErrNoMatch,
// file.ErrOutsideRoot); a configuration the source refuses is a usage
// error.
func Files(ctx context.Context, env *Env, req FilesRequest) (*Result, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tally := &file.Tally{MaxRows: max(req.Rows, 1), MaxWarnings: MaxReportWarnings}
	cfg := req.Config
	cfg.Trail = store
	cfg.Exclude = env.Exclusion()
	cfg.Observe = func(e file.Entry) {
		tally.Observe(e)
		if e.Change != file.ChangeNotice {
			req.Progress.add(1)
		}
	}
	src, err := file.New(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	res := &Result{}
	col, err := env.Collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { res.Appended += len(recs) }})
	if err != nil {
		return nil, err
	}
	res.Summary, err = col.Run(ctx, req.Target, []audit.Source{src})
	if err != nil {
		return res, err
	}
	if req.Rows == 0 {
		tally.Rows, tally.RowsDropped = nil, tally.RowsDropped+int64(len(tally.Rows))
	}
	res.Report = fileReport(req.Target, cfg.IncludeGit, tally, res.Appended, now)
	return res, nil
}

// fileReport builds the report of one file run: the figures, the files
// (up to the cap) and the files per extension.
func fileReport(target string, includeGit bool, t *file.Tally, appended int, now time.Time) *report.Report {
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
			{Label: "Removed", Value: i64(t.Removed)},
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
	if includeGit {
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
		if includeGit {
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

	r.Sections = append(r.Sections, extensionSections(t)...)
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

// extensionSections are the table and chart of the files per extension
// (none without files).
func extensionSections(t *file.Tally) []report.Section {
	exts := t.Extensions()
	if len(exts) == 0 {
		return nil
	}
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
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
	return []report.Section{table, {Title: "Files per extension", Chart: chart}}
}

// Caps of the extension table and chart.
const (
	maxFileExtensions = 25
	maxChartBars      = 12
)

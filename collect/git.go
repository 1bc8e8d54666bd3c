package collect

import (
	"context"
	"path/filepath"
	"strconv"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/source/git"
)

// GitRequest asks for a repository's git history.
type GitRequest struct {
	// Dir is the repository ("": the working directory).
	Dir string
	// Config configures the git source (Recorded, OnCommit, OnBlame and
	// Exclude are set here); File is relative to Dir.
	Config git.Config
	// Progress counts the commits walked.
	Progress Progress
}

// Git records the history of a repository and reports on every commit
// the filters select, recorded now or before. A directory that is not in
// a git repository is an error wrapping git.ErrNotRepository, found
// before the trail is opened.
func Git(ctx context.Context, env *Env, req GitRequest) (*Result, error) {
	cfg := req.Config
	cfg.Exclude = env.Exclusion()
	if err := cfg.Validate(); err != nil {
		return nil, usererr.Usage(err)
	}
	dir := req.Dir
	if dir == "" {
		dir = "."
	}
	// Before the trail is opened (and perhaps created): is there history?
	if _, err := GitToplevel(ctx, dir); err != nil {
		return nil, err
	}
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	stats := git.NewStats()
	var blame *git.Blame
	cfg.Recorded = store
	cfg.OnCommit = func(c *git.Commit) {
		stats.Add(c)
		req.Progress.add(1)
	}
	cfg.OnBlame = func(b *git.Blame) { blame = b }
	src, err := git.New(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	appended := map[string]int{}
	var warnings []string
	col, err := env.Collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) {
		for _, r := range recs {
			appended[r.Action]++
			if r.Action == git.ActionWarning {
				msg, _ := r.Context["error"].(string)
				warnings = append(warnings, r.Target+": "+msg)
			}
		}
	}})
	if err != nil {
		return nil, err
	}
	sum, err := col.Run(ctx, dir, []audit.Source{src})
	res := &Result{Summary: sum}
	if sum != nil {
		res.Appended = sum.Records()
	}
	if err != nil {
		return res, err
	}
	res.Report = gitReport(dir, cfg, stats, blame, appended, warnings, now)
	return res, nil
}

// gitReport builds the report of one git run.
func gitReport(dir string, cfg git.Config, stats *git.Stats, blame *git.Blame, appended map[string]int, warnings []string, now time.Time) *report.Report {
	title := "Git history"
	if abs, err := filepath.Abs(dir); err == nil {
		title += " of " + filepath.Base(abs)
	}
	r := &report.Report{Title: title, Generated: now.UTC(), Warnings: warnings}
	var filters []report.Item
	if !cfg.Since.IsZero() {
		filters = append(filters, report.Item{Label: "Since", Value: cfg.Since.Format(time.RFC3339)})
	}
	if !cfg.Until.IsZero() {
		filters = append(filters, report.Item{Label: "Until", Value: cfg.Until.Format(time.RFC3339)})
	}
	if cfg.Author != "" {
		filters = append(filters, report.Item{Label: "Author", Value: cfg.Author})
	}
	if cfg.File != "" {
		filters = append(filters, report.Item{Label: "File", Value: cfg.File})
	}
	r.Summary = append(filters, stats.Summary()...)
	total := 0
	for _, n := range appended {
		total += n
	}
	r.Summary = append(r.Summary, report.Item{Label: "Records appended", Value: strconv.Itoa(total)})
	r.Sections = stats.Sections()
	if blame != nil {
		r.Sections = append(r.Sections, blame.Sections()...)
	}
	return r
}

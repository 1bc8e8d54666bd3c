// Package gitcommit exports records as a report committed into a git
// repository: each batch becomes one Markdown file,
// DIR/LOG_ID/FIRST-LAST.md (sequence numbers, zero-padded), committed
// alone with the message "ami-audit: records FIRST–LAST of log LOG_ID".
//
// The report states what it covers and how to check it: the log, the
// sequence range, the record_hash of the last record (which, through the
// chain, vouches for every record before it) and the tree size it
// belongs to, then every record's time, severity, actor, action, target,
// id and hash. Its content depends only on the records, so a batch
// exported twice (delivery is at least once) writes the same file and the
// second commit finds nothing to commit: the repository holds each batch
// once.
//
// The exporter runs the git command in the repository's work tree and
// commits only its file, whatever else is staged. The author is git's
// configured identity, or "ami-audit <ami-audit@localhost>" when there is
// none.
package gitcommit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/markdown"
)

// DefaultDir is where reports go in the repository.
const DefaultDir = "audit-reports"

// Config configures the exporter.
type Config struct {
	// Repo is the repository's work tree.
	Repo string
	// Dir is the reports' directory in it (DefaultDir).
	Dir string
	// LogID and Origin name the trail.
	LogID, Origin string
	// Git is the git command (default "git").
	Git string
}

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	if c.Repo == "" {
		return errors.New("git export: no repository")
	}
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if filepath.IsAbs(c.Dir) || strings.HasPrefix(filepath.Clean(c.Dir), "..") {
		return fmt.Errorf("git export: directory %q must be inside the repository", c.Dir)
	}
	if c.LogID == "" {
		return errors.New("git export: no log id")
	}
	if c.Git == "" {
		c.Git = "git"
	}
	return nil
}

// Exporter commits reports.
type Exporter struct{ cfg Config }

// New returns an exporter, after checking that Repo is a git work tree.
func New(cfg Config) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Exporter{cfg: cfg}
	out, err := e.git(context.Background(), "rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(out) != "true" {
		return nil, fmt.Errorf("git export: %s is not a git work tree: %v", cfg.Repo, err)
	}
	return e, nil
}

// Close does nothing.
func (e *Exporter) Close() error { return nil }

// Path is the report file of a batch, relative to the repository.
func (e *Exporter) Path(first, last uint64) string {
	return filepath.ToSlash(filepath.Join(e.cfg.Dir, e.cfg.LogID, fmt.Sprintf("%012d-%012d.md", first, last)))
}

// Export writes and commits the report of recs.
func (e *Exporter) Export(ctx context.Context, recs []*audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	first, last := recs[0].Sequence, recs[len(recs)-1].Sequence
	rel := e.Path(first, last)
	path := filepath.Join(e.cfg.Repo, filepath.FromSlash(rel))
	var b bytes.Buffer
	if err := markdown.New().Format(&b, e.Report(recs)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return err
	}
	if _, err := e.git(ctx, "add", "--", rel); err != nil {
		return err
	}
	// nothing staged for the file: this batch is committed already
	if _, err := e.git(ctx, "diff", "--cached", "--quiet", "--", rel); err == nil {
		return nil
	}
	msg := fmt.Sprintf("ami-audit: records %d–%d of log %s\n\n%d records from %s.", first, last, e.cfg.LogID, len(recs), e.cfg.Origin)
	_, err := e.git(ctx, "commit", "--quiet", "--no-verify", "-m", msg, "--", rel)
	return err
}

// Report is the report of a batch.
func (e *Exporter) Report(recs []*audit.Record) *report.Report {
	first, last := recs[0], recs[len(recs)-1]
	bySev := map[audit.Severity]int{}
	for _, r := range recs {
		bySev[r.Severity]++
	}
	var sev []string
	for _, s := range audit.Severities {
		if bySev[s] > 0 {
			sev = append(sev, fmt.Sprintf("%s %d", s, bySev[s]))
		}
	}
	r := &report.Report{
		Title: fmt.Sprintf("Audit records %d–%d of log %s", first.Sequence, last.Sequence, e.cfg.LogID),
		Summary: []report.Item{
			{Label: "Log", Value: e.cfg.LogID},
			{Label: "Origin", Value: e.cfg.Origin},
			{Label: "Sequence", Value: fmt.Sprintf("%d to %d", first.Sequence, last.Sequence)},
			{Label: "Records", Value: strconv.Itoa(len(recs))},
			{Label: "Severities", Value: strings.Join(sev, ", ")},
			{Label: "Tree size", Value: strconv.FormatUint(last.Sequence+1, 10)},
			{Label: "Last record_hash", Value: last.RecordHash},
		},
		Sections: []report.Section{{
			Title: "Integrity",
			Text: fmt.Sprintf("Every record below is hash-chained: the record_hash of record %d vouches for all of them. "+
				"Check it with 'ami-audit verify --record %s', or with 'ami-audit prove' against a signed checkpoint of size %d or more.",
				last.Sequence, last.RecordID, last.Sequence+1),
		}},
	}
	s := report.Section{Title: "Records", Columns: []string{"Seq", "Time", "Severity", "Actor", "Action", "Target", "Record ID", "Record hash"}}
	for _, rec := range recs {
		s.Rows = append(s.Rows, []string{strconv.FormatUint(rec.Sequence, 10), audit.FormatTime(rec.Timestamp), string(rec.Severity),
			rec.Actor, rec.Action, rec.Target, rec.RecordID, rec.RecordHash})
	}
	r.Sections = append(r.Sections, s)
	return r
}

// git runs git in the repository, with an identity when none is set.
func (e *Exporter) git(ctx context.Context, args ...string) (string, error) {
	pre := []string{"-C", e.cfg.Repo}
	if args[0] == "commit" && !e.hasIdentity(ctx) {
		pre = append(pre, "-c", "user.name=ami-audit", "-c", "user.email=ami-audit@localhost")
	}
	cmd := exec.CommandContext(ctx, e.cfg.Git, append(pre, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (e *Exporter) hasIdentity(ctx context.Context) bool {
	if os.Getenv("GIT_AUTHOR_EMAIL") != "" || os.Getenv("EMAIL") != "" {
		return true
	}
	out, err := exec.CommandContext(ctx, e.cfg.Git, "-C", e.cfg.Repo, "config", "user.email").Output()
	return err == nil && strings.TrimSpace(string(out)) != ""
}

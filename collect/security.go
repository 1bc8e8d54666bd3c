package collect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/analyzer/security"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/secrets"
)

// SecurityRequest asks for the security analyzer over a repository and
// the trail.
type SecurityRequest struct {
	// Root is the repository (absolute).
	Root string
	// Config configures the analyzer (Root, Detector and Progress are set
	// here).
	Config security.Config
	// Progress counts the files and changes examined.
	Progress Progress
}

// SecurityResult is a Result with the analyzer's results, for gates.
type SecurityResult struct {
	Result
	Analyzers []analyzer.Result
}

// Security runs the security analyzer over the repository and the trail,
// appends its new, changed and resolved findings, and reports the open
// ones (Report.Findings). When ctx ends the error is ctx's.
func Security(ctx context.Context, env *Env, req SecurityRequest) (*SecurityResult, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	det, err := SecurityDetector(env, req.Root)
	if err != nil {
		return nil, err
	}
	cfg := req.Config
	cfg.Root, cfg.Detector = req.Root, det
	cfg.Progress = func(n int) { req.Progress.add(int64(n)) }
	sec, err := security.New(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	now := time.Now()
	// The analyzer's records pass a masking step like every record; no
	// source runs here, so the analyzer's own detector (the repository's
	// rules, the trail's fingerprint key) serves, and no second set of
	// rules is compiled.
	mask := func(r *audit.Record) { det.MaskRecord(r) }
	results, runErr := analyzer.Run(ctx, analyzer.Config{Trail: store, Appender: store, Mask: mask}, []audit.Analyzer{sec}, analyzer.Input{Target: req.Root})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if results == nil {
		return nil, runErr
	}
	res := &SecurityResult{Analyzers: results}
	res.Appended = analyzerRecords(results)
	rep := securityReport(req.Root, sec, results, now, time.Since(now))
	if h, err := store.Head(ctx); err == nil {
		rep.Summary = append(rep.Summary, report.Item{Label: "Trail size", Value: strconv.FormatUint(h.Size, 10)},
			report.Item{Label: "Trail head", Value: h.Hash})
	}
	res.Report = rep
	return res, runErr
}

// SecurityDetector is the secret detector of the security analyzer for
// the repository at root: gitleaks' rules, or the repository's
// .gitleaks.toml when it has one, with ami-audit's rules, and the trail's
// fingerprint key, so that a secret has the same fingerprint in every
// record.
//
// When the rules are the masking detector's (no .gitleaks.toml in the
// repository, the same gitleaks configuration), that detector serves: one
// set of compiled rules in memory, not two.
func SecurityDetector(env *Env, root string) (*secrets.Detector, error) {
	cfg := secrets.Config{}
	if p := filepath.Join(root, ".gitleaks.toml"); regularFile(p) {
		cfg.GitleaksConfig = p
	}
	if cfg.GitleaksConfig == env.GitleaksConfig {
		return env.Detector()
	}
	key, err := FingerprintKey(env.Dir)
	if err != nil {
		return nil, err
	}
	cfg.FingerprintKey = key
	d, err := secrets.New(cfg)
	if err != nil {
		return nil, usererr.WithHint(err, "fix the repository's .gitleaks.toml")
	}
	return d, nil
}

func regularFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// securityReport is the report of a security run.
func securityReport(root string, sec *security.Analyzer, results []analyzer.Result, now time.Time, took time.Duration) *report.Report {
	st := sec.Stats()
	res := results[0]
	done := strings.Join(res.Done, ", ")
	if done == "" {
		done = "none"
	}
	r := &report.Report{
		Title:     "Security audit of " + filepath.Base(root),
		Generated: now.UTC(),
		Summary: []report.Item{
			{Label: "Repository", Value: root},
			{Label: "Checks done", Value: done},
		},
	}
	AnalyzersReport(r, []audit.Analyzer{sec}, results)
	r.Summary = append(r.Summary,
		report.Item{Label: "Records appended", Value: strconv.Itoa(res.Appended())},
		report.Item{Label: "Files examined", Value: strconv.Itoa(st.Files)},
		report.Item{Label: "Secrets accepted", Value: fmt.Sprintf("%d (.gitleaksignore and the baseline)", st.Accepted)},
		report.Item{Label: "Dependencies", Value: fmt.Sprintf("%d (%d without a version to compare)", st.Dependencies, st.Unchecked)},
		report.Item{Label: "Duration", Value: took.Round(time.Millisecond).String()},
	)
	return r
}

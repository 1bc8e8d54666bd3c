// Package collect runs the collections of ami-audit into a trail: one
// function per kind of audit (Repo, Files, Git, Logs, Modules, Quality,
// Services; Watch follows live sources through the stream collector), each
// building its sources, running them through the one collector that masks
// every record (secrets.Detector.MaskRecord) and applies the one exclusion
// (source/exclude), and returning the report of the run. The command line,
// the MCP server and the HTTP API call these functions; none of them builds
// a source or a collector itself.
//
// Requests hold values, not flags: the front end parses what its user gave
// (dates, severities) and presents the errors (usererr marks those caused
// by the request).
package collect

import (
	"context"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/secrets"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Env is what every collection into one trail shares.
type Env struct {
	// Dir is the trail's directory: no source reads it.
	Dir string
	// Open returns the trail's store, open for appending. A collection
	// calls it only once its request is known to be valid, so that a
	// command refused for its request creates no trail.
	Open func(ctx context.Context) (audit.Store, error)
	// Detector returns the masking step every record passes before it is
	// appended; GitleaksConfig is the file of the gitleaks rules it was
	// built with ("": gitleaks' own).
	Detector       func() (*secrets.Detector, error)
	GitleaksConfig string
	// Notice tells the user something about the run (nil: nothing is
	// said).
	Notice func(format string, args ...any)
	// Retention, when set, returns what the trail's retention policies
	// keep (trail.RetentionKeeps; nil: everything): a record they would
	// prune at once is not appended (again, after 'retention apply').
	Retention func(ctx context.Context) (func(*audit.Record) bool, error)
	// Trail, when set, returns the open trail: analyzers that judge the
	// trail itself (compliance) need its facts, not only its records.
	Trail func(ctx context.Context) (*trail.Trail, error)
}

// ForTrail is the Env of an open trail and a detector (a server's: the
// trail stays open between collections).
func ForTrail(t *trail.Trail, d *secrets.Detector) *Env {
	return &Env{
		Dir:      t.Dir(),
		Open:     func(context.Context) (audit.Store, error) { return t.Store(), nil },
		Detector: func() (*secrets.Detector, error) { return d, nil },
		Retention: func(ctx context.Context) (func(*audit.Record) bool, error) {
			return t.RetentionKeeps(ctx, time.Now())
		},
		Trail: func(context.Context) (*trail.Trail, error) { return t, nil },
	}
}

func (e *Env) notice(format string, args ...any) {
	if e.Notice != nil {
		e.Notice(format, args...)
	}
}

// Exclusion is what no source reads: git internals, private key files and
// the trail's directory, wherever it is.
func (e *Env) Exclusion() *exclude.Rules { return exclude.New(e.Dir) }

// Collector is the one way collections build a batch collector: it masks
// every record of every source (see secrets.Detector.MaskRecord) before
// the trail, a report or an analyzer sees it.
func (e *Env) Collector(app audit.Appender, cfg batch.Config) (*batch.Collector, error) {
	d, err := e.Detector()
	if err != nil {
		return nil, err
	}
	cfg.Mask = func(r *audit.Record) { d.MaskRecord(r) }
	if e.Retention != nil {
		if cfg.Keep, err = e.Retention(context.Background()); err != nil {
			return nil, err
		}
	}
	return batch.New(app, cfg)
}

// Result is the outcome of a collection. A collection that failed may
// still return a Result: Appended says how many records it appended
// before the failure (they stay in the trail).
type Result struct {
	// Report is the run's report (nil when the run failed).
	Report *report.Report
	// Appended is the number of records appended.
	Appended int
	// Summary is the batch collector's account of the run.
	Summary *batch.Summary
}

// Progress is called with the number of items (files, commits, lines,
// records) done since its last call; nil reports nothing.
type Progress func(n int64)

func (p Progress) add(n int64) {
	if p != nil {
		p(n)
	}
}

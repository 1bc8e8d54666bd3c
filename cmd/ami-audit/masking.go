package main

import (
	"context"
	"os"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/secrets"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// fingerprintKeyFile holds the trail's key for secret fingerprints.
const fingerprintKeyFile = collect.FingerprintKeyFile

// secretDetector is the one detector every record passes before it is
// appended. It is built on first use with the trail's fingerprint key
// (created in the audit directory when missing, mode 0600).
func (a *App) secretDetector() (*secrets.Detector, error) {
	if a.detector != nil {
		return a.detector, nil
	}
	d, err := collect.NewDetector(a.auditDir, a.gitleaksConfig)
	if err != nil {
		return nil, err
	}
	a.detector = d
	return d, nil
}

// fingerprintKey reads the trail's fingerprint key, creating it when
// there is none (collect.FingerprintKey).
func (a *App) fingerprintKey() ([]byte, error) { return collect.FingerprintKey(a.auditDir) }

// env is what the collections of this command share: the trail (opened,
// or created, on first use), its directory, the masking step.
func (a *App) env() *collect.Env {
	return &collect.Env{
		Dir:            a.auditDir,
		Open:           a.openStore,
		Detector:       a.secretDetector,
		GitleaksConfig: a.gitleaksConfig,
		Notice:         a.notice,
		Retention: func(ctx context.Context) (func(*audit.Record) bool, error) {
			if a.trail == nil {
				return nil, nil
			}
			return a.trail.RetentionKeeps(ctx, time.Now())
		},
		Trail: func(ctx context.Context) (*trail.Trail, error) { return a.openTrail(ctx, false) },
	}
}

// exclusion is what no source reads: git internals, private key files and
// this trail's directory, wherever --audit-dir puts it.
func (a *App) exclusion() *exclude.Rules { return a.env().Exclusion() }

// maskRecord is the masking step every record passes before it is
// appended.
func (a *App) maskRecord(r *audit.Record) error {
	d, err := a.secretDetector()
	if err != nil {
		return err
	}
	d.MaskRecord(r)
	return nil
}

// collector is the one way commands build a batch collector: it masks
// every record of every source (see secrets.Detector.MaskRecord) before
// the trail, a report or an analyzer sees it.
func (a *App) collector(app audit.Appender, cfg batch.Config) (*batch.Collector, error) {
	return a.env().Collector(app, cfg)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

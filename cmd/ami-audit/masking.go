package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/secrets"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
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
		Dir:      a.auditDir,
		Open:     a.openStore,
		Detector: a.secretDetector,
		Notice:   a.notice,
		Retention: func(ctx context.Context) (func(*audit.Record) bool, error) {
			if a.trail == nil {
				return nil, nil
			}
			return a.trail.RetentionKeeps(ctx, time.Now())
		},
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

// securityDetector is the secret detector of the security analyzer for the
// repository at root: gitleaks' rules, or the repository's .gitleaks.toml
// when it has one, with ami-audit's rules, and the trail's fingerprint
// key, so that a secret has the same fingerprint in every record.
//
// When the rules are the masking detector's (no .gitleaks.toml in the
// repository, the same --gitleaks-config), that detector serves: one set
// of compiled rules in memory, not two.
func (a *App) securityDetector(root string) (*secrets.Detector, error) {
	cfg := secrets.Config{}
	if p := filepath.Join(root, ".gitleaks.toml"); fileExists(p) {
		cfg.GitleaksConfig = p
	}
	if cfg.GitleaksConfig == a.gitleaksConfig {
		return a.secretDetector()
	}
	key, err := a.fingerprintKey()
	if err != nil {
		return nil, err
	}
	cfg.FingerprintKey = key
	d, err := secrets.New(cfg)
	if err != nil {
		return nil, withHint(err, "fix the repository's .gitleaks.toml")
	}
	return d, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

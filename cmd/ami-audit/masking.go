package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/secrets"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// fingerprintKeyFile holds the trail's key for secret fingerprints.
const fingerprintKeyFile = "fingerprint.key"

// fingerprintKeyHeader starts the fingerprint key file.
const fingerprintKeyHeader = "# ami-audit secret-fingerprint key: keep it private, give it to every machine collecting into this trail\n"

// secretDetector is the one detector every record passes before it is
// appended. It is built on first use with the trail's fingerprint key
// (created in the audit directory when missing, mode 0600).
func (a *App) secretDetector() (*secrets.Detector, error) {
	if a.detector != nil {
		return a.detector, nil
	}
	key, err := a.fingerprintKey()
	if err != nil {
		return nil, err
	}
	d, err := secrets.New(secrets.Config{GitleaksConfig: a.gitleaksConfig, FingerprintKey: key})
	if err != nil {
		return nil, withHint(err, "check --gitleaks-config")
	}
	a.detector = d
	return d, nil
}

// fingerprintKey reads the trail's fingerprint key, creating it when
// there is none. Like a private key, it is refused when others may read
// it: whoever holds it can test guesses of a masked secret.
func (a *App) fingerprintKey() ([]byte, error) {
	path := a.auditPath(fingerprintKeyFile)
	for range 2 {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if err := a.writeFingerprintKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("fingerprint key: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, withHint(fmt.Errorf("%s is readable by group or others (mode %04o)", path, fi.Mode().Perm()), "run: chmod 600 "+path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			key, err := base64.StdEncoding.DecodeString(line)
			if err != nil || len(key) < secrets.MinKeySize {
				break
			}
			return key, nil
		}
		return nil, fmt.Errorf("%s: not a fingerprint key (want one line of base64, at least %d bytes)", path, secrets.MinKeySize)
	}
	return nil, fmt.Errorf("fingerprint key %s could not be created", path)
}

// writeFingerprintKey writes a new key to path, atomically: the key is
// written to a temporary file and linked into place, so that a process
// reading it never sees it half written, and two processes creating it
// at once agree on one.
func (a *App) writeFingerprintKey(path string) error {
	if err := os.MkdirAll(a.auditDir, 0o755); err != nil {
		return err
	}
	var key [32]byte
	rand.Read(key[:])
	f, err := os.CreateTemp(a.auditDir, ".fingerprint-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err == nil {
		_, err = f.WriteString(fingerprintKeyHeader + base64.StdEncoding.EncodeToString(key[:]) + "\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(tmp, path)
}

// exclusion is what no source reads: git internals, private key files and
// this trail's directory, wherever --audit-dir puts it.
func (a *App) exclusion() *exclude.Rules { return exclude.New(a.auditDir) }

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
	d, err := a.secretDetector()
	if err != nil {
		return nil, err
	}
	cfg.Mask = func(r *audit.Record) { d.MaskRecord(r) }
	// What the trail's retention policies would prune at once is not
	// recorded (again, after 'retention apply').
	if t := a.trail; t != nil {
		if cfg.Keep, err = t.RetentionKeeps(context.Background(), time.Now()); err != nil {
			return nil, err
		}
	}
	return batch.New(app, cfg)
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

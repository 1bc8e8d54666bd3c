package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"gopkg.in/yaml.v3"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/store"
)

// trailConfig is .audit/config.yaml: what init decided about this trail.
type trailConfig struct {
	// Store is the store URL; empty means sqlite in the audit directory.
	Store string `yaml:"store,omitempty"`
	// Origin names the log in checkpoints; its signing key has this name.
	Origin string `yaml:"origin"`
	// Difficulty is the proof-of-work difficulty.
	Difficulty int `yaml:"difficulty"`
}

const (
	configFile = "config.yaml"
	logKeyFile = "log.key"
	logPubFile = "log.pub"
	dbFile     = "audit.db"
)

func (a *App) auditPath(name string) string { return filepath.Join(a.auditDir, name) }

// loadConfig reads .audit/config.yaml; ok is false when there is none.
func (a *App) loadConfig() (cfg trailConfig, ok bool, err error) {
	b, err := os.ReadFile(a.auditPath(configFile))
	if errors.Is(err, os.ErrNotExist) {
		return cfg, false, nil
	}
	if err != nil {
		return cfg, false, err
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return cfg, false, fmt.Errorf("%s: %w", a.auditPath(configFile), err)
	}
	return cfg, true, nil
}

// storeLocation is the store URL in force: flag or environment, then the
// trail's config, then the default SQLite file.
func (a *App) storeLocation(cfg trailConfig) string {
	switch {
	case a.storeURL != "":
		return a.storeURL
	case cfg.Store != "":
		return cfg.Store
	}
	return "sqlite:" + a.auditPath(dbFile)
}

var unsafeOriginChars = regexp.MustCompile(`[^A-Za-z0-9._/-]+`)

// defaultOrigin names a new log after the directory holding .audit, with
// random bytes so that two logs never share a name.
func (a *App) defaultOrigin() string {
	base := filepath.Base(filepath.Dir(mustAbs(a.auditDir)))
	base = strings.Trim(unsafeOriginChars.ReplaceAllString(base, "-"), "-")
	if base == "" {
		base = "trail"
	}
	var b [6]byte
	rand.Read(b[:])
	return "ami-audit.local/" + base + "/" + hex.EncodeToString(b[:])
}

func mustAbs(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// initTrail creates the audit directory, its config, the log signing key
// and the store; on an existing trail it opens (and so migrates) the store
// and changes nothing else. created says whether anything was created.
func (a *App) initTrail(ctx context.Context, origin string, difficulty int) (created bool, err error) {
	cfg, ok, err := a.loadConfig()
	if err != nil {
		return false, err
	}
	if !ok {
		if err := os.MkdirAll(a.auditDir, 0o755); err != nil {
			return false, err
		}
		if origin == "" {
			origin = a.defaultOrigin()
		}
		cfg = trailConfig{Origin: origin, Difficulty: difficulty}
		if a.storeURL != "" {
			cfg.Store = a.storeURL
		}
		if _, err := os.Stat(a.auditPath(logKeyFile)); errors.Is(err, os.ErrNotExist) {
			if _, err := keys.Generate(origin, a.auditPath(logKeyFile), a.auditPath(logPubFile)); err != nil {
				return false, fmt.Errorf("log signing key: %w", err)
			}
		}
		if err := os.WriteFile(a.auditPath(".gitignore"), []byte("# private keys never leave this machine\n*.key\n"), 0o644); err != nil {
			return false, err
		}
		b, _ := yaml.Marshal(cfg)
		header := "# ami-audit trail settings, written by 'ami-audit init'.\n"
		if err := os.WriteFile(a.auditPath(configFile), append([]byte(header), b...), 0o644); err != nil {
			return false, err
		}
		created = true
	}
	s, err := a.open(ctx, cfg, true)
	if err != nil {
		return created, err
	}
	a.store = s
	return created, nil
}

// logSigner loads the log's private key, or returns nil when this machine
// does not hold it.
func (a *App) logSigner() (note.Signer, error) {
	s, err := keys.LoadSigner(a.auditPath(logKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return s, err
}

// logVerifier loads the log's public key.
func (a *App) logVerifier() (note.Verifier, error) {
	v, err := keys.LoadVerifier(a.auditPath(logPubFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, withHint(fmt.Errorf("no log public key at %s", a.auditPath(logPubFile)), "give the log's public key with --key FILE")
	}
	return v, err
}

func (a *App) open(ctx context.Context, cfg trailConfig, create bool) (audit.Store, error) {
	signer, err := a.logSigner()
	if err != nil {
		return nil, err
	}
	loc := a.storeLocation(cfg)
	s, err := a.registry.Open(ctx, loc, store.Options{Create: create, Origin: cfg.Origin, Difficulty: cfg.Difficulty, Signer: signer})
	if err != nil {
		if errors.Is(err, audit.ErrNotInitialized) {
			return nil, withHint(fmt.Errorf("no audit trail at %s", store.Redact(loc)), "run 'ami-audit init' first")
		}
		return nil, fmt.Errorf("open store %s: %w", store.Redact(loc), err)
	}
	return a.withCache(ctx, s)
}

// openStore opens the trail for appending, creating it on first use.
func (a *App) openStore(ctx context.Context) (audit.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	created, err := a.initTrail(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	if created {
		a.notice("created a new audit trail in %s", a.auditDir)
	}
	return a.store, nil
}

// openExisting opens the trail for reading; it must exist.
func (a *App) openExisting(ctx context.Context) (audit.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	cfg, ok, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	if !ok && a.storeURL == "" {
		return nil, withHint(fmt.Errorf("no audit trail in %s", a.auditDir), "run 'ami-audit init' in the repository, or give --audit-dir or --store")
	}
	s, err := a.open(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	a.store = s
	return s, nil
}

// notice prints a line on stderr unless --quiet.
func (a *App) notice(format string, args ...any) {
	if !a.quiet {
		fmt.Fprintf(a.stderr, format+"\n", args...)
	}
}

// Package security is the security analyzer (SPEC §7): secrets in the
// working tree and in the git history, vulnerable dependencies, permission
// problems and insecure code patterns. It reports through package
// analyzer, which keeps its findings in the trail (actions
// security_finding and security_finding_resolved).
//
// # Checks
//
// Each check is a separate part of the analysis; a check that cannot run
// (no OSV database, no quality records, no history asked for) is not
// done, and its findings already in the trail stay open.
//
//   - secrets: the files of the working tree git would commit (tracked, or
//     untracked and not ignored; submodules too), scanned by package
//     secrets as "gitleaks dir" scans them: gitleaks' rules, or the
//     repository's .gitleaks.toml, plus ami-audit's own (passwords in
//     URLs, C2SP note keys, ...). A file that is a private key (PEM,
//     OpenSSH, C2SP note key, PuTTY, age, DER) is a private_key finding
//     whatever rule reads it. Binary files and files over MaxScanBytes are
//     passed over, as are .gitleaks.toml, .gitleaksignore and the baseline.
//
//   - secrets_history (Config.History): the lines every commit of every
//     branch added, in the repository and every checked-out submodule,
//     streamed from "git log -p -U0 --full-history --all" through
//     gitleaks' own git source, as "gitleaks git" scans them.
//
//   - "gitleaks:allow" on a line, the repository's .gitleaksignore and the
//     baseline file (Config.Baseline: a gitleaks JSON report, or gitleaks
//     fingerprints "file:rule:line" and "commit:file:rule:line", one per
//     line) accept findings: they are not reported, and one accepted since
//     is resolved.
//
//   - dependencies:<ecosystem> (pypi, npm, go): the newest module_audit
//     record of every module in the trail (the module source's dependency
//     lists, with versions resolved from uv.lock, package-lock.json and
//     go.mod, and the packages those lock files hold that no manifest
//     declares, in group "locked") against a local OSV database (Config.OSVDB, see package
//     osvdb). A dependency with a resolved version is affected when an
//     advisory's ranges or versions hold it; one with only a constraint
//     ("~=2.0.1") is affected when every version the constraint allows is,
//     and flagged (vulnerable_dependency_range, warning) when some are.
//     Without a database each ecosystem with dependencies gets one
//     dependencies_not_checked finding (info), resolved by the first run
//     that checks it.
//
//   - permissions: world-writable files and directories, setuid and
//     setgid files, private keys readable by their group or by others,
//     executable data files (a data extension, the execute bit, no #!
//     line), over the files git would commit (tracked, or untracked and
//     not ignored; every file outside a git repository).
//
//   - patterns: the insecure-code rules of the quality source's records
//     (ruff's S rules, which are bandit's, and gosec): every violation the
//     trail holds open, as a finding. No code is analysed here.
//
// A secret finding holds the rule, the file, line and column, the commit
// (history) and a keyed fingerprint of the secret (secrets.Fingerprint
// under the trail's key), never the secret: the same secret has the same
// fingerprint in every finding and every masked record of the trail.
//
// # Keys
//
// Finding keys name the check's subject, never a secret: a secret in the
// working tree is keyed by file, rule, fingerprint and occurrence (a line
// moved is the same finding, updated), one in the history by repository,
// commit, file, rule, fingerprint and line; a dependency finding by
// module, ecosystem, package, group and advisory (its version is evidence,
// so an upgrade that is still affected updates the finding), a permission
// finding by kind and path, a pattern finding by the quality source's
// violation_key.
package security

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/osvdb"
	"github.com/ami-orchestrator/ami-audit/secrets"
	"github.com/ami-orchestrator/ami-audit/source/file"
	"github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/quality"
)

// Name is the analyzer's name.
const Name = "security"

// Checks.
const (
	CheckPermissions = "permissions"
	CheckPatterns    = "patterns"
	// CheckDependencies is the prefix of the per-ecosystem checks
	// "dependencies:pypi", "dependencies:npm" and "dependencies:go".
	CheckDependencies = "dependencies"
)

// Sources whose records or inputs the analyzer examines.
var understands = []string{file.SourceName, git.SourceName, module.SourceName, quality.SourceName}

// Config configures the analyzer.
type Config struct {
	// Root is the repository's root directory. Required.
	Root string
	// OSVDB is the directory of a local OSV database; empty means
	// dependencies are not checked (and the report says so).
	OSVDB string
	// Detector finds secrets (package secrets: gitleaks' rules and
	// ami-audit's, keyed fingerprints). Build it with the trail's
	// fingerprint key and the repository's .gitleaks.toml when it has one.
	// Nil: secrets are not checked (Notes say so).
	Detector *secrets.Detector
	// History scans every commit of every branch, in the repository and
	// its checked-out submodules, for secrets (check secrets_history).
	History bool
	// Baseline is a file of accepted secret findings: a gitleaks JSON
	// report, or gitleaks fingerprints one per line (file:rule:line,
	// commit:file:rule:line). The repository's .gitleaksignore is always
	// read too.
	Baseline string
	// Workers scan files and commits in parallel; default GOMAXPROCS.
	Workers int
	// Progress, when set, is called with the number of files or commit
	// changes scanned for secrets as the scan goes (from several
	// goroutines at once).
	Progress func(n int)
	// Skip lists checks not to run (their findings stay as they are).
	Skip []string
	// Logger receives debug messages; default slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Root == "" {
		return errors.New("security analyzer: Root is required")
	}
	abs, err := filepath.Abs(c.Root)
	if err != nil {
		return fmt.Errorf("security analyzer: root %s: %w", c.Root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("security analyzer: root: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("security analyzer: root %s is not a directory", c.Root)
	}
	c.Root = abs
	if c.OSVDB != "" {
		if _, err := osvdb.Open(c.OSVDB); err != nil {
			return fmt.Errorf("security analyzer: %w", err)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Workers < 0 {
		return fmt.Errorf("security analyzer: workers %d must not be negative", c.Workers)
	}
	if c.Baseline != "" {
		if _, err := os.Stat(c.Baseline); err != nil {
			return fmt.Errorf("security analyzer: baseline: %w", err)
		}
	}
	return nil
}

func (c Config) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Analyzer is the security analyzer. One Analyzer serves one run at a
// time; Notes describe the last run.
type Analyzer struct {
	cfg Config

	mu    sync.Mutex
	notes []string
	stats Stats

	acceptOnce sync.Once
	accept     *acceptance
	acceptErr  error
}

// Stats counts what the last run examined.
type Stats struct {
	Files        int // files of the working tree examined
	Dependencies int // dependencies read from module records
	Unchecked    int // dependencies without a version or constraint to compare
	Advisories   int // advisories loaded that name a dependency
	Violations   int // insecure-pattern violations read from quality records
	SecretFiles  int // working-tree files scanned for secrets
	TooLarge     int // files passed over for their size (MaxScanBytes)
	Accepted     int // secrets found and accepted by .gitleaksignore or the baseline
}

var _ audit.Analyzer = (*Analyzer)(nil)

// New returns a security analyzer.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Analyzer{cfg: cfg}, nil
}

// Name returns "security".
func (a *Analyzer) Name() string { return Name }

// Understands returns the sources whose evidence it reads.
func (a *Analyzer) Understands() []string { return slices.Clone(understands) }

// Notes are what the last run wants a reader to know that is not a
// finding: a check that could not run, records that could not be read.
func (a *Analyzer) Notes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.notes)
}

// Stats says what the last run examined.
func (a *Analyzer) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

func (a *Analyzer) note(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.notes = append(a.notes, fmt.Sprintf(format, args...))
}

func (a *Analyzer) count(f func(*Stats)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(&a.stats)
}

func (a *Analyzer) skipped(check string) bool { return slices.Contains(a.cfg.Skip, check) }

// Analyze runs every check. A check that fails is not done and says why
// in Notes; only a cancelled context or a refused report stops the run.
func (a *Analyzer) Analyze(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	a.mu.Lock()
	a.notes, a.stats = nil, Stats{}
	a.acceptOnce, a.accept, a.acceptErr = sync.Once{}, nil, nil
	a.mu.Unlock()
	type check struct {
		name string
		run  func(context.Context, *audit.Analysis, func(audit.Detected) error) ([]string, error)
	}
	// The secret scans of the working tree and of the history read
	// different things and run side by side; the other checks follow.
	groups := [][]check{
		{{CheckSecrets, a.secretsTree}, {CheckSecretsHistory, a.secretsHistory}},
		{{CheckDependencies, a.dependencies}},
		{{CheckPermissions, a.permissions}},
		{{CheckPatterns, a.patterns}},
	}
	var done []string
	for _, group := range groups {
		results := make([][]string, len(group))
		errs := make([]error, len(group))
		var wg sync.WaitGroup
		for i, c := range group {
			if a.skipped(c.name) {
				continue
			}
			wg.Go(func() { results[i], errs[i] = c.run(ctx, in, report) })
		}
		wg.Wait()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for i, c := range group {
			var refused *refusedError
			if errors.As(errs[i], &refused) {
				return nil, refused.err
			}
			if errs[i] != nil {
				a.note("%s: not checked: %v", c.name, errs[i])
				continue
			}
			done = append(done, results[i]...)
		}
	}
	return done, nil
}

// refusedError marks an error returned by report: it stops the analysis.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }

// reporter wraps report so that its errors stop the run.
func reporter(report func(audit.Detected) error) func(audit.Detected) error {
	return func(d audit.Detected) error {
		if err := report(d); err != nil {
			return &refusedError{err}
		}
		return nil
	}
}

package trail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"gopkg.in/yaml.v3"

	"github.com/ami-orchestrator/ami-audit/internal/atomicfile"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/retention"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Settings are config.yaml: what the creation of a trail decided.
type Settings struct {
	// Store is the store URL; empty means SQLite in the directory.
	Store string `yaml:"store,omitempty"`
	// Origin names the log in checkpoints; its key has this name.
	Origin string `yaml:"origin"`
	// LogID is the log's identity, the same in its store.
	LogID string `yaml:"log_id,omitempty"`
	// Difficulty is the proof-of-work difficulty.
	Difficulty int `yaml:"difficulty"`
	// Redaction says which values are committed (so that they can be
	// redacted) and who may make the trail forget.
	Redaction RedactionSettings `yaml:"redaction,omitempty"`
	// Retention holds the retention policies.
	Retention retention.Settings `yaml:"retention,omitempty"`
	// Schedules are the collections "ami-audit schedule" runs. Nothing
	// else reads them; they are kept as written.
	Schedules []Schedule `yaml:"schedules,omitempty"`
	// Compliance tunes compliance assessments.
	Compliance ComplianceSettings `yaml:"compliance,omitempty"`
	// Analyzers holds each analyzer's settings by its name (git, quality,
	// drift): thresholds and rules that differ from the defaults. Package
	// collect decodes each section into its analyzer's Config; they are
	// kept here as written.
	Analyzers map[string]yaml.Node `yaml:"analyzers,omitempty"`
}

// ComplianceSettings are the compliance section of config.yaml:
//
//	compliance:
//	  catalogs: compliance/     # catalog files laid over the built-in ones (relative to the repository)
//	  frameworks: [iso27001, eu-ai-act]   # assessed when none is asked for
//	  clock_tolerance: 5m       # how far record times may go backwards
type ComplianceSettings struct {
	Catalogs       string   `yaml:"catalogs,omitempty"`
	Frameworks     []string `yaml:"frameworks,omitempty"`
	ClockTolerance string   `yaml:"clock_tolerance,omitempty"`
}

// RedactionSettings are the redaction section of config.yaml.
type RedactionSettings struct {
	// Classifications lists the classifications whose context and
	// metadata values are committed rather than hashed in the clear, so
	// that they can be redacted later. The log records, when it is
	// created, what it commits (default: confidential and restricted);
	// classifications listed here are committed too.
	Classifications []string `yaml:"classifications,omitempty"`
	// Redactors are the public keys (C2SP note verifier keys,
	// NAME+HASH+BASE64) allowed to redact, apply retention and release
	// legal holds. Empty: the log key alone.
	Redactors []string `yaml:"redactors,omitempty"`
}

// Schedule is one scheduled collection of config.yaml:
//
//	schedules:
//	  - name: history            # unique; the runs' records name it
//	    cron: "0 */6 * * *"      # five fields, or @hourly, @daily, @every 30m
//	    run: repo --sources=git,file   # an ami-audit command line
//	    missed: run-once         # after downtime: run-once (default) or skip
//	    timeout: 1h              # optional bound of a run
type Schedule struct {
	Name    string `yaml:"name"`
	Cron    string `yaml:"cron"`
	Run     string `yaml:"run"`
	Missed  string `yaml:"missed,omitempty"`
	Timeout string `yaml:"timeout,omitempty"`
}

// loadSettings reads dir/config.yaml; ok is false when there is none.
func loadSettings(dir string) (s Settings, ok bool, err error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	if err := yaml.Unmarshal(b, &s); err != nil {
		return s, false, fmt.Errorf("%s: %w", path, err)
	}
	if s.Origin == "" {
		return s, false, fmt.Errorf("%s names no origin: it was not written by 'ami-audit init'", path)
	}
	if err := s.Retention.Validate(); err != nil {
		return s, false, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range s.Redaction.Redactors {
		if _, err := note.NewVerifier(k); err != nil {
			return s, false, fmt.Errorf("%s: redactor key %q: %w", path, k, err)
		}
	}
	return s, true, nil
}

func writeSettings(dir string, s Settings) error {
	b, err := yaml.Marshal(s)
	if err != nil {
		return err
	}
	header := "# ami-audit trail settings, written by 'ami-audit init'. The log id and\n# origin are this trail's identity: its store must hold the same.\n"
	return writeFileAtomic(filepath.Join(dir, ConfigFile), append([]byte(header), b...), 0o644)
}

// CreateOptions are the choices made when a trail is created.
type CreateOptions struct {
	// Origin names the log (default: ami-audit.local/, the repository's
	// directory name and the log id).
	Origin string
	// Difficulty is the proof-of-work difficulty.
	Difficulty int
	// JoinKey is the log public key file to trust when the store already
	// holds a trail (a second machine joining a team trail). Without it,
	// the key the store recorded is trusted and its fingerprint reported.
	JoinKey string
	// Committed lists the classifications whose values the new log
	// commits (nil: audit.DefaultCommitted).
	Committed []string
}

// Created says what Create did.
type Created int

// What Create did.
const (
	Existed Created = iota // the directory already held a trail; nothing changed
	New                    // a new trail: store, settings and log key
	Joined                 // the store held a trail; the directory now refers to it
)

// Create makes the trail at cfg.Dir: a new log (store, settings, log key
// pair) or, when the store already holds a log, the settings of this
// directory for it. On a directory that already holds a trail it opens it
// and changes nothing. It is the only way a store is created.
func Create(ctx context.Context, cfg Config, opts CreateOptions) (*Trail, Created, error) {
	if cfg.ReadOnly {
		return nil, Existed, errors.New("a read-only trail cannot be created")
	}
	dirNotice, err := checkDir(cfg.Dir)
	if err != nil {
		return nil, Existed, err
	}
	settings, hasDir, err := loadSettings(cfg.Dir)
	if err != nil {
		return nil, Existed, err
	}
	if hasDir {
		if given, _ := store.StripCredentials(cfg.Store); cfg.Store != "" && settings.Store != given && settings.Store != cfg.Store && !(settings.Store == "" && cfg.Store == "sqlite:"+filepath.Join(cfg.Dir, DBFile)) {
			where := settings.Store
			if where == "" {
				where = "sqlite:" + filepath.Join(cfg.Dir, DBFile)
			}
			return nil, Existed, fmt.Errorf("%w in %s (log %s, store %s): to move it to %s use 'ami-audit migrate', or create the other trail with another --audit-dir",
				ErrExists, cfg.Dir, settings.LogID, store.Redact(where), store.Redact(cfg.Store))
		}
		t, err := Open(ctx, cfg)
		return t, Existed, err
	}
	if difficulty := opts.Difficulty; difficulty < 0 || difficulty > ledger.MaxDifficulty {
		return nil, Existed, fmt.Errorf("difficulty %d: want 0..%d", difficulty, ledger.MaxDifficulty)
	}
	if opts.Origin != "" && !keys.ValidName(opts.Origin) {
		return nil, Existed, fmt.Errorf("origin %q: use no spaces and no '+'", opts.Origin)
	}
	madeDir := !statIsDir(cfg.Dir)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, Existed, err
	}
	t := &Trail{cfg: cfg, hasDir: false}
	if dirNotice != "" {
		t.notices = append(t.notices, dirNotice)
	}
	undo := []string{}
	fail := func(err error) (*Trail, Created, error) {
		if t.store != nil {
			t.store.Close()
		}
		for _, p := range undo {
			os.Remove(p)
		}
		if madeDir {
			os.Remove(cfg.Dir)
		}
		return nil, Existed, err
	}
	// A store that already holds a log: join it.
	if err := t.openStore(ctx, false, store.Options{}); err == nil {
		return t.join(opts, madeDir)
	} else if !errors.Is(err, ErrNoTrail) {
		return fail(err)
	}
	logID := store.NewLogID()
	origin := opts.Origin
	if origin == "" {
		origin = defaultOrigin(cfg.Dir, logID)
	}
	for _, name := range []string{LogKeyFile, LogPubFile} {
		if _, err := os.Lstat(t.path(name)); err == nil {
			return fail(fmt.Errorf("%s exists but %s does not: remove the stray key files or choose another --audit-dir", t.path(name), t.path(ConfigFile)))
		}
	}
	vkey, err := keys.Generate(origin, t.path(LogKeyFile), t.path(LogPubFile))
	if err != nil {
		return fail(fmt.Errorf("log signing key: %w", err))
	}
	undo = append(undo, t.path(LogKeyFile), t.path(LogPubFile))
	if err := t.loadKeysFor(); err != nil {
		return fail(err)
	}
	if err := t.openStore(ctx, true, store.Options{Origin: origin, LogID: logID, LogKey: vkey, Difficulty: opts.Difficulty, Committed: opts.Committed}); err != nil {
		return fail(err)
	}
	if t.id.LogID != logID {
		return fail(fmt.Errorf("%w: the store at %s was created by someone else meanwhile (log %s)", ErrOtherLog, t.loc, t.id.LogID))
	}
	settings = Settings{Origin: origin, LogID: logID, Difficulty: opts.Difficulty,
		Redaction: RedactionSettings{Classifications: t.id.Committed}}
	if cfg.Store != "" {
		settings.Store = t.settingsStore(cfg.Store)
	}
	if err := os.WriteFile(t.path(gitignoreFile), []byte(gitignoreLines), 0o644); err != nil {
		return fail(err)
	}
	if err := writeSettings(cfg.Dir, settings); err != nil {
		return fail(err)
	}
	t.settings, t.hasDir = settings, true
	return t, New, nil
}

// settingsStore is the store URL written to the settings: without its
// credentials, which are never written (the driver finds the password
// itself next time: PGPASSWORD or ~/.pgpass for PostgreSQL).
func (t *Trail) settingsStore(loc string) string {
	stripped, found := store.StripCredentials(loc)
	if found {
		t.notices = append(t.notices, fmt.Sprintf("the store's password is not written to %s; give it with PGPASSWORD or ~/.pgpass (or the whole URL in AMI_AUDIT_STORE)", t.path(ConfigFile)))
	}
	return stripped
}

// loadKeysFor loads the key pair Create just wrote.
func (t *Trail) loadKeysFor() error {
	t.hasDir = true
	defer func() { t.hasDir = false }()
	return t.loadKeys()
}

// join writes this directory's settings for the log the store holds.
func (t *Trail) join(opts CreateOptions, madeDir bool) (*Trail, Created, error) {
	id := t.id
	fail := func(err error) (*Trail, Created, error) {
		t.store.Close()
		if madeDir {
			os.Remove(t.cfg.Dir)
		}
		return nil, Existed, err
	}
	var pub string
	switch {
	case opts.JoinKey != "":
		v, err := keys.LoadVerifier(opts.JoinKey)
		if err != nil {
			return fail(err)
		}
		t.pub = v
		b, err := os.ReadFile(opts.JoinKey)
		if err != nil {
			return fail(err)
		}
		pub = strings.TrimSpace(string(b))
	case id.LogKey != "":
		pub = id.LogKey
		if v, err := note.NewVerifier(pub); err == nil {
			t.pub = v
		}
		t.notices = append(t.notices, fmt.Sprintf("trusting the log key the store recorded, %s: compare it with the log owner's %s", fingerprintText(pub), LogPubFile))
	}
	t.hasDir = true
	t.settings = Settings{Origin: id.Origin, LogID: id.LogID, Difficulty: id.Difficulty, Store: t.settingsStore(t.cfg.Store),
		Redaction: RedactionSettings{Classifications: id.Committed}}
	if err := t.checkIdentity(); err != nil {
		return fail(err)
	}
	if pub != "" {
		if err := writeFileAtomic(t.path(LogPubFile), []byte(pub+"\n"), 0o644); err != nil {
			return fail(err)
		}
	}
	if err := os.WriteFile(t.path(gitignoreFile), []byte(gitignoreLines), 0o644); err != nil {
		return fail(err)
	}
	if err := writeSettings(t.cfg.Dir, t.settings); err != nil {
		return fail(err)
	}
	return t, Joined, nil
}

var unsafeOriginChars = regexp.MustCompile(`[^A-Za-z0-9._/-]+`)

// defaultOrigin names a new log after the directory holding its trail
// directory, and its log id.
func defaultOrigin(dir, logID string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	base := filepath.Base(filepath.Dir(abs))
	base = strings.Trim(unsafeOriginChars.ReplaceAllString(base, "-"), "-")
	if base == "" {
		base = "trail"
	}
	return "ami-audit.local/" + base + "/" + logID
}

// writeFileAtomic writes a file by renaming a synced temporary file over
// it, so that a reader never sees half of it.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	return atomicfile.Write(path, b, mode)
}

// adoptLogID writes the store's log id into settings made before trails
// had ids.
func (t *Trail) adoptLogID() error {
	if t.cfg.ReadOnly || !t.hasDir || t.settings.LogID != "" {
		return nil
	}
	t.settings.LogID = t.id.LogID
	return writeSettings(t.cfg.Dir, t.settings)
}

// AddRedactor names the public key vkey (note verifier key text) in the
// settings of the trail at dir as a redactor: a key allowed to redact,
// apply retention and release legal holds. Once any redactor is named,
// the log key is one only if it is named too; first reports that vkey is
// the first.
func AddRedactor(dir, vkey string) (first bool, err error) {
	s, ok, err := loadSettings(dir)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("%w: no %s in %s", ErrNoTrail, ConfigFile, dir)
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return false, fmt.Errorf("redactor key: %w", err)
	}
	first = len(s.Redaction.Redactors) == 0
	if !slices.Contains(s.Redaction.Redactors, vkey) {
		s.Redaction.Redactors = append(s.Redaction.Redactors, vkey)
	}
	return first, writeSettings(dir, s)
}

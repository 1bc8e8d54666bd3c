// Package trail is an audit trail as a user has it: a directory (.audit/)
// holding the trail's settings, its keys and what this machine last saw of
// it, and a store holding its records. Opening, creating, verifying,
// checkpointing, proving and signing live here, so that the command line,
// the HTTP API and the MCP server share one implementation of each.
//
// # Identity
//
// Every trail gets an identity when it is created: its origin (the name in
// its checkpoints and of its log key) and a random log id. Both are written
// to the store's metadata and to the directory's config.yaml, and checked
// against each other whenever the trail is opened: a store that holds
// another log, or no log at all where one was created, is reported instead
// of being used — or silently replaced by a new, empty one. Only Create
// makes a store.
//
// # What this machine saw
//
// After every run that appended, and every verification, the latest tree
// head signed by the log key is kept in the directory (latest-checkpoint).
// Every later open checks that the store still extends it, with a
// consistency proof: a store cut back to an earlier signed head, emptied,
// or replaced by a rewritten history is caught on every machine that saw
// the later state, even though the store alone is self-consistent. A
// checkpoint kept where the operator cannot rewrite it (a witness, a
// ticket, another machine) extends that protection to everyone.
package trail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/rediscache"
)

// Files of a trail's directory.
const (
	ConfigFile    = "config.yaml"
	LogKeyFile    = "log.key"
	LogPubFile    = "log.pub"
	DBFile        = "audit.db"
	LatestFile    = "latest-checkpoint"
	TrustedDir    = "trusted"
	gitignoreFile = ".gitignore"
	// the settings hold no secret and may be shared; keys may not
	gitignoreLines = "# private keys (log.key, fingerprint.key) never leave this machine\n*.key\n.*.tmp\n# SQLite's transient files\n*.db-wal\n*.db-shm\n*.db-journal\n"
)

// Errors a caller may test for. ErrStoreGone and ErrOtherLog wrap
// ledger.ErrTampered: what should hold this trail's records does not.
var (
	// ErrNoTrail: there is no trail at the directory (and no store was
	// named).
	ErrNoTrail = errors.New("no audit trail here")
	// ErrExists: Create found a trail already there.
	ErrExists = errors.New("an audit trail already exists here")
	// ErrStoreGone: the trail's settings exist but its store is missing
	// or empty.
	ErrStoreGone = fmt.Errorf("%w: the trail's store is missing or empty", ledger.ErrTampered)
	// ErrOtherLog: the store holds another log than the trail's.
	ErrOtherLog = fmt.Errorf("%w: the store holds another log", ledger.ErrTampered)
	// ErrNoPrivateKey: an operation that signs needs the log's private
	// key, which this machine does not hold.
	ErrNoPrivateKey = errors.New("this machine does not hold the log's private key")
	// ErrNeedPublicKey: the trail's tree heads are signed, and checking
	// them needs the log's public key, which was not found.
	ErrNeedPublicKey = errors.New("the log's public key is needed")
	// ErrOptions: the options contradict each other or the trail.
	ErrOptions = errors.New("invalid options")
)

// Config says where a trail is and how to open it. The library reads no
// flags and no environment: the command line resolves them.
type Config struct {
	// Dir is the trail's directory (normally .audit in the repository).
	Dir string
	// Registry opens stores by URL.
	Registry *store.Registry
	// Store overrides the store URL of the settings (flag or
	// environment). Empty: the settings' store, else SQLite in Dir.
	Store string
	// Cache, when set, is the URL of a Redis cache put in front of the
	// store.
	Cache string
	// ReadOnly opens the trail for reading: nothing is written — not the
	// store, not the directory — and the private key is not read.
	ReadOnly bool
	// PublicKey is the file of the log's public key to trust. Empty:
	// Dir/log.pub.
	PublicKey string
	// Logger receives warnings (the cache's); nil discards them.
	Logger *slog.Logger
}

// Trail is an open trail. It is safe for concurrent use as far as its
// store is.
type Trail struct {
	cfg      Config
	settings Settings
	hasDir   bool // the directory holds the trail's settings
	store    audit.Store
	raw      Store // the store of record, without the cache
	id       store.Identity
	pub      note.Verifier // the log key to check heads with; nil for an unsigned trail
	key      *keys.Key     // the log's private key; nil when not held or read-only
	cacheKey *keys.Key     // the key cache entries are authenticated with (key, or for a reader the log key when readable)
	loc      string        // the store URL, for messages (redacted)
	startTip uint64        // the store's size when opened
	notices  []string
}

// Store is what a trail needs of its store of record.
type Store interface {
	audit.Store
	ledger.Verifiable
	Identity() store.Identity
}

// Open opens the trail at cfg.Dir (or the store cfg.Store names, for a
// reader with no directory): it loads the settings and keys, opens the
// store, and checks that the store holds this trail's log and still
// extends the last signed head this machine saw. A trail whose settings
// exist but whose store is gone, or holds another log, is an error
// wrapping ledger.ErrTampered.
func Open(ctx context.Context, cfg Config) (*Trail, error) {
	dirNotice, err := checkDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	settings, hasDir, err := loadSettings(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if !hasDir && cfg.Store == "" {
		return nil, fmt.Errorf("%w: no %s in %s", ErrNoTrail, ConfigFile, cfg.Dir)
	}
	t := &Trail{cfg: cfg, settings: settings, hasDir: hasDir}
	if dirNotice != "" {
		t.notices = append(t.notices, dirNotice)
	}
	if _, has := store.StripCredentials(settings.Store); has {
		t.notices = append(t.notices, fmt.Sprintf("warning: %s holds the store's password; remove it from the URL there and give it with PGPASSWORD or ~/.pgpass", t.path(ConfigFile)))
	}
	if err := t.loadKeys(); err != nil {
		return nil, err
	}
	if err := t.openStore(ctx, false, store.Options{}); err != nil {
		return nil, err
	}
	if err := t.checkIdentity(); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.giveKey(); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.adoptLogID(); err != nil {
		t.Close()
		return nil, err
	}
	// An append must not extend a log that no longer holds what this
	// machine saw signed. Readers check it when they verify.
	if !cfg.ReadOnly {
		if err := t.checkLatest(ctx); err != nil {
			t.Close()
			return nil, fmt.Errorf("refusing to append: %w; run 'ami-audit verify'", err)
		}
	}
	return t, nil
}

// location is the store URL in force.
func (t *Trail) location() string {
	switch {
	case t.cfg.Store != "":
		return t.cfg.Store
	case t.settings.Store != "":
		return t.settings.Store
	}
	return "sqlite:" + filepath.Join(t.cfg.Dir, DBFile)
}

func (t *Trail) path(name string) string { return filepath.Join(t.cfg.Dir, name) }

// loadKeys reads the log's public key (to trust) and, unless read-only,
// its private key. A key file that exists but cannot be used is an error,
// never taken for "no key".
func (t *Trail) loadKeys() error {
	pubPath := t.cfg.PublicKey
	if pubPath == "" {
		pubPath = t.path(LogPubFile)
	}
	v, err := keys.LoadVerifier(pubPath)
	switch {
	case err == nil:
		t.pub = v
	case errors.Is(err, fs.ErrNotExist) && t.cfg.PublicKey == "":
	default:
		return fmt.Errorf("log public key: %w", err)
	}
	if !t.hasDir {
		return nil
	}
	if t.cfg.ReadOnly {
		// A reader signs nothing; it may still use the cache when it can
		// read the key the cache's entries are authenticated with.
		if t.cfg.Cache != "" {
			if k, err := keys.LoadKey(t.path(LogKeyFile)); err == nil {
				t.cacheKey = k
			}
		}
		return nil
	}
	k, err := keys.LoadKey(t.path(LogKeyFile))
	switch {
	case err == nil:
		t.key, t.cacheKey = k, k
	case errors.Is(err, fs.ErrNotExist):
	default:
		return fmt.Errorf("log private key: %w", err)
	}
	if t.key != nil && t.pub != nil && (t.key.Verifier.Name() != t.pub.Name() || t.key.Verifier.KeyHash() != t.pub.KeyHash()) {
		return fmt.Errorf("%s and %s are not the two halves of one key", t.path(LogKeyFile), pubPath)
	}
	if t.key != nil && t.pub == nil {
		t.pub = t.key.Verifier
	}
	return nil
}

// openStore opens the store (and the cache in front of it).
func (t *Trail) openStore(ctx context.Context, create bool, opts store.Options) error {
	loc := t.location()
	t.loc = store.Redact(loc)
	opts.Create = create
	opts.ReadOnly = t.cfg.ReadOnly
	opts.Committed = append(opts.Committed, t.settings.Redaction.Classifications...)
	if t.key != nil && create {
		// A store being created is this log's; an existing one gets the
		// key once its identity is known to be the trail's (giveKey).
		opts.Signer, opts.Verifier = t.key.Signer, t.key.Verifier
	}
	s, err := t.cfg.Registry.Open(ctx, loc, opts)
	if err != nil {
		if errors.Is(err, audit.ErrNotInitialized) {
			if t.hasDir && t.settings.LogID != "" {
				return fmt.Errorf("%w: this directory's trail (log %s, %s) keeps its records in %s, which holds no trail (%v); restore the store from a backup, or point --store at where it is", ErrStoreGone, t.settings.LogID, t.settings.Origin, t.loc, err)
			}
			return fmt.Errorf("%w at %s", ErrNoTrail, t.loc)
		}
		return fmt.Errorf("open store %s: %w", t.loc, err)
	}
	raw, ok := s.(Store)
	if !ok {
		s.Close()
		return fmt.Errorf("the store at %s cannot be verified", t.loc)
	}
	t.raw, t.store, t.id = raw, s, raw.Identity()
	if sn, ok := s.(interface{ Immutable() bool }); ok && sn.Immutable() {
		t.notices = append(t.notices, fmt.Sprintf("%s is not writable here: reading it as an immutable snapshot", t.loc))
	}
	head, err := s.Head(ctx)
	if err != nil {
		s.Close()
		return err
	}
	t.startTip = head.Size
	if t.cfg.Cache != "" {
		ccfg := rediscache.Config{URL: t.cfg.Cache, Logger: t.cfg.Logger}
		if k := t.cacheKey; k != nil && k.Signer.Name() == t.id.Origin {
			ccfg.Key = k.Derive("cache entries v1 " + t.id.LogID)
		}
		if ccfg.Logger == nil {
			ccfg.Logger = slog.New(slog.DiscardHandler)
		}
		c, err := rediscache.New(ctx, s, ccfg)
		if err != nil {
			s.Close()
			return err
		}
		t.store = c
	}
	return nil
}

// checkIdentity compares the store's log with the trail's settings and
// keys.
func (t *Trail) checkIdentity() error {
	id := t.id
	if t.hasDir && t.settings.LogID != "" && t.settings.LogID != id.LogID {
		return fmt.Errorf("%w: %s holds log %s (%s), but this directory's trail is log %s (%s); it is another trail, not this one's store",
			ErrOtherLog, t.loc, id.LogID, id.Origin, t.settings.LogID, t.settings.Origin)
	}
	if t.hasDir && t.settings.Origin != "" && t.settings.Origin != id.Origin {
		return fmt.Errorf("%w: %s holds the log named %q, but this directory's trail is %q", ErrOtherLog, t.loc, id.Origin, t.settings.Origin)
	}
	if t.pub != nil {
		if t.pub.Name() != id.Origin {
			return fmt.Errorf("%w: the log public key is the key of %q, not of this log (%q)", ledger.ErrTampered, t.pub.Name(), id.Origin)
		}
		if id.LogKey != "" {
			v, err := note.NewVerifier(id.LogKey)
			if err != nil || v.KeyHash() != t.pub.KeyHash() {
				return fmt.Errorf("%w: the store says the log's key is %s, but the key trusted here is %s", ledger.ErrTampered, fingerprintText(id.LogKey), Fingerprint(t.pub))
			}
		}
		return nil
	}
	if id.LogKey != "" {
		return fmt.Errorf("%w: the tree heads of %s are signed; give the log's public key (--key FILE, or %s)", ErrNeedPublicKey, id.Origin, t.path(LogPubFile))
	}
	return nil
}

// giveKey hands the log's private key to the store, now that the store is
// known to hold this trail's log.
func (t *Trail) giveKey() error {
	if t.key == nil {
		return nil
	}
	ks, ok := t.store.(store.KeySetter)
	if !ok {
		return fmt.Errorf("the store at %s cannot take the log key", t.loc)
	}
	if err := ks.SetLogKey(t.key.Signer, t.key.Verifier); err != nil {
		return fmt.Errorf("%w: %v", ErrOtherLog, err)
	}
	return nil
}

// Identity is the store's record of the log.
func (t *Trail) Identity() store.Identity { return t.id }

// Settings are the trail's settings (config.yaml); the zero value for a
// trail opened without its directory.
func (t *Trail) Settings() Settings { return t.settings }

// Dir is the trail's directory.
func (t *Trail) Dir() string { return t.cfg.Dir }

// Location is the store URL, with any password redacted.
func (t *Trail) Location() string { return t.loc }

// Store is the trail's store, behind the cache when there is one. Use it
// to append and to read records.
func (t *Trail) Store() audit.Store { return t.store }

// Raw is the store of record: what verification, proofs and signing read.
func (t *Trail) Raw() Store { return t.raw }

// PublicKey is the log key heads are checked with, nil for an unsigned
// trail.
func (t *Trail) PublicKey() note.Verifier { return t.pub }

// OpenedSize is the number of records the store held when the trail was
// opened: what a run appended starts there.
func (t *Trail) OpenedSize() uint64 { return t.startTip }

// CanSign reports whether this machine holds the log's private key.
func (t *Trail) CanSign() bool { return t.key != nil }

// Notices are things the user should know about how the trail was opened.
func (t *Trail) Notices() []string { return t.notices }

// Close remembers the latest signed head when this run appended, then
// closes the store.
func (t *Trail) Close() error {
	if t.store == nil {
		return nil
	}
	var errs []error
	if !t.cfg.ReadOnly && t.hasDir && t.pub != nil {
		ctx := context.Background()
		if head, err := t.raw.Head(ctx); err == nil && head.Size != t.startTip {
			if err := t.rememberLatest(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, t.store.Close())
	t.store = nil
	return errors.Join(errs...)
}

// hashReader serves the store of record's tree hashes.
func (t *Trail) hashReader(ctx context.Context) tlog.HashReader { return t.raw.HashReader(ctx) }

// Fingerprint names a public key for people: its name and key hash.
func Fingerprint(v note.Verifier) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
}

func fingerprintText(vkey string) string {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "(a key that does not parse)"
	}
	return Fingerprint(v)
}

// statIsDir reports whether path is a directory.
func statIsDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// Package store chooses a store backend by URL through an explicit
// registry: "sqlite:PATH" (the embedded default), and whatever other
// schemes the registry built by store/all knows. The library never reads
// flags or the environment; the command line resolves the URL and hands it
// in.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Options are what every backend understands.
type Options struct {
	// Create the store when it does not exist yet. Only the creation of a
	// trail (ami-audit init, or the first collection where no trail
	// exists at all) sets it: a store that should exist and does not is
	// reported, never silently replaced by a new, empty one.
	Create bool
	// ReadOnly opens the store for reading only: nothing is written, not
	// even a schema upgrade; appends fail. Verification, queries, proofs
	// and exports need nothing more, so an auditor with read access to a
	// copy can run them.
	ReadOnly bool
	// Origin names a new log in its checkpoints.
	Origin string
	// LogID is a new log's identity (random when empty). It is fixed at
	// creation and kept by every copy of the log (migrate).
	LogID string
	// LogKey is a new log's public key (note verifier key text), recorded
	// in its metadata; empty for a log whose tree heads are not signed.
	LogKey string
	// Difficulty is a new log's proof-of-work difficulty.
	Difficulty int
	// Committed lists classifications whose values the log commits
	// (audit.Record.CommitValues) beyond those it recorded at creation. A
	// new log records them (nil: audit.DefaultCommitted); a log keeps
	// committing what it recorded, so that no writer hashes in the clear
	// what the trail was created to commit.
	Committed []string
	// Signer, when set, signs the tree head of each committed batch.
	// Verifier, its public half, is then required: before a writer signs
	// a tree it did not build itself, it checks that the tree extends the
	// last head the log signed (ledger.GuardAppend).
	Signer   note.Signer
	Verifier note.Verifier
}

// Check reports contradictory options.
func (o Options) Check() error {
	switch {
	case o.Signer != nil && o.Verifier == nil:
		return errors.New("store options: a log signer needs its verifier")
	case o.Signer != nil && o.Signer.Name() != o.Verifier.Name():
		return fmt.Errorf("store options: the signer %q and the verifier %q are different keys", o.Signer.Name(), o.Verifier.Name())
	case o.ReadOnly && (o.Create || o.Signer != nil):
		return errors.New("store options: a read-only store is neither created nor appended to")
	}
	return nil
}

// KeySetter is implemented by stores whose log key can be given after they
// are opened, before their first append: the caller can then compare the
// store's identity with the log it expects before handing it the key.
type KeySetter interface {
	SetLogKey(signer note.Signer, verifier note.Verifier) error
}

// CheckLogKey checks a log key handed to a store after it was opened: a
// signer with its verifier, the key of the log id describes.
func (id Identity) CheckLogKey(signer note.Signer, verifier note.Verifier) error {
	opts := Options{Signer: signer, Verifier: verifier}
	if err := opts.Check(); err != nil {
		return err
	}
	return id.CheckKey(opts)
}

// Identity is what a store records about its log when it is created.
type Identity struct {
	Origin     string // the log's name in its checkpoints
	LogID      string // the log's identity, shared by its copies
	StoreID    string // this store's own identity (not copied by migrate)
	LogKey     string // the log's public key text; empty when unsigned
	Difficulty int
	CreatedAt  string
	// Committed lists the classifications whose values the log commits.
	Committed []string
}

// NewLogID returns a random log identity: 16 hex digits.
func NewLogID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ErrNoLogKey is returned by appends to a log whose tree heads are signed
// when the store was opened without the log's key: the heads of those
// records could not be signed, and verification would rightly reject them.
var ErrNoLogKey = errors.New("this log's tree heads are signed by its log key, which was not given")

// ErrReadOnly is returned by writes to a store opened read-only.
var ErrReadOnly = errors.New("the store was opened read-only")

// OpenFunc opens the store at a location of the backend's scheme. loc is
// the whole URL.
type OpenFunc func(ctx context.Context, loc string, opts Options) (audit.Store, error)

// Registry maps URL schemes to backends.
type Registry struct {
	open map[string]OpenFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{open: map[string]OpenFunc{}} }

// Register adds a backend for the given schemes.
func (r *Registry) Register(fn OpenFunc, schemes ...string) {
	for _, s := range schemes {
		r.open[s] = fn
	}
}

// Schemes lists the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	var out []string
	for s := range r.open {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Scheme returns the scheme of a store URL.
func Scheme(loc string) string {
	if i := strings.Index(loc, ":"); i > 0 {
		return strings.ToLower(loc[:i])
	}
	return ""
}

// Open opens the store at loc.
func (r *Registry) Open(ctx context.Context, loc string, opts Options) (audit.Store, error) {
	fn, ok := r.open[Scheme(loc)]
	if !ok {
		return nil, fmt.Errorf("store %q: unknown scheme (want one of %s)", Redact(loc), strings.Join(r.Schemes(), ", "))
	}
	return fn(ctx, loc, opts)
}

// NewIdentity is the identity a store records when it is created with
// opts: the given origin and log id (each made up when empty), a new
// store id, the log key, the difficulty and the time.
func NewIdentity(opts Options) Identity {
	id := Identity{Origin: opts.Origin, LogID: opts.LogID, StoreID: NewLogID(), LogKey: opts.LogKey,
		Difficulty: opts.Difficulty, CreatedAt: audit.FormatTime(time.Now()), Committed: opts.Committed}
	if id.Committed == nil {
		id.Committed = audit.DefaultCommitted
	}
	if id.LogID == "" {
		id.LogID = NewLogID()
	}
	if id.Origin == "" {
		id.Origin = "ami-audit/" + id.LogID
	}
	return id
}

// Meta is the identity as the key/value rows stores keep it.
func (id Identity) Meta() map[string]string {
	return map[string]string{
		"origin":     id.Origin,
		"log_id":     id.LogID,
		"store_id":   id.StoreID,
		"log_key":    id.LogKey,
		"difficulty": strconv.Itoa(id.Difficulty),
		"created_at": id.CreatedAt,
		"committed":  CommittedMeta(id.Committed),
	}
}

// CommittedMeta is the meta value recording committed classifications: a
// JSON array.
func CommittedMeta(classes []string) string {
	b, _ := json.Marshal(append([]string{}, classes...))
	return string(b)
}

// Params are the rules the store's log appends by: its difficulty, and
// the classifications it commits — those it recorded and those opts add.
func (id Identity) Params(opts Options) ledger.Params {
	committed := slices.Clone(id.Committed)
	for _, c := range opts.Committed {
		if !slices.Contains(committed, c) {
			committed = append(committed, c)
		}
	}
	return ledger.Params{Difficulty: id.Difficulty, Committed: committed}
}

// ParseIdentity reads an identity from a store's key/value rows.
func ParseIdentity(meta map[string]string) (Identity, error) {
	id := Identity{Origin: meta["origin"], LogID: meta["log_id"], StoreID: meta["store_id"], LogKey: meta["log_key"], CreatedAt: meta["created_at"]}
	if id.Origin == "" {
		return id, errors.New("the store's metadata names no origin")
	}
	if id.LogID == "" {
		return id, errors.New("the store's metadata holds no log id")
	}
	d, err := strconv.Atoi(meta["difficulty"])
	if err != nil {
		return id, fmt.Errorf("difficulty %q is not a number", meta["difficulty"])
	}
	id.Difficulty = d
	if c, ok := meta["committed"]; ok {
		if err := json.Unmarshal([]byte(c), &id.Committed); err != nil {
			return id, fmt.Errorf("committed classifications %q are not a JSON array of strings", c)
		}
	}
	return id, nil
}

// CheckKey checks that the key a store was opened with is the log's own:
// named after the origin and, when the log recorded its public key at
// creation, that key. Stores call it on open, before any append.
func (id Identity) CheckKey(opts Options) error {
	if opts.Verifier == nil {
		return nil
	}
	if opts.Verifier.Name() != id.Origin {
		return fmt.Errorf("the log key %q is not the key of this log (%q)", opts.Verifier.Name(), id.Origin)
	}
	if id.LogKey == "" {
		return nil
	}
	v, err := note.NewVerifier(id.LogKey)
	if err != nil {
		return fmt.Errorf("the store's metadata holds a log key that does not parse: %w", err)
	}
	if v.Name() != opts.Verifier.Name() || v.KeyHash() != opts.Verifier.KeyHash() {
		return fmt.Errorf("the log key given (%s+%08x) is not the key this log was created with (%s+%08x)",
			opts.Verifier.Name(), opts.Verifier.KeyHash(), v.Name(), v.KeyHash())
	}
	return nil
}

// PrunedRecord is what a store reads back of a pruned record: its
// sequence, id, hash (raw) and status, and the pruning mark.
func PrunedRecord(seq uint64, id string, hash []byte, status string, mark audit.Pruning) *audit.Record {
	return &audit.Record{Sequence: seq, RecordID: id, RecordHash: hex.EncodeToString(hash), Status: audit.Status(status), Pruned: &mark}
}

// Rows is what both drivers' query results offer (database/sql's and
// pgx's), for the scans the stores share.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanCosignatures reads co-signatures from rows of (size, signer, note,
// timestamp), as both stores list them.
func ScanCosignatures(rows Rows) ([]ledger.Cosignature, error) {
	var out []ledger.Cosignature
	for rows.Next() {
		var c ledger.Cosignature
		var size int64
		var n, ts string
		if err := rows.Scan(&size, &c.Signer, &n, &ts); err != nil {
			return nil, err
		}
		c.Size, c.Note = uint64(max(size, 0)), []byte(n)
		c.Timestamp, _ = time.Parse(time.RFC3339Nano, ts)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Package sqlite is the embedded store: one SQLite file (pure Go driver,
// modernc.org/sqlite) in the audited repository's .audit/ directory.
//
// # Appends and durability
//
// All appends of a process go through one writer goroutine that commits
// every request waiting at that moment in a single transaction (group
// commit): concurrent appenders share one transaction and one sync. Across
// processes, the transaction starts with BEGIN IMMEDIATE, which takes
// SQLite's write lock, and reads the tip of the chain under it, so two
// processes can never link to the same record: the chain never forks.
//
// The database runs in WAL mode with synchronous=FULL: a commit returns only
// after the write-ahead log is synced to the device. An append that
// returned success therefore survives kill -9 of the process and also a
// power loss or kernel crash, as long as the device honours flush requests.
// We chose FULL over NORMAL (which can lose the last commits on power loss)
// because an audit record that was acknowledged and then vanished is exactly
// what a tamper-evident log must not allow; group commit recovers the
// throughput that one sync per commit costs.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	sqlitedriver "modernc.org/sqlite" // the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/groupcommit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Config says which file to open and how.
type Config struct {
	// Path of the database file.
	Path string
	// Create the store when the file does not exist or is empty;
	// otherwise opening a missing or empty store fails with
	// audit.ErrNotInitialized.
	Create bool
	// ReadOnly opens the file for reading only (see store.Options).
	ReadOnly bool
	// Origin names the log in its checkpoints. Used only at creation.
	Origin string
	// LogID is the log's identity, random when empty. Used only at
	// creation.
	LogID string
	// LogKey is the log's public key text, empty for an unsigned log.
	// Used only at creation.
	LogKey string
	// Difficulty is the proof-of-work difficulty. Used only at creation.
	Difficulty int
	// Committed lists classifications whose values are committed, beyond
	// those the log recorded at creation (see store.Options).
	Committed []string
	// Signer, when set, signs the tree head after each committed batch;
	// Verifier, its public half, is then required (see store.Options).
	Signer   note.Signer
	Verifier note.Verifier
	// BusyTimeout bounds how long an append waits for another process's
	// write lock (default one minute).
	BusyTimeout time.Duration
	// MaxBatch bounds the records committed in one group transaction
	// (default 10,000).
	MaxBatch int
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Path == "" {
		return errors.New("sqlite store: no path")
	}
	if c.Difficulty < 0 || c.Difficulty > ledger.MaxDifficulty {
		return fmt.Errorf("sqlite store: difficulty %d out of range 0..%d", c.Difficulty, ledger.MaxDifficulty)
	}
	return c.options().Check()
}

func (c *Config) options() store.Options {
	return store.Options{Create: c.Create, ReadOnly: c.ReadOnly, Origin: c.Origin, LogID: c.LogID, LogKey: c.LogKey,
		Difficulty: c.Difficulty, Committed: c.Committed, Signer: c.Signer, Verifier: c.Verifier}
}

// Store is an SQLite-backed audit.Store. It also implements
// ledger.RawScanner and serves tree hashes for proofs.
type Store struct {
	path      string
	db        *sql.DB // readers
	wdb       *sql.DB // the one writer connection; nil when read-only
	id        store.Identity
	params    ledger.Params // the rules the log appends by
	signer    note.Signer
	verifier  note.Verifier
	maxBatch  int
	immutable bool // opened as an immutable snapshot (read-only, no WAL access)

	// The tree's frontier at frontierTip, kept by the writer goroutine
	// between commits so that linking needs no reads of stored hashes.
	// Another process's appends change the tip; the frontier is then
	// rebuilt from the store.
	frontier    *ledger.Accumulator
	frontierTip audit.Head

	// Statements of the writer connection, prepared once.
	insertStmt, tipStmt, headStmt, sigStmt, valueStmt *sql.Stmt

	queue     *groupcommit.Queue
	closeOnce sync.Once
	closeErr  error
}

type appendReq = groupcommit.Request

// Open opens (or with cfg.Create, creates) the store at cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = time.Minute
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 10000
	}
	fi, err := os.Stat(cfg.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if !cfg.Create {
			return nil, fmt.Errorf("%s: %w", cfg.Path, audit.ErrNotInitialized)
		}
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, fmt.Errorf("%s is a directory, not an audit store", cfg.Path)
	case fi.Size() == 0 && !cfg.Create:
		return nil, fmt.Errorf("%s: the file is empty: %w", cfg.Path, audit.ErrNotInitialized)
	}
	// The writer keeps more index pages cached than each reader, which
	// mostly streams rows once (this keeps verification under 100 MB).
	dsn := func(txlock string, cacheKiB int, mode string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout("+strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)+")")
		if mode == "" {
			q.Add("_pragma", "journal_mode(WAL)")
			q.Add("_pragma", "synchronous(FULL)")
		}
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "cache_size(-"+strconv.Itoa(cacheKiB)+")")
		if txlock != "" {
			q.Add("_txlock", txlock)
			// What the writer deletes (redaction, retention) is
			// overwritten with zeros, not left in free space.
			q.Add("_pragma", "secure_delete(1)")
		}
		switch mode {
		case "ro":
			q.Add("mode", "ro")
		case "immutable":
			q.Add("mode", "ro")
			q.Add("immutable", "1")
		}
		return "file:" + cfg.Path + "?" + q.Encode()
	}
	s := &Store{path: cfg.Path, signer: cfg.Signer, verifier: cfg.Verifier, maxBatch: cfg.MaxBatch}
	if cfg.ReadOnly {
		if err := s.openReadOnly(ctx, dsn); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Path, err)
		}
		return s, nil
	}
	wdb, err := sql.Open("sqlite", dsn("immediate", 8192, ""))
	if err != nil {
		return nil, err
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxIdleTime(0)
	db, err := sql.Open("sqlite", dsn("", 2048, ""))
	if err != nil {
		wdb.Close()
		return nil, err
	}
	db.SetMaxOpenConns(8)
	s.db, s.wdb = db, wdb
	if err := s.migrate(ctx, cfg); err != nil {
		db.Close()
		wdb.Close()
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	if err := s.id.CheckKey(cfg.options()); err != nil {
		db.Close()
		wdb.Close()
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	s.params = s.id.Params(cfg.options())
	s.queue = groupcommit.New(s.maxBatch, s.commit, func(r *audit.Record) (*ledger.Prepared, error) {
		return ledger.Prepare(r, s.params)
	})
	return s, nil
}

// openReadOnly opens the file without ever writing to it. A WAL database
// whose directory the reader cannot write (a read-only copy, another
// user's trail) cannot set up its shared-memory index; it is then read as
// an immutable snapshot, which is what a copy is.
func (s *Store) openReadOnly(ctx context.Context, dsn func(string, int, string) string) error {
	var lastErr error
	for _, mode := range []string{"ro", "immutable"} {
		db, err := sql.Open("sqlite", dsn("", 2048, mode))
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(8)
		s.db = db
		if lastErr = s.loadMeta(ctx, db); lastErr == nil {
			s.immutable = mode == "immutable"
			s.queue = groupcommit.New(1, func(batch []*appendReq) {
				for _, r := range batch {
					r.Err = store.ErrReadOnly
				}
			}, nil)
			return nil
		}
		db.Close()
		if errors.Is(lastErr, audit.ErrNotInitialized) || errors.Is(lastErr, audit.ErrSchemaNewer) || errors.Is(lastErr, errSchemaOlder) {
			break
		}
	}
	return lastErr
}

// Immutable reports that the store was opened as an immutable snapshot
// (read-only, without the write-ahead log's shared index).
func (s *Store) Immutable() bool { return s.immutable }

var errSchemaOlder = errors.New("the store was written by an older ami-audit")

// schemaVersion reads the schema version, 0 for a file without tables.
func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'meta'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("not an audit store (or not an SQLite file): %w", err)
	}
	if n == 0 {
		var tables int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
			return 0, err
		}
		if tables > 0 {
			return 0, errors.New("the file is an SQLite database but not an audit store; choose another path")
		}
		return 0, nil
	}
	var v string
	if err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("no schema version: %w", err)
	}
	version, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("schema version %q is not a number", v)
	}
	if version > SchemaVersion {
		return 0, fmt.Errorf("%w: it has schema version %d and this ami-audit knows up to version %d; upgrade ami-audit", audit.ErrSchemaNewer, version, SchemaVersion)
	}
	return version, nil
}

// loadMeta reads the log's identity without writing anything.
func (s *Store) loadMeta(ctx context.Context, q queryer) error {
	version, err := schemaVersion(ctx, q)
	if err != nil {
		return err
	}
	switch {
	case version == 0:
		return fmt.Errorf("the file holds no audit trail: %w", audit.ErrNotInitialized)
	case version < SchemaVersion:
		return fmt.Errorf("%w (schema version %d, this one writes %d): open it once with write access ('ami-audit init') to upgrade it", errSchemaOlder, version, SchemaVersion)
	}
	meta := map[string]string{}
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		meta[k] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	id, err := store.ParseIdentity(meta)
	if err != nil {
		return err
	}
	s.id = id
	return nil
}

// migrate creates or upgrades the schema and loads the log's identity.
func (s *Store) migrate(ctx context.Context, cfg Config) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer tx.Rollback()
	version, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if version == 0 && !cfg.Create {
		return fmt.Errorf("the file holds no audit trail: %w", audit.ErrNotInitialized)
	}
	for v := version; v < SchemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema %d→%d: %w", v, v+1, err)
		}
	}
	if version == 0 {
		if err := insertMeta(ctx, tx, store.NewIdentity(cfg.options())); err != nil {
			return err
		}
	}
	if version < 2 {
		// Stores made before logs had identities get theirs now.
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('log_id', ?), ('store_id', ?), ('log_key', '') ON CONFLICT (key) DO NOTHING`,
			store.NewLogID(), store.NewLogID()); err != nil {
			return err
		}
	}
	if version < 3 {
		// Logs made before commitments existed commit from now on what
		// a new log commits by default.
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('committed', ?) ON CONFLICT (key) DO NOTHING`,
			store.CommittedMeta(audit.DefaultCommitted)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.Itoa(SchemaVersion)); err != nil {
		return err
	}
	if err := s.loadMeta(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func insertMeta(ctx context.Context, tx *sql.Tx, id store.Identity) error {
	for k, v := range id.Meta() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, k, v); err != nil {
			return err
		}
	}
	return nil
}

// Origin is the log's name in its checkpoints.
func (s *Store) Origin() string { return s.id.Origin }

// Difficulty is the log's proof-of-work difficulty.
func (s *Store) Difficulty() int { return s.id.Difficulty }

// Identity is what the store recorded about its log at creation.
func (s *Store) Identity() store.Identity { return s.id }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Append implements audit.Appender with group commit: all appends waiting
// when the writer is free share one transaction and one sync. Once
// queued, Append waits for the outcome even if ctx ends, so that its
// result always says whether the records were stored.
func (s *Store) Append(ctx context.Context, recs []*audit.Record) error {
	return s.queue.Append(ctx, recs)
}

// AppendStream appends every record seq yields in one transaction: all of
// them or, if seq yields an error or a record is invalid, none. Memory stays
// flat whatever the count; other appenders wait until it commits. It
// returns the number of records stored.
func (s *Store) AppendStream(ctx context.Context, seq iter.Seq2[*audit.Record, error]) (int, error) {
	return s.queue.AppendStream(ctx, seq, nil)
}

// AppendStreamSigned is AppendStream with sign called on each record once
// it is linked and before it is stored: the signatures it adds are stored
// in the same transaction as the records.
func (s *Store) AppendStreamSigned(ctx context.Context, seq iter.Seq2[*audit.Record, error], sign func(*audit.Record) error) (int, error) {
	return s.queue.AppendStream(ctx, seq, sign)
}

// commit links and stores a group of requests in one transaction. A request
// whose records are invalid fails alone; the others commit.
func (s *Store) commit(batch []*appendReq) {
	err := s.prepareWriter()
	switch {
	case err != nil:
	case s.signer == nil && s.id.LogKey != "":
		err = fmt.Errorf("append: %w", store.ErrNoLogKey)
	case len(batch) == 1 && batch[0].Stream != nil:
		batch[0].N, err = s.commitStream(batch[0].Stream, batch[0].Sign)
	default:
		err = s.commitTx(batch)
	}
	err = describeWriteError(err)
	for _, r := range batch {
		if r.Err == nil && err != nil {
			r.Err = err
		}
	}
}

// ErrFull is wrapped by the error of an append that found no space to
// grow the store: the disk holding it is full (or the database reached a
// size limit set on it). Nothing of that append was stored.
var ErrFull = fmt.Errorf("the store is full: %w", syscall.ENOSPC)

// describeWriteError names SQLITE_FULL for what it is: SQLite says
// "database or disk is full", or only what failed after it (a savepoint
// it rolled back with the transaction).
func describeWriteError(err error) error {
	var se *sqlitedriver.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w (SQLite: %v)", ErrFull, err)
	}
	return err
}

// commitTx commits a group of requests. The fast path links them all and
// writes their rows with multi-row statements; should a row be refused
// (a duplicate record_id), the group is redone with a savepoint per
// request, so that only the request at fault fails.
func (s *Store) commitTx(batch []*appendReq) error {
	err := s.commitGroup(batch, len(batch) == 1)
	if !errors.Is(err, errRedo) {
		return err
	}
	for _, r := range batch {
		r.Err = nil
	}
	return s.commitGroup(batch, true)
}

var errRedo = errors.New("redo the group one request at a time")

func (s *Store) commitGroup(batch []*appendReq, careful bool) error {
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append: begin: %w", err)
	}
	defer tx.Rollback()
	tip, acc, err := s.tipAndFrontier(ctx, tx)
	if err != nil {
		return err
	}
	w := s.rowWriter(ctx, tx)
	savepoints := careful && len(batch) > 1
	var all []ledger.Entry
	committed := 0
	for _, r := range batch {
		entries, next, nextAcc, err := ledger.LinkPrepared(tip, r.Prepared, s.params, acc)
		if err != nil {
			r.Err = err // invalid records: this request fails alone
			continue
		}
		if !careful {
			all = append(all, entries...)
			tip, acc = next, nextAcc
			committed++
			continue
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT req`); err != nil {
				return err
			}
		}
		var insErr error
		if i, err := w.insert(entries); err != nil {
			insErr = &ledger.BatchError{Index: i, Err: err}
		}
		if insErr != nil {
			if !errors.Is(insErr, audit.ErrDuplicateID) {
				// Not this request's fault (a full disk, an I/O
				// error): the whole group fails, nothing is stored.
				return insErr.(*ledger.BatchError).Err
			}
			r.Err = insErr
			if !savepoints {
				return nil
			}
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO req`); err != nil {
				return errors.Join(insErr, err)
			}
			continue
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, `RELEASE req`); err != nil {
				return err
			}
		}
		tip, acc = next, nextAcc
		committed++
	}
	if committed == 0 {
		return nil
	}
	if !careful {
		if _, err := w.insert(all); err != nil {
			if errors.Is(err, audit.ErrDuplicateID) {
				return errRedo
			}
			return err
		}
	}
	if err := s.writeHead(ctx, tx, tip.Size, acc.Root()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append: commit: %w", err)
	}
	s.frontier, s.frontierTip = acc, tip
	return nil
}

// rowWriter writes linked entries in tx with the writer's prepared
// statements.
// Only the writer goroutine may use it: it shares the statements that
// goroutine prepared (prepareWriter).
func (s *Store) rowWriter(ctx context.Context, tx *sql.Tx) *rowWriter {
	return &rowWriter{ctx: ctx, tx: tx, prepared: [3]*sql.Stmt{s.insertStmt, s.sigStmt, s.valueStmt}}
}

// txWriter is a rowWriter of its own, for a transaction outside the writer
// goroutine: it prepares its statements in tx.
func txWriter(ctx context.Context, tx *sql.Tx) *rowWriter {
	return &rowWriter{ctx: ctx, tx: tx}
}

type rowWriter struct {
	ctx              context.Context
	tx               *sql.Tx
	prepared         [3]*sql.Stmt // insertRecord, insertSignatureRow, insertValue
	ins, sigs, value *sql.Stmt
	args             []any
}

// stmt returns the statement q in the writer's transaction: prepared
// once for the store when it is, else prepared now.
func (w *rowWriter) stmt(dst **sql.Stmt, prepared *sql.Stmt, q string) (*sql.Stmt, error) {
	if *dst != nil {
		return *dst, nil
	}
	if prepared != nil {
		*dst = w.tx.StmtContext(w.ctx, prepared)
		return *dst, nil
	}
	st, err := w.tx.PrepareContext(w.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("append: prepare: %w", err)
	}
	*dst = st
	return st, nil
}

// insert writes entries one row at a time: single-row statements need no
// statement journal (a multi-row one, or a savepoint, makes SQLite copy
// every page it then changes), and the row at fault is known. It returns
// the position of the entry that failed; a duplicate record_id is
// audit.ErrDuplicateID.
func (w *rowWriter) insert(entries []ledger.Entry) (int, error) {
	for i := range entries {
		if err := w.insertEntry(&entries[i]); err != nil {
			return i, err
		}
	}
	return len(entries), nil
}

// insertEntry writes one linked record, the signatures it came with and
// the values of its committed fields.
func (w *rowWriter) insertEntry(e *ledger.Entry) error {
	ins, err := w.stmt(&w.ins, w.prepared[0], insertRecord)
	if err != nil {
		return err
	}
	w.args = appendRecordArgs(w.args[:0], e)
	if _, err := ins.ExecContext(w.ctx, w.args...); err != nil {
		return describeInsert(err, e.Record)
	}
	if len(e.Record.Signatures) > 0 {
		sigs, err := w.stmt(&w.sigs, w.prepared[1], insertSignatureRow)
		if err != nil {
			return err
		}
		for _, sig := range e.Record.Signatures {
			if _, err := sigs.ExecContext(w.ctx, e.Record.Sequence, sig.Signer, sig.Algorithm, sig.Signature, audit.FormatTime(sig.Timestamp)); err != nil {
				return err
			}
		}
	}
	if len(e.Record.Disclosures) > 0 {
		vals, err := e.Values()
		if err != nil {
			return err
		}
		value, err := w.stmt(&w.value, w.prepared[2], insertValue)
		if err != nil {
			return err
		}
		for _, v := range vals {
			if _, err := value.ExecContext(w.ctx, e.Record.Sequence, v.Field, v.Salt, v.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepareWriter prepares the writer's statements on the first append, on
// the writer goroutine, outside any transaction (the writer connection is
// the only one, and a transaction holds it while it runs). Read-only uses
// of the store never pay for them.
func (s *Store) prepareWriter() error {
	if s.insertStmt != nil {
		return nil
	}
	ctx := context.Background()
	prepare := func(q string) (*sql.Stmt, error) {
		st, err := s.wdb.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("append: prepare: %w", err)
		}
		return st, nil
	}
	var err error
	if s.tipStmt, err = prepare(selectTip); err != nil {
		return err
	}
	if s.headStmt, err = prepare(insertHead); err != nil {
		return err
	}
	if s.sigStmt, err = prepare(insertSignatureRow); err != nil {
		return err
	}
	if s.valueStmt, err = prepare(insertValue); err != nil {
		return err
	}
	// Set last: a nil insertStmt means "not prepared yet".
	s.insertStmt, err = prepare(insertRecord)
	return err
}

// tipAndFrontier reads the tip of the chain in tx and returns the tree's
// frontier there: the one kept from the last commit when no other process
// appended since, else rebuilt from the stored hashes.
func (s *Store) tipAndFrontier(ctx context.Context, tx *sql.Tx) (audit.Head, *ledger.Accumulator, error) {
	tip, err := readTip(ctx, tx.StmtContext(ctx, s.tipStmt))
	if err != nil {
		return tip, nil, err
	}
	if s.frontier != nil && s.frontierTip == tip {
		return tip, s.frontier, nil
	}
	acc, err := ledger.Frontier(tip.Size, s.hashReader(ctx, tx))
	if err != nil {
		return tip, nil, err
	}
	// A tree this process did not build: it must be the one the log last
	// signed before a new head is signed over it.
	latest, err := latestHead(ctx, tx)
	if err != nil {
		return tip, nil, err
	}
	if err := ledger.GuardAppend(latest, tip.Size, acc.Root(), s.id.Origin, s.verifier); err != nil {
		return tip, nil, err
	}
	return tip, acc, nil
}

// latestHead reads the stored tree head of the largest size, nil when
// there is none.
func latestHead(ctx context.Context, q queryer) (*ledger.StoredHead, error) {
	var size int64
	var root []byte
	var signed sql.NullString
	err := q.QueryRowContext(ctx, `SELECT size, root, note FROM heads ORDER BY size DESC LIMIT 1`).Scan(&size, &root, &signed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the latest tree head: %w", err)
	}
	return storedHead(size, root, signed), nil
}

func storedHead(size int64, root []byte, signed sql.NullString) *ledger.StoredHead {
	h := &ledger.StoredHead{Size: uint64(max(size, 0))}
	copy(h.Root[:], root)
	if signed.Valid {
		h.Note = []byte(signed.String)
	}
	return h
}

// streamChunk is how many records of a stream are linked at a time.
const streamChunk = 1000

func (s *Store) commitStream(seq iter.Seq2[*ledger.Prepared, error], sign func(*audit.Record) error) (int, error) {
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("append: begin: %w", err)
	}
	defer tx.Rollback()
	tip, acc, err := s.tipAndFrontier(ctx, tx)
	if err != nil {
		return 0, err
	}
	w := s.rowWriter(ctx, tx)
	chunk := make([]*ledger.Prepared, 0, streamChunk)
	total := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		entries, next, nextAcc, err := ledger.LinkPrepared(tip, chunk, s.params, acc)
		if err != nil {
			var be *ledger.BatchError
			if errors.As(err, &be) {
				be.Index += total
			}
			return err
		}
		if err := ledger.SignEntries(entries, sign, total); err != nil {
			return err
		}
		if i, err := w.insert(entries); err != nil {
			if errors.Is(err, audit.ErrDuplicateID) {
				return &ledger.BatchError{Index: total + i, Err: err}
			}
			return err // a full disk or an I/O error
		}
		tip, acc = next, nextAcc
		total += len(chunk)
		chunk = chunk[:0]
		return nil
	}
	for r, err := range seq {
		if err != nil {
			return 0, err
		}
		chunk = append(chunk, r)
		if len(chunk) == streamChunk {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, nil
	}
	if err := s.writeHead(ctx, tx, tip.Size, acc.Root()); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("append: commit: %w", err)
	}
	s.frontier, s.frontierTip = acc, tip
	return total, nil
}

const insertRecord = `INSERT INTO records (seq, record_id, record_hash, body, tree, status, timestamp, actor, action, target, target_type, severity)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const (
	insertSignatureRow = `INSERT OR REPLACE INTO signatures (seq, signer, algorithm, signature, timestamp) VALUES (?, ?, ?, ?, ?)`
	insertValue        = `INSERT INTO field_values (seq, field, salt, value) VALUES (?, ?, ?, ?)`
)

func appendRecordArgs(args []any, e *ledger.Entry) []any {
	r := e.Record
	return append(args, r.Sequence, r.RecordID, e.Hash[:], e.Body, e.TreeBlob(), string(r.Status),
		audit.FormatTime(r.Timestamp), r.Actor, r.Action, r.Target, string(r.TargetType), string(r.Severity))
}

func describeInsert(err error, r *audit.Record) error {
	if isConstraint(err) {
		return fmt.Errorf("record_id %s %w", r.RecordID, audit.ErrDuplicateID)
	}
	return err
}

// writeHead stores the tree head at size, signed when a signer is set.
func (s *Store) writeHead(ctx context.Context, tx *sql.Tx, size uint64, root tlog.Hash) error {
	signed, err := s.signedHead(size, root)
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, s.headStmt).ExecContext(ctx, size, root[:], signed)
	return err
}

// signedHead is the signed note of a tree head, nil without a signer.
func (s *Store) signedHead(size uint64, root tlog.Hash) (any, error) {
	if s.signer == nil {
		return nil, nil
	}
	msg, err := ledger.Checkpoint{Origin: s.id.Origin, Size: size, Root: root}.Sign(s.signer)
	if err != nil {
		return nil, fmt.Errorf("sign tree head: %w", err)
	}
	return string(msg), nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const (
	selectTip  = `SELECT seq, record_hash FROM records ORDER BY seq DESC LIMIT 1`
	insertHead = `INSERT OR REPLACE INTO heads (size, root, note) VALUES (?, ?, ?)`
)

// rowQueryer runs the tip query: the database, or a prepared statement.
type rowQueryer interface {
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

type dbTip struct{ q queryer }

func (d dbTip) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return d.q.QueryRowContext(ctx, selectTip, args...)
}

func readTip(ctx context.Context, q rowQueryer) (audit.Head, error) {
	var seq int64
	var hash []byte
	err := q.QueryRowContext(ctx).Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.Head{Size: 0, Hash: audit.GenesisHash}, nil
	case err != nil:
		return audit.Head{}, fmt.Errorf("read tip: %w", err)
	}
	return audit.Head{Size: uint64(seq) + 1, Hash: hex.EncodeToString(hash)}, nil
}

// hashReader serves stored tree hashes through q.
func (s *Store) hashReader(ctx context.Context, q queryer) tlog.HashReader {
	return ledger.BlobHashReader(func(leaf uint64) ([]byte, error) {
		var b []byte
		err := q.QueryRowContext(ctx, `SELECT tree FROM records WHERE seq = ?`, leaf).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("record %d is missing: cannot read its tree hashes", leaf)
		}
		return b, err
	})
}

// HashReader serves stored tree hashes, for proofs.
func (s *Store) HashReader(ctx context.Context) tlog.HashReader { return s.hashReader(ctx, s.db) }

// Head implements audit.Store.
func (s *Store) Head(ctx context.Context) (audit.Head, error) { return readTip(ctx, dbTip{s.db}) }

// Close stops the writer after the queued appends and closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.queue.Close()
		if s.wdb != nil {
			s.closeErr = s.wdb.Close()
		}
		s.closeErr = errors.Join(s.closeErr, s.db.Close())
	})
	return s.closeErr
}

// SetLogKey implements store.KeySetter: it must be called before the first
// append.
func (s *Store) SetLogKey(signer note.Signer, verifier note.Verifier) error {
	if s.wdb == nil {
		return store.ErrReadOnly
	}
	if err := s.id.CheckLogKey(signer, verifier); err != nil {
		return err
	}
	s.signer, s.verifier = signer, verifier
	return nil
}

// Package postgres is the team store: the trail in a PostgreSQL database
// shared by many machines (pgx v5).
//
// # Tables
//
// The tables of SPEC §5 (audit_records, audit_findings, audit_violations,
// audit_signatures) with their indexes, plus what the ledger needs:
// audit_records also holds each record's sequence number, its canonical
// bytes (body: what the record hash covers, and what reads decode) and the
// Merkle tree hashes the record completes; audit_tree_heads keeps the tree
// head of every committed batch (signed with the log key when the writer
// holds it); audit_chain is the tip; audit_meta holds the schema version,
// the log's origin and its proof-of-work difficulty. Schema changes are
// versioned migrations; a database of a newer version is refused.
//
// # Appends
//
// Every append transaction starts by locking the single audit_chain row
// (SELECT … FOR UPDATE) and reads the tip under that lock, so appends from
// any number of processes on any number of machines serialize in the
// database: the chain never forks, never skips a sequence number, never
// holds a record twice. Within a process, one writer goroutine commits all
// the appends waiting at that moment in one transaction (group commit),
// writing their rows with COPY; streams (AppendStream) are copied in
// chunks, linked as they arrive, in one transaction. Commits wait for
// PostgreSQL's synchronous commit: a successful Append is durable.
//
// When the connection fails during COMMIT, the outcome is unknown to the
// client; the writer then asks the database (on a new connection) whether
// the batch's first record is there, and reports which it is.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/groupcommit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Store is a PostgreSQL-backed audit.Store. It also implements
// ledger.RawScanner and ledger.HeadStore and serves tree hashes for proofs.
type Store struct {
	cfg      Config
	pool     *pgxpool.Pool
	id       store.Identity
	params   ledger.Params // the rules the log appends by
	signer   note.Signer
	verifier note.Verifier

	queue     *groupcommit.Queue
	closeOnce sync.Once

	// The writer's copy of the tree's right edge after its last commit,
	// reused when no other process appended since.
	edge     *ledger.Accumulator
	edgeHash string
}

type appendReq = groupcommit.Request

// ErrUnreachable is wrapped when the server cannot be reached in time.
var ErrUnreachable = errors.New("PostgreSQL server unreachable")

// Open connects to the database of cfg and opens (with cfg.Create,
// creates or migrates) the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres store %s: %w", cfg, redactErr(err, cfg.URL))
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 || pcfg.ConnConfig.ConnectTimeout > cfg.ConnectTimeout {
		pcfg.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	}
	if cfg.Schema != "" {
		pcfg.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	if pcfg.ConnConfig.RuntimeParams["application_name"] == "" {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "ami-audit"
	}
	if cfg.ReadOnly {
		pcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store %s: %w", cfg, redactErr(err, cfg.URL))
	}
	s := &Store{cfg: cfg, pool: pool, signer: cfg.Signer, verifier: cfg.Verifier}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		pool.Close()
		if ctx.Err() == nil {
			return nil, fmt.Errorf("postgres store %s: %w within %s: %w", cfg, ErrUnreachable, cfg.ConnectTimeout, redactErr(err, cfg.URL))
		}
		return nil, fmt.Errorf("postgres store %s: %w", cfg, redactErr(err, cfg.URL))
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store %s: %w", cfg, err)
	}
	if err := s.id.CheckKey(cfg.options()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store %s: %w", cfg, err)
	}
	s.params = s.id.Params(cfg.options())
	s.queue = groupcommit.New(s.cfg.MaxBatch, s.commit, nil)
	return s, nil
}

// redactErr keeps every credential of loc out of an error message.
func redactErr(err error, loc string) error { return store.RedactError(err, loc) }

// migrate creates or upgrades the schema and loads the log's identity. A
// read-only store only reads it.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if !s.cfg.ReadOnly {
		// Two processes creating the same store wait for each other.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7460143371)`); err != nil {
			return err
		}
	}
	if s.cfg.Schema != "" {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.cfg.Schema).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if !s.cfg.Create {
				return fmt.Errorf("schema %s: %w", s.cfg.Schema, audit.ErrNotInitialized)
			}
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{s.cfg.Schema}.Sanitize()); err != nil {
				return err
			}
		}
	}
	var hasMeta bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('audit_meta') IS NOT NULL`).Scan(&hasMeta); err != nil {
		return err
	}
	version := 0
	if hasMeta {
		var v string
		if err := tx.QueryRow(ctx, `SELECT value FROM audit_meta WHERE key = 'schema_version'`).Scan(&v); err != nil {
			return fmt.Errorf("no schema version: %w", err)
		}
		if version, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("schema version %q is not a number", v)
		}
	} else {
		if !s.cfg.Create {
			return audit.ErrNotInitialized
		}
		var other bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('audit_records') IS NOT NULL`).Scan(&other); err != nil {
			return err
		}
		if other {
			return errors.New("the database has an audit_records table but no audit_meta: it is not an ami-audit store; choose another database or schema")
		}
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: it has schema version %d and this ami-audit knows up to version %d; upgrade ami-audit", audit.ErrSchemaNewer, version, SchemaVersion)
	}
	if version < SchemaVersion && s.cfg.ReadOnly {
		return fmt.Errorf("the store was written by an older ami-audit (schema version %d, this one writes %d): open it once with write access ('ami-audit init') to upgrade it", version, SchemaVersion)
	}
	for v := version; v < SchemaVersion; v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema %d→%d: %w", v, v+1, err)
		}
	}
	if version == 0 {
		for k, v := range store.NewIdentity(s.cfg.options()).Meta() {
			if _, err := tx.Exec(ctx, `INSERT INTO audit_meta (key, value) VALUES ($1, $2)`, k, v); err != nil {
				return err
			}
		}
	}
	if version < 2 {
		// Stores made before logs had identities get theirs now.
		if _, err := tx.Exec(ctx, `INSERT INTO audit_meta (key, value) VALUES ('log_id', $1), ('store_id', $2), ('log_key', '') ON CONFLICT (key) DO NOTHING`,
			store.NewLogID(), store.NewLogID()); err != nil {
			return err
		}
	}
	if version < 3 {
		// Logs made before commitments existed commit from now on what
		// a new log commits by default.
		if _, err := tx.Exec(ctx, `INSERT INTO audit_meta (key, value) VALUES ('committed', $1) ON CONFLICT (key) DO NOTHING`,
			store.CommittedMeta(audit.DefaultCommitted)); err != nil {
			return err
		}
	}
	if version < SchemaVersion {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.Itoa(SchemaVersion)); err != nil {
			return err
		}
	}
	meta := map[string]string{}
	rows, err := tx.Query(ctx, `SELECT key, value FROM audit_meta`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		meta[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if s.id, err = store.ParseIdentity(meta); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Origin is the log's name in its checkpoints.
func (s *Store) Origin() string { return s.id.Origin }

// Difficulty is the log's proof-of-work difficulty.
func (s *Store) Difficulty() int { return s.id.Difficulty }

// Identity is what the store recorded about its log at creation.
func (s *Store) Identity() store.Identity { return s.id }

// Pool is the connection pool, for tools that need SQL beside the store.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Append implements audit.Appender with group commit. Once queued, Append
// waits for the outcome even if ctx ends, so its result always says
// whether the records were stored.
func (s *Store) Append(ctx context.Context, recs []*audit.Record) error {
	return s.queue.Append(ctx, recs)
}

// AppendStream appends every record seq yields in one transaction, copied
// in chunks as they arrive: all of them or, if seq yields an error or a
// record is invalid, none. Memory stays flat whatever the count. It
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

// Head implements audit.Store.
func (s *Store) Head(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	var size int64
	if err := s.pool.QueryRow(ctx, `SELECT size, hash FROM audit_chain`).Scan(&size, &h.Hash); err != nil {
		return h, fmt.Errorf("read tip: %w", err)
	}
	h.Size = uint64(size)
	return h, nil
}

// Close stops the writer after the queued appends and closes the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.queue.Close()
		s.pool.Close()
	})
	return nil
}

// SetLogKey implements store.KeySetter: it must be called before the first
// append.
func (s *Store) SetLogKey(signer note.Signer, verifier note.Verifier) error {
	if s.cfg.ReadOnly {
		return store.ErrReadOnly
	}
	if err := s.id.CheckLogKey(signer, verifier); err != nil {
		return err
	}
	s.signer, s.verifier = signer, verifier
	return nil
}

package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// TestConformance runs the store conformance suite against SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: openHarness})
}

func openHarness(t *testing.T, opts store.Options) *storetest.Instance {
	path := filepath.Join(t.TempDir(), "audit.db")
	cfg := sqlite.Config{Path: path, Create: opts.Create, Origin: opts.Origin, LogID: opts.LogID, LogKey: opts.LogKey, Difficulty: opts.Difficulty, Signer: opts.Signer, Verifier: opts.Verifier}
	s, err := sqlite.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &storetest.Instance{
		Store:  s,
		Tamper: tamperer{db},
		Reopen: func(ctx context.Context) (audit.Store, error) {
			cfg.Create = false
			return sqlite.Open(ctx, cfg)
		},
	}
}

// tamperer edits the SQLite file directly. The query columns (timestamp,
// actor, action, target, target_type, severity) repeat fields of the body;
// other hashed fields live only in the body.
type tamperer struct{ db *sql.DB }

var queryColumns = []string{"timestamp", "actor", "action", "target", "target_type", "severity"}

// columnsOf reads the query column values out of a canonical body.
func columnsOf(body []byte) ([]any, error) {
	v, err := canonical.Decode(body)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("body is not an object")
	}
	out := make([]any, len(queryColumns))
	for i, c := range queryColumns {
		out[i] = m[c]
	}
	return out, nil
}

func (tm tamperer) exec(ctx context.Context, q string, args ...any) error {
	_, err := tm.db.ExecContext(ctx, q, args...)
	return err
}

func (tm tamperer) PutRow(ctx context.Context, r storetest.Row) error {
	cols, err := columnsOf(r.Body)
	if err != nil {
		return err
	}
	args := append([]any{r.ID, r.Hash, r.Body, r.Tree}, cols...)
	return tm.exec(ctx, `UPDATE records SET record_id = ?, record_hash = ?, body = ?, tree = ?,
	timestamp = ?, actor = ?, action = ?, target = ?, target_type = ?, severity = ? WHERE seq = ?`, append(args, r.Seq)...)
}

func (tm tamperer) SetColumn(ctx context.Context, seq uint64, field, value string) error {
	if slices.Contains(queryColumns, field) {
		return tm.exec(ctx, `UPDATE records SET `+field+` = ? WHERE seq = ?`, value, seq)
	}
	var body []byte
	if err := tm.db.QueryRowContext(ctx, `SELECT body FROM records WHERE seq = ?`, seq).Scan(&body); err != nil {
		return err
	}
	v, err := canonical.Decode(body)
	if err != nil {
		return err
	}
	m := v.(map[string]any)
	if _, ok := m[field]; !ok {
		return fmt.Errorf("no field %q in the body", field)
	}
	m[field] = value
	nb, err := canonical.Marshal(m)
	if err != nil {
		return err
	}
	return tm.exec(ctx, `UPDATE records SET body = ? WHERE seq = ?`, nb, seq)
}

func (tm tamperer) DeleteRows(ctx context.Context, from, to uint64) error {
	if err := tm.exec(ctx, `DELETE FROM signatures WHERE seq >= ? AND seq < ?`, from, to); err != nil {
		return err
	}
	return tm.exec(ctx, `DELETE FROM records WHERE seq >= ? AND seq < ?`, from, to)
}

func (tm tamperer) SwapRows(ctx context.Context, a, b uint64) error {
	read := func(seq uint64) (storetest.Row, error) {
		r := storetest.Row{Seq: seq}
		err := tm.db.QueryRowContext(ctx, `SELECT record_id, record_hash, body, tree FROM records WHERE seq = ?`, seq).Scan(&r.ID, &r.Hash, &r.Body, &r.Tree)
		return r, err
	}
	ra, err := read(a)
	if err != nil {
		return err
	}
	rb, err := read(b)
	if err != nil {
		return err
	}
	put := func(seq uint64, r storetest.Row) error {
		r.Seq = seq
		return tm.PutRow(ctx, r)
	}
	if err := tm.exec(ctx, `UPDATE records SET record_id = 'swap' WHERE seq = ?`, a); err != nil {
		return err
	}
	if err := put(b, ra); err != nil {
		return err
	}
	return put(a, rb)
}

func (tm tamperer) DeleteHeads(ctx context.Context, from uint64) error {
	return tm.exec(ctx, `DELETE FROM heads WHERE size >= ?`, from)
}

func (tm tamperer) PutHead(ctx context.Context, size uint64, root tlog.Hash, note []byte) error {
	var n any
	if note != nil {
		n = string(note)
	}
	return tm.exec(ctx, `INSERT OR REPLACE INTO heads (size, root, note) VALUES (?, ?, ?)`, size, root[:], n)
}

func (tm tamperer) SetSchemaVersion(ctx context.Context, v int) error {
	return tm.exec(ctx, `UPDATE meta SET value = ? WHERE key = 'schema_version'`, strconv.Itoa(v))
}

func (tm tamperer) AddStrayRow(ctx context.Context, from uint64, seq int64) error {
	id := uuid.NewString()
	if err := tm.exec(ctx, `INSERT INTO records (seq, record_id, record_hash, body, tree, status, timestamp, actor, action, target, target_type, severity)
SELECT ?, ?, zeroblob(32), body, tree, status, timestamp, actor, action, target, target_type, severity FROM records WHERE seq = ?`, seq, id, from); err != nil {
		return err
	}
	return tm.exec(ctx, `INSERT INTO signatures (seq, signer, algorithm, signature, timestamp) VALUES (?, 'mallory', 'Ed25519', 'AAAA', '2025-01-01T00:00:00Z')`, seq)
}

func (tm tamperer) SetValue(ctx context.Context, seq uint64, field string, value []byte) error {
	return tm.exec(ctx, `INSERT INTO field_values (seq, field, salt, value) VALUES (?, ?, zeroblob(32), ?)
ON CONFLICT (seq, field) DO UPDATE SET value = excluded.value`, seq, field, value)
}

func (tm tamperer) DeleteValue(ctx context.Context, seq uint64, field string) error {
	return tm.exec(ctx, `DELETE FROM field_values WHERE seq = ? AND field = ?`, seq, field)
}

func (tm tamperer) PruneRow(ctx context.Context, seq uint64, mark audit.Pruning) error {
	if err := tm.exec(ctx, `DELETE FROM field_values WHERE seq = ?`, seq); err != nil {
		return err
	}
	return tm.exec(ctx, `UPDATE records SET body = x'', timestamp = '', actor = '', action = '', target = '', target_type = '', severity = '',
	pruned_by = ?, pruned_policy = ? WHERE seq = ?`, mark.RetentionSequence, mark.Policy, seq)
}

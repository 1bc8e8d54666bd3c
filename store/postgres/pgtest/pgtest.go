// Package pgtest opens PostgreSQL stores for tests: each in a schema of its
// own, dropped when the test ends, with a Tamperer for the conformance
// suite.
package pgtest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/postgres"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// Example is the URL the tests suggest.
const Example = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the test server's URL from AMI_AUDIT_TEST_POSTGRES, or skips
// (fails with AMI_AUDIT_REQUIRE_SERVERS=1).
func URL(t testing.TB) string { return storetest.ServerURL(t, storetest.EnvPostgres, Example) }

// Open opens a store in a new schema of its own, dropped when the test
// ends, with a Tamperer on the same schema.
func Open(t testing.TB, url string, opts store.Options) *storetest.Instance {
	t.Helper()
	schema := storetest.RandomName("t_")
	cfg := postgres.Config{URL: url, Schema: schema, Create: opts.Create, Origin: opts.Origin, LogID: opts.LogID, LogKey: opts.LogKey, Difficulty: opts.Difficulty, Signer: opts.Signer, Verifier: opts.Verifier}
	ctx := context.Background()
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn := adminConn(t, url)
	t.Cleanup(func() {
		s.Close()
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		conn.Close(context.Background())
	})
	tconn := adminConn(t, url)
	t.Cleanup(func() { tconn.Close(context.Background()) })
	if _, err := tconn.Exec(ctx, `SET search_path = `+schema+`; SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	return &storetest.Instance{
		Store:  s,
		Tamper: tamperer{tconn},
		Reopen: func(ctx context.Context) (audit.Store, error) {
			c := cfg
			c.Create = false
			return postgres.Open(ctx, c)
		},
	}
}

// Conn opens a plain connection to url, closed when the test ends.
func Conn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	c := adminConn(t, url)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func adminConn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// Tests that terminate a store's connections by application name
	// leave these alone.
	cfg.RuntimeParams["application_name"] = "ami-audit-test-admin"
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tamperer edits the rows directly, with foreign keys off (replica mode),
// keeping the query columns and the tip consistent with what it writes.
type tamperer struct{ c *pgx.Conn }

func (tm tamperer) exec(ctx context.Context, q string, args ...any) error {
	_, err := tm.c.Exec(ctx, q, args...)
	return err
}

func (tm tamperer) fixTip(ctx context.Context) error {
	return tm.exec(ctx, `UPDATE audit_chain SET hash = coalesce((SELECT record_hash FROM audit_records WHERE sequence = audit_chain.size - 1), '0')`)
}

func (tm tamperer) PutRow(ctx context.Context, row storetest.Row) error {
	var r audit.Record
	if err := json.Unmarshal(row.Body, &r); err != nil {
		return err
	}
	cj, _ := json.Marshal(r.Context)
	mj, _ := json.Marshal(r.Metadata)
	id, err := uuid.Parse(row.ID)
	if err != nil {
		return err
	}
	err = tm.exec(ctx, `UPDATE audit_records SET record_id = $1, record_hash = $2, body = $3, tree = $4,
	timestamp = $5, timestamp_ns = $6, actor = $7, action = $8, target = $9, target_type = $10, source = $11,
	reason = $12, context = $13, metadata = $14, previous_hash = $15, nonce = $16, severity = $17, classification = $18
WHERE sequence = $19`, [16]byte(id), hex.EncodeToString(row.Hash), row.Body, row.Tree,
		r.Timestamp, audit.FormatTime(r.Timestamp), r.Actor, r.Action, r.Target, string(r.TargetType), r.Source,
		r.Reason, cj, mj, r.PreviousHash, int64(r.Nonce), string(r.Severity), r.Classification, int64(row.Seq))
	if err != nil {
		return err
	}
	return tm.fixTip(ctx)
}

func (tm tamperer) SetColumn(ctx context.Context, seq uint64, field, value string) error {
	return tm.exec(ctx, `UPDATE audit_records SET `+pgx.Identifier{field}.Sanitize()+` = $1 WHERE sequence = $2`, value, int64(seq))
}

func (tm tamperer) DeleteRows(ctx context.Context, from, to uint64) error {
	for _, table := range []string{"audit_findings", "audit_violations", "audit_signatures"} {
		if err := tm.exec(ctx, `DELETE FROM `+table+` WHERE record_id IN (SELECT record_id FROM audit_records WHERE sequence >= $1 AND sequence < $2)`, int64(from), int64(to)); err != nil {
			return err
		}
	}
	if err := tm.exec(ctx, `DELETE FROM audit_records WHERE sequence >= $1 AND sequence < $2`, int64(from), int64(to)); err != nil {
		return err
	}
	// A truncation moves the tip back.
	if err := tm.exec(ctx, `UPDATE audit_chain SET size = $1 WHERE size <= $2`, int64(from), int64(to)); err != nil {
		return err
	}
	return tm.fixTip(ctx)
}

func (tm tamperer) SwapRows(ctx context.Context, a, b uint64) error {
	for _, step := range [][2]int64{{int64(a), -1}, {int64(b), int64(a)}, {-1, int64(b)}} {
		if err := tm.exec(ctx, `UPDATE audit_records SET sequence = $2 WHERE sequence = $1`, step[0], step[1]); err != nil {
			return err
		}
	}
	return nil
}

func (tm tamperer) DeleteHeads(ctx context.Context, from uint64) error {
	return tm.exec(ctx, `DELETE FROM audit_tree_heads WHERE size >= $1`, int64(from))
}

func (tm tamperer) PutHead(ctx context.Context, size uint64, root tlog.Hash, note []byte) error {
	var n *string
	if note != nil {
		s := string(note)
		n = &s
	}
	return tm.exec(ctx, `INSERT INTO audit_tree_heads (size, root, note) VALUES ($1, $2, $3) ON CONFLICT (size) DO UPDATE SET root = excluded.root, note = excluded.note`, int64(size), root[:], n)
}

func (tm tamperer) SetSchemaVersion(ctx context.Context, v int) error {
	return tm.exec(ctx, `UPDATE audit_meta SET value = $1 WHERE key = 'schema_version'`, strconv.Itoa(v))
}

func (tm tamperer) AddStrayRow(ctx context.Context, from uint64, seq int64) error {
	id := uuid.New()
	if err := tm.exec(ctx, `INSERT INTO audit_records (record_id, record_hash, timestamp, actor, action, target, target_type, source, reason,
	context, metadata, previous_hash, nonce, severity, classification, status, sequence, timestamp_ns, body, tree)
SELECT $1, md5(record_hash), timestamp, actor, action, target, target_type, source, reason,
	context, metadata, previous_hash, nonce, severity, classification, status, $2, timestamp_ns, body, tree
FROM audit_records WHERE sequence = $3`, [16]byte(id), seq, int64(from)); err != nil {
		return err
	}
	return tm.exec(ctx, `INSERT INTO audit_signatures (record_id, signer, algorithm, signature, timestamp) VALUES ($1, 'mallory', 'Ed25519', 'AAAA', '2025-01-01T00:00:00Z')`, [16]byte(id))
}

func (tm tamperer) recordID(ctx context.Context, seq uint64) ([16]byte, error) {
	var id [16]byte
	err := tm.c.QueryRow(ctx, `SELECT record_id FROM audit_records WHERE sequence = $1`, int64(seq)).Scan(&id)
	return id, err
}

func (tm tamperer) SetValue(ctx context.Context, seq uint64, field string, value []byte) error {
	id, err := tm.recordID(ctx, seq)
	if err != nil {
		return err
	}
	return tm.exec(ctx, `INSERT INTO audit_field_values (record_id, field, salt, value) VALUES ($1, $2, $3, $4)
ON CONFLICT (record_id, field) DO UPDATE SET value = excluded.value`, id, []byte(field), make([]byte, 32), value)
}

func (tm tamperer) DeleteValue(ctx context.Context, seq uint64, field string) error {
	id, err := tm.recordID(ctx, seq)
	if err != nil {
		return err
	}
	return tm.exec(ctx, `DELETE FROM audit_field_values WHERE record_id = $1 AND field = $2`, id, []byte(field))
}

func (tm tamperer) PruneRow(ctx context.Context, seq uint64, mark audit.Pruning) error {
	id, err := tm.recordID(ctx, seq)
	if err != nil {
		return err
	}
	for _, table := range []string{"audit_field_values", "audit_findings", "audit_violations"} {
		if err := tm.exec(ctx, `DELETE FROM `+table+` WHERE record_id = $1`, id); err != nil {
			return err
		}
	}
	return tm.exec(ctx, `UPDATE audit_records SET body = ''::bytea, timestamp = NULL, timestamp_ns = NULL, actor = NULL, action = NULL, target = NULL,
	target_type = NULL, source = NULL, reason = NULL, context = NULL, metadata = NULL, previous_hash = NULL, nonce = NULL, severity = NULL,
	classification = NULL, pruned_by = $2, pruned_policy = $3 WHERE record_id = $1`, id, int64(mark.RetentionSequence), mark.Policy)
}

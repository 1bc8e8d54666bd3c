package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Forget implements ledger.Forgetter. The transaction locks the chain's tip
// like an append. After the commit the tables it changed are vacuumed:
// the values table is rewritten (VACUUM FULL, it is small), the records
// table's dead row versions removed (VACUUM). PostgreSQL does not
// overwrite what it frees, and its write-ahead log keeps old row versions
// until it is recycled: the result says so.
func (s *Store) Forget(ctx context.Context, fn func(ledger.ForgetTx) error) (ledger.ForgetResult, error) {
	var res ledger.ForgetResult
	if err := s.writable(); err != nil {
		return res, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("forget: begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	var tip audit.Head
	var size int64
	if err := tx.QueryRow(ctx, `SELECT size, hash FROM audit_chain FOR UPDATE`).Scan(&size, &tip.Hash); err != nil {
		return res, fmt.Errorf("forget: lock the tip: %w", err)
	}
	tip.Size = uint64(size)
	ft := &forgetTx{s: s, ctx: ctx, tx: tx, tip: tip}
	if err := fn(ft); err != nil {
		return res, err
	}
	if !ft.appended {
		return res, errors.New("forget: internal: nothing may be forgotten without the record that says so")
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("forget: commit: %w", err)
	}
	return s.scrub(ctx, ft.valuesDeleted, ft.pruned), nil
}

// Scrub clears what redaction and retention removed from the tables'
// files as far as PostgreSQL can: it rewrites the values table and
// vacuums the others. Forget runs it after every commit; run it again
// when the result said other transactions were open (row versions they
// could still see were kept).
func (s *Store) Scrub(ctx context.Context) ledger.ForgetResult { return s.scrub(ctx, true, true) }

func (s *Store) scrub(ctx context.Context, values, records bool) ledger.ForgetResult {
	var res ledger.ForgetResult
	var done, failed []string
	vacuum := func(stmt string) {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", stmt, err))
			return
		}
		done = append(done, stmt)
	}
	if values {
		vacuum(`VACUUM (FULL) audit_field_values`)
	}
	if records {
		vacuum(`VACUUM audit_records`)
		vacuum(`VACUUM audit_findings`)
		vacuum(`VACUUM audit_violations`)
	}
	res.Scrubbed = strings.Join(done, "; ")
	var open int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL`).Scan(&open); err == nil && open > 0 {
		failed = append(failed, fmt.Sprintf("%d other transactions were open: the removed rows they may still see were kept; run the command again later to clear them", open))
	}
	res.Residue = "PostgreSQL does not overwrite freed space and keeps old row versions in its write-ahead log until it is recycled"
	if records {
		res.Residue += "; 'VACUUM FULL audit_records' rewrites the records table without them"
	}
	if len(failed) > 0 {
		res.Residue = strings.Join(failed, "; ") + "; " + res.Residue
	}
	return res
}

// forgetTx is the transaction of Forget.
type forgetTx struct {
	s                     *Store
	ctx                   context.Context
	tx                    pgx.Tx
	tip                   audit.Head
	appended              bool
	valuesDeleted, pruned bool
}

func (f *forgetTx) Tip() audit.Head { return f.tip }

func (f *forgetTx) Scan(from, to uint64, fn func(*ledger.RawRecord) error) error {
	return scanRaw(f.ctx, f.tx, from, to, fn)
}

func (f *forgetTx) DeleteValues(seq uint64, fields []string) (int, error) {
	if f.appended {
		return 0, errors.New("forget: internal: a change after the record that says so")
	}
	names := make([][]byte, len(fields))
	for i, n := range fields {
		names[i] = []byte(n)
	}
	tag, err := f.tx.Exec(f.ctx, `DELETE FROM audit_field_values WHERE record_id = (SELECT record_id FROM audit_records WHERE sequence = $1) AND field = ANY($2)`,
		clamp(seq), names)
	if err != nil {
		return 0, err
	}
	f.valuesDeleted = true
	return int(tag.RowsAffected()), nil
}

func (f *forgetTx) Prune(seqs []uint64, mark audit.Pruning) error {
	if f.appended {
		return errors.New("forget: internal: a change after the record that says so")
	}
	if len(seqs) == 0 {
		return nil
	}
	list := make([]int64, len(seqs))
	for i, q := range seqs {
		list[i] = clamp(q)
	}
	b := &pgx.Batch{}
	for _, table := range []string{"audit_field_values", "audit_findings", "audit_violations"} {
		b.Queue(`DELETE FROM `+table+` WHERE record_id IN (SELECT record_id FROM audit_records WHERE sequence = ANY($1) AND pruned_by IS NULL)`, list)
	}
	b.Queue(`UPDATE audit_records SET body = ''::bytea, timestamp = NULL, timestamp_ns = NULL, actor = NULL, action = NULL, target = NULL,
	target_type = NULL, source = NULL, reason = NULL, context = NULL, metadata = NULL, previous_hash = NULL, nonce = NULL, severity = NULL,
	classification = NULL, pruned_by = $2, pruned_policy = $3
WHERE sequence = ANY($1) AND pruned_by IS NULL`, list, clamp(mark.RetentionSequence), text(mark.Policy))
	if err := f.tx.SendBatch(f.ctx, b).Close(); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	f.pruned = true
	return nil
}

func (f *forgetTx) Append(rec *audit.Record, sign func(*audit.Record) error) error {
	if f.appended {
		return errors.New("forget: internal: a second record")
	}
	s, ctx, tx := f.s, f.ctx, f.tx
	edge, err := s.guardedFrontier(ctx, tx, f.tip)
	if err != nil {
		return err
	}
	entries, next, edge, err := ledger.LinkWith(f.tip, []*audit.Record{rec}, ledger.Params{Difficulty: s.params.Difficulty}, edge)
	if err != nil {
		return err
	}
	if err := ledger.SignEntries(entries, sign, 0); err != nil {
		return err
	}
	var side sideRows
	row, err := recordRow(&entries[0], &side)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, insertRecordSQL, row...); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if err := side.copy(ctx, tx); err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	if err := s.storeTip(ctx, tx, next, edge); err != nil {
		return fmt.Errorf("forget: tip: %w", err)
	}
	f.tip, f.appended = next, true
	return nil
}

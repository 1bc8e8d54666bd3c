package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Forget implements ledger.Forgetter. The transaction takes the database's
// write lock (BEGIN IMMEDIATE) like an append. The writer connection runs
// with secure_delete, so what the transaction deletes is overwritten with
// zeros in the pages it leaves; after the commit the database is rebuilt
// (VACUUM: no free page or stale copy of a removed value remains) and the
// write-ahead log is checkpointed and truncated, so that the removed
// bytes are in none of the store's files.
func (s *Store) Forget(ctx context.Context, fn func(ledger.ForgetTx) error) (ledger.ForgetResult, error) {
	var res ledger.ForgetResult
	switch {
	case s.wdb == nil:
		return res, store.ErrReadOnly
	case s.signer == nil && s.id.LogKey != "":
		return res, fmt.Errorf("forget: %w", store.ErrNoLogKey)
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("forget: begin: %w", err)
	}
	defer tx.Rollback()
	tip, err := readTip(ctx, dbTip{tx})
	if err != nil {
		return res, err
	}
	ft := &forgetTx{s: s, ctx: ctx, tx: tx, tip: tip}
	if err := fn(ft); err != nil {
		return res, err
	}
	if !ft.appended {
		return res, errors.New("forget: internal: nothing may be forgotten without the record that says so")
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("forget: commit: %w", err)
	}
	return s.scrub(ctx), nil
}

// scrub rebuilds the database and empties the write-ahead log.
func (s *Store) scrub(ctx context.Context) ledger.ForgetResult {
	var res ledger.ForgetResult
	var done []string
	if _, err := s.wdb.ExecContext(ctx, `VACUUM`); err != nil {
		res.Residue = fmt.Sprintf("the database could not be rebuilt (%v): removed bytes may remain in its free pages until 'VACUUM' runs", err)
	} else {
		done = append(done, "database rebuilt (VACUUM)")
	}
	for attempt := 0; ; attempt++ {
		var busy, frames, copied int
		err := s.wdb.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied)
		if err == nil && busy == 0 {
			done = append(done, "write-ahead log checkpointed and truncated")
			break
		}
		if attempt == 20 || ctx.Err() != nil {
			if err == nil {
				err = errors.New("other processes were reading")
			}
			res.Residue = strings.TrimPrefix(res.Residue+"; ", "; ") + fmt.Sprintf("the write-ahead log could not be emptied (%v): removed bytes remain in %s-wal until the next checkpoint", err, s.path)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.Scrubbed = "deleted content overwritten with zeros (secure_delete); " + strings.Join(done, "; ")
	return res
}

// forgetTx is the transaction of Forget.
type forgetTx struct {
	s        *Store
	ctx      context.Context
	tx       *sql.Tx
	tip      audit.Head
	appended bool
}

func (f *forgetTx) Tip() audit.Head { return f.tip }

func (f *forgetTx) Scan(from, to uint64, fn func(*ledger.RawRecord) error) error {
	return scanRaw(f.ctx, f.tx, from, to, fn)
}

func (f *forgetTx) DeleteValues(seq uint64, fields []string) (int, error) {
	if f.appended {
		return 0, errors.New("forget: internal: a change after the record that says so")
	}
	n := 0
	for _, field := range fields {
		res, err := f.tx.ExecContext(f.ctx, `DELETE FROM field_values WHERE seq = ? AND field = ?`, clamp(seq), field)
		if err != nil {
			return n, err
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

func (f *forgetTx) Prune(seqs []uint64, mark audit.Pruning) error {
	if f.appended {
		return errors.New("forget: internal: a change after the record that says so")
	}
	if len(seqs) == 0 {
		return nil
	}
	list, err := json.Marshal(seqs)
	if err != nil {
		return err
	}
	if _, err := f.tx.ExecContext(f.ctx, `DELETE FROM field_values WHERE seq IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	_, err = f.tx.ExecContext(f.ctx, `UPDATE records SET body = x'', timestamp = '', actor = '', action = '', target = '', target_type = '', severity = '',
	pruned_by = ?, pruned_policy = ?
WHERE seq IN (SELECT value FROM json_each(?)) AND pruned_by IS NULL`, clamp(mark.RetentionSequence), mark.Policy, string(list))
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

func (f *forgetTx) Append(rec *audit.Record, sign func(*audit.Record) error) error {
	if f.appended {
		return errors.New("forget: internal: a second record")
	}
	s, ctx, tx := f.s, f.ctx, f.tx
	acc, err := ledger.Frontier(f.tip.Size, s.hashReader(ctx, tx))
	if err != nil {
		return err
	}
	latest, err := latestHead(ctx, tx)
	if err != nil {
		return err
	}
	if err := ledger.GuardAppend(latest, f.tip.Size, acc.Root(), s.id.Origin, s.verifier); err != nil {
		return err
	}
	entries, next, acc, err := ledger.LinkWith(f.tip, []*audit.Record{rec}, ledger.Params{Difficulty: s.params.Difficulty}, acc)
	if err != nil {
		return err
	}
	if err := ledger.SignEntries(entries, sign, 0); err != nil {
		return err
	}
	if _, err := txWriter(ctx, tx).insert(entries); err != nil {
		return err
	}
	signed, err := s.signedHead(next.Size, acc.Root())
	if err != nil {
		return err
	}
	root := acc.Root()
	if _, err := tx.ExecContext(ctx, insertHead, next.Size, root[:], signed); err != nil {
		return err
	}
	f.tip, f.appended = next, true
	return nil
}

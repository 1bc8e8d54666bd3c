package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/groupcommit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// ErrOutcomeUnknown is wrapped when the connection failed during COMMIT
// and the database could not be asked afterwards whether the batch was
// stored.
var ErrOutcomeUnknown = errors.New("append outcome unknown")

// commit stores a group of requests, or one stream, and tells each
// request its outcome.
func (s *Store) commit(batch []*appendReq) {
	if err := s.writable(); err != nil {
		for _, r := range batch {
			r.Err = err
		}
		return
	}
	if len(batch) == 1 && batch[0].Stream != nil {
		batch[0].N, batch[0].Err = s.commitStream(groupcommit.Records(batch[0].Stream), batch[0].Sign)
		return
	}
	err := s.commitGroup(batch)
	pending := 0
	for _, r := range batch {
		if r.Err == nil {
			pending++
		}
	}
	if err != nil && pending > 1 && isUniqueViolation(err) {
		// One request holds a record that is already stored: commit
		// each alone, so that only that one fails.
		for _, r := range batch {
			if r.Err == nil {
				r.Err = s.commitGroup([]*appendReq{r})
			}
		}
		err = nil
	}
	for _, r := range batch {
		if r.Err == nil && err != nil {
			r.Err = err
		}
	}
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// begin opens the append transaction and locks the tip.
func (s *Store) begin(ctx context.Context) (pgx.Tx, audit.Head, *ledger.Accumulator, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, audit.Head{}, nil, fmt.Errorf("append: begin: %w", err)
	}
	var tip audit.Head
	var size int64
	if err := tx.QueryRow(ctx, `SELECT size, hash FROM audit_chain FOR UPDATE`).Scan(&size, &tip.Hash); err != nil {
		tx.Rollback(context.Background())
		return nil, tip, nil, fmt.Errorf("append: lock the tip: %w", err)
	}
	tip.Size = uint64(size)
	var edge *ledger.Accumulator
	if s.edge != nil && s.edge.Size() == tip.Size && s.edgeHash == tip.Hash {
		edge = s.edge
	} else if edge, err = s.guardedFrontier(ctx, tx, tip); err != nil {
		tx.Rollback(context.Background())
		return nil, tip, nil, fmt.Errorf("append: %w", err)
	}
	return tx, tip, edge, nil
}

// guardedFrontier rebuilds the tree's frontier at tip from the stored tree
// hashes and checks, before anything is signed over it, that it is the
// tree the log last signed (ledger.GuardAppend).
func (s *Store) guardedFrontier(ctx context.Context, tx pgx.Tx, tip audit.Head) (*ledger.Accumulator, error) {
	edge, err := ledger.Frontier(tip.Size, hashReader(ctx, tx))
	if err != nil {
		return nil, err
	}
	latest, err := latestHead(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := ledger.GuardAppend(latest, tip.Size, edge.Root(), s.id.Origin, s.verifier); err != nil {
		return nil, err
	}
	return edge, nil
}

// latestHead reads the stored tree head of the largest size, nil when
// there is none.
func latestHead(ctx context.Context, q querier) (*ledger.StoredHead, error) {
	var size int64
	var root []byte
	var signed *string
	err := q.QueryRow(ctx, `SELECT size, root, note FROM audit_tree_heads ORDER BY size DESC LIMIT 1`).Scan(&size, &root, &signed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the latest tree head: %w", err)
	}
	return storedHead(size, root, signed), nil
}

func storedHead(size int64, root []byte, signed *string) *ledger.StoredHead {
	h := &ledger.StoredHead{Size: uint64(max(size, 0))}
	copy(h.Root[:], root)
	if signed != nil {
		h.Note = []byte(*signed)
	}
	return h
}

// finish stores the tree head and the new tip and commits.
func (s *Store) finish(ctx context.Context, tx pgx.Tx, tip audit.Head, edge *ledger.Accumulator, firstID string) error {
	if err := s.storeTip(ctx, tx, tip, edge); err != nil {
		return fmt.Errorf("append: tip: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return s.resolveCommit(err, firstID)
	}
	s.edge, s.edgeHash = edge, tip.Hash
	return nil
}

// storeTip stores the tree head of the tree edge describes, signed when
// the store has a signer, and the new tip.
func (s *Store) storeTip(ctx context.Context, tx pgx.Tx, tip audit.Head, edge *ledger.Accumulator) error {
	root := edge.Root()
	signed, err := s.signHead(tip.Size, root)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO audit_tree_heads (size, root, note) VALUES ($1, $2, $3) ON CONFLICT (size) DO UPDATE SET root = excluded.root, note = excluded.note`, int64(tip.Size), root[:], signed)
	b.Queue(`UPDATE audit_chain SET size = $1, hash = $2`, int64(tip.Size), tip.Hash)
	return tx.SendBatch(ctx, b).Close()
}

// resolveCommit finds out whether a transaction whose COMMIT failed was
// stored, by looking for its first record on a new connection.
func (s *Store) resolveCommit(commitErr error, firstID string) error {
	var pe *pgconn.PgError
	if errors.As(commitErr, &pe) {
		return fmt.Errorf("append: commit refused, nothing was stored: %w", commitErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*s.cfg.ConnectTimeout)
	defer cancel()
	var lastErr error
	for wait := 50 * time.Millisecond; ctx.Err() == nil; wait *= 2 {
		var stored bool
		lastErr = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_records WHERE record_id = $1)`, firstID).Scan(&stored)
		if lastErr == nil {
			if stored {
				slog.Warn("postgres store: the connection failed while committing, but the batch is stored", "error", commitErr)
				s.edge = nil
				return nil
			}
			return fmt.Errorf("append: the connection failed during commit; the batch was not stored: %w", commitErr)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return fmt.Errorf("append: %w: the connection failed during commit (%v) and the database could not be asked afterwards (%v); record %s is stored if and only if the whole batch is — run 'ami-audit verify' and 'ami-audit query' to find out",
		ErrOutcomeUnknown, commitErr, lastErr, firstID)
}

// pipelineMax is the largest group committed in one round trip; larger
// groups are copied with COPY.
const pipelineMax = 256

// errTipMoved: another process appended since this one's last commit.
var errTipMoved = errors.New("the tip moved")

func (s *Store) commitGroup(batch []*appendReq) error {
	n := 0
	for _, r := range batch {
		n += len(r.Recs)
	}
	if s.edge != nil && n <= pipelineMax {
		if err := s.commitPipelined(batch); !errors.Is(err, errTipMoved) {
			return err
		}
	}
	return s.commitCopy(batch)
}

// commitPipelined commits a group in one round trip, linked to the tip
// this process committed last: the transaction locks the tip row and
// fails (division by zero) when the tip is not that one any more; the
// group is then linked again to the real tip by commitCopy.
func (s *Store) commitPipelined(batch []*appendReq) error {
	ctx := context.Background()
	tip := audit.Head{Size: s.edge.Size(), Hash: s.edgeHash}
	edge := s.edge
	var all []ledger.Entry
	linked := make([]*audit.Record, 0, len(batch))
	for _, r := range batch {
		if r.Err != nil {
			continue
		}
		entries, next, nextEdge, err := ledger.LinkWith(tip, r.Recs, s.params, edge)
		if err != nil {
			r.Err = err
			continue
		}
		tip, edge = next, nextEdge
		all = append(all, entries...)
		linked = append(linked, r.Recs...)
	}
	if len(all) == 0 {
		return nil
	}
	root := edge.Root()
	signed, err := s.signHead(tip.Size, root)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT 1 / (CASE WHEN size = $1 AND hash = $2 THEN 1 ELSE 0 END) FROM audit_chain FOR UPDATE`, int64(all[0].Record.Sequence), all[0].Record.PreviousHash)
	var side sideRows
	for i := range all {
		row, err := recordRow(&all[i], &side)
		if err != nil {
			return err
		}
		b.Queue(insertRecordSQL, row...)
	}
	for _, row := range side.findings {
		b.Queue(insertSQL("audit_findings", findingColumns), row...)
	}
	for _, row := range side.violations {
		b.Queue(insertSQL("audit_violations", violationColumns), row...)
	}
	for _, row := range side.signatures {
		b.Queue(insertSQL("audit_signatures", signatureColumns), row...)
	}
	for _, row := range side.values {
		b.Queue(insertSQL("audit_field_values", valueColumns), row...)
	}
	b.Queue(`INSERT INTO audit_tree_heads (size, root, note) VALUES ($1, $2, $3) ON CONFLICT (size) DO UPDATE SET root = excluded.root, note = excluded.note`, int64(tip.Size), root[:], signed)
	b.Queue(`UPDATE audit_chain SET size = $1, hash = $2`, int64(tip.Size), tip.Hash)
	b.Queue(`COMMIT`)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	defer conn.Release()
	err = conn.SendBatch(ctx, b).Close()
	if err == nil {
		s.edge, s.edgeHash = edge, tip.Hash
		return nil
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		// The connection failed: the outcome is the database's to tell.
		conn.Conn().Close(ctx)
		return s.resolveCommit(err, all[0].Record.RecordID)
	}
	conn.Exec(ctx, `ROLLBACK`)
	if pe.Code == "22012" {
		s.edge = nil
		return errTipMoved
	}
	return describeInsert(err, all)
}

var insertRecordSQL = insertSQL("audit_records", recordColumns)

func insertSQL(table string, cols []string) string {
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
}

// signHead signs the tree head when the store has a signer.
func (s *Store) signHead(size uint64, root tlog.Hash) (*string, error) {
	if s.signer == nil {
		return nil, nil
	}
	msg, err := ledger.Checkpoint{Origin: s.id.Origin, Size: size, Root: root}.Sign(s.signer)
	if err != nil {
		return nil, fmt.Errorf("sign tree head: %w", err)
	}
	m := string(msg)
	return &m, nil
}

func (s *Store) commitCopy(batch []*appendReq) error {
	ctx := context.Background()
	tx, tip, edge, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	var all []ledger.Entry
	var owner []*appendReq
	for _, r := range batch {
		if r.Err != nil {
			continue
		}
		entries, next, nextEdge, err := ledger.LinkWith(tip, r.Recs, s.params, edge)
		if err != nil {
			r.Err = err
			continue
		}
		tip, edge = next, nextEdge
		all = append(all, entries...)
		for range entries {
			owner = append(owner, r)
		}
	}
	if len(all) == 0 {
		return nil
	}
	var side sideRows
	rows := make([][]any, len(all))
	for i := range all {
		if rows[i], err = recordRow(&all[i], &side); err != nil {
			return err
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_records"}, recordColumns, pgx.CopyFromRows(rows)); err != nil {
		return describeInsert(err, all)
	}
	if err := side.copy(ctx, tx); err != nil {
		return describeInsert(err, all)
	}
	return s.finish(ctx, tx, tip, edge, all[0].Record.RecordID)
}

// describeInsert names the record a unique violation is about.
func describeInsert(err error, entries []ledger.Entry) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return fmt.Errorf("append: %w", err)
	}
	for i := range entries {
		if strings.Contains(pe.Detail, entries[i].Record.RecordID) {
			return &ledger.BatchError{Index: i, Err: fmt.Errorf("record_id %s %w (%w)", entries[i].Record.RecordID, audit.ErrDuplicateID, err)}
		}
	}
	// A record the caller no longer holds (a stream): the key is in the
	// detail, "Key (record_id)=(…) already exists."
	if _, rest, ok := strings.Cut(pe.Detail, "(record_id)=("); ok {
		if id, _, ok := strings.Cut(rest, ")"); ok {
			return fmt.Errorf("append: record_id %s %w (%w)", id, audit.ErrDuplicateID, err)
		}
	}
	return fmt.Errorf("append: %w", err)
}

// copyChunk is how many records of a stream one COPY carries; the side
// tables of a chunk are held in memory until the chunk is copied.
const copyChunk = 50000

// linkChunk is how many records of a stream are linked at a time.
const linkChunk = 512

func (s *Store) commitStream(seq iter.Seq2[*audit.Record, error], sign func(*audit.Record) error) (int, error) {
	ctx := context.Background()
	next, stop := iter.Pull2(seq)
	defer stop()
	tx, tip, edge, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background())
	src := &linkSource{s: s, next: next, tip: tip, edge: edge, sign: sign}
	firstID := ""
	for !src.eof {
		src.limit = src.total + copyChunk
		src.side = sideRows{}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_records"}, recordColumns, src); err != nil {
			if src.err != nil {
				return 0, src.err
			}
			return 0, describeInsert(err, nil)
		}
		if src.err != nil {
			return 0, src.err
		}
		if err := src.side.copy(ctx, tx); err != nil {
			return 0, fmt.Errorf("append: %w", err)
		}
		if firstID == "" {
			firstID = src.firstID
		}
	}
	if src.total == 0 {
		return 0, nil
	}
	if err := s.finish(ctx, tx, src.tip, src.edge, firstID); err != nil {
		return 0, err
	}
	return src.total, nil
}

// linkSource feeds COPY from a pulled stream, linking records in small
// chunks as COPY asks for rows.
type linkSource struct {
	s       *Store
	next    func() (*audit.Record, error, bool)
	tip     audit.Head
	edge    *ledger.Accumulator
	entries []ledger.Entry
	pos     int
	total   int // records handed to COPY
	limit   int // stop this COPY at this total
	eof     bool
	err     error
	side    sideRows
	firstID string
	recs    []*audit.Record
	sign    func(*audit.Record) error
}

func (l *linkSource) Next() bool {
	if l.err != nil || l.total >= l.limit {
		return false
	}
	if l.pos < len(l.entries) {
		l.pos++
		l.total++
		return true
	}
	if l.eof {
		return false
	}
	l.recs = l.recs[:0]
	for len(l.recs) < linkChunk {
		r, err, ok := l.next()
		if !ok {
			l.eof = true
			break
		}
		if err != nil {
			l.err = err
			return false
		}
		l.recs = append(l.recs, r)
	}
	if len(l.recs) == 0 {
		return false
	}
	entries, tip, edge, err := ledger.LinkWith(l.tip, l.recs, l.s.params, l.edge)
	if err != nil {
		var be *ledger.BatchError
		if errors.As(err, &be) {
			be.Index += l.total
		}
		l.err = err
		return false
	}
	if err := ledger.SignEntries(entries, l.sign, l.total); err != nil {
		l.err = err
		return false
	}
	l.edge = edge
	if l.firstID == "" {
		l.firstID = entries[0].Record.RecordID
	}
	l.tip, l.entries, l.pos = tip, entries, 1
	l.total++
	return true
}

func (l *linkSource) Values() ([]any, error) {
	return recordRow(&l.entries[l.pos-1], &l.side)
}

func (l *linkSource) Err() error { return l.err }

var recordColumns = []string{"record_id", "record_hash", "timestamp", "actor", "action", "target", "target_type",
	"source", "reason", "context", "metadata", "previous_hash", "nonce", "severity", "classification", "status",
	"sequence", "timestamp_ns", "body", "tree"}

// recordRow is the audit_records row of a linked entry; the rows of its
// findings, violations and signatures are added to side.
func recordRow(e *ledger.Entry, side *sideRows) ([]any, error) {
	r := e.Record
	id, err := uuid.Parse(r.RecordID)
	if err != nil {
		return nil, fmt.Errorf("record_id %q: %w", r.RecordID, err)
	}
	var ctxJSON, metaJSON []byte
	if err := ledger.Members(e.Body, func(key, raw []byte) {
		switch string(key) {
		case "context":
			ctxJSON = jsonText(raw)
		case "metadata":
			metaJSON = jsonText(raw)
		}
	}); err != nil {
		return nil, err
	}
	uid := [16]byte(id)
	for i, f := range r.Findings {
		meta, err := canonicalJSON(f.Metadata)
		if err != nil {
			return nil, err
		}
		side.findings = append(side.findings, []any{uid, int32(i), text(f.FindingID), text(f.FindingType), string(f.Severity),
			text(f.Description), text(f.Location), text(f.Recommendation), meta})
	}
	for i, v := range r.Violations {
		side.violations = append(side.violations, []any{uid, int32(i), text(v.ViolationID), text(v.Rule), string(v.Severity),
			text(v.Message), text(v.FilePath), int32(v.LineNumber), int32(v.ColumnNumber)})
	}
	// A signer signs a record once: the last of several wins, as with
	// AddSignature.
	for i, sig := range r.Signatures {
		dup := false
		for _, later := range r.Signatures[i+1:] {
			dup = dup || later.Signer == sig.Signer
		}
		if !dup {
			side.signatures = append(side.signatures, []any{uid, text(sig.Signer), text(sig.Algorithm), text(sig.Signature), audit.FormatTime(sig.Timestamp)})
		}
	}
	if len(r.Disclosures) > 0 {
		vals, err := e.Values()
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			side.values = append(side.values, []any{uid, []byte(v.Field), v.Salt, v.Value})
		}
	}
	return []any{uid, r.RecordHash, r.Timestamp, text(r.Actor), text(r.Action), text(r.Target), string(r.TargetType),
		text(r.Source), text(r.Reason), ctxJSON, metaJSON, r.PreviousHash, int64(r.Nonce), string(r.Severity),
		text(r.Classification), string(r.Status), int64(r.Sequence), audit.FormatTime(r.Timestamp), e.Body, e.TreeBlob()}, nil
}

// sideRows are the rows of the tables that hang off audit_records.
type sideRows struct {
	findings, violations, signatures, values [][]any
}

var (
	findingColumns   = []string{"record_id", "position", "finding_id", "finding_type", "severity", "description", "location", "recommendation", "metadata"}
	violationColumns = []string{"record_id", "position", "violation_id", "rule", "severity", "message", "file_path", "line_number", "column_number"}
	signatureColumns = []string{"record_id", "signer", "algorithm", "signature", "timestamp"}
	valueColumns     = []string{"record_id", "field", "salt", "value"}
)

func (sr *sideRows) copy(ctx context.Context, tx pgx.Tx) error {
	for _, t := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"audit_findings", findingColumns, sr.findings},
		{"audit_violations", violationColumns, sr.violations},
		{"audit_signatures", signatureColumns, sr.signatures},
		{"audit_field_values", valueColumns, sr.values},
	} {
		if len(t.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
			return fmt.Errorf("%s: %w", t.table, err)
		}
	}
	return nil
}

// hashReader serves stored tree hashes through q, one query per call.
func hashReader(ctx context.Context, q querier) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		leaves := make([]int64, 0, len(indexes))
		for _, idx := range indexes {
			leaf, _ := ledger.TreeLocation(idx)
			leaves = append(leaves, int64(leaf))
		}
		rows, err := q.Query(ctx, `SELECT sequence, tree FROM audit_records WHERE sequence = ANY($1)`, leaves)
		if err != nil {
			return nil, err
		}
		blobs := map[int64][]byte{}
		for rows.Next() {
			var seq int64
			var tree []byte
			if err := rows.Scan(&seq, &tree); err != nil {
				rows.Close()
				return nil, err
			}
			blobs[seq] = tree
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return ledger.BlobHashReader(func(leaf uint64) ([]byte, error) {
			b, ok := blobs[int64(leaf)]
			if !ok {
				return nil, fmt.Errorf("record %d is missing: cannot read its tree hashes", leaf)
			}
			return b, nil
		}).ReadHashes(indexes)
	})
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// writable says why this store may not append, nil when it may.
func (s *Store) writable() error {
	switch {
	case s.cfg.ReadOnly:
		return store.ErrReadOnly
	case s.signer == nil && s.id.LogKey != "":
		return fmt.Errorf("append: %w", store.ErrNoLogKey)
	}
	return nil
}

package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// recordColumns are read by every record query, joined with signatures
// (one row per signature, or one row with NULLs).
const recordColumns = `r.seq, r.record_hash, r.body, r.status, r.record_id, r.pruned_by, r.pruned_policy, s.signer, s.algorithm, s.signature, s.timestamp`

// scanRecords streams records from rows ordered by seq (ascending or
// descending), folding the signature rows of each record into it. Rows
// are read on one goroutine and their bodies decoded on another, a batch
// at a time, while yield sees the records in order on the caller's: on
// two cores reading and decoding a long query overlap (decoding is about
// half of its time).
func scanRecords(rows *sql.Rows, yield func(*audit.Record, error) bool) {
	type batch struct {
		raws []rawRecord
		recs []*audit.Record
		err  error // after recs: a row or a body that did not read
		done chan struct{}
	}
	stop := make(chan struct{})
	work := make(chan *batch, 2)    // to the decoder
	ordered := make(chan *batch, 4) // to this goroutine, in order
	var wg sync.WaitGroup
	wg.Go(func() { // the decoder
		for b := range work {
			for i := range b.raws {
				r, err := b.raws[i].record()
				if err != nil {
					b.err = err
					break
				}
				b.recs = append(b.recs, r)
			}
			b.raws = nil
			close(b.done)
		}
	})
	wg.Go(func() { // the reader
		defer close(ordered)
		defer close(work)
		defer rows.Close()
		send := func(b *batch) bool {
			for _, ch := range []chan *batch{work, ordered} {
				select {
				case ch <- b:
				case <-stop:
					return false
				}
			}
			return true
		}
		b := &batch{done: make(chan struct{})}
		err := readRaw(rows, func(raw rawRecord) bool {
			b.raws = append(b.raws, raw)
			if len(b.raws) < decodeBatch {
				return true
			}
			if !send(b) {
				return false
			}
			b = &batch{done: make(chan struct{})}
			return true
		})
		select {
		case <-stop:
			return
		default:
		}
		if err != nil || len(b.raws) > 0 {
			if err != nil {
				// after the batch's records, which decode first
				b.raws = append(b.raws, rawRecord{err: err})
			}
			send(b)
		}
	})
	defer wg.Wait()
	defer close(stop)
	for b := range ordered {
		<-b.done
		for _, r := range b.recs {
			if !yield(r, nil) {
				return
			}
		}
		if b.err != nil {
			yield(nil, b.err)
			return
		}
	}
}

// decodeBatch is how many records scanRecords decodes at a time.
const decodeBatch = 128

// rawRecord is a stored record as read, its body not decoded yet; err
// is set instead when the rows failed.
type rawRecord struct {
	seq        int64
	hash, body []byte
	status, id string
	prunedBy   sql.NullInt64
	policy     string
	sigs       []audit.Signature
	err        error
}

// readRaw reads rows of recordColumns into records, their signature rows
// folded in, until emit returns false; it returns the rows' error.
func readRaw(rows *sql.Rows, emit func(rawRecord) bool) error {
	var cur rawRecord
	have := false
	for rows.Next() {
		var seq int64
		var hash, body []byte
		var status, id string
		var prunedBy sql.NullInt64
		var policy, signer, alg, sig, ts sql.NullString
		if err := rows.Scan(&seq, &hash, &body, &status, &id, &prunedBy, &policy, &signer, &alg, &sig, &ts); err != nil {
			return err
		}
		if !have || seq != cur.seq {
			if have && !emit(cur) {
				return nil
			}
			cur = rawRecord{seq: seq, hash: hash, body: body, status: status, id: id, prunedBy: prunedBy, policy: policy.String}
			have = true
		}
		if signer.Valid {
			t, _ := time.Parse(time.RFC3339Nano, ts.String)
			cur.sigs = append(cur.sigs, audit.Signature{Signer: signer.String, Algorithm: alg.String, Signature: sig.String, Timestamp: t})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if have {
		emit(cur)
	}
	return nil
}

// record decodes r.
func (r *rawRecord) record() (*audit.Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	var rec *audit.Record
	if r.prunedBy.Valid {
		rec = store.PrunedRecord(uint64(r.seq), r.id, r.hash, r.status, audit.Pruning{Policy: r.policy, RetentionSequence: uint64(max(r.prunedBy.Int64, 0))})
	} else {
		var err error
		if rec, err = decodeRecord(r.seq, r.hash, r.body, r.status); err != nil {
			return nil, err
		}
	}
	rec.Signatures = r.sigs
	return rec, nil
}

func decodeRecord(seq int64, hash, body []byte, status string) (*audit.Record, error) {
	r := new(audit.Record)
	if err := r.UnmarshalJSON(body); err != nil { // not json.Unmarshal: it would scan the body once more first
		return nil, fmt.Errorf("record %d: stored body does not decode: %w", seq, err)
	}
	r.RecordHash = hex.EncodeToString(hash)
	r.Status = audit.Status(status)
	r.Signatures = nil
	return r, nil
}

// Get implements audit.Store.
func (s *Store) Get(ctx context.Context, id string) (*audit.Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordColumns+` FROM records r LEFT JOIN signatures s ON s.seq = r.seq WHERE r.record_id = ? ORDER BY s.signer`, id)
	if err != nil {
		return nil, err
	}
	var out *audit.Record
	var ferr error
	scanRecords(rows, func(r *audit.Record, err error) bool {
		out, ferr = r, err
		return false
	})
	if ferr != nil {
		return nil, ferr
	}
	if out == nil {
		return nil, fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	return out, nil
}

// Query implements audit.Store.
func (s *Store) Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		if err := f.Validate(); err != nil {
			yield(nil, err)
			return
		}
		where, args := whereClause(f)
		order := "ASC"
		if f.Newest {
			order = "DESC"
		}
		limit := ""
		if n := f.EffectiveLimit(); n >= 0 {
			limit = fmt.Sprintf(" LIMIT %d", n)
		}
		// Select the matching sequence numbers first, then join the
		// signatures, so that the limit counts records, not signatures.
		q := `WITH m AS (SELECT seq FROM records` + where + ` ORDER BY seq ` + order + limit + `)
SELECT ` + recordColumns + ` FROM m JOIN records r ON r.seq = m.seq LEFT JOIN signatures s ON s.seq = r.seq ORDER BY r.seq ` + order + `, s.signer`
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			yield(nil, err)
			return
		}
		scanRecords(rows, yield)
	}
}

func whereClause(f audit.Filter) (string, []any) {
	var conds []string
	var args []any
	// Without statistics SQLite takes any of the indexed columns named
	// by equality; a target has a few records, a record type or an action
	// a great many. With a target, its index is the one used: the other
	// columns are written as +column, which no index serves.
	col := func(name string) string {
		if f.Target != "" && name != "target" {
			return "+" + name
		}
		return name
	}
	add := func(cond string, arg ...any) {
		conds = append(conds, cond)
		args = append(args, arg...)
	}
	if f.TargetType != "" {
		add(col("target_type")+" = ?", string(f.TargetType))
	}
	if f.Action != "" {
		add(col("action")+" = ?", f.Action)
	}
	if f.Actor != "" {
		add(col("actor")+" = ?", f.Actor)
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.Severity != "" {
		var in []string
		for _, sev := range audit.Severities[max(f.Severity.Rank(), 0):] {
			in = append(in, "?")
			args = append(args, string(sev))
		}
		conds = append(conds, col("severity")+" IN ("+strings.Join(in, ",")+")")
	}
	// A time bound is taken as selective (likelihood): asked for alone,
	// it is read through the timestamp index, not by reading the table
	// from its other end until the bound is reached.
	if !f.Since.IsZero() {
		add("likelihood("+col("timestamp")+" >= ?, 0.05)", audit.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("likelihood("+col("timestamp")+" < ?, 0.05)", audit.FormatTime(f.Until))
	}
	if f.FromSequence != 0 {
		add("seq >= ?", int64(min(f.FromSequence, 1<<62)))
	}
	if f.BeforeSequence != 0 {
		add("seq < ?", int64(min(f.BeforeSequence, 1<<62)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	// A pruned record has no fields left to match.
	conds = append(conds, "pruned_by IS NULL")
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ContextStrings yields the string value of the context member key of each
// record matching f, in sequence order, without decoding the records (the
// git source uses it to learn which commits are already recorded). Records
// without that member, or with a non-string value, yield nothing.
func (s *Store) ContextStrings(ctx context.Context, f audit.Filter, key string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if strings.ContainsAny(key, `"\`) {
			yield("", fmt.Errorf("context key %q: quotes and backslashes are not supported", key))
			return
		}
		if err := f.Validate(); err != nil {
			yield("", err)
			return
		}
		where, args := whereClause(f)
		limit := ""
		if n := f.EffectiveLimit(); n >= 0 {
			limit = fmt.Sprintf(" LIMIT %d", n)
		}
		args = append([]any{`$.context."` + key + `"`}, args...)
		rows, err := s.db.QueryContext(ctx, `SELECT json_extract(body, ?) FROM records`+where+` ORDER BY seq`+limit, args...)
		if err != nil {
			yield("", err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var v any
			if err := rows.Scan(&v); err != nil {
				yield("", err)
				return
			}
			if str, ok := v.(string); ok && !yield(str, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield("", err)
		}
	}
}

// Range implements audit.Store.
func (s *Store) Range(ctx context.Context, from, to uint64) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		rows, err := s.db.QueryContext(ctx, `SELECT `+recordColumns+` FROM records r LEFT JOIN signatures s ON s.seq = r.seq WHERE r.seq >= ? AND r.seq < ? ORDER BY r.seq, s.signer`, clamp(from), clamp(to))
		if err != nil {
			yield(nil, err)
			return
		}
		scanRecords(rows, yield)
	}
}

// clamp maps a sequence bound onto SQLite's signed integers.
func clamp(u uint64) int64 {
	if u > 1<<62 {
		return 1 << 62
	}
	return int64(u)
}

// AddSignature implements audit.Store.
func (s *Store) AddSignature(ctx context.Context, id string, sig audit.Signature) error {
	if s.wdb == nil {
		return store.ErrReadOnly
	}
	stmt, err := s.wdb.PrepareContext(ctx, insertSignature)
	if err != nil {
		return err
	}
	defer stmt.Close()
	return execSignature(ctx, stmt, id, sig)
}

const insertSignature = `INSERT INTO signatures (seq, signer, algorithm, signature, timestamp)
SELECT seq, ?, ?, ?, ? FROM records WHERE record_id = ?
ON CONFLICT (seq, signer) DO UPDATE SET algorithm = excluded.algorithm, signature = excluded.signature, timestamp = excluded.timestamp`

func execSignature(ctx context.Context, stmt *sql.Stmt, id string, sig audit.Signature) error {
	if sig.Algorithm != audit.AlgorithmEd25519 {
		return fmt.Errorf("signature algorithm %q: only Ed25519 is supported", sig.Algorithm)
	}
	res, err := stmt.ExecContext(ctx, sig.Signer, sig.Algorithm, sig.Signature, audit.FormatTime(sig.Timestamp), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	return nil
}

// SetStatus implements audit.Store.
func (s *Store) SetStatus(ctx context.Context, id string, status audit.Status) error {
	if s.wdb == nil {
		return store.ErrReadOnly
	}
	if !status.Valid() {
		return fmt.Errorf("unknown status %q", status)
	}
	res, err := s.wdb.ExecContext(ctx, `UPDATE records SET status = ? WHERE record_id = ?`, string(status), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	return nil
}

// ScanRaw implements ledger.RawScanner. Its two statements (records and
// the values beside them) read one snapshot: they run in one read
// transaction.
func (s *Store) ScanRaw(ctx context.Context, from, to uint64, fn func(*ledger.RawRecord) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return scanRaw(ctx, tx, from, to, fn)
}

// selectRaw reads rows as verification sees them. The query columns come
// as one text, separated by NUL bytes, and the pruning mark as another
// (NULL when the row is not pruned): every column costs the driver a
// call, an allocation and a lock, and a row of verification reads little
// else. The separators are the statement's own, so a column holding a
// NUL byte shows as one piece too many and fails the check; a NULL
// column makes the whole text NULL.
const selectRaw = `SELECT r.seq, r.record_hash, r.body, r.tree,
	r.timestamp || char(0) || r.actor || char(0) || r.action || char(0) || r.target || char(0) || r.target_type || char(0) || r.severity,
	CASE WHEN r.pruned_by IS NOT NULL THEN r.pruned_by || char(0) || ifnull(r.pruned_policy, '') END
FROM records r WHERE r.seq >= ? AND r.seq < ? ORDER BY r.seq`

// selectRawValues reads the values of the committed fields of the same
// rows, in the same order; only records with commitments have any, so
// this is one seek for most ranges.
const selectRawValues = `SELECT seq, field, salt, value FROM field_values WHERE seq >= ? AND seq < ? ORDER BY seq, field`

// scanRaw reads rows [from, to) and their values through tx, merging the
// two statements' results by sequence.
func scanRaw(ctx context.Context, tx *sql.Tx, from, to uint64, fn func(*ledger.RawRecord) error) error {
	vrows, err := tx.QueryContext(ctx, selectRawValues, clamp(from), clamp(to))
	if err != nil {
		return err
	}
	defer vrows.Close()
	vals := rawValues{rows: vrows}
	rows, err := tx.QueryContext(ctx, selectRaw, clamp(from), clamp(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	// RawBytes point into the driver's buffers until the next row: no
	// second copy, and fn's contract already says the slices are valid only
	// during the call.
	var raw ledger.RawRecord
	var hash, body, tree, cols, pruning sql.RawBytes
	var indexed ledger.IndexedFields
	var seq int64
	var pruned audit.Pruning
	for rows.Next() {
		if err := rows.Scan(&seq, &hash, &body, &tree, &cols, &pruning); err != nil {
			return err
		}
		raw.Seq, raw.Hash, raw.Body, raw.Tree = uint64(seq), hash, body, tree
		raw.Indexed = &indexed
		if !splitColumns(&indexed, cols) {
			// NULL, or a column holding a NUL byte: no valid record field
			// can match what verification is then given, and it names
			// the row.
			for i := range indexed {
				indexed[i] = cols
			}
		}
		raw.Pruned = nil
		if pruning != nil {
			by, policy, _ := bytes.Cut(pruning, []byte{0})
			n, err := strconv.ParseInt(string(by), 10, 64)
			if err != nil {
				return fmt.Errorf("record %d: pruned_by %q is not a sequence number", seq, by)
			}
			pruned = audit.Pruning{Policy: string(policy), RetentionSequence: uint64(max(n, 0))}
			raw.Pruned = &pruned
		}
		if raw.Values, err = vals.of(seq); err != nil {
			return fmt.Errorf("record %d: stored values: %w", seq, err)
		}
		if err := fn(&raw); err != nil {
			return err
		}
	}
	return rows.Err()
}

// splitColumns splits the query columns selectRaw joins; it reports false
// unless there are exactly six.
func splitColumns(dst *ledger.IndexedFields, b []byte) bool {
	if b == nil {
		return false
	}
	for i := range dst {
		j := bytes.IndexByte(b, 0)
		if i == len(dst)-1 {
			if j >= 0 {
				return false
			}
			dst[i] = b
			return true
		}
		if j < 0 {
			return false
		}
		dst[i], b = b[:j], b[j+1:]
	}
	return false
}

// rawValues walks the values of a range of rows alongside the rows.
type rawValues struct {
	rows    *sql.Rows
	started bool
	more    bool
	next    ledger.FieldValue
	nextSeq int64
	out     []ledger.FieldValue
}

// of returns the values of row seq; rows are asked for in increasing
// order. Values of sequences without a row are passed over.
func (v *rawValues) of(seq int64) ([]ledger.FieldValue, error) {
	v.out = v.out[:0]
	if !v.started {
		v.started = true
		if err := v.advance(); err != nil {
			return nil, err
		}
	}
	for v.more && v.nextSeq <= seq {
		if v.nextSeq == seq {
			v.out = append(v.out, v.next)
		}
		if err := v.advance(); err != nil {
			return nil, err
		}
	}
	return v.out, nil
}

func (v *rawValues) advance() error {
	v.more = v.rows.Next()
	if !v.more {
		return v.rows.Err()
	}
	var f ledger.FieldValue
	if err := v.rows.Scan(&v.nextSeq, &f.Field, &f.Salt, &f.Value); err != nil {
		return err
	}
	v.next = f
	return nil
}

// TreeHeadSizes implements ledger.HeadStore.
func (s *Store) TreeHeadSizes(ctx context.Context) ([]uint64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT size FROM heads ORDER BY size`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, uint64(n))
	}
	return out, rows.Err()
}

// TreeHead implements ledger.HeadStore.
func (s *Store) TreeHead(ctx context.Context, size uint64) (tlog.Hash, []byte, error) {
	var root []byte
	var signed sql.NullString
	var h tlog.Hash
	err := s.db.QueryRowContext(ctx, `SELECT root, note FROM heads WHERE size = ?`, clamp(size)).Scan(&root, &signed)
	if err != nil {
		return h, nil, fmt.Errorf("tree head %d: %w", size, err)
	}
	copy(h[:], root)
	if signed.Valid {
		return h, []byte(signed.String), nil
	}
	return h, nil, nil
}

func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint failed")
}

// Snapshot implements ledger.Snapshotter in one statement: one read
// transaction, so appends committed meanwhile are either wholly in it or
// not at all.
func (s *Store) Snapshot(ctx context.Context) (ledger.Snapshot, error) {
	var snap ledger.Snapshot
	var rows, heads, stray int64
	var minSeq, maxSeq, size sql.NullInt64
	var root []byte
	var signed sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT
	(SELECT count(*) FROM records), (SELECT min(seq) FROM records), (SELECT max(seq) FROM records),
	(SELECT count(*) FROM heads),
	h.size, h.root, h.note,
	(SELECT count(*) FROM signatures WHERE seq NOT IN (SELECT seq FROM records WHERE seq >= 0))
FROM (SELECT 1) LEFT JOIN (SELECT size, root, note FROM heads ORDER BY size DESC LIMIT 1) h`).Scan(
		&rows, &minSeq, &maxSeq, &heads, &size, &root, &signed, &stray)
	if err != nil {
		return snap, fmt.Errorf("read the store's snapshot: %w", err)
	}
	snap.Records, snap.MinSeq, snap.MaxSeq = uint64(rows), minSeq.Int64, maxSeq.Int64
	snap.Heads, snap.StraySignatures = uint64(heads), uint64(stray)
	if size.Valid {
		snap.Latest = storedHead(size.Int64, root, signed)
	}
	return snap, nil
}

// AddSignatures implements audit.SignatureAdder in one transaction.
func (s *Store) AddSignatures(ctx context.Context, sigs iter.Seq2[audit.RecordSignature, error]) (int, error) {
	if s.wdb == nil {
		return 0, store.ErrReadOnly
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, insertSignature)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	n := 0
	for rs, err := range sigs {
		if err != nil {
			return 0, err
		}
		if err := execSignature(ctx, stmt, rs.RecordID, rs.Signature); err != nil {
			return 0, err
		}
		n++
	}
	return n, tx.Commit()
}

// AddCosignature stores a co-signature of the checkpoint at size.
func (s *Store) AddCosignature(ctx context.Context, c ledger.Cosignature) error {
	if s.wdb == nil {
		return store.ErrReadOnly
	}
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO cosignatures (size, signer, note, timestamp) VALUES (?, ?, ?, ?)
ON CONFLICT (size, signer) DO UPDATE SET note = excluded.note, timestamp = excluded.timestamp`,
		clamp(c.Size), c.Signer, string(c.Note), audit.FormatTime(c.Timestamp))
	return err
}

// Cosignatures lists the stored co-signatures, by size then signer.
func (s *Store) Cosignatures(ctx context.Context) ([]ledger.Cosignature, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT size, signer, note, timestamp FROM cosignatures ORDER BY size, signer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.ScanCosignatures(rows)
}

// LatestTreeHead implements ledger.HeadStore.
func (s *Store) LatestTreeHead(ctx context.Context) (*ledger.StoredHead, error) {
	return latestHead(ctx, s.db)
}

// FieldValues implements ledger.ValueReader.
func (s *Store) FieldValues(ctx context.Context, seqs []uint64, fn func(seq uint64, v ledger.FieldValue) error) error {
	for len(seqs) > 0 {
		part := seqs[:min(len(seqs), 5000)]
		seqs = seqs[len(part):]
		list, err := json.Marshal(part)
		if err != nil {
			return err
		}
		rows, err := s.db.QueryContext(ctx, `SELECT seq, field, salt, value FROM field_values WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq, field`, string(list))
		if err != nil {
			return err
		}
		for rows.Next() {
			var seq int64
			var v ledger.FieldValue
			if err := rows.Scan(&seq, &v.Field, &v.Salt, &v.Value); err != nil {
				rows.Close()
				return err
			}
			if err := fn(uint64(seq), v); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

package postgres

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// selectRecord reads what a record is rebuilt from: the body, the status
// and the signatures.
const selectRecord = `SELECT r.sequence, r.record_hash, r.body, r.status, r.record_id::text, r.pruned_by, r.pruned_policy,
	(SELECT json_agg(json_build_array(s.signer, s.algorithm, s.signature, s.timestamp) ORDER BY s.signer)
	 FROM audit_signatures s WHERE s.record_id = r.record_id)
FROM audit_records r`

func scanRecord(rows pgx.Rows) (*audit.Record, error) {
	var seq int64
	var hash, status, id string
	var body, sigs []byte
	var prunedBy *int64
	var policy *string
	if err := rows.Scan(&seq, &hash, &body, &status, &id, &prunedBy, &policy, &sigs); err != nil {
		return nil, err
	}
	var r *audit.Record
	if prunedBy != nil {
		raw, _ := hex.DecodeString(hash)
		mark := audit.Pruning{RetentionSequence: uint64(max(*prunedBy, 0))}
		if policy != nil {
			mark.Policy = *policy
		}
		r = store.PrunedRecord(uint64(seq), id, raw, status, mark)
	} else {
		r = new(audit.Record)
		if err := r.UnmarshalJSON(body); err != nil { // not json.Unmarshal: it would scan the body once more first
			return nil, fmt.Errorf("record %d: stored body does not decode: %w", seq, err)
		}
		r.RecordHash = hash
		r.Status = audit.Status(status)
	}
	r.Signatures = nil
	if len(sigs) > 0 {
		var list [][4]string
		if err := json.Unmarshal(sigs, &list); err != nil {
			return nil, fmt.Errorf("record %d: signatures: %w", seq, err)
		}
		for _, s := range list {
			t, _ := time.Parse(time.RFC3339Nano, s[3])
			r.Signatures = append(r.Signatures, audit.Signature{Signer: s[0], Algorithm: s[1], Signature: s[2], Timestamp: t})
		}
	}
	return r, nil
}

// records streams the records of a query.
func (s *Store) records(ctx context.Context, check func(*audit.Record) error, sql string, args ...any) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			yield(nil, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRecord(rows)
			if err == nil && check != nil {
				err = check(r)
			}
			if err == errSkip {
				continue
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// errSkip tells records to leave a row out.
var errSkip = errors.New("skip")

// parseID returns the canonical form of a record id, or false.
func parseID(id string) ([16]byte, bool) {
	u, err := uuid.Parse(id)
	return [16]byte(u), err == nil
}

// Get implements audit.Store.
func (s *Store) Get(ctx context.Context, id string) (*audit.Record, error) {
	uid, ok := parseID(id)
	if !ok {
		return nil, fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	for r, err := range s.records(ctx, nil, selectRecord+` WHERE r.record_id = $1`, uid) {
		return r, err
	}
	return nil, fmt.Errorf("%s: %w", id, audit.ErrNotFound)
}

// Query implements audit.Store. The filter runs on the indexed columns;
// each record read back from its body is checked against the filter
// again, so a column changed behind the store's back is reported rather
// than believed.
func (s *Store) Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error] {
	if err := f.Validate(); err != nil {
		return func(yield func(*audit.Record, error) bool) { yield(nil, err) }
	}
	where, args := whereClause(f)
	order := "ASC"
	if f.Newest {
		order = "DESC"
	}
	q := selectRecord + where + " ORDER BY r.sequence " + order
	if n := f.EffectiveLimit(); n >= 0 {
		q += " LIMIT " + strconv.Itoa(n)
	}
	// A NUL of a record is U+FFFD in its columns (text refuses NUL), so
	// a filter value with NUL or U+FFFD may select records it does not
	// match: those are skipped, not reported.
	ambiguous := func(v string) bool { return containsNUL(v) || strings.ContainsRune(v, '\uFFFD') }
	nul := ambiguous(f.Actor) || ambiguous(f.Action) || ambiguous(f.Target)
	return s.records(ctx, func(r *audit.Record) error {
		if !f.Match(r) {
			if nul {
				return errSkip
			}
			return &ledger.ChainError{Seq: r.Sequence, RecordID: r.RecordID, Reason: "the stored query columns disagree with the hashed record (the row was changed)"}
		}
		return nil
	}, q, args...)
}

func whereClause(f audit.Filter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.TargetType != "" {
		add("r.target_type = ?", string(f.TargetType))
	}
	if f.Action != "" {
		add("r.action = ?", text(f.Action))
	}
	if f.Actor != "" {
		add("r.actor = ?", text(f.Actor))
	}
	if f.Target != "" {
		add("r.target = ?", text(f.Target))
	}
	if f.Severity != "" {
		var sev []string
		for _, v := range audit.Severities[max(f.Severity.Rank(), 0):] {
			sev = append(sev, string(v))
		}
		add("r.severity = ANY(?)", sev)
	}
	// timestamp (microseconds) narrows with the index, timestamp_ns
	// decides to the nanosecond.
	if !f.Since.IsZero() {
		add("r.timestamp >= ?", f.Since.UTC().Truncate(time.Microsecond))
		add("r.timestamp_ns >= ?", audit.FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("r.timestamp <= ?", f.Until.UTC().Truncate(time.Microsecond))
		add("r.timestamp_ns < ?", audit.FormatTime(f.Until))
	}
	if f.FromSequence != 0 {
		add("r.sequence >= ?", clamp(f.FromSequence))
	}
	if f.BeforeSequence != 0 {
		add("r.sequence < ?", clamp(f.BeforeSequence))
	}
	if len(conds) == 0 {
		return "", nil
	}
	// A pruned record has no fields left to match.
	conds = append(conds, "r.pruned_by IS NULL")
	return " WHERE " + strings.Join(conds, " AND "), args
}

// clamp maps a sequence bound onto PostgreSQL's bigint.
func clamp(u uint64) int64 {
	if u > 1<<62 {
		return 1 << 62
	}
	return int64(u)
}

// Range implements audit.Store.
func (s *Store) Range(ctx context.Context, from, to uint64) iter.Seq2[*audit.Record, error] {
	return s.records(ctx, nil, selectRecord+` WHERE r.sequence >= $1 AND r.sequence < $2 ORDER BY r.sequence`, clamp(from), clamp(to))
}

// AddSignature implements audit.Store.
func (s *Store) AddSignature(ctx context.Context, id string, sig audit.Signature) error {
	if s.cfg.ReadOnly {
		return store.ErrReadOnly
	}
	return addSignature(ctx, s.pool, id, sig)
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func addSignature(ctx context.Context, db execer, id string, sig audit.Signature) error {
	if sig.Algorithm != audit.AlgorithmEd25519 {
		return fmt.Errorf("signature algorithm %q: only Ed25519 is supported", sig.Algorithm)
	}
	uid, ok := parseID(id)
	if !ok {
		return fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	tag, err := db.Exec(ctx, `INSERT INTO audit_signatures (record_id, signer, algorithm, signature, timestamp)
SELECT record_id, $2, $3, $4, $5 FROM audit_records WHERE record_id = $1
ON CONFLICT (record_id, signer) DO UPDATE SET algorithm = excluded.algorithm, signature = excluded.signature, timestamp = excluded.timestamp`,
		uid, text(sig.Signer), sig.Algorithm, text(sig.Signature), audit.FormatTime(sig.Timestamp))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	return nil
}

// SetStatus implements audit.Store.
func (s *Store) SetStatus(ctx context.Context, id string, status audit.Status) error {
	if s.cfg.ReadOnly {
		return store.ErrReadOnly
	}
	if !status.Valid() {
		return fmt.Errorf("unknown status %q", status)
	}
	uid, ok := parseID(id)
	if !ok {
		return fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE audit_records SET status = $1 WHERE record_id = $2`, string(status), uid)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", id, audit.ErrNotFound)
	}
	return nil
}

// ScanRaw implements ledger.RawScanner. After the caller has checked a
// row's body, ScanRaw checks that the row's query columns say what the
// body says, and reports a row whose columns were changed as a
// *ledger.ChainError.
func (s *Store) ScanRaw(ctx context.Context, from, to uint64, fn func(*ledger.RawRecord) error) error {
	return scanRaw(ctx, s.pool, from, to, fn)
}

// selectRaw reads rows as verification sees them. The query columns of a
// pruned record are NULL: kept counts those that are not.
const selectRaw = `SELECT r.sequence, r.record_hash, r.body, r.tree, r.record_id::text, coalesce(r.timestamp, 'epoch'), coalesce(r.timestamp_ns, ''),
	coalesce(r.actor, ''), coalesce(r.action, ''), coalesce(r.target, ''), coalesce(r.target_type, ''), coalesce(r.source, ''),
	coalesce(r.reason, ''), coalesce(r.previous_hash, ''), coalesce(r.nonce, 0), coalesce(r.severity, ''), coalesce(r.classification, ''),
	r.pruned_by, r.pruned_policy,
	num_nonnulls(r.timestamp, r.timestamp_ns, r.actor, r.action, r.target, r.target_type, r.source, r.reason, r.context, r.metadata,
		r.previous_hash, r.nonce, r.severity, r.classification),
	v.fields, v.salts, v.vals
FROM audit_records r LEFT JOIN LATERAL (
	SELECT array_agg(f.field ORDER BY f.field) AS fields, array_agg(f.salt ORDER BY f.field) AS salts, array_agg(f.value ORDER BY f.field) AS vals
	FROM audit_field_values f WHERE f.record_id = r.record_id) v ON true
WHERE r.sequence >= $1 AND r.sequence < $2 ORDER BY r.sequence`

func scanRaw(ctx context.Context, q querier, from, to uint64, fn func(*ledger.RawRecord) error) error {
	rows, err := q.Query(ctx, selectRaw, clamp(from), clamp(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	var raw ledger.RawRecord
	var seq, nonce, kept int64
	var hashHex string
	var ts time.Time
	var c columns
	var prunedBy *int64
	var policy *string
	var fields, salts, vals [][]byte
	var pruned audit.Pruning
	hashBuf := make([]byte, 32)
	for rows.Next() {
		if err := rows.Scan(&seq, &hashHex, &raw.Body, &raw.Tree, &c.recordID, &ts, &c.timestamp,
			&c.actor, &c.action, &c.target, &c.targetType, &c.source, &c.reason, &c.previousHash, &nonce, &c.severity, &c.classification,
			&prunedBy, &policy, &kept, &fields, &salts, &vals); err != nil {
			return err
		}
		raw.Seq = uint64(seq)
		raw.Hash = nil
		if n, err := hex.Decode(hashBuf, []byte(hashHex)); err == nil && n == 32 {
			raw.Hash = hashBuf
		}
		raw.Pruned = nil
		if prunedBy != nil {
			pruned = audit.Pruning{RetentionSequence: uint64(max(*prunedBy, 0))}
			if policy != nil {
				pruned.Policy = *policy
			}
			raw.Pruned = &pruned
		}
		raw.Values = raw.Values[:0]
		for i := range fields {
			if i < len(salts) && i < len(vals) {
				raw.Values = append(raw.Values, ledger.FieldValue{Field: string(fields[i]), Salt: salts[i], Value: vals[i]})
			}
		}
		if err := fn(&raw); err != nil {
			return err
		}
		if raw.Pruned != nil || len(raw.Body) == 0 {
			if kept > 0 {
				return &ledger.ChainError{Seq: raw.Seq, RecordID: c.recordID, Reason: fmt.Sprintf(
					"the record is pruned but %d of its query columns still hold values", kept)}
			}
			continue
		}
		c.nonce = strconv.FormatInt(nonce, 10)
		if field := c.mismatch(raw.Body, ts); field != "" {
			return &ledger.ChainError{Seq: raw.Seq, RecordID: c.recordID, Reason: fmt.Sprintf(
				"the stored %s column disagrees with the hashed record (the row was changed)", field)}
		}
	}
	return rows.Err()
}

// FieldValues implements ledger.ValueReader.
func (s *Store) FieldValues(ctx context.Context, seqs []uint64, fn func(seq uint64, v ledger.FieldValue) error) error {
	for len(seqs) > 0 {
		part := seqs[:min(len(seqs), 5000)]
		seqs = seqs[len(part):]
		list := make([]int64, len(part))
		for i, q := range part {
			list[i] = clamp(q)
		}
		rows, err := s.pool.Query(ctx, `SELECT r.sequence, v.field, v.salt, v.value FROM audit_field_values v
JOIN audit_records r ON r.record_id = v.record_id WHERE r.sequence = ANY($1) ORDER BY r.sequence, v.field`, list)
		if err != nil {
			return err
		}
		for rows.Next() {
			var seq int64
			var field []byte
			var v ledger.FieldValue
			if err := rows.Scan(&seq, &field, &v.Salt, &v.Value); err != nil {
				rows.Close()
				return err
			}
			v.Field = string(field)
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

// columns are a row's query columns as text.
type columns struct {
	recordID, timestamp, actor, action, target, targetType, source, reason string
	previousHash, severity, classification, nonce                          string
	buf                                                                    []byte
}

// mismatch returns the name of the first column that disagrees with the
// body, or "".
func (c *columns) mismatch(body []byte, ts time.Time) string {
	bad := ""
	err := ledger.Members(body, func(key, raw []byte) {
		if bad != "" {
			return
		}
		str := func(name, col string) {
			c.buf, _ = canonical.AppendString(c.buf[:0], col)
			if bytes.Equal(c.buf, raw) {
				return
			}
			// A NUL of the record is U+FFFD in the column.
			var v string
			if !bytes.Contains(raw, []byte(`\u0000`)) || json.Unmarshal(raw, &v) != nil || text(v) != col {
				bad = name
			}
		}
		switch string(key) {
		case "record_id":
			var id string
			if json.Unmarshal(raw, &id) != nil {
				bad = "record_id"
			} else if u, err := uuid.Parse(id); err != nil || u.String() != c.recordID {
				bad = "record_id"
			}
		case "timestamp":
			str("timestamp", c.timestamp)
			if bad == "" {
				t, err := time.Parse(time.RFC3339Nano, c.timestamp)
				if err != nil || !t.Truncate(time.Microsecond).Equal(ts) {
					bad = "timestamp"
				}
			}
		case "actor":
			str("actor", c.actor)
		case "action":
			str("action", c.action)
		case "target":
			str("target", c.target)
		case "target_type":
			str("target_type", c.targetType)
		case "source":
			str("source", c.source)
		case "reason":
			str("reason", c.reason)
		case "previous_hash":
			str("previous_hash", c.previousHash)
		case "severity":
			str("severity", c.severity)
		case "classification":
			str("classification", c.classification)
		case "nonce":
			if string(raw) != c.nonce {
				bad = "nonce"
			}
		}
	})
	if err != nil {
		return "body"
	}
	return bad
}

// TreeHeadSizes implements ledger.HeadStore.
func (s *Store) TreeHeadSizes(ctx context.Context) ([]uint64, error) {
	rows, err := s.pool.Query(ctx, `SELECT size FROM audit_tree_heads ORDER BY size`)
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
	var signed *string
	var h tlog.Hash
	err := s.pool.QueryRow(ctx, `SELECT root, note FROM audit_tree_heads WHERE size = $1`, clamp(size)).Scan(&root, &signed)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, nil, fmt.Errorf("tree head %d: not stored", size)
	}
	if err != nil {
		return h, nil, fmt.Errorf("tree head %d: %w", size, err)
	}
	copy(h[:], root)
	if signed != nil {
		return h, []byte(*signed), nil
	}
	return h, nil, nil
}

// HashReader serves stored tree hashes, for proofs.
func (s *Store) HashReader(ctx context.Context) tlog.HashReader { return hashReader(ctx, s.pool) }

// canonicalJSON is the jsonb text of a map, {} when empty.
func canonicalJSON(m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	b, err := canonical.Marshal(m)
	if err != nil {
		return nil, err
	}
	return jsonText(b), nil
}

// Snapshot implements ledger.Snapshotter in one statement, which
// PostgreSQL runs in one snapshot.
func (s *Store) Snapshot(ctx context.Context) (ledger.Snapshot, error) {
	var snap ledger.Snapshot
	var rows, heads, stray, tipSize int64
	var minSeq, maxSeq, size *int64
	var root []byte
	var signed *string
	var tipHash string
	err := s.pool.QueryRow(ctx, `SELECT
	(SELECT count(*) FROM audit_records), (SELECT min(sequence) FROM audit_records), (SELECT max(sequence) FROM audit_records),
	(SELECT count(*) FROM audit_tree_heads),
	h.size, h.root, h.note,
	c.size, c.hash,
	(SELECT count(*) FROM audit_signatures g WHERE NOT EXISTS (SELECT 1 FROM audit_records r WHERE r.record_id = g.record_id AND r.sequence >= 0))
FROM audit_chain c LEFT JOIN (SELECT size, root, note FROM audit_tree_heads ORDER BY size DESC LIMIT 1) h ON true`).Scan(
		&rows, &minSeq, &maxSeq, &heads, &size, &root, &signed, &tipSize, &tipHash, &stray)
	if errors.Is(err, pgx.ErrNoRows) {
		return snap, &ledger.ChainError{Reason: "the store's chain tip row is gone (audit_chain was emptied)"}
	}
	if err != nil {
		return snap, fmt.Errorf("read the store's snapshot: %w", err)
	}
	snap.Records, snap.Heads, snap.StraySignatures = uint64(rows), uint64(heads), uint64(stray)
	if minSeq != nil {
		snap.MinSeq, snap.MaxSeq = *minSeq, *maxSeq
	}
	if size != nil {
		snap.Latest = storedHead(*size, root, signed)
	}
	snap.Tip = &audit.Head{Size: uint64(max(tipSize, 0)), Hash: tipHash}
	return snap, nil
}

// AddSignatures implements audit.SignatureAdder in one transaction.
func (s *Store) AddSignatures(ctx context.Context, sigs iter.Seq2[audit.RecordSignature, error]) (int, error) {
	if s.cfg.ReadOnly {
		return 0, store.ErrReadOnly
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for rs, err := range sigs {
			if err != nil {
				return err
			}
			if err := addSignature(ctx, tx, rs.RecordID, rs.Signature); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// AddCosignature stores a co-signature of the checkpoint at size.
func (s *Store) AddCosignature(ctx context.Context, c ledger.Cosignature) error {
	if s.cfg.ReadOnly {
		return store.ErrReadOnly
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_cosignatures (size, signer, note, timestamp) VALUES ($1, $2, $3, $4)
ON CONFLICT (size, signer) DO UPDATE SET note = excluded.note, timestamp = excluded.timestamp`,
		clamp(c.Size), text(c.Signer), text(string(c.Note)), audit.FormatTime(c.Timestamp))
	return err
}

// Cosignatures lists the stored co-signatures, by size then signer.
func (s *Store) Cosignatures(ctx context.Context) ([]ledger.Cosignature, error) {
	rows, err := s.pool.Query(ctx, `SELECT size, signer, note, timestamp FROM audit_cosignatures ORDER BY size, signer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.ScanCosignatures(rows)
}

// LatestTreeHead implements ledger.HeadStore.
func (s *Store) LatestTreeHead(ctx context.Context) (*ledger.StoredHead, error) {
	return latestHead(ctx, s.pool)
}

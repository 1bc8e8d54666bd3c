package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// newestBatch is how many targets' records are read and handed on at a
// time: memory holds one batch of records, whatever the number of targets.
const newestBatch = 256

// NewestByTarget yields, for each target of the records whose action is
// one of actions, the newest of them dated at or before each time of at
// (in that order; nil where there is none). One grouped query finds the
// sequence numbers without reading the records; the records are then read
// a batch of targets at a time, in the order of their newest record.
// Pruned records are left out. Drift analysis reads the state of a tree
// at two points this way (package state).
//
// With members, the records yielded hold only their sequence, action,
// target, timestamp, source and those members of their context, read
// without decoding the rest (much faster for many records).
func (s *Store) NewestByTarget(ctx context.Context, actions []string, at []time.Time, members []string) iter.Seq2[[]*audit.Record, error] {
	return func(yield func([]*audit.Record, error) bool) {
		if len(actions) == 0 || len(at) == 0 {
			return
		}
		for _, m := range members {
			if m == "" || strings.ContainsAny(m, `"\`) {
				yield(nil, fmt.Errorf("context member %q: empty, or with quotes or backslashes", m))
				return
			}
		}
		q, args := newestQuery(actions, at)
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			yield(nil, err)
			return
		}
		// seqs[i] are one target's newest sequence per time (0: none; a
		// record's sequence is stored plus one).
		var targets [][]int64
		for rows.Next() {
			vals := make([]any, len(at))
			ptrs := make([]any, len(at))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				yield(nil, err)
				return
			}
			seqs := make([]int64, len(at))
			any := false
			for i, v := range vals {
				if n, ok := v.(int64); ok {
					seqs[i] = n + 1
					any = true
				}
			}
			if any {
				targets = append(targets, seqs)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			yield(nil, err)
			return
		}
		slices.SortFunc(targets, func(a, b []int64) int { return int(slices.Max(a) - slices.Max(b)) })
		for batch := range slices.Chunk(targets, newestBatch) {
			var want []int64
			for _, seqs := range batch {
				for _, n := range seqs {
					if n > 0 {
						want = append(want, n-1)
					}
				}
			}
			slices.Sort(want)
			want = slices.Compact(want)
			var recs map[int64]*audit.Record
			var err error
			if members != nil {
				recs, err = s.partialBySeq(ctx, want, members)
			} else {
				recs, err = s.bySeq(ctx, want)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			for _, seqs := range batch {
				out := make([]*audit.Record, len(seqs))
				for i, n := range seqs {
					if n > 0 {
						out[i] = recs[n-1]
					}
				}
				if !yield(out, nil) {
					return
				}
			}
		}
	}
}

// newestQuery groups the records of the actions by target, with the
// newest sequence at each time.
func newestQuery(actions []string, at []time.Time) (string, []any) {
	var cols []string
	var args []any
	for _, t := range at {
		cols = append(cols, "max(seq) FILTER (WHERE timestamp <= ?)")
		args = append(args, audit.FormatTime(t))
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(actions)), ",")
	for _, a := range actions {
		args = append(args, a)
	}
	return `SELECT ` + strings.Join(cols, ", ") + ` FROM records WHERE action IN (` + marks + `) AND pruned_by IS NULL GROUP BY target`, args
}

// bySeq reads the records with the given sequence numbers.
func (s *Store) bySeq(ctx context.Context, seqs []int64) (map[int64]*audit.Record, error) {
	out := make(map[int64]*audit.Record, len(seqs))
	if len(seqs) == 0 {
		return out, nil
	}
	args := make([]any, len(seqs))
	for i, n := range seqs {
		args[i] = n
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(seqs)), ",")
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordColumns+` FROM records r LEFT JOIN signatures s ON s.seq = r.seq WHERE r.seq IN (`+marks+`) ORDER BY r.seq, s.signer`, args...)
	if err != nil {
		return nil, err
	}
	var ferr error
	scanRecords(rows, func(r *audit.Record, err error) bool {
		if err != nil {
			ferr = err
			return false
		}
		out[int64(r.Sequence)] = r
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	for _, n := range seqs {
		if out[n] == nil {
			return nil, fmt.Errorf("record %d: %w", n, audit.ErrNotFound)
		}
	}
	return out, nil
}

// partialBySeq reads the given members of the records' contexts, with
// their sequence, action, target, timestamp and source.
func (s *Store) partialBySeq(ctx context.Context, seqs []int64, members []string) (map[int64]*audit.Record, error) {
	out := make(map[int64]*audit.Record, len(seqs))
	if len(seqs) == 0 {
		return out, nil
	}
	paths := []string{"'$.source'"}
	for _, m := range members {
		paths = append(paths, `'$.context."`+m+`"'`)
	}
	args := make([]any, len(seqs))
	for i, n := range seqs {
		args[i] = n
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(seqs)), ",")
	rows, err := s.db.QueryContext(ctx, `SELECT seq, action, target, timestamp, json_extract(body, `+strings.Join(paths, ", ")+
		`) FROM records WHERE seq IN (`+marks+`) AND pruned_by IS NULL`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var action, target, ts string
		var vals []byte
		if err := rows.Scan(&seq, &action, &target, &ts, &vals); err != nil {
			return nil, err
		}
		var list []any
		if err := json.Unmarshal(vals, &list); err != nil || len(list) != len(paths) {
			return nil, fmt.Errorf("record %d: context members do not decode: %v", seq, err)
		}
		t, err := time.Parse(audit.TimeFormat, ts)
		if err != nil {
			return nil, fmt.Errorf("record %d: timestamp %q: %w", seq, ts, err)
		}
		r := &audit.Record{Sequence: uint64(seq), Action: action, Target: target, Timestamp: t, Context: map[string]any{}}
		r.Source, _ = list[0].(string)
		for i, m := range members {
			if v := list[i+1]; v != nil {
				r.Context[m] = v
			}
		}
		out[seq] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range seqs {
		if out[n] == nil {
			return nil, fmt.Errorf("record %d: %w", n, audit.ErrNotFound)
		}
	}
	return out, nil
}

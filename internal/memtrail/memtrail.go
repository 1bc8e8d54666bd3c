// Package memtrail is an in-memory trail for tests of sources and
// collectors: it appends records, validating them as a store would, and
// answers queries with audit.Filter's reference semantics. It links no
// chain; tests of the ledger use a real store.
package memtrail

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Trail is safe for concurrent use. The zero value is empty and ready.
type Trail struct {
	mu   sync.Mutex
	recs []*audit.Record
	ids  map[string]bool
}

// Append validates recs and stores them, assigning sequence numbers; an
// invalid record, or one whose record_id is already in the trail
// (audit.ErrDuplicateID), appends none of them.
func (m *Trail) Append(_ context.Context, recs []*audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return err
		}
		if m.ids[r.RecordID] || seen[r.RecordID] {
			return fmt.Errorf("record_id %s %w", r.RecordID, audit.ErrDuplicateID)
		}
		seen[r.RecordID] = true
	}
	if m.ids == nil {
		m.ids = map[string]bool{}
	}
	for _, r := range recs {
		r.Sequence = uint64(len(m.recs))
		m.recs = append(m.recs, r)
		m.ids[r.RecordID] = true
	}
	return nil
}

// Query yields the records matching f, oldest first or (f.Newest) newest
// first, at most f's limit.
func (m *Trail) Query(_ context.Context, f audit.Filter) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		m.mu.Lock()
		recs := slices.Clone(m.recs)
		m.mu.Unlock()
		if f.Newest {
			slices.Reverse(recs)
		}
		n, limit := 0, f.EffectiveLimit()
		for _, r := range recs {
			if limit >= 0 && n >= limit {
				return
			}
			if !f.Match(r) {
				continue
			}
			n++
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Range yields the records with from <= sequence < to, in order.
func (m *Trail) Range(_ context.Context, from, to uint64) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		m.mu.Lock()
		n := uint64(len(m.recs))
		to = min(to, n)
		if from >= to {
			m.mu.Unlock()
			return
		}
		recs := slices.Clone(m.recs[from:to])
		m.mu.Unlock()
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Len is the number of records appended.
func (m *Trail) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

// Records returns a copy of the list of records appended, in order.
func (m *Trail) Records() []*audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs)
}

// Collect runs src over target and appends what it records to app in one
// append (nothing when it records nothing), each record's source set to
// the source's name, as the batch collector does: sources' tests fill a
// trail with it.
func Collect(ctx context.Context, app audit.Appender, src audit.Source, target string) error {
	var recs []*audit.Record
	if err := src.Collect(ctx, target, func(r *audit.Record) error {
		r.Source = src.Name()
		recs = append(recs, r)
		return nil
	}); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	return app.Append(ctx, recs)
}

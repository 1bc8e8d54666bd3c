package git

import (
	"context"
	"iter"
	"slices"
	"sync"

	audit "github.com/ami-orchestrator/ami-audit"
)

// memTrail is an in-memory trail: it appends records (validating them as
// a store would) and answers queries with audit.Filter's reference
// semantics.
type memTrail struct {
	mu   sync.Mutex
	recs []*audit.Record
}

func (m *memTrail) Append(_ context.Context, recs []*audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	for _, r := range recs {
		r.Sequence = uint64(len(m.recs))
		m.recs = append(m.recs, r)
	}
	return nil
}

func (m *memTrail) Query(_ context.Context, f audit.Filter) iter.Seq2[*audit.Record, error] {
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

// collect runs src over dir and appends what it emits to trail; it
// returns the records appended by this run.
func collect(ctx context.Context, src *Source, dir string, trail audit.Appender) ([]*audit.Record, error) {
	var out []*audit.Record
	err := src.Collect(ctx, dir, func(r *audit.Record) error {
		if err := trail.Append(ctx, []*audit.Record{r}); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// listerTrail is a memTrail with the ContextLister capability; it counts
// the queries so tests can tell which path the source took.
type listerTrail struct {
	memTrail
	listed, queried int
}

func (l *listerTrail) Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error] {
	if f.Action == ActionCommit {
		l.queried++
	}
	return l.memTrail.Query(ctx, f)
}

func (l *listerTrail) ContextStrings(ctx context.Context, f audit.Filter, key string) iter.Seq2[string, error] {
	l.listed++
	return func(yield func(string, error) bool) {
		for r, err := range l.memTrail.Query(ctx, f) {
			if err != nil {
				yield("", err)
				return
			}
			if v, ok := r.Context[key].(string); ok && !yield(v, nil) {
				return
			}
		}
	}
}

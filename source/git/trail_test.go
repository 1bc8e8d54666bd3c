package git

import (
	"context"
	"iter"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// memTrail is an in-memory trail for unit tests.
type memTrail = memtrail.Trail

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

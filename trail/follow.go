package trail

import (
	"context"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Watcher is a store that announces committed appends (the Redis cache).
type Watcher interface {
	Watch(ctx context.Context) (<-chan audit.Head, error)
}

// FollowOptions say where following starts and how the store is watched.
type FollowOptions struct {
	// From is the first sequence to yield (records appended before it are
	// skipped); callers starting "from now" pass the head's size.
	From uint64
	// Filter selects the records yielded (its limit is ignored).
	Filter audit.Filter
	// Poll is how often the store is read when nothing announces appends.
	Poll time.Duration
	// OnPolling is told, once, why appends are found by reading the store
	// every Poll rather than announced (nil: not told).
	OnPolling func(err error)
}

// Follow hands emit the records matching o.Filter appended from o.From on,
// as they are committed, until ctx ends (then it returns nil) or emit
// fails: woken by the cache's announcements when the store has a cache,
// and reading the store every poll interval in any case, so that nothing
// is missed while the cache is away. Records come from the store, in
// sequence order, each once.
func Follow(ctx context.Context, s audit.Store, o FollowOptions, emit func(*audit.Record) error) error {
	next, poll := o.From, o.Poll
	if poll <= 0 {
		poll = time.Second
	}
	var notify <-chan audit.Head
	if w, ok := s.(Watcher); ok {
		var err error
		if notify, err = w.Watch(ctx); err != nil {
			if o.OnPolling != nil {
				o.OnPolling(err)
			}
			notify = nil
		} else {
			poll = max(poll, 5*time.Second)
		}
	}
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		for r, err := range s.Range(ctx, next, ^uint64(0)) {
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			next = r.Sequence + 1
			if !o.Filter.Match(r) {
				continue
			}
			if err := emit(r); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-notify:
			if !ok {
				notify = nil
			}
		case <-timer.C:
			timer.Reset(poll)
		}
	}
}

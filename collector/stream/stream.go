// Package stream is the stream collector (SPEC §8): it follows live
// sources — log files as lines arrive, services as their state changes, a
// module's files as they are edited — and appends their records as they
// happen, until it is stopped.
//
// A Stream emits groups of records, each with a done function. Records
// are appended in groups by one writer (the store's group commit does the
// rest): whenever the writer is idle it appends everything emitted since
// its last append, up to Config.BatchSize records, so that the delay from
// emit to durable grows only as far as the store needs to keep up. After
// an append, the done functions of the groups it held are called, in emit
// order: a stream persists its position there (a log tailer's offsets),
// so that a position is never saved ahead of the records before it, and
// a restart neither misses nor repeats anything.
//
// Stopping (ctx ends): the stream returns, what it emitted is appended
// with a context of its own (Config.StopTimeout), the done functions run,
// and Run returns nil. Records are masked (Config.Mask) on the emitting
// goroutine before anyone else sees them.
package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Defaults of Config.
const (
	DefaultBatchSize   = 5000
	DefaultQueue       = 50000
	DefaultStopTimeout = 30 * time.Second
)

// ErrStreamFailed wraps the error of a stream that stopped on its own.
var ErrStreamFailed = errors.New("stream failed")

// Stream is a live source. Follow emits records as they happen until ctx
// ends, then returns nil; an error means the stream cannot go on.
type Stream interface {
	// Name is the records' source field when they leave it empty.
	Name() string
	// Follow emits records until ctx ends. emit may be called from one
	// goroutine at a time; it blocks while the collector is behind, and
	// returns an error when the collector cannot append any more.
	Follow(ctx context.Context, emit Emit) error
}

// Emit hands the collector a group of records (possibly none) and done,
// which is called (when not nil) once the group and every group emitted
// before it are durable in the trail. emit keeps recs.
type Emit func(recs []*audit.Record, done func()) error

// Closer is implemented by streams with state to save once everything
// they emitted is appended: Close is called after the last done.
type Closer interface {
	Close() error
}

// Config tunes a collector. The zero value uses the defaults.
type Config struct {
	// BatchSize caps the records of one Append (DefaultBatchSize).
	BatchSize int
	// Queue caps the records emitted and not yet appended; emit blocks
	// beyond it (DefaultQueue).
	Queue int
	// StopTimeout bounds the final appends after ctx ends
	// (DefaultStopTimeout).
	StopTimeout time.Duration
	// Mask, when set, is applied to every record before it is appended
	// or seen by anyone: the step that keeps secrets out of the trail. It
	// runs on the emitting goroutine.
	Mask func(*audit.Record)
	// Keep, when set, is asked about every record (after Mask) before it
	// is appended; a record it refuses is dropped, counted in
	// Stats.Expired: what the trail's retention policies would prune at
	// once (see trail.RetentionKeeps). It runs on the emitting goroutine.
	Keep func(*audit.Record) bool
	// OnAppend, when set, is called after every append with its records,
	// one call at a time. It must not keep or modify the slice.
	OnAppend func(recs []*audit.Record)
	// OnError, when set, is told of an append that failed and will be
	// tried again; Run gives up (returning the error) after MaxRetries.
	OnError func(err error)
	// MaxRetries is how many times a failed append is tried again, a
	// second apart, before the collector stops (default 10).
	MaxRetries int
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Queue <= 0 {
		c.Queue = DefaultQueue
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 10
	}
	return c
}

// Stats count what a collector did.
type Stats struct {
	Records int64 // appended
	Appends int64 // Append calls that succeeded
	Expired int64 // records Config.Keep refused
}

// Collector appends what streams emit.
type Collector struct {
	app   audit.Appender
	cfg   Config
	stats struct{ records, appends, expired atomic.Int64 }
}

// New returns a collector appending to app.
func New(app audit.Appender, cfg Config) (*Collector, error) {
	if app == nil {
		return nil, errors.New("stream collector: no appender")
	}
	return &Collector{app: app, cfg: cfg.withDefaults()}, nil
}

// Stats returns what the collector appended so far.
func (c *Collector) Stats() Stats {
	return Stats{Records: c.stats.records.Load(), Appends: c.stats.appends.Load(), Expired: c.stats.expired.Load()}
}

// group is one emit.
type group struct {
	recs []*audit.Record
	done func()
}

// queue is what streams emitted and the writer has not taken yet.
type queue struct {
	mu      sync.Mutex
	groups  []group
	n       int           // records in groups
	wake    chan struct{} // the writer: something arrived
	room    chan struct{} // the emitters: room was made
	failed  error         // the writer gave up
	closing bool          // every stream has returned
}

// Run follows the streams until ctx ends or one of them fails, appending
// their records. It returns nil after a stop by ctx once everything
// emitted is appended; otherwise the error of the stream that failed
// (wrapping ErrStreamFailed) or of the appends. A failing stream stops
// the others; what was emitted before is appended either way.
func (c *Collector) Run(ctx context.Context, streams ...Stream) error {
	q := &queue{wake: make(chan struct{}, 1), room: make(chan struct{}, 1)}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, len(streams))
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := follow(sctx, s, c.emitter(sctx, q, s.Name()))
			if err != nil && sctx.Err() == nil {
				errs[i] = fmt.Errorf("%w: %s: %w", ErrStreamFailed, s.Name(), err)
				stop()
			}
		}()
	}
	werr := make(chan error, 1)
	go func() { werr <- c.write(q) }()
	wg.Wait()
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	signal(q.wake)
	err := <-werr
	for _, s := range streams {
		if cl, ok := s.(Closer); ok {
			if cerr := cl.Close(); cerr != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.Name(), cerr))
			}
		}
	}
	return errors.Join(append(errs, err)...)
}

// follow calls s.Follow, turning a panic into an error.
func follow(ctx context.Context, s Stream, emit Emit) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return s.Follow(ctx, emit)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// emitter is the Emit of one stream.
func (c *Collector) emitter(ctx context.Context, q *queue, name string) Emit {
	return func(recs []*audit.Record, done func()) error {
		kept := recs[:0]
		for _, r := range recs {
			if r == nil {
				return errors.New("emitted a nil record")
			}
			if r.Source == "" {
				r.Source = name
			}
			if c.cfg.Mask != nil {
				c.cfg.Mask(r)
			}
			if c.cfg.Keep != nil && !c.cfg.Keep(r) {
				c.stats.expired.Add(1)
				continue
			}
			kept = append(kept, r)
		}
		recs = kept
		q.mu.Lock()
		for q.n >= c.cfg.Queue && q.failed == nil {
			q.mu.Unlock()
			select {
			case <-q.room:
			case <-ctx.Done():
				// Stopping: take the records anyway; they are appended
				// before Run returns.
			}
			q.mu.Lock()
			if ctx.Err() != nil {
				break
			}
		}
		if q.failed != nil {
			err := q.failed
			q.mu.Unlock()
			return err
		}
		q.groups = append(q.groups, group{recs: recs, done: done})
		q.n += len(recs)
		q.mu.Unlock()
		signal(q.wake)
		return nil
	}
}

// take removes up to max records' worth of groups (at least one group);
// last says the queue is closed and empty.
func (q *queue) take(max int) (gs []group, last bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	i := 0
	for ; i < len(q.groups); i++ {
		if i > 0 && n+len(q.groups[i].recs) > max {
			break
		}
		n += len(q.groups[i].recs)
	}
	gs = q.groups[:i:i]
	q.groups = q.groups[i:]
	q.n -= n
	return gs, len(gs) == 0 && q.closing
}

// write is the writer: it appends whatever is queued whenever it is idle.
func (c *Collector) write(q *queue) error {
	for {
		gs, last := q.take(c.cfg.BatchSize)
		if last {
			return nil
		}
		if len(gs) == 0 {
			<-q.wake
			continue
		}
		signal(q.room)
		var batch []*audit.Record
		for _, g := range gs {
			batch = append(batch, g.recs...)
		}
		if err := c.appendRetrying(batch); err != nil {
			q.mu.Lock()
			q.failed = err
			q.mu.Unlock()
			signal(q.room)
			// Drain until the streams have stopped: nothing more is
			// appended, and no done runs.
			for {
				if _, last := q.take(1 << 30); last {
					return err
				}
				<-q.wake
			}
		}
		for _, g := range gs {
			if g.done != nil {
				g.done()
			}
		}
	}
}

// appendRetrying appends batch, trying again a second apart when the
// store fails (a database restarting), with a context of its own: a
// stopping collector still appends what it has.
func (c *Collector) appendRetrying(batch []*audit.Record) error {
	if len(batch) == 0 {
		return nil
	}
	var err error
	for try := 0; try <= c.cfg.MaxRetries; try++ {
		if try > 0 {
			if c.cfg.OnError != nil {
				c.cfg.OnError(err)
			}
			time.Sleep(time.Second)
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StopTimeout)
		err = c.app.Append(ctx, batch)
		cancel()
		if err == nil {
			c.stats.records.Add(int64(len(batch)))
			c.stats.appends.Add(1)
			if c.cfg.OnAppend != nil {
				c.cfg.OnAppend(batch)
			}
			return nil
		}
		if !retryable(err) {
			break
		}
	}
	return fmt.Errorf("append %d records: %w", len(batch), err)
}

// retryable reports whether an append error may go away by itself.
func retryable(err error) bool {
	var fe *audit.FieldError
	return !errors.As(err, &fe) && !errors.Is(err, store.ErrNoLogKey) && !errors.Is(err, ledger.ErrTampered)
}

// collectGroup is how many records Collect hands over at once.
const collectGroup = 500

// Collect runs src once over target, emitting its records in groups, and
// returns once they are all durable: a source that compares with the
// trail (an incremental one) then sees them on its next run.
func Collect(ctx context.Context, src audit.Source, target string, emit Emit) error {
	var group []*audit.Record
	err := src.Collect(ctx, target, func(r *audit.Record) error {
		group = append(group, r)
		if len(group) < collectGroup {
			return nil
		}
		g := group
		group = nil
		return emit(g, nil)
	})
	durable := make(chan struct{})
	if eerr := emit(group, func() { close(durable) }); err == nil {
		err = eerr
	}
	if err != nil {
		return err
	}
	select {
	case <-durable:
	case <-ctx.Done():
		// stopping: the collector appends what was emitted anyway
	}
	return nil
}

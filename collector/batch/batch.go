// Package batch is the batch collector (SPEC §8): one run of several
// sources over a target, their records appended to the trail in batches,
// and a summary of what each source did.
//
// Records are streamed, never gathered: each source runs in its own
// goroutine (at most Config.Parallel at once) and hands its records to a
// writer goroutine of its own, which appends them in batches of
// Config.BatchSize, or sooner when Config.FlushInterval has passed since
// the last append, so a slow source still reaches the trail promptly. The
// source produces the next records while the previous batch is being
// appended; a full writer holds the source back, so memory stays bounded
// by about three batches per running source, whatever the number of
// records. Records reach the writer in chunks of 64, which keeps the
// hand-over cheap; a partial chunk is taken by the timer.
//
// Analyzers run after every source has finished, through package analyzer:
// each reads the trail (the records this run appended, of the sources it
// understands, and anything recorded before) and its findings are appended
// as finding and resolution records. The collector remembers only the
// sequence numbers of what each batch appended, so memory stays flat
// however many records the analyzers read.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
)

// Defaults of Config.
const (
	DefaultParallel      = 4
	DefaultBatchSize     = 1000
	DefaultFlushInterval = 500 * time.Millisecond
)

// ErrSourceFailed is wrapped by the error of every source that failed.
var ErrSourceFailed = errors.New("source failed")

// Config tunes a collector. The zero value uses the defaults.
type Config struct {
	// Parallel is how many sources run at once (DefaultParallel when 0).
	Parallel int
	// BatchSize is how many records one Append call holds at most
	// (DefaultBatchSize when 0).
	BatchSize int
	// FlushInterval is how long records may wait for a batch to fill
	// before they are appended anyway (DefaultFlushInterval when 0).
	FlushInterval time.Duration
	// Analyzers run after the sources (see the package documentation),
	// all of them: choose with analyzer.Select. Their results are in the
	// Summary.
	Analyzers []audit.Analyzer
	// Mask, when set, is applied to every record a source emits, before
	// it is appended or seen by anyone, and to the analyzers' records: the
	// step that keeps secrets out of the trail (see
	// secrets.Detector.MaskRecord). It runs on the source's goroutine and
	// must be safe for concurrent use.
	Mask func(*audit.Record)
	// Trail is what the analyzers read; required with Analyzers. It is
	// usually the store the collector appends to.
	Trail audit.Reader
	// Actor of the analyzers' records; default "system".
	Actor string
	// OnAppend, when set, is called with every batch after it is appended,
	// one call at a time, for progress and for building a report from the
	// records without keeping them. It must not keep or modify the slice.
	OnAppend func(source string, recs []*audit.Record)
	// Keep, when set, is asked about every record before it is appended;
	// a record it refuses is dropped and counted as expired (the trail's
	// retention policies would prune it at once: see
	// trail.RetentionKeeps). It is called from the sources' goroutines.
	Keep func(*audit.Record) bool
}

// Validate checks the fields.
func (c Config) Validate() error {
	switch {
	case c.Parallel < 0:
		return fmt.Errorf("batch collector: parallel %d must not be negative", c.Parallel)
	case c.BatchSize < 0:
		return fmt.Errorf("batch collector: batch size %d must not be negative", c.BatchSize)
	case c.FlushInterval < 0:
		return fmt.Errorf("batch collector: flush interval %v must not be negative", c.FlushInterval)
	case len(c.Analyzers) > 0 && c.Trail == nil:
		return errors.New("batch collector: analyzers need a Trail to read")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Parallel == 0 {
		c.Parallel = DefaultParallel
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	return c
}

// Summary says what a run did.
type Summary struct {
	Target   string
	Started  time.Time
	Duration time.Duration
	// Sources holds one entry per source, in the order they were given.
	Sources []SourceSummary
	// Analyzers holds one entry per analyzer, in the order configured.
	Analyzers []analyzer.Result
}

// SourceSummary is what one source did.
type SourceSummary struct {
	Name     string
	Records  int // records appended to the trail
	Batches  int // Append calls
	Warnings int // appended records of severity warning
	Errors   int // appended records of severity error or critical
	// Unappended counts records the source produced that did not reach
	// the trail because the run failed or was cancelled.
	Unappended int
	// Expired counts records dropped because the trail's retention
	// policies no longer keep them (Config.Keep).
	Expired  int
	Duration time.Duration
	// Err says why the source failed, nil when it finished. Records
	// appended before the failure stay in the trail.
	Err error
}

// Records is the number of records appended by all sources.
func (s *Summary) Records() int {
	n := 0
	for _, x := range s.Sources {
		n += x.Records
	}
	return n
}

// Failed lists the sources that failed.
func (s *Summary) Failed() []SourceSummary {
	var out []SourceSummary
	for _, x := range s.Sources {
		if x.Err != nil {
			out = append(out, x)
		}
	}
	return out
}

// Collector runs sources and appends their records.
type Collector struct {
	app audit.Appender
	cfg Config
}

// New returns a collector appending to app.
func New(app audit.Appender, cfg Config) (*Collector, error) {
	if app == nil {
		return nil, errors.New("batch collector: no appender")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Collector{app: app, cfg: cfg.withDefaults()}, nil
}

// Run collects target with every source and appends what they produce. It
// returns when every source and analyzer has finished. The summary is
// always returned; the error joins the errors of the sources and analyzers
// that failed (each wrapping ErrSourceFailed, or naming the analyzer), and
// is ctx's error when the run was cancelled. A failing source does not stop
// the others, and what any source appended stays appended.
func (c *Collector) Run(ctx context.Context, target string, sources []audit.Source) (*Summary, error) {
	sum := &Summary{Target: target, Started: time.Now(), Sources: make([]SourceSummary, len(sources))}
	for i, s := range sources {
		if s == nil {
			return sum, fmt.Errorf("batch collector: source %d is nil", i)
		}
		sum.Sources[i].Name = s.Name()
	}

	var hookMu sync.Mutex
	var spans []analyzer.Span
	after := func(name string, recs []*audit.Record) {
		hookMu.Lock()
		defer hookMu.Unlock()
		if c.cfg.OnAppend != nil {
			c.cfg.OnAppend(name, recs)
		}
		// A batch is appended in one step, so its sequence numbers run on.
		spans = append(spans, analyzer.Span{From: recs[0].Sequence, To: recs[len(recs)-1].Sequence + 1})
	}

	var g errgroup.Group
	g.SetLimit(c.cfg.Parallel)
	for i, src := range sources {
		g.Go(func() error {
			c.runSource(ctx, target, src, &sum.Sources[i], after)
			return nil
		})
	}
	g.Wait()
	if len(c.cfg.Analyzers) > 0 && ctx.Err() == nil {
		ran := make([]string, 0, len(sources))
		for _, s := range sources {
			ran = append(ran, s.Name())
		}
		// Each analyzer's failure is in its result; the joined error is
		// built below.
		sum.Analyzers, _ = analyzer.Run(ctx, analyzer.Config{Trail: c.cfg.Trail, Appender: c.app, Actor: c.cfg.Actor, Mask: c.cfg.Mask},
			c.cfg.Analyzers, analyzer.Input{Target: target, Ran: ran, Appended: spans})
	}
	sum.Duration = time.Since(sum.Started)

	var errs []error
	for _, s := range sum.Sources {
		if s.Err != nil {
			errs = append(errs, s.Err)
		}
	}
	for _, a := range sum.Analyzers {
		if a.Err != nil {
			errs = append(errs, fmt.Errorf("analyzer %s: %w", a.Analyzer, a.Err))
		}
	}
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	return sum, errors.Join(errs...)
}

// runSource runs one source with its writer and fills out.
func (c *Collector) runSource(ctx context.Context, target string, src audit.Source, out *SourceSummary, after func(string, []*audit.Record)) {
	start := time.Now()
	name := src.Name()
	chunk := min(handoff, c.cfg.BatchSize)
	w := &writer{
		c: c, name: name, out: out, after: after, chunk: chunk,
		in:   make(chan []*audit.Record, max(1, c.cfg.BatchSize/chunk)),
		dead: make(chan struct{}),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.loop(ctx)
	}()

	emit := func(r *audit.Record) error {
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
			w.expired.Add(1)
			return nil
		}
		return w.put(ctx, r)
	}
	err := collect(ctx, src, target, emit)
	w.mu.Lock()
	if len(w.pending) > 0 {
		w.send(ctx, w.pending)
		w.pending = nil
	}
	w.mu.Unlock()
	close(w.in)
	wg.Wait()
	out.Unappended += int(w.dropped.Load())
	out.Expired += int(w.expired.Load())
	if err == nil {
		err = w.err
	}
	if err != nil {
		out.Err = fmt.Errorf("%w: %s: %w", ErrSourceFailed, name, err)
	}
	out.Duration = time.Since(start)
}

// collect calls src.Collect, turning a panic into an error so that one
// broken source cannot take the run down.
func collect(ctx context.Context, src audit.Source, target string, emit func(*audit.Record) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return src.Collect(ctx, target, emit)
}

// handoff is how many records a source hands its writer at once: passing
// records one by one through a channel would cost more than the rest of
// the collector.
const handoff = 64

// writer appends one source's records in batches. The source side (put)
// gathers records into pending and sends full chunks on in; the writer
// side (loop) gathers chunks into batches. Both are serialised by mu on
// the source side, so that the writer can take a partial chunk on a timer
// without reordering records: it does so only when no chunk is queued or
// being sent.
type writer struct {
	c     *Collector
	name  string
	out   *SourceSummary // written by loop only
	after func(string, []*audit.Record)
	chunk int

	mu      sync.Mutex // guards pending and sending on in
	pending []*audit.Record
	in      chan []*audit.Record
	dropped atomic.Int64 // records the source side could not hand over
	expired atomic.Int64 // records Config.Keep refused

	dead chan struct{} // closed when an append failed; err says why
	err  error
}

// put adds r to the pending chunk and hands the chunk over when full.
func (w *writer) put(ctx context.Context, r *audit.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, r)
	if len(w.pending) < w.chunk {
		select {
		case <-w.dead:
			return w.err
		default:
			return nil
		}
	}
	full := w.pending
	w.pending = make([]*audit.Record, 0, w.chunk)
	return w.send(ctx, full)
}

// send hands recs to the writer; w.mu is held.
func (w *writer) send(ctx context.Context, recs []*audit.Record) error {
	select {
	case w.in <- recs:
		return nil
	case <-w.dead:
		w.dropped.Add(int64(len(recs)))
		return w.err
	case <-ctx.Done():
		w.dropped.Add(int64(len(recs)))
		return ctx.Err()
	}
}

// takePending returns the partial chunk when the source side is idle and
// nothing is queued, so that taking it keeps the records in order.
func (w *writer) takePending() []*audit.Record {
	if !w.mu.TryLock() {
		return nil
	}
	defer w.mu.Unlock()
	if len(w.in) > 0 || len(w.pending) == 0 {
		return nil
	}
	p := w.pending
	w.pending = make([]*audit.Record, 0, w.chunk)
	return p
}

func (w *writer) loop(ctx context.Context) {
	size := w.c.cfg.BatchSize
	batch := make([]*audit.Record, 0, size)
	tick := time.NewTicker(w.c.cfg.FlushInterval)
	defer tick.Stop()
	last := time.Now()
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		if err := w.c.app.Append(ctx, batch); err != nil {
			w.err = fmt.Errorf("append %s: %w", plural.Count(len(batch), "record"), err)
			w.out.Unappended += len(batch)
			close(w.dead)
			return false
		}
		w.out.Batches++
		w.out.Records += len(batch)
		for _, r := range batch {
			switch r.Severity {
			case audit.SeverityWarning:
				w.out.Warnings++
			case audit.SeverityError, audit.SeverityCritical:
				w.out.Errors++
			}
		}
		w.after(w.name, batch)
		// The store may keep the records it was given: start a new slice.
		batch = make([]*audit.Record, 0, size)
		last = time.Now()
		return true
	}
	// add appends recs to the batch, appending every full batch.
	add := func(recs []*audit.Record) bool {
		for len(recs) > 0 {
			n := min(len(recs), size-len(batch))
			batch = append(batch, recs[:n]...)
			recs = recs[n:]
			if len(batch) == size && !flush() {
				w.out.Unappended += len(recs)
				return false
			}
		}
		return true
	}
	for {
		select {
		case recs, ok := <-w.in:
			if !ok {
				flush()
				return
			}
			if !add(recs) {
				w.drain()
				return
			}
		case <-tick.C:
			if time.Since(last) < w.c.cfg.FlushInterval {
				continue
			}
			if !add(w.takePending()) || !flush() {
				w.drain()
				return
			}
		}
	}
}

// drain counts what the source still sends after a failed append until it
// notices (emit returns the error) and stops.
func (w *writer) drain() {
	for recs := range w.in {
		w.out.Unappended += len(recs)
	}
}

// Package groupcommit serializes a store's appends through one goroutine
// that commits every request waiting at that moment together: concurrent
// appenders share one transaction and one sync. A stream (a whole import
// appended atomically) is committed on its own. Stores supply the commit
// function; the queue owns the goroutine and its lifecycle.
package groupcommit

import (
	"context"
	"errors"
	"iter"
	"sync"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// Request is one Append or AppendStream waiting to be committed.
type Request struct {
	Recs []*audit.Record // the records of an Append
	// Prepared holds Recs, in order, as the queue's prepare function
	// prepared them (with only Record set when the queue has none).
	Prepared []*ledger.Prepared
	// Stream is set instead for AppendStream: its records, prepared when
	// the queue has a prepare function (else with only Record set).
	Stream iter.Seq2[*ledger.Prepared, error]
	// Sign, when set for a stream, is called with each record once it is
	// linked (its hash known) and before it is stored; the signatures it
	// adds to the record are stored in the same transaction.
	Sign func(*audit.Record) error
	N    int   // records a stream stored, set by the commit function
	Err  error // the outcome, set by the commit function
	done chan struct{}
}

// ErrClosed is returned by appends after Close.
var ErrClosed = errors.New("store closed")

// Queue runs the commit goroutine.
type Queue struct {
	commit   func(batch []*Request)
	prepare  func(*audit.Record) (*ledger.Prepared, error)
	maxBatch int
	reqs     chan *Request
	closing  chan struct{}
	wg       sync.WaitGroup
	mu       sync.RWMutex // held for reading while queueing, for writing by Close
	closed   bool
	// lastGroup is the number of requests of the last group committed, and
	// lastCommit how long it took (run's goroutine only).
	lastGroup  int
	lastCommit time.Duration
}

// How long a group waits for more requests when fewer have come than are
// expected back: as long as the last commit took, within these bounds.
// Concurrent appenders released together by a commit come back at
// different times (a server answers its clients, they send the next), and
// without the wait they split into cohorts that take turns, each waiting
// for the other's sync; waiting about one commit's time merges them, so
// that one sync serves all.
var (
	MinLinger = 500 * time.Microsecond
	MaxLinger = 5 * time.Millisecond
)

// New starts a queue. commit is called on the queue's goroutine with either
// one stream request or a group of plain requests holding up to maxBatch
// records (more when a single request is larger); it sets each request's
// Err (and N for a stream). The requests' callers are released when commit
// returns.
//
// prepare, when set, is called with every record on the goroutine that
// appends it (Append's caller, or the one iterating a stream) before the
// record reaches commit (see ledger.Prepare): what does not depend on the
// record's place in the chain is done there, concurrently, and the
// queue's goroutine, which all appends wait for, does the rest. A record
// it refuses fails its Append, or ends its stream, with a
// *ledger.BatchError naming it.
func New(maxBatch int, commit func(batch []*Request), prepare func(*audit.Record) (*ledger.Prepared, error)) *Queue {
	q := &Queue{commit: commit, prepare: prepare, maxBatch: maxBatch, reqs: make(chan *Request, 1024), closing: make(chan struct{})}
	q.wg.Add(1)
	go q.run()
	return q
}

// Append queues recs and waits for their outcome. Once queued, it waits
// even if ctx ends, so that its result always says whether the records
// were stored.
func (q *Queue) Append(ctx context.Context, recs []*audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	r := &Request{Recs: recs, Prepared: make([]*ledger.Prepared, len(recs)), done: make(chan struct{})}
	for i, rec := range recs {
		if q.prepare == nil {
			r.Prepared[i] = &ledger.Prepared{Record: rec}
			continue
		}
		var err error
		if r.Prepared[i], err = q.prepare(rec); err != nil {
			return &ledger.BatchError{Index: i, Err: err}
		}
	}
	return q.enqueue(ctx, r, nil)
}

// AppendStream queues a stream and waits for its outcome. sign may be nil
// (see Request.Sign).
//
// The caller's goroutine iterates seq (decoding, masking: whatever
// producing a record costs) while the queue's goroutine links and writes
// the records before them: the two overlap, and the records reach the
// commit function in seq's order, through a buffer of a few chunks.
func (q *Queue) AppendStream(ctx context.Context, seq iter.Seq2[*audit.Record, error], sign func(*audit.Record) error) (int, error) {
	p := &pipe{chunks: make(chan []item, pipeChunks), stop: make(chan struct{}), prepare: q.prepare}
	r := &Request{Stream: p.receive, Sign: sign, done: make(chan struct{})}
	if err := q.enqueue(ctx, r, func() { p.send(seq, r.done) }); err != nil {
		return 0, err
	}
	return r.N, nil
}

// enqueue queues r, runs produce (when set) on the caller's goroutine, and
// waits for r's outcome.
func (q *Queue) enqueue(ctx context.Context, r *Request, produce func()) error {
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return ErrClosed
	}
	select {
	case q.reqs <- r:
	case <-ctx.Done():
		q.mu.RUnlock()
		return ctx.Err()
	}
	q.mu.RUnlock()
	if produce != nil {
		produce()
	}
	<-r.done
	return r.Err
}

// A pipe hands a stream's records from the goroutine that produces them to
// the one that commits them, in chunks.
type pipe struct {
	chunks   chan []item
	stop     chan struct{} // closed when the receiver wants no more
	stopOnce sync.Once
	prepare  func(*audit.Record) (*ledger.Prepared, error)
}

type item struct {
	rec *ledger.Prepared
	err error
}

const (
	pipeChunk  = 256 // records per chunk
	pipeChunks = 4   // chunks buffered
)

// send iterates seq into the pipe until seq ends or yields an error, the
// receiver stops, or the request is done (a commit that never read the
// stream: a read-only store, a store without its key).
func (p *pipe) send(seq iter.Seq2[*audit.Record, error], done <-chan struct{}) {
	defer close(p.chunks)
	chunk := make([]item, 0, pipeChunk)
	put := func() bool {
		select {
		case p.chunks <- chunk:
			chunk = make([]item, 0, pipeChunk)
			return true
		case <-p.stop:
		case <-done:
		}
		return false
	}
	n := 0
	for rec, err := range seq {
		var prep *ledger.Prepared
		switch {
		case err != nil:
		case p.prepare != nil:
			if prep, err = p.prepare(rec); err != nil {
				err = &ledger.BatchError{Index: n, Err: err}
			}
		default:
			prep = &ledger.Prepared{Record: rec}
		}
		n++
		chunk = append(chunk, item{prep, err})
		if err != nil {
			break
		}
		if len(chunk) == pipeChunk && !put() {
			return
		}
	}
	if len(chunk) > 0 {
		put()
	}
}

// Records is a stream's records, for commit functions that link records
// themselves (a queue without a prepare function).
func Records(stream iter.Seq2[*ledger.Prepared, error]) iter.Seq2[*audit.Record, error] {
	return func(yield func(*audit.Record, error) bool) {
		for p, err := range stream {
			var rec *audit.Record
			if p != nil {
				rec = p.Record
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// receive is the stream the commit function iterates.
func (p *pipe) receive(yield func(*ledger.Prepared, error) bool) {
	defer p.stopOnce.Do(func() { close(p.stop) })
	for chunk := range p.chunks {
		for _, it := range chunk {
			if !yield(it.rec, it.err) || it.err != nil {
				return
			}
		}
	}
}

// Close commits what is queued, then stops the goroutine. Appends after
// Close fail with ErrClosed.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	close(q.closing)
	q.mu.Unlock()
	q.wg.Wait()
}

func (q *Queue) run() {
	defer q.wg.Done()
	for {
		var first *Request
		// waiting: requests were queued when the last commit ended (they
		// came during it), as opposed to arriving after it.
		waiting := false
		select {
		case first = <-q.reqs:
			waiting = true
		default:
		}
		if first == nil {
			select {
			case first = <-q.reqs:
			case <-q.closing:
				// Finish what was queued before Close; no more can come.
				for {
					select {
					case r := <-q.reqs:
						q.commitOne([]*Request{r})
					default:
						return
					}
				}
			}
		}
		if first.Stream != nil {
			q.commitOne([]*Request{first})
			continue
		}
		batch := []*Request{first}
		n := len(first.Recs)
		var stream *Request
		var linger <-chan time.Time
		var lingerTimer *time.Timer
		target := q.lastGroup // the appenders expected back
		counted := false
		// take adds r to the group; a stream ends the group and is
		// committed on its own after it.
		take := func(r *Request) bool {
			if r.Stream != nil {
				stream = r
				return false
			}
			batch = append(batch, r)
			n += len(r.Recs)
			return true
		}
	drain:
		for n < q.maxBatch {
			select {
			case r := <-q.reqs:
				if !take(r) {
					break drain
				}
				continue
			default:
			}
			// Nothing more is waiting. The last group's appenders are
			// probably on their way back (answering their callers,
			// sending the next), and those that were waiting when it
			// ended are another cohort besides them: wait a moment for
			// the expected ones rather than syncing for a few, so that
			// the cohorts merge. A lone appender never waits.
			if !counted {
				counted = true
				if waiting {
					target += len(batch)
				}
			}
			if len(batch) >= target || q.lastGroup < 2 {
				break
			}
			if linger == nil {
				lingerTimer = time.NewTimer(min(max(q.lastCommit, MinLinger), MaxLinger))
				linger = lingerTimer.C
			}
			select {
			case r := <-q.reqs:
				if !take(r) {
					break drain
				}
			case <-linger:
				break drain
			}
		}
		if lingerTimer != nil {
			// Stopped here, not deferred: run returns only at Close, and
			// a deferred call per group would pile up until then.
			lingerTimer.Stop()
		}
		q.lastGroup = len(batch)
		start := time.Now()
		q.commitOne(batch)
		q.lastCommit = time.Since(start)
		if stream != nil {
			q.commitOne([]*Request{stream})
		}
	}
}

func (q *Queue) commitOne(batch []*Request) {
	q.commit(batch)
	for _, r := range batch {
		close(r.done)
	}
}

package groupcommit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

func TestGroupsWaitingAppends(t *testing.T) {
	var mu sync.Mutex
	var batches [][]*Request
	entered := make(chan struct{}, 100)
	release := make(chan struct{})
	q := New(100, func(batch []*Request) {
		entered <- struct{}{}
		<-release // hold the commits until the test says
		mu.Lock()
		batches = append(batches, batch)
		mu.Unlock()
		for _, r := range batch {
			if r.Stream != nil {
				for range r.Stream {
					r.N++
				}
			}
			if len(r.Recs) == 2 {
				r.Err = errors.New("two is refused")
			}
		}
	}, nil)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	appendOne := func(i int) {
		defer wg.Done()
		recs := []*audit.Record{{}}
		if i == 4 {
			recs = append(recs, &audit.Record{})
		}
		errs[i] = q.Append(context.Background(), recs)
	}
	// The first request alone enters the commit and is held there.
	wg.Add(1)
	go appendOne(0)
	<-entered
	for i := 1; i < 10; i++ {
		wg.Add(1)
		go appendOne(i)
	}
	var n int
	var serr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, serr = q.AppendStream(context.Background(), func(yield func(*audit.Record, error) bool) {
			for range 3 {
				if !yield(&audit.Record{}, nil) {
					return
				}
			}
		}, nil)
	}()
	// Nine appends and the stream queue behind it.
	deadline := time.Now().Add(10 * time.Second)
	for len(q.reqs) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests queued", len(q.reqs))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 4) {
			t.Errorf("append %d: %v", i, err)
		}
	}
	if n != 3 || serr != nil {
		t.Errorf("stream: %d, %v", n, serr)
	}
	// The held request, then the nine queued appends together, then the
	// stream alone (or the stream first if it queued first: a stream ends
	// the group it meets).
	total, streams := 0, 0
	for _, b := range batches {
		for _, r := range b {
			total++
			if r.Stream != nil {
				streams++
				if len(b) != 1 {
					t.Error("a stream shared its commit")
				}
			}
		}
	}
	if total != 11 || streams != 1 || len(batches) > 4 {
		t.Errorf("%d requests in %d commits (%d streams); want 11 in at most 4", total, len(batches), streams)
	}
	q.Close()
	if err := q.Append(context.Background(), []*audit.Record{{}}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after Close: %v", err)
	}
	q.Close() // twice is fine
}

// Appenders released together by a commit that come back at different
// times (a server answering its clients) are committed together again,
// rather than splitting into cohorts that take turns syncing; a lone
// appender never waits for company.
func TestCohortsMerge(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	q := New(10000, func(batch []*Request) {
		time.Sleep(3 * time.Millisecond) // a durable sync
		mu.Lock()
		sizes = append(sizes, len(batch))
		mu.Unlock()
	}, nil)
	defer q.Close()
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := range 40 {
				// Come back after a moment that differs per appender.
				time.Sleep(time.Duration((c*7+i*3)%10) * 50 * time.Microsecond)
				if err := q.Append(context.Background(), []*audit.Record{{}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	full := 0
	for _, n := range sizes {
		if n >= 12 {
			full++
		}
	}
	mu.Unlock()
	// 640 appends in groups of 16 are 40 commits; cohorts taking turns
	// would need about twice as many, in groups of about 8.
	if len(sizes) > 60 || full < len(sizes)/2 {
		t.Errorf("%d commits, %d of them of 12 or more appends: %v", len(sizes), full, sizes)
	}

	// Alone: no commit waits for others.
	var lone []int
	q2 := New(10000, func(batch []*Request) { lone = append(lone, len(batch)) }, nil)
	defer q2.Close()
	start := time.Now()
	for range 100 {
		q2.Append(context.Background(), []*audit.Record{{}})
	}
	if d := time.Since(start); d > 100*MinLinger/2 {
		t.Errorf("100 appends alone took %s: they waited for company", d)
	}
}

// counting yields records until told to stop (or until limit, when it is
// positive), and counts them.
func counting(n *atomic.Int64, stopped *atomic.Bool, limit int64) func(func(*audit.Record, error) bool) {
	return func(yield func(*audit.Record, error) bool) {
		for limit <= 0 || n.Load() < limit {
			n.Add(1)
			if !yield(&audit.Record{}, nil) {
				stopped.Store(true)
				return
			}
		}
	}
}

// The caller's goroutine produces the stream while the commit consumes it:
// the commit sees its first record while later ones are still being made,
// and in the order they were made.
func TestStreamProducedWhileCommitted(t *testing.T) {
	var produced atomic.Int64
	var stopped atomic.Bool
	const total = 10 * pipeChunk
	var order []*audit.Record
	q := New(100, func(batch []*Request) {
		r := batch[0]
		first := true
		for rec, err := range r.Stream {
			if err != nil {
				r.Err = err
				return
			}
			if first {
				first = false
				// A producer on this goroutine could not get ahead.
				deadline := time.Now().Add(10 * time.Second)
				for produced.Load() < 2*pipeChunk {
					if time.Now().After(deadline) {
						r.Err = errors.New("the stream is not produced while it is committed")
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
			order = append(order, rec.Record)
			r.N++
		}
	}, nil)
	defer q.Close()
	var made []*audit.Record
	n, err := q.AppendStream(context.Background(), func(yield func(*audit.Record, error) bool) {
		for range total {
			r := &audit.Record{}
			made = append(made, r)
			produced.Add(1)
			if !yield(r, nil) {
				stopped.Store(true)
				return
			}
		}
	}, nil)
	if err != nil || n != total {
		t.Fatalf("stream: %d, %v", n, err)
	}
	for i := range made {
		if order[i] != made[i] {
			t.Fatalf("record %d committed out of order", i)
		}
	}
}

// A commit that stops reading (an invalid record, a full disk) or never
// reads (a read-only store) stops the producer: AppendStream returns, and
// the stream is told to stop.
func TestStreamStopsWithItsCommit(t *testing.T) {
	for _, read := range []int{0, 1, 3 * pipeChunk} {
		var produced atomic.Int64
		var stopped atomic.Bool
		q := New(100, func(batch []*Request) {
			r := batch[0]
			r.Err = errors.New("refused")
			if read == 0 {
				return
			}
			k := 0
			for range r.Stream {
				if k++; k == read {
					return
				}
			}
		}, nil)
		done := make(chan error, 1)
		go func() {
			_, err := q.AppendStream(context.Background(), counting(&produced, &stopped, 0), nil)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !stopped.Load() {
				t.Errorf("commit reading %d: err %v, stream stopped %v", read, err, stopped.Load())
			}
			if max := int64(read + (pipeChunks+2)*pipeChunk); produced.Load() > max {
				t.Errorf("commit reading %d: %d records produced, want at most %d", read, produced.Load(), max)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("commit reading %d: AppendStream did not return", read)
		}
		q.Close()
	}
}

// An error the stream yields ends it and reaches the commit.
func TestStreamErrorReachesCommit(t *testing.T) {
	bad := errors.New("line 7: not JSON")
	q := New(100, func(batch []*Request) {
		r := batch[0]
		for _, err := range r.Stream {
			if err != nil {
				r.Err = err
				return
			}
			r.N++
		}
	}, nil)
	defer q.Close()
	n, err := q.AppendStream(context.Background(), func(yield func(*audit.Record, error) bool) {
		for range 6 {
			if !yield(&audit.Record{}, nil) {
				return
			}
		}
		if yield(nil, bad) {
			t.Error("the stream was asked to go on after its error")
		}
	}, nil)
	if !errors.Is(err, bad) || n != 0 {
		t.Errorf("got %d, %v; want the stream's error", n, err)
	}
}

// With a prepare function, every record reaches the commit prepared, and a
// record it refuses fails its Append (nothing is queued) or ends its
// stream, named by its position.
func TestPrepare(t *testing.T) {
	bad := errors.New("no actor")
	prepare := func(r *audit.Record) (*ledger.Prepared, error) {
		if r.Actor == "" {
			return nil, bad
		}
		return &ledger.Prepared{Record: r}, nil
	}
	var commits, prepared atomic.Int64
	q := New(100, func(batch []*Request) {
		for _, r := range batch {
			commits.Add(1)
			if r.Stream != nil {
				for p, err := range r.Stream {
					if err != nil {
						r.Err = err
						return
					}
					if p == nil || p.Record == nil {
						r.Err = errors.New("a stream record reached the commit unprepared")
						return
					}
					prepared.Add(1)
					r.N++
				}
				continue
			}
			if len(r.Prepared) != len(r.Recs) {
				r.Err = errors.New("an append reached the commit unprepared")
			}
			prepared.Add(int64(len(r.Prepared)))
		}
	}, prepare)
	defer q.Close()
	ctx := context.Background()
	if err := q.Append(ctx, []*audit.Record{{Actor: "a"}, {Actor: "b"}}); err != nil {
		t.Fatal(err)
	}
	var be *ledger.BatchError
	err := q.Append(ctx, []*audit.Record{{Actor: "a"}, {}})
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, bad) {
		t.Errorf("append with a refused record: %v, want record 2 named", err)
	}
	if commits.Load() != 1 {
		t.Errorf("%d commits, want 1 (a refused append is never queued)", commits.Load())
	}
	n, err := q.AppendStream(ctx, func(yield func(*audit.Record, error) bool) {
		for i := range 5 {
			r := &audit.Record{Actor: "a"}
			if i == 3 {
				r.Actor = ""
			}
			if !yield(r, nil) {
				return
			}
		}
	}, nil)
	if !errors.As(err, &be) || be.Index != 3 || n != 0 {
		t.Errorf("stream with a refused record: %d, %v; want record 4 named", n, err)
	}
	if prepared.Load() != 2+3 {
		t.Errorf("%d prepared records committed, want 5", prepared.Load())
	}
}

package groupcommit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
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
	})
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
	})
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
	q2 := New(10000, func(batch []*Request) { lone = append(lone, len(batch)) })
	defer q2.Close()
	start := time.Now()
	for range 100 {
		q2.Append(context.Background(), []*audit.Record{{}})
	}
	if d := time.Since(start); d > 100*MinLinger/2 {
		t.Errorf("100 appends alone took %s: they waited for company", d)
	}
}

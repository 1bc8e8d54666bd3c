package groupcommit

import (
	"context"
	"errors"
	"sync"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
)

func TestGroupsWaitingAppends(t *testing.T) {
	var mu sync.Mutex
	var batches [][]*Request
	release := make(chan struct{})
	q := New(100, func(batch []*Request) {
		<-release // hold the first commit so that others queue up
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
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := []*audit.Record{{}}
			if i == 4 {
				recs = append(recs, &audit.Record{})
			}
			errs[i] = q.Append(context.Background(), recs)
		}()
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
		})
	}()
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
	if total != 11 || streams != 1 || len(batches) >= 11 {
		t.Errorf("%d requests in %d commits (%d streams); want 11 in fewer commits", total, len(batches), streams)
	}
	q.Close()
	if err := q.Append(context.Background(), []*audit.Record{{}}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after Close: %v", err)
	}
	q.Close() // twice is fine
}

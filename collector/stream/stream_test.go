package stream_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// slowTrail appends slowly, so that groups queue up behind an append.
type slowTrail struct {
	memtrail.Trail
	mu      sync.Mutex
	appends []int
	fail    bool
}

func (s *slowTrail) Append(ctx context.Context, recs []*audit.Record) error {
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	fail := s.fail
	if !fail {
		s.appends = append(s.appends, len(recs))
	}
	s.mu.Unlock()
	if fail {
		return &audit.FieldError{Field: "x", Msg: "refused"}
	}
	return s.Trail.Append(ctx, recs)
}

// emitter emits n groups of k records, then waits for ctx.
type emitter struct {
	n, k  int
	mu    sync.Mutex
	dones []int // group numbers, in the order done was called
	sizes []int // the trail's size when each done ran
	trail *slowTrail
	err   error
}

func (e *emitter) Name() string { return "test" }

func (e *emitter) Follow(ctx context.Context, emit stream.Emit) error {
	for g := range e.n {
		recs := make([]*audit.Record, e.k)
		for i := range recs {
			recs[i] = audit.New("a", "act", "t", audit.TargetLog)
			recs[i].Normalize()
		}
		if err := emit(recs, func() {
			e.mu.Lock()
			e.dones = append(e.dones, g)
			e.sizes = append(e.sizes, e.trail.Len())
			e.mu.Unlock()
		}); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return e.err
}

// TestGroupsAndDone: records are appended in groups as the writer frees
// up, every done runs after its records are in the trail, in emit order,
// and a stop appends what was emitted.
func TestGroupsAndDone(t *testing.T) {
	tr := &slowTrail{}
	e := &emitter{n: 50, k: 10, trail: tr}
	masked := 0
	col, _ := stream.New(tr, stream.Config{Mask: func(r *audit.Record) { masked++; r.Reason = "masked" }, Keep: func(r *audit.Record) bool { return r.Reason == "masked" }})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel) // stop while groups are queued
	if err := col.Run(ctx, e); err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 500 || masked != 500 || col.Stats().Expired != 0 {
		t.Fatalf("%d records appended, %d masked; want 500", tr.Len(), masked)
	}
	for i, g := range e.dones {
		if g != i {
			t.Fatalf("done of group %d ran as the %d-th", g, i)
		}
		if e.sizes[i] < (g+1)*10 {
			t.Fatalf("done of group %d ran with %d records in the trail", g, e.sizes[i])
		}
	}
	if len(e.dones) != 50 {
		t.Fatalf("%d dones", len(e.dones))
	}
	if len(tr.appends) >= 50 {
		t.Errorf("%d appends for 50 groups: nothing was grouped", len(tr.appends))
	}
	for _, r := range tr.Records() {
		if r.Reason != "masked" || r.Source != "test" {
			t.Fatalf("record not masked or without its source: %+v", r)
		}
	}
}

// TestKeep: records the retention policies would prune at once are not
// appended; the positions still move past them.
func TestKeep(t *testing.T) {
	tr := &slowTrail{}
	e := &emitter{n: 4, k: 5, trail: tr}
	col, _ := stream.New(tr, stream.Config{Keep: func(*audit.Record) bool { return false }})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := col.Run(ctx, e); err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 0 || col.Stats().Expired != 20 || len(e.dones) != 4 {
		t.Fatalf("%d appended, %d expired, %d dones", tr.Len(), col.Stats().Expired, len(e.dones))
	}
}

// TestAppendRefused: an append the store refuses for good ends the run
// with its error, and no done runs for what was not appended.
func TestAppendRefused(t *testing.T) {
	tr := &slowTrail{fail: true}
	e := &emitter{n: 3, k: 2, trail: tr}
	col, _ := stream.New(tr, stream.Config{})
	err := col.Run(context.Background(), e, &failing{})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %v", err)
	}
	if len(e.dones) != 0 {
		t.Fatalf("%d dones after refused appends", len(e.dones))
	}
}

// failing is a stream that fails after a moment.
type failing struct{}

func (*failing) Name() string { return "failing" }
func (*failing) Follow(ctx context.Context, _ stream.Emit) error {
	select {
	case <-time.After(100 * time.Millisecond):
		return errors.New("gone")
	case <-ctx.Done():
		return nil
	}
}

// TestStreamFails: a stream that fails stops the others; what they
// emitted is appended.
func TestStreamFails(t *testing.T) {
	tr := &slowTrail{}
	e := &emitter{n: 2, k: 3, trail: tr}
	col, _ := stream.New(tr, stream.Config{})
	err := col.Run(context.Background(), e, &failing{})
	if !errors.Is(err, stream.ErrStreamFailed) || !strings.Contains(err.Error(), "failing: gone") {
		t.Fatalf("err %v", err)
	}
	if tr.Len() != 6 {
		t.Fatalf("%d records appended, want 6", tr.Len())
	}
}
